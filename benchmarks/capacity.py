"""4. Capacity: several partitions against a table that throttles above its write capacity.

The fault proxy in front of moto enforces a token bucket (about one second of burst, like
DynamoDB's burst capacity) and answers ProvisionedThroughputExceededException above it.
Partitions run as concurrent `write_items` calls with the job's defaults (in flight,
RetryPolicy, FastPutSender) and two pacing policies side by side: the default (AIMD rate
limiter + full-jitter backoff) and backoff alone. Measured from the endpoint's own counters,
polled every 0.25 s:

- sustained rate: writes/s from the point where 10 % of the items plus one second of
  capacity (the bucket's initial burst) were written, to 90 % of the items (all partitions
  busy), against the capacity;
- lost writes: items given minus items stored (a failed write fails its Spark task);
- retries per write, throttled requests/s per unit of capacity (a retry storm: more throttled
  requests than the table's capacity, i.e. retries dominating the traffic), and the most
  attempts any one write needed (of the policy's 16: the margin before a write is lost).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from benchmarks.endpoint import TABLE, Endpoint, fresh_table
from benchmarks.results import Row, Section, fmt, percent
from benchmarks.write_cost import fresh_items
from populator.core.job_args import DEFAULT_IN_FLIGHT
from populator.core.retry import RetryPolicy
from populator.core.write.fast_put import FastPutSender
from populator.core.write.writer import WriteStats, write_items

TARGET = 0.9
# A retry storm: retried requests outnumbering the writes the table can take (total requests
# above twice the capacity). The worst write's attempts are reported against the budget.
STORM_THROTTLES_PER_CAPACITY = 1.0


@dataclass(frozen=True)
class Scenario:
    capacity: float  # writes/s
    partitions: int
    items_per_partition: int
    in_flight: int = DEFAULT_IN_FLIGHT

    @property
    def label(self) -> str:
        writers = self.partitions * self.in_flight
        shape = f"{self.partitions} partitions x {self.in_flight}"
        return f"{fmt(self.capacity)} WCU, {shape} ({writers} writers)"


@dataclass
class Outcome:
    stats: WriteStats
    failures: List[str]
    stored: int
    sustained: float
    overall: float
    throttled_per_second: float
    max_attempts: int
    tail_seconds: float


class _Counting:
    """Counts attempts per item around the real sender (to find the worst write)."""

    def __init__(self, sender: Any) -> None:
        self.sender = sender
        self.attempts: Counter = Counter()

    def __call__(self, event_id: str, fingerprint: str, etl_time: int) -> str:
        self.attempts[event_id] += 1  # Counter += is not atomic, but under the GIL it is close
        return self.sender(event_id, fingerprint, etl_time)


def _poll(fake: Endpoint, samples: List[Tuple[float, int, int]], stop: threading.Event):
    while not stop.is_set():
        stats = fake.stats()
        samples.append(
            (time.perf_counter(), stats["items_written"], stats["outcomes"]["throttled"])
        )
        stop.wait(0.25)


def _time_at(samples: List[Tuple[float, int, int]], written: float) -> Optional[float]:
    """When the endpoint had stored `written` items (linear between samples)."""
    for (t0, w0, _), (t1, w1, _) in zip(samples, samples[1:]):
        if w0 <= written <= w1 and w1 > w0:
            return t0 + (t1 - t0) * (written - w0) / (w1 - w0)
    return None


def run_one(fake: Endpoint, scenario: Scenario, adaptive: bool) -> Outcome:
    fake.configure(write_capacity=None)
    client = fresh_table(fake)
    sender = _Counting(FastPutSender(client, TABLE))
    fake.configure(write_capacity=scenario.capacity)  # a fresh, full bucket
    total = WriteStats()
    failures: List[str] = []
    lock = threading.Lock()
    work = [fresh_items(scenario.items_per_partition) for _ in range(scenario.partitions)]

    def partition(items: List[Tuple[str, str, int]]) -> None:
        try:
            stats = write_items(items, sender, in_flight=scenario.in_flight, adaptive=adaptive)
        except Exception as error:  # WriteFailed: what would fail the Spark task
            with lock:
                failures.append(str(error)[:200])
            return
        with lock:
            total.add(stats)

    samples: List[Tuple[float, int, int]] = []
    stop = threading.Event()
    poller = threading.Thread(target=_poll, args=(fake, samples, stop), daemon=True)
    poller.start()
    started = time.perf_counter()
    threads = [threading.Thread(target=partition, args=(items,)) for items in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    stop.set()
    poller.join()
    final = fake.stats()
    samples.append((time.perf_counter(), final["items_written"], final["outcomes"]["throttled"]))
    items = scenario.partitions * scenario.items_per_partition
    # The window starts once the bucket's one-second burst is spent and ends before the tail.
    first = min(0.5 * items, 0.1 * items + scenario.capacity)
    t_first, t90 = _time_at(samples, first), _time_at(samples, 0.9 * items)
    t99 = _time_at(samples, 0.99 * items)
    sustained = 0.0
    if t_first is not None and t90 is not None and t90 > t_first:
        sustained = (0.9 * items - first) / (t90 - t_first)
    return Outcome(
        stats=total,
        failures=failures,
        stored=fake.stored(),
        sustained=sustained,
        overall=total.items / elapsed,
        throttled_per_second=final["outcomes"]["throttled"] / elapsed,
        max_attempts=max(sender.attempts.values(), default=0),
        tail_seconds=(started + elapsed - t99) if t99 is not None else 0.0,
    )


def run(scenarios: Sequence[Scenario]) -> Section:
    section = Section(4, "Capacity (throttling table)")
    section.details += [
        "| scenario | pacing | sustained / capacity | overall / capacity | lost | "
        "retries/write | throttled req/s per WCU | worst write (attempts) | last 1 % took |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with Endpoint() as fake:
        for scenario in scenarios:
            results: Dict[str, Outcome] = {}
            for name, adaptive in (("AIMD + backoff (default)", True), ("backoff only", False)):
                results[name] = outcome = run_one(fake, scenario, adaptive)
                items = scenario.partitions * scenario.items_per_partition
                lost = items - outcome.stored
                section.details.append(
                    f"| {scenario.label} | {name} | "
                    f"{percent(outcome.sustained / scenario.capacity)} | "
                    f"{percent(outcome.overall / scenario.capacity)} | {lost} | "
                    f"{outcome.stats.retries / max(1, outcome.stats.items):.2f} | "
                    f"{outcome.throttled_per_second / scenario.capacity:.2f} | "
                    f"{outcome.max_attempts} / {RetryPolicy().max_attempts} | "
                    f"{outcome.tail_seconds:.1f} s |"
                )
            _rows(section, scenario, results)
    section.details.append("")
    return section


def _rows(section: Section, scenario: Scenario, results: Dict[str, Outcome]) -> None:
    ours = results["AIMD + backoff (default)"]
    alone = results["backoff only"]
    items = scenario.partitions * scenario.items_per_partition
    share = ours.sustained / scenario.capacity
    lost = items - ours.stored + sum(1 for _ in ours.failures)
    retries = ours.stats.retries / max(1, ours.stats.items)
    storm = ours.throttled_per_second / scenario.capacity > STORM_THROTTLES_PER_CAPACITY
    budget = RetryPolicy().max_attempts
    section.rows.append(
        Row(
            f"4. Sustained writes, {scenario.label}",
            f"{fmt(ours.sustained)} of {fmt(scenario.capacity)} writes/s "
            f"(backoff only: {fmt(alone.sustained)})",
            percent(share),
            f">= {percent(TARGET)}",
            share >= TARGET,
            "" if share >= TARGET else f"short by {(TARGET - share) * 100:.0f} points",
        )
    )
    section.rows.append(
        Row(
            f"4. Lost writes / retry storm, {scenario.label}",
            f"lost {lost}; {retries:.2f} retries/write, "
            f"{ours.throttled_per_second / scenario.capacity:.2f} throttled req/s per WCU, "
            f"(backoff only: {alone.stats.retries / max(1, alone.stats.items):.2f}, "
            f"{alone.throttled_per_second / scenario.capacity:.2f})",
            f"{lost} lost",
            f"0 lost; throttled <= {STORM_THROTTLES_PER_CAPACITY:.0f}/s per WCU",
            lost == 0 and not storm,
            "; ".join(ours.failures[:1])
            if ours.failures
            else f"worst write used {ours.max_attempts} of {budget} attempts "
            f"(backoff only: {alone.max_attempts})",
        )
    )
    section.facts.setdefault("scenarios", []).append((scenario, ours, alone))
