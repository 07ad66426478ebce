"""The job publishes its progress: a real local Spark master, moto's S3 (versioned, so every
published object is kept) and moto's DynamoDB."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from devkit.jobs import job_args, storage_config, write_json
from devkit.sample_archive import realistic_archive, write_to_dir, write_to_s3
from populator.core.manifest import EventsManifest
from populator.core.progress import PHASES, progress_uri_for
from spark_jobs.populate_manifest import main
from tests.support.job_inputs import create_table_keyed_on, tiny_archive

pytestmark = pytest.mark.spark

NOW = datetime.now(timezone.utc)
COUNTS = ("lines_read", "retries", "throttles", "sequence")


def _versions(s3, bucket: str, key: str) -> list:
    """Every version of the object, oldest first."""
    page = s3.list_object_versions(Bucket=bucket, Prefix=key)
    versions = sorted(
        (v for v in page.get("Versions", []) if v["Key"] == key), key=lambda v: v["LastModified"]
    )
    bodies = [
        json.loads(s3.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])["Body"].read())
        for v in versions
    ]
    # LastModified has one-second resolution: the sequence number orders them exactly.
    return sorted(bodies, key=lambda body: body["sequence"])


def test_progress_beside_an_s3_report_is_monotonic_and_ends_with_the_reports_counts(
    spark, s3, dynamodb, bucket, tmp_path: Path, unique_name, capsys
) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    table = unique_name("manifest")
    EventsManifest(dynamodb, table).create()
    sample = realistic_archive(now=NOW, runs=3, events_per_run=30)
    archive = write_to_s3(sample, s3, bucket, "enriched/archive")
    config = write_json(tmp_path / "storage.json", storage_config(table))
    report_uri = f"s3://{bucket}/reports/backfill-x.json"
    args = job_args(archive, config, "--progress-interval", "0.2", "--batches", "3")

    assert main([*args, "--report", report_uri], spark) == 0

    report = json.loads(s3.get_object(Bucket=bucket, Key="reports/backfill-x.json")["Body"].read())
    assert progress_uri_for(report_uri) == f"s3://{bucket}/reports/backfill-x.progress.json"
    objects = _versions(s3, bucket, "reports/backfill-x.progress.json")
    assert len(objects) >= 2
    assert objects[0]["phase"] == "listing"
    assert [o["sequence"] for o in objects] == list(range(1, len(objects) + 1))
    order = [PHASES.index(o["phase"]) for o in objects]
    assert order == sorted(order)  # phases only move forward
    for before, after in zip(objects, objects[1:]):
        for name in COUNTS:
            assert after[name] >= before[name], name
        for group, name in (("files", "done"), ("runs", "done"), ("keys", "done")):
            assert after[group][name] >= before[group][name], (group, name)
        for o in (before, after):
            assert o["eta_seconds"] is None or o["eta_seconds"] >= 0
            assert o["percent"] is None or 0 <= o["percent"] <= 100
    last = objects[-1]
    assert last["version"] == 1
    assert (last["phase"], last["status"], last["percent"]) == ("done", "succeeded", 100.0)
    assert last["lines_read"] == report["lines_read"]
    assert last["files"]["done"] == report["files_read"] == last["files"]["total"]
    assert last["keys"]["done"] == report["distinct_items"] == last["keys"]["expected"]
    writes = report["writes"]
    assert (
        last["keys"]["written"] == writes["new"] + writes["unchanged"] + writes["already_present"]
    )
    assert (last["retries"], last["throttles"]) == (writes["retries"], writes["throttles"])
    processed = len(report["runs"]["processed"])
    assert last["runs"] == {"done": processed, "total": processed}
    writing = [o for o in objects if o["phase"] == "writing"]
    for o in writing:  # the expected keys are counted exactly before any write
        assert o["keys"]["expected"] == report["distinct_items"]
        assert o["phase_label"].startswith("writing batch ")
    err = capsys.readouterr().err
    assert "progress: listing" in err
    assert "progress: done 100.0%" in err


def test_a_failing_job_publishes_a_last_failed_object_to_a_local_progress_uri(
    spark, dynamodb, tmp_path: Path, unique_name, capsys
) -> None:
    name = create_table_keyed_on(dynamodb, unique_name("foreign"), "id")
    config = write_json(tmp_path / "storage.json", storage_config(name))
    archive = tiny_archive(tmp_path, NOW)
    target = tmp_path / "out" / "progress.json"

    assert main(job_args(archive, config, "--progress-uri", str(target)), spark) == 2

    last = json.loads(target.read_text())
    assert (last["phase"], last["status"]) == ("failed", "failed")
    assert "refusing to write" in last["message"]
    assert last["eta_seconds"] is None
    assert "progress: failed" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_bad_progress_intervals_are_refused(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--enriched-archive", "a", "--storage-config", "s", "--progress-interval", value])
    assert exit_info.value.code == 2
    assert "--progress-interval" in capsys.readouterr().err


def test_executor_counts_reach_the_driver_through_accumulators(
    spark, moto_endpoint: str, tmp_path: Path, unique_name
) -> None:
    """Real tasks read files and write through a throttling DynamoDB: the driver's counters
    equal what the tasks returned (lines, files, keys, retries, throttles)."""
    from devkit.fault_proxy import FaultProxy
    from populator.core.retry import RetryPolicy
    from populator.job.partitions import (
        FileTask,
        JobContext,
        counters_only,
        read_file,
        write_partition,
    )
    from populator.job.progress import ProgressCounters

    table = unique_name("progress")
    sample = realistic_archive(now=NOW, runs=2, events_per_run=40, seed=3)
    root = write_to_dir(sample, str(tmp_path / "archive"))
    files = sorted(str(p) for p in Path(root).rglob("part-*") if p.is_file())
    sc = spark.sparkContext
    with FaultProxy(moto_endpoint, seed=7) as fake:
        import boto3

        ddb = boto3.client("dynamodb", endpoint_url=fake.endpoint_url, region_name="us-east-1")
        EventsManifest(ddb, table).create()
        fake.configure(fault_rate=0.3, faults=["throttle"])
        counters = ProgressCounters(sc)
        context = JobContext(
            storage=storage_config(table),
            endpoint_url=None,
            in_flight=4,
            now=0,
            skip_expired=False,
            bad_rows=None,
            retry=RetryPolicy(max_attempts=30, base_delay=0.001, max_delay=0.01),
            dynamodb_endpoint_url=fake.endpoint_url,
            progress=counters,
        )
        records = (
            sc.parallelize(list(enumerate(files)), 3)
            .flatMap(lambda f: read_file(FileTask(0, "r", f[1], f[1], 0), context))
            .reduceByKey(lambda a, b: min(a, b) if type(a) is tuple else a + b, 2)
        )
        records.persist()
        counted = records.mapPartitions(lambda rs: counters_only(rs, context)).collect()
        results = (
            records.filter(lambda r: len(r[0]) == 2)
            .mapPartitions(lambda rs: write_partition(rs, context, table))
            .collect()
        )
        records.unpersist()
    values = counters.values()
    names = {key[2]: value for key, value in counted}
    assert values["lines"] == names["lines"] > 0
    assert values["files"] == names["files"] == len(files)
    assert values["keys_expected"] == sum(r["items"] + r["expired_skipped"] for r in results)
    assert values["keys_done"] == values["keys_expected"] > 0
    assert values["keys_written"] == sum(r["items"] for r in results)
    assert values["retries"] == sum(r["retries"] for r in results)
    assert values["throttles"] == sum(r["throttles"] for r in results) > 0
