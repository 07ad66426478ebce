"""Hostile and broken lines: each is parsed exactly or refused with its reason, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devkit.figures import env_int, record
from devkit.hostile import corpus
from devkit.jobs import dump_table, job_args, storage_config, write_json
from devkit.sample_archive import gz
from populator.core.events import TTL_SECONDS, MalformedEvent, parse_line
from populator.core.manifest import EventsManifest
from populator.job.reader import MAX_LINE_BYTES

CASES = corpus(scale=env_int("POPULATOR_HOSTILE_SCALE", 1))


def outcome(raw: bytes):
    """What the job does with one raw line (bounded by the reader, decoded, then parsed)."""
    if len(raw) + 1 > MAX_LINE_BYTES:  # with its newline, over the reader's bound
        return "line_too_long"
    try:
        entry = parse_line(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "invalid_utf8"
    except MalformedEvent as error:
        return error.reason
    return (entry.event_id, entry.fingerprint, entry.etl_time)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_case_is_parsed_exactly_or_refused_with_its_reason(case) -> None:
    result = outcome(case.line)
    assert result == (case.triple if case.reason is None else case.reason)


@pytest.mark.spark
@pytest.mark.reliability
def test_the_job_counts_every_hostile_line_and_stores_only_the_valid_ones(
    spark, dynamodb, unique_name, tmp_path: Path
) -> None:
    from spark_jobs.populate_manifest import main

    table = unique_name("hostile")
    EventsManifest(dynamodb, table).create()
    run = tmp_path / "archive" / "run=2026-11-01-09-00-00"
    run.mkdir(parents=True)
    import gzip

    (run / "part-00000.gz").write_bytes(
        gzip.compress(b"\n".join(c.line for c in CASES) + b"\n", mtime=0)
    )
    (run / "part-00001").write_bytes(gz(["x"]))  # plain text, one bad line more
    config = write_json(tmp_path / "storage.json", storage_config(table))
    report_path = tmp_path / "report.json"
    bad_rows = tmp_path / "bad"
    args = job_args(
        str(tmp_path / "archive"),
        config,
        "--bad-rows",
        str(bad_rows),
        "--include-expired",
        report=str(report_path),
    )

    assert main(args, spark) == 0

    report = json.loads(report_path.read_text())
    expected_reasons: dict = {}
    for case in CASES:
        if case.reason is not None:
            expected_reasons[case.reason] = expected_reasons.get(case.reason, 0) + 1
    expected_reasons["field_count"] += 1  # the plain file's "x"
    assert report["malformed"] == expected_reasons
    assert report["lines_read"] == len(CASES) + 1
    stored = dump_table(dynamodb, table)
    valid = {c.triple for c in CASES if c.reason is None}
    assert stored == {(e, f): (t, t + TTL_SECONDS) for e, f, t in valid}
    rows = [
        json.loads(line)
        for path in bad_rows.rglob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert len(rows) == sum(expected_reasons.values())
    assert all(
        ("line" in row) != ("line_base64" in row)
        for row in rows
        if row["reason"] != "line_too_long"  # never buffered: its size only
    )
    assert [r["truncated_from_bytes"] for r in rows if r["reason"] == "line_too_long"] == [
        len(c.line) + 1 for c in CASES if c.reason == "line_too_long"
    ]
    record("hostile lines", inputs_tried=len(CASES) + 1, writes_verified=len(stored))
