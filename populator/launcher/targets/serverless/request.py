"""Pure builders for the EMR Serverless requests (CreateApplication, StartJobRun).

As for EMR (the digest, tag and job-argument helpers are targets/common/request.py's),
every request is a plain dict built from plain values: tests compare it field by field and
`--dry-run` prints exactly what would be sent. Nothing here talks to AWS, and no secret
enters a request: the job gets the storage config as the S3 URI of its encrypted copy.

Idempotency: the backfill's digest is the SHA-256 of both requests built with an empty digest
(and without the application id when the application is created for it). It names the job
run (as it names an EMR step), tags it, and gives StartJobRun its `clientToken`; an
application created for the backfill is named and tagged from it too, so a lost answer to
either call is found again instead of sent twice.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Tuple

from populator.launcher.targets.common.request import (
    DEFAULT_RELEASE_LABEL,
    TOOL_NAME,
    request_digest,
    step_name,
)

__all__ = [
    "ACTIVE_JOB_RUN_STATES",
    "APPLICATION_FROM_CREATE",
    "DEFAULT_IDLE_TIMEOUT_MINUTES",
    "DEFAULT_RELEASE_LABEL",
    "ENDED_JOB_RUN_STATES",
    "LIVE_APPLICATION_STATES",
    "ApplicationSpec",
    "JobRunSpec",
    "application_name",
    "build_create_application",
    "build_start_job_run",
    "client_token",
    "job_run_name",
    "parse_spark_submit_parameters",
    "plan_digest",
    "spark_submit_parameters",
]

DEFAULT_IDLE_TIMEOUT_MINUTES = 15  # what EMR Serverless itself defaults to
# QUEUED exists from emr-7.3.0 on (job concurrency and queuing).
ACTIVE_JOB_RUN_STATES = ("SUBMITTED", "PENDING", "SCHEDULED", "QUEUED", "RUNNING", "CANCELLING")
ENDED_JOB_RUN_STATES = ("SUCCESS", "FAILED", "CANCELLED")
LIVE_APPLICATION_STATES = ("CREATING", "CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED")
# What a dry run shows as StartJobRun's applicationId when the application is still to create.
APPLICATION_FROM_CREATE = "<applicationId returned by CreateApplication>"


def job_run_name(table: str, digest: str) -> str:
    """The same name an EMR step gets: the table and the digest's first 16 hex digits."""
    return step_name(table, digest)


def application_name(digest: str) -> str:
    """Deterministic (found again after a lost CreateApplication answer); at most 64 chars of
    [A-Za-z0-9._/#-] as EMR Serverless requires."""
    return f"{TOOL_NAME}-{digest[:16]}"


def client_token(digest: str, generation: int = 0) -> str:
    """The idempotency token: the digest itself for the first run of a backfill.

    AWS keeps a token for a while, so a deliberate re-run of an identical backfill (after
    the first ended) must not reuse it or AWS would hand back the old, ended job run;
    `generation` is how many ended runs of this digest exist, which every process counts the
    same way, so a retry after a lost answer still sends the same token.
    """
    if generation <= 0:
        return digest
    return hashlib.sha256(f"{digest}:{generation}".encode()).hexdigest()


def spark_submit_parameters(
    py_files_uri: Optional[str], conf: Sequence[Tuple[str, str]] = ()
) -> str:
    """`--py-files ZIP --conf k=v …`, quoted for the shell-like split EMR Serverless does."""
    parts = []
    if py_files_uri is not None:
        parts += ["--py-files", py_files_uri]
    for key, value in conf:
        parts += ["--conf", f"{key}={value}"]
    return " ".join(shlex.quote(part) for part in parts)


def parse_spark_submit_parameters(text: str) -> Tuple[Optional[str], Dict[str, str]]:
    """(py-files URI, conf) of a `sparkSubmitParameters` string: the inverse of the builder."""
    words = shlex.split(text or "")
    py_files, conf = None, {}
    for flag, value in zip(words[::2], words[1::2]):
        if flag == "--py-files":
            py_files = value
        elif flag == "--conf":
            key, _, setting = value.partition("=")
            conf[key] = setting
    return py_files, conf


@dataclass(frozen=True)
class ApplicationSpec:
    """An application created for one backfill: Spark, starts on submit, stops when idle."""

    release_label: str = DEFAULT_RELEASE_LABEL
    idle_timeout_minutes: int = DEFAULT_IDLE_TIMEOUT_MINUTES
    image_uri: Optional[str] = None  # a custom image (e.g. one with boto3 added)
    tags: Tuple[Tuple[str, str], ...] = ()


def build_create_application(spec: ApplicationSpec, digest: str, token: str = "") -> Dict[str, Any]:
    request: Dict[str, Any] = {
        "name": application_name(digest),
        "releaseLabel": spec.release_label,
        "type": "SPARK",
        "clientToken": token or digest,
        "autoStartConfiguration": {"enabled": True},
        "autoStopConfiguration": {
            "enabled": True,
            "idleTimeoutMinutes": spec.idle_timeout_minutes,
        },
        "tags": dict(spec.tags),
    }
    if spec.image_uri is not None:
        request["imageConfiguration"] = {"imageUri": spec.image_uri}
    return request


@dataclass(frozen=True)
class JobRunSpec:
    """One job run: the entry point and its arguments, the py-files zip, the log folder."""

    application_id: str
    execution_role_arn: str
    entry_point: str
    entry_point_arguments: Tuple[str, ...]
    log_uri: str
    py_files_uri: Optional[str] = None
    conf: Tuple[Tuple[str, str], ...] = ()
    tags: Tuple[Tuple[str, str], ...] = field(default_factory=tuple)
    execution_timeout_minutes: Optional[int] = None


def build_start_job_run(spec: JobRunSpec, name: str, token: str) -> Dict[str, Any]:
    request: Dict[str, Any] = {
        "applicationId": spec.application_id,
        "clientToken": token,
        "executionRoleArn": spec.execution_role_arn,
        "name": name,
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": spec.entry_point,
                "entryPointArguments": list(spec.entry_point_arguments),
                "sparkSubmitParameters": spark_submit_parameters(spec.py_files_uri, spec.conf),
            }
        },
        "configurationOverrides": {
            "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": spec.log_uri}}
        },
        "tags": dict(spec.tags),
    }
    if spec.execution_timeout_minutes is not None:
        request["executionTimeoutMinutes"] = spec.execution_timeout_minutes
    return request


def plan_digest(start: Dict[str, Any], create: Optional[Dict[str, Any]] = None) -> str:
    """The digest of requests built with an empty digest: identical backfills, identical
    digests (the created application's id, unknown before, is not part of it)."""
    return request_digest({"CreateApplication": create, "StartJobRun": start})
