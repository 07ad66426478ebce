"""Run manifests: which archive runs were processed, kept in a DynamoDB table.

A drop-in for the Snowplow Python Analytics SDK's ``snowplow_analytics_sdk.run_manifests``
(same table layout: hash key ``RunId`` (S) holding the run's full key prefix such as
``enriched/archive/run=2017-01-26-00-01-25/``; same functions and ``RunManifests`` class), so
tables written by either tool are read by the other. Differences from the SDK, all fixes:

- run folders are recognised by an exact ``run=`` prefix and a real UTC timestamp (the SDK's
  ``lstrip('run=')`` strips characters, not a prefix);
- Glacier detection looks at every data file of the run (all pages), counts DEEP_ARCHIVE too
  and ignores ``_SUCCESS``/hidden/empty objects (the SDK looked at the first 3 keys only and
  crashed on an empty listing);
- ``create()`` also waits when the table already exists (it may still be CREATING) and
  checks its key schema; reads are strongly consistent, so ``add`` then ``contains`` agree.

Additions: ``add`` records ``AddedAt`` (N, epoch seconds) and ``AddedBy`` (S) next to
``RunId`` (readers of the SDK only look at ``RunId``); ``contains_many`` checks thousands of
runs with ``BatchGetItem`` (100 keys a call); ``list`` returns every recorded run id.
"""

from __future__ import annotations

import collections
import re
import time
from datetime import datetime
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Set, Tuple

from botocore.exceptions import ClientError

from populator.core.archive import (
    GLACIER_CLASSES,
    RUN_FOLDER_PREFIX,
    is_data_file,
    list_runs,
    parse_run_id,
)
from populator.core.location import parse_s3_uri
from populator.core.retry import full_jitter
from populator.core.s3io import list_objects

__all__ = [
    "ADDED_AT_ATTRIBUTE",
    "ADDED_BY_ATTRIBUTE",
    "BATCH_GET_LIMIT",
    "DEFAULT_ADDED_BY",
    "DYNAMODB_RUNID_ATTRIBUTE",
    "RunManifests",
    "add_to_manifest",
    "clean_dict",
    "create_manifest_table",
    "extract_run_id",
    "is_glacier",
    "is_in_manifest",
    "list_manifest",
    "list_runids",
    "manifest_contains_many",
    "normalize_prefix",
    "split_full_path",
    "table_name_problem",
]

DYNAMODB_RUNID_ATTRIBUTE = "RunId"
ADDED_AT_ATTRIBUTE = "AddedAt"
ADDED_BY_ATTRIBUTE = "AddedBy"
DEFAULT_ADDED_BY = "event-manifest-populator"
BATCH_GET_LIMIT = 100  # BatchGetItem's maximum keys per request

# The SDK's capacity; pass billing_mode="PAY_PER_REQUEST" for on-demand.
_DEFAULT_READ_CAPACITY = 5
_DEFAULT_WRITE_CAPACITY = 5
# Real tables take seconds to become ACTIVE: poll every 2 s for up to 5 min (the waiter's
# default, 20 s x 25, makes every first run wait at least 20 s).
_DEFAULT_WAITER_CONFIG = {"Delay": 2, "MaxAttempts": 150}


# DynamoDB's rule for table names: 3-255 of a-z A-Z 0-9 _ . -
TABLE_NAME_RE = re.compile(r"[a-zA-Z0-9_.-]{3,255}")


def table_name_problem(name: object) -> Optional[str]:
    """Why ``name`` is not a DynamoDB table name, else None (one rule for every option).

    An empty string is a problem, not "no table": it is what an unset shell variable gives.
    """
    if not isinstance(name, str) or not name.strip():
        return "is empty (an unset variable?): give a table name or leave the option out"
    if not TABLE_NAME_RE.fullmatch(name):
        return "is not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -)"
    return None


class RunManifests:
    """The run manifest table ``table_name``, through a boto3 DynamoDB *client*."""

    def __init__(
        self, dynamodb_client: Any, table_name: str, added_by: str = DEFAULT_ADDED_BY
    ) -> None:
        self.dynamodb = dynamodb_client
        self.table_name = table_name
        self.added_by = added_by

    def create(
        self,
        billing_mode: Optional[str] = None,
        read_capacity: int = _DEFAULT_READ_CAPACITY,
        write_capacity: int = _DEFAULT_WRITE_CAPACITY,
    ) -> None:
        """Create the table unless it exists; return once it is ACTIVE."""
        create_manifest_table(
            self.dynamodb,
            self.table_name,
            billing_mode=billing_mode,
            read_capacity=read_capacity,
            write_capacity=write_capacity,
        )

    def add(self, run_id: str, added_by: Optional[str] = None) -> None:
        """Record ``run_id`` as processed (re-adding refreshes AddedAt/AddedBy)."""
        add_to_manifest(self.dynamodb, self.table_name, run_id, added_by=added_by or self.added_by)

    def contains(self, run_id: str) -> bool:
        """Whether ``run_id`` was recorded."""
        return is_in_manifest(self.dynamodb, self.table_name, run_id)

    def contains_many(self, run_ids: Iterable[str]) -> Set[str]:
        """The subset of ``run_ids`` that was recorded (one BatchGetItem per 100 ids)."""
        return manifest_contains_many(self.dynamodb, self.table_name, run_ids)

    def list(self) -> List[str]:
        """Every recorded run id, sorted."""
        return list_manifest(self.dynamodb, self.table_name)


