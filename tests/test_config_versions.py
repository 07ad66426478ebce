"""Which versions of the storage and resolver configs load, what they load as, and the
messages for a schema that is unknown, of another version, format or model."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from populator.core.storage_config import StorageConfig
from populator.launcher.configs import load_resolver_config, load_storage_config, validate_configs
from populator.launcher.iglu import ConfigError, Resolver
from tests.support.configs import (
    DROP,
    STORAGE_URI,
    VALID_STORAGE,
    StorageChecks,
    assert_nothing_leaked,
    changed,
    expect_error,
    iglu_central,
    resolver,
    storage,
    write,
)
from tests.support.iglu import SECRET, Notices, assert_clean


@pytest.mark.parametrize("case", sorted(VALID_STORAGE))
def test_valid_storage_configs(case: str, checks: StorageChecks) -> None:
    obj, expected = VALID_STORAGE[case]
    notices = Notices()
    path = write(checks.tmp_path, "storage.json", obj)
    config = validate_configs(path, checks.resolver_path, notice=notices)
    assert config == expected
    assert config.to_self_describing() == obj
    # Tests run with POPULATOR_IGLU_OFFLINE=1 (conftest): one notice, then the bundled copy.
    assert notices == [
        "HTTP repositories skipped because POPULATOR_IGLU_OFFLINE=1: 'Iglu Central' "
        f"(http://iglucentral.com); using the bundled copy of {STORAGE_URI}{config.schema_version}"
    ]
    printed = checks.capsys.readouterr()
    assert_clean(printed.out + printed.err + repr(config))


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
    changed(obj["data"], changes)
    path = write(tmp_path, "resolver.json", obj)
    if not error:
        loaded = load_resolver_config(path)
        assert len(loaded.repositories) == len(obj["data"]["repositories"])
        assert loaded.cache_size == obj["data"]["cacheSize"]
        assert loaded.base_dir == tmp_path
        assert_clean(repr(loaded))
        return
    with pytest.raises(ConfigError) as info:
        load_resolver_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: $.data"), message
    assert error in message, message
    assert_nothing_leaked(info.value, capsys)


def test_resolver_apikey_is_a_secret_for_the_redactor(tmp_path: Path) -> None:
    path = write(tmp_path, "r.json", resolver("1-0-1", repositories=[iglu_central(apikey=SECRET)]))
    assert load_resolver_config(path).secrets == [SECRET]


def test_unknown_schema(checks: StorageChecks) -> None:
    checks.refused(
        dict(storage(), schema="iglu:com.acme/storage/jsonschema/1-0-0"),
        "$.schema",
        "got the unknown schema iglu:com.acme/storage/jsonschema/1-0-0",
        "amazon_dynamodb_config/jsonschema/<version>",
        "Supported versions: 1-0-0, 1-0-1 or 2-0-0.",
    )


@pytest.mark.parametrize("version", ["3-0-0", "1-0-2", "2-1-0", "0-0-1"])
def test_wrong_model_or_version(version: str, checks: StorageChecks) -> None:
    checks.refused(
        dict(storage(), schema=STORAGE_URI + version),
        "$.schema",
        f"expected a supported version of {STORAGE_URI[:-1]} (1-0-0, 1-0-1 or 2-0-0), "
        f"got jsonschema/{version}",
    )


def test_wrong_format(checks: StorageChecks) -> None:
    schema = STORAGE_URI.replace("jsonschema", "avro") + "2-0-0"
    checks.refused(dict(storage(), schema=schema), "$.schema", "got avro/2-0-0", to_stderr=True)


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
