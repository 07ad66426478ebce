"""Command line: `inv --list`. Each task only parses options and calls populator.cli.*.

Exit codes: 0 success, 1 job failed, 2 bad input, 3 still running at --timeout, 130 cancelled.
"""

from invoke import task

from populator.cli import parse_errors
from populator.cli.positionals import OptionalPositionalTask
from populator.cli.task_options import help_for, job_flags, split
from populator.launcher.targets.serverless.options import HELP as SERVERLESS_HELP

parse_errors.install()  # invoke's parse errors (unknown flag, extra word) exit 2

# ---- run_emr / list_runs -------------------------------------------------------------------
# (owned by populator/cli/run_emr.py and populator/cli/list_runs.py)


@task(
    klass=OptionalPositionalTask,
    positional=["enriched_archive", "storage_config", "resolver"],
    iterable=["tag"],
    auto_shortflags=False,
    help=help_for(
        "run_emr",
        prefix="job: ",
        own={
            "since": "only runs at or after YYYY-MM-DD or YYYY-MM-DD-HH-MM-SS (UTC)",
            "run_manifest_table": "DynamoDB run-manifest table: skip recorded runs, record new "
            "ones",
            "enriched_archive": "archive to read: s3://bucket/prefix/ (s3a://, s3n:// accepted)",
            "storage_config": "DynamoDB storage config (self-describing JSON, Iglu-validated)",
            "resolver": "Iglu resolver config (self-describing JSON)",
            "region": "AWS region for EMR (default: the archive bucket's region)",
            "profile": "AWS profile for EMR and S3 (default: the standard credential chain)",
            "log_path": "S3 folder for EMR logs (default s3://<archive-bucket>/populator/logs/)",
            "assets": "S3 folder for uploads (default: populator-assets/ beside --log-path, else "
            "s3://<archive-bucket>/populator/assets/)",
            "kms_key_id": "KMS key for the uploaded storage config (default: SSE-S3, AES256)",
            "bad_rows": "job: write malformed lines with their reason under this S3 prefix",
            "jar": "S3 URI of a custom job artifact (.py or .jar) to run instead of ours",
            "release_label": "EMR release (default emr-7.12.0)",
            "instance_type": "EC2 instance type of every node (default m5.xlarge)",
            "instance_count": "nodes: 1 master + N-1 core (default 3)",
            "subnet_id": "EC2 subnet to start the cluster in (default: EMR's choice)",
            "ec2_keyname": "EC2 key pair for SSH to the nodes",
            "service_role": "EMR service role (default EMR_DefaultRole)",
            "instance_profile": "EC2 instance profile of the nodes (default EMR_EC2_DefaultRole)",
            "idle_timeout": "terminate the cluster after this many idle seconds (default 3600); "
            "with --serverless: stop the application after this many idle seconds, rounded up "
            "to minutes (default 900)",
            "tag": "extra cluster tag KEY=VALUE (repeatable)",
            "cluster_id": "add the step to this running cluster instead of starting one",
            "step_id": "with --cluster-id: re-attach to this submitted step and wait for it",
            "no_create_table": "fail instead of creating a missing events-manifest table",
            "force": "start even if another backfill of the same table is active",
            "dry_run": "print the exact EMR request (secrets redacted); create and upload nothing",
            "wait": "follow the step to its end; exit 0 done, 1 failed (cause shown), 130 Ctrl-C",
            "timeout": "with --wait: stop waiting after SECONDS, exit 3 (the step goes on)",
            "poll_interval": "with --wait: first poll interval in seconds, backing off to 60 "
            "(default 15)",
            "log_wait": "with --wait: seconds to wait for a failed step's logs (default 120)",
            "json": "print one JSON result object on stdout (cluster, step or application_id, "
            "job_run_id, state, exit code, cause)",
            # EMR Serverless (populator/cli/serverless_run.py)
            **{
                name: SERVERLESS_HELP[name]
                for name in (
                    "application_id",
                    "serverless",
                    "execution_role_arn",
                    "job_run_id",
                    "image_uri",
                    "environment_archive",
                    "execution_timeout",
                )
            },
        },
    ),
)
@job_flags("run_emr")
def run_emr(
    c,
    enriched_archive=None,
    storage_config=None,
    resolver=None,
    region=None,
    profile=None,
    log_path=None,
    assets=None,
    kms_key_id=None,
    jar=None,
    release_label="emr-7.12.0",
    instance_type="m5.xlarge",
    instance_count="3",
    subnet_id=None,
    ec2_keyname=None,
    service_role="EMR_DefaultRole",
    instance_profile="EMR_EC2_DefaultRole",
    idle_timeout=None,
    tag=None,
    cluster_id=None,
    step_id=None,
    no_create_table=False,
    force=False,
    dry_run=False,
    wait=False,
    timeout=None,
    poll_interval="15",
    log_wait="120",
    json=False,
    application_id=None,
    serverless=False,
    execution_role_arn=None,
    job_run_id=None,
    image_uri=None,
    environment_archive=None,
    execution_timeout=None,
    **flags,
):
    """Start the backfill on a transient EMR cluster (or a step on --cluster-id), or on EMR
    Serverless (--application-id APP, or --serverless); see README.

    Exit codes: 0 ok, 1 job failed, 2 bad input, 3 still running at --timeout, 130 cancelled.
    Re-attach to a submitted step: inv run_emr --cluster-id J --step-id S --wait; to a job
    run: inv run_emr --application-id APP --job-run-id R --wait.
    """
    from populator.cli.common import command
    from populator.cli.run_emr import EMR_JOB_FIELDS, EmrOptions, ServerlessFlags
    from populator.cli.run_emr import run_emr as run

    known, extra = split(flags, EMR_JOB_FIELDS)
    options = EmrOptions(
        **known,
        job_extra=extra,
        region=region,
        profile=profile,
        log_path=log_path,
        assets=assets,
        kms_key_id=kms_key_id,
        jar=jar,
        release_label=release_label,
        instance_type=instance_type,
        instance_count=instance_count,
        subnet_id=subnet_id,
        ec2_keyname=ec2_keyname,
        service_role=service_role,
        instance_profile=instance_profile,
        idle_timeout=idle_timeout,
        tags=tuple(tag or ()),
        cluster_id=cluster_id,
        step_id=step_id,
        create_table=not no_create_table,
        force=force,
        dry_run=dry_run,
        wait=wait,
        timeout=timeout,
        poll_interval=poll_interval,
        log_wait=log_wait,
        json=json,
    )
    target = ServerlessFlags(
        application_id=application_id,
        serverless=serverless,
        execution_role_arn=execution_role_arn,
        job_run_id=job_run_id,
        image_uri=image_uri,
        environment_archive=environment_archive,
        execution_timeout=execution_timeout,
    )
    command(run)(enriched_archive, storage_config, resolver, options, target)


