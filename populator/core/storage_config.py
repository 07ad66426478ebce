"""The DynamoDB storage config (``amazon_dynamodb_config`` 1-0-0, 1-0-1, 2-0-0) as a value.

One table, ``VERSIONS``, says what each schema version holds (its fields in the order we
write them, which are optional, its purpose and where the AWS keys live). Parsing
(``from_self_describing``), the value's own consistency checks, serialising
(``to_self_describing``) and the launcher's validation hints are all driven by it: adding a
version is one entry here plus its bundled schema in ``populator/launcher/iglu/schemas``.

The launcher validates the file fully against the Iglu schema (``populator.launcher.configs``)
and then parses it here, as the Spark job parses the copy the launcher uploaded. Every error
names the field, never its value, and never echoes a key name we do not know (values, and
names a user pasted by mistake, can be secrets).

Runs on the EMR cluster as well: Python 3.9, standard library only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

__all__ = [
    "AUTH_IN_DATA",
    "AUTH_OBJECT_OR_NULL",
    "DUPLICATE_TRACKING",
    "EVENTS_MANIFEST",
    "KEY_FIELDS",
    "STORAGE_SCHEMA_NAME",
    "STORAGE_SCHEMA_VENDOR",
    "SUPPORTED_VERSIONS",
    "UUID_RE",
    "VERSIONS",
    "Credentials",
    "StorageConfig",
    "StorageConfigError",
    "StorageVersion",
    "describe_names",
    "json_type",
    "known_field_names",
    "load_storage_config_file",
    "masked_name",
    "parse_storage_config_text",
    "purpose_for",
    "storage_schema_uri",
]

STORAGE_SCHEMA_VENDOR = "com.snowplowanalytics.snowplow.storage"
STORAGE_SCHEMA_NAME = "amazon_dynamodb_config"
DUPLICATE_TRACKING = "DUPLICATE_TRACKING"
EVENTS_MANIFEST = "EVENTS_MANIFEST"
MAX_CONFIG_BYTES = 1024 * 1024
KEY_FIELDS = ("accessKeyId", "secretAccessKey")
AUTH_IN_DATA = "in data"  # accessKeyId and secretAccessKey beside the other fields
AUTH_OBJECT_OR_NULL = "auth object or null"  # "auth": {accessKeyId, secretAccessKey} | null
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
# Field names users add by mistake that are safe to echo (they are AWS's own words).
_WELL_KNOWN_NAMES = frozenset({"schema", "data", "sessionToken", "region", "table", "tableName"})


@dataclass(frozen=True)
class StorageVersion:
    """One schema version of the storage config."""

    version: str
    purpose: str
    fields: Tuple[str, ...]  # every field of ``data``, in the order we write them
    optional: Tuple[str, ...] = ()
    auth: str = AUTH_IN_DATA

    @property
    def required(self) -> Tuple[str, ...]:
        return tuple(name for name in self.fields if name not in self.optional)

    @property
    def uri(self) -> str:
        return storage_schema_uri(self.version)


VERSIONS: Dict[str, StorageVersion] = {
    spec.version: spec
    for spec in (
        StorageVersion(
            "1-0-0",
            DUPLICATE_TRACKING,
            ("name", *KEY_FIELDS, "awsRegion", "dynamodbTable", "purpose"),
        ),
        StorageVersion(
            "1-0-1",
            DUPLICATE_TRACKING,
            ("name", *KEY_FIELDS, "awsRegion", "dynamodbTable", "id", "purpose"),
            optional=("id",),
        ),
        StorageVersion(
            "2-0-0",
            EVENTS_MANIFEST,
            ("name", "auth", "awsRegion", "dynamodbTable", "id", "purpose"),
            auth=AUTH_OBJECT_OR_NULL,
        ),
    )
}
SUPPORTED_VERSIONS = tuple(VERSIONS)
# ``data`` field -> StorageConfig attribute, for the fields that are plain strings.
_TEXT_FIELDS = {"name": "name", "awsRegion": "region", "dynamodbTable": "table", "id": "id"}
_ATTRIBUTE_PATHS = {"purpose": "$.data.purpose", "id": "$.data.id", "credentials": "$.data"}


def storage_schema_uri(version: str) -> str:
    return f"iglu:{STORAGE_SCHEMA_VENDOR}/{STORAGE_SCHEMA_NAME}/jsonschema/{version}"


def purpose_for(version: str) -> str:
    """The only purpose a version allows (1-x: duplicate tracking, 2-0-0: events manifest)."""
    return VERSIONS[version].purpose


class StorageConfigError(ValueError):
    """A storage config that cannot be used; the message names source and field, no values."""

    def __init__(self, source: str, field: str, expected: str) -> None:
        self.source = source
        self.field = field
        self.expected = expected
        super().__init__(f"{source}: {field}: expected {expected}")

    def __reduce__(self) -> Any:
        return (type(self), (self.source, self.field, self.expected))


def json_type(value: Any) -> str:
    """The JSON type of a value: the only thing about a value an error message may say."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def known_field_names() -> FrozenSet[str]:
    """Names that may appear verbatim in a message: every version's fields and a few more."""
    names = set(_WELL_KNOWN_NAMES) | set(KEY_FIELDS)
    for spec in VERSIONS.values():
        names.update(spec.fields)
    return frozenset(names)


