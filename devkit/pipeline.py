"""The live pipeline's writer and the window arithmetic of the write-budget measurements.

`Pipeline` stands for the shredder writing to the same events manifest while a backfill runs:
a fixed rate of conditional writes of its own keys, no retries, throttles counted. Used by
tests/test_write_budget.py and benchmarks/budget.py.
"""

from __future__ import annotations

import threading
import time
from typing import Iterable, List

from botocore.exceptions import ClientError

from devkit.fault_proxy import Arrival, FaultProxy
from populator.core.manifest import build_put_request

BACKFILL_AGENT = "snowplow-event-manifest-populator"  # the job's PutItem User-Agent
PIPELINE_AGENT = "pipeline"


class Pipeline(threading.Thread):
    """`rate` manifest writes/s to `table` through `endpoint` until `stop` is set."""

    def __init__(self, endpoint: str, table: str, rate: float) -> None:
        super().__init__(daemon=True, name="pipeline-writer")
        self.client = FaultProxy.client_for(
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


def sustained_rate(arrivals: List[Arrival]) -> float:
    """Arrivals per second from the first to the last."""
    if len(arrivals) < 2:
        return 0.0
    times = [a.at for a in arrivals]
    return (len(times) - 1) / max(max(times) - min(times), 1e-9)
