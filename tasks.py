"""Command line: `inv --list`. Each task only parses options and calls populator.cli.*.

A task's own options are one table (name -> `Opt(help, default)`), which gives invoke their
flags, order and help (`task_from`); the job's flags come from populator.core.job_args.FLAGS.

Exit codes: 0 success, 1 job failed, 2 bad input, 3 still running at --timeout, 130 cancelled.
"""

import inspect
from typing import Any, Callable, Mapping, NamedTuple, Optional

from invoke import task

from populator.cli import parse_errors
from populator.cli.positionals import OptionalPositionalTask
from populator.cli.task_options import help_for, job_flags, split
from populator.launcher.targets.common.request import DEFAULT_RELEASE_LABEL as RELEASE
from populator.launcher.targets.emr.request import DEFAULT_IDLE_TIMEOUT as IDLE
from populator.launcher.targets.emr.request import DEFAULT_INSTANCE_COUNT as COUNT
from populator.launcher.targets.emr.request import DEFAULT_INSTANCE_PROFILE as PROFILE
from populator.launcher.targets.emr.request import DEFAULT_INSTANCE_TYPE as INSTANCE_TYPE
from populator.launcher.targets.emr.request import DEFAULT_SERVICE_ROLE as SERVICE_ROLE
from populator.launcher.targets.serverless.options import HELP as SERVERLESS_HELP
from populator.launcher.targets.serverless.request import (
    DEFAULT_IDLE_TIMEOUT_MINUTES as SERVERLESS_IDLE_MINUTES,
)

parse_errors.install()  # invoke's parse errors (unknown flag, extra word) exit 2


class Opt(NamedTuple):
    """One option of a task: its help, and its default (None: a string, False: a switch)."""

    help: str
    default: Any = None


