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
from typing import Any, Callable, Dict

from benchmarks.archives import ArchiveFacts, ArchiveSpec, write_archive
from benchmarks.endpoint import Endpoint, fresh_table, write_storage_config
from benchmarks.results import Row, Section, fmt, times
from benchmarks.spark_run import JobRun, Runner, submit

RUN_TABLE = "populator-runs"
PRICE_PER_MILLION = 0.625  # on-demand writes, us-east-1 (see docs/reference)


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
        jobs: Dict[str, JobRun] = {}
        puts: Dict[str, int] = {}
        stored: Dict[str, int] = {}
        for name in ("first", "second"):
            before = _put_items(fake)
            log(f"  write amplification: {name} run over {events:,} lines")
            jobs[name] = runner(facts.root, config, os.path.join(tmp, f"{name}.json"), extra)
            if jobs[name].exit_code != 0:
                raise RuntimeError(f"the {name} run failed: {jobs[name].report.get('errors')}")
            recorded = len(jobs[name].report["runs"]["recorded"])
            puts[name] = _put_items(fake) - before - recorded
            stored[name] = fake.stored()
    _describe(section, facts, jobs, puts, stored)
    return section


def _describe(
    section: Section,
    facts: ArchiveFacts,
    jobs: Dict[str, JobRun],
    puts: Dict[str, int],
    stored: Dict[str, int],
) -> None:
    first: Dict[str, Any] = jobs["first"].report
    second: Dict[str, Any] = jobs["second"].report
    keys = stored["first"]
    ours = first["writes"]["requests"] / max(1, keys)
    original = facts.lines / max(1, keys)
    correct = keys == facts.stored_keys and puts["first"] == first["writes"]["requests"]
    section.rows.append(
        Row(
            "5. Write requests per stored key, first run",
            f"{fmt(first['writes']['requests'])} requests / {fmt(keys)} keys "
            f"(original: {fmt(facts.lines)})",
            f"{ours:.2f}",
            "1.00",
            round(ours, 2) == 1.00 and correct,
            f"original design: {original:.2f} per key, {times(original / ours)} ours"
            + ("" if correct else "; COUNTS DISAGREE, see details"),
        )
    )
    section.rows.append(
        Row(
            "5. Write requests, second run with a run manifest",
            f"{fmt(second['writes']['requests'])} (endpoint PutItem: {fmt(puts['second'])})",
            f"{second['writes']['requests']}",
            "0",
            second["writes"]["requests"] == 0 and puts["second"] == 0,
            f"{len(second['runs']['skipped'].get('already_recorded', []))} runs skipped as "
            "already recorded",
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
        f"| lines read (job report) | {fmt(first['lines_read'])} | {fmt(second['lines_read'])} |",
        f"| duplicates collapsed before writing | {fmt(first['duplicates_collapsed'])} | "
        f"{fmt(second['duplicates_collapsed'])} |",
        f"| expired, skipped | {fmt(first['expired_skipped'])} | "
        f"{fmt(second['expired_skipped'])} |",
        f"| write requests (job report) | {fmt(first['writes']['requests'])} | "
        f"{fmt(second['writes']['requests'])} |",
        f"| PutItem on the manifest table (endpoint) | {fmt(puts['first'])} | "
        f"{fmt(puts['second'])} |",
        f"| items stored (endpoint) | {fmt(stored['first'])} | {fmt(stored['second'])} |",
        "",
        f"At this mix, a backfill of 1 billion lines costs {fmt(millions_ours)} M write "
        f"requests instead of {fmt(millions_original)} M (on-demand at ${PRICE_PER_MILLION}/M: "
        f"${fmt(millions_ours * PRICE_PER_MILLION)} instead of "
        f"${fmt(millions_original * PRICE_PER_MILLION)}), and a re-run costs nothing.",
        "",
    ]
