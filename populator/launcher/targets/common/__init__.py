"""What the remote targets (emr/, serverless/) share, so neither imports the other.

`request`: the job's arguments, tags, names, digest and redaction (pure); `guard`: the
duplicate-backfill refusal; `timing`: poll backoff and elapsed time; `report`: the job's JSON
report read back; `logs`: a failure's probable cause in a driver's log; `region`: the archive
bucket's region and the default S3 folders for logs and uploads.
"""
