"""AIMD pacing of one partition's writes, so a throttled table is not hammered with retries.

Backoff alone keeps every waiting writer retrying about every 2.5 s (half the 5 s cap): with
hundreds of writers against a small table that is a steady storm of throttled requests, and
writes run out of attempts. The limiter instead lowers the partition's send rate by 30 % on a
throttle (at most once per `cooldown`) and raises it by a tenth of the new rate per second, the
way TCP shares a link: partitions converge to their share of the table's capacity without
talking to each other. It does nothing until the first throttle.
Cluster code: Python 3.9, standard library only.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional


class AdaptiveRateLimiter:
    """Thread-safe: `acquire` before each request, then report `on_success`/`on_throttle`."""

    def __init__(
        self,
        decrease: float = 0.7,
        increase: float = 0.1,
        min_rate: float = 1.0,
        cooldown: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.decrease = decrease
        self.increase = increase
        self.min_rate = min_rate
        self.cooldown = cooldown
        self.clock = clock
        self.sleep = sleep
        self.rate: Optional[float] = None  # requests/s; None until the first throttle
        self.decreases = 0
        self._lock = threading.Lock()
        self._next = 0.0  # when the next request may start
        self._step = 0.0  # additive increase, requests/s per second
        self._updated = clock()
        self._last_decrease = float("-inf")
        self._window_start = self._updated
        self._window_count = 0
        self._measured = 0.0  # successes/s over the last complete window

    def acquire(self) -> None:
        """Wait for this request's slot (returns at once while unlimited)."""
        with self._lock:
            if self.rate is None:
                return
            now = self.clock()
            self._grow(now)
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            self.sleep(start - now)

    def on_success(self) -> None:
        with self._lock:
            now = self.clock()
            self._window_count += 1
            if now - self._window_start >= 1.0:
                self._measured = self._window_count / (now - self._window_start)
                self._window_start, self._window_count = now, 0

    def on_throttle(self) -> None:
        """Cut the rate; throttles of requests already in flight within `cooldown` count once."""
        with self._lock:
            now = self.clock()
            if now - self._last_decrease < self.cooldown:
                return
            if self.rate is None:
                elapsed = now - self._window_start
                current = self._window_count / elapsed if elapsed >= 0.1 else 0.0
                self.rate = max(current, self._measured, self.min_rate)
            else:
                self._grow(now)
            self.rate = max(self.min_rate, self.rate * self.decrease)
            self._step = self.rate * self.increase
            self._last_decrease = self._updated = now
            self.decreases += 1

    def _grow(self, now: float) -> None:
        assert self.rate is not None
        self.rate += self._step * max(0.0, now - self._updated)
        self._updated = now
