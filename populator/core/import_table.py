"""DynamoDB Import from S3 for a cold start: the pure parts, then DescribeImport at the edge.

`ImportTable` creates the events-manifest table from gzip DynamoDB JSON files without consuming
write capacity. Everything here that decides what is sent or staged is a pure function (so the
exact request, item line and object plan are tested); the only AWS call is the DescribeImport
poll, with the shared full-jitter backoff. The job's Spark side is `populator.job.importer`.
Cluster code: Python 3.9.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from populator.core.events import ttl
from populator.core.location import has_s3_scheme, parse_location
from populator.core.manifest import (
    ATTRIBUTE_DEFINITIONS,
    ETL_TIME,
    HASH_KEY,
    KEY_SCHEMA,
    RANGE_KEY,
    TTL_ATTRIBUTE,
)
from populator.core.retry import full_jitter

MAX_OBJECTS = 50_000  # ImportTable's limit on source objects per import
ITEMS_PER_OBJECT = 4_000_000  # AWS's guidance for items under 1 KB
BYTES_PER_ITEM = 175  # one item_line() with a UUID and a 32-hex fingerprint (test-pinned)
IN_PROGRESS = ("IN_PROGRESS", "CANCELLING")
DATA_FOLDER = "data/"
MARKER_NAME = "import.json"


def item_line(event_id: str, fingerprint: str, etl_time_seconds: int) -> str:
    """One DynamoDB JSON line, exactly the item the write path's PutItem stores."""
    seconds = int(etl_time_seconds)
    item = {
        HASH_KEY: {"S": event_id},
        RANGE_KEY: {"S": fingerprint},
        ETL_TIME: {"N": str(seconds)},
        TTL_ATTRIBUTE: {"N": str(ttl(seconds))},
    }
    return json.dumps({"Item": item}, separators=(",", ":"), ensure_ascii=False) + "\n"


def plan_objects(
    items_upper_bound: int,
    parallelism: int = 1,
    items_per_object: int = ITEMS_PER_OBJECT,
    max_objects: int = MAX_OBJECTS,
) -> int:
    """How many objects (one per staging partition) to stage `items_upper_bound` items in.

    At least enough for ~4M items each (AWS's guidance), at least the cluster's parallelism so
    every core writes (small data: one object per Spark partition), never more than 50,000,
    never more objects than items.
    """
    needed = math.ceil(max(0, items_upper_bound) / max(1, items_per_object))
    wanted = max(needed, parallelism, 1)
    return max(1, min(wanted, max_objects, max(1, items_upper_bound)))


