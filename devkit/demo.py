"""`inv demo`: the whole product on a laptop with no AWS account and no network.

Starts moto's server on a free loopback port, fills its S3 with a realistic archive, writes
sample configs, then runs the very commands a user types (`inv list_runs`, `inv run_local`)
against it, twice, to show that a re-run writes nothing new. Stops everything it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any, Dict, List

from devkit.sample_archive import realistic_archive, write_to_s3
from populator.cli.common import Signals, Terminated, eprint, interrupt_name
from populator.core.errors import Cancelled, JobFailed
from populator.core.storage_config import storage_schema_uri
from populator.launcher.signals import wait_process
from populator.launcher.targets.local import die_with_parent

BUCKET = "acme-snowplow-demo"
PREFIX = "enriched/archive"
TABLE = "snowplow-events-manifest"
RUNS_TABLE = "snowplow-run-manifests"
REGION = "us-east-1"
# moto accepts any keys; these are shaped like real ones so redaction is visible in the demo.
DEMO_ACCESS_KEY = "demo-access-key-id"
STORAGE_SCHEMA = storage_schema_uri("2-0-0")
DEMO_SECRET = "demo/SECRET/never+printed/anywhere0123456"


def iglu_central_resolver() -> Dict[str, Any]:
    """The resolver config most pipelines use: Iglu Central only (bundled copy when offline)."""
    return {
        "schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-1",
        "data": {
            "cacheSize": 500,
            "repositories": [
                {
                    "name": "Iglu Central",
                    "priority": 0,
                    "vendorPrefixes": ["com.snowplowanalytics"],
                    "connection": {"http": {"uri": "http://iglucentral.com"}},
                }
            ],
        },
    }


def write_configs(directory: str) -> Dict[str, str]:
    """Sample storage (2-0-0, with keys) and resolver (Iglu Central) configs."""
    os.makedirs(directory, exist_ok=True)
    storage = {
        "schema": STORAGE_SCHEMA,
        "data": {
            "name": "Demo events manifest",
            "auth": {"accessKeyId": DEMO_ACCESS_KEY, "secretAccessKey": DEMO_SECRET},
            "awsRegion": REGION,
            "dynamodbTable": TABLE,
            "id": "56799a26-980c-4148-8bd9-c021b988c669",
            "purpose": "EVENTS_MANIFEST",
        },
    }
    resolver = iglu_central_resolver()
    paths = {}
    for name, document in (("storage.json", storage), ("resolver.json", resolver)):
        path = os.path.join(directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
        paths[name] = path
    return paths


def _step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def _inv(args: List[str], env: Dict[str, str]) -> int:
    """Run `inv ARGS` as a user would. The child dies with the demo (SIGTERM on our death,
    even by SIGKILL, so it cancels its own job); a signal to the demo is passed on to it and
    waited for, so the Spark job is stopped before the demo says nothing is left running."""
    print("$ inv " + " ".join(shlex.quote(a) for a in args), flush=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        env=env,
        preexec_fn=lambda: die_with_parent(signal.SIGTERM),
    )
    with Signals() as signals:
        try:
            return wait_process(child)
        except BaseException as interrupt:  # Ctrl-C, SIGTERM, SIGHUP
            signals.ignore()
            what = interrupt_name(interrupt)
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
            child.wait()
            if isinstance(interrupt, (KeyboardInterrupt, Terminated)):
                raise Cancelled(f"{what}: stopped `inv {args[0]}` and its job") from None
            raise


def _moto_client(service: str, endpoint: str) -> Any:
    """A boto3 client for the demo's own moto server (the same keys as the `inv` children)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )


def demo(directory: str, runs: int = 5, events_per_run: int = 300) -> int:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    started = time.monotonic()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        env = dict(os.environ)
        env.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        s3 = _moto_client("s3", endpoint)
        _step(f"moto (S3 + DynamoDB) on {endpoint}; writing a sample archive")
        s3.create_bucket(Bucket=BUCKET)
        sample = realistic_archive(datetime.now(timezone.utc), runs, events_per_run)
        archive = write_to_s3(sample, s3, BUCKET, PREFIX)
        print(
            f"{len(sample.objects)} objects, {sample.lines} lines: {runs} recent runs (.gz, legacy "
            ".gzip, plain, stream-enrich names), an expired run, a Glacier run, junk folders; "
            f"{len(sample.expected)} distinct events to store",
            flush=True,
        )
        paths = write_configs(directory)
        print(f"configs: {paths['storage.json']}, {paths['resolver.json']}", flush=True)

        _step("What is in the archive")
        _inv(["list_runs", archive, "--run-manifest-table", RUNS_TABLE], env)

        common = [
            archive,
            paths["storage.json"],
            paths["resolver.json"],
            "--master",
            "local[2]",
            "--run-manifest-table",
            RUNS_TABLE,
            "--bad-rows",
            f"s3://{BUCKET}/bad-rows/",
            "--progress-interval",
            "2",  # a small archive: show the progress line more than once
        ]
        _step("Backfill the events manifest")
        first = _inv(
            ["run_local", *common, "--report", os.path.join(directory, "report-1.json")], env
        )
        if first != 0:
            raise JobFailed(f"the demo backfill failed (exit {first})")

        _step("A few stored items")
        ddb = _moto_client("dynamodb", endpoint)
        for item in ddb.scan(TableName=TABLE, Limit=5)["Items"]:
            print(
                "  eventId={eventId[S]}  fingerprint={fingerprint[S]}  etlTime={etlTime[N]}  "
                "ttl={ttl[N]}".format(**item),
                flush=True,
            )
        count = ddb.describe_table(TableName=TABLE)["Table"].get("ItemCount")
        print(f"  … {count} items in '{TABLE}'", flush=True)

        _step("Run it again: recorded runs are skipped, nothing new is written")
        second = _inv(
            ["run_local", *common, "--report", os.path.join(directory, "report-2.json")], env
        )
        if second != 0:
            raise JobFailed(f"the demo re-run failed (exit {second})")
        _step(f"Done in {time.monotonic() - started:.0f} s; reports and configs in {directory}")
        return 0
    finally:
        server.stop()
        eprint("demo: stopped the moto server; nothing is left running")
