"""Iglu schema keys (``iglu:vendor/name/format/M-R-A``) and the copies of schemas we bundle.

The bundled copies (``schemas/`` next to this file) are what we validate against when no
repository can serve a schema; the resolver-config schemas are only ever taken from there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_URI_RE = re.compile(
    r"^iglu:([a-zA-Z0-9-_.]+)/([a-zA-Z0-9-_]+)/([a-zA-Z0-9-_]+)/([0-9]+-[0-9]+-[0-9]+)$"
)
IGLU_CENTRAL = "http://iglucentral.com"
_SCHEMAS_PACKAGE = "populator.launcher.iglu"


@dataclass(frozen=True, order=True)
class SchemaKey:
    vendor: str
    name: str
    format: str
    version: str

    @property
    def uri(self) -> str:
        return f"iglu:{self.vendor}/{self.name}/{self.format}/{self.version}"

    @property
    def model(self) -> int:
        return int(self.version.split("-")[0])

    @property
    def path(self) -> str:
        """``vendor/name/format/version``: the tail of a repository URL or directory."""
        return f"{self.vendor}/{self.name}/{self.format}/{self.version}"

    def self_block(self) -> dict[str, str]:
        """The ``self`` block a schema for this key must carry."""
        return {
            "vendor": self.vendor,
            "name": self.name,
            "format": self.format,
            "version": self.version,
        }

    def __str__(self) -> str:
        return self.uri


def parse_schema_uri(uri: str) -> SchemaKey:
    """``iglu:vendor/name/format/M-R-A`` to a SchemaKey; ValueError (without the text) if not."""
    match = SCHEMA_URI_RE.match(uri) if isinstance(uri, str) else None
    if match is None or match.group(1).strip(".") == "":
        raise ValueError("not an Iglu schema URI (iglu:vendor/name/format/M-R-A)")
    return SchemaKey(*match.groups())


@cache
def _bundled_text(key: SchemaKey) -> str | None:
    resource = resources.files(_SCHEMAS_PACKAGE).joinpath("schemas", *key.path.split("/"))
    try:
        return resource.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def bundled_schema(key: SchemaKey) -> dict[str, Any] | None:
    """Our copy of a schema (a fresh dict each call), or None if we do not bundle it."""
    text = _bundled_text(key)
    return None if text is None else json.loads(text)


@cache
def bundled_keys() -> tuple[SchemaKey, ...]:
    """Every schema we bundle."""
    root = resources.files(_SCHEMAS_PACKAGE).joinpath("schemas")
    found = []
    for vendor in root.iterdir():
        for name in vendor.iterdir():
            for fmt in name.iterdir():
                found += [
                    SchemaKey(vendor.name, name.name, fmt.name, v.name) for v in fmt.iterdir()
                ]
    return tuple(sorted(found))


@cache
def bundled_vocabulary() -> frozenset[str]:
    """Every property name our bundled schemas declare: names that are never a secret."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    names.update(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for key in bundled_keys():
        walk(bundled_schema(key))
    return frozenset(names)
