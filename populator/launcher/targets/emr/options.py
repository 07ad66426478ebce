"""`inv run_emr`'s own options: their types, defaults and the checks made before any AWS call.

Every check names the option and what was expected (UserError, exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from populator.core.errors import (
    UserError,
)
from populator.core.location import S3Uri, has_s3_scheme, parse_s3_uri
from populator.launcher.configs import REGION_RE, TABLE_RE
from populator.launcher.targets.common.region import locations as default_locations
from populator.launcher.targets.common.request import parse_tags
from populator.launcher.targets.emr.request import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_INSTANCE_COUNT,
    DEFAULT_INSTANCE_PROFILE,
    DEFAULT_INSTANCE_TYPE,
    DEFAULT_RELEASE_LABEL,
    DEFAULT_SERVICE_ROLE,
)

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
    idle_timeout: Any = None  # None: DEFAULT_IDLE_TIMEOUT (each target has its own default)
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


@dataclass(frozen=True)
class Checked:
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


def check_options(options: EmrOptions) -> Checked:
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
    return Checked(
        tags=tags,
        instance_count=_number(options.instance_count, "--instance-count", 1, 1000),
        idle_timeout=_number(
            DEFAULT_IDLE_TIMEOUT if options.idle_timeout is None else options.idle_timeout,
            "--idle-timeout",
            MIN_IDLE_TIMEOUT,
            MAX_IDLE_TIMEOUT,
        ),
        timeout=timeout,
        poll_interval=_number(options.poll_interval, "--poll-interval", 0.01, 3600, whole=False),
        log_wait=_number(options.log_wait, "--log-wait", 0, 3600, whole=False),
        log_path=_s3_folder(options.log_path, "--log-path"),
        assets=_s3_folder(options.assets, "--assets"),
        bad_rows=None if bad_rows is None else bad_rows.uri,
        in_flight=in_flight,
    )


def locations(archive: S3Uri, checked: Checked) -> Tuple[S3Uri, S3Uri]:
    """(log URI, assets): defaults under `populator/` in the archive bucket; --assets defaults
    to a `populator-assets/` folder beside --log-path when that is given (common.region)."""
    return default_locations(archive, checked.log_path, checked.assets)
