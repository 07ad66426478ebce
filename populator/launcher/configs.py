"""Validate the two files a user hands us: the Iglu resolver config and the storage config.

The resolver config is checked against our bundled resolver-config schemas (never fetched:
we need it before we can fetch anything). The storage config's schema is resolved through
that resolver, as Snowplow does, with the bundled copy as a fallback. Beyond the schema we
check what the version table requires (purpose, non-empty keys; ``core.storage_config``) and
what AWS would reject later, at a cost: the region's shape and the table name.
Every error is a ``ConfigError`` naming the file and the JSON path, never a value.
Launcher only (Python 3.11).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from populator.core.storage_config import (
    AUTH_IN_DATA,
    AUTH_OBJECT_OR_NULL,
    KEY_FIELDS,
    STORAGE_SCHEMA_NAME,
    STORAGE_SCHEMA_VENDOR,
    SUPPORTED_VERSIONS,
    VERSIONS,
    StorageConfig,
    StorageConfigError,
    StorageVersion,
)
from populator.launcher.iglu import (
    ConfigError,
    Problem,
    Repository,
    Resolver,
    SchemaKey,
    bundled_schema,
    load_self_describing,
    parse_schema_uri,
    schema_problems,
)

__all__ = [
    "REGION_RE",
    "RESOLVER_VERSIONS",
    "TABLE_RE",
    "load_resolver_config",
    "load_storage_config",
    "validate_configs",
]

RESOLVER_VENDOR = "com.snowplowanalytics.iglu"
RESOLVER_NAME = "resolver-config"
RESOLVER_VERSIONS = ("1-0-0", "1-0-1", "1-0-2", "1-0-3")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
TABLE_RE = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")


def _stderr_notice(message: str) -> None:
    print(f"notice: {message}", file=sys.stderr, flush=True)


def _join(items: Sequence[str], word: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c`` (or ``or``)."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {word} " + items[-1]


def _versions(versions: Sequence[str]) -> str:
    return _join(versions, "or")


def _check_key(
    path: str, key: SchemaKey, vendor: str, name: str, versions: tuple[str, ...], what: str
) -> None:
    """Right vendor/name (else 'unknown schema'), then a version we support."""
    family = f"iglu:{vendor}/{name}/jsonschema"
    if (key.vendor, key.name) != (vendor, name):
        raise ConfigError(
            path,
            "$.schema",
            f"{what} schema {family}/<version>, got the unknown schema "
            f"iglu:{key.vendor}/{key.name}/{key.format}/{key.version}",
            hint=f"Supported versions: {_versions(versions)}.",
        )
    if key.format != "jsonschema" or key.version not in versions:
        raise ConfigError(
            path,
            "$.schema",
            f"a supported version of {family} ({_versions(versions)}), "
            f"got {key.format}/{key.version}",
            hint=f"This tool knows {what} versions {_versions(versions)} only.",
        )


# ---- resolver config ----------------------------------------------------------------------------


def _resolver_hint(version: str, problems: list[Problem]) -> str:
    """Most resolver-config mistakes are features of a later version: say which one."""
    text = " ".join(p.expected for p in problems)
    paths = " ".join(p.json_path for p in problems)
    hints = []
    if version == "1-0-0" and "'apikey'" in text:
        hints.append("connection.http.apikey needs resolver-config 1-0-1 or later.")
    if version in ("1-0-0", "1-0-1") and "'cacheTtl'" in text:
        hints.append("cacheTtl needs resolver-config 1-0-2 or later.")
    if version in ("1-0-0", "1-0-1") and ("cacheSize" in paths or "priority" in paths):
        hints.append("Before 1-0-2, cacheSize and priority are integers (cacheSize >= 0).")
    if version == "1-0-2" and "cacheTtl" in paths:
        hints.append("In 1-0-2 cacheTtl is an integer >= 1 or null (1-0-3 also allows 0).")
    return " ".join(hints)


def load_resolver_config(path: str) -> Resolver:
    """A Resolver from an Iglu resolver config (resolver-config 1-0-0 to 1-0-3)."""
    obj, _ = load_self_describing(path)
    key = parse_schema_uri(obj["schema"])
    _check_key(
        path, key, RESOLVER_VENDOR, RESOLVER_NAME, RESOLVER_VERSIONS, "an Iglu resolver-config"
    )
    schema = bundled_schema(key)
    assert schema is not None, f"bundled schema missing for {key.uri}"
    data = obj["data"]
    problems = schema_problems(data, schema)
    if problems:
        raise ConfigError(path, hint=_resolver_hint(key.version, problems), problems=problems)
    repositories = [Repository.from_config(item) for item in data["repositories"]]
    bad_uris = [
        Problem(f"$.data.repositories[{i}].connection.http.uri", "an http:// or https:// URI")
        for i, repo in enumerate(repositories)
        if repo.http_uri is not None and not re.match(r"^https?://[^/?#]+", repo.http_uri)
    ]
    if bad_uris:
        raise ConfigError(path, problems=bad_uris)
    return Resolver(
        repositories,
        base_dir=os.path.dirname(os.path.abspath(path)),
        cache_size=data["cacheSize"],
        source=path,
    )


# ---- storage config -----------------------------------------------------------------------------


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-"))


def _purpose_hint() -> str:
    """``Schema 2-0-0 is for purpose EVENTS_MANIFEST; 1-0-0 and 1-0-1 for …`` (newest first)."""
    by_purpose: dict[str, list[str]] = {}
    newest_first = sorted(VERSIONS.values(), key=lambda s: _numbers(s.version), reverse=True)
    for spec in newest_first:
        by_purpose.setdefault(spec.purpose, []).insert(0, spec.version)
    (purpose, versions), *others = by_purpose.items()
    text = f"Schema {_join(versions)} is for purpose {purpose}"
    return text + "".join(f"; {_join(v)} for {p}" for p, v in others) + "."


def _auth_hint(spec: StorageVersion, keys: set[str]) -> str:
    """Credentials where another version keeps them."""
    nested = [v.version for v in VERSIONS.values() if v.auth == AUTH_OBJECT_OR_NULL]
    flat = [v.version for v in VERSIONS.values() if v.auth == AUTH_IN_DATA]
    if spec.auth == AUTH_OBJECT_OR_NULL and keys & set(KEY_FIELDS):
        return (
            f'In {spec.version} the keys moved into "auth": {{"accessKeyId": …, '
            '"secretAccessKey": …}, or "auth": null for the default AWS credential chain '
            "(e.g. the EMR instance role)."
        )
    if spec.auth == AUTH_IN_DATA and "auth" in keys:
        return (
            f'"auth" needs schema {_join(nested, "or")}; {_join(flat)} configs carry '
            "accessKeyId/secretAccessKey."
        )
    return ""


def _storage_hint(version: str, data: Any, problems: list[Problem]) -> str:
    """Most storage-config mistakes are another version's fields: say which version has them."""
    spec = VERSIONS[version]
    keys = set(data) if isinstance(data, dict) else set()
    hints = []
    if any(p.json_path == "$.data.purpose" for p in problems):
        hints.append(_purpose_hint())
    hints.append(_auth_hint(spec, keys))
    for field in sorted(keys - set(spec.fields) - set(KEY_FIELDS) - {"auth"}):
        having = [v.version for v in VERSIONS.values() if field in v.fields]
        if having:
            hints.append(f'"{field}" needs schema {_join(having, "or")}.')
    return " ".join(hint for hint in hints if hint)


