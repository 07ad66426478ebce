"""The driver's publisher without Spark: hooks, counters, the sink, and its failure modes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from populator.job.progress import JobProgress, destination


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Counters:
    """Stands in for the accumulators' driver-side values (Spark is covered elsewhere)."""

    def __init__(self) -> None:
        self.counts: Dict[str, int] = dict.fromkeys(
            (
                "lines",
                "files",
                "keys_expected",
                "keys_done",
                "keys_written",
                "retries",
                "throttles",
            ),
            0,
        )

    def values(self) -> Dict[str, int]:
        return dict(self.counts)


def test_hooks_and_counters_make_the_published_objects(tmp_path: Path) -> None:
    clock, counters, said = Clock(), Counters(), []
    target = tmp_path / "progress.json"
    progress = JobProgress(counters, str(target), 3600, log=said.append, clock=clock)
    progress.publish()
    progress.reading(runs=2, files=4)
    clock.now += 30
    counters.counts.update(files=2, lines=200)
    first = progress.publish()
    assert (first.phase, first.percent, first.eta_seconds) == ("reading", 50.0, None)
    clock.now += 30
    counters.counts.update(files=3, lines=300)
    second = progress.publish()
    assert second.eta_seconds == 30.0 and second.lines_per_second == 3.3
    counters.counts.update(files=4, lines=400, keys_expected=90)
    progress.read_done()
    progress.writing(1, 2)
    clock.now += 10
    counters.counts.update(keys_done=30, keys_written=28, throttles=2, retries=3)
    writing = progress.publish()
    assert writing.keys_expected == 90 and writing.label == "writing batch 1/2"
    assert writing.writes_per_second == 3.0 and writing.throttles == 2
    counters.counts.update(lines=390)  # a re-counted task never makes a count go down
    assert progress.publish().lines_read == 400
    document = json.loads(target.read_text())
    assert document["sequence"] == 5 and document["keys"]["done"] == 30
    assert len(said) == 5 and all(line.startswith("progress: ") for line in said)


def test_importing_counts_its_own_keys() -> None:
    clock = Clock()
    progress = JobProgress(None, None, 3600, log=lambda _: None, clock=clock)
    progress.importing(done=0, expected=1000)
    progress.publish()
    clock.now += 60
    progress.importing(done=250)
    state = progress.publish()
    assert (state.phase, state.percent, state.eta_seconds) == ("importing", 25.0, 180.0)


def test_the_last_object_comes_from_the_report() -> None:
    said: List[str] = []
    progress = JobProgress(Counters(), None, 3600, log=said.append, clock=Clock())
    progress.reading(runs=1, files=1)
    report = {
        "status": "failed",
        "files_read": 1,
        "lines_read": 10,
        "distinct_items": 7,
        "writes": {"new": 5, "unchanged": 1, "already_present": 0, "retries": 4, "throttles": 2},
        "errors": ["writing batch 1 (a .. a) failed: AccessDenied"],
    }
    last = progress.finish(report)
    assert (last.phase, last.status, last.keys_done, last.keys_written) == (
        "failed",
        "failed",
        7,
        6,
    )
    assert (last.retries, last.throttles, last.lines_read) == (4, 2, 10)
    assert last.message == "writing batch 1 (a .. a) failed: AccessDenied"
    assert said[-1].startswith("progress: failed")


def test_a_sink_that_fails_is_said_once_and_never_stops_the_job(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    said: List[str] = []
    progress = JobProgress(None, str(blocked / "progress.json"), 3600, log=said.append)
    progress.publish()
    progress.publish()
    warnings = [line for line in said if line.startswith("warning: ")]
    assert len(warnings) == 1 and "could not write progress" in warnings[0]


def test_where_progress_goes() -> None:
    assert destination("s3://bkt/r/backfill-1.json", None) == "s3://bkt/r/backfill-1.progress.json"
    assert destination("/tmp/report.json", None) is None  # a local run: stderr only
    assert destination("/tmp/report.json", "/tmp/p.json") == "/tmp/p.json"
    assert destination(None, None) is None
