"""`inv run_emr`: validate locally, package and upload, start the backfill on EMR, follow it.

Order matters (each step may stop the command; none leaves anything half-done):
1. everything local: the three inputs, --since, both configs, every option, the job bundle:
   a mistake exits 2 before any AWS call;
2. `--dry-run` prints the exact request (secrets redacted) and stops: nothing is created;
3. the region (the archive bucket's unless --region), the events-manifest table (created
   when missing unless --no-create-table), the duplicate-backfill guard;
4. uploads (content-addressed, skipped when present), then one RunJobFlow/AddJobFlowSteps;
5. with --wait, follow the step (populator.launcher.targets.emr.wait) and explain a failure;
   when it ends,
   read the job's JSON report back from the `--report` URI in the step's arguments (printed
   as the job's summary on success, its errors on failure; the dict is in the --json result).
Exit codes: 0 ok, 1 job failed, 2 bad input, 3 still running at --timeout, 130 cancelled.
Re-attach to a submitted step: `--cluster-id J --step-id S` (implies --wait).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import populator
from populator.cli.common import eprint, notice
from populator.core import aws
from populator.core.archive import format_run_id
from populator.core.errors import (
    EXIT_BAD_INPUT,
    EXIT_CANCELLED,
    EXIT_STILL_RUNNING,
    Cancelled,
    JobFailed,
    UserError,
    aws_user_error,
)
from populator.core.location import S3Uri, has_s3_scheme, parse_s3_uri
from populator.core.retry import error_code
from populator.launcher.bundle import Bundle, BundleError, build_bundle, upload_artifacts
from populator.launcher.configs import REGION_RE, TABLE_RE
from populator.launcher.inputs import Inputs, ensure_manifest_table, validate_inputs
from populator.launcher.targets.emr.console import (
    console_url,
    describe_step_command,
    reattach_command,
)
from populator.launcher.targets.emr.report import (
    FetchedReport,
    failure_lines,
    fetch_report,
    step_report_uri,
)
from populator.launcher.targets.emr.request import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_INSTANCE_COUNT,
    DEFAULT_INSTANCE_PROFILE,
    DEFAULT_INSTANCE_TYPE,
    DEFAULT_RELEASE_LABEL,
    DEFAULT_SERVICE_ROLE,
    TAG_ARCHIVE,
    TAG_DIGEST,
    TAG_TABLE,
    TAG_TABLE_REGION,
    TAG_TOOL,
    TAG_VERSION,
    TOOL_NAME,
    ClusterSpec,
    JobArgs,
    build_add_steps,
    build_jar_step,
    build_job_args,
    build_run_job_flow,
    build_spark_step,
    parse_tags,
    redact_request,
    step_name,
    tag_value,
    with_digest,
)
from populator.launcher.targets.emr.submit import (
    Submission,
    check_target_cluster,
    find_duplicate,
    submit,
)
from populator.launcher.targets.emr.wait import (
    CLUSTER_FAILURE_CODES,
    ENDED_CLUSTER_STATES,
    Outcome,
    SignalsAsExceptions,
    Terminated,
    Watch,
    cancel_backfill,
    format_elapsed,
    interrupt_name,
    wait_for_step,
)

__all__ = ["EMR_JOB_FIELDS", "EmrOptions", "Result", "plan_request", "run_emr"]

RELEASE_RE = re.compile(r"^emr-[0-9]+\.[0-9]+\.[0-9]+$")
INSTANCE_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*\.[0-9]*[a-z0-9]+$")
CLUSTER_ID_RE = re.compile(r"^j-[0-9A-Z]{1,64}$")
STEP_ID_RE = re.compile(r"^s-[0-9A-Z]{1,64}$")
SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
ROLE_RE = re.compile(r"^[\w+=,.@/-]{1,512}$")
KEYNAME_RE = re.compile(r"^[\x20-\x7e]{1,255}$")
MIN_IDLE_TIMEOUT, MAX_IDLE_TIMEOUT = 60, 604800  # what EMR's AutoTerminationPolicy accepts
MAX_IN_FLIGHT = 1024  # per partition; more only exhausts the executors' sockets


@dataclass(frozen=True)
class EmrOptions:
    """The task's options as typed (strings from the command line are checked in `_check`)."""

    since: Optional[str] = None
    log_path: Optional[str] = None
    assets: Optional[str] = None
    profile: Optional[str] = None
    region: Optional[str] = None
    ec2_keyname: Optional[str] = None
    jar: Optional[str] = None
    release_label: str = DEFAULT_RELEASE_LABEL
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: Any = DEFAULT_INSTANCE_COUNT
    subnet_id: Optional[str] = None
    service_role: str = DEFAULT_SERVICE_ROLE
    instance_profile: str = DEFAULT_INSTANCE_PROFILE
    idle_timeout: Any = DEFAULT_IDLE_TIMEOUT
    tags: Sequence[str] = ()
    cluster_id: Optional[str] = None
    step_id: Optional[str] = None
    run_manifest_table: Optional[str] = None
    kms_key_id: Optional[str] = None
    bad_rows: Optional[str] = None
    include_expired: bool = False
    in_flight: Any = None
    accept_read_errors: bool = False
    create_table: bool = True
    force: bool = False
    dry_run: bool = False
    wait: bool = False
    timeout: Any = None
    poll_interval: Any = 15
    log_wait: Any = 120
    json: bool = False
    job_extra: Mapping[str, Any] = field(default_factory=dict)  # further job flags (job_args)


