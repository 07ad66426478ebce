"""`--method import` end to end: real local Spark, moto's ImportTable, faults in front of moto.

moto runs the import in a background thread reading its own S3. Faults (a FAILED or a short
import, an import held IN_PROGRESS while the job is killed) come from a loopback proxy between
the job and moto that rewrites DescribeImport answers and counts ImportTable requests.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional
from urllib.parse import urlparse

import pytest

from devkit.jobs import dump_table, job_args, storage_config, write_json
from devkit.loopback_server import LoopbackServer
from devkit.sample_archive import realistic_archive, write_to_s3
from populator.cli.run_local import LocalRun, build_local_command, job_environment
from populator.core.manifest import EventsManifest
from populator.core.run_manifests import RunManifests
from spark_jobs.populate_manifest import main
from tests.support.job_inputs import expected_items

pytestmark = pytest.mark.spark

NOW = datetime.now(timezone.utc)
Rewrite = Callable[[Dict[str, Any]], Dict[str, Any]]


class DynamoProxy:
    """Loopback HTTP proxy to moto: counts requests by X-Amz-Target, may rewrite DescribeImport.

    `on_describe` (optional) rewrites the DescribeImport answer's JSON; the body's
    x-amz-crc32 is recomputed so botocore accepts it, like a real (but different) answer.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = urlparse(upstream)
        self.counts: Dict[str, int] = {}
        self.on_describe: Optional[Rewrite] = None
        self.refuse: Dict[str, str] = {}  # operation -> AWS error code answered instead (400)
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                proxy.handle(self)

        self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def count(self, operation: str) -> int:
        with self.lock:
            return self.counts.get(operation, 0)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length", 0)))
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        with self.lock:
            self.counts[operation] = self.counts.get(operation, 0) + 1
        if operation in self.refuse:
            code = self.refuse[operation]
            error = json.dumps(
                {
                    "__type": f"com.amazonaws.dynamodb.v20120810#{code}",
                    "message": "injected by the test proxy",
                }
            ).encode()
            request.send_response(400)
            request.send_header("Content-Type", "application/x-amz-json-1.0")
            request.send_header("Content-Length", str(len(error)))
            request.send_header("x-amz-crc32", str(zlib.crc32(error) & 0xFFFFFFFF))
            request.end_headers()
            request.wfile.write(error)
            return
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        connection.request("POST", request.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        rewrite = self.on_describe
        if operation == "DescribeImport" and rewrite is not None and answer.status == 200:
            document = json.loads(data)
            document["ImportTableDescription"] = rewrite(document["ImportTableDescription"])
            data = json.dumps(document).encode("utf-8")
        request.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "x-amz-crc32", "transfer-encoding"):
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.send_header("x-amz-crc32", str(zlib.crc32(data) & 0xFFFFFFFF))
        request.end_headers()
        request.wfile.write(data)
        connection.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[DynamoProxy]:
    instance = DynamoProxy(moto_endpoint)
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def sample():
    return realistic_archive(now=NOW, runs=3, events_per_run=30)


def marker_of(s3, bucket: str, prefix: str = "populator/import/") -> Optional[Dict[str, Any]]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    keys = [o["Key"] for o in listing if o["Key"].endswith("/import.json")]
    if not keys:
        return None
    assert len(keys) == 1, keys
    return json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())


def staged_objects(s3, bucket: str) -> List[str]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="populator/import/").get("Contents", [])
    return [o["Key"] for o in listing if "/data/" in o["Key"]]


@dataclass(frozen=True)
class ImportInputs:
    """One test's `--method import` inputs: the sample archive in S3, a table that does not
    exist yet, its run manifest table, the storage config on disk and where the report goes."""

    archive: str
    table: str
    runs_table: str
    config: str
    report_path: Path

    def options(self, *extra: str) -> List[str]:
        return ["--method", "import", "--run-manifest-table", self.runs_table, *extra]

    def args(self, *extra: str) -> List[str]:
        return job_args(
            self.archive, self.config, *self.options(*extra), report=str(self.report_path)
        )

    def report(self) -> Dict[str, Any]:
        return json.loads(self.report_path.read_text())

    def assert_recorded(self, dynamodb, report: Dict[str, Any]) -> None:
        """The run manifest holds exactly the runs the report says were processed."""
        assert sorted(RunManifests(dynamodb, self.runs_table).list()) == sorted(
            f"enriched/archive/run={run}/" for run in report["runs"]["processed"]
        )


