"""Iglu without a network: schema URIs, the bundled schemas, value-free messages (no secret,
no key name that could be one) and self-describing files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from populator.launcher.iglu import (
    ConfigError,
    Problem,
    SchemaKey,
    bundled_schema,
    load_self_describing,
    parse_schema_uri,
    schema_problems,
)
from tests.support.iglu import MASKED, SECRET, STORAGE, assert_clean

BUNDLED = [
    "com.snowplowanalytics.snowplow.storage/amazon_dynamodb_config/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow.storage/amazon_dynamodb_config/jsonschema/1-0-1",
    "com.snowplowanalytics.snowplow.storage/amazon_dynamodb_config/jsonschema/2-0-0",
    "com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-0",
    "com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-1",
    "com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-2",
    "com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
]


# ---- schema keys and bundled schemas ------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "iglu:com.snowplowanalytics.snowplow.storage/amazon_dynamodb_config/jsonschema/2-0-0",
            STORAGE,
        ),
        (
            "iglu:com.acme_1/my-event/jsonschema/10-20-30",
            SchemaKey("com.acme_1", "my-event", "jsonschema", "10-20-30"),
        ),
    ],
)
def test_parse_schema_uri(uri: str, expected: SchemaKey) -> None:
    key = parse_schema_uri(uri)
    assert key == expected
    assert key.uri == uri == str(key)


@pytest.mark.parametrize(
    "uri",
    [
        "com.acme/x/jsonschema/1-0-0",
        "iglu:com.acme/x/jsonschema/1-0",
        "iglu:com.acme/x/jsonschema/1-0-0/extra",
        "iglu:com.acme/x.y/jsonschema/1-0-0",
        "iglu:com.acme/x/jsonschema/1-0-0 ",
        "iglu:../x/jsonschema/1-0-0",
        "iglu:" + SECRET,
        5,
    ],
)
def test_parse_schema_uri_rejects_without_echoing(uri: Any) -> None:
    with pytest.raises(ValueError) as info:
        parse_schema_uri(uri)
    assert_clean(str(info.value))


@pytest.mark.parametrize("path", BUNDLED)
def test_bundled_schemas_are_valid_draft4_with_a_matching_self_block(path: str) -> None:
    key = SchemaKey(*path.split("/"))
    schema = bundled_schema(key)
    assert schema is not None
    Draft4Validator.check_schema(schema)
    assert schema["self"] == {
        "vendor": key.vendor,
        "name": key.name,
        "format": key.format,
        "version": key.version,
    }
    assert schema["additionalProperties"] is False
    assert bundled_schema(key) is not schema  # callers may not corrupt the cache


def test_bundled_schema_unknown_is_none() -> None:
    assert bundled_schema(SchemaKey("com.acme", "nothing", "jsonschema", "1-0-0")) is None


# ---- value-free messages ------------------------------------------------------------------------


def test_problems_name_paths_rules_and_types_never_values() -> None:
    schema = bundled_schema(STORAGE)
    assert schema is not None
    data = {
        "name": SECRET,
        "auth": {"accessKeyId": 12345678901234567890, "secretAccessKey": SECRET},
        "awsRegion": ["us-east-1"],
        "id": SECRET,
        "purpose": SECRET,
        SECRET[:8]: 1,
    }
    problems = schema_problems(data, schema)
    error = ConfigError("storage.json", problems=problems)
    text = str(error)
    assert_clean(text)
    assert "12345678901234567890" not in text
    assert Problem("$.data.dynamodbTable", "this required field (missing)", "required") in problems
    assert ("$.data.auth.accessKeyId", "a string, got number") in [p[:2] for p in problems]
    assert ("$.data.awsRegion", "a string, got array") in [p[:2] for p in problems]
    assert ("$.data.id", "a UUID (8-4-4-4-12 hex digits)") in [p[:2] for p in problems]
    assert ("$.data.purpose", 'one of "EVENTS_MANIFEST", got another string') in [
        p[:2] for p in problems
    ]
    assert len(problems) == 6
    assert text.startswith("storage.json: ")
    assert text.endswith("(and 1 more problem).")
    assert text.count(": expected ") == 5
    assert (error.json_path, error.expected) == problems[0][:2]


def test_config_error_shape() -> None:
    error = ConfigError("r.json", "$.data.cacheSize", "a number", hint="See the docs.")
    assert str(error) == "r.json: $.data.cacheSize: expected a number. See the docs."
    assert (error.path, error.json_path, error.expected) == (
        "r.json",
        "$.data.cacheSize",
        "a number",
    )
    assert (
        str(ConfigError("r.json", "", "an existing file")) == "r.json: expected an existing file."
    )


def test_one_of_reports_the_branch_the_user_meant() -> None:
    key = SchemaKey("com.snowplowanalytics.iglu", "resolver-config", "jsonschema", "1-0-1")
    schema = bundled_schema(key)
    assert schema is not None

    def repo(connection: Any) -> dict[str, Any]:
        item = {"name": "r", "priority": 0, "vendorPrefixes": [], "connection": connection}
        return {"cacheSize": 1, "repositories": [item]}

    path = "$.data.repositories[0].connection"
    meant = schema_problems(repo({"http": {"uri": 5, "apikey": SECRET}}), schema)
    assert [p[:2] for p in meant] == [(f"{path}.http.uri", "a string, got number")]
    both = schema_problems(repo({"http": {"uri": "http://x"}, "embedded": {"path": "/"}}), schema)
    assert len(both) == 1 and both[0].json_path == path
    assert "exactly one of" in both[0].expected and "'embedded', 'http'" in both[0].expected
    neither = schema_problems(repo({}), schema)
    assert "exactly one of" in neither[0].expected
    bad_uri = schema_problems(repo({"http": {"uri": "not a uri"}}), schema)
    assert [p[:2] for p in bad_uri] == [
        (f"{path}.http.uri", "an absolute URI such as http://iglucentral.com")
    ]


# ---- self-describing files ----------------------------------------------------------------------


def test_load_self_describing_returns_object_and_text(tmp_path: Path) -> None:
    text = '\ufeff{"schema": "iglu:com.acme/x/jsonschema/1-0-0", "data": {}}'
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")
    obj, read = load_self_describing(path)
    assert obj == {"schema": "iglu:com.acme/x/jsonschema/1-0-0", "data": {}}
    assert read == text.lstrip("\ufeff")


def test_one_of_auth_like_iglu_centrals_2_0_0() -> None:
    """Iglu Central's 2-0-0 writes auth as oneOf [object, null]: messages stay value-free."""
    schema = {
        "type": "object",
        "properties": {
            "auth": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {
                            "accessKeyId": {"type": "string"},
                            "secretAccessKey": {"type": "string"},
                        },
                        "required": ["accessKeyId", "secretAccessKey"],
                    },
                    {"type": "null"},
                ]
            }
        },
    }
    wrong_kind = schema_problems({"auth": SECRET}, schema)
    assert [p[:2] for p in wrong_kind] == [
        (
            "$.data.auth",
            "exactly one of: an object with accessKeyId, secretAccessKey or null; got a string",
        )
    ]
    inner = schema_problems({"auth": {"accessKeyId": 5, "secretAccessKey": SECRET}}, schema)
    assert [p[:2] for p in inner] == [("$.data.auth.accessKeyId", "a string, got number")]
    assert_clean(str(ConfigError("s.json", problems=wrong_kind + inner)))


