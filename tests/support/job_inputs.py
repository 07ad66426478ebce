"""What the job tests start from and check against: a DynamoDB table keyed some other way
(not an events manifest), the smallest archive on disk, and the items a sample archive must
leave in the manifest."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Tuple

from devkit.sample_archive import SampleArchive, realistic_archive, write_to_dir
from populator.core.events import TTL_SECONDS


def create_table_keyed_on(dynamodb: Any, name: str, *keys: str) -> str:
    """An on-demand table whose string keys are ``keys`` (the hash key, then the range key)."""
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
        KeySchema=[
            {"AttributeName": key, "KeyType": kind} for key, kind in zip(keys, ("HASH", "RANGE"))
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def expected_items(sample: SampleArchive) -> Dict[Tuple[str, str], Tuple[int, int]]:
    """What dump_table must read after the sample: every kept key with its etl time and TTL."""
    return {key: (etl, etl + TTL_SECONDS) for key, etl in sample.expected.items()}


def tiny_archive(tmp_path: Path, now: datetime) -> str:
    """One run of three events, on disk below tmp_path/a."""
    return write_to_dir(realistic_archive(now=now, runs=1, events_per_run=3), str(tmp_path / "a"))