def task_from(
    table: Mapping[str, Opt],
    job: Optional[str] = None,
    job_prefix: str = "",
    job_help: Optional[Mapping[str, str]] = None,
    **task_options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """`@task` for a body `(c, **given)`: its options, in order, and their help come from
    `table`; with `job`, the job's flags (core.job_args.FLAGS) too, `job_help` overriding
    the table's help of some of them. invoke reads the options from `__signature__`."""

    def decorate(body: Callable[..., Any]) -> Any:
        keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
        parameters = [inspect.Parameter("c", keyword)]
        parameters += [inspect.Parameter(n, keyword, default=o.default) for n, o in table.items()]
        body.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        helps = {**(job_help or {}), **{name: option.help for name, option in table.items()}}
        if job is not None:
            body = job_flags(job)(body)
            helps = help_for(job, own=helps, prefix=job_prefix)
        return task(help=helps, **task_options)(body)

    return decorate


# ---- run_emr / list_runs -------------------------------------------------------------------
# (owned by populator/cli/run_emr.py and populator/cli/list_runs.py)

INPUTS = ("enriched_archive", "storage_config", "resolver")  # positional in run_emr, run_local
# Help shared by several tasks' options.
STORAGE_CONFIG = "DynamoDB storage config (self-describing JSON, Iglu-validated)"
RESOLVER = "Iglu resolver config (self-describing JSON)"
NO_CREATE_TABLE = "fail instead of creating a missing events-manifest table"
SINCE = "only runs at or after YYYY-MM-DD or YYYY-MM-DD-HH-MM-SS (UTC)"

RUN_EMR_SERVERLESS = (  # ServerlessFlags' fields (populator/cli/serverless_run.py)
    "application_id",
    "serverless",
    "execution_role_arn",
    "job_run_id",
    "image_uri",
    "environment_archive",
    "execution_timeout",
)
RUN_EMR = {
    "enriched_archive": Opt("archive to read: s3://bucket/prefix/ (s3a://, s3n:// accepted)"),
    "storage_config": Opt(STORAGE_CONFIG),
    "resolver": Opt(RESOLVER),
    "region": Opt("AWS region for EMR (default: the archive bucket's region)"),
    "profile": Opt("AWS profile for EMR and S3 (default: the standard credential chain)"),
    "log_path": Opt("S3 folder for EMR logs (default s3://<archive-bucket>/populator/logs/)"),
    "assets": Opt(
        "S3 folder for uploads (default: populator-assets/ beside --log-path, else "
        "s3://<archive-bucket>/populator/assets/)"
    ),
    "kms_key_id": Opt("KMS key for the uploaded storage config (default: SSE-S3, AES256)"),
    "jar": Opt("S3 URI of a custom job artifact (.py or .jar) to run instead of ours"),
    "release_label": Opt(f"EMR release (default {RELEASE})", RELEASE),
    "instance_type": Opt(
        f"EC2 instance type of every node (default {INSTANCE_TYPE})", INSTANCE_TYPE
    ),
    "instance_count": Opt(f"nodes: 1 master + N-1 core (default {COUNT})", str(COUNT)),
    "subnet_id": Opt("EC2 subnet to start the cluster in (default: EMR's choice)"),
    "ec2_keyname": Opt("EC2 key pair for SSH to the nodes"),
    "service_role": Opt(f"EMR service role (default {SERVICE_ROLE})", SERVICE_ROLE),
    "instance_profile": Opt(f"EC2 instance profile of the nodes (default {PROFILE})", PROFILE),
    "idle_timeout": Opt(
        f"terminate the cluster after this many idle seconds (default {IDLE}); with "
        "--serverless: stop the application after this many idle seconds, rounded up to "
        f"minutes (default {SERVERLESS_IDLE_MINUTES * 60})"
    ),
    "tag": Opt("extra cluster tag KEY=VALUE (repeatable)"),
    "cluster_id": Opt("add the step to this running cluster instead of starting one"),
    "step_id": Opt("with --cluster-id: re-attach to this submitted step and wait for it"),
    "no_create_table": Opt(NO_CREATE_TABLE, False),
    "force": Opt("start even if another backfill of the same table is active", False),
    "dry_run": Opt(
        "print the exact EMR request (secrets redacted); create and upload nothing", False
    ),
    "wait": Opt(
        "follow the step to its end; exit 0 done, 1 failed (cause shown), 130 Ctrl-C", False
    ),
    "timeout": Opt("with --wait: stop waiting after SECONDS, exit 3 (the step goes on)"),
    "poll_interval": Opt(
        "with --wait: first poll interval in seconds, backing off to 60 (default 15)", "15"
    ),
    "log_wait": Opt("with --wait: seconds to wait for a failed step's logs (default 120)", "120"),
    "json": Opt(
        "print one JSON result object on stdout (cluster, step or application_id, job_run_id, "
        "state, exit code, cause)",
        False,
    ),
    **{name: Opt(SERVERLESS_HELP[name]) for name in RUN_EMR_SERVERLESS},
    "serverless": Opt(SERVERLESS_HELP["serverless"], False),  # a switch, in its place above
}


@task_from(
    RUN_EMR,
    job="run_emr",
    job_prefix="job: ",
    job_help={
        "since": SINCE,
        "run_manifest_table": "DynamoDB run-manifest table: skip recorded runs, record new ones",
        "bad_rows": "job: write malformed lines with their reason under this S3 prefix",
    },
    klass=OptionalPositionalTask,
    positional=list(INPUTS),
    iterable=["tag"],
    auto_shortflags=False,
)
def run_emr(c, **given):
    """Start the backfill on a transient EMR cluster (or a step on --cluster-id), or on EMR
    Serverless (--application-id APP, or --serverless); see README.

    Exit codes: 0 ok, 1 job failed, 2 bad input, 3 still running at --timeout, 130 cancelled.
    Re-attach to a submitted step: inv run_emr --cluster-id J --step-id S --wait; to a job
    run: inv run_emr --application-id APP --job-run-id R --wait.
    """
    from populator.cli.common import command
    from populator.cli.run_emr import EMR_JOB_FIELDS, EmrOptions, ServerlessFlags
    from populator.cli.run_emr import run_emr as run

    own, flags = split(given, tuple(RUN_EMR))
    known, extra = split(flags, EMR_JOB_FIELDS)
    inputs = [own.pop(name) for name in INPUTS]
    target = ServerlessFlags(**{name: own.pop(name) for name in RUN_EMR_SERVERLESS})
    tags, create_table = tuple(own.pop("tag") or ()), not own.pop("no_create_table")
    options = EmrOptions(**known, **own, job_extra=extra, tags=tags, create_table=create_table)
    command(run)(*inputs, options, target)


LIST_RUNS = {
    "enriched_archive": Opt("archive to list: s3://bucket/prefix/ (s3a://, s3n://) or a local dir"),
    "since": Opt(SINCE),
    "run_manifest_table": Opt("DynamoDB run-manifest table: mark runs already processed"),
    "write_capacity": Opt("WCU to estimate the backfill's duration at (default 1000)"),
    "region": Opt(
        "region of the run-manifest table: the storage config's awsRegion, where the job keeps "
        "it (default: the archive bucket's region)"
    ),
    "profile": Opt("AWS profile (default: the standard credential chain)"),
    "json": Opt("print one JSON object: runs, totals, estimate", False),
    "table": Opt(
        "events-manifest table: say which --method auto would pick (DescribeTable; region as "
        "for --run-manifest-table)"
    ),
}


@task_from(
    LIST_RUNS,
    klass=OptionalPositionalTask,
    positional=["enriched_archive"],
    auto_shortflags=False,
)
def list_runs(c, **given):
    """List the archive's runs with sizes, Glacier/TTL/processed marks, and a cost estimate."""
    from populator.cli.common import command
    from populator.cli.list_runs import list_runs as run
    from populator.core.aws import preflight

    archive, json_output = given.pop("enriched_archive"), given.pop("json")
    with preflight():  # a dead or silent endpoint: `cannot reach AWS` in seconds
        command(run)(archive, json_output=json_output, **given)


# ---- run_local / demo ----------------------------------------------------------------------
# (owned by populator/cli/run_local.py and populator/cli/demo.py)

RUN_LOCAL = {
    "enriched_archive": Opt("archive to read: s3://bucket/prefix/ (s3a://, s3n://) or a local dir"),
    "storage_config": Opt(STORAGE_CONFIG),
    "resolver": Opt(RESOLVER),
    "master": Opt("Spark master (default local[*])", "local[*]"),
    "no_create_table": Opt(NO_CREATE_TABLE, False),
    "driver_memory": Opt("Spark driver memory (default 2g)", "2g"),
    "dry_run": Opt("print the exact spark-submit command; start and create nothing", False),
    "json": Opt("print one JSON result object on stdout (state, exit code, cause, ids)", False),
}


@task_from(
    RUN_LOCAL,
    job="run_local",
    job_help={
        "progress_interval": "print the job's progress line every this many seconds "
        "(default 10 for run_local)",
    },
    klass=OptionalPositionalTask,
    positional=list(INPUTS),
    auto_shortflags=False,
)
def run_local(c, **given):
    """Validate like run_emr, then run the populator job on Spark's local master."""
    from populator.cli.common import command
    from populator.cli.run_local import LOCAL_JOB_FIELDS, LocalRun
    from populator.cli.run_local import run_local as run

    own, flags = split(given, tuple(RUN_LOCAL))
    known, extra = split(flags, LOCAL_JOB_FIELDS)
    inputs = [own.pop(name) for name in INPUTS]
    create_table = not own.pop("no_create_table")
    options = LocalRun(**own, job_extra=extra, **known)
    command(run)(*inputs, options, create_table)


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
