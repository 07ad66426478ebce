"""7. Write budget: the backfill keeps to its share of a live table, and the pipeline is spared.

The real job (spark-submit, as `inv run_local`) writes an archive into a table provisioned at
`CAPACITY` WCU behind the fault proxy, which throttles above `CAPACITY` writes/s; meanwhile a
"pipeline" writer (`devkit.pipeline.Pipeline`) puts `CAPACITY - budget` writes/s into the same
table. Run twice side by side: with the default budget (`--write-share 0.5` of the provisioned
WCU) and on an on-demand table behind the same limit (no default budget). From every PutItem's
arrival time at the proxy: the backfill's sustained rate against its budget (target >= 85 %),
its busiest 2-second window (target <= 110 % of the budget), and the pipeline's throttles
(target 0 with the budget; the run without one shows what it protects against).
moto bounds the sizes: it takes about 150 conditional writes/s on 2 cores.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable, Dict

from benchmarks.archives import ArchiveSpec, write_archive
from benchmarks.endpoint import Endpoint, write_storage_config
from benchmarks.results import Row, Section, fmt, percent
from benchmarks.spark_run import Runner, submit
from devkit.pipeline import beside_pipeline, busiest_window, sustained_rate
from populator.core.manifest import EventsManifest

CAPACITY = 40
BUDGET = CAPACITY / 2
WINDOW = 2.0
SUSTAIN_TARGET = 0.85
WINDOW_TARGET = 1.10


def _one(
    endpoint: Endpoint, table: str, provisioned: bool, root: str, tmp: str, runner: Runner
) -> Dict[str, Any]:
    client = endpoint.client()
    if provisioned:
        EventsManifest(client, table).create(CAPACITY, CAPACITY)
    else:
        EventsManifest(client, table).create()
    config = write_storage_config(tmp, table)
    extra = ["--dynamodb-endpoint-url", endpoint.endpoint_url, "--batches", "1"]
    job, seen = beside_pipeline(
        endpoint,
        table,
        CAPACITY,
        CAPACITY - BUDGET,
        lambda: runner(root, config, os.path.join(tmp, f"{table}.json"), extra),
    )
    if job.exit_code != 0:
        raise RuntimeError(f"the budget run on {table} failed: {job.report.get('errors')}")
    return {
        "job": job,
        "sustained": sustained_rate(seen.backfill),
        "busiest": busiest_window(seen.backfill, WINDOW) / WINDOW,
        "backfill_puts": len(seen.backfill),
        "pipeline_puts": len(seen.pipeline),
        "pipeline_throttled": seen.pipeline_throttled,
    }


def run(
    events: int, workdir: str, runner: Runner = submit, log: Callable[[str], None] = print
) -> Section:
    section = Section(7, "Write budget on a live table")
    with Endpoint() as endpoint, tempfile.TemporaryDirectory(dir=workdir, prefix="budget-") as tmp:
        facts = write_archive(ArchiveSpec(events, runs=2), os.path.join(tmp, "archive"))
        log(f"  write budget: {facts.stored_keys:,} keys with a budget, then without")
        with_budget = _one(endpoint, "budgeted", True, facts.root, tmp, runner)
        without = _one(endpoint, "unbudgeted", False, facts.root, tmp, runner)
    share = with_budget["sustained"] / BUDGET
    peak = with_budget["busiest"] / BUDGET
    section.rows += [
        Row(
            f"7. Write budget: sustained share of the budget ({fmt(BUDGET)} writes/s = 0.5 x "
            f"{CAPACITY} WCU)",
            f"{with_budget['sustained']:.1f} of {fmt(BUDGET)} writes/s; busiest {WINDOW:g} s: "
            f"{with_budget['busiest']:.1f}/s",
            percent(share),
            f">= {percent(SUSTAIN_TARGET)}; every {WINDOW:g} s <= {percent(WINDOW_TARGET)}",
            share >= SUSTAIN_TARGET and peak <= WINDOW_TARGET,
            f"busiest window {percent(peak)} of the budget",
        ),
        Row(
            f"7. Pipeline throttles at {fmt(CAPACITY - BUDGET)} writes/s, with vs without "
            "the budget",
            f"{with_budget['pipeline_throttled']} of {with_budget['pipeline_puts']} vs "
            f"{without['pipeline_throttled']} of {without['pipeline_puts']}",
            str(with_budget["pipeline_throttled"]),
            "0 with the budget",
            with_budget["pipeline_throttled"] == 0,
            f"without a budget the backfill ran at {without['sustained']:.0f} writes/s "
            f"and took {without['job'].report['writes']['throttles']} throttles itself",
        ),
    ]
    section.details += [
        f"{facts.stored_keys:,} keys written by the job (spark-submit, one batch) into a table "
        f"behind the fault proxy at {CAPACITY} writes/s, while a pipeline writer puts "
        f"{fmt(CAPACITY - BUDGET)} writes/s into the same table.",
        "",
        "| run | budget | backfill PutItems | sustained writes/s | busiest 2 s (/s) | "
        "report's achieved writes/s | pipeline throttled |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, result in (("provisioned, default share", with_budget), ("on demand", without)):
        budget = result["job"].report["write_budget"]
        limit = budget["writes_per_second"]
        section.details.append(
            f"| {name} | {'none' if limit is None else fmt(limit)} | {result['backfill_puts']} | "
            f"{result['sustained']:.1f} | {result['busiest']:.1f} | "
            f"{budget['achieved_writes_per_second']:.1f} | "
            f"{result['pipeline_throttled']} of {result['pipeline_puts']} |"
        )
    section.details.append("")
    return section
