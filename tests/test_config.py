"""load_resolver_config / load_storage_config / validate_configs on real files.

One case per class of bad config. Every case checks the message names the file, the JSON
path and what was expected, and that the secret appears in no form (``secret_forms``) in the
message, the exception's repr, or anything printed.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from populator.core.storage_config import Credentials, StorageConfig
from populator.launcher.configs import load_resolver_config, load_storage_config, validate_configs
from populator.launcher.iglu import ConfigError, Resolver, bundled_schema, parse_schema_uri
from populator.launcher.redact import secret_forms

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLESECRET+/="
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
CONFIG_ID = "56799a26-980c-4148-8bd9-c021b988c669"
STORAGE_URI = "iglu:com.snowplowanalytics.snowplow.storage/amazon_dynamodb_config/jsonschema/"
RESOLVER_URI = "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/"
NOBODY = 65534


def leaks(text: str) -> list[str]:
    return [form for form in secret_forms(SECRET) if form in text]


class Notices(list):
    def __call__(self, message: str) -> None:
        self.append(message)


def storage(version: str = "2-0-0", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "AWS DynamoDB events manifest",
        "awsRegion": "us-east-1",
        "dynamodbTable": "snowplow-events-manifest",
        "purpose": "EVENTS_MANIFEST" if version == "2-0-0" else "DUPLICATE_TRACKING",
    }
    if version == "2-0-0":
        data["auth"] = {"accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET}
        data["id"] = CONFIG_ID
    else:
        data["accessKeyId"] = ACCESS_KEY
        data["secretAccessKey"] = SECRET
    if version == "1-0-1":
        data["id"] = CONFIG_ID
    for key, value in changes.items():
        if value is DROP:
            data.pop(key)
        else:
            data[key] = value
    return {"schema": STORAGE_URI + version, "data": data}


DROP = object()


def iglu_central(uri: str = "http://iglucentral.com", **http: Any) -> dict[str, Any]:
    return {
        "name": "Iglu Central",
        "priority": 0,
        "vendorPrefixes": ["com.snowplowanalytics"],
        "connection": {"http": {"uri": uri, **http}},
    }


def resolver(version: str = "1-0-3", repositories: Any = None, **data: Any) -> dict[str, Any]:
    body = {
        "cacheSize": 500,
        "repositories": [iglu_central()] if repositories is None else repositories,
    }
    body.update(data)
    return {"schema": RESOLVER_URI + version, "data": body}


def write(directory: Path, name: str, content: Any) -> str:
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content, indent=2), encoding="utf-8")
    return str(path)


@pytest.fixture
def resolver_path(tmp_path: Path) -> str:
    return write(tmp_path, "resolver.json", resolver())


@pytest.fixture
def offline_resolver() -> Resolver:
    return Resolver.default(offline=True)


def expect_error(
    run: Any, capsys: pytest.CaptureFixture[str], path: str, json_path: str, *fragments: str
) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        run()
    error = info.value
    message = str(error)
    printed = capsys.readouterr()
    assert message.startswith(f"{path}: "), message
    assert error.path == path
    assert error.json_path == json_path, message
    for fragment in fragments:
        assert fragment in message, message
    for text in (message, repr(error), printed.out, printed.err):
        assert not leaks(text), f"secret leaked: {text!r}"
    assert "\n" not in message
    return error


# ---- valid configs -----------------------------------------------------------------------------

CREDS = Credentials(ACCESS_KEY, SECRET)
VALID_STORAGE = {
    "1-0-0": (
        storage("1-0-0"),
        StorageConfig(
            "AWS DynamoDB events manifest",
            "us-east-1",
            "snowplow-events-manifest",
            CREDS,
            "1-0-0",
            None,
            "DUPLICATE_TRACKING",
        ),
    ),
    "1-0-1": (
        storage("1-0-1"),
        StorageConfig(
            "AWS DynamoDB events manifest",
            "us-east-1",
            "snowplow-events-manifest",
            CREDS,
            "1-0-1",
            CONFIG_ID,
            "DUPLICATE_TRACKING",
        ),
    ),
    "2-0-0-auth": (
        storage("2-0-0"),
        StorageConfig(
            "AWS DynamoDB events manifest",
            "us-east-1",
            "snowplow-events-manifest",
            CREDS,
            "2-0-0",
            CONFIG_ID,
            "EVENTS_MANIFEST",
        ),
    ),
    "2-0-0-auth-null": (
        storage("2-0-0", auth=None),
        StorageConfig(
            "AWS DynamoDB events manifest",
            "us-east-1",
            "snowplow-events-manifest",
            None,
            "2-0-0",
            CONFIG_ID,
            "EVENTS_MANIFEST",
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(VALID_STORAGE))
def test_valid_storage_configs(
    case: str, tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    obj, expected = VALID_STORAGE[case]
    notices = Notices()
    path = write(tmp_path, "storage.json", obj)
    config = validate_configs(path, resolver_path, notice=notices)
    assert config == expected
    assert config.to_self_describing() == obj
    # Tests run with POPULATOR_IGLU_OFFLINE=1 (conftest): one notice, then the bundled copy.
    assert notices == [
        "HTTP repositories skipped because POPULATOR_IGLU_OFFLINE=1: 'Iglu Central' "
        f"(http://iglucentral.com); using the bundled copy of {STORAGE_URI}{config.schema_version}"
    ]
    printed = capsys.readouterr()
    assert not leaks(printed.out + printed.err + repr(config))


RESOLVER_VARIANTS = [
    # (version, changes to data, error fragment or "" when valid)
    ("1-0-0", {}, ""),
    ("1-0-1", {"repositories": [iglu_central(apikey=SECRET)]}, ""),
    ("1-0-1", {"repositories": [iglu_central(apikey=None)]}, ""),
    ("1-0-2", {"cacheSize": 1.5, "cacheTtl": 600}, ""),
    ("1-0-2", {"cacheTtl": None}, ""),
    ("1-0-3", {"cacheTtl": 0}, ""),
    ("1-0-3", {"repositories": [dict(iglu_central(apikey=SECRET), priority=0.5)]}, ""),
    ("1-0-3", {"repositories": []}, ""),
    ("1-0-0", {"cacheSize": 1.5}, "$.data.cacheSize: expected an integer, got a number with a"),
    ("1-0-1", {"cacheSize": -1}, "$.data.cacheSize: expected a number >= 0"),
    ("1-0-1", {"cacheTtl": 60}, "cacheTtl needs resolver-config 1-0-2 or later"),
    ("1-0-2", {"cacheTtl": 0}, "$.data.cacheTtl: expected a number >= 1"),
    ("1-0-3", {"cacheTtl": 1.5}, "$.data.cacheTtl: expected an integer or null, got a number"),
    (
        "1-0-0",
        {"repositories": [iglu_central(apikey=SECRET)]},
        "apikey needs resolver-config 1-0-1",
    ),
    (
        "1-0-1",
        {"repositories": [dict(iglu_central(), priority=0.5)]},
        "priority: expected an integer",
    ),
    ("1-0-3", {"cacheSize": "500"}, "$.data.cacheSize: expected a number, got string"),
    ("1-0-3", {"repositories": {}}, "$.data.repositories: expected an array, got object"),
    ("1-0-3", {"repositories": DROP}, "$.data.repositories: expected this required field"),
    ("1-0-3", {"cacheSize": DROP}, "$.data.cacheSize: expected this required field"),
    (
        "1-0-3",
        {"extra": SECRET},
        "$.data: expected only the fields cacheSize, cacheTtl, repositories",
    ),
    (
        "1-0-3",
        {"repositories": [dict(iglu_central(), token=SECRET)]},
        "$.data.repositories[0]: expected only the fields name, priority, vendorPrefixes, "
        "connection; unexpected: 't…' (5 chars)",
    ),
    (
        "1-0-3",
        {
            "repositories": [
                dict(
                    iglu_central(),
                    connection={"http": {"uri": "http://x"}, "embedded": {"path": "/"}},
                )
            ]
        },
        'connection: expected exactly one of {"embedded"',
    ),
    (
        "1-0-3",
        {"repositories": [dict(iglu_central(), vendorPrefixes="com.acme")]},
        "$.data.repositories[0].vendorPrefixes: expected an array, got string",
    ),
    (
        "1-0-3",
        {"repositories": [iglu_central(uri="ftp://" + SECRET)]},
        "$.data.repositories[0].connection.http.uri: expected an http:// or https:// URI",
    ),
    (
        "1-0-3",
        {"repositories": [iglu_central(uri=SECRET)]},
        "uri: expected an absolute URI",
    ),
]


@pytest.mark.parametrize(("version", "changes", "error"), RESOLVER_VARIANTS)
def test_resolver_config_versions(
    version: str,
    changes: dict[str, Any],
    error: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    obj = resolver(version)
    for key, value in changes.items():
        if value is DROP:
            obj["data"].pop(key)
        else:
            obj["data"][key] = value
    path = write(tmp_path, "resolver.json", obj)
    if not error:
        loaded = load_resolver_config(path)
        assert len(loaded.repositories) == len(obj["data"]["repositories"])
        assert loaded.cache_size == obj["data"]["cacheSize"]
        assert loaded.base_dir == tmp_path
        assert not leaks(repr(loaded))
        return
    with pytest.raises(ConfigError) as info:
        load_resolver_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: $.data"), message
    assert error in message, message
    printed = capsys.readouterr()
    assert not leaks(message + repr(info.value) + printed.out + printed.err)


def test_resolver_apikey_is_a_secret_for_the_redactor(tmp_path: Path) -> None:
    path = write(tmp_path, "r.json", resolver("1-0-1", repositories=[iglu_central(apikey=SECRET)]))
    assert load_resolver_config(path).secrets == [SECRET]


# ---- bad storage configs, one class per test ----------------------------------------------------


def test_not_json(tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(storage())[:-40]  # cut inside the data, after the secret
    path = write(tmp_path, "storage.json", text)
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
        "",
        "expected valid JSON (",
        "at line 1 column",
    )


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
    obj: Any,
    json_path: str,
    fragment: str,
    tmp_path: Path,
    resolver_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path, "storage.json", obj)
    error = expect_error(
        lambda: validate_configs(path, resolver_path, Notices()), capsys, path, json_path, fragment
    )
    if json_path != "$" or "unexpected" in fragment:
        assert 'self-describing JSON: {"schema": "iglu:…", "data": {…}}' in str(error)


def test_unknown_schema(
    tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path, "storage.json", dict(storage(), schema="iglu:com.acme/storage/jsonschema/1-0-0")
    )
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
        "$.schema",
        "got the unknown schema iglu:com.acme/storage/jsonschema/1-0-0",
        "amazon_dynamodb_config/jsonschema/<version>",
        "Supported versions: 1-0-0, 1-0-1 or 2-0-0.",
    )


@pytest.mark.parametrize("version", ["3-0-0", "1-0-2", "2-1-0", "0-0-1"])
def test_wrong_model_or_version(
    version: str, tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "storage.json", dict(storage(), schema=STORAGE_URI + version))
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
        "$.schema",
        f"expected a supported version of {STORAGE_URI[:-1]} (1-0-0, 1-0-1 or 2-0-0), "
        f"got jsonschema/{version}",
    )


def test_wrong_format(
    tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = STORAGE_URI.replace("jsonschema", "avro") + "2-0-0"
    path = write(tmp_path, "storage.json", dict(storage(), schema=schema))
    expect_error(
        lambda: validate_configs(path, resolver_path), capsys, path, "$.schema", "got avro/2-0-0"
    )


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
def test_missing_field(
    version: str, field: str, tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "storage.json", storage(version, **{field: DROP}))
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
        f"$.data.{field}",
        f"{path}: $.data.{field}: expected this required field (missing).",
    )


def test_missing_field_inside_auth(
    tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "storage.json", storage(auth={"secretAccessKey": SECRET}))
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
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
    version: str,
    changes: dict[str, Any],
    json_path: str,
    fragment: str,
    tmp_path: Path,
    resolver_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path, "storage.json", storage(version, **changes))
    error = expect_error(
        lambda: validate_configs(path, resolver_path, Notices()), capsys, path, json_path, fragment
    )
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
    version: str,
    changes: dict[str, Any],
    fragment: str,
    tmp_path: Path,
    resolver_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path, "storage.json", storage(version, **changes))
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
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
def test_wrong_purpose(
    version: str,
    purpose: str,
    allowed: str,
    tmp_path: Path,
    resolver_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path, "storage.json", storage(version, purpose=purpose))
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
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
    changes: dict[str, Any],
    json_path: str,
    fragment: str,
    tmp_path: Path,
    resolver_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path, "storage.json", storage(**changes))
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()), capsys, path, json_path, fragment
    )


def test_several_problems_are_reported_together(
    tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    obj = storage("1-0-0", name=DROP, purpose="X", awsRegion=5, extra=SECRET, more=SECRET)
    path = write(tmp_path, "storage.json", obj)
    error = expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
        "$.data",
        "unexpected: 'e…' (5 chars), 'm…' (4 chars)",
        "$.data.name: expected this required field (missing)",
        "$.data.awsRegion: expected a string, got number",
        "$.data.purpose: expected one of",
    )
    assert len(error.problems) == 4


# ---- file-level problems ------------------------------------------------------------------------


def test_duplicate_json_keys(
    tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = json.dumps(storage("1-0-0")).replace(
        '"secretAccessKey":', f'"secretAccessKey": "{SECRET}", "secretAccessKey":'
    )
    path = write(tmp_path, "storage.json", text)
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
        "",
        "expected JSON without duplicate keys, but the key 'secretAccessKey' repeats",
    )


def test_nan_is_not_json(
    tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "storage.json", json.dumps(storage()).replace('"us-east-1"', "NaN"))
    expect_error(
        lambda: validate_configs(path, resolver_path), capsys, path, "", "got the literal NaN"
    )


def test_oversized_file(
    tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = json.dumps(storage(name=SECRET * 30000))
    assert len(text) > 1024 * 1024
    path = write(tmp_path, "storage.json", text)
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
        "",
        "expected a file of at most 1.0 MiB (it has 1.",
    )


def test_invalid_utf8(
    tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = json.dumps(storage()).encode().replace(b"snowplow-events-manifest", b"snowplow-\xff\xfe")
    path = write(tmp_path, "storage.json", raw)
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
        "",
        "expected UTF-8 text (invalid byte sequence at byte offset ",
    )


def test_a_directory(
    tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path)
    expect_error(
        lambda: validate_configs(path, resolver_path),
        capsys,
        path,
        "",
        "expected a file, got a directory",
    )


def test_a_missing_file(
    tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "nope" / "storage.json")
    expect_error(
        lambda: validate_configs(path, resolver_path),
        capsys,
        path,
        "",
        "expected an existing file (no such file)",
    )
    expect_error(lambda: validate_configs(resolver_path, path), capsys, path, "", "no such file")


def test_a_dangling_symlink(
    tmp_path: Path, resolver_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "storage.json"
    link.symlink_to(tmp_path / "gone.json")
    expect_error(
        lambda: validate_configs(str(link), resolver_path),
        capsys,
        str(link),
        "",
        "expected a file, but it is a symlink to a missing file",
    )


def test_a_device_is_not_a_config(resolver_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    expect_error(
        lambda: validate_configs("/dev/null", resolver_path),
        capsys,
        "/dev/null",
        "",
        "a regular file",
    )


@contextmanager
def unprivileged() -> Iterator[None]:
    """Root reads anything: drop the effective uid for the duration (non-root: nothing to do)."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory anyone may traverse (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="populator-config-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.mark.parametrize("via_symlink", [False, True], ids=["file", "symlink-to-file"])
