"""The watch loop both remote targets follow their job with, and the wait for its logs.

`follow` polls with backoff (the first interval, x1.5 up to a cap, back to the first after each
change), prints each change with the elapsed time, calls `on_poll` after every poll (the
progress follower), and ends when the target's poll says so, when no time remains, or on a
signal (then the target cancels). `collect_logs` looks again until a failure's logs reach S3.
What each target polls and how it ends stay in emr/wait.py and serverless/watch.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple, TypeVar

from populator.launcher.signals import Signals, Terminated, interrupt_name
from populator.launcher.targets.common.timing import backoff_delays, format_elapsed

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "LOG_POLL_INTERVAL",
    "MAX_POLL_INTERVAL",
    "Poller",
    "collect_logs",
    "follow",
]

DEFAULT_POLL_INTERVAL = 15.0
MAX_POLL_INTERVAL = 60.0
LOG_POLL_INTERVAL = 15.0

R = TypeVar("R")
L = TypeVar("L")


@dataclass(kw_only=True)
class Poller:
    """How to follow a job (each target's watch adds what it follows); keyword-only."""

    s3: Any = None
    log_uri: Optional[str] = None
    timeout: Optional[float] = None  # seconds from the start of the wait (None: no limit)
    deadline: Optional[float] = None  # or a `clock()` time (None: no limit)
    poll_interval: float = DEFAULT_POLL_INTERVAL
    max_interval: float = MAX_POLL_INTERVAL
    log_wait: float = 120.0
    log: Callable[[str], None] = print
    on_poll: Optional[Callable[[], Any]] = None  # after each poll: the progress follower
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _start: float = field(default=0.0, init=False)

    def elapsed(self) -> float:
        return self.clock() - self._start

    def remaining(self) -> Optional[float]:
        """Seconds left before `timeout` or `deadline` (None: wait for the end)."""
        left = []
        if self.timeout is not None:
            left.append(self.timeout - self.elapsed())
        if self.deadline is not None:
            left.append(self.deadline - self.clock())
        return min(left) if left else None


# One poll: (what a change is measured on, the line that says it, the end if it ended).
Poll = Tuple[Any, str, Optional[Callable[[], Any]]]


def follow(
    watch: Poller,
    poll: Callable[[], Poll],
    timed_out: Callable[[Any], R],
    cancel: Callable[[str], R],
) -> R:
    """Poll until `poll` returns an end (called, then returned), no time remains
    (`timed_out(last state)`), or SIGINT/SIGTERM arrives (`cancel(its name)`, further signals
    ignored meanwhile)."""
    watch._start = watch.clock()
    delays = backoff_delays(watch.poll_interval, watch.max_interval)
    last: Any = None
    with Signals() as signals:
        try:
            while True:
                state, line, ended = poll()
                if state != last:
                    watch.log(f"[{format_elapsed(watch.elapsed())}] {line}")
                    if last is not None:
                        delays = backoff_delays(watch.poll_interval, watch.max_interval)
                    last = state
                if watch.on_poll is not None:
                    watch.on_poll()
                if ended is not None:
                    return ended()
                remaining = watch.remaining()
                if remaining is not None and remaining <= 0:
                    return timed_out(state)
                signals.check()  # a signal whose exception a library call swallowed
                delay = next(delays)
                watch.sleep(delay if remaining is None else min(delay, remaining))
        except (KeyboardInterrupt, Terminated) as interrupt:
            signals.ignore()
            return cancel(interrupt_name(interrupt))


def collect_logs(
    watch: Poller,
    fetch: Callable[[], List[L]],
    found: Callable[[List[L]], bool],
    what: str,
    why: str = "",
) -> List[L]:
    """Logs reach S3 some time after the end: `fetch` again until `found` or `log_wait` has
    passed. `what` names them in the messages ("the step's logs"); `why` follows the wait's."""
    if watch.s3 is None or not watch.log_uri:
        return []
    deadline = watch.clock() + watch.log_wait
    announced = False
    while True:
        try:
            logs = fetch()
        except Exception as error:
            watch.log(f"could not read {what} under {watch.log_uri}: {error}")
            return []
        if found(logs) or watch.clock() >= deadline:
            return logs
        if not announced:
            watch.log(
                f"waiting up to {int(watch.log_wait)}s for {what} to reach {watch.log_uri}{why}"
            )
            announced = True
        watch.sleep(min(LOG_POLL_INTERVAL, max(0.0, deadline - watch.clock())))