# --- S3 side --------------------------------------------------------------------------------


def list_runids(
    s3_client: Any,
    full_path: str,
    since: Optional[datetime] = None,
    *,
    page_size: int = 1000,
) -> List[str]:
    """Run ids (full key prefixes) of every run under ``full_path`` that is not in Glacier,
    oldest first, listing all pages. ``since`` (optional) keeps runs at or after it.

    >>> list_runids(s3, 's3://acme/enriched/archive/')     # doctest: +SKIP
    ['enriched/archive/run=2017-01-26-00-01-25/', ...]
    """
    split_full_path(full_path)  # the SDK accepts S3 paths only; fail the same way
    runs = list_runs(full_path, s3_client, since, page_size=page_size)
    return [run.prefix for run in runs if not run.glacier]


def split_full_path(path: str) -> Tuple[str, Optional[str]]:
    """``'s3://bucket/a/b'`` -> ``('bucket', 'a/b/')``; bucket only -> ``('bucket', None)``.

    Accepts ``s3://``, ``s3a://`` and ``s3n://``; raises ``ValueError`` otherwise.
    """
    location = parse_s3_uri(path)
    return location.bucket, normalize_prefix(location.prefix)


def is_glacier(s3_client: Any, bucket: str, prefix: str) -> bool:
    """Whether any data file under ``prefix`` is in GLACIER or DEEP_ARCHIVE (all pages;
    ``_SUCCESS``, hidden, empty objects and folder markers do not count)."""
    folder = normalize_prefix(prefix) or ""
    for obj in list_objects(s3_client, bucket, folder):
        if obj.get("StorageClass") in GLACIER_CLASSES and is_data_file(
            obj["Key"][len(folder) :], int(obj.get("Size", 0))
        ):
            return True
    return False


def extract_run_id(key: str) -> Optional[str]:
    """``key`` itself when its last folder is ``run=YYYY-MM-DD-HH-MM-SS/``, else ``None``.

    >>> extract_run_id('shredded-archive/run=2012-12-11-01-11-33/')
    'shredded-archive/run=2012-12-11-01-11-33/'
    >>> extract_run_id('shredded-archive/run=2012-12-11-01-11-33') is None
    True
    >>> extract_run_id('shredded-archive/run=2012-13-11-01-11-33/') is None
    True
    """
    if not isinstance(key, str) or not key.endswith("/"):
        return None
    folder = key[:-1].rpartition("/")[2]
    if folder.startswith(RUN_FOLDER_PREFIX) and parse_run_id(folder) is not None:
        return key
    return None


def normalize_prefix(path: Optional[str]) -> Optional[str]:
    """Add a trailing slash; ``None``, ``''`` and ``'/'`` (bucket root) become ``None``.

    >>> normalize_prefix('somepath')
    'somepath/'
    >>> normalize_prefix('somepath/')
    'somepath/'
    """
    if path is None or path in ("", "/"):
        return None
    return path if path.endswith("/") else path + "/"


def clean_dict(dictionary: Dict[Any, Any]) -> Dict[Any, Any]:
    """A copy without the keys whose value is ``None`` (for optional boto3 arguments).

    >>> clean_dict({'key': None, 'empty_s': ''})
    {'empty_s': ''}
    """
    return {k: v for k, v in dictionary.items() if v is not None}


# --- DynamoDB side --------------------------------------------------------------------------


def _key(run_id: str) -> Dict[str, Dict[str, str]]:
    if not isinstance(run_id, str) or not run_id:
        raise ValueError(f"run id must be a non-empty string, not {run_id!r}")
    return {DYNAMODB_RUNID_ATTRIBUTE: {"S": run_id}}


