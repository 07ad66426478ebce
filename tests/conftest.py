"""Shared fixtures: one moto server on 127.0.0.1 and one local Spark session per test run.

AWS calls go over real HTTP to moto's server (so Spark's Python workers, separate processes,
reach the same fake AWS); Spark runs on a real local master.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import boto3
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Fixtures shared by several test files (the Iglu resolvers, the Serverless application).
pytest_plugins = ["tests.support.iglu_fixtures", "tests.support.serverless_fixtures"]
REGION = "us-east-1"

# Credentials for moto only; set before anything creates a boto3 session.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "POPULATOR_IGLU_OFFLINE": "1",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_SESSION_TOKEN", None)
# Every JVM the suite starts (the session's, each spark-submit's and its launcher's) lives for
# seconds: the client compiler alone starts them with about half the CPU (JIT threads
# otherwise compete with the tests for the two cores). Without perf data a JVM the kill tests
# SIGKILL leaves no /tmp/hsperfdata_* file behind. Tests only; the product sets neither.
for _variable in ("SPARK_SUBMIT_OPTS", "SPARK_LAUNCHER_OPTS"):
    os.environ.setdefault(_variable, "-XX:TieredStopAtLevel=1 -XX:-UsePerfData")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Start moto's threaded server on a free loopback port; export it as AWS_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        yield endpoint
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        server.stop()


@pytest.fixture
def s3(moto_endpoint: str):
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture
def dynamodb(moto_endpoint: str):
    return boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture
def emr(moto_endpoint: str):
    return boto3.client("emr", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Names for buckets and tables that never collide across tests sharing one server."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    return make


@pytest.fixture
def bucket(s3, unique_name) -> str:
    name = unique_name("archive")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def spark(moto_endpoint: str):
    """One local Spark session for the whole run (starting one costs ~4 s)."""
    from devkit.spark import local_spark

    session = local_spark(
        "populator-tests",
        {"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4"},
    )
    yield session
    session.stop()


@pytest.fixture
def setup(s3, bucket, tmp_path: Path, unique_name) -> Dict[str, Any]:
    """The three positional inputs of `inv run_emr` for a fresh table (archive left empty)."""
    from devkit.jobs import resolver_config, storage_config, write_json

    table = unique_name("manifest")
    return {
        "bucket": bucket,
        "table": table,
        "archive": f"s3://{bucket}/enriched/archive/",
        "storage": write_json(tmp_path / "storage.json", storage_config(table)),
        "resolver": write_json(tmp_path / "resolver.json", resolver_config()),
    }


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Under pytest-xdist, every test on the session's Spark runs on one worker (one JVM, one
    shared session), and the tests that start Spark of their own (`spark` marker, spark-submit
    JVMs, two cores each) take turns on another, so that at most one of them competes with the
    session's timing tests. The rest, AWS-bound tests that mostly wait on moto and on real
    time-outs, are spread over all the workers."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("spark-session"))
        elif item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.xdist_group("spark-submit"))
