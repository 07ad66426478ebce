"""EventsManifest against moto's server: Snowplow's manifest spec, item for item."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from populator.core.manifest import (
    CONDITION,
    EventsManifest,
    ManifestTableError,
    build_create_table_request,
    build_put_request,
)
from tests.support.job_inputs import create_table_keyed_on

EID = "c6ef3124-b53a-4b13-a233-0088f79dcbcb"
FP = "AADCE520E20C2899F4CED228A79A3083"


@pytest.fixture
def manifest(dynamodb, unique_name) -> EventsManifest:
    table = EventsManifest(dynamodb, unique_name("manifest"))
    table.create()
    return table


def test_put_request_is_exactly_the_shredders() -> None:
    assert build_put_request("t", EID, FP, 1485388885) == {
        "TableName": "t",
        "Item": {
            "eventId": {"S": EID},
            "fingerprint": {"S": FP},
            "etlTime": {"N": "1485388885"},
            "ttl": {"N": "1500940885"},
        },
        "ConditionExpression": (
            "(attribute_not_exists(eventId) AND attribute_not_exists(fingerprint))"
            " OR etlTime = :tst"
        ),
        "ExpressionAttributeValues": {":tst": {"N": "1485388885"}},
    }
    assert CONDITION in str(build_put_request("t", EID, FP, 1))


def test_create_request_is_on_demand_unless_capacity_given() -> None:
    assert build_create_table_request("t")["BillingMode"] == "PAY_PER_REQUEST"
    provisioned = build_create_table_request("t", 100, 100)
    assert provisioned["ProvisionedThroughput"] == {
        "ReadCapacityUnits": 100,
        "WriteCapacityUnits": 100,
    }
    with pytest.raises(ValueError):
        build_create_table_request("t", 100, None)


def test_snowplow_manifest_spec(manifest: EventsManifest) -> None:
    # The shredder's spec: first put stores, same batch re-put passes, other batch is a duplicate.
    assert manifest.put(EID, FP, "2017-01-26 00:01:25.292") is True
    assert manifest.get(EID, FP) == {
        "eventId": {"S": EID},
        "fingerprint": {"S": FP},
        "etlTime": {"N": "1485388885"},
        "ttl": {"N": "1500940885"},
    }
    assert manifest.put(EID, FP, "2017-01-26 00:01:25.292") is True
    assert manifest.put(EID, FP, "2017-01-26 00:01:25.999") is True  # same second
    assert manifest.put(EID, FP, "2017-01-26 00:01:26.000") is False
    assert manifest.get(EID, FP)["etlTime"] == {"N": "1485388885"}
    assert manifest.put(EID, "other-fingerprint", "2017-01-26 00:01:26.000") is True
    when = datetime(2017, 1, 26, 0, 1, 25, 292000, tzinfo=timezone.utc)
    assert manifest.put(EID, FP, when) is True


def test_create_enables_ttl_and_is_harmless_twice(manifest: EventsManifest) -> None:
    assert manifest.ttl_enabled()
    assert manifest.create() is False
    description = manifest.check()
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_provisioned_capacity(dynamodb, unique_name) -> None:
    table = EventsManifest(dynamodb, unique_name("manifest"))
    assert table.create(read_capacity=100, write_capacity=100) is True
    throughput = table.check()["ProvisionedThroughput"]
    assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (100, 100)


def test_check_refuses_missing_and_foreign_tables(dynamodb, unique_name) -> None:
    missing = EventsManifest(dynamodb, unique_name("missing"))
    with pytest.raises(ManifestTableError, match="does not exist"):
        missing.check()
    name = create_table_keyed_on(dynamodb, unique_name("foreign"), "RunId")
    with pytest.raises(ManifestTableError, match=r"key schema \[RunId \(HASH, S\)\]"):
        EventsManifest(dynamodb, name).check()
    with pytest.raises(ManifestTableError):
        EventsManifest(dynamodb, name).create()


def test_ttl_disabled_table_is_reported(dynamodb, unique_name) -> None:
    name = unique_name("nottl")
    dynamodb.create_table(**build_create_table_request(name))
    assert EventsManifest(dynamodb, name).ttl_enabled() is False


def test_put_outcome_is_the_one_reading_of_an_answer(dynamodb, unique_name) -> None:
    from populator.core.manifest import NEW, PRESENT, UNCHANGED, put_outcome

    assert put_outcome(None, {}) == NEW
    assert put_outcome(None, {"Attributes": {"eventId": {"S": "e"}}}) == UNCHANGED
    assert put_outcome("ConditionalCheckFailedException") == PRESENT
    assert put_outcome("ProvisionedThroughputExceededException") is None  # the caller raises
    # And what moto answers reads the same way.
    table = unique_name("manifest")
    EventsManifest(dynamodb, table).create()
    request = build_put_request(table, "e", "f", 1485388885)
    first = dynamodb.put_item(ReturnValues="ALL_OLD", **request)
    again = dynamodb.put_item(ReturnValues="ALL_OLD", **request)
    assert (put_outcome(None, first), put_outcome(None, again)) == (NEW, UNCHANGED)
    assert EventsManifest(dynamodb, table).put("e", "f", 1485388999) is False
