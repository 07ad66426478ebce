"""`inv list_runs` on a realistic archive in moto's S3 (and on a local directory)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

import pytest

from devkit.sample_archive import realistic_archive, write_to_dir, write_to_s3
from populator.core.run_manifests import RunManifests
from populator.launcher.estimate import human_bytes
from tests.support.cli import DEAD_ENDPOINT, inv, inv_in_process

NOW = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def sample():
    return realistic_archive(now=NOW, runs=3, events_per_run=30)


def expected_runs(sample, root: str, processed: List[str]) -> List[Dict[str, Any]]:
    """What the archive holds, computed from the objects written (not by our listing code)."""
    runs: Dict[str, Dict[str, Any]] = {}
    for obj in sample.objects:
        folder, _, name = obj.key.partition("/")
        if not folder.startswith("run=2") or "-13-45-" in folder or name.startswith("_"):
            continue
        run = runs.setdefault(
            folder,
            {
                "run_id": folder[4:],
                "path": root + folder + "/",
                "files": 0,
                "bytes": 0,
                "classes": set(),
            },
        )
        run["files"] += 1
        run["bytes"] += len(obj.body)
        run["classes"].add(obj.storage_class)
    rows = []
    for folder in sorted(runs):
        run = runs[folder]
        started = datetime.strptime(run["run_id"], "%Y-%m-%d-%H-%M-%S").replace(tzinfo=timezone.utc)
        classes = run.pop("classes")
        rows.append(
            {
                **run,
                "storage_class": "+".join(sorted(classes)),
                "glacier": "GLACIER" in classes,
                "expired": started + timedelta(days=180) <= NOW,
                "processed": run["run_id"] in processed if processed is not None else None,
            }
        )
    return rows


@pytest.fixture
def s3_archive(s3, bucket, sample) -> str:
    return write_to_s3(sample, s3, bucket, "enriched/archive")


def test_json_report_runs_totals_estimate(
    monkeypatch, dynamodb, s3_archive, sample, unique_name
) -> None:
    table = unique_name("runs")
    manifests = RunManifests(dynamodb, table)
    manifests.create()
    recorded = sorted(sample.run_ids)[0]
    manifests.add(f"enriched/archive/run={recorded}/")

    ran = inv_in_process(
        "list_runs", [s3_archive, "--run-manifest-table", table, "--json", "--write-capacity", "40"]
    )
    assert ran.code == 0, ran.err
    document = json.loads(ran.out)
    expected = expected_runs(sample, s3_archive, [recorded])
    assert document["runs"] == expected
    assert [r["glacier"] for r in expected].count(True) == 1 and [
        r["expired"] for r in expected
    ].count(True) == 1
    writing = [r for r in expected if not (r["glacier"] or r["expired"] or r["processed"])]
    assert document["totals"] == {
        "runs": len(expected),
        "files": sum(r["files"] for r in expected),
        "bytes": sum(r["bytes"] for r in expected),
        "glacier_runs": 1,
        "expired_runs": 1,
        "processed_runs": 1,
        "to_write": {
            "runs": len(writing),
            "files": sum(r["files"] for r in writing),
            "bytes": sum(r["bytes"] for r in writing),
        },
    }
    est = document["estimate"]
    assert est["bytes"] == document["totals"]["to_write"]["bytes"]
    assert est["basis"].startswith("measured on ") and "events" in est["basis"]
    newest = writing[-1]["path"]
    assert newest in est["basis"]  # sampled from the newest run to write
    # bytes_per_event is shown rounded to 0.1 byte
    assert abs(est["events"] - est["bytes"] / est["bytes_per_event"]) <= max(1, est["events"] / 500)
    assert est["writes"] == est["events"]
    assert est["cost_usd"] == round(est["writes"] * 0.625 / 1e6, 6)
    assert est["write_capacity"] == 40
    assert est["seconds"] == pytest.approx(est["writes"] / 40 + est["file_seconds"], abs=1e-3)
    assert est["files"] == document["totals"]["to_write"]["files"]
    assert document["archive"] == s3_archive and document["run_manifest_table"] == table


def test_human_table(moto_endpoint, s3_archive, sample) -> None:
    ran = inv("list_runs", [s3_archive, "--since", "2000-01-01"], moto_endpoint)
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0].split() == [
        "run",
        "id",
        "files",
        "bytes",
        "storage",
        "class",
        "glacier",
        "expired",
        "processed",
    ]
    expected = expected_runs(sample, s3_archive, [])
    for row, line in zip(expected, lines[1 : 1 + len(expected)]):
        cells = line.split()
        assert cells[0] == row["run_id"] and cells[1] == str(row["files"])
        assert " ".join(cells[2:4]) == human_bytes(row["bytes"])
        assert cells[4] == row["storage_class"]
        assert cells[5] == ("GLACIER" if row["glacier"] else "-")
        assert cells[6] == ("yes" if row["expired"] else "-") and cells[7] == "?"
    assert any(line.startswith(f"total: {len(expected)} runs") for line in lines)
    assert "1 in Glacier, 1 past the 180-day TTL" in ran.out
    assert "estimate for the runs to write:" in ran.out
    for label in ("events  ~", "writes  ~", "cost    ~", "time    ~"):
        assert any(line.startswith(f"  {label}") for line in lines), label
    assert "at 1,000 WCU" in ran.out


def test_since_keeps_later_runs(s3_archive, sample) -> None:
    later = sorted(sample.run_ids)[-1]
    ran = inv_in_process("list_runs", [s3_archive, "--since", later, "--json"])
    assert ran.code == 0, ran.err
    document = json.loads(ran.out)
    assert [r["run_id"] for r in document["runs"]] == [later]
    assert document["since"] == later


def test_local_directory_needs_no_aws(monkeypatch, tmp_path, sample) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", DEAD_ENDPOINT)
    root = write_to_dir(sample, str(tmp_path / "archive"))
    ran = inv_in_process("list_runs", [root, "--json"])
    assert ran.code == 0, ran.err
    document = json.loads(ran.out)
    # Local files have no storage class: nothing is Glacier there.
    expected = [
        {**row, "storage_class": "STANDARD", "glacier": False}
        for row in expected_runs(sample, str(tmp_path / "archive") + "/", None)  # type: ignore[arg-type]
    ]
    assert document["runs"] == expected
    assert document["totals"]["processed_runs"] is None
    empty = tmp_path / "empty"
    empty.mkdir()
    none = inv_in_process("list_runs", [str(empty)])
    assert none.code == 2 and "holds no run=YYYY-MM-DD-HH-MM-SS/ folder" in none.err


def test_aws_side_errors_and_a_missing_run_manifest(s3_archive, unique_name) -> None:
    missing = inv_in_process("list_runs", [f"s3://{unique_name('nobucket')}/archive/"])
    assert missing.code == 2 and missing.error_lines[0].startswith("error: cannot list s3://")
    assert "NoSuchBucket" in missing.error_lines[0] and "Traceback" not in missing.err
    table = unique_name("absent")
    absent = inv_in_process("list_runs", [s3_archive, "--run-manifest-table", table, "--json"])
    assert absent.code == 0, absent.err
    assert f"notice: run manifest table '{table}' does not exist in us-east-1 (yet)" in absent.err
    assert {r["processed"] for r in json.loads(absent.out)["runs"]} == {False}
