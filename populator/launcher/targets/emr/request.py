"""Pure builders for the EMR requests `inv run_emr` sends (RunJobFlow, AddJobFlowSteps).

Like aws-cli's EMR customizations, every request is built as a plain dict from plain values,
so tests compare it field by field and `--dry-run` prints exactly what would be sent. Nothing
here talks to AWS. Secrets never enter a request: the job gets the storage config as an S3
URI of the uploaded (server-side encrypted) copy, never as keys or base64 of keys.

The request digest identifies a backfill request: the SHA-256 of the request built with an
empty digest. It is stored in a cluster tag and in the step name, so a re-submitted identical
request is recognised instead of starting a second cluster.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from populator.core.job_args import to_argv
from populator.launcher.redact import Redactor

__all__ = [
    "ACTIVE_CLUSTER_STATES",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_INSTANCE_COUNT",
    "DEFAULT_INSTANCE_PROFILE",
    "DEFAULT_INSTANCE_TYPE",
    "DEFAULT_RELEASE_LABEL",
    "DEFAULT_SERVICE_ROLE",
    "TAG_ARCHIVE",
    "TAG_DIGEST",
    "TAG_TABLE",
    "TAG_TABLE_REGION",
    "TAG_TOOL",
    "TAG_VERSION",
    "TOOL_NAME",
    "ClusterSpec",
    "JobArgs",
    "build_add_steps",
    "build_jar_step",
    "build_job_args",
    "build_run_job_flow",
    "build_spark_step",
    "parse_tags",
    "redact_request",
    "request_digest",
    "step_name",
    "with_digest",
]

DEFAULT_RELEASE_LABEL = "emr-7.12.0"  # Spark 3.5, Python 3.9 on the nodes
DEFAULT_INSTANCE_TYPE = "m5.xlarge"
DEFAULT_INSTANCE_COUNT = 3  # 1 master + 2 core
DEFAULT_SERVICE_ROLE = "EMR_DefaultRole"
DEFAULT_INSTANCE_PROFILE = "EMR_EC2_DefaultRole"
DEFAULT_IDLE_TIMEOUT = 3600  # seconds; a safety net: the cluster also ends with its step
ACTIVE_CLUSTER_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")

TOOL_NAME = "event-manifest-populator"
TAG_TOOL = "populator:tool"
TAG_VERSION = "populator:version"
TAG_ARCHIVE = "populator:archive"
TAG_TABLE = "populator:table"
TAG_TABLE_REGION = "populator:table-region"
TAG_DIGEST = "populator:request-digest"
_RESERVED_TAG_PREFIXES = ("populator:", "aws:")
_MAX_TAG_KEY = 128
_MAX_TAG_VALUE = 256
# What AWS allows in EMR tags: letters, digits, spaces and _ . : / = + - @
_TAG_TEXT_RE = re.compile(r"[\w .:/=+\-@]*", re.UNICODE)

COMMAND_RUNNER = "command-runner.jar"
# One driver attempt: YARN's default second attempt would silently re-run the whole backfill
# and bury the first attempt's error. No speculation: a speculative copy of a write task runs
# beside its original, so the write budget would have to halve every task's share
# (core/write/budget.py).
SPARK_SUBMIT_PREFIX = (
    "spark-submit",
    "--deploy-mode",
    "cluster",
    "--conf",
    "spark.yarn.maxAppAttempts=1",
    "--conf",
    "spark.speculation=false",
)


@dataclass(frozen=True)
class JobArgs:
    """The job's own command line (see spark_jobs/populate_manifest.py): S3 URIs, no secrets."""

    enriched_archive: str
    storage_config_uri: str
    since: Optional[str] = None  # run-id form, YYYY-MM-DD-HH-MM-SS (UTC)
    run_manifest_table: Optional[str] = None
    report_uri: Optional[str] = None
    bad_rows_uri: Optional[str] = None  # an S3 prefix: a local path would stay on a node
    in_flight: Optional[int] = None
    include_expired: bool = False
    accept_read_errors: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)  # further job flags, by dest


def build_job_args(args: JobArgs) -> List[str]:
    """The job's flags in the order of populator.core.job_args.FLAGS (options left at their
    default are left out, so a request and its digest only change when the user asks)."""
    return to_argv(
        {
            "enriched_archive": args.enriched_archive,
            "storage_config": args.storage_config_uri,
            "since": args.since,
            "run_manifest_table": args.run_manifest_table,
            "report": args.report_uri,
            "bad_rows": args.bad_rows_uri,
            "in_flight": args.in_flight,
            "include_expired": args.include_expired,
            "accept_read_errors": args.accept_read_errors,
            **args.extra,
        }
    )


def step_name(table: str, digest: str) -> str:
    """The step's name carries the table and the request digest (found again on re-submit)."""
    return f"populate events manifest {table} [{digest[:16]}]"


def build_spark_step(
    name: str,
    script_uri: str,
    job_args: Sequence[str],
    py_files_uri: Optional[str] = None,
    action_on_failure: str = "TERMINATE_CLUSTER",
) -> Dict[str, Any]:
    """`spark-submit --deploy-mode cluster [--py-files ZIP] SCRIPT ARGS` via command-runner."""
    args = list(SPARK_SUBMIT_PREFIX)
    if py_files_uri is not None:
        args += ["--py-files", py_files_uri]
    args += [script_uri, *job_args]
    return {
        "Name": name,
        "ActionOnFailure": action_on_failure,
        "HadoopJarStep": {"Jar": COMMAND_RUNNER, "Args": args},
    }


