"""Helpers for end-to-end job tests: storage configs on disk, table dumps, running the job."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from devkit.demo import iglu_central_resolver
from populator.core.storage_config import storage_schema_uri

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY/="
ACCESS_KEY = "test-access-key-id"  # not shaped like a real AWS key id


def storage_config(table: str, region: str = "us-east-1", secret: str = SECRET) -> Dict[str, Any]:
    """A 2-0-0 storage config with embedded keys (moto accepts any)."""
    return {
        "schema": storage_schema_uri("2-0-0"),
        "data": {
            "name": "events manifest",
            "auth": {"accessKeyId": ACCESS_KEY, "secretAccessKey": secret},
            "awsRegion": region,
            "dynamodbTable": table,
            "id": str(uuid.uuid4()),
            "purpose": "EVENTS_MANIFEST",
        },
    }


def resolver_config() -> Dict[str, Any]:
    return iglu_central_resolver()


def write_json(path: Path, document: Dict[str, Any]) -> str:
    path.write_text(json.dumps(document, indent=2))
    return str(path)


def count_items(client: Any, table: str) -> int:
    """Items in `table` (a paginated COUNT scan)."""
    pages = client.get_paginator("scan").paginate(
        TableName=table, Select="COUNT", ConsistentRead=True
    )
    return sum(page["Count"] for page in pages)


def dump_table(client: Any, table: str) -> Dict[Tuple[str, str], Tuple[int, int]]:
    """(eventId, fingerprint) -> (etlTime, ttl), asserting items carry exactly the 4 attributes."""
    items: Dict[Tuple[str, str], Tuple[int, int]] = {}
    kwargs: Dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        for item in page["Items"]:
            assert set(item) == {"eventId", "fingerprint", "etlTime", "ttl"}, item
            items[(item["eventId"]["S"], item["fingerprint"]["S"])] = (
                int(item["etlTime"]["N"]),
                int(item["ttl"]["N"]),
            )
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def job_args(
    archive: str,
    storage_path: str,
    *extra: str,
    report: Optional[str] = None,
) -> List[str]:
    args = ["--enriched-archive", archive, "--storage-config", storage_path]
    if report:
        args += ["--report", report]
    return args + list(extra)