# The job flags EmrOptions has fields for; flags added to core.job_args later go in job_extra.
EMR_JOB_FIELDS = (
    "since",
    "run_manifest_table",
    "bad_rows",
    "include_expired",
    "in_flight",
    "accept_read_errors",
)


@dataclass
class Result:
    """The one object `--json` prints at the end, whatever happened."""

    exit_code: int = 0
    state: Optional[str] = None
    cluster_id: Optional[str] = None
    step_id: Optional[str] = None
    region: Optional[str] = None
    console_url: Optional[str] = None
    started_cluster: Optional[bool] = None
    reused: bool = False
    request_digest: Optional[str] = None
    log_uri: Optional[str] = None
    report: Optional[str] = None
    elapsed_seconds: Optional[float] = None
    cluster_state: Optional[str] = None
    cluster_reason: Optional[str] = None
    cause: Optional[str] = None
    error: Optional[str] = None
    dry_run: bool = False
    operation: Optional[str] = None
    request: Optional[Dict[str, Any]] = None
    uploads: List[Dict[str, Any]] = field(default_factory=list)
    job_report: Optional[Dict[str, Any]] = None  # the job's JSON report, read back after --wait


@dataclass(frozen=True)
class _Checked:
    tags: List[Tuple[str, str]]
    instance_count: int
    idle_timeout: int
    timeout: Optional[float]
    poll_interval: float
    log_wait: float
    log_path: Optional[S3Uri]
    assets: Optional[S3Uri]
    bad_rows: Optional[str] = None
    in_flight: Optional[int] = None


# --- local checks ----------------------------------------------------------------------------


