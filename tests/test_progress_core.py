"""The progress object: its JSON, its one-line rendering, and the ETA rules."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from populator.core.progress import (
    VERSION,
    Counts,
    Estimator,
    Progress,
    from_dict,
    human_duration,
    interval_rate,
    progress_uri_for,
    render_line,
)

FIELDS = {
    "version", "phase", "phase_label", "status", "batch", "runs", "files", "lines_read", "keys",
    "retries", "throttles", "writes_per_second", "lines_per_second", "percent", "eta_seconds",
    "started_at", "updated_at", "elapsed_seconds", "sequence", "message",
}  # fmt: skip


def test_the_json_has_the_documented_stable_fields_and_reads_back() -> None:
    progress = Progress(
        phase="writing", batch=Counts(2, 5), runs=Counts(3, 10), files=Counts(40, 40),
        lines_read=1234, keys_done=500, keys_written=480, keys_expected=1000, retries=7,
        throttles=3, writes_per_second=812.5, percent=50.0, eta_seconds=61.5, sequence=9,
    )  # fmt: skip
    document = json.loads(progress.to_json())
    assert set(document) == FIELDS
    assert document["version"] == VERSION == 1
    assert document["phase_label"] == "writing batch 2/5"
    assert document["batch"] == {"number": 2, "total": 5}
    assert document["keys"] == {"done": 500, "written": 480, "expected": 1000}
    assert from_dict(document) == progress
    # A newer writer's extra fields and a missing field are tolerated.
    assert from_dict({**document, "future": 1}) == progress
    assert from_dict({"phase": "reading"}).keys_expected is None


def test_the_human_line_is_one_compact_line() -> None:
    line = render_line(
        Progress(phase="writing", batch=Counts(1, 2), keys_done=10, keys_expected=40,
                 writes_per_second=5.0, percent=25.0, eta_seconds=90, throttles=2)
    )  # fmt: skip
    assert "\n" not in line
    assert line.startswith("progress: writing batch 1/2 25.0%")
    assert "keys 10/40" in line and "5 writes/s" in line and "throttles 2" in line
    assert "ETA 1m30s" in line
    assert "ETA ?" in render_line(Progress(phase="reading"))
    assert "ETA" not in render_line(Progress(phase="done", percent=100.0))


def test_eta_is_unknown_until_one_interval_with_work_done() -> None:
    estimator = Estimator()
    assert estimator.observe("writing", 0.0, 0, 1000) == (0.0, None)  # one sample: no interval
    assert estimator.observe("writing", 30.0, 0, 1000) == (0.0, None)  # an interval, no work
    percent, eta = estimator.observe("writing", 60.0, 100, 1000)
    assert percent == 10.0
    assert eta == pytest.approx(900 / (100 / 60), rel=1e-3)  # the window's rate: 100 per 60 s
    unknown_total = Estimator()
    unknown_total.observe("writing", 0.0, 0, None)
    assert unknown_total.observe("writing", 30.0, 50, None) == (None, None)


def test_eta_moves_when_the_rate_changes_and_a_stall_makes_it_grow_not_freeze() -> None:
    estimator = Estimator(window=60.0)
    for t in range(0, 61, 10):
        _, eta = estimator.observe("writing", float(t), t * 10, 10_000)  # 10 keys/s
    assert eta == pytest.approx((10_000 - 600) / 10, rel=1e-3)
    for t in range(70, 131, 10):  # 100 keys/s now: the window forgets the slow minute
        _, faster = estimator.observe("writing", float(t), 600 + (t - 60) * 100, 10_000)
    assert faster == pytest.approx((10_000 - 7600) / 100, rel=1e-3)
    stalled = [estimator.observe("writing", float(t), 7600, 10_000)[1] for t in (140, 150, 160)]
    assert stalled[0] < stalled[1] < stalled[2]  # recomputed at each publish, growing
    assert estimator.observe("writing", 300.0, 7600, 10_000)[1] is None  # a whole window stalled


def test_a_new_phase_starts_a_new_measure() -> None:
    estimator = Estimator()
    estimator.observe("reading", 0.0, 0, 10)
    assert estimator.observe("reading", 10.0, 5, 10)[1] == pytest.approx(10.0)
    assert estimator.observe("writing", 20.0, 0, 100) == (0.0, None)
    assert estimator.observe("done", 30.0, 100, 100) == (100.0, 0.0)
    assert Estimator().observe("failed", 1.0, 3, 10) == (None, None)


@given(
    st.lists(
        st.tuples(st.floats(0.01, 1e4), st.integers(-50, 10_000), st.integers(0, 10_000)),
        min_size=1,
        max_size=30,
    )
)
def test_eta_and_percent_are_never_negative_nor_out_of_range(steps) -> None:
    estimator = Estimator(window=120.0)
    now = 0.0
    for gap, done, total in steps:
        now += gap
        percent, eta = estimator.observe("writing", now, done, total)
        assert eta is None or eta >= 0
        assert percent is None or 0 <= percent <= 100


def test_rates_per_interval_and_durations() -> None:
    assert interval_rate(None, 10.0, 5) is None
    assert interval_rate((0.0, 0), 10.0, 50) == 5.0
    assert interval_rate((0.0, 60), 10.0, 50) == 0.0  # never negative
    assert [human_duration(s) for s in (None, 5, 65, 7322)] == ["?", "5s", "1m05s", "2h02m"]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://b/reports/backfill-ab.json", "s3://b/reports/backfill-ab.progress.json"),
        ("s3://b/reports/backfill-ab.progress.json", "s3://b/reports/backfill-ab.progress.json"),
        ("s3://b/p/progress.json", "s3://b/p/progress.json"),
        ("s3://b/reports/", "s3://b/reports/progress.json"),
        ("/tmp/report", "/tmp/report.progress.json"),
    ],
)
def test_the_progress_object_lives_beside_the_report(uri: str, expected: str) -> None:
    assert progress_uri_for(uri) == expected


def test_no_eta_of_zero_while_the_phase_goes_on_after_its_measured_work() -> None:
    """All files read, the shuffle still running: not a frozen `0s`, but unknown."""
    estimator = Estimator()
    estimator.observe("reading", 0.0, 0, 4)
    assert estimator.observe("reading", 10.0, 4, 4) == (100.0, None)
    assert estimator.observe("reading", 20.0, 4, 4) == (100.0, None)
    assert Estimator().observe("writing", 0.0, 0, 0) == (100.0, None)  # nothing to write


def test_the_line_shows_the_rate_of_its_phase() -> None:
    reading = render_line(Progress(phase="reading", lines_per_second=120.0, writes_per_second=0.0))
    assert "120 lines/s" in reading and "writes/s" not in reading
    written = render_line(Progress(phase="writing", lines_per_second=0.0, writes_per_second=9.0))
    assert "9 writes/s" in written and "lines/s" not in written
