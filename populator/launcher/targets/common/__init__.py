"""What the remote targets (emr/, serverless/) share, so neither imports the other.

`options`: the options both take and their checks (each target keeps its own wording);
`plan`: the job's argv, tags and report place (pure); `method`: `--method auto` resolved
before anything starts; `watch`: the poll loop and the wait for a failure's logs; `request`:
the job's arguments, tags, names, digest and redaction (pure); `guard`: the duplicate-backfill
refusal; `timing`: poll backoff and elapsed time; `report`: the job's JSON report read back;
`logs`: a failure's probable cause in a driver's log; `region`: the archive bucket's region
and the default S3 folders for logs and uploads.
"""
