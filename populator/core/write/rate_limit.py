"""AIMD pacing of one partition's writes, so a small table is not hammered with retries.

Backoff alone keeps every waiting writer retrying about every 2.5 s (half the 5 s cap): with
hundreds of writers against a small table that is a steady stream of throttled requests, and
writes get close to running out of attempts (BENCHMARKS.md, capacity). This limiter lowers
the partition's send rate by 30 % on a throttle and raises it by a constant number of
requests/s every second (additive increase, multiplicative decrease, as TCP shares a link:
equal increases make partitions converge to equal shares of the table without talking to
each other). Only a request sent after the last cut can cause the next cut, so one burst of
throttles counts once. It stays out of the way until the partition is throttled after at
least two successes (before that there is no rate to start from; backoff alone paces it).
Every throttle is read as a capacity signal: under throttles unrelated to load (injected at
random with probability p) a partition settles near sqrt(increase / (0.3 p)) writes/s;
`write_items(..., adaptive=False)` turns pacing off.
Cluster code: Python 3.9, standard library only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Deque, Optional

SAMPLES = 64  # recent successes the starting rate is measured over
POLL = 0.05  # seconds a waiting request sleeps at most before checking the rate again


class AdaptiveRateLimiter:
    """Thread-safe. Call `acquire()` before each request, then `on_success()`, or
    `on_throttle(sent)` with the time `acquire` returned."""

    def __init__(
        self,
        increase: float = 32.0,
        decrease: float = 0.7,
        min_rate: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.increase = increase  # requests/s added per second without a cut
        self.decrease = decrease
        self.min_rate = min_rate
        self.clock = clock
        self.sleep = sleep
        self.rate: Optional[float] = None  # requests/s; None: not limiting
        self.cuts = 0
        self._lock = threading.Lock()
        self._next = 0.0  # when the next request may start
        self._updated = clock()
        self._last_cut = float("-inf")
        self._successes: Deque[float] = deque(maxlen=SAMPLES)

    def acquire(self) -> float:
        """Wait for this request's turn; return its send time.

        Waiting threads re-check at least every `POLL` seconds instead of booking a slot far
        ahead at a low rate, so a rate that grows back takes effect at once.
        """
        while True:
            if self.rate is None:  # not limiting: no lock on the fast path
                return self.clock()
            with self._lock:
                now = self.clock()
                if self.rate is not None:
                    self._grow(now)
                    if now >= self._next:
                        self._next = now + 1.0 / self.rate
                        return now
                    wait = self._next - now
                else:
                    wait = 0.0
            if wait:
                self.sleep(min(wait, POLL))

    def on_success(self) -> None:
        self._successes.append(self.clock())  # deque.append is atomic

    def on_throttle(self, sent: float) -> None:
        """Cut the rate, unless the request was sent before the last cut took effect."""
        with self._lock:
            if sent < self._last_cut:
                return
            now = self.clock()
            if self.rate is None:
                times = list(self._successes)
                if len(times) < 2:
                    return
                current = (len(times) - 1) / max(now - times[0], 1e-3)
            else:
                self._grow(now)
                current = self.rate
            self.rate = max(self.min_rate, current * self.decrease)
            self._last_cut = self._updated = now
            self.cuts += 1

    def _grow(self, now: float) -> None:
        assert self.rate is not None
        self.rate += self.increase * max(0.0, now - self._updated)
        self._updated = now