@pytest.fixture
def inputs(s3, bucket, sample, tmp_path: Path, unique_name) -> Callable[[str], ImportInputs]:
    """Writes the sample archive, then names a fresh table (`prefix-...`) and its runs table."""

    def make(prefix: str) -> ImportInputs:
        archive = write_to_s3(sample, s3, bucket, "enriched/archive")
        table, runs_table = unique_name(prefix), unique_name("runs")
        config = write_json(tmp_path / "s.json", storage_config(table))
        return ImportInputs(archive, table, runs_table, config, tmp_path / "r.json")

    return make


def test_import_equals_the_write_path_item_for_item_then_a_rerun_does_nothing(
    spark, s3, dynamodb, bucket, sample, tmp_path: Path, unique_name, inputs, capsys
) -> None:
    run = inputs("imported")
    written = unique_name("written")
    EventsManifest(dynamodb, written).create()
    write_config = write_json(tmp_path / "w.json", storage_config(written))
    assert main(job_args(run.archive, write_config), spark) == 0

    progress = ("--progress-uri", str(tmp_path / "progress.json"), "--progress-interval", "0.05")
    args = run.args(*progress)
    capsys.readouterr()
    assert main(args, spark) == 0
    said = capsys.readouterr().err
    assert "progress: importing" in said  # staging and DescribeImport polls show the phase
    last = json.loads((tmp_path / "progress.json").read_text())
    assert last["phase"] == "done" and last["runs"]["done"] == last["runs"]["total"] > 0

    table = dump_table(dynamodb, run.table)
    assert table == dump_table(dynamodb, written) == expected_items(sample)
    assert not set(sample.expired) & set(table)
    ttl = dynamodb.describe_time_to_live(TableName=run.table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")
    report = run.report()
    assert report["status"] == "succeeded"
    assert report["import"]["status"] == "COMPLETED"
    assert report["import"]["imported_items"] == len(sample.expected)
    assert report["expired_skipped"] == len(sample.expired)
    assert report["malformed"] == sample.malformed
    assert report["writes"]["requests"] == 0
    assert report["runs"]["recorded"] == report["runs"]["processed"]
    run.assert_recorded(dynamodb, report)
    assert staged_objects(s3, bucket) == []  # cleaned up once COMPLETED
    marker = marker_of(s3, bucket)
    assert marker is not None and marker["status"] == "COMPLETED"

    # A re-run with the run manifest does nothing: no import, no write, same table.
    assert main(args, spark) == 0
    again = run.report()
    assert again["runs"]["processed"] == [] and "import" not in again
    assert marker_of(s3, bucket) == marker
    assert dump_table(dynamodb, run.table) == table


def test_import_refuses_an_existing_table_with_exit_2(
    spark, s3, dynamodb, bucket, inputs, capsys
) -> None:
    run = inputs("exists")
    name = run.table
    EventsManifest(dynamodb, name).create()
    assert main(job_args(run.archive, run.config, "--method", "import"), spark) == 2
    err = capsys.readouterr().err
    assert f"DynamoDB table '{name}' exists: --method import creates a new table" in err
    assert "Traceback" not in err
    assert dynamodb.scan(TableName=name)["Items"] == []
    assert marker_of(s3, bucket) is None and staged_objects(s3, bucket) == []


@pytest.mark.parametrize(
    "fault, cause",
    [
        (
            lambda d: {
                **d,
                "ImportStatus": "FAILED",
                "FailureCode": "ItemValidationError",
                "FailureMessage": "Some items failed validation",
            },
            "DynamoDB import FAILED: ItemValidationError: Some items failed validation",
        ),
        (
            lambda d: (
                {**d, "ImportedItemCount": max(0, int(d["ImportedItemCount"]) - 3)}
                if d["ImportStatus"] == "COMPLETED"
                else d
            ),
            "with ImportedItemCount",
        ),
    ],
    ids=["failed", "short"],
)
def test_a_failed_or_short_import_fails_the_job_with_the_cause_and_records_nothing(
    spark, s3, dynamodb, bucket, sample, inputs, proxy, fault, cause
) -> None:
    run = inputs("faulty")
    proxy.on_describe = fault
    args = run.args("--dynamodb-endpoint-url", proxy.url)
    assert main(args, spark) == 1
    report = run.report()
    assert report["status"] == "failed"
    assert any(cause in e and "To retry" in e for e in report["errors"]), report["errors"]
    assert report["runs"]["recorded"] == []
    assert sorted(report["runs"]["not_recorded"]) == sorted(report["runs"]["processed"])
    assert RunManifests(dynamodb, run.runs_table).list() == []
    assert staged_objects(s3, bucket)  # kept for the retry
    assert proxy.count("ImportTable") == 1
    assert marker_of(s3, bucket)["status"] == "FAILED"

    # The same command refuses while the table the failed import left exists (exit 2) ...
    proxy.on_describe = None
    assert main(args, spark) == 2
    assert proxy.count("ImportTable") == 1
    # ... and, once it is deleted as the message says, starts a new import (attempt 2).
    dynamodb.delete_table(TableName=run.table)
    assert main(args, spark) == 0
    assert proxy.count("ImportTable") == 2
    assert dump_table(dynamodb, run.table) == expected_items(sample)
    run.assert_recorded(dynamodb, report)
    assert marker_of(s3, bucket)["client_token"].endswith("-2")


def test_killed_after_import_table_then_rerun_starts_no_second_import(
    spark, s3, dynamodb, bucket, sample, inputs, proxy, tmp_path
) -> None:
    run = inputs("killed")
    held = threading.Event()
    held.set()
    proxy.on_describe = lambda d: {**d, "ImportStatus": "IN_PROGRESS"} if held.is_set() else d

    scratch = tmp_path / "spark-scratch"  # a SIGKILLed JVM leaves its files: in pytest's tmp
    scratch.mkdir()
    command = build_local_command(
        run.archive, run.config, LocalRun(master="local[1]"), scratch=str(scratch)
    )
    command += run.options("--dynamodb-endpoint-url", proxy.url)
    process = subprocess.Popen(
        command,
        env=job_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not (marker_of(s3, bucket) or {}).get("import_arn"):
            assert process.poll() is None, "the job ended before it started its import"
            assert time.monotonic() < deadline, "no import started"
            time.sleep(0.5)
        while proxy.count("DescribeImport") == 0:  # it is following the import: kill it now
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert proxy.count("ImportTable") == 1
    assert RunManifests(dynamodb, run.runs_table).list() == []  # nothing recorded before COMPLETED

    held.clear()
    assert main(run.args("--dynamodb-endpoint-url", proxy.url), spark) == 0
    assert proxy.count("ImportTable") == 1  # followed, not started again
    assert dump_table(dynamodb, run.table) == expected_items(sample)
    report = run.report()
    assert report["runs"]["recorded"] == report["runs"]["processed"] != []
    assert report["malformed"] == sample.malformed  # the same report, from the marker


def test_an_import_table_refusal_fails_with_its_meaning_and_the_rerun_resumes_the_staging(
    spark, s3, dynamodb, bucket, sample, inputs, proxy
) -> None:
    run = inputs("conflict")
    args = run.args("--dynamodb-endpoint-url", proxy.url)
    proxy.refuse["ImportTable"] = "ImportConflictException"
    assert main(args, spark) == 1
    report = run.report()
    assert any(
        f"ImportTable refused (ImportConflictException): another import into '{run.table}'" in e
        for e in report["errors"]
    ), report["errors"]
    assert RunManifests(dynamodb, run.runs_table).list() == []
    marker = marker_of(s3, bucket)
    assert marker["status"] == "STAGED" and "import_arn" not in marker

    # The re-run finds the staged files and their counts in the marker: it imports them
    # without reading the archive again (lines_read comes back from the marker).
    del proxy.refuse["ImportTable"]
    objects = staged_objects(s3, bucket)
    assert main(args, spark) == 0
    assert dump_table(dynamodb, run.table) == expected_items(sample)
    again = run.report()
    assert again["lines_read"] == report["lines_read"] and again["import"]["status"] == "COMPLETED"
    assert again["import"]["staged_objects"] == len(objects)
    assert proxy.count("ImportTable") == 2  # the refused one, then the one that ran
