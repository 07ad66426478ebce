"""StorageConfig: the cluster-side value (Python 3.9, stdlib only) and its light checks."""

from __future__ import annotations

import ast
import copy
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

from populator.core.storage_config import (
    AUTH_OBJECT_OR_NULL,
    KEY_FIELDS,
    SUPPORTED_VERSIONS,
    VERSIONS,
    Credentials,
    StorageConfig,
    StorageConfigError,
    describe_names,
    load_storage_config_file,
    masked_name,
    parse_storage_config_text,
)
from tests.support.configs import ACCESS_KEY, CONFIG_ID, storage
from tests.support.iglu import SECRET, assert_clean

REPO_ROOT = Path(__file__).resolve().parent.parent
CLUSTER_MODULES = ("populator/core/storage_config.py", "populator/launcher/redact.py")

V100 = storage("1-0-0", name="AWS DynamoDB duplicates storage", dynamodbTable="snowplow-dedupe")
V101 = storage("1-0-1", name="dedupe", awsRegion="eu-west-1", dynamodbTable="dedupe")
V101_NO_ID = copy.deepcopy(V101)
del V101_NO_ID["data"]["id"]
V200 = storage("2-0-0", name="manifest", awsRegion="us-west-2")
V200_ROLE = copy.deepcopy(V200)
V200_ROLE["data"]["auth"] = None
CREDS = Credentials(ACCESS_KEY, SECRET)