def create_manifest_table(
    dynamodb_client: Any,
    table_name: str,
    billing_mode: Optional[str] = None,
    read_capacity: int = _DEFAULT_READ_CAPACITY,
    write_capacity: int = _DEFAULT_WRITE_CAPACITY,
    waiter_config: Optional[Dict[str, int]] = None,
) -> None:
    """Create the manifest table (hash key ``RunId`` S) unless it exists; wait until ACTIVE.

    Default: provisioned 5 RCU / 5 WCU like the SDK; ``billing_mode='PAY_PER_REQUEST'`` for
    on-demand. An existing table is kept as is, but must have the ``RunId`` (S) hash key.
    """
    request: Dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": [{"AttributeName": DYNAMODB_RUNID_ATTRIBUTE, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": DYNAMODB_RUNID_ATTRIBUTE, "KeyType": "HASH"}],
    }
    if billing_mode in (None, "PROVISIONED"):
        request["ProvisionedThroughput"] = {
            "ReadCapacityUnits": read_capacity,
            "WriteCapacityUnits": write_capacity,
        }
        if billing_mode:
            request["BillingMode"] = billing_mode
    elif billing_mode == "PAY_PER_REQUEST":
        request["BillingMode"] = billing_mode
    else:
        raise ValueError(
            f"billing_mode must be 'PROVISIONED' or 'PAY_PER_REQUEST', not {billing_mode!r}"
        )
    try:
        dynamodb_client.create_table(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
    dynamodb_client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig=waiter_config or _DEFAULT_WAITER_CONFIG
    )
    table = dynamodb_client.describe_table(TableName=table_name)["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    if (
        table["KeySchema"] != [{"AttributeName": DYNAMODB_RUNID_ATTRIBUTE, "KeyType": "HASH"}]
        or types.get(DYNAMODB_RUNID_ATTRIBUTE) != "S"
    ):
        raise ValueError(
            f"table {table_name!r} exists but is not a run manifest: its key must be the "
            f"hash key {DYNAMODB_RUNID_ATTRIBUTE!r} (S), found {table['KeySchema']}"
        )


def add_to_manifest(
    dynamodb_client: Any,
    table_name: str,
    run_id: str,
    added_by: Optional[str] = DEFAULT_ADDED_BY,
    added_at: Optional[int] = None,
) -> None:
    """Record ``run_id`` with ``AddedAt`` (epoch seconds, now by default) and ``AddedBy``."""
    item: Dict[str, Dict[str, str]] = dict(_key(run_id))
    item[ADDED_AT_ATTRIBUTE] = {"N": str(int(time.time()) if added_at is None else added_at)}
    if added_by is not None:
        item[ADDED_BY_ATTRIBUTE] = {"S": added_by}
    dynamodb_client.put_item(TableName=table_name, Item=item)


def is_in_manifest(dynamodb_client: Any, table_name: str, run_id: str) -> bool:
    """Whether ``run_id`` is recorded (strongly consistent read)."""
    response = dynamodb_client.get_item(
        TableName=table_name,
        Key=_key(run_id),
        ConsistentRead=True,
        ProjectionExpression="#r",
        ExpressionAttributeNames={"#r": DYNAMODB_RUNID_ATTRIBUTE},
    )
    return response.get("Item") is not None


def manifest_contains_many(
    dynamodb_client: Any,
    table_name: str,
    run_ids: Iterable[str],
    max_stalls: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> Set[str]:
    """The recorded subset of ``run_ids``: BatchGetItem, 100 distinct keys per call.

    ``UnprocessedKeys`` (throttling, 16 MB responses) go back to the front of the queue after
    an exponential, full-jitter back-off; ``RuntimeError`` after ``max_stalls`` consecutive
    calls that returned nothing at all.
    """
    pending: Deque[str] = collections.deque(dict.fromkeys(run_ids))
    for run_id in pending:
        _key(run_id)
    found: Set[str] = set()
    retries = 0  # consecutive calls leaving keys unprocessed: drives the back-off
    stalls = 0  # consecutive calls that made no progress: gives up
    while pending:
        chunk = [pending.popleft() for _ in range(min(BATCH_GET_LIMIT, len(pending)))]
        response = dynamodb_client.batch_get_item(
            RequestItems={
                table_name: {
                    "Keys": [_key(run_id) for run_id in chunk],
                    "ConsistentRead": True,
                    "ProjectionExpression": "#r",
                    "ExpressionAttributeNames": {"#r": DYNAMODB_RUNID_ATTRIBUTE},
                }
            }
        )
        for item in response.get("Responses", {}).get(table_name, []):
            found.add(item[DYNAMODB_RUNID_ATTRIBUTE]["S"])
        unprocessed = [
            key[DYNAMODB_RUNID_ATTRIBUTE]["S"]
            for key in response.get("UnprocessedKeys", {}).get(table_name, {}).get("Keys", [])
        ]
        if not unprocessed:
            retries = stalls = 0
            continue
        stalls = stalls + 1 if len(unprocessed) >= len(chunk) else 0
        if stalls >= max_stalls:
            raise RuntimeError(
                f"BatchGetItem on {table_name!r} left {len(unprocessed)} keys unprocessed "
                f"{stalls} times in a row; giving up"
            )
        pending.extendleft(reversed(unprocessed))
        sleep(full_jitter(retries, 0.05, 5.0))
        retries += 1
    return found


def list_manifest(dynamodb_client: Any, table_name: str) -> List[str]:
    """Every run id in the table, sorted (a paginated, strongly consistent Scan)."""
    run_ids: List[str] = []
    pages = dynamodb_client.get_paginator("scan").paginate(
        TableName=table_name,
        ConsistentRead=True,
        ProjectionExpression="#r",
        ExpressionAttributeNames={"#r": DYNAMODB_RUNID_ATTRIBUTE},
    )
    for page in pages:
        run_ids.extend(item[DYNAMODB_RUNID_ATTRIBUTE]["S"] for item in page.get("Items", []))
    return sorted(run_ids)
