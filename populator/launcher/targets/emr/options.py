"""`inv run_emr`'s own options: their types, defaults and the checks made before any AWS call.

The options both remote targets share, and their checks, are targets/common/options.py's;
every check names the option and what was expected (UserError, exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from populator.core.errors import UserError
from populator.core.location import has_s3_scheme
from populator.launcher.configs import REGION_RE, TABLE_RE
from populator.launcher.targets.base import job_fields
from populator.launcher.targets.common import options as common
from populator.launcher.targets.emr.request import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_INSTANCE_COUNT,
    DEFAULT_INSTANCE_PROFILE,
    DEFAULT_INSTANCE_TYPE,
    DEFAULT_SERVICE_ROLE,
)

INSTANCE_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*\.[0-9]*[a-z0-9]+$")
CLUSTER_ID_RE = re.compile(r"^j-[0-9A-Z]{1,64}$")
STEP_ID_RE = re.compile(r"^s-[0-9A-Z]{1,64}$")
SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
ROLE_RE = re.compile(r"^[\w+=,.@/-]{1,512}$")
KEYNAME_RE = re.compile(r"^[\x20-\x7e]{1,255}$")
MIN_IDLE_TIMEOUT, MAX_IDLE_TIMEOUT = 60, 604800  # what EMR's AutoTerminationPolicy accepts
WORDING = common.Wording(
    fraction="a number of seconds",
    bad_rows=" such as s3://bucket/populator/bad-rows/ (the job runs on EMR: a local path "
    "would stay on a cluster node)",
)


@dataclass(frozen=True)
class EmrOptions(common.RemoteOptions):
    """The task's options as typed (command-line strings: checked in `check_options`)."""

    ec2_keyname: Optional[str] = None
    jar: Optional[str] = None
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: Any = DEFAULT_INSTANCE_COUNT
    subnet_id: Optional[str] = None
    service_role: str = DEFAULT_SERVICE_ROLE
    instance_profile: str = DEFAULT_INSTANCE_PROFILE
    idle_timeout: Any = None  # None: DEFAULT_IDLE_TIMEOUT (each target has its own default)
    cluster_id: Optional[str] = None
    step_id: Optional[str] = None


# The job flags EmrOptions has fields for; flags added to core.job_args later go in job_extra.
EMR_JOB_FIELDS = job_fields(EmrOptions)


@dataclass(frozen=True)
class Checked(common.RemoteChecked):
    instance_count: int
    idle_timeout: int


# --- local checks ----------------------------------------------------------------------------

# (option, pattern, flag, what was expected) for every option checked against a pattern
_PATTERNS = (
    ("region", REGION_RE, "--region", "an AWS region such as us-east-1"),
    ("release_label", common.RELEASE_RE, "--release-label", "an EMR release such as emr-7.12.0"),
    ("instance_type", INSTANCE_TYPE_RE, "--instance-type", "an EC2 type such as m5.xlarge"),
    ("subnet_id", SUBNET_RE, "--subnet-id", "a subnet id such as subnet-0abc12345"),
    ("cluster_id", CLUSTER_ID_RE, "--cluster-id", "an EMR cluster id such as j-2AXXXXXXGAPLF"),
    ("step_id", STEP_ID_RE, "--step-id", "an EMR step id such as s-1XXXXXXXXXXX"),
    ("service_role", ROLE_RE, "--service-role", "an IAM role name or ARN"),
    ("instance_profile", ROLE_RE, "--instance-profile", "an instance profile name or ARN"),
    ("ec2_keyname", KEYNAME_RE, "--ec2-keyname", "an EC2 key pair name"),
    (
        "run_manifest_table",
        TABLE_RE,
        "--run-manifest-table",
        "a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -)",
    ),
)


def check_options(options: EmrOptions) -> Checked:
    """Every option, before any AWS call; UserError names the option and what was expected."""
    for name, pattern, flag, expected in _PATTERNS:
        common.match(getattr(options, name), pattern, flag, expected)
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
        common.s3_folder(options.jar.rsplit("/", 1)[0] + "/", "--jar")
    shared = common.check_shared(options, WORDING, attached=bool(options.step_id))
    idle = DEFAULT_IDLE_TIMEOUT if options.idle_timeout is None else options.idle_timeout
    return Checked(
        **shared,
        instance_count=common.number(options.instance_count, "--instance-count", 1, 1000),
        idle_timeout=common.number(idle, "--idle-timeout", MIN_IDLE_TIMEOUT, MAX_IDLE_TIMEOUT),
    )
