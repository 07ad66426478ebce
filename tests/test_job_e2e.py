"""The PySpark job end to end: real local Spark master, moto's server for S3 and DynamoDB."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Tuple

import pytest

from devkit.enriched_lines import make_line
from devkit.jobs import SECRET, dump_table, job_args, storage_config, write_json
from devkit.sample_archive import realistic_archive, write_to_dir, write_to_s3
from populator.core.archive import parse_run_id
from populator.core.events import TTL_SECONDS
from populator.core.manifest import EventsManifest, build_create_table_request
from populator.core.run_manifests import RunManifests
from populator.launcher.redact import secret_forms
from spark_jobs.populate_manifest import main
from tests.support.job_inputs import create_table_keyed_on, expected_items, tiny_archive

pytestmark = pytest.mark.spark

NOW = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def sample():
    return realistic_archive(now=NOW, runs=4, events_per_run=40)


@pytest.fixture
def table(dynamodb, unique_name) -> str:
    name = unique_name("manifest")
    EventsManifest(dynamodb, name).create()
    return name


def test_s3_archive_populates_every_item_with_the_earliest_etl_time(
    spark, s3, dynamodb, bucket, table, sample, tmp_path: Path, capsys
) -> None:
    archive = write_to_s3(sample, s3, bucket, "enriched/archive")
    config = write_json(tmp_path / "storage.json", storage_config(table))
    report_path = tmp_path / "report.json"
    bad_rows = f"s3://{bucket}/bad-rows"

    code = main(job_args(archive, config, "--bad-rows", bad_rows, report=str(report_path)), spark)

    assert code == 0
    assert dump_table(dynamodb, table) == expected_items(sample)
    report = json.loads(report_path.read_text())
    assert report["status"] == "succeeded"
    assert report["lines_read"] == sample.lines
    assert report["malformed"] == sample.malformed
    assert report["expired_skipped"] == len(sample.expired)
    assert report["writes"]["new"] == len(sample.expected)
    assert report["writes"]["requests"] == len(sample.expected)  # one write per stored key
    assert report["runs"]["skipped"]["glacier"] and len(report["runs"]["processed"]) == 5
    valid = sample.lines - sum(sample.malformed.values())
    assert report["duplicates_collapsed"] == valid - len(sample.expected) - len(sample.expired)
    bad_keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="bad-rows/")["Contents"]]
    rows = [
        json.loads(line)
        for key in bad_keys
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    ]
    assert sorted({row["reason"] for row in rows}) == sorted(sample.malformed)
    assert len(rows) == sum(sample.malformed.values())
    out = capsys.readouterr()
    assert "Events manifest backfill: SUCCEEDED" in out.out
    for text in (out.out, out.err, report_path.read_text()):
        assert not any(form in text for form in secret_forms(SECRET))

    # A re-run over the same archive yields the identical table.
    assert main(job_args(archive, config), spark) == 0
    assert dump_table(dynamodb, table) == expected_items(sample)


def test_local_archive_since_then_the_rest_with_a_run_manifest(
    spark, dynamodb, table, sample, tmp_path: Path, unique_name
) -> None:
    archive = write_to_dir(sample, str(tmp_path / "archive"))
    config = write_json(tmp_path / "storage.json", storage_config(table))
    runs_table = unique_name("runs")
    report_path = tmp_path / "report.json"
    recent = sample.run_ids[2:]  # the two latest of the four recent runs

    # --since the third run (at a run's exact start: included): only the two latest runs.
    args = job_args(archive, config, "--since", recent[0], "--run-manifest-table", runs_table)
    assert main([*args, "--report", str(report_path)], spark) == 0
    first = json.loads(report_path.read_text())
    assert first["runs"]["processed"] == recent
    assert first["runs"]["recorded"] == recent
    assert dump_table(dynamodb, table) == {
        k: (v, v + TTL_SECONDS) for k, v in sample.expected_for(recent).items()
    }

    # Everything else: the recorded runs are skipped, the rest written; keys already stored
    # from the later runs keep their etlTime (never overwritten), new keys get the earliest.
    args = job_args(archive, config, "--run-manifest-table", runs_table, report=str(report_path))
    assert main(args, spark) == 0
    second = json.loads(report_path.read_text())
    assert second["runs"]["skipped"]["already_recorded"] == recent
    # Locally there is no Glacier: the frozen run is read too (six runs in all).
    assert len(RunManifests(dynamodb, runs_table).list()) == 6
    earlier = sample.expected_for(sample.run_ids[:2])
    later = sample.expected_for(recent)
    final = {k: v for k, v in dump_table(dynamodb, table).items() if k[1] != "GLACIER"}
    assert final == {k: (v, v + TTL_SECONDS) for k, v in {**earlier, **later}.items()}
    assert second["writes"]["already_present"] == len(set(earlier) & set(later))

    # Third time: nothing left to write.
    assert main(args, spark) == 0
    third = json.loads(report_path.read_text())
    assert third["writes"]["requests"] == 0 and third["runs"]["processed"] == []


def test_ttl_disabled_tables_get_expired_items_and_include_expired_forces_them(
    spark, dynamodb, sample, tmp_path: Path, unique_name
) -> None:
    archive = write_to_dir(sample, str(tmp_path / "archive"))
    name = unique_name("nottl")
    dynamodb.create_table(**build_create_table_request(name))
    config = write_json(tmp_path / "storage.json", storage_config(name))
    assert main(job_args(archive, config), spark) == 0
    items = dump_table(dynamodb, name)
    assert set(sample.expired) <= set(items)

    name2 = unique_name("withttl")
    EventsManifest(dynamodb, name2).create()
    config2 = write_json(tmp_path / "storage2.json", storage_config(name2))
    assert main(job_args(archive, config2, "--include-expired"), spark) == 0
    assert set(sample.expired) <= set(dump_table(dynamodb, name2))


def test_unreadable_files_fail_the_run_but_not_the_job(
    spark, s3, dynamodb, bucket, table, tmp_path: Path, unique_name
) -> None:
    from devkit.sample_archive import SampleArchive, gz

    sample = realistic_archive(now=NOW, runs=2, events_per_run=10)
    archive = write_to_s3(sample, s3, bucket, "arch")
    broken_run = sample.objects[0].key.split("/")[0]
    whole = gz(make_line(None, "2020-01-01 00:00:00", f"FP{n}") for n in range(200))
    s3.put_object(
        Bucket=bucket, Key=f"arch/{broken_run}/part-99999.gz", Body=whole[: len(whole) // 2]
    )
    config = write_json(tmp_path / "storage.json", storage_config(table))
    runs_table = unique_name("runs")
    report_path = tmp_path / "r.json"
    args = job_args(archive, config, "--run-manifest-table", runs_table, report=str(report_path))

    assert main(args, spark) == 1
    report = json.loads(report_path.read_text())
    assert [e["path"] for e in report["read_errors"]] == [
        f"s3://{bucket}/arch/{broken_run}/part-99999.gz"
    ]
    assert broken_run.split("=")[1] in report["runs"]["not_recorded"]
    assert dump_table(dynamodb, table) == expected_items(sample)  # the rest is complete
    assert isinstance(SampleArchive(), SampleArchive)

    assert main([*args, "--accept-read-errors"], spark) == 0
    report = json.loads(report_path.read_text())
    assert broken_run.split("=")[1] in report["runs"]["recorded"]


def test_refuses_a_table_with_another_key_schema(
    spark, dynamodb, tmp_path: Path, unique_name, capsys
):
    name = create_table_keyed_on(dynamodb, unique_name("foreign"), "id")
    config = write_json(tmp_path / "storage.json", storage_config(name))
    archive = tiny_archive(tmp_path, NOW)
    assert main(job_args(archive, config), spark) == 2
    assert "refusing to write" in capsys.readouterr().err
    assert dynamodb.scan(TableName=name)["Items"] == []


# --- issue 10 items 1, 2, 3, 5, 17, 20, 21 in the job itself -----------------------------------


def _line(n: int) -> str:
    return make_line(f"1799a90f-f570-4414-b91a-{n:012d}", "2026-11-01 08:46:40.000", f"fp{n}")


def one_file_inputs(tmp_path: Path, table: str, text: str) -> Tuple[str, str]:
    """An archive on disk of one run holding one plain file with ``text``, and the storage
    config of ``table``: (archive, config path)."""
    run = tmp_path / "archive" / "run=2026-11-01-08-00-00"
    run.mkdir(parents=True)
    (run / "part-00000").write_text(text)
    return str(tmp_path / "archive"), write_json(tmp_path / "storage.json", storage_config(table))


def test_bad_rows_keep_sub_folders_report_in_any_s3_case_skips_are_counted(
    spark, s3, bucket, table, tmp_path: Path
) -> None:
    import bz2
    import gzip
    import os

    run = tmp_path / "archive" / "run=2026-11-01-08-00-00"
    for sub in ("a", "b"):
        (run / sub).mkdir(parents=True)
        (run / sub / "part-00000.gz").write_bytes(
            gzip.compress(f"{_line(1)}\nbad line in {sub}\n".encode())
        )
    (run / "c.gz").write_bytes(bz2.compress(f"{_line(2)}\n".encode()))  # bzip2 named .gz
    os.mkfifo(run / "pipe")
    (run / "gone.gz").symlink_to(tmp_path / "nothing.gz")
    config = write_json(tmp_path / "storage.json", storage_config(table))
    bad = tmp_path / "bad"
    args = job_args(
        str(tmp_path / "archive"), config, "--bad-rows", str(bad), report=f"S3://{bucket}/r.json"
    )

    assert main(args, spark) == 1  # the bzip2 file is a read error: the run is not recorded
    report = json.loads(s3.get_object(Bucket=bucket, Key="r.json")["Body"].read())
    assert sorted(p.relative_to(bad).as_posix() for p in bad.rglob("*.jsonl")) == [
        "run=2026-11-01-08-00-00/a/part-00000.gz.jsonl",
        "run=2026-11-01-08-00-00/b/part-00000.gz.jsonl",
    ]
    assert report["malformed"] == {"field_count": 2}
    (error,) = report["read_errors"]
    assert error["path"].endswith("c.gz") and "bzip2 data, not gzip nor text" in error["error"]
    assert sorted((s["path"].rsplit("/", 1)[1], s["reason"]) for s in report["skipped_inputs"]) == [
        ("gone.gz", "dangling_link"),
        ("pipe", "not_a_regular_file"),
    ]
    assert not (tmp_path / "S3:").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bad-rows", "{archive}/bad/"], "inside the enriched archive"),
        (["--report", "{archive}/r.json"], "inside the enriched archive"),
        (["--report", "{config}"], "is an input of this run"),
        (["--report", "http://example.com/r.json"], "unsupported scheme"),
        (["--run-manifest-table", ""], "is empty"),
    ],
)
def test_the_job_refuses_bad_destinations_and_empty_tables(
    spark, table, tmp_path: Path, capsys, extra, message
) -> None:
    archive = tiny_archive(tmp_path, NOW)
    config = write_json(tmp_path / "storage.json", storage_config(table))
    before = sorted(str(p) for p in Path(archive).rglob("*"))
    args = [a.format(archive=archive.rstrip("/"), config=config) for a in extra]
    assert main(job_args(archive, config, *args), spark) == 2
    assert message in capsys.readouterr().err
    assert sorted(str(p) for p in Path(archive).rglob("*")) == before
    assert Path(config).read_text().startswith("{")


def test_an_archive_without_runs_is_refused(spark, table, tmp_path: Path, capsys) -> None:
    archive = tiny_archive(tmp_path, NOW)
    single = min(p for p in Path(archive).iterdir() if parse_run_id(p.name) is not None)
    config = write_json(tmp_path / "storage.json", storage_config(table))
    assert main(job_args(str(single), config), spark) == 2
    assert "is a run folder itself" in capsys.readouterr().err


def test_a_bad_rows_destination_failing_in_the_job_is_one_line(
    spark, table, tmp_path: Path, unique_name, capsys
) -> None:
    archive, config = one_file_inputs(tmp_path, table, f"{_line(1)}\nnot an event\n")
    missing = f"s3://{unique_name('nobucket')}/bad/"
    code = main(job_args(archive, config, "--bad-rows", missing), spark)
    err = capsys.readouterr().err
    assert code == 1
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert f"cannot write bad rows to {missing}" in line and "NoSuchBucket" in line
    assert "at org.apache" not in err and "Traceback" not in err


def test_a_report_destination_failing_in_the_job_is_one_line(
    spark, table, tmp_path: Path, unique_name, capsys
) -> None:
    archive, config = one_file_inputs(tmp_path, table, f"{_line(1)}\n")
    missing = f"s3://{unique_name('nobucket')}/r.json"
    assert main(job_args(archive, config, report=missing), spark) == 1
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert f"cannot write the report to {missing}: NoSuchBucket" in line
    assert "Traceback" not in err