@task(
    klass=OptionalPositionalTask,
    positional=["enriched_archive"],
    auto_shortflags=False,
    help={
        "enriched_archive": "archive to list: s3://bucket/prefix/ (s3a://, s3n://) or a local dir",
        "since": "only runs at or after YYYY-MM-DD or YYYY-MM-DD-HH-MM-SS (UTC)",
        "run_manifest_table": "DynamoDB run-manifest table: mark runs already processed",
        "write_capacity": "WCU to estimate the backfill's duration at (default 1000)",
        "region": "region of the run-manifest table: the storage config's awsRegion, where the "
        "job keeps it (default: the archive bucket's region)",
        "profile": "AWS profile (default: the standard credential chain)",
        "json": "print one JSON object: runs, totals, estimate",
        "table": "events-manifest table: say which --method auto would pick (DescribeTable; "
        "region as for --run-manifest-table)",
    },
)
def list_runs(
    c,
    enriched_archive=None,
    since=None,
    run_manifest_table=None,
    write_capacity=None,
    region=None,
    profile=None,
    json=False,
    table=None,
):
    """List the archive's runs with sizes, Glacier/TTL/processed marks, and a cost estimate."""
    from populator.cli.common import command
    from populator.cli.list_runs import list_runs as run
    from populator.core.aws import preflight

    with preflight():  # a dead or silent endpoint: `cannot reach AWS` in seconds
        command(run)(
            enriched_archive,
            since=since,
            run_manifest_table=run_manifest_table,
            json_output=json,
            write_capacity=write_capacity,
            region=region,
            profile=profile,
            table=table,
        )


# ---- run_local / demo ----------------------------------------------------------------------
# (owned by populator/cli/run_local.py and populator/cli/demo.py)


