"""Stop what a backfill started on EMR Serverless, and say plainly what was done.

Ctrl-C/SIGTERM cancels the job run (CancelJobRun). An application this backfill created is
then released: stopped (DeleteApplication accepts only CREATED or STOPPED applications) and
deleted. Anything that cannot be done is said with the command that finishes it by hand.
"""

from __future__ import annotations

import time
from typing import Any, Callable, List

from populator.launcher.targets.serverless.request import ACTIVE_JOB_RUN_STATES

__all__ = ["cancel_job_run", "delete_commands", "release_application"]

Log = Callable[[str], None]
SETTLE_SECONDS = 120.0  # how long to wait for a cancelled run or a stopping application
SETTLE_POLL = 2.0


def delete_commands(application_id: str, region: str) -> str:
    return (
        f"aws emr-serverless stop-application --region {region} --application-id "
        f"{application_id} && aws emr-serverless delete-application --region {region} "
        f"--application-id {application_id}"
    )


def cancel_job_run(es: Any, application_id: str, job_run_id: str, what: str, log: Log) -> List[str]:
    said: List[str] = []

    def say(message: str) -> None:
        said.append(message)
        log(message)

    say(f"{what}: cancelling the backfill, please wait")
    try:
        es.cancel_job_run(applicationId=application_id, jobRunId=job_run_id)
        say(f"cancelled job run {job_run_id} on application {application_id} (CancelJobRun)")
    except Exception as error:
        say(
            f"could NOT cancel job run {job_run_id} ({error}); cancel it yourself: aws "
            f"emr-serverless cancel-job-run --application-id {application_id} --job-run-id "
            f"{job_run_id}"
        )
    return said


def _settle(
    probe: Callable[[], bool], clock: Callable[[], float], sleep: Callable[[float], None]
) -> bool:
    deadline = clock() + SETTLE_SECONDS
    while not probe():
        if clock() >= deadline:
            return False
        sleep(SETTLE_POLL)
    return True


def release_application(
    es: Any,
    application_id: str,
    region: str,
    log: Log,
    job_run_id: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> List[str]:
    """Stop and delete an application this backfill created, once its job run has ended."""

    def run_ended() -> bool:
        if not job_run_id:
            return True
        run = es.get_job_run(applicationId=application_id, jobRunId=job_run_id)["jobRun"]
        return run["state"] not in ACTIVE_JOB_RUN_STATES

    def stopped() -> bool:
        state = es.get_application(applicationId=application_id)["application"]["state"]
        return state in ("CREATED", "STOPPED", "TERMINATED")

    try:
        _settle(run_ended, clock, sleep)
        state = es.get_application(applicationId=application_id)["application"]["state"]
        if state == "TERMINATED":
            message = f"application {application_id} is already deleted"
        else:
            if state not in ("CREATED", "STOPPED"):
                es.stop_application(applicationId=application_id)
            if not _settle(stopped, clock, sleep):
                raise RuntimeError("it did not stop in time")
            es.delete_application(applicationId=application_id)
            message = f"deleted application {application_id}: this backfill created it"
    except Exception as error:
        message = (
            f"could NOT delete application {application_id} ({error}); it stops by itself "
            f"when idle; delete it with: {delete_commands(application_id, region)}"
        )
    log(message)
    return [message]
