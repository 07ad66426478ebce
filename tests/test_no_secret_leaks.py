"""Issue 6, security: the storage config's secret never leaves the one place it is meant to be.

With a storage config holding a distinctive secret key, every command runs for real (`inv`
in a subprocess, AWS = the moto server) and every channel is grepped for every spelling in
`populator.launcher.redact.secret_forms` (plain, JSON-escaped, URL-encoded, base64 at any
alignment):
stdout and stderr of `run_emr --dry-run`, `run_emr`, `run_emr --json` (the identical request
again), `run_emr --wait --json` (the job's report read back), `list_runs --json`, bad storage
configs with the secret beside the wrong field, and `run_local` on a tiny archive with a
malformed line; the JSON report and bad rows it wrote; what moto stores about every cluster
(DescribeCluster with its tags, ListSteps and DescribeStep arguments, bootstrap actions,
instance groups); every S3 object but the storage config itself (zips and gzips expanded);
and the items in DynamoDB. The storage config object is the one intended copy: it must be
server-side encrypted, and it must hold the secret (the scan's positive control).
EMR Serverless (`run_emr --serverless` / `--application-id`): stdout, stderr and `--json` of
dry runs and of a failed `--wait` whose driver log holds the secret, every request moto
received through a recording proxy, and what moto keeps about the job runs and application.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import signal
import subprocess
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

from devkit.emr import set_states
from devkit.enriched_lines import make_line
from devkit.figures import record
from devkit.jobs import SECRET, resolver_config, storage_config, write_json
from devkit.sample_archive import gz, run_folder, tstamp
from populator.launcher.redact import secret_forms
from populator.launcher.targets.common.report import report_uri
from tests.support.cli import DEAD_ENDPOINT, STARTED, Ran, Running, inv, inv_many

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.spark,
]
FORMS = sorted(secret_forms(SECRET))
CONFIG_KEY = re.compile(r"(^|/)storage-config-[0-9a-f]{64}\.json$")


class Channels:
    """Named texts to grep; binary containers (gzip, zip) are opened so a secret cannot hide
    in compressed bytes."""

    def __init__(self) -> None:
        self.texts: Dict[str, str] = {}

    def add(self, name: str, content: Any) -> None:
        if isinstance(content, bytes):
            self._add_bytes(name, content)
        elif isinstance(content, str):
            self.texts[name] = content
        else:
            self.texts[name] = json.dumps(content, default=str, sort_keys=True)

    def _add_bytes(self, name: str, data: bytes) -> None:
        self.texts[name] = data.decode("utf-8", "replace")
        if data[:2] == b"\x1f\x8b":
            self.add(f"{name} (gunzipped)", gzip.decompress(data))
        elif data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for entry in archive.namelist():
                    self.add(f"{name}!{entry}", archive.read(entry))

    def add_run(self, name: str, ran: Ran) -> None:
        self.add(f"{name}: stdout", ran.out)
        self.add(f"{name}: stderr", ran.err)

    def hits(self) -> Dict[str, List[str]]:
        found = {name: [f for f in FORMS if f in text] for name, text in self.texts.items()}
        return {name: forms for name, forms in found.items() if forms}


def reap(running: Running) -> None:
    """Stop a background task still running (the test failed before it ended): Ctrl-C makes
    `run_local` stop its Spark job and `run_emr --wait` terminate its cluster."""
    if running.process.poll() is not None:
        return
    running.interrupt(signal.SIGINT)
    try:
        running.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()


@pytest.fixture
def background() -> Iterator[Callable[[Running], Running]]:
    """Register a background task; whatever is still running at teardown is stopped."""
    started: List[Running] = []

    def keep(running: Running) -> Running:
        started.append(running)
        return running

    yield keep
    for running in started:
        reap(running)


def tiny_archive(root: Path, now: datetime) -> Path:
    """One run: five valid events and one malformed line (it lands in the bad rows)."""
    started = now - timedelta(hours=1)
    lines = [
        make_line(etl_tstamp=tstamp(started, n), fingerprint=uuid.uuid4().hex) for n in range(5)
    ]
    lines.append(make_line(field_count=100))
    run = root / run_folder(started)
    run.mkdir(parents=True)
    (run / "part-00000.gz").write_bytes(gz(lines))
    (run / "_SUCCESS").write_bytes(b"")
    return root


def bad_configs(tmp_path: Path, table: str) -> Dict[str, Path]:
    """Configs that fail validation with the secret right beside the field at fault."""
    good = storage_config(table)
    region = json.loads(json.dumps(good))
    region["data"]["awsRegion"] = "not a region"
    top_level = json.loads(json.dumps(good))
    top_level["data"]["secretAccessKey"] = SECRET  # 1-0-x's place for it, refused in 2-0-0
    comma = json.dumps(good, indent=2).replace(f'"{SECRET}"', f'"{SECRET}",')
    assert comma.count(SECRET) == 1
    paths = {
        "awsRegion wrong": write_json(tmp_path / "bad-region.json", region),
        "secret as an unknown field": write_json(tmp_path / "bad-field.json", top_level),
    }
    (tmp_path / "bad-syntax.json").write_text(comma)
    paths["JSON syntax error after the secret"] = str(tmp_path / "bad-syntax.json")
    return {name: Path(path) for name, path in paths.items()}


def emr_record(emr, cluster_id: str) -> Dict[str, Any]:
    """Everything moto stores about a cluster, as the EMR console and API would show it."""
    steps = emr.list_steps(ClusterId=cluster_id)["Steps"]
    return {
        "cluster": emr.describe_cluster(ClusterId=cluster_id)["Cluster"],
        "steps": steps,
        "described": [
            emr.describe_step(ClusterId=cluster_id, StepId=s["Id"])["Step"] for s in steps
        ],
        "bootstrap": emr.list_bootstrap_actions(ClusterId=cluster_id)["BootstrapActions"],
        "groups": emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"],
    }


def test_the_secret_is_in_no_output_request_log_or_object(
    moto_endpoint, s3, emr, dynamodb, bucket, unique_name, background, tmp_path: Path
) -> None:
    now = datetime.now(timezone.utc)
    table, runs_table = unique_name("manifest"), unique_name("runs")
    storage = write_json(tmp_path / "storage.json", storage_config(table))
    resolver = write_json(tmp_path / "resolver.json", resolver_config())
    local_archive = tiny_archive(tmp_path / "archive", now)
    for path in local_archive.rglob("*"):
        if path.is_file():
            key = f"enriched/archive/{path.relative_to(local_archive).as_posix()}"
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    archive = f"s3://{bucket}/enriched/archive/"
    out = tmp_path / "job-output"
    report_file, bad_rows_dir = out / "report.json", out / "bad-rows"
    channels = Channels()

    # The local Spark job runs in the background while the EMR commands run.
    local = background(
        Running(
            "run_local",
            [
                *(str(local_archive), storage, resolver, "--master", "local[1]"),
                *("--report", str(report_file), "--bad-rows", str(bad_rows_dir)),
                *("--run-manifest-table", runs_table, "--driver-memory", "512m"),
            ],
            moto_endpoint,
        )
    )

    # --method write: the table appears while run_local runs; `auto` could pick import for the
    # first run_emr and write for the second (another request), which the test does not study.
    emr_args = [archive, storage, resolver, "--method", "write"]
    channels.add_run("run_emr --dry-run", inv("run_emr", [*emr_args, "--dry-run"], DEAD_ENDPOINT))
    submitted = inv("run_emr", emr_args, moto_endpoint)
    assert submitted.code == 0, submitted.err
    channels.add_run("run_emr", submitted)
    again = inv("run_emr", [*emr_args, "--json"], moto_endpoint)
    assert again.code == 0 and json.loads(again.out)["reused"] is True, again.err
    channels.add_run("run_emr --json", again)
    refused = inv_many(
        "run_emr",
        {
            name: [archive, str(path), resolver]
            for name, path in bad_configs(tmp_path, table).items()
        },
        moto_endpoint,
    )
    for name, ran in refused.items():
        assert ran.code == 2 and len(ran.error_lines) == 1, (name, ran.err)
        channels.add_run(f"run_emr, bad config: {name}", ran)

    ran_local = local.finish(timeout=180)
    assert ran_local.code == 0, ran_local.err
    channels.add_run("run_local", ran_local)
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert report_file in written and any(p.suffix == ".jsonl" for p in written)
    for path in written:
        channels.add(f"job output {path.relative_to(out)}", path.read_bytes())
    report = json.loads(report_file.read_text())
    assert report["malformed"] and report["writes"]["new"] == 5  # the job really ran

    # A second, different backfill followed to its end: the job's report comes back to the
    # launcher (summary on stderr, the dict in the JSON result).
    follow = background(
        Running(
            "run_emr",
            [
                *(*emr_args, "--force", "--since", f"{now:%Y-%m-%d}"),
                *("--bad-rows", f"s3://{bucket}/populator/bad-rows/"),
                *("--wait", "--json", "--poll-interval", "0.05"),
            ],
            moto_endpoint,
        )
    )
    cluster_id, step_id = follow.expect(STARTED).groups()
    step = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
    report_at = report_uri(step["Config"]["Args"])
    assert report_at is not None
    report_bucket, _, report_key = report_at[len("s3://") :].partition("/")
    s3.put_object(Bucket=report_bucket, Key=report_key, Body=report_file.read_bytes())
    set_states(cluster_id, step_state="COMPLETED", cluster_state="TERMINATED")
    followed = follow.finish()
    assert followed.code == 0 and json.loads(followed.out)["job_report"] == report, followed.err
    channels.add_run("run_emr --wait --json", followed)

    listed = inv(
        "list_runs", [archive, "--json", "--run-manifest-table", runs_table], moto_endpoint
    )
    assert listed.code == 0 and json.loads(listed.out)["runs"], listed.err
    channels.add_run("list_runs --json", listed)

    # What AWS now holds.
    started = {json.loads(again.out)["cluster_id"], cluster_id}
    for cid in sorted(started):
        channels.add(f"EMR as stored: {cid}", emr_record(emr, cid))
    objects = s3.list_objects_v2(Bucket=bucket)["Contents"]
    channels.add("S3 keys", [o["Key"] for o in objects])
    config_objects = [o["Key"] for o in objects if CONFIG_KEY.search(o["Key"])]
    assert len(config_objects) == 1  # one config, content-addressed: uploaded once
    for obj in objects:
        if obj["Key"] not in config_objects:
            got = s3.get_object(Bucket=bucket, Key=obj["Key"])
            channels.add(f"s3://{bucket}/{obj['Key']}", got["Body"].read())
            channels.add(f"s3://{bucket}/{obj['Key']} (metadata)", got.get("Metadata", {}))
    for name in (table, runs_table):
        channels.add(f"DynamoDB items of {name}", dynamodb.scan(TableName=name)["Items"])

    # The one intended copy: encrypted at rest, and the scan finds the secret in it.
    config = s3.get_object(Bucket=bucket, Key=config_objects[0])
    assert config["ServerSideEncryption"] == "AES256"
    control = Channels()
    control.add("storage config object", config["Body"].read())
    control.add("base64 of a blob holding it", base64.b64encode(b"x" + SECRET.encode() + b"yz"))
    assert set(control.hits()) == {"storage config object", "base64 of a blob holding it"}

    hits = channels.hits()
    record(
        "secret scan",
        inputs_tried=len(channels.texts),
        secrets_found=sum(len(forms) for forms in hits.values()),
    )
    assert len(channels.texts) > 40, sorted(channels.texts)
    assert not hits, f"secret found: {hits}"


def test_the_secret_is_in_no_serverless_output_request_or_job_run(
    moto_endpoint, s3, bucket, unique_name, monkeypatch, tmp_path: Path
) -> None:
    """`run_emr --serverless` / `--application-id`: stdout, stderr and `--json` of a dry run,
    a submission and a failed `--wait` whose driver log holds the secret (the cause is
    printed: it must come out redacted); every request moto received (the storage config's
    upload aside, the one intended copy); and what moto keeps about the job runs and the
    application (GetJobRun, GetApplication with their tags)."""
    import boto3

    from devkit.serverless import Proxy, job_runs, runs_start_in, set_job_run

    role = "arn:aws:iam::123456789012:role/populator-job"
    table = unique_name("manifest")
    inputs = [
        f"s3://{bucket}/enriched/archive/",
        str(write_json(tmp_path / "storage.json", storage_config(table))),
        str(write_json(tmp_path / "resolver.json", resolver_config())),
    ]
    es = boto3.client("emr-serverless", endpoint_url=moto_endpoint, region_name="us-east-1")
    app = es.create_application(name=unique_name("app"), releaseLabel="emr-7.12.0", type="SPARK")
    application = app["applicationId"]
    target = ["--application-id", application, "--execution-role-arn", role]
    channels = Channels()
    runs_start_in(monkeypatch, "SUBMITTED")
    with Proxy(moto_endpoint) as proxy:
        dry = inv_many(
            "run_emr",
            {
                "serverless --dry-run": [*inputs, "--serverless", *target[2:], "--dry-run"],
                "serverless --dry-run --json": [
                    *inputs,
                    "--serverless",
                    *target[2:],
                    "--dry-run",
                    "--json",
                ],
            },
            DEAD_ENDPOINT,
        )
        for name, ran in dry.items():
            assert ran.code == 0, ran.err
            channels.add_run(f"run_emr {name}", ran)
        running = Running(
            "run_emr",
            [*inputs, *target, "--wait", "--json", "--poll-interval", "0.05", "--log-wait", "5"],
            proxy.url,
        )
        run_id = running.expect(r"started EMR Serverless job run (\w+)").group(1)
        running.expect(rf"job run {run_id} SUBMITTED")
        key = f"populator/logs/applications/{application}/jobs/{run_id}/SPARK_DRIVER/stderr.gz"
        trace = (
            'Traceback (most recent call last):\n  File "job.py", line 3, in <module>\n'
            f"ValueError: bad key {SECRET}\n"
        )
        s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(trace.encode()))
        set_job_run(application, run_id, "FAILED", "Job failed, ExitCode: 1")
        failed = running.finish()
        assert failed.code == 1, failed.err
        assert "ValueError: bad key ***" in json.loads(failed.out)["cause"]  # shown, redacted
        channels.add_run("run_emr --application-id --wait --json (failed)", failed)
        config_puts = 0
        for number, request in enumerate(proxy.requests):
            if request.method == "PUT" and "storage-config-" in request.path:
                config_puts += 1  # the one intended (encrypted) copy
                continue
            if request.method == "PUT" and request.path.endswith("SPARK_DRIVER/stderr.gz"):
                continue  # the test's own log upload
            channels.add(f"request {number}: {request.method} {request.path}", request.path)
            channels.add(f"request {number} headers", request.headers)
            channels.add(f"request {number} body", request.body)
        assert config_puts == 1
    for run in job_runs(application):
        channels.add(
            f"GetJobRun {run.id}", es.get_job_run(applicationId=application, jobRunId=run.id)
        )
    channels.add("GetApplication", es.get_application(applicationId=application))
    assert len(channels.texts) > 10, sorted(channels.texts)
    hits = channels.hits()
    assert not hits, f"secret found: {hits}"
