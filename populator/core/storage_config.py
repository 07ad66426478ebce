"""The DynamoDB storage config (``amazon_dynamodb_config`` 1-0-0, 1-0-1, 2-0-0) as a value.

The launcher validates the file fully against the Iglu schema (``populator.launcher.configs``); this
module only turns an already valid self-describing JSON into a ``StorageConfig`` and back, so
the Spark job can read the copy the launcher uploaded. The checks here are structural and
light, and every error names the field, never its value (values can be secrets).

Runs on the EMR cluster as well: Python 3.9, standard library only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

__all__ = [
    "DUPLICATE_TRACKING",
    "EVENTS_MANIFEST",
    "STORAGE_SCHEMA_NAME",
    "STORAGE_SCHEMA_VENDOR",
    "SUPPORTED_VERSIONS",
    "Credentials",
    "StorageConfig",
    "StorageConfigError",
    "load_storage_config_file",
    "parse_storage_config_text",
    "storage_schema_uri",
]

STORAGE_SCHEMA_VENDOR = "com.snowplowanalytics.snowplow.storage"
STORAGE_SCHEMA_NAME = "amazon_dynamodb_config"
SUPPORTED_VERSIONS = ("1-0-0", "1-0-1", "2-0-0")
DUPLICATE_TRACKING = "DUPLICATE_TRACKING"
EVENTS_MANIFEST = "EVENTS_MANIFEST"
MAX_CONFIG_BYTES = 1024 * 1024

# Fields of `data` per schema version: (required, optional).
_FIELDS: Dict[str, Any] = {
    "1-0-0": (
        ("name", "accessKeyId", "secretAccessKey", "awsRegion", "dynamodbTable", "purpose"),
        (),
    ),
    "1-0-1": (
        ("name", "accessKeyId", "secretAccessKey", "awsRegion", "dynamodbTable", "purpose"),
        ("id",),
    ),
    "2-0-0": (("name", "auth", "awsRegion", "dynamodbTable", "id", "purpose"), ()),
}
_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def storage_schema_uri(version: str) -> str:
    return f"iglu:{STORAGE_SCHEMA_VENDOR}/{STORAGE_SCHEMA_NAME}/jsonschema/{version}"


def purpose_for(version: str) -> str:
    """1-x configs are for duplicate tracking; 2-0-0 names the events manifest."""
    return EVENTS_MANIFEST if version.startswith("2-") else DUPLICATE_TRACKING


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
        source = "<storage config>"
        version = self.schema_version
        if version not in SUPPORTED_VERSIONS:
            raise StorageConfigError(
                source, "schema_version", "one of " + ", ".join(SUPPORTED_VERSIONS)
            )
        for field in ("name", "region", "table", "purpose"):
            if not isinstance(getattr(self, field), str):
                raise StorageConfigError(source, field, "a string")
        if self.purpose != purpose_for(version):
            raise StorageConfigError(source, "purpose", f"{purpose_for(version)} for {version}")
        if self.credentials is None and version != "2-0-0":
            raise StorageConfigError(source, "credentials", f"access keys for {version}")
        if self.credentials is not None and not isinstance(self.credentials, Credentials):
            raise StorageConfigError(source, "credentials", "Credentials or None")
        if version == "1-0-0" and self.id is not None:
            raise StorageConfigError(source, "id", "None for 1-0-0 (it has no id)")
        if version == "2-0-0" and self.id is None:
            raise StorageConfigError(source, "id", "a UUID for 2-0-0")
        if self.id is not None and not (isinstance(self.id, str) and _UUID_RE.match(self.id)):
            raise StorageConfigError(source, "id", "a UUID string")

    def secrets(self) -> List[str]:
        """Values to hand to a ``Redactor``."""
        return [self.credentials.secret_access_key] if self.credentials else []

    def to_self_describing(self) -> Dict[str, Any]:
        """The normalized self-describing JSON, same schema version as loaded (for S3)."""
        data: Dict[str, Any] = {"name": self.name}
        if self.schema_version == "2-0-0":
            data["auth"] = (
                None
                if self.credentials is None
                else {
                    "accessKeyId": self.credentials.access_key_id,
                    "secretAccessKey": self.credentials.secret_access_key,
                }
            )
        elif self.credentials is not None:
            data["accessKeyId"] = self.credentials.access_key_id
            data["secretAccessKey"] = self.credentials.secret_access_key
        data["awsRegion"] = self.region
        data["dynamodbTable"] = self.table
        if self.id is not None:
            data["id"] = self.id
        data["purpose"] = self.purpose
        return {"schema": storage_schema_uri(self.schema_version), "data": data}

    @classmethod
    def from_self_describing(
        cls, obj: Dict[str, Any], source: str = "<storage config>"
    ) -> StorageConfig:
        """Structural checks only (no jsonschema on the cluster); raises StorageConfigError."""
        if not isinstance(obj, dict):
            raise StorageConfigError(source, "$", f"a JSON object, got {json_type(obj)}")
        extra = sorted(set(obj) - {"schema", "data"})
        if extra:
            raise StorageConfigError(
                source, "$", "only the keys schema and data; unexpected: " + _names(extra)
            )
        for key in ("schema", "data"):
            if key not in obj:
                raise StorageConfigError(source, f"$.{key}", "this required key (missing)")
        schema = obj["schema"]
        supported = [storage_schema_uri(v) for v in SUPPORTED_VERSIONS]
        if not isinstance(schema, str):
            raise StorageConfigError(source, "$.schema", f"a string, got {json_type(schema)}")
        if schema not in supported:
            raise StorageConfigError(source, "$.schema", "one of " + ", ".join(supported))
        version = schema.rsplit("/", 1)[1]
        data = obj["data"]
        if not isinstance(data, dict):
            raise StorageConfigError(source, "$.data", f"an object, got {json_type(data)}")
        required, optional = _FIELDS[version]
        extra = sorted(set(data) - set(required) - set(optional))
        if extra:
            raise StorageConfigError(
                source,
                "$.data",
                f"only the fields of {version} ({', '.join(required + optional)}); "
                f"unexpected: {_names(extra)}",
            )
        for field in required:
            if field not in data:
                raise StorageConfigError(source, f"$.data.{field}", "this required field (missing)")

        def text(container: Dict[str, Any], field: str, path: str) -> str:
            value = container[field]
            if not isinstance(value, str):
                raise StorageConfigError(source, path, f"a string, got {json_type(value)}")
            return value

        credentials: Optional[Credentials]
        if version == "2-0-0":
            auth = data["auth"]
            if auth is None:
                credentials = None
            elif isinstance(auth, dict):
                for field in ("accessKeyId", "secretAccessKey"):
                    if field not in auth:
                        raise StorageConfigError(
                            source, f"$.data.auth.{field}", "this required field (missing)"
                        )
                credentials = Credentials(
                    text(auth, "accessKeyId", "$.data.auth.accessKeyId"),
                    text(auth, "secretAccessKey", "$.data.auth.secretAccessKey"),
                )
            else:
                raise StorageConfigError(
                    source,
                    "$.data.auth",
                    "an object {accessKeyId, secretAccessKey} or null, got " + json_type(auth),
                )
        else:
            credentials = Credentials(
                text(data, "accessKeyId", "$.data.accessKeyId"),
                text(data, "secretAccessKey", "$.data.secretAccessKey"),
            )
        values = {f: text(data, f, f"$.data.{f}") for f in ("name", "awsRegion", "dynamodbTable")}
        purpose = text(data, "purpose", "$.data.purpose")
        if purpose != purpose_for(version):
            raise StorageConfigError(
                source, "$.data.purpose", f"{purpose_for(version)} (schema {version})"
            )
        config_id: Optional[str] = None
        if "id" in data:
            config_id = text(data, "id", "$.data.id")
            if not _UUID_RE.match(config_id):
                raise StorageConfigError(source, "$.data.id", "a UUID string")
        return cls(
            name=values["name"],
            region=values["awsRegion"],
            table=values["dynamodbTable"],
            credentials=credentials,
            schema_version=version,
            id=config_id,
            purpose=purpose,
        )


def _names(keys: List[str]) -> str:
    """Field names (never values) for a message, shortened so a pasted blob stays readable."""
    shown = [repr(key if len(key) <= 64 else key[:61] + "...") for key in keys[:10]]
    more = f" and {len(keys) - 10} more" if len(keys) > 10 else ""
    return ", ".join(shown) + more


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
