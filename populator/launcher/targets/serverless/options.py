"""The options of an EMR Serverless backfill, their help texts, and their local checks.

The CLI adds these to `inv run_emr` (`--application-id`, `--serverless`,
`--execution-role-arn`, `--idle-timeout` in seconds as for EMR, …); every check runs before any
AWS call and names the flag and what was expected (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from populator.core.errors import UserError
from populator.core.location import S3Uri, has_s3_scheme, parse_s3_uri
from populator.launcher.targets.common.request import parse_tags
from populator.launcher.targets.serverless.request import (
    DEFAULT_IDLE_TIMEOUT_MINUTES,
    DEFAULT_RELEASE_LABEL,
)

__all__ = ["HELP", "Checked", "ServerlessOptions", "check_options"]

APPLICATION_ID_RE = re.compile(r"^[0-9a-z]{1,64}$")
JOB_RUN_ID_RE = re.compile(r"^[0-9a-z]{1,64}$")
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")
RELEASE_RE = re.compile(r"^emr-[0-9]+\.[0-9]+\.[0-9]+$")
IMAGE_RE = re.compile(r"^[\w.-]+(?::[0-9]+)?/[\w./-]+(?::[\w.-]+|@sha256:[0-9a-f]{64})?$")
MAX_IDLE_SECONDS = 10080 * 60  # autoStopConfiguration accepts 1 minute to one week


@dataclass(frozen=True)
class ServerlessOptions:
    """As typed on the command line (numbers may be strings; `check_options` parses them)."""

    application_id: Optional[str] = None
    serverless: bool = False
    execution_role_arn: Optional[str] = None
    release_label: str = DEFAULT_RELEASE_LABEL
    idle_timeout: Any = DEFAULT_IDLE_TIMEOUT_MINUTES * 60  # seconds, like EMR's --idle-timeout
    image_uri: Optional[str] = None
    environment_archive: Optional[str] = None
    job_run_id: Optional[str] = None
    execution_timeout: Any = None
    log_path: Optional[str] = None
    assets: Optional[str] = None
    region: Optional[str] = None
    profile: Optional[str] = None
    kms_key_id: Optional[str] = None
    tags: Sequence[str] = ()
    run_manifest_table: Optional[str] = None
    bad_rows: Optional[str] = None
    include_expired: bool = False
    in_flight: Any = None
    accept_read_errors: bool = False
    create_table: bool = True
    wait: bool = False
    timeout: Any = None
    poll_interval: Any = 15
    log_wait: Any = 120
    force: bool = False
    dry_run: bool = False
    json: bool = False
    job_extra: Mapping[str, Any] = field(default_factory=dict)  # further job flags (job_args)


HELP: Dict[str, str] = {
    "application_id": "EMR Serverless: run the backfill as a job run on this application",
    "serverless": "EMR Serverless: create an application for this backfill (Spark, auto-start, "
    "auto-stop), run the job on it, delete it when the job ends (with --wait)",
    "execution_role_arn": "EMR Serverless: the job run's IAM role ARN (required; the rights of "
    "the cluster's instance role, see docs/security.md)",
    "release_label": f"EMR release (default {DEFAULT_RELEASE_LABEL})",
    "idle_timeout": "with --serverless: stop the application after this many idle seconds, "
    f"rounded up to minutes (default {DEFAULT_IDLE_TIMEOUT_MINUTES * 60})",
    "image_uri": "with --serverless: a custom image for the application (e.g. with boto3)",
    "environment_archive": "EMR Serverless: S3 URI of a venv-pack tar.gz to run Python from "
    "(spark.archives), when the image lacks boto3",
    "job_run_id": "with --application-id: re-attach to this job run and wait for it",
    "execution_timeout": "EMR Serverless: cancel the job run after this many minutes "
    "(default: the service's, 720)",
    "log_path": "S3 folder for the job run's logs (default s3://<archive-bucket>/populator/logs/)",
    "assets": "S3 folder for uploads (default: populator-assets/ beside --log-path, else "
    "s3://<archive-bucket>/populator/assets/)",
    "wait": "follow the job run to its end; exit 0 done, 1 failed (cause shown), 130 Ctrl-C",
    "timeout": "with --wait: stop waiting after SECONDS, exit 3 (the job run goes on)",
    "poll_interval": "with --wait: first poll interval in seconds, backing off to 60",
    "log_wait": "with --wait: seconds to wait for a failed job run's driver log (default 120)",
    "force": "start even if another backfill of the same table is active",
    "dry_run": "print the exact CreateApplication/StartJobRun requests (secrets redacted); "
    "create and upload nothing",
    "json": "print one JSON result (state, exit code, cause, application_id, job_run_id)",
}


@dataclass(frozen=True)
class Checked:
    """The options parsed: numbers, S3 folders and tags."""

    idle_timeout: int  # minutes, as autoStopConfiguration takes it
    timeout: Optional[float]
    poll_interval: float
    log_wait: float
    log_path: Optional[S3Uri]
    assets: Optional[S3Uri]
    tags: List[Tuple[str, str]]
    in_flight: Optional[int]
    bad_rows: Optional[str]
    execution_timeout: Optional[int]


def _number(text: Any, flag: str, low: float, high: float, whole: bool = True) -> Any:
    try:
        value = int(str(text)) if whole else float(str(text))
    except ValueError:
        value = None
    if value is None or value != value or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise UserError(f"{flag} {text!r}: expected {kind} between {low} and {high}")
    return value


def _folder(text: Optional[str], flag: str) -> Optional[S3Uri]:
    if text is None:
        return None
    if not has_s3_scheme(text):
        raise UserError(f"{flag} {text!r}: expected an S3 folder such as s3://bucket/prefix/")
    try:
        return parse_s3_uri(text)
    except ValueError as error:
        raise UserError(f"{flag}: {error}") from None


def _match(value: Optional[str], pattern: re.Pattern, flag: str, expected: str) -> None:
    if value is not None and not pattern.match(value):
        raise UserError(f"{flag} {value!r}: expected {expected}")


def _check_target(options: ServerlessOptions) -> None:
    if bool(options.application_id) == bool(options.serverless):
        raise UserError(
            "EMR Serverless: give either --application-id APP (an existing application) or "
            "--serverless (create one for this backfill), not both"
        )
    if options.job_run_id and not options.application_id:
        raise UserError("--job-run-id re-attaches to a job run: give its --application-id too")
    if not options.execution_role_arn and not options.job_run_id:
        raise UserError(
            "--execution-role-arn is required on EMR Serverless: the IAM role the job run "
            "assumes, e.g. arn:aws:iam::123456789012:role/populator-job"
        )
    _match(options.application_id, APPLICATION_ID_RE, "--application-id", "an application id")
    _match(options.job_run_id, JOB_RUN_ID_RE, "--job-run-id", "a job run id")
    _match(
        options.execution_role_arn,
        ROLE_ARN_RE,
        "--execution-role-arn",
        "an IAM role ARN such as arn:aws:iam::123456789012:role/populator-job",
    )
    _match(options.release_label, RELEASE_RE, "--release-label", "a release such as emr-7.12.0")
    _match(options.image_uri, IMAGE_RE, "--image-uri", "an ECR image URI")
    if options.image_uri and not options.serverless:
        raise UserError("--image-uri configures a created application: add --serverless")


def check_options(options: ServerlessOptions) -> Checked:
    """Every option, before any AWS call; UserError names the option."""
    _check_target(options)
    archive = options.environment_archive
    if archive is not None and not (has_s3_scheme(archive) and archive.endswith(".tar.gz")):
        raise UserError(
            f"--environment-archive {archive!r}: expected the S3 URI of a venv-pack .tar.gz"
        )
    if options.bad_rows is not None and not has_s3_scheme(options.bad_rows):
        raise UserError(
            f"--bad-rows {options.bad_rows!r}: expected an S3 prefix (the job runs on EMR "
            "Serverless: a local path would vanish with the worker)"
        )
    try:
        tags = parse_tags(options.tags or ())
    except ValueError as error:
        raise UserError(str(error)) from None
    timeout = None
    if options.timeout is not None:
        if not (options.wait or options.job_run_id):
            raise UserError("--timeout limits --wait: add --wait (or leave out --timeout)")
        timeout = _number(options.timeout, "--timeout", 1, 10**7, whole=False)
    bad_rows = _folder(options.bad_rows, "--bad-rows")
    return Checked(
        idle_timeout=-(
            -_number(options.idle_timeout, "--idle-timeout", 60, MAX_IDLE_SECONDS) // 60
        ),
        timeout=timeout,
        poll_interval=_number(options.poll_interval, "--poll-interval", 0.01, 3600, whole=False),
        log_wait=_number(options.log_wait, "--log-wait", 0, 3600, whole=False),
        log_path=_folder(options.log_path, "--log-path"),
        assets=_folder(options.assets, "--assets"),
        tags=tags,
        in_flight=None
        if options.in_flight is None
        else _number(options.in_flight, "--in-flight", 1, 1024),
        bad_rows=None if bad_rows is None else bad_rows.uri,
        execution_timeout=None
        if options.execution_timeout is None
        else _number(options.execution_timeout, "--execution-timeout", 5, 10080),
    )
