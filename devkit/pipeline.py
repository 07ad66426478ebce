"""The live pipeline's writer and the window arithmetic of the write-budget measurements.

`Pipeline` stands for the shredder writing to the same events manifest while a backfill runs:
a fixed rate of conditional writes of its own keys, no retries, throttles counted.
`beside_pipeline` is the whole measurement setup (a WCU limit at the proxy, the pipeline
running before and after the backfill, each writer's PutItems as the proxy saw them). Used by
tests/test_write_budget.py and benchmarks/budget.py.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, List, Tuple, TypeVar

from botocore.exceptions import ClientError

from devkit.proxy_control import Arrival, ProxyControl, proxy_client
from populator.core.manifest import build_put_request

BACKFILL_AGENT = "snowplow-event-manifest-populator"  # the job's PutItem User-Agent
PIPELINE_AGENT = "pipeline"
T = TypeVar("T")


class Pipeline(threading.Thread):
    """`rate` manifest writes/s to `table` through `endpoint` until `stop` is set."""

    def __init__(self, endpoint: str, table: str, rate: float) -> None:
        super().__init__(daemon=True, name="pipeline-writer")
        self.client = proxy_client(
            endpoint, retries={"total_max_attempts": 1}, user_agent_extra=PIPELINE_AGENT
        )
        self.table, self.interval = table, 1.0 / rate
        self.stop = threading.Event()
        self.sent = self.throttled = 0

    def run(self) -> None:
        due = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            due = max(due + self.interval, time.monotonic() - self.interval)  # never catch up
            request = build_put_request(self.table, f"pipeline-{self.sent}", "FP", 1485388885)
            self.sent += 1
            try:
                self.client.put_item(**request)
            except ClientError as error:
                if "Throughput" in error.response["Error"]["Code"]:
                    self.throttled += 1


def puts_by(arrivals: Iterable[Arrival], table: str, agent: str) -> List[Arrival]:
    return [
        a for a in arrivals if a.operation == "PutItem" and a.table == table and agent in a.agent
    ]


def busiest_window(arrivals: List[Arrival], window: float = 2.0) -> int:
    """The most arrivals in any `window` seconds."""
    times = sorted(a.at for a in arrivals)
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        most = max(most, end - start + 1)
    return most


def sustained_rate(arrivals: List[Arrival], trim: float = 0.05) -> float:
    """Arrivals per second in the steady state: from the arrival at the `trim` fraction to the
    one at 1 - `trim`. The ramp and the tail say when Spark started and ended each task, not
    how a task paces: on a loaded machine one write task started a second after the other
    and ended a second later, 85 % of 20 writes/s over first-to-last while both ran at 10/s.
    """
    times = sorted(a.at for a in arrivals)
    first, last = int(len(times) * trim), len(times) - 1 - int(len(times) * trim)
    if last <= first:
        return 0.0
    return (last - first) / max(times[last] - times[first], 1e-9)


@dataclass(frozen=True)
class Contention:
    """Each writer's PutItems on the shared table, as the proxy saw them arrive."""

    backfill: List[Arrival]
    pipeline: List[Arrival]
    pipeline_throttled: int  # the pipeline's writes the proxy refused


def beside_pipeline(
    proxy: ProxyControl, table: str, capacity: float, rate: float, backfill: Callable[[], T]
) -> Tuple[T, Contention]:
    """Run `backfill` while a Pipeline puts `rate` writes/s into `table`, the proxy throttling
    above `capacity` writes/s; `backfill`'s result and what reached the proxy.

    The proxy's counters are reset first; the pipeline runs a second before and after.
    """
    proxy.reset()
    proxy.configure(write_capacity=capacity)
    pipeline = Pipeline(proxy.endpoint_url, table, rate)
    pipeline.start()
    try:
        time.sleep(1.0)  # the pipeline is running when the backfill starts
        result = backfill()
        time.sleep(1.0)
    finally:
        pipeline.stop.set()
        pipeline.join()
    arrivals = proxy.arrivals()
    seen = Contention(
        puts_by(arrivals, table, BACKFILL_AGENT),
        puts_by(arrivals, table, PIPELINE_AGENT),
        pipeline.throttled,
    )
    return result, seen