def test_an_unreadable_file(
    via_symlink: bool,
    open_dir: Path,
    offline_resolver: Resolver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = Path(write(open_dir, "storage.json", storage()))
    target.chmod(0)
    path = target
    if via_symlink:
        path = open_dir / "link.json"
        path.symlink_to(target)
    with unprivileged(), pytest.raises(ConfigError) as info:
        load_storage_config(str(path), offline_resolver, Notices())
    assert str(info.value) == f"{path}: expected a readable file (permission denied)."
    assert not leaks(str(info.value) + "".join(capsys.readouterr()))


# ---- resolution end to end ----------------------------------------------------------------------


def test_unreachable_iglu_central_prints_one_notice_and_uses_the_bundled_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POPULATOR_IGLU_OFFLINE", raising=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    uri = f"http://127.0.0.1:{port}"
    resolver_path = write(
        tmp_path, "resolver.json", resolver("1-0-1", [iglu_central(uri, apikey=SECRET)])
    )
    path = write(tmp_path, "storage.json", storage("2-0-0", auth=None))
    config = validate_configs(path, resolver_path)  # default notice: stderr
    assert config == VALID_STORAGE["2-0-0-auth-null"][1]
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err == (
        f"notice: Iglu repository 'Iglu Central' ({uri}) unreachable (connection refused); "
        f"using the bundled copy of {STORAGE_URI}2-0-0\n"
    )
    assert not leaks(printed.err)


def test_embedded_repository_relative_to_the_resolver_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A local repository wins over the bundled copy: its stricter schema is what applies."""
    key = parse_schema_uri(STORAGE_URI + "2-0-0")
    stricter = bundled_schema(key)
    assert stricter is not None
    stricter["properties"]["name"]["maxLength"] = 5
    schema_file = tmp_path / "conf" / "iglu" / "schemas" / key.path
    schema_file.parent.mkdir(parents=True)
    schema_file.write_text(json.dumps(stricter), encoding="utf-8")
    local = {
        "name": "Local",
        "priority": 10,
        "vendorPrefixes": ["com.snowplowanalytics"],
        "connection": {"embedded": {"path": "iglu"}},
    }
    resolver_path = write(
        tmp_path / "conf", "resolver.json", resolver("1-0-3", [iglu_central(), local])
    )
    notices = Notices()
    path = write(tmp_path, "storage.json", storage())
    monkey_cwd = os.getcwd()
    os.chdir("/")  # relative to the resolver file, not to where we run
    try:
        expect_error(
            lambda: validate_configs(path, resolver_path, notices),
            capsys,
            path,
            "$.data.name",
            "$.data.name: expected a string of at most 5 characters",
        )
    finally:
        os.chdir(monkey_cwd)
    assert notices == []


def test_without_a_resolver_config_iglu_central_then_bundled(tmp_path: Path) -> None:
    notices = Notices()
    path = write(tmp_path, "storage.json", storage())
    assert validate_configs(path, None, notices) == VALID_STORAGE["2-0-0-auth"][1]
    assert len(notices) == 1 and "'Iglu Central' (http://iglucentral.com)" in notices[0]


def test_resolver_config_with_the_wrong_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    as_storage = write(tmp_path, "r1.json", storage())
    expect_error(
        lambda: load_resolver_config(as_storage),
        capsys,
        as_storage,
        "$.schema",
        "expected an Iglu resolver-config schema iglu:com.snowplowanalytics.iglu/resolver-config/"
        "jsonschema/<version>, got the unknown schema iglu:com.snowplowanalytics.snowplow.storage/",
    )
    newer = write(tmp_path, "r2.json", resolver("1-1-0"))
    expect_error(
        lambda: load_resolver_config(newer),
        capsys,
        newer,
        "$.schema",
        "(1-0-0, 1-0-1, 1-0-2 or 1-0-3), got jsonschema/1-1-0",
    )


def test_storage_config_loaded_with_an_explicit_resolver(tmp_path: Path) -> None:
    path = write(tmp_path, "storage.json", storage("1-0-1"))
    notices = Notices()
    config = load_storage_config(path, Resolver.default(offline=True), notices)
    assert config == VALID_STORAGE["1-0-1"][1]
    assert len(notices) == 1
    again = copy.deepcopy(config.to_self_describing())
    assert StorageConfig.from_self_describing(again) == config


# ---- hostile input (issue 10) -------------------------------------------------------------------


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
    version: str,
    changes: dict[str, Any],
    json_path: str,
    tmp_path: Path,
    resolver_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path, "storage.json", storage(version, **changes))
    expect_error(
        lambda: validate_configs(path, resolver_path, Notices()),
        capsys,
        path,
        f"$.data.{json_path}",
        f"$.data.{json_path}: expected a non-empty string",
    )


MASKED = f"'wJ…' ({len(SECRET)} chars)"


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
    obj: dict[str, Any],
    json_path: str,
    fragment: str,
    tmp_path: Path,
    resolver_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path, "storage.json", obj)
    with pytest.raises(ConfigError) as info:
        validate_configs(path, resolver_path, Notices())
    message = str(info.value)
    printed = capsys.readouterr()
    assert message.startswith(f"{path}: "), message
    assert json_path in {p.json_path for p in info.value.problems}, message
    for text in (message, repr(info.value), printed.out, printed.err):
        assert not leaks(text), f"secret leaked: {text!r}"
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
        printed = capsys.readouterr()
        for text in (str(info.value), repr(info.value), printed.out, printed.err):
            assert not leaks(text), f"secret leaked: {text!r}"
        assert MASKED in str(info.value), str(info.value)


@pytest.fixture
def schema_server() -> Iterator[Any]:
    """``start(body)``: a repository on 127.0.0.1 serving ``body`` for every GET; returns
    (base URI, list of requested paths)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    servers = []

    def start(body: bytes) -> tuple[str, list[str]]:
        seen: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POPULATOR_IGLU_OFFLINE", raising=False)


def test_a_served_schema_with_a_remote_ref_is_never_followed(
    tmp_path: Path,
    schema_server: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """End to end: the ref points at a port that accepts and never answers; nothing hangs."""
    _online(monkeypatch)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    recorder, recorded = schema_server(b"")
    hostile = bundled_schema(parse_schema_uri(STORAGE_URI + "2-0-0"))
    assert hostile is not None
    hostile["properties"]["name"] = {"$ref": f"http://127.0.0.1:{silent.getsockname()[1]}/x"}
    hostile["properties"]["id"] = {"$ref": recorder + "/y"}
    uri, served = schema_server(json.dumps(hostile).encode())
    resolver_path = write(tmp_path, "resolver.json", resolver("1-0-3", [iglu_central(uri)]))
    notices = Notices()
    path = write(tmp_path, "storage.json", storage())
    try:
        config = validate_configs(path, resolver_path, notices)
    finally:
        silent.close()
    assert config == VALID_STORAGE["2-0-0-auth"][1]
    assert recorded == []
    assert served == ["/schemas/" + parse_schema_uri(STORAGE_URI + "2-0-0").path]
    assert notices == [
        f"Iglu repository 'Iglu Central' ({uri}) served a schema with a remote $ref "
        f"(nothing is fetched); using the bundled copy of {STORAGE_URI}2-0-0"
    ]


def test_a_repository_serving_another_schema_is_not_blamed_on_the_users_file(
    tmp_path: Path, schema_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _online(monkeypatch)
    uri, _ = schema_server(json.dumps({"type": "object", "required": ["somethingElse"]}).encode())
    resolver_path = write(tmp_path, "resolver.json", resolver("1-0-3", [iglu_central(uri)]))
    notices = Notices()
    path = write(tmp_path, "storage.json", storage())
    assert validate_configs(path, resolver_path, notices) == VALID_STORAGE["2-0-0-auth"][1]
    assert len(notices) == 1
    assert notices[0].startswith(f"Iglu repository 'Iglu Central' ({uri}) served something")


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_bad_offline_setting_is_exit_2_naming_the_variable(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real `inv run_emr` program: one `error:` line, exit 2, no traceback."""
    from tests.support.cli import DEAD_ENDPOINT, inv_in_process

    monkeypatch.setenv("AWS_ENDPOINT_URL", DEAD_ENDPOINT)
    monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", value)
    storage_path = write(tmp_path, "storage.json", storage())
    resolver_path = write(tmp_path, "resolver.json", resolver())
    ran = inv_in_process(
        "run_emr", ["s3://my-archive/enriched/archive/", storage_path, resolver_path]
    )
    assert ran.code == 2, (ran.code, ran.err)
    assert "Traceback" not in ran.err
    assert ran.error_lines == [
        "error: POPULATOR_IGLU_OFFLINE: expected 1, true, yes or on (skip HTTP repositories) "
        "or 0, false, no, off or empty, in any case; got another value."
    ]
