"""The events-manifest table the Snowplow shredder reads: create, check and conditional put.

The request builders are pure so the exact wire format is testable; `EventsManifest` only sends.
Cluster code: Python 3.9; botocore errors are recognised by shape, not imported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, Mapping, Optional, Union

from populator.core.events import etl_time, ttl

HASH_KEY = "eventId"
RANGE_KEY = "fingerprint"
ETL_TIME = "etlTime"
TTL_ATTRIBUTE = "ttl"
CONDITION = (
    f"(attribute_not_exists({HASH_KEY}) AND attribute_not_exists({RANGE_KEY})) OR {ETL_TIME} = :tst"
)
CONDITION_FAILED = "ConditionalCheckFailedException"
# What a manifest PutItem found (see put_outcome):
NEW = "new"  # no item before
UNCHANGED = "unchanged"  # the same item was there (a re-run of the same batch)
PRESENT = "present"  # another batch's etlTime is stored: a duplicate, left alone
KEY_SCHEMA = [
    {"AttributeName": HASH_KEY, "KeyType": "HASH"},
    {"AttributeName": RANGE_KEY, "KeyType": "RANGE"},
]
ATTRIBUTE_DEFINITIONS = [
    {"AttributeName": HASH_KEY, "AttributeType": "S"},
    {"AttributeName": RANGE_KEY, "AttributeType": "S"},
]


class ManifestTableError(Exception):
    """The table cannot safely take manifest writes (missing, not ACTIVE, wrong keys)."""


def build_put_request(
    table: str, event_id: str, fingerprint: str, etl_time_seconds: int
) -> Dict[str, Any]:
    """The exact PutItem the shredder issues: new item, or a re-run of the same batch."""
    seconds = str(int(etl_time_seconds))
    return {
        "TableName": table,
        "Item": {
            HASH_KEY: {"S": event_id},
            RANGE_KEY: {"S": fingerprint},
            ETL_TIME: {"N": seconds},
            TTL_ATTRIBUTE: {"N": str(ttl(int(etl_time_seconds)))},
        },
        "ConditionExpression": CONDITION,
        "ExpressionAttributeValues": {":tst": {"N": seconds}},
    }


def put_outcome(
    error_code: Optional[str] = None, answer: Optional[Mapping[str, Any]] = None
) -> Optional[str]:
    """The one reading of a manifest PutItem's answer, for every sender.

    `error_code`: the AWS error code when the call failed, else None; `answer`: the decoded
    body of a successful call (sent with ReturnValues=ALL_OLD to tell a re-run from a new
    item). A failed condition is PRESENT; success is UNCHANGED when an old item came back,
    else NEW. None means the answer is an error the caller must raise (or retry).
    """
    if error_code:
        return PRESENT if error_code == CONDITION_FAILED else None
    return UNCHANGED if answer and answer.get("Attributes") else NEW


def build_create_table_request(
    table: str, read_capacity: Optional[int] = None, write_capacity: Optional[int] = None
) -> Dict[str, Any]:
    """On-demand unless both capacities are given (a backfill's load is bursty)."""
    request: Dict[str, Any] = {
        "TableName": table,
        "KeySchema": KEY_SCHEMA,
        "AttributeDefinitions": ATTRIBUTE_DEFINITIONS,
    }
    if read_capacity is None and write_capacity is None:
        request["BillingMode"] = "PAY_PER_REQUEST"
    else:
        if read_capacity is None or write_capacity is None:
            raise ValueError("give both read and write capacity, or neither for on-demand")
        request["BillingMode"] = "PROVISIONED"
        request["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(read_capacity),
            "WriteCapacityUnits": int(write_capacity),
        }
    return request


def key_schema_problem(description: Dict[str, Any]) -> Optional[str]:
    """Why a DescribeTable answer is not a manifest table, or None when it is one."""
    keys = {k["AttributeName"]: k["KeyType"] for k in description.get("KeySchema", [])}
    types = {
        a["AttributeName"]: a["AttributeType"] for a in description.get("AttributeDefinitions", [])
    }
    expected = {HASH_KEY: "HASH", RANGE_KEY: "RANGE"}
    if keys != expected or types.get(HASH_KEY) != "S" or types.get(RANGE_KEY) != "S":
        found = ", ".join(f"{name} ({kind}, {types.get(name, '?')})" for name, kind in keys.items())
        return (
            f"has key schema [{found}]; an events manifest needs "
            f"[{HASH_KEY} (HASH, S), {RANGE_KEY} (RANGE, S)]"
        )
    return None


def _code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class EventsManifest:
    """One events-manifest table, reached through a boto3 DynamoDB client."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self.client = dynamodb_client
        self.table_name = table_name

    def describe(self) -> Optional[Dict[str, Any]]:
        try:
            return self.client.describe_table(TableName=self.table_name)["Table"]
        except Exception as error:
            if _code(error) == "ResourceNotFoundException":
                return None
            raise

    def create(
        self, read_capacity: Optional[int] = None, write_capacity: Optional[int] = None
    ) -> bool:
        """Create the table if missing, wait until ACTIVE, enable TTL on `ttl`.

        Returns True when this call created it. Harmless on an existing table (its TTL is
        enabled if it was not; its capacity is left alone).
        """
        request = build_create_table_request(self.table_name, read_capacity, write_capacity)
        created = False
        try:
            self.client.create_table(**request)
            created = True
        except Exception as error:
            if _code(error) != "ResourceInUseException":
                raise
        self.client.get_waiter("table_exists").wait(
            TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        self.check()
        if not self.ttl_enabled():
            self.client.update_time_to_live(
                TableName=self.table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            )
        return created

    def check(self) -> Dict[str, Any]:
        """Raise ManifestTableError unless the table exists, is ACTIVE and has the manifest keys."""
        description = self.describe()
        if description is None:
            raise ManifestTableError(
                f"DynamoDB table '{self.table_name}' does not exist "
                "(let the task create it, or create it with eventId/fingerprint keys)"
            )
        status = description.get("TableStatus")
        if status not in ("ACTIVE", "UPDATING"):  # DynamoDB takes writes while UPDATING
            raise ManifestTableError(
                f"DynamoDB table '{self.table_name}' is {status}, not ACTIVE; retry when it is"
            )
        problem = key_schema_problem(description)
        if problem:
            raise ManifestTableError(
                f"DynamoDB table '{self.table_name}' {problem}: refusing to write to it"
            )
        return description

    def ttl_enabled(self) -> bool:
        """True when DynamoDB expires items on `ttl` (so writing expired items is wasted)."""
        answer = self.client.describe_time_to_live(TableName=self.table_name)
        spec = answer.get("TimeToLiveDescription", {})
        return (
            spec.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
            and spec.get("AttributeName") == TTL_ATTRIBUTE
        )

    def put(self, event_id: str, fingerprint: str, etl_tstamp: Union[str, datetime, int]) -> bool:
        """True: stored (new, or a re-run of the same batch). False: a duplicate from another."""
        seconds = etl_tstamp if isinstance(etl_tstamp, int) else etl_time(etl_tstamp)
        request = build_put_request(self.table_name, event_id, fingerprint, seconds)
        try:
            self.client.put_item(**request)
        except Exception as error:
            if put_outcome(_code(error)) == PRESENT:
                return False
            raise
        return True

    def get(self, event_id: str, fingerprint: str) -> Optional[Dict[str, Any]]:
        answer = self.client.get_item(
            TableName=self.table_name,
            Key={HASH_KEY: {"S": event_id}, RANGE_KEY: {"S": fingerprint}},
            ConsistentRead=True,
        )
        return answer.get("Item")