def backfill_digest(
    table: str, region: str, archive: str, since: Optional[str], include_expired: bool
) -> str:
    """What identifies one import backfill: the table it creates and what fills it.

    Deliberately not the list of runs (new runs may land between a killed job and its re-run:
    the re-run must still find the first import) nor the code version.
    """
    canonical = json.dumps(
        {
            "table": table,
            "region": region,
            "archive": archive.rstrip("/"),
            "since": since,
            "include_expired": include_expired,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def client_token(digest: str, attempt: int = 1) -> str:
    """ImportTable's idempotency token: the same backfill and attempt send the same token."""
    return f"populator-{digest[:40]}-{attempt}"


@dataclass(frozen=True)
class Staging:
    """Where one backfill's import files and its marker live."""

    bucket: str
    root: str  # key prefix of this backfill: <import prefix>/<digest>/

    @property
    def data_prefix(self) -> str:
        return self.root + DATA_FOLDER

    @property
    def marker_key(self) -> str:
        return self.root + MARKER_NAME

    def object_key(self, index: int) -> str:
        return f"{self.data_prefix}part-{index:05d}.json.gz"


def default_prefix(archive: str) -> str:
    """Beside the archive: s3://<archive bucket>/populator/import/ (the launcher may override)."""
    if not has_s3_scheme(archive):
        raise ValueError(
            "--import-prefix: required when --enriched-archive is not in S3 "
            "(ImportTable reads its files from S3)"
        )
    return f"s3://{parse_location(archive, '--enriched-archive').bucket}/populator/import/"


def staging(import_prefix: str, digest: str) -> Staging:
    """`s3://bucket/some/prefix/` + digest -> the backfill's own sub-prefix (marker beside data,
    never inside it: ImportTable reads every object under the data prefix)."""
    if not has_s3_scheme(import_prefix):
        raise ValueError(f"--import-prefix {import_prefix!r}: expected an s3:// URI")
    where = parse_location(import_prefix, "--import-prefix")  # LocationError: a ValueError
    key = where.key.strip("/")
    return Staging(where.bucket, (key + "/" if key else "") + digest + "/")


def build_import_request(
    table: str,
    stage: Staging,
    token: str,
    capacity: Optional[Dict[str, int]] = None,
) -> Dict[str, Any]:
    """The exact ImportTable request: the manifest's keys, on demand unless capacity is given."""
    parameters: Dict[str, Any] = {
        "TableName": table,
        "AttributeDefinitions": ATTRIBUTE_DEFINITIONS,
        "KeySchema": KEY_SCHEMA,
    }
    if capacity:
        parameters["BillingMode"] = "PROVISIONED"
        parameters["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(capacity["read"]),
            "WriteCapacityUnits": int(capacity["write"]),
        }
    else:
        parameters["BillingMode"] = "PAY_PER_REQUEST"
    return {
        "ClientToken": token,
        "S3BucketSource": {"S3Bucket": stage.bucket, "S3KeyPrefix": stage.data_prefix},
        "InputFormat": "DYNAMODB_JSON",
        "InputCompressionType": "GZIP",
        "TableCreationParameters": parameters,
    }


def parse_capacity(text: str) -> Dict[str, int]:
    """`--import-capacity READ,WRITE` (provisioned units of the imported table)."""
    parts = text.split(",")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 2 or min(values) < 1:
        raise ValueError(f"expected READ,WRITE capacity units (e.g. 100,100), got {text!r}")
    return {"read": values[0], "write": values[1]}


def import_problem(description: Dict[str, Any], expected_items: int) -> Optional[str]:
    """Why a finished import must fail the job (value-free), or None when it is complete."""
    status = description.get("ImportStatus")
    if status != "COMPLETED":
        code = description.get("FailureCode") or "no failure code"
        message = description.get("FailureMessage") or "no failure message"
        return f"DynamoDB import {status}: {code}: {message}"
    imported = int(description.get("ImportedItemCount") or 0)
    errors = int(description.get("ErrorCount") or 0)
    if errors:
        return f"DynamoDB import COMPLETED with ErrorCount {errors} (expected 0)"
    if imported != expected_items:
        return (
            f"DynamoDB import COMPLETED with ImportedItemCount {imported}, but the job staged "
            f"{expected_items} item(s)"
        )
    return None


def wait_for_import(
    client: Any,
    import_arn: str,
    log: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    on_poll: Optional[Callable[[Dict[str, Any]], None]] = None,
) -> Dict[str, Any]:
    """Poll DescribeImport until the import leaves IN_PROGRESS/CANCELLING; return its description.
    `on_poll` sees each description (the job's progress: ProcessedItemCount so far).

    No deadline of its own: a large import takes hours and the launcher's --timeout governs.
    The delay grows with full jitter up to `max_delay` (a poll costs nothing but API quota).
    """
    attempt = 0
    last = ""
    while True:
        description = client.describe_import(ImportArn=import_arn)["ImportTableDescription"]
        if on_poll is not None:
            on_poll(description)
        status = str(description.get("ImportStatus"))
        if status != last:
            log(f"populator: import {status.lower().replace('_', ' ')} ({import_arn})")
            last = status
        if status not in IN_PROGRESS:
            return description
        attempt += 1
        sleep(max(base_delay, full_jitter(attempt, base_delay, max_delay)))


def refusal_hint(code: str, table: str) -> Optional[str]:
    """What an ImportTable refusal means for this backfill, or None for other errors."""
    hints = {
        "IdempotentParameterMismatch": "an earlier ImportTable with this backfill's token "
        "had other parameters (another --import-capacity?); re-run with the same options",
        "ImportConflictException": f"another import into '{table}' is in progress",
        "ResourceInUseException": f"table '{table}' exists now and no import of this "
        "backfill created it (ListImports found none with its ClientToken)",
        "LimitExceededException": "too many imports are running in this account; re-run later",
    }
    return hints.get(code)


def find_own_import(dynamodb: Any, table: str, token: str) -> Optional[Dict[str, Any]]:
    """The import of `table` that carries our ClientToken (ListImports, then DescribeImport).

    For a lost ImportTable answer older than the token's 8 hours. None when there is none or
    the endpoint has no ListImports (moto).
    """
    try:
        arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
        kwargs: Dict[str, Any] = {"TableArn": arn}
        while True:
            page = dynamodb.list_imports(**kwargs)
            for summary in page.get("ImportSummaryList", []):
                described = dynamodb.describe_import(ImportArn=summary["ImportArn"])
                if described["ImportTableDescription"].get("ClientToken") == token:
                    return described["ImportTableDescription"]
            if not page.get("NextToken"):
                return None
            kwargs["NextToken"] = page["NextToken"]
    except Exception:  # no such table, no ListImports (moto), no permission: not found
        return None


def import_report(
    marker: Dict[str, Any], description: Dict[str, Any], prefix: str
) -> Dict[str, Any]:
    """The report's `import` section: what was staged under `prefix` and what DynamoDB said."""
    return {
        "import_arn": marker["import_arn"],
        "status": description.get("ImportStatus"),
        "staged_items": marker["items"],
        "staged_objects": marker["objects"],
        "staged_bytes": marker["bytes"],
        "imported_items": description.get("ImportedItemCount"),
        "error_count": description.get("ErrorCount"),
        "failure_code": description.get("FailureCode"),
        "failure_message": description.get("FailureMessage"),
        "prefix": prefix,
    }
