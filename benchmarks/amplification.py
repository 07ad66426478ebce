"""5. Write amplification: DynamoDB write requests per distinct stored key, the real job.

The archive mixes 30 % expired events (runs older than the 180-day TTL), 5 % cross-run and
1 % in-run duplicates. The job runs twice with a run manifest, against Endpoint: the first
run should cost exactly one PutItem per stored key; the second, over the same archive, none.
The original design issued one PutItem per line, duplicates and expired events included:
its count on the same data is the number of lines. Manifest writes are counted twice,
independently: the job's report (`writes.requests`) and the endpoint's PutItem count minus
the run-manifest records.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Dict, Tuple

from benchmarks.archives import ArchiveFacts, ArchiveSpec, write_archive
from benchmarks.endpoint import Endpoint, fresh_table, write_storage_config
from benchmarks.results import Row, Section, fmt, times
from benchmarks.spark_run import Runner, submit

RUN_TABLE = "populator-runs"
PRICE_PER_MILLION = 0.625  # on-demand writes, us-east-1 (see docs/reference)


@dataclass(frozen=True)
class Pass:
    """One run of the job: its report and what the endpoint saw (PutItem on the manifest
    table, run-manifest records excluded; items stored after it)."""

    report: Dict[str, Any]
    puts: int
    stored: int


# The details table: one row a measure, one column a pass.
_TABLE: Tuple[Tuple[str, Callable[[Pass], Any]], ...] = (
    ("lines read (job report)", lambda p: p.report["lines_read"]),
    ("duplicates collapsed before writing", lambda p: p.report["duplicates_collapsed"]),
    ("expired, skipped", lambda p: p.report["expired_skipped"]),
    ("write requests (job report)", lambda p: p.report["writes"]["requests"]),
    ("PutItem on the manifest table (endpoint)", lambda p: p.puts),
    ("items stored (endpoint)", lambda p: p.stored),
)


def spec(events: int) -> ArchiveSpec:
    return ArchiveSpec(
        events,
        runs=6,
        files_per_run=2,
        expired=0.30,
        cross_run_duplicates=0.05,
        in_run_duplicates=0.01,
        seed=23,
    )


def _put_items(fake: Endpoint) -> int:
    return fake.stats()["operations"].get("PutItem", {}).get("total", 0)


def run(
    events: int,
    workdir: str,
    runner: Runner = submit,
    log: Callable[[str], None] = print,
) -> Section:
    section = Section(5, "Write amplification (the real job, twice)")
    with Endpoint() as fake, tempfile.TemporaryDirectory(dir=workdir, prefix="amp-") as tmp:
        facts = write_archive(spec(events), os.path.join(tmp, "archive"))
        fresh_table(fake)
        config = write_storage_config(tmp)
        extra = ["--dynamodb-endpoint-url", fake.endpoint_url, "--run-manifest-table", RUN_TABLE]
        passes: Dict[str, Pass] = {}
        for name in ("first", "second"):
            before = _put_items(fake)
            log(f"  write amplification: {name} run over {events:,} lines")
            job = runner(facts.root, config, os.path.join(tmp, f"{name}.json"), extra)
            if job.exit_code != 0:
                raise RuntimeError(f"the {name} run failed: {job.report.get('errors')}")
            recorded = len(job.report["runs"]["recorded"])
            passes[name] = Pass(job.report, _put_items(fake) - before - recorded, fake.stored())
    _describe(section, facts, passes["first"], passes["second"])
    return section


def _describe(section: Section, facts: ArchiveFacts, first: Pass, second: Pass) -> None:
    keys = first.stored
    requests = first.report["writes"]["requests"]
    ours = requests / max(1, keys)
    original = facts.lines / max(1, keys)
    correct = keys == facts.stored_keys and first.puts == requests
    section.rows.append(
        Row(
            "5. Write requests per stored key, first run",
            f"{fmt(requests)} requests / {fmt(keys)} keys "
            f"(original: {fmt(facts.lines)})",
            f"{ours:.2f}",
            "1.00",
            round(ours, 2) == 1.00 and correct,
            f"original design: {original:.2f} per key, {times(original / ours)} ours"
            + ("" if correct else "; COUNTS DISAGREE, see details"),
        )
    )
    again = second.report["writes"]["requests"]
    skipped = second.report["runs"]["skipped"].get("already_recorded", [])
    section.rows.append(
        Row(
            "5. Write requests, second run with a run manifest",
            f"{fmt(again)} (endpoint PutItem: {fmt(second.puts)})",
            f"{again}",
            "0",
            again == 0 and second.puts == 0,
            f"{len(skipped)} runs skipped as already recorded",
        )
    )
    billion = 1e9
    millions_ours, millions_original = billion / original / 1e6, billion / 1e6
    section.details += [
        f"Archive: {fmt(facts.lines)} lines in {facts.files} files; {fmt(facts.expired_lines)} "
        f"expired, {fmt(facts.duplicate_lines)} duplicates; {fmt(facts.stored_keys)} keys "
        "to store.",
        "",
        "| | first run | second run |",
        "|---|---:|---:|",
        *(
            f"| {label} | {fmt(value(first))} | {fmt(value(second))} |"
            for label, value in _TABLE
        ),
        "",
        f"At this mix, a backfill of 1 billion lines costs {fmt(millions_ours)} M write "
        f"requests instead of {fmt(millions_original)} M (on-demand at ${PRICE_PER_MILLION}/M: "
        f"${fmt(millions_ours * PRICE_PER_MILLION)} instead of "
        f"${fmt(millions_original * PRICE_PER_MILLION)}), and a re-run costs nothing.",
        "",
    ]
