"""Every benchmark's code path at tiny sizes, so `inv bench` cannot rot. No timing is asserted.

The Spark benchmarks (5 and 6) run the job in-process on the suite's Spark session instead of
through spark-submit (same job, same report; only the launcher and memory sampling differ);
the spark-submit command and the /proc sampler are checked separately.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from benchmarks import capacity, run
from benchmarks.archives import ArchiveSpec, line_maker, write_archive
from benchmarks.proctree import TreeSampler, classify
from benchmarks.report import render
from benchmarks.spark_run import JobRun, command
from devkit.enriched_lines import make_line
from populator.core.events import parse_line
from spark_jobs.populate_manifest import main as job_main

TINY = run.Sizes(
    parse_lines=3_000,
    parse_distinct=500,
    parse_rounds=2,
    writes_per_round=60,
    write_rounds=1,
    latency_in_flights=(4,),
    latency_seconds=0.1,
    latency_repeats=1,
    capacity_scenarios=(capacity.Scenario(300, 2, 150),),
    amplification_events=600,
    end_to_end_events=(300, 600),
    budget_events=60,
)


def test_generated_lines_and_archives_are_what_they_claim(tmp_path: Path) -> None:
    line = line_maker()
    etl = "2017-01-26 00:01:25.292"
    assert line("a", etl, "FP") == make_line("a", etl, "FP")
    spec = ArchiveSpec(
        1_000, runs=5, expired=0.3, cross_run_duplicates=0.05, in_run_duplicates=0.01
    )
    facts = write_archive(spec, str(tmp_path))
    parsed = {}
    for part in tmp_path.glob("run=*/part-*.gz"):
        for raw in gzip.decompress(part.read_bytes()).decode("utf-8").splitlines():
            entry = parse_line(raw)
            parsed.setdefault((entry.event_id, entry.fingerprint), []).append(entry.etl_time)
    assert sum(len(v) for v in parsed.values()) == facts.lines == 1_000
    assert facts.expired_lines == 300 and facts.duplicate_lines == 60
    assert len(parsed) == facts.stored_keys + facts.expired_lines


def test_benchmarks_1_to_4_and_the_report(tmp_path: Path) -> None:
    sections = run.run_all(TINY, only=[1, 2, 3, 4], workdir=str(tmp_path), log=lambda _: None)

    assert [s.number for s in sections] == [1, 2, 3, 4]
    assert all(section.rows and section.details for section in sections)
    markdown = render(sections, {"CPU": "test"}, 1.0, quick=True)
    for heading in ("## Machine", "## Results", "## What the numbers decided", "### 4."):
        assert heading in markdown
    assert "| 2. Client CPU per write" in markdown


def in_process(spark) -> run.Runner:
    """The job's own entry point on the test session, in place of spark-submit (with few
    partitions and batches: tiny archives need no more, and every Spark task costs time)."""

    def runner(archive: str, storage: str, report: str, extra: List[str]) -> JobRun:
        started = time.perf_counter()
        args = ["--enriched-archive", archive, "--storage-config", storage, "--report", report]
        code = job_main(args + extra + ["--partitions", "2", "--batches", "2"], spark)
        return JobRun(json.loads(Path(report).read_text()), code, time.perf_counter() - started)

    return runner


@pytest.mark.spark
def test_benchmarks_5_and_6_with_the_job_in_process(spark, tmp_path: Path) -> None:
    sections = run.run_all(
        TINY, only=[5, 6], runner=in_process(spark), workdir=str(tmp_path), log=lambda _: None
    )

    amplification, end_to_end = sections
    assert [row.met for row in amplification.rows] == [True, True]  # exact counts, not timing
    assert end_to_end.details and end_to_end.rows


def test_the_spark_submit_command_is_run_locals() -> None:
    argv = command("/archive", "/storage.json", "/report.json", ["--writer", "fast"])
    assert argv[0].endswith("spark-submit")
    assert argv[argv.index("--enriched-archive") + 1] == "/archive"
    assert argv[argv.index("--report") + 1] == "/report.json"
    assert argv[-2:] == ["--writer", "fast"]
    assert any(arg.endswith("populate_manifest.py") for arg in argv)


def test_the_sampler_finds_a_child_process_and_its_memory() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    try:
        sampler = TreeSampler(child.pid, interval=0.05).start()
        time.sleep(0.3)
        peaks = sampler.stop()
    finally:
        child.kill()
        child.wait()
    assert peaks.samples > 0
    assert peaks.pss["Python driver"] > 0 and peaks.largest_rss["Python driver"] > 0
    assert classify(["/usr/bin/java", "-cp", "x"]) == "JVM"
    assert classify(["python3", "-m", "pyspark.daemon"]) == "Python workers"
    assert classify(["bash", "spark-class"]) is None


@pytest.mark.spark
def test_benchmark_7_write_budget_with_the_job_in_process(spark, tmp_path: Path) -> None:
    [section] = run.run_all(
        TINY, only=[7], runner=in_process(spark), workdir=str(tmp_path), log=lambda _: None
    )
    assert len(section.rows) == 2 and section.details
