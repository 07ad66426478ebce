"""The fast loopback DynamoDB endpoint benchmarks write to, and the job's storage config for it.

FakeDynamoDB (tests/support/fake_dynamodb.py) runs in its own process, so the client CPU a
benchmark measures is the client's alone; its condition semantics are checked against moto's
in tests/test_fake_dynamodb.py.
"""

from __future__ import annotations

import json
import os
from typing import Any

from devkit.fake_dynamodb import FakeDynamoDB

from devkit.jobs import storage_config
from populator.core.manifest import EventsManifest

TABLE = "manifest"

__all__ = ["TABLE", "FakeDynamoDB", "fresh_table", "write_storage_config"]


def fresh_table(fake: FakeDynamoDB, table: str = TABLE) -> Any:
    """Drop everything, create the manifest table (TTL on, as the job expects); its client."""
    fake.reset()
    client = fake.client()
    EventsManifest(client, table).create()
    return client


def write_storage_config(directory: str, table: str = TABLE) -> str:
    """A 2-0-0 storage config with keys (the fake accepts any) in `directory`; its path."""
    path = os.path.join(directory, "storage-config.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(storage_config(table), handle)
    return path