def _number(
    text: Any, flag: str, minimum: float, maximum: Optional[float] = None, whole: bool = True
) -> Any:
    try:
        value = int(str(text)) if whole else float(str(text))
    except ValueError:
        value = None
    if (
        value is None
        or value != value
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        kind = "a whole number" if whole else "a number of seconds"
        bound = f" between {minimum} and {maximum}" if maximum is not None else f" >= {minimum}"
        raise UserError(f"{flag} {text!r}: expected {kind}{bound}")
    return value


def _s3_folder(text: Optional[str], flag: str) -> Optional[S3Uri]:
    if text is None:
        return None
    try:
        return parse_s3_uri(text)
    except (TypeError, ValueError) as error:
        raise UserError(f"{flag}: {error}") from None


def _match(value: Optional[str], pattern: re.Pattern, flag: str, expected: str) -> None:
    if value is not None and not pattern.match(value):
        raise UserError(f"{flag} {value!r}: expected {expected}")


def _check(options: EmrOptions) -> _Checked:
    """Every option, before any AWS call; UserError names the option and what was expected."""
    _match(options.region, REGION_RE, "--region", "an AWS region such as us-east-1")
    _match(
        options.release_label, RELEASE_RE, "--release-label", "an EMR release such as emr-7.12.0"
    )
    _match(
        options.instance_type, INSTANCE_TYPE_RE, "--instance-type", "an EC2 type such as m5.xlarge"
    )
    _match(options.subnet_id, SUBNET_RE, "--subnet-id", "a subnet id such as subnet-0abc12345")
    _match(
        options.cluster_id,
        CLUSTER_ID_RE,
        "--cluster-id",
        "an EMR cluster id such as j-2AXXXXXXGAPLF",
    )
    _match(options.step_id, STEP_ID_RE, "--step-id", "an EMR step id such as s-1XXXXXXXXXXX")
    _match(options.service_role, ROLE_RE, "--service-role", "an IAM role name or ARN")
    _match(
        options.instance_profile, ROLE_RE, "--instance-profile", "an instance profile name or ARN"
    )
    _match(options.ec2_keyname, KEYNAME_RE, "--ec2-keyname", "an EC2 key pair name")
    _match(
        options.run_manifest_table,
        TABLE_RE,
        "--run-manifest-table",
        "a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -)",
    )
    if options.step_id and not options.cluster_id:
        raise UserError("--step-id re-attaches to a submitted step: give its --cluster-id too")
    if options.kms_key_id is not None and not options.kms_key_id.strip():
        raise UserError("--kms-key-id is empty: give a KMS key id, ARN or alias")
    if options.jar is not None:
        if not has_s3_scheme(options.jar) or not options.jar.endswith((".py", ".jar")):
            raise UserError(
                f"--jar {options.jar!r}: expected the S3 URI of a .py or .jar job artifact, "
                "e.g. s3://bucket/jobs/populate_manifest.py"
            )
        _s3_folder(options.jar.rsplit("/", 1)[0] + "/", "--jar")
    try:
        tags = parse_tags(options.tags or ())
    except ValueError as error:
        raise UserError(str(error)) from None
    if options.bad_rows is not None and not has_s3_scheme(options.bad_rows):
        raise UserError(
            f"--bad-rows {options.bad_rows!r}: expected an S3 prefix such as "
            "s3://bucket/populator/bad-rows/ (the job runs on EMR: a local path would stay on a "
            "cluster node)"
        )
    bad_rows = _s3_folder(options.bad_rows, "--bad-rows")
    in_flight = (
        None
        if options.in_flight is None
        else _number(options.in_flight, "--in-flight", 1, MAX_IN_FLIGHT)
    )
    timeout = (
        None if options.timeout is None else _number(options.timeout, "--timeout", 1, whole=False)
    )
    if timeout is not None and not (options.wait or options.step_id):
        raise UserError("--timeout limits --wait: add --wait (or leave out --timeout)")
    return _Checked(
        tags=tags,
        instance_count=_number(options.instance_count, "--instance-count", 1, 1000),
        idle_timeout=_number(
            options.idle_timeout, "--idle-timeout", MIN_IDLE_TIMEOUT, MAX_IDLE_TIMEOUT
        ),
        timeout=timeout,
        poll_interval=_number(options.poll_interval, "--poll-interval", 0.01, 3600, whole=False),
        log_wait=_number(options.log_wait, "--log-wait", 0, 3600, whole=False),
        log_path=_s3_folder(options.log_path, "--log-path"),
        assets=_s3_folder(options.assets, "--assets"),
        bad_rows=None if bad_rows is None else bad_rows.uri,
        in_flight=in_flight,
    )


def _locations(archive: S3Uri, checked: _Checked) -> Tuple[S3Uri, S3Uri]:
    """(log URI, assets): defaults under `populator/` in the archive bucket; --assets defaults
    to a `populator-assets/` folder beside --log-path when that is given."""
    if checked.log_path is None:
        log_uri = S3Uri(archive.bucket, "populator/logs/")
        assets = checked.assets or S3Uri(archive.bucket, "populator/assets/")
        return log_uri, assets
    parent = checked.log_path.prefix.rstrip("/").rpartition("/")[0]
    beside = S3Uri(checked.log_path.bucket, (parent + "/" if parent else "") + "populator-assets/")
    return checked.log_path, checked.assets or beside


# --- the request (pure) ----------------------------------------------------------------------


def plan_request(
    inputs: Inputs,
    options: EmrOptions,
    checked: _Checked,
    bundle: Bundle,
) -> Tuple[str, Dict[str, Any], str, str, str]:
    """(operation, request, digest, log URI, report URI) for these inputs; sends nothing."""
    archive = parse_s3_uri(inputs.archive)
    log_uri, assets = _locations(archive, checked)
    storage = inputs.storage
    on_existing = options.cluster_id is not None
    action = "CONTINUE" if on_existing else "TERMINATE_CLUSTER"

    def build(digest: str) -> Dict[str, Any]:
        report = f"{assets.uri}reports/backfill-{digest}.json"
        args = build_job_args(
            JobArgs(
                enriched_archive=inputs.archive,
                storage_config_uri=bundle.storage_config.uri(assets),
                since=None if inputs.since is None else format_run_id(inputs.since),
                run_manifest_table=options.run_manifest_table,
                report_uri=report,
                bad_rows_uri=checked.bad_rows,
                in_flight=checked.in_flight,
                include_expired=options.include_expired,
                accept_read_errors=options.accept_read_errors,
                extra=options.job_extra,
            )
        )
        name = step_name(storage.table, digest)
        if options.jar is not None and options.jar.endswith(".jar"):
            step = build_jar_step(name, options.jar, args, action)
        elif options.jar is not None:
            step = build_spark_step(name, options.jar, args, None, action)
        else:
            assert bundle.job is not None and bundle.py_files is not None
            step = build_spark_step(
                name, bundle.job.uri(assets), args, bundle.py_files.uri(assets), action
            )
        if on_existing:
            return build_add_steps(str(options.cluster_id), [step])
        tags = [
            (TAG_TOOL, TOOL_NAME),
            (TAG_VERSION, populator.__version__),
            (TAG_ARCHIVE, tag_value(inputs.archive)),
            (TAG_TABLE, storage.table),
            (TAG_TABLE_REGION, storage.region),
            (TAG_DIGEST, digest),
            *checked.tags,
        ]
        spec = ClusterSpec(
            name=f"{TOOL_NAME}: {storage.table}",
            log_uri=log_uri.uri,
            release_label=options.release_label,
            instance_type=options.instance_type,
            instance_count=checked.instance_count,
            service_role=options.service_role,
            instance_profile=options.instance_profile,
            ec2_key_name=options.ec2_keyname,
            subnet_id=options.subnet_id,
            idle_timeout=checked.idle_timeout,
            bootstrap_uri=bundle.bootstrap.uri(assets),
            tags=tuple(tags),
        )
        return build_run_job_flow(spec, [step])

    request, digest = with_digest(build)
    operation = "AddJobFlowSteps" if on_existing else "RunJobFlow"
    return operation, request, digest, log_uri.uri, f"{assets.uri}reports/backfill-{digest}.json"


# --- the command -----------------------------------------------------------------------------


@dataclass
class _Live:
    """What an interrupt must know: is something submitted, and through which client."""

    emr: Any = None
    digest: Optional[str] = None
    submitting: bool = False
    submission: Optional[Submission] = None


def run_emr(
    enriched_archive: Optional[str],
    storage_config: Optional[str],
    resolver: Optional[str],
    options: EmrOptions,
) -> int:
    """The task body (wrap with populator.cli.common.command for errors and exit codes)."""
    from invoke.exceptions import Exit

    result = Result(dry_run=options.dry_run)
    live = _Live()
    try:
        with SignalsAsExceptions() as signals:
            try:
                if options.step_id:
                    positionals = [enriched_archive, storage_config, resolver]
                    _attach(options, _check(options), result, positionals, live)
                else:
                    _launch(enriched_archive, storage_config, resolver, options, result, live)
            except (KeyboardInterrupt, Terminated) as interrupt:
                signals.ignore()
                raise _interrupted(interrupt_name(interrupt), options, live) from None
    except (UserError, JobFailed, Cancelled) as error:
        result.exit_code = error.exit_code
        result.error = str(error)
        _emit(result, options)
        raise
    except Exception as error:
        user = _aws_user_error(error)
        if user is None:
            raise
        result.exit_code = getattr(user, "exit_code", EXIT_BAD_INPUT)
        result.error = str(user)
        _emit(result, options)
        raise user from None
    _emit(result, options)
    if result.exit_code == EXIT_STILL_RUNNING:
        raise Exit(code=EXIT_STILL_RUNNING)
    return result.exit_code


def _interrupted(what: str, options: EmrOptions, live: _Live) -> Cancelled:
    """Ctrl-C/SIGTERM outside the wait loop: never leave a cluster running without saying so."""
    submission = live.submission
    if submission is None and live.submitting:
        return Cancelled(
            f"{what} while submitting to EMR: a cluster may have started; run the same command "
            f"again to find it (tag populator:request-digest={live.digest}) or list them with: "
            "aws emr list-clusters --active"
        )
    if submission is None:
        return Cancelled(f"{what}: stopped before anything was submitted to EMR; nothing runs")
    if options.wait or options.step_id:
        actions = cancel_backfill(
            live.emr,
            submission.cluster_id,
            submission.step_id,
            submission.started_cluster,
            what,
            eprint,
        )
        return Cancelled(" ".join(actions[1:]))
    return Cancelled(
        f"{what}: step {submission.step_id} on cluster {submission.cluster_id} was submitted and "
        "keeps running; stop it with: aws emr terminate-clusters --cluster-ids "
        f"{submission.cluster_id}"
    )


def _aws_user_error(error: BaseException) -> Optional[UserError]:
    """AWS refusals (access denied, bad role, unknown instance type) are the user's to fix."""
    if isinstance(error, BundleError):
        return UserError(f"cannot package the job: {error}")
    return aws_user_error(error)  # type: ignore[return-value]  (JobFailed for a 5xx)


def _say(options: EmrOptions, message: str) -> None:
    """Human output: stdout, unless --json keeps stdout for the one result object."""
    print(message, file=sys.stderr if options.json else sys.stdout, flush=True)


def _emit(result: Result, options: EmrOptions) -> None:
    if options.json:
        print(json.dumps(asdict(result), sort_keys=True), flush=True)


def _launch(
    enriched_archive: Optional[str],
    storage_config: Optional[str],
    resolver: Optional[str],
    options: EmrOptions,
    result: Result,
    live: _Live,
) -> None:
    inputs = validate_inputs(
        enriched_archive, storage_config, resolver, options.since, local_archive_ok=False
    )
    checked = _check(options)
    bundle = build_bundle(inputs.storage, include_job=options.jar is None)
    storage = inputs.storage
    operation, request, digest, log_uri, report = plan_request(inputs, options, checked, bundle)
    archive = parse_s3_uri(inputs.archive)
    _, assets = _locations(archive, checked)
    artifacts = [
        a for a in bundle.artifacts() if not (options.cluster_id and a.role == "bootstrap")
    ]
    result.operation, result.request_digest, result.report = operation, digest, report
    result.log_uri = None if options.cluster_id else log_uri
    result.uploads = [
        {"role": a.role, "uri": a.uri(assets), "bytes": len(a.body), "sha256": a.sha256}
        for a in artifacts
    ]
    if options.dry_run:
        result.region = options.region
        shown = redact_request(request, storage.secrets())
        result.request = shown
        if not options.json:
            print(json.dumps(shown, indent=2), flush=True)
        where = options.region or "the archive bucket's region"
        for upload in result.uploads:
            eprint(f"dry run: would upload {upload['role']} to {upload['uri']}")
        eprint(f"dry run: would call EMR {operation} in {where}; nothing was created or uploaded")
        return

    with aws.preflight():  # checks before any work: seconds, not minutes, on a dead endpoint
        session = aws.session(options.profile, options.region)
        s3 = session.client("s3", config=aws.client_config())
        region = options.region or _bucket_region(s3, archive.bucket)
        result.region = region
        checks = aws.session(options.profile, region).client("emr", config=aws.client_config())
        ensure_manifest_table(storage, options.create_table, profile=options.profile)
        if options.cluster_id:
            cluster = check_target_cluster(checks, options.cluster_id)
            result.log_uri = cluster.get("LogUri")
            notice(
                f"adding the step to cluster {options.cluster_id}: its nodes need boto3 for "
                "python3 (clusters started by run_emr install it in a bootstrap action)"
            )
        existing = find_duplicate(
            checks, storage.table, storage.region, digest, options.cluster_id, options.force
        )
    session = aws.session(options.profile, region)
    s3 = session.client("s3", config=aws.client_config())
    emr = session.client("emr", config=aws.client_config())
    emr_once = session.client("emr", config=aws.client_config(retries=False))
    live.emr, live.digest = emr, digest
    if existing is not None:
        submission = existing
        _say(
            options,
            f"this exact backfill is already running: cluster {submission.cluster_id}, "
            f"step {submission.step_id}; not submitting it again",
        )
    else:
        uploads = upload_artifacts(s3, assets, artifacts, options.kms_key_id, log=eprint)
        for entry, upload in zip(result.uploads, uploads):
            entry["uploaded"] = upload.uploaded
        live.submitting = True
        submission = submit(emr, emr_once, request, storage.table, storage.region, digest)
        live.submission = submission
        started = "started EMR cluster" if submission.started_cluster else "added a step to cluster"
        _say(
            options,
            f"{started} {submission.cluster_id} in {region}: step {submission.step_id} "
            f"backfills DynamoDB table '{storage.table}'",
        )
    live.submission = submission
    _follow(options, checked, result, submission, region, s3, emr)


def _attach(
    options: EmrOptions,
    checked: _Checked,
    result: Result,
    positionals: Sequence[Optional[str]],
    live: _Live,
) -> None:
    """`--cluster-id J --step-id S`: wait on a step submitted earlier (no new submission)."""
    if any(positionals):
        notice(
            "re-attaching to a submitted step: "
            "ENRICHED_ARCHIVE, STORAGE_CONFIG and RESOLVER are not used"
        )
    session = aws.session(options.profile, options.region)
    region = options.region or session.region_name
    if not region:
        raise UserError("re-attaching needs the cluster's region: give --region")
    emr = session.client("emr", region_name=region, config=aws.client_config())
    s3 = session.client("s3", region_name=region, config=aws.client_config())
    cluster_id, step_id = str(options.cluster_id), str(options.step_id)
    try:
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        emr.describe_step(ClusterId=cluster_id, StepId=step_id)
    except Exception as error:
        if _aws_user_error(error) is None:
            raise
        raise UserError(
            f"cannot re-attach to step {step_id} of cluster {cluster_id} in {region}: {error}"
        ) from None
    tags = {t["Key"]: t.get("Value", "") for t in cluster.get("Tags", [])}
    owned = tags.get(TAG_TOOL) == TOOL_NAME and TAG_DIGEST in tags
    result.region, result.log_uri = region, cluster.get("LogUri")
    result.request_digest = tags.get(TAG_DIGEST)
    submission = Submission(cluster_id, step_id, started_cluster=owned, reused=True)
    live.emr, live.submission = emr, submission
    _follow(options, checked, result, submission, region, s3, emr, force_wait=True)


def _follow(
    options: EmrOptions,
    checked: _Checked,
    result: Result,
    submission: Submission,
    region: str,
    s3: Any,
    emr: Any,
    force_wait: bool = False,
) -> None:
    result.cluster_id, result.step_id = submission.cluster_id, submission.step_id
    result.started_cluster, result.reused = submission.started_cluster, submission.reused
    result.console_url = console_url(submission.cluster_id, region)
    result.state = "SUBMITTED"
    _say(options, f"console: {result.console_url}")
    if result.log_uri:
        logs = f"{result.log_uri.rstrip('/')}/{submission.cluster_id}/steps/{submission.step_id}/"
        _say(options, f"logs:    {logs}")
    if not (options.wait or force_wait):
        _say(
            options,
            f"follow:  {reattach_command(submission.cluster_id, submission.step_id, region)}",
        )
        _say(
            options,
            f"         {describe_step_command(submission.cluster_id, submission.step_id, region)}",
        )
        return
    eprint(
        f"waiting for step {submission.step_id} "
        + (f"(at most {int(checked.timeout)}s; " if checked.timeout else "(")
        + (
            "Ctrl-C terminates the cluster)"
            if submission.started_cluster
            else "Ctrl-C cancels the step)"
        )
    )
    outcome = wait_for_step(
        Watch(
            emr=emr,
            cluster_id=submission.cluster_id,
            step_id=submission.step_id,
            owned=submission.started_cluster,
            s3=s3,
            log_uri=result.log_uri,
            timeout=checked.timeout,
            poll_interval=checked.poll_interval,
            log_wait=checked.log_wait,
            log=eprint,
        )
    )
    # By exit code, not state: a step EMR (or someone else) CANCELLED is a failure to explain.
    if outcome.exit_code not in (EXIT_STILL_RUNNING, EXIT_CANCELLED) and not outcome.never_ran:
        _read_report(options, result, emr, s3, submission)
    _conclude(options, checked, result, submission, region, outcome)


def _read_report(
    options: EmrOptions, result: Result, emr: Any, s3: Any, submission: Submission
) -> Optional[FetchedReport]:
    """The job's report, from the `--report` URI in the step EMR holds (a courtesy: trouble
    reading it is said, never changes the exit code)."""
    uri = result.report
    try:
        step = emr.describe_step(ClusterId=submission.cluster_id, StepId=submission.step_id)
        step = step["Step"]
        uri = step_report_uri(step) or uri
        if uri is None:
            notice("the step names no --report URI: no job report to show")
            return None
        result.report = uri
        created = ((step.get("Status") or {}).get("Timeline") or {}).get("CreationDateTime")
        fetched = fetch_report(s3, uri, not_before=created)
    except Exception as error:
        notice(f"could not read the job's report at {uri or 'its --report URI'}: {error}")
        return None
    if fetched.status != "found" or fetched.report is None:
        notice(f"no job report used from {uri}: {fetched.detail}")
        return None
    result.job_report = fetched.report
    return fetched


def _report_summary(report: Dict[str, Any], uri: Optional[str]) -> Optional[str]:
    from populator.core.report import summary

    try:
        return summary(report)
    except (KeyError, TypeError, ValueError, AttributeError):
        notice(f"the job's report at {uri} is not in this version's format: see the file")
        return None


def _left_running(submission: Submission, outcome: Outcome) -> str:
    """Say plainly whether anything is still running (and billed) after a failure."""
    cluster = submission.cluster_id
    if outcome.cluster_state in ENDED_CLUSTER_STATES:
        return f"nothing is left running: cluster {cluster} is {outcome.cluster_state}"
    if outcome.cluster_state == "TERMINATING" or any(
        action.startswith("terminated cluster") for action in outcome.actions
    ):
        return f"nothing is left running: cluster {cluster} is terminating"
    if not submission.started_cluster:
        return f"cluster {cluster} keeps running: it was not started by this backfill"
    return (
        f"cluster {cluster} may still be running: "
        f"aws emr terminate-clusters --cluster-ids {cluster}"
    )


def _conclude(
    options: EmrOptions,
    checked: _Checked,
    result: Result,
    submission: Submission,
    region: str,
    outcome: Outcome,
) -> None:
    result.state, result.exit_code = outcome.state, outcome.exit_code
    result.elapsed_seconds = round(outcome.elapsed, 1)
    took = format_elapsed(outcome.elapsed)
    result.cluster_state = outcome.cluster_state or None
    result.cluster_reason = outcome.cluster_reason
    if outcome.state == "COMPLETED":
        _say(options, f"step {submission.step_id} COMPLETED after {took}")
        if result.report:
            _say(options, f"report:  {result.report}")
        if result.job_report is not None:
            text = _report_summary(result.job_report, result.report)
            if text:
                _say(options, text)
        return
    if outcome.exit_code == EXIT_STILL_RUNNING:
        _still_running(checked, result, submission, region, took)
        return
    if outcome.exit_code == EXIT_CANCELLED:  # our Ctrl-C/SIGTERM, not a step EMR cancelled
        result.cause = "; ".join(outcome.actions)
        raise Cancelled(" ".join(outcome.actions[1:]) or "cancelled")
    _failed(result, submission, outcome, took)


def _still_running(
    checked: _Checked, result: Result, submission: Submission, region: str, took: str
) -> None:
    cluster, step = submission.cluster_id, submission.step_id
    again = reattach_command(cluster, step, region, checked.timeout)
    if submission.started_cluster:
        stop = f"to stop it instead: aws emr terminate-clusters --cluster-ids {cluster}"
        left = (
            f"cluster {cluster} is left running ON PURPOSE: the step is still working, and "
            "stopping the cluster would throw that work away; it terminates by itself when "
            f"the step ends ({stop})"
        )
    else:
        left = (
            f"the step keeps running on cluster {cluster} (to cancel it instead: aws emr "
            f"cancel-steps --cluster-id {cluster} --step-ids {step})"
        )
    eprint(f"timeout: step {step} still running after {took}; it goes on. {left}")
    eprint(f"Re-attach with: {again}")
    result.error = f"still running at --timeout; {left}; re-attach with: {again}"


def _failed(result: Result, submission: Submission, outcome: Outcome, took: str) -> None:
    """Explain a failed or never-run step (cause, logs, the job's report) and raise JobFailed."""
    cluster, step = submission.cluster_id, submission.step_id
    reason = outcome.cluster_reason or "no reason given"
    left = _left_running(submission, outcome)
    start_failed = outcome.never_ran and outcome.cluster_code in CLUSTER_FAILURE_CODES
    if start_failed:
        lines = [
            f"cluster {cluster} failed to start ({outcome.cluster_state}: {reason}); "
            f"step {step} never ran ({outcome.state}) after {took}"
        ]
    elif outcome.never_ran:
        lines = [
            f"step {step} never ran ({outcome.state}): cluster {cluster} "
            f"{outcome.cluster_state} ({reason}) after {took}"
        ]
    else:
        lines = [f"step {step} {outcome.state} after {took}"]
        if outcome.failure_details:
            lines.append(f"EMR: {outcome.failure_details}")
        if outcome.cluster_reason:
            lines.append(f"cluster {cluster} {outcome.cluster_state}: {outcome.cluster_reason}")
    lines += _cause_lines(result, outcome, cluster)
    if outcome.hint:
        lines.append(f"what to do: {outcome.hint}")
    lines.append(left)
    for line in lines:
        eprint(line)
    if start_failed:
        raise JobFailed(
            f"EMR cluster {cluster} failed to start ({reason}), so the backfill (step {step}) "
            f"never ran; {left}. "
            + (f"What to do: {outcome.hint}. " if outcome.hint else "")
            + f"Console: {result.console_url}"
        )
    raise JobFailed(
        f"the backfill failed on EMR (step {step} {outcome.state}); "
        f"see the cause above and {result.console_url}"
    )


def _cause_lines(result: Result, outcome: Outcome, cluster: str) -> List[str]:
    lines: List[str] = []
    if outcome.cause is not None:
        lines.append(outcome.cause.render())
        result.cause = outcome.cause.text
    elif outcome.never_ran:
        if outcome.cluster_code == "BOOTSTRAP_FAILURE":
            lines.append(
                "the bootstrap action's output is not in the logs yet: "
                f"{(result.log_uri or 'the log URI').rstrip('/')}/{cluster}/node/"
            )
        result.cause = outcome.cluster_reason
    else:
        where = ", ".join(outcome.logs) or f"{result.log_uri or 'the log URI'} (nothing there yet)"
        lines.append(f"no traceback or Spark error found in the logs: {where}")
        result.cause = outcome.failure_details or outcome.cluster_reason
    if result.job_report is not None:
        found = failure_lines(result.job_report)
        if found:
            lines.append(f"the job's report ({result.report}) says:")
            lines.extend(f"  {line}" for line in found)
    return lines


def _bucket_region(s3: Any, bucket: str) -> str:
    """The archive bucket's region (GetBucketLocation: None means us-east-1, EU eu-west-1)."""
    try:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except Exception as error:
        code = error_code(error)
        if code == "NoSuchBucket":
            raise UserError(f"ENRICHED_ARCHIVE: bucket '{bucket}' does not exist") from None
        if code in ("AccessDenied", "AllAccessDisabled"):
            raise UserError(
                f"cannot read the region of bucket '{bucket}' ({code}): give --region"
            ) from None
        raise
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
