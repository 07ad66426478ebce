"""Command line: `inv --list`. Each task only parses options and calls populator.cli.*.

Exit codes: 0 success, 1 job failed, 2 bad input, 3 still running at --timeout, 130 cancelled.
"""

from invoke import task

# ---- run_emr / list_runs -------------------------------------------------------------------
# (owned by populator/cli/run_emr.py and populator/cli/list_runs.py)

# ---- run_local / demo ----------------------------------------------------------------------
# (owned by populator/cli/run_local.py and populator/cli/demo.py)


@task(
    help={
        "enriched_archive": "archive to read: s3://bucket/prefix/ (s3a://, s3n://) or a local dir",
        "storage_config": "DynamoDB storage config (self-describing JSON, Iglu-validated)",
        "resolver": "Iglu resolver config (self-describing JSON)",
        "since": "only runs at or after YYYY-MM-DD or YYYY-MM-DD-HH-MM-SS (UTC)",
        "master": "Spark master (default local[*])",
        "run_manifest_table": "DynamoDB run-manifest table: skip recorded runs, record new ones",
        "report": "also write the JSON report to this path or S3 URI",
        "bad_rows": "write malformed lines with their reason under this path or S3 prefix",
        "in_flight": "concurrent conditional writes per Spark partition (default 32)",
        "include_expired": "write items whose 180-day ttl has already passed",
        "endpoint_url": "AWS endpoint for S3 and DynamoDB (default: AWS_ENDPOINT_URL)",
        "accept_read_errors": "record runs with unreadable files as processed anyway",
        "no_create_table": "fail instead of creating a missing events-manifest table",
        "driver_memory": "Spark driver memory (default 2g)",
    }
)
def run_local(
    c,
    enriched_archive=None,
    storage_config=None,
    resolver=None,
    since=None,
    master="local[*]",
    run_manifest_table=None,
    report=None,
    bad_rows=None,
    in_flight=None,
    include_expired=False,
    endpoint_url=None,
    accept_read_errors=False,
    no_create_table=False,
    driver_memory="2g",
):
    """Validate like run_emr, then run the populator job on Spark's local master."""
    from populator.cli.common import command
    from populator.cli.run_local import LocalRun, run_local as run

    options = LocalRun(
        master=master,
        since=since,
        run_manifest_table=run_manifest_table,
        report=report,
        bad_rows=bad_rows,
        in_flight=None if in_flight is None else int(in_flight),
        include_expired=include_expired,
        endpoint_url=endpoint_url,
        accept_read_errors=accept_read_errors,
        driver_memory=driver_memory,
    )
    command(run)(enriched_archive, storage_config, resolver, options, not no_create_table)
