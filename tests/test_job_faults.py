"""The job against a DynamoDB endpoint that throttles, fails, drops and stalls writes.

The endpoint is moto behind devkit.fault_proxy (moto cannot inject faults; the proxy answers
instead of forwarding when it injects one).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest

from devkit.fault_proxy import FaultProxy
from devkit.figures import record
from devkit.jobs import dump_table, job_args, storage_config, write_json
from devkit.sample_archive import realistic_archive, write_to_dir
from populator.core.events import TTL_SECONDS
from populator.core.manifest import EventsManifest
from populator.core.run_manifests import RunManifests
from spark_jobs.populate_manifest import main

pytestmark = [pytest.mark.spark, pytest.mark.reliability]

NOW = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple:
    sample = realistic_archive(now=NOW, runs=3, events_per_run=80, seed=11)
    return sample, write_to_dir(sample, str(tmp_path_factory.mktemp("archive")))


@pytest.fixture
def fake(moto_endpoint):
    with FaultProxy(moto_endpoint, seed=5) as server:
        yield server


def client(endpoint: str):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5])
def test_faults_still_end_with_the_complete_correct_table(
    spark, archive, fake, tmp_path: Path, rate: float, unique_name
) -> None:
    sample, root = archive
    table = unique_name("manifest")
    ddb = client(fake.endpoint_url)
    EventsManifest(ddb, table).create()
    fake.configure(fault_rate=rate, faults=["throttle", "server_error", "drop", "slow"], slow_ms=30)
    config = write_json(tmp_path / "storage.json", storage_config(table))
    report_path = tmp_path / "report.json"
    args = job_args(
        root, config, "--dynamodb-endpoint-url", fake.endpoint_url, report=str(report_path)
    )

    assert main(args, spark) == 0

    fake.configure(fault_rate=0.0)
    items = {k: v for k, v in dump_table(ddb, table).items() if k[1] != "GLACIER"}
    assert items == {k: (v, v + TTL_SECONDS) for k, v in sample.expected.items()}
    report = json.loads(report_path.read_text())
    assert report["writes"]["failed"] == 0
    faults = fake.stats()["faults"]
    injected = sum(v for k, v in faults.items() if k != "outage")
    assert injected > 0
    assert report["writes"]["retries"] >= injected - faults.get("slow", 0)
    if rate >= 0.1:
        assert report["writes"]["throttles"] > 0
    record(f"dynamodb faults {rate:.0%}", faults_injected=injected, writes_verified=len(items))
    assert report["writes"]["requests"] >= len(sample.expected) + report["writes"]["retries"] - 5


def test_a_sustained_outage_fails_the_job_and_records_no_run(
    spark, archive, fake, tmp_path: Path, capsys, unique_name
) -> None:
    _, root = archive
    table, runs = unique_name("manifest"), unique_name("runs")
    ddb = client(fake.endpoint_url)
    EventsManifest(ddb, table).create()
    config = write_json(tmp_path / "storage.json", storage_config(table))
    report_path = tmp_path / "report.json"
    fake.configure(outage=True)
    args = job_args(
        root,
        config,
        "--dynamodb-endpoint-url",
        fake.endpoint_url,
        "--run-manifest-table",
        runs,
        "--retry-attempts",
        "3",
        "--batches",  # one batch: its writes fail, so no run is offered to the run manifest
        "1",  # (each offer would take botocore's own retries, ~15 s, in the outage)
        report=str(report_path),
    )

    assert main(args, spark) == 1

    report = json.loads(report_path.read_text())
    assert report["status"] == "failed"
    assert report["runs"]["recorded"] == []
    assert RunManifests(ddb, runs).list() == []
    assert "failed" in report["errors"][0] and "InternalServerError" in report["errors"][0]
    assert "Events manifest backfill: FAILED" in capsys.readouterr().out
    record("dynamodb outage", faults_injected=fake.stats()["faults"].get("outage", 0))
