"""Strict reading of the JSON files a user hands us: size- and type-checked, UTF-8, no
duplicate keys, no NaN, and self-describing (exactly ``schema`` and ``data``).

Every error is a ``ConfigError`` naming the file and what was expected; key names the user
wrote are shown only when they are names our schemas know (a pasted secret can be a key).
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from populator.core.storage_config import describe_names, json_type, known_field_names
from populator.launcher.iglu.errors import ConfigError, Problem
from populator.launcher.iglu.keys import bundled_vocabulary, parse_schema_uri

MAX_CONFIG_BYTES = 1024 * 1024
SELF_DESCRIBING_HINT = 'A config is a self-describing JSON: {"schema": "iglu:…", "data": {…}}.'


def known_names() -> frozenset[str]:
    """Key names that may be shown verbatim: those of our schemas and storage-config versions."""
    return bundled_vocabulary() | known_field_names()


def read_config_file(path: str | os.PathLike[str], limit: int = MAX_CONFIG_BYTES) -> str:
    """The file's text; ConfigError naming the path if missing, unreadable, huge or not UTF-8."""
    name = os.fspath(path)
    try:
        info = os.stat(name)  # follows symlinks: we judge what the link points to
    except FileNotFoundError:
        if os.path.islink(name):
            raise ConfigError(name, "", "a file, but it is a symlink to a missing file") from None
        raise ConfigError(name, "", "an existing file (no such file)") from None
    except PermissionError:
        raise ConfigError(name, "", "a readable file (permission denied)") from None
    except OSError as error:
        raise ConfigError(name, "", f"a readable file ({error.strerror or 'error'})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(name, "", "a file, got a directory")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(name, "", "a regular file (not a device, pipe or socket)")
    if info.st_size > limit:
        raise ConfigError(
            name, "", f"a file of at most {_size(limit)} (it has {_size(info.st_size)})"
        )
    try:
        with open(name, "rb") as handle:
            raw = handle.read(limit + 1)
    except PermissionError:
        raise ConfigError(name, "", "a readable file (permission denied)") from None
    except OSError as error:
        raise ConfigError(name, "", f"a readable file ({error.strerror or 'error'})") from None
    if len(raw) > limit:
        raise ConfigError(name, "", f"a file of at most {_size(limit)}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            name, "", f"UTF-8 text (invalid byte sequence at byte offset {error.start})"
        ) from None


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MiB" if count >= 1024 * 1024 else f"{count} bytes"


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


class _NotStandardJson(Exception):
    def __init__(self, token: str) -> None:
        self.token = token


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _reject_constant(token: str) -> Any:
    raise _NotStandardJson(token)


def parse_json(text: str, source: str) -> Any:
    """Strict JSON: no duplicate keys (which one would win is parser-dependent), no NaN."""
    try:
        return json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except _DuplicateKey as error:
        key = describe_names([error.key], known_names())
        raise ConfigError(
            source, "", f"JSON without duplicate keys, but the key {key} repeats"
        ) from None
    except _NotStandardJson as error:
        raise ConfigError(source, "", f"standard JSON, got the literal {error.token}") from None
    except json.JSONDecodeError as error:
        # The decoder's messages say what was expected and where, never the text itself.
        raise ConfigError(
            source, "", f"valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except RecursionError:
        raise ConfigError(source, "", "JSON nested less deeply") from None
    except ValueError:  # e.g. an integer with more than 4,300 digits
        raise ConfigError(source, "", "valid JSON (a number is out of range)") from None


def load_self_describing(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """Read a self-describing JSON file: an object with exactly ``schema`` and ``data``."""
    name = os.fspath(path)
    text = read_config_file(name)
    obj = parse_json(text, name)
    if not isinstance(obj, dict):
        raise ConfigError(
            name,
            "$",
            f'a self-describing JSON object {{"schema": …, "data": …}}, got {json_type(obj)}',
        )
    problems = []
    extra = sorted(set(obj) - {"schema", "data"})
    if extra:
        unexpected = describe_names(extra, known_names())
        problems.append(Problem("$", "only the keys schema and data; unexpected: " + unexpected))
    for key in ("schema", "data"):
        if key not in obj:
            problems.append(Problem(f"$.{key}", "this required key (missing)"))
    schema = obj.get("schema")
    if "schema" in obj and not isinstance(schema, str):
        problems.append(Problem("$.schema", f"a string, got {json_type(schema)}"))
    elif isinstance(schema, str):
        try:
            parse_schema_uri(schema)
        except ValueError:
            problems.append(
                Problem(
                    "$.schema",
                    "an Iglu schema URI like iglu:com.vendor/name/jsonschema/1-0-0, "
                    "got a string that is not one",
                )
            )
    if problems:
        raise ConfigError(name, hint=SELF_DESCRIBING_HINT, problems=problems)
    return obj, text
