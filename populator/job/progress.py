"""Publish the backfill's progress from the Spark driver while it runs.

Executors count into Spark accumulators (`ProgressCounters`, carried in the JobContext):
lines and files at the end of each file, keys, retries and throttles at the end of each
write partition; Spark merges them on the driver as tasks finish, so reading them costs
nothing. The driver tells the phase through hooks (`reading`, `writing`, …). A daemon
thread publishes every `--progress-interval` seconds, and `finish`/`fail` publish a last
object from the report itself, so the last counts equal the report's. Each publish is one
human line on stderr and, when there is a destination, the JSON object there (a local
path or S3; failures to write it are said once and never fail the job).
Cluster code: Python 3.9.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional, Tuple

from populator.core.location import parse_location
from populator.core.progress import (
    Counts,
    Estimator,
    Progress,
    interval_rate,
    iso,
    progress_uri_for,
    render_line,
)
from populator.job import sinks

Log = Callable[[str], None]
DEFAULT_INTERVAL = 30.0


class ProgressCounters:
    """Accumulators executors add to (pickled into tasks with the JobContext)."""

    NAMES = ("lines", "files", "keys_expected", "keys_done", "keys_written", "retries", "throttles")

    def __init__(self, sc: Any) -> None:
        self.accumulators = {name: sc.accumulator(0) for name in self.NAMES}

    def add(self, **counts: int) -> None:
        for name, value in counts.items():
            if value:
                self.accumulators[name].add(int(value))

    def values(self) -> Dict[str, int]:
        """Driver side only."""
        return {name: int(acc.value) for name, acc in self.accumulators.items()}


def destination(report: Optional[str], progress_uri: Optional[str]) -> Optional[str]:
    """`--progress-uri`, else beside an S3 report; None: stderr only."""
    if progress_uri:
        return progress_uri
    if report and parse_location(report, "--report").is_s3:
        return progress_uri_for(report)
    return None


class JobProgress:
    """The driver's progress state, its hooks and its publisher thread."""

    def __init__(
        self,
        counters: Optional[ProgressCounters],
        target: Optional[str],
        interval: float = DEFAULT_INTERVAL,
        s3_factory: Optional[Callable[[], Any]] = None,
        log: Optional[Log] = None,
        clock: Callable[[], float] = time.monotonic,
        clear_first: bool = False,
    ) -> None:
        self.counters = counters
        self.target = target
        self.interval = interval
        self.s3_factory = s3_factory or (lambda: None)
        self.log = log or _stderr
        self.clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._started = clock()
        self._started_at = iso(datetime.now(timezone.utc))
        self._state = Progress(phase="listing", started_at=self._started_at)
        self._runs_done = 0
        self._estimator = Estimator()
        self._previous: Optional[Tuple[float, int, int]] = None
        self._warned = False
        self._final = False
        self._clear = "\r\x1b[2K" if clear_first else ""

    # --- hooks the driver calls ------------------------------------------------------------

    def start(self) -> JobProgress:
        self.publish()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._thread.start()
        return self

    def reading(self, runs: int, files: int) -> None:
        self._set(phase="reading", runs=Counts(0, runs), files=Counts(0, files))

    def read_done(self) -> None:
        """Reading's action has returned: the distinct keys to write are counted, exactly."""
        if self.counters is not None:
            expected = self.counters.values()["keys_expected"]
            self._set(keys_expected=expected)

    def writing(self, number: int, total: int) -> None:
        self._set(phase="writing", batch=Counts(number, total))

    def batch_done(self, runs: int) -> None:
        with self._lock:
            self._runs_done += runs

    def importing(self, done: Optional[int] = None, expected: Optional[int] = None) -> None:
        """An ImportTable load (job/importer): call at each DescribeImport with its counts."""
        with self._lock:
            state = self._state
            self._state = replace(
                state,
                phase="importing",
                batch=None,
                keys_done=state.keys_done if done is None else max(state.keys_done, done),
                keys_expected=state.keys_expected if expected is None else expected,
            )

    def finish(self, report: Dict[str, Any]) -> Progress:
        """The last object, counts from the report (succeeded: done; else failed)."""
        writes = report.get("writes", {})
        done = int(report.get("distinct_items", 0))
        ok = report.get("status") == "succeeded"
        errors = report.get("errors") or []
        with self._lock:
            runs_total = self._state.runs.total
            expected = self._state.keys_expected
            self._state = replace(
                self._state,
                phase="done" if ok else "failed",
                status="succeeded" if ok else "failed",
                # an import records its runs at the end, not batch by batch
                runs=Counts(max(self._runs_done, _recorded(report)), runs_total),
                files=Counts(int(report.get("files_read", 0)), self._state.files.total),
                lines_read=int(report.get("lines_read", 0)),
                keys_done=done,
                keys_written=sum(
                    int(writes.get(k, 0)) for k in ("new", "unchanged", "already_present")
                ),
                keys_expected=done if ok else expected,
                retries=int(writes.get("retries", 0)),
                throttles=int(writes.get("throttles", 0)),
                message=None if ok or not errors else str(errors[0]),
            )
            self._final = True
        return self._stop_and_publish()

    def fail(self, message: str) -> Progress:
        """The job died of an exception: publish what is known, marked failed."""
        with self._lock:
            self._final = True
            self._state = replace(self._state, phase="failed", status="failed", message=message)
        return self._stop_and_publish()

    # --- publishing ------------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.publish()
            except Exception as error:  # never let progress kill the job
                self._warn(f"could not publish progress: {error}")

    def _stop_and_publish(self) -> Progress:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.interval))
        return self.publish()

    def snapshot(self) -> Progress:
        """The object to publish now: counters merged in, rates, percent and ETA computed."""
        now = self.clock()
        with self._lock:
            state = self._state
            if self.counters is not None and not self._final:
                state = _merge(state, self.counters.values(), self._runs_done)
            done, total = _phase_work(state)
            percent, eta = self._estimator.observe(state.phase, now, done, total)
            previous = self._previous
            state = replace(
                state,
                writes_per_second=interval_rate(previous and previous[:2], now, state.keys_done),
                lines_per_second=interval_rate(
                    previous and (previous[0], previous[2]), now, state.lines_read
                ),
                percent=percent,
                eta_seconds=eta,
                updated_at=iso(datetime.now(timezone.utc)),
                elapsed_seconds=round(now - self._started, 1),
                sequence=state.sequence + 1,
            )
            self._previous = (now, state.keys_done, state.lines_read)
            self._state = state
            return state

    def publish(self) -> Progress:
        state = self.snapshot()
        # On a terminal, Spark's console bar may be half-drawn: take it away first.
        self.log(self._clear + render_line(state))
        if self.target:
            try:
                sinks.write_bytes(self.target, state.to_json().encode("utf-8"), self.s3_factory)
            except Exception as error:
                self._warn(f"could not write progress to {self.target}: {error}")
        return state

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            self.log(f"warning: {message} (the backfill goes on; said once)")