@task(
    klass=OptionalPositionalTask,
    positional=["enriched_archive", "storage_config", "resolver"],
    help=help_for(
        "run_local",
        own={
            "enriched_archive": "archive to read: s3://bucket/prefix/ (s3a://, s3n://) or a "
            "local dir",
            "storage_config": "DynamoDB storage config (self-describing JSON, Iglu-validated)",
            "resolver": "Iglu resolver config (self-describing JSON)",
            "master": "Spark master (default local[*])",
            "no_create_table": "fail instead of creating a missing events-manifest table",
            "driver_memory": "Spark driver memory (default 2g)",
            "dry_run": "print the exact spark-submit command; start and create nothing",
            "progress_interval": "print the job's progress line every this many seconds "
            "(default 10 for run_local)",
            "json": "print one JSON result object on stdout (state, exit code, cause, ids)",
        },
    ),
    auto_shortflags=False,
)
@job_flags("run_local")
def run_local(
    c,
    enriched_archive=None,
    storage_config=None,
    resolver=None,
    master="local[*]",
    no_create_table=False,
    driver_memory="2g",
    dry_run=False,
    json=False,
    **flags,
):
    """Validate like run_emr, then run the populator job on Spark's local master."""
    from populator.cli.common import command
    from populator.cli.run_local import LOCAL_JOB_FIELDS, LocalRun
    from populator.cli.run_local import run_local as run

    known, extra = split(flags, LOCAL_JOB_FIELDS)
    options = LocalRun(
        master=master,
        driver_memory=driver_memory,
        dry_run=dry_run,
        json=json,
        job_extra=extra,
        **known,
    )
    command(run)(enriched_archive, storage_config, resolver, options, not no_create_table)


@task(help={"directory": "where to leave the sample configs and reports (default .demo/)"})
def demo(c, directory=".demo"):
    """Whole product, no AWS account: moto + a sample archive + list_runs + two backfills."""
    from devkit.demo import demo as run_demo
    from populator.cli.common import command

    command(run_demo)(directory)


# ---- reliability ---------------------------------------------------------------------------


@task(
    help={
        "kills": "how many times to SIGKILL the job before the final re-run (default 5)",
        "scale": "multiplier for the random part of the hostile-input corpus (default 20)",
    }
)
def reliability(c, kills=5, scale=20):
    """Faults, kills, hostile input and leak checks, bigger than in CI; prints the figures."""
    from invoke.exceptions import Exit

    from devkit.reliability import run

    code = run(int(kills), int(scale))
    if code:
        raise Exit(code=code)


# ---- bench ---------------------------------------------------------------------------------
# (owned by benchmarks/run.py)


@task(
    help={
        "quick": "tiny sizes: exercise every benchmark in about a minute (numbers mean little)",
        "output": "markdown file to write (default BENCHMARKS.md)",
        "only": "comma list of benchmark numbers to run, e.g. 2,3 (default: all nine)",
    }
)
def bench(c, quick=False, output=None, only=None):
    """Run the benchmarks (about 10 min on 2 cores) and regenerate BENCHMARKS.md."""
    from invoke.exceptions import Exit

    from benchmarks.run import main

    argv = ["--quick"] if quick else []
    argv += ["--output", output] if output else []
    argv += ["--only", only] if only else []
    code = main(argv)
    if code:
        raise Exit(code=code)


# ---- progress ------------------------------------------------------------------------------
# (owned by populator/cli/progress.py; issue 13: the integrator keeps this block as is)


@task(
    klass=OptionalPositionalTask,
    positional=["uri"],
    auto_shortflags=False,
    help={
        "uri": "the backfill's --report URI (its progress.json is beside it) or the progress "
        "object's own URI: s3://... or a local path",
        "json": "print the progress object itself (the fields are in docs/progress.md)",
        "profile": "AWS profile (default: the standard credential chain)",
        "region": "region of the bucket (default: the profile's)",
        "endpoint_url": "S3 endpoint (default: AWS_ENDPOINT_URL)",
    },
)
def progress(c, uri=None, json=False, profile=None, region=None, endpoint_url=None):
    """Show how far a backfill is (percent, rate, ETA), from its report or progress URI."""
    from populator.cli.common import command
    from populator.cli.progress import progress as run

    command(run)(uri, json_output=json, profile=profile, region=region, endpoint_url=endpoint_url)
