"""Storage configs refused field by field: not self-describing, missing, mistyped, extra or
empty fields, the wrong purpose, a region or table AWS would refuse, several at once. Every
message names the file and JSON path and shows no secret, not even as a key name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from populator.launcher.configs import load_resolver_config, validate_configs
from populator.launcher.iglu import ConfigError
from tests.support.configs import (
    ACCESS_KEY,
    CONFIG_ID,
    DROP,
    STORAGE_URI,
    StorageChecks,
    assert_nothing_leaked,
    iglu_central,
    resolver,
    storage,
    write,
)
from tests.support.iglu import MASKED, SECRET, Notices


@pytest.mark.parametrize(
    ("obj", "json_path", "fragment"),
    [
        (
            {"schema": STORAGE_URI + "2-0-0"},
            "$.data",
            "$.data: expected this required key (missing)",
        ),
        (
            dict(storage(), secretAccessKey=SECRET),
            "$",
            "$: expected only the keys schema and data; unexpected: 'secretAccessKey'",
        ),
        (dict(storage(), schema=200), "$.schema", "$.schema: expected a string, got number"),
        (dict(storage(), schema=None), "$.schema", "$.schema: expected a string, got null"),
        (
            dict(storage(), schema="iglu:" + SECRET),
            "$.schema",
            "expected an Iglu schema URI like iglu:com.vendor/name/jsonschema/1-0-0",
        ),
        (
            dict(storage(), schema=STORAGE_URI + "2-0"),
            "$.schema",
            "got a string that is not one",
        ),
        (
            [storage()],
            "$",
            '$: expected a self-describing JSON object {"schema": …, "data": …}, got array',
        ),
        (json.dumps(SECRET), "$", "got string"),
    ],
    ids=[
        "missing-data",
        "extra-top-key",
        "schema-number",
        "schema-null",
        "secret-as-uri",
        "bad-uri",
        "array",
        "string",
    ],
)
def test_not_self_describing(
    obj: Any, json_path: str, fragment: str, checks: StorageChecks
) -> None:
    error = checks.refused(obj, json_path, fragment)
    if json_path != "$" or "unexpected" in fragment:
        assert 'self-describing JSON: {"schema": "iglu:…", "data": {…}}' in str(error)


@pytest.mark.parametrize(
    ("version", "field"),
    [
        ("2-0-0", "name"),
        ("2-0-0", "auth"),
        ("2-0-0", "id"),
        ("2-0-0", "purpose"),
        ("1-0-0", "secretAccessKey"),
        ("1-0-1", "dynamodbTable"),
        ("1-0-1", "awsRegion"),
    ],
)
def test_missing_field(version: str, field: str, checks: StorageChecks) -> None:
    error = checks.refused(storage(version, **{field: DROP}), f"$.data.{field}")
    assert f"{error.path}: $.data.{field}: expected this required field (missing)." in str(error)


def test_missing_field_inside_auth(checks: StorageChecks) -> None:
    checks.refused(
        storage(auth={"secretAccessKey": SECRET}),
        "$.data.auth.accessKeyId",
        "expected this required field (missing)",
    )


@pytest.mark.parametrize(
    ("version", "changes", "json_path", "fragment"),
    [
        # The secret as a number right next to the field: neither number nor text is shown.
        (
            "1-0-0",
            {"secretAccessKey": 987654321098765432109876},
            "$.data.secretAccessKey",
            "expected a string, got number",
        ),
        (
            "1-0-1",
            {"accessKeyId": 31415926535},
            "$.data.accessKeyId",
            "expected a string, got number",
        ),
        (
            "2-0-0",
            {"auth": {"accessKeyId": ACCESS_KEY, "secretAccessKey": 987654321098765432109876}},
            "$.data.auth.secretAccessKey",
            "expected a string, got number",
        ),
        ("2-0-0", {"auth": SECRET}, "$.data.auth", "expected an object or null, got string"),
        (
            "2-0-0",
            {"auth": [ACCESS_KEY, SECRET]},
            "$.data.auth",
            "expected an object or null, got array",
        ),
        ("2-0-0", {"awsRegion": True}, "$.data.awsRegion", "expected a string, got boolean"),
        ("2-0-0", {"name": {"secret": SECRET}}, "$.data.name", "expected a string, got object"),
        ("2-0-0", {"id": SECRET}, "$.data.id", "expected a UUID (8-4-4-4-12 hex digits)"),
    ],
)
def test_wrong_type(
    version: str, changes: dict[str, Any], json_path: str, fragment: str, checks: StorageChecks
) -> None:
    error = checks.refused(storage(version, **changes), json_path, fragment)
    for digits in ("987654321098765432109876", "31415926535"):
        assert digits not in str(error)


@pytest.mark.parametrize(
    ("version", "changes", "fragment"),
    [
        ("1-0-0", {"sessionToken": SECRET}, "unexpected: 'sessionToken'"),
        ("1-0-0", {"id": CONFIG_ID}, '"id" needs schema 1-0-1 or 2-0-0.'),
        ("1-0-1", {"auth": None}, '"auth" needs schema 2-0-0'),
        ("2-0-0", {"secretAccessKey": SECRET}, 'In 2-0-0 the keys moved into "auth"'),
    ],
)
def test_extra_field(
    version: str, changes: dict[str, Any], fragment: str, checks: StorageChecks
) -> None:
    checks.refused(
        storage(version, **changes),
        "$.data",
        "$.data: expected only the fields name, ",
        "; unexpected: '" + next(iter(changes)) + "'",
        fragment,
    )


@pytest.mark.parametrize(
    ("version", "purpose", "allowed"),
    [
        ("2-0-0", "DUPLICATE_TRACKING", '"EVENTS_MANIFEST"'),
        ("1-0-0", "EVENTS_MANIFEST", '"DUPLICATE_TRACKING"'),
        ("1-0-1", SECRET, '"DUPLICATE_TRACKING"'),
        ("2-0-0", "events_manifest", '"EVENTS_MANIFEST"'),
    ],
)
def test_wrong_purpose(version: str, purpose: str, allowed: str, checks: StorageChecks) -> None:
    checks.refused(
        storage(version, purpose=purpose),
        "$.data.purpose",
        f"$.data.purpose: expected one of {allowed}, got another string",
        "Schema 2-0-0 is for purpose EVENTS_MANIFEST; 1-0-0 and 1-0-1 for DUPLICATE_TRACKING.",
    )


@pytest.mark.parametrize(
    ("changes", "json_path", "fragment"),
    [
        ({"awsRegion": "US-EAST-1"}, "$.data.awsRegion", "an AWS region code such as us-east-1"),
        ({"awsRegion": "us-east"}, "$.data.awsRegion", "an AWS region code"),
        ({"awsRegion": SECRET}, "$.data.awsRegion", "an AWS region code"),
        ({"dynamodbTable": "ab"}, "$.data.dynamodbTable", "a DynamoDB table name: 3 to 255"),
        ({"dynamodbTable": "my table"}, "$.data.dynamodbTable", "a DynamoDB table name"),
        ({"dynamodbTable": "t" * 256}, "$.data.dynamodbTable", "a DynamoDB table name"),
        ({"dynamodbTable": SECRET}, "$.data.dynamodbTable", "a DynamoDB table name"),
    ],
)
def test_region_and_table_that_aws_would_refuse(
    changes: dict[str, Any], json_path: str, fragment: str, checks: StorageChecks
) -> None:
    checks.refused(storage(**changes), json_path, fragment)


def test_several_problems_are_reported_together(checks: StorageChecks) -> None:
    error = checks.refused(
        storage("1-0-0", name=DROP, purpose="X", awsRegion=5, extra=SECRET, more=SECRET),
        "$.data",
        "unexpected: 'e…' (5 chars), 'm…' (4 chars)",
        "$.data.name: expected this required field (missing)",
        "$.data.awsRegion: expected a string, got number",
        "$.data.purpose: expected one of",
    )
    assert len(error.problems) == 4


@pytest.mark.parametrize(
    ("version", "changes", "json_path"),
    [
        (
            "2-0-0",
            {"auth": {"accessKeyId": ACCESS_KEY, "secretAccessKey": ""}},
            "auth.secretAccessKey",
        ),
        ("2-0-0", {"auth": {"accessKeyId": "", "secretAccessKey": SECRET}}, "auth.accessKeyId"),
        (
            "2-0-0",
            {"auth": {"accessKeyId": ACCESS_KEY, "secretAccessKey": "  "}},
            "auth.secretAccessKey",
        ),
        ("1-0-0", {"secretAccessKey": ""}, "secretAccessKey"),
        ("1-0-1", {"accessKeyId": ""}, "accessKeyId"),
    ],
)
def test_empty_keys_are_refused(
    version: str, changes: dict[str, Any], json_path: str, checks: StorageChecks
) -> None:
    checks.refused(
        storage(version, **changes),
        f"$.data.{json_path}",
        f"$.data.{json_path}: expected a non-empty string",
    )


@pytest.mark.parametrize(
    ("obj", "json_path", "fragment"),
    [
        (storage("2-0-0", **{SECRET: "x"}), "$.data", MASKED),
        (storage("1-0-0", **{SECRET: 1}), "$.data", MASKED),
        (dict(storage("1-0-1"), **{SECRET: 1}), "$", MASKED),
        (
            storage("2-0-0", auth={"accessKeyId": ACCESS_KEY, SECRET: ""}),
            "$.data.auth.secretAccessKey",
            "required field",
        ),
        (storage("2-0-0", auth={SECRET: ACCESS_KEY}), "$.data.auth.accessKeyId", "required"),
    ],
    ids=["2-0-0-data", "1-0-0-data", "top-level", "inside-auth", "only-key-in-auth"],
)
def test_a_secret_as_a_key_name_is_never_echoed(
    obj: dict[str, Any], json_path: str, fragment: str, checks: StorageChecks
) -> None:
    path = write(checks.tmp_path, "storage.json", obj)
    with pytest.raises(ConfigError) as info:
        validate_configs(path, checks.resolver_path, Notices())
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert json_path in {p.json_path for p in info.value.problems}, message
    assert_nothing_leaked(info.value, checks.capsys)
    assert fragment in message, message


def test_a_secret_as_a_key_name_in_the_resolver_config_is_never_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = [
        resolver("1-0-1", [dict(iglu_central(), **{SECRET: 1})]),
        resolver("1-0-1", [iglu_central(**{SECRET: "x"})]),
        resolver("1-0-3", [dict(iglu_central(), connection={SECRET: {"uri": "http://x"}})]),
        dict(resolver("1-0-3"), **{SECRET: 1}),
    ]
    for number, obj in enumerate(bad):
        path = write(tmp_path, f"r{number}.json", obj)
        with pytest.raises(ConfigError) as info:
            load_resolver_config(path)
        assert_nothing_leaked(info.value, capsys)
        assert MASKED in str(info.value), str(info.value)