def _merge(state: Progress, counts: Dict[str, int], runs_done: int) -> Progress:
    """Counters never go down in what is published (a recomputed task may re-add)."""
    files_total = state.files.total
    files_done = max(state.files.done, counts["files"])
    if files_total is not None:
        files_done = min(files_done, files_total)
    return replace(
        state,
        runs=Counts(max(state.runs.done, runs_done), state.runs.total),
        files=Counts(files_done, files_total),
        lines_read=max(state.lines_read, counts["lines"]),
        keys_done=max(state.keys_done, counts["keys_done"]),
        keys_written=max(state.keys_written, counts["keys_written"]),
        retries=max(state.retries, counts["retries"]),
        throttles=max(state.throttles, counts["throttles"]),
    )


def _phase_work(state: Progress) -> Tuple[int, Optional[int]]:
    """(done, total) of the current phase: files while reading, keys while writing."""
    if state.phase == "reading":
        return state.files.done, state.files.total
    if state.phase in ("writing", "importing"):
        return state.keys_done, state.keys_expected
    return 0, None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def start_progress(
    sc: Any,
    report: Optional[str],
    progress_uri: Optional[str],
    interval: float,
    s3_factory: Callable[[], Any],
    log: Log,
) -> JobProgress:
    """The driver's one call at start: counters on this SparkContext, publisher running."""
    counters = ProgressCounters(sc) if sc is not None else None
    target = destination(report, progress_uri)
    clear_first = _isatty(sys.stderr)  # the job's own terminal (run_local), not a log file
    return JobProgress(counters, target, interval, s3_factory, log, clear_first=clear_first).start()


def _recorded(report: Dict[str, Any]) -> int:
    runs = report.get("runs") or {}
    return len(runs.get("recorded") or []) + len(runs.get("not_recorded") or [])