def _aws_problems(data: dict[str, Any]) -> list[Problem]:
    """What the schema allows but AWS would refuse (only after the types are known good)."""
    problems = []
    region = data.get("awsRegion")
    if isinstance(region, str) and not REGION_RE.match(region):
        problems.append(
            Problem("$.data.awsRegion", "an AWS region code such as us-east-1 or eu-west-2")
        )
    table = data.get("dynamodbTable")
    if isinstance(table, str) and not TABLE_RE.match(table):
        problems.append(
            Problem(
                "$.data.dynamodbTable",
                "a DynamoDB table name: 3 to 255 characters from a-z, A-Z, 0-9, '_', '-', '.'",
            )
        )
    return problems


def load_storage_config(
    path: str, resolver: Resolver, notice: Callable[[str], None] = _stderr_notice
) -> StorageConfig:
    """A StorageConfig from an ``amazon_dynamodb_config`` 1-0-0, 1-0-1 or 2-0-0 file.

    ``notice`` receives one line (without a ``notice:`` prefix) when the schema comes from
    the bundled copy instead of an Iglu repository.
    """
    obj, _ = load_self_describing(path)
    key = parse_schema_uri(obj["schema"])
    _check_key(
        path,
        key,
        STORAGE_SCHEMA_VENDOR,
        STORAGE_SCHEMA_NAME,
        SUPPORTED_VERSIONS,
        "the DynamoDB storage config",
    )
    schema = resolver.resolve(key, notice=notice)
    data = obj["data"]
    problems = schema_problems(data, schema)
    if problems:
        raise ConfigError(path, hint=_storage_hint(key.version, data, problems), problems=problems)
    try:  # the version table's checks: purpose, credentials (also what a lax schema lets by)
        config = StorageConfig.from_self_describing(obj, source=path)
    except StorageConfigError as error:
        problem = [Problem(error.field, error.expected)]
        hint = _storage_hint(key.version, data, problem)
        raise ConfigError(path, hint=hint, problems=problem) from None
    problems = _aws_problems(data)
    if problems:
        raise ConfigError(path, problems=problems)
    return config


def validate_configs(
    storage_path: str,
    resolver_path: str | None,
    notice: Callable[[str], None] = _stderr_notice,
) -> StorageConfig:
    """Both files checked; without a resolver config, Iglu Central (then bundled) is used."""
    if resolver_path is None:
        resolver = Resolver.default(source="<default resolver>")
    else:
        resolver = load_resolver_config(resolver_path)
    return load_storage_config(storage_path, resolver, notice)