def build_jar_step(
    name: str, jar_uri: str, job_args: Sequence[str], action_on_failure: str = "TERMINATE_CLUSTER"
) -> Dict[str, Any]:
    """A custom JAR artifact (`--jar s3://….jar`) run with the same job arguments."""
    return {
        "Name": name,
        "ActionOnFailure": action_on_failure,
        "HadoopJarStep": {"Jar": jar_uri, "Args": list(job_args)},
    }


@dataclass(frozen=True)
class ClusterSpec:
    """Everything about the transient cluster except its step."""

    name: str
    log_uri: str
    release_label: str = DEFAULT_RELEASE_LABEL
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = DEFAULT_INSTANCE_COUNT
    service_role: str = DEFAULT_SERVICE_ROLE
    instance_profile: str = DEFAULT_INSTANCE_PROFILE
    ec2_key_name: Optional[str] = None
    subnet_id: Optional[str] = None
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT
    bootstrap_uri: Optional[str] = None
    tags: Tuple[Tuple[str, str], ...] = field(default_factory=tuple)


def _instance_groups(spec: ClusterSpec) -> List[Dict[str, Any]]:
    groups: List[Dict[str, Any]] = [
        {
            "Name": "Master",
            "InstanceRole": "MASTER",
            "Market": "ON_DEMAND",
            "InstanceType": spec.instance_type,
            "InstanceCount": 1,
        }
    ]
    if spec.instance_count > 1:
        groups.append(
            {
                "Name": "Core",
                "InstanceRole": "CORE",
                "Market": "ON_DEMAND",
                "InstanceType": spec.instance_type,
                "InstanceCount": spec.instance_count - 1,
            }
        )
    return groups


def build_run_job_flow(spec: ClusterSpec, steps: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """A transient Spark cluster: it ends with its step (or after `idle_timeout` idle)."""
    instances: Dict[str, Any] = {
        "InstanceGroups": _instance_groups(spec),
        "KeepJobFlowAliveWhenNoSteps": False,
        "TerminationProtected": False,
    }
    if spec.ec2_key_name is not None:
        instances["Ec2KeyName"] = spec.ec2_key_name
    if spec.subnet_id is not None:
        instances["Ec2SubnetId"] = spec.subnet_id
    request: Dict[str, Any] = {
        "Name": spec.name,
        "LogUri": spec.log_uri,
        "ReleaseLabel": spec.release_label,
        "Applications": [{"Name": "Spark"}],
        "Instances": instances,
        "Steps": [copy.deepcopy(step) for step in steps],
        "JobFlowRole": spec.instance_profile,
        "ServiceRole": spec.service_role,
        "VisibleToAllUsers": True,
        "AutoTerminationPolicy": {"IdleTimeout": spec.idle_timeout},
        "Tags": [{"Key": key, "Value": value} for key, value in spec.tags],
    }
    if spec.bootstrap_uri is not None:
        request["BootstrapActions"] = [
            {
                "Name": "Install boto3 when missing",
                "ScriptBootstrapAction": {"Path": spec.bootstrap_uri, "Args": []},
            }
        ]
    return request


def build_add_steps(cluster_id: str, steps: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    return {"JobFlowId": cluster_id, "Steps": [copy.deepcopy(step) for step in steps]}


def request_digest(request: Dict[str, Any]) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, no whitespace)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def with_digest(build: Callable[[str], Dict[str, Any]]) -> Tuple[Dict[str, Any], str]:
    """Build once with an empty digest, hash that, build again carrying the hash."""
    digest = request_digest(build(""))
    return build(digest), digest


def tag_value(text: str) -> str:
    """Fit a value into EMR's tag rules: allowed characters only, at most 256 of them."""
    cleaned = "".join(ch if _TAG_TEXT_RE.fullmatch(ch) else "_" for ch in text)
    return cleaned[:_MAX_TAG_VALUE]


def parse_tags(items: Iterable[str]) -> List[Tuple[str, str]]:
    """`KEY=VALUE` strings to pairs; ValueError with the reason for a bad or reserved one."""
    pairs: List[Tuple[str, str]] = []
    seen = set()
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--tag {item!r}: expected KEY=VALUE, e.g. --tag team=data")
        if key.lower().startswith(_RESERVED_TAG_PREFIXES):
            raise ValueError(f"--tag {item!r}: keys starting 'populator:' or 'aws:' are reserved")
        if len(key) > _MAX_TAG_KEY or len(value) > _MAX_TAG_VALUE:
            raise ValueError(
                f"--tag {item!r}: keys are at most {_MAX_TAG_KEY} characters, values at most "
                f"{_MAX_TAG_VALUE}"
            )
        if not (_TAG_TEXT_RE.fullmatch(key) and _TAG_TEXT_RE.fullmatch(value)):
            raise ValueError(
                f"--tag {item!r}: tags may hold letters, digits, spaces and _ . : / = + - @ only"
            )
        if key in seen:
            raise ValueError(f"--tag {item!r}: key {key!r} is given twice")
        seen.add(key)
        pairs.append((key, value))
    return pairs


def redact_request(request: Any, secrets: Iterable[str]) -> Any:
    """A deep copy with every string scrubbed of `secrets` (in all their encoded forms).

    Defence in depth for `--dry-run` output: the builders never put a secret in a request.
    """
    redactor = Redactor(secrets)

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return redactor.redact(value)
        if isinstance(value, dict):
            return {scrub(k): scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [scrub(item) for item in value]
        return value

    return scrub(request)