def test_errors_survive_pickling() -> None:
    import pickle

    from populator.core.storage_config import StorageConfigError

    error = ConfigError("s.json", hint="Hint.", problems=[Problem("$.data", "an object")])
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) == "s.json: $.data: expected an object. Hint."
    storage_error = StorageConfigError("s3://b/k", "$.data.id", "a UUID string")
    assert str(pickle.loads(pickle.dumps(storage_error))) == str(storage_error)


# ---- names that could be secrets are never echoed (issue 10, item 7) ---------------------------


def test_unknown_key_names_are_masked_on_every_path(tmp_path: Path) -> None:
    schema = bundled_schema(STORAGE)
    assert schema is not None
    texts = []
    # additionalProperties (data and auth), oneOf "with the keys", patternProperties paths.
    problems = schema_problems({SECRET: 1, "name": "n"}, schema)
    texts.append(str(ConfigError("s.json", problems=problems)))
    resolver_key = SchemaKey("com.snowplowanalytics.iglu", "resolver-config", "jsonschema", "1-0-1")
    resolver_schema = bundled_schema(resolver_key)
    assert resolver_schema is not None
    item = {"name": "r", "priority": 0, "vendorPrefixes": [], "connection": {SECRET: {}}}
    for data in (
        {"cacheSize": 1, "repositories": [item], SECRET: 1},
        {"cacheSize": 1, "repositories": [dict(item, **{SECRET: 2})]},
        {
            "cacheSize": 1,
            "repositories": [dict(item, connection={"http": {"uri": "http://x", SECRET: 1}})],
        },
    ):
        texts.append(str(ConfigError("r.json", problems=schema_problems(data, resolver_schema))))
    free_form = {"type": "object", "additionalProperties": {"type": "string"}}
    texts.append(str(ConfigError("s.json", problems=schema_problems({SECRET: 5}, free_form))))
    # The file readers: a duplicate key and an unexpected top-level key.
    duplicate = tmp_path / "dup.json"
    duplicate.write_text(f'{{"{SECRET}": 1, "{SECRET}": 2}}', encoding="utf-8")
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"schema": STORAGE.uri, "data": {}, SECRET: 1}), encoding="utf-8")
    for path in (duplicate, extra):
        with pytest.raises(ConfigError) as info:
            load_self_describing(path)
        texts.append(str(info.value))
    for text in texts:
        assert_clean(text)
        assert MASKED in text, text