VALID = {
    "1-0-0": (
        V100,
        StorageConfig(
            "AWS DynamoDB duplicates storage",
            "us-east-1",
            "snowplow-dedupe",
            CREDS,
            "1-0-0",
            None,
            "DUPLICATE_TRACKING",
        ),
    ),
    "1-0-1": (
        V101,
        StorageConfig(
            "dedupe", "eu-west-1", "dedupe", CREDS, "1-0-1", CONFIG_ID, "DUPLICATE_TRACKING"
        ),
    ),
    "1-0-1-no-id": (
        V101_NO_ID,
        StorageConfig("dedupe", "eu-west-1", "dedupe", CREDS, "1-0-1", None, "DUPLICATE_TRACKING"),
    ),
    "2-0-0-auth": (
        V200,
        StorageConfig(
            "manifest",
            "us-west-2",
            "snowplow-events-manifest",
            CREDS,
            "2-0-0",
            CONFIG_ID,
            "EVENTS_MANIFEST",
        ),
    ),
    "2-0-0-role": (
        V200_ROLE,
        StorageConfig(
            "manifest",
            "us-west-2",
            "snowplow-events-manifest",
            None,
            "2-0-0",
            CONFIG_ID,
            "EVENTS_MANIFEST",
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(VALID))
def test_valid_configs_parse_and_round_trip(case: str) -> None:
    obj, expected = VALID[case]
    config = StorageConfig.from_self_describing(copy.deepcopy(obj), "s.json")
    assert config == expected
    assert config.to_self_describing() == obj
    assert StorageConfig.from_self_describing(config.to_self_describing()) == config
    assert parse_storage_config_text(json.dumps(config.to_self_describing())) == config
    assert pickle.loads(pickle.dumps(config)) == config  # Spark ships it to executors


@pytest.mark.parametrize("case", sorted(VALID))
def test_repr_and_str_never_show_the_secret(case: str) -> None:
    config = VALID[case][1]
    for text in (repr(config), str(config), repr(config.credentials), f"{config}"):
        assert_clean(text)
    if config.credentials is not None:
        assert "secret_access_key='***'" in repr(config)
        assert ACCESS_KEY in repr(config)
        assert config.secrets() == [SECRET]
    else:
        assert "credentials=None" in repr(config)
        assert config.secrets() == []


def _with(obj: Dict[str, Any], change: Callable[[Dict[str, Any]], None]) -> Dict[str, Any]:
    out = copy.deepcopy(obj)
    change(out)
    return out


def _drop(key: str) -> Callable[[Dict[str, Any]], None]:
    return lambda o: o["data"].pop(key)


def _set(key: str, value: Any) -> Callable[[Dict[str, Any]], None]:
    return lambda o: o["data"].__setitem__(key, value)


BAD = [
    ("not-an-object", [V100], "$", "a JSON object, got array"),
    ("extra-top-key", _with(V100, lambda o: o.__setitem__("extra", 1)), "$", "'e…' (5 chars)"),
    ("missing-data", _with(V100, lambda o: o.pop("data")), "$.data", "required key"),
    ("schema-number", _with(V100, lambda o: o.__setitem__("schema", 5)), "$.schema", "string"),
    (
        "other-schema",
        _with(V100, lambda o: o.__setitem__("schema", "iglu:com.acme/x/jsonschema/1-0-0")),
        "$.schema",
        "amazon_dynamodb_config/jsonschema/2-0-0",
    ),
    ("data-string", _with(V100, lambda o: o.__setitem__("data", SECRET)), "$.data", "got string"),
    ("missing-name", _with(V100, _drop("name")), "$.data.name", "required field"),
    ("extra-field", _with(V100, _set("token", SECRET)), "$.data", "unexpected: 't…' (5 chars)"),
    ("id-in-1-0-0", _with(V100, _set("id", CONFIG_ID)), "$.data", "unexpected: 'id'"),
    ("secret-number", _with(V100, _set("secretAccessKey", 12345678901234567890)), "", "number"),
    ("region-null", _with(V100, _set("awsRegion", None)), "$.data.awsRegion", "got null"),
    ("bad-purpose", _with(V101, _set("purpose", "EVENTS_MANIFEST")), "$.data.purpose", "DUPL"),
    ("bad-id", _with(V101, _set("id", SECRET)), "$.data.id", "a UUID"),
    ("2-0-0-keys", _with(V200, _set("accessKeyId", ACCESS_KEY)), "$.data", "'accessKeyId'"),
    ("auth-string", _with(V200, _set("auth", SECRET)), "$.data.auth", "got string"),
    (
        "auth-no-secret",
        _with(V200, lambda o: o["data"]["auth"].pop("secretAccessKey")),
        "$.data.auth.secretAccessKey",
        "required field",
    ),
    (
        "auth-secret-list",
        _with(V200, lambda o: o["data"]["auth"].__setitem__("secretAccessKey", [SECRET])),
        "$.data.auth.secretAccessKey",
        "got array",
    ),
    ("2-0-0-no-id", _with(V200, _drop("id")), "$.data.id", "required field"),
    ("2-0-0-purpose", _with(V200, _set("purpose", "DUPLICATE_TRACKING")), "", "EVENTS_MANIFEST"),
]


@pytest.mark.parametrize(
    ("obj", "json_path", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_configs_name_the_field_never_the_value(
    obj: Any, json_path: str, expected: str
) -> None:
    with pytest.raises(StorageConfigError) as info:
        StorageConfig.from_self_describing(obj, "s3://bucket/storage.json")
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith("s3://bucket/storage.json: ")
    if json_path:
        assert info.value.field == json_path
    assert expected in message
    assert_clean(message)
    assert "12345678901234567890" not in message


def test_text_and_file_loaders(tmp_path: Path) -> None:
    path = tmp_path / "storage.json"
    path.write_text(json.dumps(V200), encoding="utf-8")
    assert load_storage_config_file(str(path)) == VALID["2-0-0-auth"][1]

    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "x", "data": {"secretAccessKey": "' + SECRET, encoding="utf-8")
    with pytest.raises(StorageConfigError, match="valid JSON") as info:
        load_storage_config_file(str(broken))
    assert_clean(str(info.value))

    with pytest.raises(StorageConfigError, match="readable file"):
        load_storage_config_file(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(StorageConfigError, match="UTF-8"):
        load_storage_config_file(str(tmp_path / "bad.json"))
    (tmp_path / "big.json").write_bytes(b" " * (1024 * 1024 + 1))
    with pytest.raises(StorageConfigError, match="1 MiB"):
        load_storage_config_file(str(tmp_path / "big.json"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"schema_version": "3-0-0"}, "schema_version"),
        ({"purpose": "EVENTS_MANIFEST"}, "purpose"),
        ({"credentials": None}, "credentials"),
        ({"id": CONFIG_ID}, "id"),
        ({"table": 5}, "table"),
    ],
)
def test_inconsistent_values_are_refused_at_construction(
    kwargs: Dict[str, Any], field: str
) -> None:
    values = dict(
        name="n",
        region="us-east-1",
        table="t",
        credentials=CREDS,
        schema_version="1-0-0",
        id=None,
        purpose="DUPLICATE_TRACKING",
    )
    values.update(kwargs)
    with pytest.raises(StorageConfigError) as info:
        StorageConfig(**values)
    assert info.value.field == field
    assert_clean(str(info.value))


def test_values_are_frozen() -> None:
    config = VALID["2-0-0-auth"][1]
    with pytest.raises(AttributeError):
        config.table = "other"  # type: ignore[misc]


@pytest.mark.parametrize("module", CLUSTER_MODULES)
def test_cluster_modules_are_python_39_and_stdlib_only(module: str) -> None:
    source = (REPO_ROOT / module).read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 9))
    assert any(
        isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in tree.body
    )
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Match)
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top == "__future__", name


def _python39() -> str:
    found = sorted(Path.home().glob(".pyenv/versions/3.9*/bin/python3.9"))
    return str(found[-1]) if found else ""


@pytest.mark.skipif(not _python39(), reason="no Python 3.9 interpreter on this machine")
def test_cluster_modules_run_on_python_39() -> None:
    code = (
        "import json, populator.core.storage_config as s, populator.launcher.redact as r\n"
        f"c = s.parse_storage_config_text({json.dumps(json.dumps(V200))})\n"
        "assert '***' in repr(c) and r.Redactor([c.credentials.secret_access_key]).redact("
        "c.credentials.secret_access_key) == '***'\n"
        "print(c.to_self_describing()['data']['dynamodbTable'])\n"
    )
    result = subprocess.run(
        [_python39(), "-I", "-c", f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r})\n" + code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "snowplow-events-manifest"


# ---- the version table (issue 9) and hostile input (issue 10) -----------------------------------


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_the_version_table_agrees_with_the_bundled_schema(version: str) -> None:
    """One entry plus its bundled schema per version: the two must say the same."""
    from populator.launcher.iglu import bundled_schema, parse_schema_uri

    spec = VERSIONS[version]
    schema = bundled_schema(parse_schema_uri(spec.uri))
    assert schema is not None, f"bundle the schema of {version}"
    assert list(schema["properties"]) == list(spec.fields)
    assert sorted(schema["required"]) == sorted(spec.required)
    assert schema["properties"]["purpose"]["enum"] == [spec.purpose]
    if spec.auth == AUTH_OBJECT_OR_NULL:
        assert schema["properties"]["auth"]["type"] == ["object", "null"]
    else:
        assert set(KEY_FIELDS) <= set(spec.required)


@pytest.mark.parametrize("case", sorted(VALID))
def test_serialised_fields_follow_the_table_order(case: str) -> None:
    """The uploaded copy's bytes (hence its content address) stay as they were."""
    config = VALID[case][1]
    data = config.to_self_describing()["data"]
    assert list(data) == [f for f in VERSIONS[config.schema_version].fields if f in data]


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o["data"]["auth"].__setitem__("secretAccessKey", ""),
        lambda o: o["data"]["auth"].__setitem__("accessKeyId", " "),
    ],
    ids=["empty-secret", "blank-key-id"],
)
def test_empty_keys_are_refused_on_the_cluster_too(
    change: Callable[[Dict[str, Any]], None],
) -> None:
    with pytest.raises(StorageConfigError, match="a non-empty string") as info:
        StorageConfig.from_self_describing(_with(V200, change), "s3://b/k")
    assert info.value.field.startswith("$.data.auth.")
    assert_clean(str(info.value))


def test_a_secret_as_a_key_name_is_masked() -> None:
    for obj in (
        _with(V100, _set(SECRET, 1)),
        _with(V200, lambda o: o.__setitem__(SECRET, 1)),
        _with(V101, _set("x" + SECRET, SECRET)),
    ):
        with pytest.raises(StorageConfigError) as info:
            StorageConfig.from_self_describing(obj, "s3://b/k")
        assert_clean(str(info.value))
        assert "chars)" in str(info.value)
    assert masked_name(SECRET) == f"'wJ…' ({len(SECRET)} chars)"
    assert masked_name("true") == "'t…' (4 chars)"
    assert describe_names(["accessKeyId", SECRET]) == f"'accessKeyId', {masked_name(SECRET)}"
