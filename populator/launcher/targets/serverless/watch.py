"""Follow a job run to its end: state changes with the elapsed time, a cause on failure.

Polls GetJobRun with EMR's backoff (first interval, x1.5 up to a cap, back to the first after
each change). It ends in one of four ways, each with its exit code:
- SUCCESS (0);
- FAILED, or CANCELLED by someone else (1): `stateDetails` and the probable cause from the
  driver's stderr under the log URI (waiting up to `log_wait` for it to arrive);
- the deadline passed (3): nothing is touched, the caller says how to re-attach;
- SIGINT/SIGTERM (130): the job run is cancelled (CancelJobRun) and that is said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List

from populator.core.errors import EXIT_CANCELLED, EXIT_JOB_FAILED, EXIT_OK, EXIT_STILL_RUNNING
from populator.launcher.targets.base import Outcome
from populator.launcher.targets.common.watch import (
    DEFAULT_POLL_INTERVAL,
    Poll,
    Poller,
    collect_logs,
    follow,
)
from populator.launcher.targets.serverless.cancel import cancel_job_run
from populator.launcher.targets.serverless.logs import (
    LogText,
    fetch_driver_logs,
    missing_module_hint,
    probable_cause,
)

__all__ = ["DEFAULT_POLL_INTERVAL", "JobRunWatch", "wait_for_job_run"]


@dataclass
class JobRunWatch(Poller):
    """One job run to follow (the target gives it a `deadline`, a `clock()` time)."""

    es: Any
    application_id: str
    job_run_id: str

    @property
    def ids(self) -> dict:
        return {"application_id": self.application_id, "job_run_id": self.job_run_id}


def _get(watch: JobRunWatch) -> dict:
    return watch.es.get_job_run(applicationId=watch.application_id, jobRunId=watch.job_run_id)[
        "jobRun"
    ]


def wait_for_job_run(watch: JobRunWatch) -> Outcome:
    """Poll until the job run ends, the deadline passes or a signal arrives (module doc)."""

    def poll() -> Poll:
        run = _get(watch)
        state = run["state"]
        details = f": {run['stateDetails']}" if run.get("stateDetails") else ""

        def ended() -> Outcome:
            if state == "SUCCESS":
                return Outcome(state, EXIT_OK, watch.elapsed(), ids=watch.ids)
            return _failed(watch, run)

        done = state in ("SUCCESS", "FAILED", "CANCELLED")
        return state, f"job run {watch.job_run_id} {state}{details}", ended if done else None

    def timed_out(state: str) -> Outcome:
        return Outcome(
            state, EXIT_STILL_RUNNING, watch.elapsed(), ids=watch.ids, details={"timed_out": True}
        )

    def cancel(what: str) -> Outcome:
        actions = cancel_job_run(watch.es, watch.application_id, watch.job_run_id, what, watch.log)
        return Outcome(
            "CANCELLED", EXIT_CANCELLED, watch.elapsed(), ids=watch.ids, actions=tuple(actions)
        )

    return follow(watch, poll, timed_out, cancel)


def _collect_logs(watch: JobRunWatch) -> List[LogText]:
    """The driver's logs, once there (or when `log_wait` has passed)."""
    return collect_logs(
        watch,
        lambda: fetch_driver_logs(
            watch.s3, watch.log_uri, watch.application_id, watch.job_run_id
        ),
        bool,
        "the driver's logs",
    )


def _failed(watch: JobRunWatch, run: dict) -> Outcome:
    logs = _collect_logs(watch)
    cause = probable_cause(logs)
    details = {
        "state_details": run.get("stateDetails") or None,
        "logs": [log.source for log in logs],
        "hint": missing_module_hint(cause),
        "cause_source": None if cause is None else cause.source,
        "cause_kind": None if cause is None else cause.kind,
    }
    text = cause.text if cause is not None else (run.get("stateDetails") or None)
    return Outcome(
        run["state"], EXIT_JOB_FAILED, watch.elapsed(), cause=text, ids=watch.ids, details=details
    )
