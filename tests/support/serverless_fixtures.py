"""Fixtures for the EMR Serverless tests: the recording proxy in front of moto, a client, and
an existing Spark application (registered in tests/conftest.py)."""

from __future__ import annotations

from typing import Any, Iterator

import boto3
import pytest

from devkit.serverless import Proxy, runs_start_in
from tests.support.serverless_runs import REGION


@pytest.fixture
def proxy(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    """Every call of this process (and of commands sent to ``proxy.url``) recorded on its way
    to moto; job runs start SUBMITTED and stay where the test puts them."""
    runs_start_in(monkeypatch, "SUBMITTED")  # the moto server runs in this process
    with Proxy(moto_endpoint) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL", running.url)
        yield running


@pytest.fixture
def es(moto_endpoint: str) -> Any:
    return boto3.client("emr-serverless", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture
def application(es: Any, unique_name: Any) -> str:
    return es.create_application(
        name=unique_name("shared"), releaseLabel="emr-7.12.0", type="SPARK"
    )["applicationId"]
