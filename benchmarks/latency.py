"""3. Latency hiding: one partition's writes/s when every request takes 10 ms.

With L seconds per request and N writes in flight, a partition cannot beat N / L writes/s,
nor the CPU bound measured in benchmark 2 (writes/s per core of the job's writer). The
target is 80 % of the lower of the two, with L the injected 10 ms. The endpoint adds its own
time to each request (asyncio timer slack, parsing, loopback), so the latency one request
actually sees alone is measured too, and the share is also given against that bound.
In-flight limits around the default are swept to show where the bound switches from latency
to CPU, which is what the default is chosen by.
"""

from __future__ import annotations

import time
from typing import Dict, List, Sequence

from benchmarks.endpoint import TABLE, Endpoint, fresh_table
from benchmarks.results import Row, Section, fmt, percent
from benchmarks.write_cost import fresh_items, job_context, records
from populator.core.job_args import DEFAULT_IN_FLIGHT
from populator.core.write.fast_put import FastPutSender
from populator.job.partitions import write_partition

TARGET = 0.8
PROBES = 50


def single_request_latency(client) -> float:
    """Mean wall time of one request alone (no concurrency), in seconds."""
    sender = FastPutSender(client, TABLE)
    items = fresh_items(PROBES + 5)
    for item in items[:5]:  # connect, warm up
        sender(*item)
    started = time.perf_counter()
    for item in items[5:]:
        sender(*item)
    return (time.perf_counter() - started) / PROBES


def run(
    latency_ms: float,
    in_flights: Sequence[int],
    seconds_each: float,
    repeats: int,
    cpu_bound: float,
) -> Section:
    section = Section(3, f"Latency hiding ({latency_ms:g} ms per request)")
    latency = latency_ms / 1000.0
    rates: Dict[int, List[float]] = {n: [] for n in in_flights}
    with Endpoint(latency_ms=latency_ms) as fake:
        effective = single_request_latency(fresh_table(fake))
        for _ in range(repeats):
            for in_flight in in_flights:
                bound = min(in_flight / latency, cpu_bound)
                count = max(in_flight * 4, int(bound * seconds_each))
                context = job_context(fake.endpoint_url, in_flight=in_flight)
                items = fresh_items(count)
                started = time.perf_counter()
                [result] = write_partition(records(items), context, TABLE)
                rates[in_flight].append(result["items"] / (time.perf_counter() - started))
    section.details += [
        f"One partition (`write_partition`, FastPutSender) against Endpoint with "
        f"{latency_ms:g} ms added to every request; CPU bound from benchmark 2: "
        f"{fmt(cpu_bound)} writes/s per core; {repeats} repeats, the median is used. "
        f"One request alone takes {effective * 1000:.1f} ms against this endpoint.",
        "",
        "| in flight | writes/s (median) | in-flight / latency | bound | share of bound | "
        f"share of bound at {effective * 1000:.1f} ms |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for in_flight in in_flights:
        measured = sorted(rates[in_flight])[len(rates[in_flight]) // 2]
        bound = min(in_flight / latency, cpu_bound)
        share = measured / bound
        share_effective = measured / min(in_flight / effective, cpu_bound)
        section.details.append(
            f"| {in_flight} | {fmt(measured)} | {fmt(in_flight / latency)} | {fmt(bound)} | "
            f"{percent(share)} | {percent(share_effective)} |"
        )
        default = " (default)" if in_flight == DEFAULT_IN_FLIGHT else ""
        limit = "CPU" if cpu_bound < in_flight / latency else "latency"
        section.rows.append(
            Row(
                f"3. Writes/s per partition, {in_flight} in flight{default}",
                f"{fmt(measured)} vs bound {fmt(bound)} ({limit})",
                percent(share),
                f">= {percent(TARGET)}",
                share >= TARGET,
                (
                    ""
                    if share >= TARGET
                    else f"short by {(TARGET - share) * 100:.0f} points; "
                    + _why(limit, effective, latency, share_effective)
                ),
            )
        )
        section.facts.setdefault("rates", {})[in_flight] = measured
    section.details.append("")
    section.facts["effective_latency"] = effective
    return section


def _why(limit: str, effective: float, latency: float, share_effective: float) -> str:
    if limit == "latency":
        return (
            f"one request alone takes {effective * 1000:.1f} ms here, not {latency * 1000:.0f}: "
            f"against that bound the share is {percent(share_effective)}"
        )
    return (
        "the CPU bound comes from benchmark 2 (no latency); with this many threads waiting, "
        "each write costs more CPU (thread wake-ups and GIL hand-offs)"
    )