def masked_name(name: str) -> str:
    """A name we do not know, for a message: at most two leading characters and its length.

    A secret pasted in the wrong place often arrives as a key name: never echo it.
    """
    shown = name[: min(2, len(name) // 4)]
    return f"{shown + '…'!r} ({len(name)} chars)"


def describe_names(names: Iterable[str], known: Iterable[str] = ()) -> str:
    """Key names for a message: known ones verbatim, the others masked; at most ten."""
    known = frozenset(known) or known_field_names()
    names = list(names)
    shown = [repr(n) if n in known else masked_name(n) for n in names[:10]]
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return ", ".join(shown) + more


@dataclass(frozen=True)
class Credentials:
    """Static AWS keys from a storage config; ``repr`` shows the secret as ``***``."""

    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key='***')"

    __str__ = __repr__


@dataclass(frozen=True)
class StorageConfig:
    """Where the events manifest lives and how to reach it.

    ``credentials`` is ``None`` when a 2-0-0 config says ``"auth": null``: use the default
    AWS credential chain (on EMR, the instance role).
    """

    name: str
    region: str
    table: str
    credentials: Optional[Credentials]
    schema_version: str
    id: Optional[str]
    purpose: str

    def __post_init__(self) -> None:
        """What the version table says a value of this version must be."""
        source = "<storage config>"
        spec = VERSIONS.get(self.schema_version)
        if spec is None:
            raise StorageConfigError(
                source, "schema_version", "one of " + ", ".join(SUPPORTED_VERSIONS)
            )
        for attribute in ("name", "region", "table", "purpose"):
            if not isinstance(getattr(self, attribute), str):
                raise StorageConfigError(source, attribute, "a string")
        if self.purpose != spec.purpose:
            raise StorageConfigError(source, "purpose", f"{spec.purpose} for {spec.version}")
        if self.credentials is None and spec.auth != AUTH_OBJECT_OR_NULL:
            raise StorageConfigError(source, "credentials", f"access keys for {spec.version}")
        if self.credentials is not None and not isinstance(self.credentials, Credentials):
            raise StorageConfigError(source, "credentials", "Credentials or None")
        if "id" not in spec.fields and self.id is not None:
            raise StorageConfigError(source, "id", f"None for {spec.version} (it has no id)")
        if "id" in spec.required and self.id is None:
            raise StorageConfigError(source, "id", f"a UUID for {spec.version}")
        if self.id is not None and not (isinstance(self.id, str) and UUID_RE.match(self.id)):
            raise StorageConfigError(source, "id", "a UUID string")

    def secrets(self) -> List[str]:
        """Values to hand to a ``Redactor``."""
        return [self.credentials.secret_access_key] if self.credentials else []

    def to_self_describing(self) -> Dict[str, Any]:
        """The normalized self-describing JSON, same schema version as loaded (for S3)."""
        spec = VERSIONS[self.schema_version]
        keys = self.credentials
        key_values = {} if keys is None else dict(zip(KEY_FIELDS, _key_values(keys)))
        plain = {"name": self.name, "awsRegion": self.region, "dynamodbTable": self.table}
        plain.update({"id": self.id, "purpose": self.purpose})  # type: ignore[dict-item]
        data: Dict[str, Any] = {}
        for field in spec.fields:
            if field == "auth":
                data["auth"] = key_values or None
            elif field in KEY_FIELDS:
                data[field] = key_values[field]
            elif plain[field] is not None or field not in spec.optional:
                data[field] = plain[field]
        return {"schema": spec.uri, "data": data}

    @classmethod
    def from_self_describing(
        cls, obj: Dict[str, Any], source: str = "<storage config>"
    ) -> StorageConfig:
        """Structural checks only (no jsonschema on the cluster); raises StorageConfigError."""
        spec, data = _envelope(obj, source)
        extra = sorted(set(data) - set(spec.fields))
        if extra:
            raise StorageConfigError(
                source,
                "$.data",
                f"only the fields of {spec.version} ({', '.join(spec.fields)}); "
                f"unexpected: {describe_names(extra)}",
            )
        for field in spec.required:
            if field not in data:
                raise StorageConfigError(source, f"$.data.{field}", "this required field (missing)")
        texts = {
            attribute: _text(data, field, f"$.data.{field}", source)
            for field, attribute in _TEXT_FIELDS.items()
            if field in data
        }
        credentials = _credentials(spec, data, source)
        purpose = _text(data, "purpose", "$.data.purpose", source)
        try:
            return cls(
                name=texts["name"],
                region=texts["region"],
                table=texts["table"],
                credentials=credentials,
                schema_version=spec.version,
                id=texts.get("id"),
                purpose=purpose,
            )
        except StorageConfigError as error:  # the value's own checks: say where in the file
            path = _ATTRIBUTE_PATHS.get(error.field, "$.data")
            raise StorageConfigError(source, path, error.expected) from None


def _key_values(keys: Credentials) -> Tuple[str, str]:
    return keys.access_key_id, keys.secret_access_key


def _envelope(obj: Any, source: str) -> Tuple[StorageVersion, Dict[str, Any]]:
    """The version (from ``schema``) and ``data`` of a self-describing storage config."""
    if not isinstance(obj, dict):
        raise StorageConfigError(source, "$", f"a JSON object, got {json_type(obj)}")
    extra = sorted(set(obj) - {"schema", "data"})
    if extra:
        raise StorageConfigError(
            source, "$", "only the keys schema and data; unexpected: " + describe_names(extra)
        )
    for key in ("schema", "data"):
        if key not in obj:
            raise StorageConfigError(source, f"$.{key}", "this required key (missing)")
    schema = obj["schema"]
    if not isinstance(schema, str):
        raise StorageConfigError(source, "$.schema", f"a string, got {json_type(schema)}")
    by_uri = {spec.uri: spec for spec in VERSIONS.values()}
    if schema not in by_uri:
        raise StorageConfigError(source, "$.schema", "one of " + ", ".join(by_uri))
    data = obj["data"]
    if not isinstance(data, dict):
        raise StorageConfigError(source, "$.data", f"an object, got {json_type(data)}")
    return by_uri[schema], data


def _text(container: Dict[str, Any], field: str, path: str, source: str) -> str:
    value = container[field]
    if not isinstance(value, str):
        raise StorageConfigError(source, path, f"a string, got {json_type(value)}")
    return value


def _credentials(spec: StorageVersion, data: Dict[str, Any], source: str) -> Optional[Credentials]:
    """The AWS keys where this version keeps them; None for ``"auth": null``."""
    if spec.auth == AUTH_IN_DATA:
        return _keys(data, "$.data", source)
    auth = data["auth"]
    if auth is None:
        return None
    if not isinstance(auth, dict):
        raise StorageConfigError(
            source,
            "$.data.auth",
            "an object {accessKeyId, secretAccessKey} or null, got " + json_type(auth),
        )
    return _keys(auth, "$.data.auth", source)


def _keys(container: Dict[str, Any], base: str, source: str) -> Credentials:
    values = []
    for field in KEY_FIELDS:
        path = f"{base}.{field}"
        if field not in container:
            raise StorageConfigError(source, path, "this required field (missing)")
        value = _text(container, field, path, source)
        if not value.strip():
            raise StorageConfigError(
                source, path, "a non-empty string (an empty key cannot sign AWS requests)"
            )
        values.append(value)
    return Credentials(values[0], values[1])


def parse_storage_config_text(text: str, source: str = "<storage config>") -> StorageConfig:
    """JSON text (e.g. the copy the launcher uploaded to S3) to a StorageConfig."""
    try:
        obj = json.loads(text)
    except ValueError as error:
        where = ""
        if isinstance(error, json.JSONDecodeError):
            where = f" ({error.msg} at line {error.lineno} column {error.colno})"
        raise StorageConfigError(source, "$", "valid JSON" + where) from None
    return StorageConfig.from_self_describing(obj, source)


def load_storage_config_file(path: str) -> StorageConfig:
    """Read a local storage config file (cluster side: no Iglu, no jsonschema)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise StorageConfigError(path, "$", f"a readable file ({error.strerror})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise StorageConfigError(path, "$", "a file of at most 1 MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StorageConfigError(path, "$", f"UTF-8 text (bad byte at {error.start})") from None
    return parse_storage_config_text(text, path)
