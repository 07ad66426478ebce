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

import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

from populator.core.errors import EXIT_CANCELLED, EXIT_JOB_FAILED, EXIT_OK, EXIT_STILL_RUNNING
from populator.launcher.signals import Signals, Terminated, interrupt_name
from populator.launcher.targets.base import Outcome
from populator.launcher.targets.common.timing import backoff_delays, format_elapsed
from populator.launcher.targets.serverless.cancel import cancel_job_run
from populator.launcher.targets.serverless.logs import (
    LogText,
    fetch_driver_logs,
    missing_module_hint,
    probable_cause,
)

__all__ = ["DEFAULT_POLL_INTERVAL", "JobRunWatch", "wait_for_job_run"]

DEFAULT_POLL_INTERVAL = 15.0
MAX_POLL_INTERVAL = 60.0
LOG_POLL_INTERVAL = 15.0


@dataclass
class JobRunWatch:
    """One job run to follow; `deadline` is a `clock()` time (None: wait for the end)."""

    es: Any
    application_id: str
    job_run_id: str
    s3: Any = None
    log_uri: Optional[str] = None
    deadline: Optional[float] = None
    poll_interval: float = DEFAULT_POLL_INTERVAL
    max_interval: float = MAX_POLL_INTERVAL
    log_wait: float = 120.0
    log: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    on_poll: Callable[[], None] = lambda: None  # after each GetJobRun: the progress follower
    _start: float = field(default=0.0, init=False)

    def elapsed(self) -> float:
        return self.clock() - self._start

    @property
    def ids(self) -> dict:
        return {"application_id": self.application_id, "job_run_id": self.job_run_id}


def _get(watch: JobRunWatch) -> dict:
    return watch.es.get_job_run(applicationId=watch.application_id, jobRunId=watch.job_run_id)[
        "jobRun"
    ]


def wait_for_job_run(watch: JobRunWatch) -> Outcome:
    """Poll until the job run ends, the deadline passes or a signal arrives (module doc)."""
    watch._start = watch.clock()
    delays = backoff_delays(watch.poll_interval, watch.max_interval)
    last: Optional[str] = None
    with Signals() as signals:
        try:
            while True:
                run = _get(watch)
                watch.on_poll()
                state = run["state"]
                if state != last:
                    details = f": {run['stateDetails']}" if run.get("stateDetails") else ""
                    watch.log(
                        f"[{format_elapsed(watch.elapsed())}] job run {watch.job_run_id} "
                        f"{state}{details}"
                    )
                    if last is not None:
                        delays = backoff_delays(watch.poll_interval, watch.max_interval)
                    last = state
                if state == "SUCCESS":
                    return Outcome(state, EXIT_OK, watch.elapsed(), ids=watch.ids)
                if state in ("FAILED", "CANCELLED"):
                    return _failed(watch, run)
                now = watch.clock()
                if watch.deadline is not None and now >= watch.deadline:
                    return Outcome(
                        state,
                        EXIT_STILL_RUNNING,
                        watch.elapsed(),
                        ids=watch.ids,
                        details={"timed_out": True},
                    )
                delay = next(delays)
                if watch.deadline is not None:
                    delay = min(delay, watch.deadline - now)
                watch.sleep(delay)
        except (KeyboardInterrupt, Terminated) as interrupt:
            signals.ignore()
            actions = cancel_job_run(
                watch.es,
                watch.application_id,
                watch.job_run_id,
                interrupt_name(interrupt),
                watch.log,
            )
            return Outcome(
                "CANCELLED",
                EXIT_CANCELLED,
                watch.elapsed(),
                ids=watch.ids,
                actions=tuple(actions),
            )


def _collect_logs(watch: JobRunWatch) -> List[LogText]:
    """Logs reach S3 a little after the end: look again until `log_wait` has passed."""
    if watch.s3 is None or not watch.log_uri:
        return []
    deadline = watch.clock() + watch.log_wait
    announced = False
    while True:
        try:
            logs = fetch_driver_logs(
                watch.s3, watch.log_uri, watch.application_id, watch.job_run_id
            )
        except Exception as error:
            watch.log(f"could not read the driver's logs under {watch.log_uri}: {error}")
            return []
        if logs or watch.clock() >= deadline:
            return logs
        if not announced:
            watch.log(
                f"waiting up to {int(watch.log_wait)}s for the driver's logs to reach "
                f"{watch.log_uri}"
            )
            announced = True
        watch.sleep(min(LOG_POLL_INTERVAL, max(0.0, deadline - watch.clock())))


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
