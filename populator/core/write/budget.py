"""The backfill's write budget: a ceiling on writes/s for the whole job, whatever runs at once.

Why this scheme. A live table is shared with the pipeline's shredder; emr-dynamodb-connector
divides its `write.percent` by the mappers it expects, which stops holding once more tasks run
than it assumed (its issues #51, #183). Here the bound does not depend on what the cluster
does, only on numbers the job fixes itself:

- the write stage has exactly `tasks` partitions (`write_tasks`: the slots that run at once,
  so the budget is used in full), hence at most `tasks` write tasks of the stage run at once,
  whatever the number of executors or dynamic allocation adds;
- every write task paces its requests (first attempts and retries alike) with its own token
  bucket (`TaskPacer`) at `budget / tasks`, spaced from each request's real departure, so
  the stage's requests never exceed the budget, even after a stall;
- a Spark task retry starts only after its attempt failed, so it replaces a task instead of
  adding one; a speculative copy does run next to its original, and Spark runs at most one
  copy per task: when `spark.speculation` is on, each task paces at `budget / (2 x tasks)`
  (better: launch with speculation off, as `run_local`/`run_emr` should).
- Batches write one after the other, so stages never overlap.
The AIMD limiter of `rate_limit` keeps working beneath the bucket: it lowers a task's rate
further when the table throttles anyway (the pipeline took more than its share).
What stays outside: a zombie task of a stage re-attempted after a lost executor, which Spark
does not kill; its writes stop when the executor is gone, which is how it got lost.
Cluster code: Python 3.9, standard library only.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional

DEFAULT_WRITE_SHARE = 0.5
DEFAULT_ON_DEMAND_MAX_WRITES = 40_000  # DynamoDB's default per-table write quota


@dataclass(frozen=True)
class Budget:
    """The job's ceiling (None: no ceiling) and where it came from, for the log and report."""

    writes_per_second: Optional[float]
    source: str

    def describe(self) -> str:
        if self.writes_per_second is None:
            return f"write budget: none ({self.source})"
        return f"write budget: {self.writes_per_second:g} writes/s ({self.source})"


def effective_budget(
    description: Mapping[str, Any],
    max_write_rate: Optional[float] = None,
    write_share: float = DEFAULT_WRITE_SHARE,
) -> Budget:
    """From DescribeTable's answer: the explicit rate, else a share of provisioned WCU.

    An on-demand table has no capacity to take a share of, so no default ceiling (the
    launcher warns when the expected rate is high); `--max-write-rate` still applies.
    """
    if max_write_rate is not None:
        return Budget(float(max_write_rate), "--max-write-rate")
    billing = (description.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    wcu = (description.get("ProvisionedThroughput") or {}).get("WriteCapacityUnits") or 0
    if billing == "PAY_PER_REQUEST" or not wcu:
        return Budget(None, "on-demand table; give --max-write-rate to cap it")
    rate = float(wcu) * write_share
    return Budget(rate, f"{write_share:g} x the table's {wcu} provisioned WCU")


def on_demand_warning(description: Mapping[str, Any], expected_rate: float) -> Optional[str]:
    """For the launcher: a warning when an on-demand table would get over half its maximum.

    The maximum is the table's `OnDemandThroughput.MaxWriteRequestUnits` when set (-1 or
    absent: none set), else DynamoDB's default 40,000 writes/s quota.
    """
    billing = (description.get("BillingModeSummary") or {}).get("BillingMode")
    if billing != "PAY_PER_REQUEST":
        return None
    limit = (description.get("OnDemandThroughput") or {}).get("MaxWriteRequestUnits") or -1
    maximum = float(limit) if limit > 0 else float(DEFAULT_ON_DEMAND_MAX_WRITES)
    if expected_rate <= maximum / 2:
        return None
    return (
        f"the backfill may write about {expected_rate:,.0f} writes/s, over half of the on-demand "
        f"table's maximum of {maximum:,.0f}: the live pipeline may be throttled; cap the "
        "backfill with --max-write-rate"
    )


def concurrent_slots(conf: Mapping[str, str], default_parallelism: int) -> int:
    """How many tasks the cluster can run at once (write partitions of a budgeted stage).

    From the master (local[N]), dynamic allocation's maximum or the executor count times the
    task slots per executor; else Spark's default parallelism (its count of cores).
    """
    master = conf.get("spark.master", "")
    found = re.match(r"local\[(\d+|\*)", master)
    if found:
        return default_parallelism if found.group(1) == "*" else int(found.group(1))
    if master == "local":
        return 1
    cores = int(conf.get("spark.executor.cores", "1") or 1)
    per_executor = max(1, cores // max(1, int(conf.get("spark.task.cpus", "1") or 1)))
    if conf.get("spark.dynamicAllocation.enabled", "false").lower() == "true":
        maximum = conf.get("spark.dynamicAllocation.maxExecutors", "")
        if maximum.isdigit() and int(maximum) < 10_000:
            return max(1, int(maximum) * per_executor)
    instances = conf.get("spark.executor.instances", "")
    if instances.isdigit():
        return max(1, int(instances) * per_executor)
    return max(1, default_parallelism)


def task_rate(budget: Budget, tasks: int, speculation: bool) -> Optional[float]:
    """writes/s for each of `tasks` concurrent write tasks (see the module's docstring)."""
    if budget.writes_per_second is None:
        return None
    copies = 2 if speculation else 1
    return budget.writes_per_second / (max(1, tasks) * copies)


def budget_report(budget: Budget, tasks: int, rate: Optional[float]) -> Dict[str, Any]:
    return {
        "writes_per_second": budget.writes_per_second,
        "source": budget.source,
        "write_tasks": tasks if rate is not None else None,
        "per_task_writes_per_second": None if rate is None else round(rate, 3),
        "achieved_writes_per_second": 0.0,
        "write_seconds": 0.0,
    }


class TaskPacer:
    """Spaces one task's requests at `rate`, from the time each one really leaves.

    One caller at a time waits for the next slot (a turnstile) and books the slot after it
    from its own departure, making up at most 0.9 of an interval of lateness (a wake-up
    late under load): in any W seconds at most W x rate + 1.9 requests leave (21 in 2 s at
    10/s), however late a thread wakes, and lateness under 90 % of an interval costs no
    throughput (at half, a loaded machine's task sustained 84 % of its rate). The
    first version booked every caller's slot ahead under a lock and let them sleep apart;
    after a stall of the process (GC, a busy executor) all 32 writer threads woke at once,
    a burst past the budget.
    """

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"a write rate must be positive, got {rate}")
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next: Optional[float] = None
        self._turn = threading.Lock()

    def acquire(self) -> None:
        with self._turn:
            now = self.clock()
            if self._next is not None and now < self._next:
                self.sleep(self._next - now)
                now = self.clock()
            due = now if self._next is None else max(self._next, now - 0.9 * self.interval)
            self._next = due + self.interval
