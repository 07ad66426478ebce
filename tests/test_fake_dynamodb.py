"""The fake DynamoDB endpoint must behave like DynamoDB for everything the project relies on.

The honesty test replays one request sequence through boto3 against moto's server and against
FakeDynamoDB and requires identical outcomes; the rest checks what moto cannot do (faults,
latency, capacity, outage), the HTTP layer, and that no server process outlives its handle.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from devkit.fake_dynamodb import (
    DynamoError,
    FakeDynamoDB,
    ServerConfig,
    compile_expression,
)
from tests.conftest import REGION, REPO_ROOT

MANIFEST_CONDITION = (
    "(attribute_not_exists(eventId) AND attribute_not_exists(fingerprint)) OR etlTime = :tst"
)
NO_RETRIES = {"retries": {"total_max_attempts": 1}}
DEFAULTS: Dict[str, Any] = {
    "latency_ms": 0,
    "write_capacity": None,
    "fault_rate": 0.0,
    "faults": [],
    "slow_ms": 2000,
    "seed": 0,
    "outage": False,
    "fault_ops": None,
}

Outcome = Tuple[Any, ...]
# moto still words these with DynamoDB's pre-2020 text (from before empty non-key strings were
# allowed); the fake uses today's. Codes and statuses must still match.
MOTO_OUTDATED_MESSAGES = {"empty hash key", "empty range key"}


def manifest_item(event_id: str, fingerprint: str, etl_time: int) -> Dict[str, Dict[str, str]]:
    return {
        "eventId": {"S": event_id},
        "fingerprint": {"S": fingerprint},
        "etlTime": {"N": str(etl_time)},
        "ttl": {"N": str(etl_time + 15_552_000)},
    }


def put_manifest(client: Any, table: str, item: Dict[str, Any], **extra: Any) -> Dict[str, Any]:
    return client.put_item(
        TableName=table,
        Item=item,
        ConditionExpression=MANIFEST_CONDITION,
        ExpressionAttributeValues={":tst": item["etlTime"]},
        **extra,
    )


def manifest_table(client: Any, table: str) -> Dict[str, Any]:
    return client.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "eventId", "KeyType": "HASH"},
            {"AttributeName": "fingerprint", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "eventId", "AttributeType": "S"},
            {"AttributeName": "fingerprint", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _table_summary(description: Dict[str, Any]) -> Dict[str, Any]:
    """The DescribeTable fields the project reads (the rest legitimately differs)."""
    return {
        "TableName": description["TableName"],
        "TableStatus": description["TableStatus"],
        "KeySchema": description["KeySchema"],
        "AttributeDefinitions": sorted(
            description["AttributeDefinitions"], key=lambda d: d["AttributeName"]
        ),
        "BillingMode": description.get("BillingModeSummary", {}).get("BillingMode"),
        "ItemCount": description["ItemCount"],
        "Throughput": (
            description["ProvisionedThroughput"]["ReadCapacityUnits"],
            description["ProvisionedThroughput"]["WriteCapacityUnits"],
        ),
    }


def _sorted_items(items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return sorted(items, key=lambda i: json.dumps(i, sort_keys=True))


def run_scenario(client: Any, manifest: str, runs: str) -> List[Outcome]:
    """The project's DynamoDB usage as one sequence; each step's outcome, normalised."""
    outcomes: List[Outcome] = []

    def step(
        name: str,
        call: Callable[..., Dict[str, Any]],
        shape: Optional[Callable[[Dict[str, Any]], Any]] = None,
        **kwargs: Any,
    ) -> None:
        try:
            response = call(**kwargs)
        except ClientError as exc:
            error = exc.response["Error"]
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            item = exc.response.get("Item")
            outcomes.append((name, "error", error["Code"], status, item, error["Message"]))
            return
        response.pop("ResponseMetadata", None)
        response.pop("ConsumedCapacity", None)
        outcomes.append((name, "ok", shape(response) if shape else response))

    def scan_all(table: str) -> Dict[str, Any]:
        items: List[Dict[str, Any]] = []
        kwargs: Dict[str, Any] = {"TableName": table, "Limit": 2}
        while True:
            page = client.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return {"Items": _sorted_items(items)}
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    event = "c6ef3124-b53a-4b13-a233-0088f79dcbcb"
    fingerprint = "AADCE520E20C2899F4CED228A79A3083"
    first = manifest_item(event, fingerprint, 1485388885)
    describe = lambda r: _table_summary(r.get("TableDescription") or r["Table"])  # noqa: E731

    step("create manifest", manifest_table, describe, client=client, table=manifest)
    step("describe manifest", client.describe_table, describe, TableName=manifest)
    step("create manifest again", manifest_table, client=client, table=manifest)
    step("ttl before", client.describe_time_to_live, TableName=manifest)
    step(
        "enable ttl",
        client.update_time_to_live,
        TableName=manifest,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )
    step("ttl after", client.describe_time_to_live, TableName=manifest)
    step("new event", put_manifest, client=client, table=manifest, item=first)
    step("same batch re-run", put_manifest, client=client, table=manifest, item=first)
    step(
        "duplicate from another batch",
        put_manifest,
        client=client,
        table=manifest,
        item=manifest_item(event, fingerprint, 1485388999),
    )
    step(
        "duplicate with ALL_OLD on failure",
        put_manifest,
        client=client,
        table=manifest,
        item=manifest_item(event, fingerprint, 1485388999),
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    step(
        "same id, other fingerprint",
        put_manifest,
        client=client,
        table=manifest,
        item=manifest_item(event, "BBBBE520E20C2899F4CED228A79A3083", 1485388999),
    )
    step(
        "re-run with ReturnValues ALL_OLD",
        put_manifest,
        client=client,
        table=manifest,
        item=first,
        ReturnValues="ALL_OLD",
    )
    step(
        "new with ReturnValues ALL_OLD",
        put_manifest,
        client=client,
        table=manifest,
        item=manifest_item("11111111-2222-3333-4444-555555555555", "f", 1485388885),
        ReturnValues="ALL_OLD",
    )
    step(
        "condition with placeholder names",
        client.put_item,
        TableName=manifest,
        Item=manifest_item("22222222-2222-3333-4444-555555555555", "f", 1),
        ConditionExpression="attribute_not_exists(#e)",
        ExpressionAttributeNames={"#e": "eventId"},
    )
    step(
        "get existing",
        client.get_item,
        TableName=manifest,
        Key={"eventId": {"S": event}, "fingerprint": {"S": fingerprint}},
    )
    step(
        "get missing",
        client.get_item,
        TableName=manifest,
        Key={"eventId": {"S": "nope"}, "fingerprint": {"S": fingerprint}},
    )
    step(
        "get projected",
        client.get_item,
        TableName=manifest,
        Key={"eventId": {"S": event}, "fingerprint": {"S": fingerprint}},
        ProjectionExpression="etlTime, #t",
        ExpressionAttributeNames={"#t": "ttl"},
    )
    step(
        "batch write",
        client.batch_write_item,
        lambda r: {"UnprocessedItems": r["UnprocessedItems"]},
        RequestItems={
            manifest: [
                {"PutRequest": {"Item": manifest_item(f"batch-{i}", "f", 1485388885 + i)}}
                for i in range(3)
            ]
        },
    )
    step(
        "batch get",
        client.batch_get_item,
        lambda r: {t: _sorted_items(items) for t, items in r["Responses"].items()},
        RequestItems={
            manifest: {
                "Keys": [
                    {"eventId": {"S": "batch-1"}, "fingerprint": {"S": "f"}},
                    {"eventId": {"S": event}, "fingerprint": {"S": fingerprint}},
                    {"eventId": {"S": "absent"}, "fingerprint": {"S": "f"}},
                ]
            }
        },
    )
    outcomes.append(("scan", "ok", scan_all(manifest)))
    step("describe with items", client.describe_table, describe, TableName=manifest)
    bad = manifest_item(event, fingerprint, 1)
    step("empty hash key", client.put_item, TableName=manifest, Item={**bad, "eventId": {"S": ""}})
    step(
        "empty range key",
        client.put_item,
        TableName=manifest,
        Item={**bad, "fingerprint": {"S": ""}},
    )
    step("missing range key", client.put_item, TableName=manifest, Item={"eventId": {"S": "x"}})
    step(
        "key type mismatch",
        client.put_item,
        TableName=manifest,
        Item={**bad, "eventId": {"N": "1"}},
    )
    step(
        "hash key over 2048 bytes",
        client.put_item,
        TableName=manifest,
        Item={**bad, "eventId": {"S": "x" * 2049}},
    )
    step(
        "range key over 1024 bytes",
        client.put_item,
        TableName=manifest,
        Item={**bad, "fingerprint": {"S": "x" * 1025}},
    )
    step(
        "reserved word unescaped",
        client.put_item,
        TableName=manifest,
        Item=bad,
        ConditionExpression="attribute_not_exists(ttl)",
    )
    step(
        "invalid ReturnValues",
        client.put_item,
        TableName=manifest,
        Item=bad,
        ReturnValues="ALL_NEW",
    )
    missing = manifest + "-missing"
    step("describe missing table", client.describe_table, TableName=missing)
    step("put into missing table", put_manifest, client=client, table=missing, item=first)
    step("get from missing table", client.get_item, TableName=missing, Key={"e": {"S": "x"}})
    step("scan missing table", client.scan, TableName=missing)
    # The run manifest: one item per processed run, written once.
    step(
        "create run manifest",
        client.create_table,
        describe,
        TableName=runs,
        KeySchema=[{"AttributeName": "RunId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "RunId", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 100, "WriteCapacityUnits": 100},
    )
    for attempt in ("first", "second"):
        step(
            f"record run ({attempt})",
            client.put_item,
            TableName=runs,
            Item={"RunId": {"S": "run=2017-01-26-00-01-25"}, "AddedAt": {"N": "1485388885"}},
            ConditionExpression="attribute_not_exists(RunId)",
        )
    step(
        "list tables",
        client.list_tables,
        lambda r: sorted(n for n in r["TableNames"] if n in (manifest, runs)),
    )
    step("delete run manifest", client.delete_table, lambda r: "deleted", TableName=runs)
    step("describe deleted", client.describe_table, TableName=runs)
    return outcomes


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDynamoDB]:
    with FakeDynamoDB() as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_fake(request: pytest.FixtureRequest) -> None:
    """Every test starts from an empty fake with default settings."""
    if "fake" in request.fixturenames:
        server: FakeDynamoDB = request.getfixturevalue("fake")
        server.configure(**DEFAULTS)
        server.reset()


@pytest.fixture
def client(fake: FakeDynamoDB) -> Any:
    return fake.client(**NO_RETRIES)


def test_same_outcomes_as_moto(
    dynamodb: Any, fake: FakeDynamoDB, unique_name: Callable[[str], str]
) -> None:
    manifest, runs = unique_name("manifest"), unique_name("runs")
    expected = run_scenario(dynamodb, manifest, runs)
    actual = run_scenario(fake.client(**NO_RETRIES), manifest, runs)
    assert [o[:2] for o in actual] == [o[:2] for o in expected]
    for want, got in zip(expected, actual):
        if want[0] in MOTO_OUTDATED_MESSAGES:
            want, got = want[:-1], got[:-1]
        assert got == want, want[0]
    # And they are right, not merely equal:
    outcome = dict((o[0], o[1:]) for o in actual)
    assert outcome["same batch re-run"] == ("ok", {})
    assert outcome["duplicate from another batch"][:3] == (
        "error",
        "ConditionalCheckFailedException",
        400,
    )
    assert outcome["duplicate with ALL_OLD on failure"][3]["etlTime"] == {"N": "1485388885"}
    assert outcome["re-run with ReturnValues ALL_OLD"][1]["Attributes"]["ttl"] == {
        "N": "1500940885"
    }
    assert outcome["empty hash key"][1] == "ValidationException"
    assert outcome["record run (second)"][1] == "ConditionalCheckFailedException"
    assert len(outcome["scan"][1]["Items"]) == 7


def test_errors_are_real_dynamodb_json(fake: FakeDynamoDB) -> None:
    """Wire format seen by hand-built clients: __type, message, request id and a valid crc32."""
    body = json.dumps({"TableName": "nope", "Key": {"k": {"S": "x"}}}).encode()
    status, headers, payload = raw_request(fake, "GetItem", body)
    assert status == 400
    assert json.loads(payload) == {
        "__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
        "message": "Requested resource not found",
    }
    assert headers["x-amz-crc32"] == str(zlib.crc32(payload))
    assert headers["x-amzn-requestid"]


def test_conditional_failure_body(fake: FakeDynamoDB, client: Any) -> None:
    manifest_table(client, "manifest")
    put_manifest(client, "manifest", manifest_item("e", "f", 1))
    body = json.dumps(
        {
            "TableName": "manifest",
            "Item": manifest_item("e", "f", 2),
            "ConditionExpression": MANIFEST_CONDITION,
            "ExpressionAttributeValues": {":tst": {"N": "2"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    ).encode()
    status, _, payload = raw_request(fake, "PutItem", body)
    assert status == 400
    assert json.loads(payload) == {
        "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        "message": "The conditional request failed",
        "Item": manifest_item("e", "f", 1),
    }


def test_numbers_compare_numerically(client: Any) -> None:
    manifest_table(client, "manifest")
    put_manifest(client, "manifest", manifest_item("e", "f", 100))
    client.put_item(
        TableName="manifest",
        Item=manifest_item("e", "f", 100),
        ConditionExpression=MANIFEST_CONDITION,
        ExpressionAttributeValues={":tst": {"N": "1.00E2"}},
    )
    client.put_item(TableName="manifest", Item={**manifest_item("e", "g", 1), "x": {"N": "01.50"}})
    item = client.get_item(
        TableName="manifest", Key={"eventId": {"S": "e"}, "fingerprint": {"S": "g"}}
    )
    assert item["Item"]["x"] == {"N": "1.5"}  # DynamoDB returns numbers canonicalised


@pytest.mark.parametrize(
    ("expression", "item", "expected"),
    [
        (MANIFEST_CONDITION, {}, True),
        (
            "  ( ( attribute_not_exists( eventId ) )and(attribute_not_exists(fingerprint)))"
            "OR etlTime=:tst",
            {"eventId": {"S": "e"}, "etlTime": {"N": "7"}},
            True,
        ),
        (MANIFEST_CONDITION, {"eventId": {"S": "e"}, "etlTime": {"N": "8"}}, False),
        (
            "attribute_exists(eventId) AND NOT etlTime <> :tst",
            {"eventId": {"S": "e"}, "etlTime": {"N": "7.0"}},
            True,
        ),
        (
            "attribute_not_exists(a) OR attribute_not_exists(b) AND attribute_exists(c)",
            {"a": {"S": "x"}},
            False,
        ),  # AND binds tighter than OR
        (":tst = etlTime", {"etlTime": {"S": "7"}}, False),  # types must match
    ],
)
def test_condition_evaluator(expression: str, item: Dict[str, Any], expected: bool) -> None:
    compiled = compile_expression(expression)
    assert bool(compiled.evaluate(item, {}, {":tst": {"N": "7"}})) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "attribute_not_exists(eventId) AND",
        "(attribute_not_exists(eventId)",
        "etlTime < :tst",
        "begins_with(eventId, :tst)",
        "no_such_function(eventId)",
        "a.b = :tst",
        "etlTime BETWEEN :a AND :b",
        "etlTime = = :tst",
        "",
    ],
)
def test_unsupported_or_invalid_expressions_are_validation_errors(expression: str) -> None:
    with pytest.raises(DynamoError) as raised:
        compile_expression(expression)
    assert raised.value.code == "ValidationException"


def test_expression_placeholders_must_match(client: Any) -> None:
    manifest_table(client, "manifest")
    item = manifest_item("e", "f", 1)
    for kwargs in (
        {"ConditionExpression": "etlTime = :x"},
        {
            "ConditionExpression": "attribute_exists(eventId)",
            "ExpressionAttributeValues": {":unused": {"N": "1"}},
        },
        {"ConditionExpression": "attribute_exists(#missing)"},
    ):
        with pytest.raises(ClientError) as raised:
            client.put_item(TableName="manifest", Item=item, **kwargs)
        assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_follows_dynamodb_where_moto_is_lenient(client: Any) -> None:
    manifest_table(client, "manifest")
    too_many = [{"PutRequest": {"Item": manifest_item(str(i), "f", 1)}} for i in range(26)]
    assert (
        _error_code(lambda: client.batch_write_item(RequestItems={"manifest": too_many}))
        == "ValidationException"
    )
    ttl = {"Enabled": True, "AttributeName": "ttl"}
    client.update_time_to_live(TableName="manifest", TimeToLiveSpecification=ttl)
    assert (
        _error_code(
            lambda: client.update_time_to_live(TableName="manifest", TimeToLiveSpecification=ttl)
        )
        == "ValidationException"
    )
    assert _error_code(lambda: manifest_table(client, "ab")) == "ValidationException"


def test_parallel_scan_segments_partition_the_table(client: Any) -> None:
    manifest_table(client, "manifest")
    for i in range(40):
        client.put_item(TableName="manifest", Item=manifest_item(f"e{i}", "f", i))
    seen: List[str] = []
    for segment in range(3):
        kwargs: Dict[str, Any] = {
            "TableName": "manifest",
            "Segment": segment,
            "TotalSegments": 3,
            "Limit": 7,
        }
        while True:
            page = client.scan(**kwargs)
            seen.extend(item["eventId"]["S"] for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert sorted(seen) == sorted(f"e{i}" for i in range(40))
    assert client.scan(TableName="manifest", Select="COUNT")["Count"] == 40


# -------------------------------------------------------------------------------------------
# Faults, latency, capacity, outage
# -------------------------------------------------------------------------------------------


def _error_code(call: Callable[[], Any]) -> Optional[str]:
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return None


def test_throttle_fault(fake: FakeDynamoDB, client: Any) -> None:
    manifest_table(client, "manifest")
    fake.configure(fault_rate=1.0, faults=["throttle"])
    with pytest.raises(ClientError) as raised:
        put_manifest(client, "manifest", manifest_item("e", "f", 1))
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Reads are not faulted unless fault_ops says so; the throttled write did not happen.
    key = {"eventId": {"S": "e"}, "fingerprint": {"S": "f"}}
    assert "Item" not in client.get_item(TableName="manifest", Key=key)
    fake.configure(fault_ops=["GetItem"])
    assert _error_code(lambda: client.get_item(TableName="manifest", Key=key)) == (
        "ThrottlingException"
    )
    assert fake.stats()["faults"]["throttle"] == 2


def test_server_error_fault(fake: FakeDynamoDB, client: Any) -> None:
    manifest_table(client, "manifest")
    fake.configure(fault_rate=1.0, faults=["server_error"])
    with pytest.raises(ClientError) as raised:
        put_manifest(client, "manifest", manifest_item("e", "f", 1))
    assert raised.value.response["Error"]["Code"] == "InternalServerError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_drop_fault_closes_without_answer(fake: FakeDynamoDB, client: Any) -> None:
    manifest_table(client, "manifest")
    fake.configure(fault_rate=1.0, faults=["drop"])
    with pytest.raises(ConnectionClosedError):
        put_manifest(client, "manifest", manifest_item("e", "f", 1))
    fake.configure(fault_rate=0.0, faults=[])
    assert fake.stats()["tables"]["manifest"] == 0  # dropped before being applied
    put_manifest(client, "manifest", manifest_item("e", "f", 1))  # the client reconnects


def test_slow_fault(fake: FakeDynamoDB, client: Any) -> None:
    manifest_table(client, "manifest")
    fake.configure(fault_rate=1.0, faults=["slow"], slow_ms=300)
    started = time.perf_counter()
    put_manifest(client, "manifest", manifest_item("e", "f", 1))
    assert time.perf_counter() - started >= 0.3
    impatient = fake.client(read_timeout=0.1, **NO_RETRIES)
    with pytest.raises(ReadTimeoutError):
        put_manifest(impatient, "manifest", manifest_item("e", "f", 1))


def test_fault_rate_is_reproducible_with_a_seed(fake: FakeDynamoDB, client: Any) -> None:
    def sequence() -> List[Optional[str]]:
        fake.reset()
        manifest_table(client, "manifest")
        return [
            _error_code(lambda i=i: put_manifest(client, "manifest", manifest_item(str(i), "f", 1)))
            for i in range(30)
        ]

    fake.configure(fault_rate=0.5, faults=["throttle", "server_error"], seed=7)
    first, second = sequence(), sequence()
    assert first == second
    assert {None, "ThrottlingException", "InternalServerError"} == set(first)


def test_outage_on_and_off(fake: FakeDynamoDB, client: Any) -> None:
    manifest_table(client, "manifest")
    fake.configure(outage=True)
    for _ in range(3):
        assert (
            _error_code(lambda: put_manifest(client, "manifest", manifest_item("e", "f", 1)))
            == "InternalServerError"
        )
    assert client.describe_table(TableName="manifest")["Table"]["ItemCount"] == 0
    fake.configure(outage=False)
    put_manifest(client, "manifest", manifest_item("e", "f", 1))
    assert fake.stats()["faults"]["outage"] == 3


def test_latency_does_not_serialise_requests(fake: FakeDynamoDB) -> None:
    client = fake.client(max_pool_connections=32, **NO_RETRIES)
    manifest_table(client, "manifest")
    fake.configure(latency_ms=50)

    def put(i: int) -> None:
        put_manifest(client, "manifest", manifest_item(str(i), "f", 1))

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(put, range(20)))  # warm the connection pool
        started = time.perf_counter()
        list(pool.map(put, range(20, 40)))
        elapsed = time.perf_counter() - started
    assert 0.05 <= elapsed < 0.6, elapsed


def test_write_capacity_throttles_above_the_rate(fake: FakeDynamoDB, client: Any) -> None:
    manifest_table(client, "manifest")
    fake.configure(write_capacity=20)
    started = time.perf_counter()
    codes = [
        _error_code(lambda i=i: put_manifest(client, "manifest", manifest_item(str(i), "f", 1)))
        for i in range(60)
    ]
    elapsed = time.perf_counter() - started
    accepted = codes.count(None)
    assert set(codes) == {None, "ProvisionedThroughputExceededException"}
    assert 20 <= accepted <= 20 + 20 * elapsed + 1
    # A failed conditional write still consumes capacity: 40 of them drain the 20-write burst.
    time.sleep(1.05)
    before = fake.stats()["outcomes"]
    for _ in range(40):
        _error_code(lambda: put_manifest(client, "manifest", manifest_item("0", "f", 2)))
    after = fake.stats()["outcomes"]
    assert after["conditional_failed"] - before["conditional_failed"] >= 20
    assert after["throttled"] > before["throttled"]
    # BatchWriteItem hands back what it could not write.
    time.sleep(0.3)  # about 6 tokens
    response = client.batch_write_item(
        RequestItems={
            "manifest": [
                {"PutRequest": {"Item": manifest_item(f"b{i}", "f", 1)}} for i in range(25)
            ]
        }
    )
    assert 0 < len(response["UnprocessedItems"]["manifest"]) < 25


def test_stats_and_reset(fake: FakeDynamoDB, client: Any) -> None:
    manifest_table(client, "manifest")
    put_manifest(client, "manifest", manifest_item("e", "f", 1))
    _error_code(lambda: put_manifest(client, "manifest", manifest_item("e", "f", 2)))
    _error_code(lambda: client.describe_table(TableName="absent"))
    stats = fake.stats()
    assert stats["operations"]["PutItem"] == {"total": 2, "ok": 1, "conditional_failed": 1}
    assert stats["operations"]["DescribeTable"] == {"total": 1, "client_error": 1}
    assert stats["outcomes"]["ok"] == 2
    assert stats["outcomes"]["internal_error"] == 0
    assert stats["connections"]["opened"] >= 1
    assert stats["write_units"] == 2
    assert stats["tables"] == {"manifest": 1}
    assert stats["cpu_seconds"] >= 0 and stats["pid"] == fake.pid
    fake.reset()
    assert fake.stats()["tables"] == {} and fake.stats()["requests"] == 0


def test_configure_validates_settings(fake: FakeDynamoDB) -> None:
    with pytest.raises(ValueError, match="unknown faults"):
        fake.configure(fault_rate=0.1, faults=["explode"])
    with pytest.raises(ValueError, match="needs at least one fault"):
        fake.configure(fault_rate=0.1)
    with pytest.raises(ValueError, match="unknown settings"):
        fake.configure(latencyms=3)
    with pytest.raises(ValueError):
        FakeDynamoDB(fault_rate=2.0, faults=["throttle"])
    assert ServerConfig().updated({"write_capacity": 0}).write_capacity is None
    assert fake.config()["fault_rate"] == 0.0  # rejected changes left nothing behind


# -------------------------------------------------------------------------------------------
# HTTP layer
# -------------------------------------------------------------------------------------------


def _read_response(stream: Any) -> Tuple[int, Dict[str, str], bytes]:
    status = int(stream.readline().split()[1])
    headers: Dict[str, str] = {}
    while (line := stream.readline()) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, stream.read(int(headers.get("content-length", 0)))


def _request_bytes(op: str, body: bytes, *extra: str, chunked: bool = False) -> bytes:
    lines = [
        "POST / HTTP/1.1",
        "Host: localhost",
        f"X-Amz-Target: DynamoDB_20120810.{op}",
        "Content-Type: application/x-amz-json-1.0",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/dynamodb/"
        "aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=deadbeef",
        "X-Amz-Date: 20240101T000000Z",
        *extra,
    ]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = (
            b"".join(
                b"%x\r\n%s\r\n" % (len(body[i : i + 7]), body[i : i + 7])
                for i in range(0, len(body), 7)
            )
            + b"0\r\n\r\n"
        )
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def raw_request(fake: FakeDynamoDB, op: str, body: bytes) -> Tuple[int, Dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
        sock.sendall(_request_bytes(op, body, "Connection: close"))
        return _read_response(sock.makefile("rb"))


def test_http_keep_alive_pipelining_chunked_and_expect(fake: FakeDynamoDB) -> None:
    list_body = b"{}"
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
        stream = sock.makefile("rb")
        # Two pipelined requests in one write, answered in order on the same connection.
        sock.sendall(_request_bytes("ListTables", list_body) * 2)
        for _ in range(2):
            status, headers, payload = _read_response(stream)
            assert (status, json.loads(payload)) == (200, {"TableNames": []})
            assert headers["x-amz-crc32"] == str(zlib.crc32(payload))
        # Expect: 100-continue gets its interim answer before the body is sent.
        request = _request_bytes("ListTables", list_body, "Expect: 100-continue")
        head, _, body = request.partition(b"\r\n\r\n")
        sock.sendall(head + b"\r\n\r\n")
        assert stream.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert stream.readline() == b"\r\n"
        sock.sendall(body)
        assert _read_response(stream)[0] == 200
        # Chunked bodies are decoded.
        sock.sendall(_request_bytes("ListTables", b'{"Limit": 5}', chunked=True))
        assert _read_response(stream)[0] == 200
        # Connection: close is honoured.
        sock.sendall(_request_bytes("ListTables", list_body, "Connection: close"))
        status, headers, _ = _read_response(stream)
        assert headers.get("connection") == "close"
        assert stream.read() == b""
    assert fake.stats()["connections"]["opened"] >= 1


def test_malformed_requests(fake: FakeDynamoDB) -> None:
    status, _, payload = raw_request(fake, "NoSuchOperation", b"{}")
    assert status == 400 and b"UnknownOperationException" in payload
    status, _, payload = raw_request(fake, "ListTables", b"{not json")
    assert status == 400 and b"SerializationException" in payload
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
        sock.sendall(b"BROKEN\r\n\r\n")
        assert _read_response(sock.makefile("rb"))[0] == 400
    assert fake.stats()["outcomes"]["internal_error"] == 0


# -------------------------------------------------------------------------------------------
# Lifecycle
# -------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stop_leaves_no_process() -> None:
    started = time.perf_counter()
    server = FakeDynamoDB(latency_ms=1).start()
    assert time.perf_counter() - started < 1.0
    pid = server.pid
    assert pid is not None and _alive(pid)
    server.client().list_tables()
    server.stop()
    assert not _alive(pid)
    server.stop()  # idempotent


def test_server_exits_when_its_parent_goes_away() -> None:
    server = FakeDynamoDB().start()
    assert server.process is not None and server.process.stdin is not None
    server.process.stdin.close()  # what the child sees when this process dies
    server.process.wait(timeout=5)
    server.stop()


def test_in_process_mode() -> None:
    with FakeDynamoDB(in_process=True, write_capacity=5) as server:
        assert server.pid is None
        client = server.client(**NO_RETRIES)
        manifest_table(client, "manifest")
        put_manifest(client, "manifest", manifest_item("e", "f", 1))
        assert server.config()["write_capacity"] == 5
        assert server.stats()["tables"] == {"manifest": 1}
    assert not [t for t in threading.enumerate() if t.name == "fake-dynamodb"]


def test_cli_prints_the_port_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devkit.fake_dynamodb", "--port", "0", "--latency-ms", "1"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("listening on http://127.0.0.1:")
        client = boto3.client(
            "dynamodb",
            endpoint_url=line.split()[-1],
            region_name=REGION,
            config=Config(**NO_RETRIES),
        )
        assert client.list_tables()["TableNames"] == []
    finally:
        process.terminate()
        process.wait(timeout=5)
