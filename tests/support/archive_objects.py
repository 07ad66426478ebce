"""Archive folders and objects for the listing tests: the first run's time, its folder name,
and one S3 object put with an optional storage class."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from populator.core.archive import format_run_id

UTC = timezone.utc
T0 = datetime(2017, 1, 26, 0, 1, 25, tzinfo=UTC)


def run_name(moment: datetime) -> str:
    return "run=" + format_run_id(moment)


def put(s3: Any, bucket: str, key: str, body: bytes = b"x", storage_class: Optional[str] = None):
    extra = {"StorageClass": storage_class} if storage_class else {}
    s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
