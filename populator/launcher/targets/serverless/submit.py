"""Send the backfill to EMR Serverless once, refusing a second backfill of the same table.

The guard has EMR's shape (targets/emr/submit.py): job runs carry tags naming their table
and request digest, and a name holding both. Before sending, the active job runs of every
live application are searched for our name prefix (ListJobRuns gives no tags; GetJobRun
confirms them):
- same digest: the identical backfill is already running; it is followed, not sent again;
- same table, other digest: another backfill writes that table; refused unless `force`.

StartJobRun has a `clientToken` (from the digest) and CreateApplication a deterministic
name, so after an ambiguous failure (time-out, connection reset) the job run or application
is looked up first, and a job run is sent again only with the same token: never a second run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional

from populator.core.errors import UserError
from populator.core.retry import error_code, is_retryable
from populator.launcher.targets.common.guard import DuplicateBackfill, backfills
from populator.launcher.targets.common.request import TAG_DIGEST
from populator.launcher.targets.serverless.request import (
    ACTIVE_JOB_RUN_STATES,
    ENDED_JOB_RUN_STATES,
    LIVE_APPLICATION_STATES,
    job_run_name,
)

__all__ = [
    "ActiveJobRun",
    "DuplicateBackfill",
    "JobRunRef",
    "active_backfills",
    "check_application",
    "create_application",
    "ended_runs",
    "find_application",
    "find_duplicate",
    "landed_job_run",
    "start_job_run",
]


@dataclass(frozen=True)
class JobRunRef:
    application_id: str
    job_run_id: str
    reused: bool = False  # the identical backfill was already running


@dataclass(frozen=True)
class ActiveJobRun:
    application_id: str
    job_run_id: str
    state: str
    digest: Optional[str]


def _applications(es: Any, states: Any = LIVE_APPLICATION_STATES) -> Iterator[Dict[str, Any]]:
    for page in es.get_paginator("list_applications").paginate(states=list(states)):
        yield from page.get("applications", [])


def _job_runs(es: Any, application_id: str, states: Any = None) -> Iterator[Dict[str, Any]]:
    kwargs: Dict[str, Any] = {"applicationId": application_id}
    if states:
        kwargs["states"] = list(states)
    try:
        for page in es.get_paginator("list_job_runs").paginate(**kwargs):
            yield from page.get("jobRuns", [])
    except Exception as error:
        # Deleted since it was listed (moto also says so for an application without runs).
        if error_code(error) != "ResourceNotFoundException":
            raise


def _name_prefix(table: str) -> str:
    return job_run_name(table, "")[: -len("[]")]


def _ours(es: Any, summary: Dict[str, Any], table: str, table_region: str) -> Optional[str]:
    """The digest of a listed job run when its tags say it backfills this table, else None."""
    run = es.get_job_run(applicationId=summary["applicationId"], jobRunId=summary["id"])["jobRun"]
    tags = run.get("tags") or {}
    if not backfills(tags, table, table_region):
        return None
    return str(tags.get(TAG_DIGEST, ""))


def active_backfills(es: Any, table: str, table_region: str) -> List[ActiveJobRun]:
    """Active job runs started by this tool for `table` on any live application."""
    found = []
    prefix = _name_prefix(table)
    for application in _applications(es):
        for summary in _job_runs(es, application["id"], ACTIVE_JOB_RUN_STATES):
            if not str(summary.get("name") or "").startswith(prefix):
                continue
            digest = _ours(es, summary, table, table_region)
            if digest is not None:
                found.append(
                    ActiveJobRun(application["id"], summary["id"], summary["state"], digest)
                )
    return found


def find_duplicate(
    es: Any, table: str, table_region: str, digest: str, force: bool = False
) -> Optional[JobRunRef]:
    """The running identical backfill (to follow), else None when it is safe to send.

    Raises DuplicateBackfill when another backfill of the table is active, unless `force`.
    """
    others = []
    for run in active_backfills(es, table, table_region):
        if run.digest == digest:
            return JobRunRef(run.application_id, run.job_run_id, reused=True)
        others.append(run)
    if others and not force:
        listed = "; ".join(
            f"application {r.application_id} job run {r.job_run_id} ({r.state})" for r in others
        )
        raise DuplicateBackfill(
            f"another backfill of DynamoDB table '{table}' ({table_region}) is active on EMR "
            f"Serverless: {listed}. Two backfills of one table double the writes and the cost; "
            "wait for it to end (re-attach with --application-id/--job-run-id --wait), or pass "
            "--force to start anyway"
        )
    return None


def ended_runs(es: Any, application_id: str, name: str) -> int:
    """How many ended job runs of this exact name (digest) the application holds: the token
    generation of the next deliberate run (see request.client_token)."""
    return sum(
        1 for run in _job_runs(es, application_id, ENDED_JOB_RUN_STATES) if run.get("name") == name
    )


def check_application(es: Any, application_id: str) -> Dict[str, Any]:
    """The existing application (`--application-id`) must exist, run Spark, not be deleted."""
    try:
        application = es.get_application(applicationId=application_id)["application"]
    except Exception as error:
        if error_code(error) not in ("ResourceNotFoundException", "ValidationException"):
            raise
        raise UserError(
            f"--application-id {application_id}: no such EMR Serverless application here "
            f"(GetApplication: {error_code(error)}); check --region, or use --serverless"
        ) from None
    if str(application.get("type", "")).upper() != "SPARK":
        raise UserError(
            f"--application-id {application_id} is a {application.get('type')} application: "
            "the backfill needs a Spark one"
        )
    if application.get("state") in ("TERMINATING", "TERMINATED"):
        raise UserError(
            f"--application-id {application_id} is {application['state']}: it runs no more "
            "jobs; give another application or use --serverless"
        )
    return application


def find_application(es: Any, name: str) -> Optional[str]:
    """A live application of exactly this (digest-derived) name, else None."""
    for application in _applications(es):
        if application.get("name") == name:
            return str(application["id"])
    return None


def create_application(es: Any, es_once: Any, request: Dict[str, Any]) -> str:
    """The application of this backfill: found by its name, else created once."""
    found = find_application(es, request["name"])
    if found is not None:
        return found
    try:
        return str(es_once.create_application(**request)["applicationId"])
    except Exception as error:
        if not is_retryable(error):
            raise
        landed = find_application(es, request["name"])
        if landed is not None:
            return landed
        raise


def landed_job_run(es: Any, request: Dict[str, Any]) -> Optional[str]:
    """The job run a lost StartJobRun answer created (same application, name and digest)."""
    wanted_digest = request["tags"].get(TAG_DIGEST)
    for summary in _job_runs(es, request["applicationId"], ACTIVE_JOB_RUN_STATES):
        if summary.get("name") != request["name"]:
            continue
        run = es.get_job_run(applicationId=request["applicationId"], jobRunId=summary["id"])
        if (run["jobRun"].get("tags") or {}).get(TAG_DIGEST) == wanted_digest:
            return str(summary["id"])
    return None


def start_job_run(es: Any, es_once: Any, request: Dict[str, Any]) -> JobRunRef:
    """StartJobRun sent once; after an ambiguous failure, look, then resend the same token."""
    application_id = request["applicationId"]
    try:
        answer = es_once.start_job_run(**request)
    except Exception as error:
        if not is_retryable(error):
            raise
        landed = landed_job_run(es, request)
        if landed is not None:
            return JobRunRef(application_id, landed)
        answer = es.start_job_run(**request)  # the same clientToken: AWS answers the same run
    return JobRunRef(application_id, str(answer["jobRunId"]))
