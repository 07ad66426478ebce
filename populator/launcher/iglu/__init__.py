"""Iglu for the launcher: self-describing JSON files, schema validation, schema resolution.

Snowplow configs are self-describing JSON validated against Iglu schemas. We resolve the
storage-config schema through the user's resolver config like Snowplow does, but configs in
the wild list Iglu Central and many machines cannot reach it, so resolution never hangs
(short timeouts, a hard deadline per repository) and falls back to the copy bundled in
``populator/schemas`` with a one-line notice.

Error messages are built from the failing rule, the JSON path and the value's JSON *type*:
never from the value itself, because values can be secrets. Launcher only (Python 3.11).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit, urlunsplit

from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from populator.core.errors import UserError
from populator.core.storage_config import json_type

__all__ = [
    "IGLU_CENTRAL",
    "MAX_CONFIG_BYTES",
    "OFFLINE_ENV",
    "SCHEMA_URI_RE",
    "ConfigError",
    "HttpTimeouts",
    "Problem",
    "Repository",
    "Resolver",
    "SchemaKey",
    "bundled_schema",
    "load_self_describing",
    "parse_json",
    "parse_schema_uri",
    "read_config_file",
    "schema_problems",
    "validate",
]

SCHEMA_URI_RE = re.compile(
    r"^iglu:([a-zA-Z0-9-_.]+)/([a-zA-Z0-9-_]+)/([a-zA-Z0-9-_]+)/([0-9]+-[0-9]+-[0-9]+)$"
)
IGLU_CENTRAL = "http://iglucentral.com"
OFFLINE_ENV = "POPULATOR_IGLU_OFFLINE"
MAX_CONFIG_BYTES = 1024 * 1024
MAX_SCHEMA_BYTES = 1024 * 1024
MAX_PROBLEMS_SHOWN = 5
SELF_DESCRIBING_HINT = 'A config is a self-describing JSON: {"schema": "iglu:…", "data": {…}}.'
_SCHEMAS_PACKAGE = "populator.launcher.iglu"


# ---- errors -----------------------------------------------------------------------------------


class Problem(NamedTuple):
    """One thing wrong in a config: where (JSON path) and what was expected. Never a value."""

    json_path: str
    expected: str
    validator: str = ""


class ConfigError(UserError):
    """A config file we cannot use: ``<file>: <json path>: expected <…>`` in one paragraph.

    ``path`` is the file, ``json_path`` and ``expected`` describe the first (best) problem;
    ``problems`` holds all of them. The text never contains a field value.
    """

    def __init__(
        self,
        path: str,
        json_path: str = "",
        expected: str = "",
        hint: str = "",
        problems: Sequence[Problem] = (),
    ) -> None:
        self.path = str(path)
        self.problems: list[Problem] = list(problems) or [Problem(json_path, expected)]
        self.json_path = self.problems[0].json_path
        self.expected = self.problems[0].expected
        self.hint = hint
        super().__init__(self._render())

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, "", "", self.hint, self.problems))

    def _render(self) -> str:
        shown = [
            f"{p.json_path}: expected {p.expected}" if p.json_path else f"expected {p.expected}"
            for p in self.problems[:MAX_PROBLEMS_SHOWN]
        ]
        text = f"{self.path}: " + "; ".join(shown)
        hidden = len(self.problems) - MAX_PROBLEMS_SHOWN
        if hidden > 0:
            text += f" (and {hidden} more problem{'s' if hidden > 1 else ''})"
        text = text if text.endswith(".") else text + "."
        return f"{text} {self.hint}" if self.hint else text


# ---- schema keys --------------------------------------------------------------------------------


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

    def __str__(self) -> str:
        return self.uri


def parse_schema_uri(uri: str) -> SchemaKey:
    """``iglu:vendor/name/format/M-R-A`` to a SchemaKey; ValueError (without the text) if not."""
    match = SCHEMA_URI_RE.match(uri) if isinstance(uri, str) else None
    if match is None or match.group(1).strip(".") == "":
        raise ValueError("not an Iglu schema URI (iglu:vendor/name/format/M-R-A)")
    return SchemaKey(*match.groups())


# ---- reading files ------------------------------------------------------------------------------


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
        raise ConfigError(
            source, "", f"JSON without duplicate keys, but the key {_key_name(error.key)} repeats"
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


def _key_name(key: str) -> str:
    return repr(key if len(key) <= 64 else key[:61] + "...")


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
        problems.append(Problem("$", "only the keys schema and data; unexpected: " + _names(extra)))
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


def _names(keys: Iterable[str]) -> str:
    keys = list(keys)
    shown = ", ".join(_key_name(k) for k in keys[:10])
    return shown + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")


# ---- bundled schemas ----------------------------------------------------------------------------


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


# ---- validation with value-free messages --------------------------------------------------------

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_URI_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("uuid")
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(_UUID_RE.match(value))


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _URI_SCHEME_RE.match(value) or any(c.isspace() or ord(c) < 32 for c in value):
        return False
    parts = urlsplit(value)
    return bool(parts.netloc or parts.path)


_ARTICLE = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "an object",
    "array": "an array",
    "boolean": "a boolean",
    "null": "null",
}
_FORMAT_TEXT = {
    "uuid": "a UUID (8-4-4-4-12 hex digits)",
    "uri": "an absolute URI such as http://iglucentral.com",
}


def _json_path(base: str, parts: Iterable[Any]) -> str:
    path = base
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


def _sort_key(error: ValidationError) -> tuple[Any, ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in error.absolute_path)


def _describe(error: ValidationError, base: str) -> list[Problem]:
    """Value-free problems for one jsonschema error (from its rule, path and the value's type)."""
    path = _json_path(base, error.absolute_path)
    rule, rule_value, instance = error.validator, error.validator_value, error.instance
    if rule == "type":
        types = rule_value if isinstance(rule_value, list) else [rule_value]
        wanted = " or ".join(_ARTICLE.get(t, str(t)) for t in types)
        got = json_type(instance)
        if got == "number" and "integer" in types:
            got = "a number with a fraction"
        return [Problem(path, f"{wanted}, got {got}", rule)]
    if rule == "required":
        present = instance if isinstance(instance, dict) else {}
        missing = [name for name in rule_value if name not in present]
        return [
            Problem(_json_path(path, [name]), "this required field (missing)", rule)
            for name in missing
        ]
    if rule == "additionalProperties":
        allowed = list((error.schema or {}).get("properties", {}))
        extra = sorted(set(instance) - set(allowed)) if isinstance(instance, dict) else []
        allowed_text = ", ".join(allowed) if allowed else "none"
        return [Problem(path, f"only the fields {allowed_text}; unexpected: {_names(extra)}", rule)]
    if rule == "enum":
        choices = ", ".join(json.dumps(choice) for choice in rule_value)
        return [Problem(path, f"one of {choices}, got another {json_type(instance)}", rule)]
    if rule in ("minimum", "maximum"):
        exclusive = bool((error.schema or {}).get("exclusive" + rule.capitalize()))
        sign = {"minimum": (">=", ">"), "maximum": ("<=", "<")}[rule][exclusive]
        return [Problem(path, f"a number {sign} {rule_value}", rule)]
    if rule == "format":
        return [
            Problem(path, _FORMAT_TEXT.get(rule_value, f"a string in {rule_value} format"), rule)
        ]
    if rule == "oneOf":
        return _describe_one_of(error, base, path)
    if rule in ("minLength", "maxLength"):
        word = "at least" if rule == "minLength" else "at most"
        return [Problem(path, f"a string of {word} {rule_value} characters", rule)]
    if rule in ("minItems", "maxItems"):
        word = "at least" if rule == "minItems" else "at most"
        return [Problem(path, f"an array of {word} {rule_value} items", rule)]
    if rule == "pattern":
        return [Problem(path, f"a string matching {rule_value}", rule)]
    return [Problem(path, f"a value that satisfies the schema's {rule!r} rule", rule)]


def _describe_one_of(error: ValidationError, base: str, path: str) -> list[Problem]:
    """Report the branch the user evidently meant, else say what the alternatives are."""
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    root_rules = {"required", "type", "additionalProperties"}
    meant = [
        errors
        for errors in by_branch.values()
        if not any(not sub.relative_path and sub.validator in root_rules for sub in errors)
    ]
    if error.context and len(meant) == 1:
        problems: list[Problem] = []
        for sub in sorted(meant[0], key=_sort_key):
            problems.extend(_describe(sub, base))
        return problems
    keys = (
        f" with the keys {_names(sorted(error.instance))}"
        if isinstance(error.instance, dict)
        else ""
    )
    got = f"got {_ARTICLE.get(json_type(error.instance), json_type(error.instance))}{keys}"
    if error.absolute_path and error.absolute_path[-1] == "connection":
        return [
            Problem(
                path,
                'exactly one of {"embedded": {"path": "…"}} or '
                '{"http": {"uri": "…", "apikey": "…" (optional)}}, ' + got,
                "oneOf",
            )
        ]
    choices = " or ".join(_summarize(branch) for branch in error.validator_value)
    return [Problem(path, f"exactly one of: {choices}; {got}", "oneOf")]


def _summarize(schema: dict[str, Any]) -> str:
    types = schema.get("type", "")
    types = types if isinstance(types, list) else [types] if types else []
    text = " or ".join(_ARTICLE.get(t, t) for t in types) or "a value"
    if schema.get("required"):
        text += " with " + ", ".join(schema["required"])
    return text


def schema_problems(instance: Any, schema: dict[str, Any], base: str = "$.data") -> list[Problem]:
    """All problems of ``instance`` against a draft-04 schema: the most relevant first, then
    the others in path order; duplicates removed."""
    validator = Draft4Validator(schema, format_checker=_FORMATS)
    errors = sorted(validator.iter_errors(instance), key=_sort_key)
    if not errors:
        return []
    best = best_match(errors)
    while best.parent is not None:
        best = best.parent
    ordered = [best] + [e for e in errors if e is not best]
    problems: list[Problem] = []
    for error in ordered:
        for problem in _describe(error, base):
            if problem not in problems:
                problems.append(problem)
    return problems


def validate(
    instance: Any, schema: dict[str, Any], source: str, base: str = "$.data", hint: str = ""
) -> None:
    """Raise one ConfigError listing every problem (values never shown)."""
    problems = schema_problems(instance, schema, base)
    if problems:
        raise ConfigError(source, hint=hint, problems=problems)


# ---- resolution ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpTimeouts:
    """Seconds: TCP connect, each socket read, and a hard deadline per repository (DNS too)."""

    connect: float = 1.0
    read: float = 4.0
    total: float = 6.0


@dataclass(frozen=True)
class Repository:
    """One repository of a resolver config: embedded (a local directory) or HTTP."""

    name: str
    priority: float
    vendor_prefixes: tuple[str, ...]
    embedded_path: str | None = None
    http_uri: str | None = None
    apikey: str | None = field(default=None, repr=False)

    @property
    def is_http(self) -> bool:
        return self.http_uri is not None

    def matches(self, vendor: str) -> bool:
        return any(vendor.startswith(prefix) for prefix in self.vendor_prefixes)

    def describe(self) -> str:
        """``'name' (location)`` with any user:password in the URI removed."""
        if self.http_uri is None:
            return f"{self.name!r} (embedded {self.embedded_path})"
        return f"{self.name!r} ({_without_userinfo(self.http_uri)})"

    @classmethod
    def from_config(cls, item: dict[str, Any]) -> Repository:
        """From one validated ``repositories[]`` item."""
        connection = item["connection"]
        embedded = connection.get("embedded")
        http = connection.get("http") or {}
        return cls(
            name=item["name"],
            priority=item["priority"],
            vendor_prefixes=tuple(item["vendorPrefixes"]),
            embedded_path=embedded["path"] if embedded else None,
            http_uri=http.get("uri"),
            apikey=http.get("apikey"),
        )


def _without_userinfo(uri: str) -> str:
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class _RepoProblem(Exception):
    """A repository that could not answer (unreachable, timed out, served garbage)."""


def _print_notice(message: str) -> None:
    print(f"notice: {message}", file=sys.stderr, flush=True)


def offline_requested() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")


class Resolver:
    """Finds schemas in the repositories of a resolver config, then in our bundled copies."""

    def __init__(
        self,
        repositories: Sequence[Repository],
        base_dir: str | os.PathLike[str] = ".",
        cache_size: float = 500,
        timeouts: HttpTimeouts | None = None,
        offline: bool | None = None,
        notice: Callable[[str], None] = _print_notice,
        source: str = "<resolver config>",
    ) -> None:
        self.repositories = tuple(repositories)
        self.base_dir = Path(base_dir)
        self.cache_size = cache_size
        self.timeouts = timeouts or HttpTimeouts()
        self.offline = offline
        self.notice = notice
        self.source = source
        self._cache: dict[SchemaKey, dict[str, Any]] = {}

    @classmethod
    def default(cls, **kwargs: Any) -> Resolver:
        """What Snowplow's default resolver config lists: Iglu Central only."""
        central = Repository("Iglu Central", 0, ("com.snowplowanalytics",), http_uri=IGLU_CENTRAL)
        return cls([central], **kwargs)

    def __repr__(self) -> str:
        return f"Resolver({[r.describe() for r in self.repositories]})"

    @property
    def secrets(self) -> list[str]:
        """API keys of HTTP repositories, for a ``Redactor``."""
        return [r.apikey for r in self.repositories if r.apikey]

    def ordered(self, key: SchemaKey) -> list[Repository]:
        """Iglu's lookup order: vendor-prefix matches, embedded before HTTP, lower priority."""
        return sorted(
            self.repositories,
            key=lambda r: (not r.matches(key.vendor), r.is_http, r.priority),
        )

    def resolve(
        self, key: SchemaKey, notice: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """The schema for ``key``: from the first repository that has it, else the bundled copy
        (with one notice saying why). ConfigError if nobody has it."""
        if key in self._cache:
            return self._cache[key]
        offline = offline_requested() if self.offline is None else self.offline
        failures: list[str] = []
        skipped: list[Repository] = []
        for repo in self.ordered(key):
            if repo.is_http and offline:
                skipped.append(repo)
                continue
            try:
                schema = self._lookup(repo, key)
            except _RepoProblem as problem:
                failures.append(f"Iglu repository {repo.describe()} {problem}")
                continue
            if schema is not None:
                return self._remember(key, schema)
            failures.append(f"Iglu repository {repo.describe()} does not have it")
        if skipped:
            names = ", ".join(r.describe() for r in skipped)
            failures.append(f"HTTP repositories skipped because {OFFLINE_ENV}=1: {names}")
        if not self.repositories:
            failures.append("the resolver config lists no repositories")
        bundled = bundled_schema(key)
        if bundled is None:
            raise ConfigError(
                self.source,
                "$.data.repositories",
                f"a repository that serves {key.uri} ({'; '.join(failures)})",
            )
        (self.notice if notice is None else notice)(
            _one_line("; ".join(failures)) + f"; using the bundled copy of {key.uri}"
        )
        return self._remember(key, bundled)

    def _remember(self, key: SchemaKey, schema: dict[str, Any]) -> dict[str, Any]:
        if self.cache_size and len(self._cache) < self.cache_size:
            self._cache[key] = schema
        return schema

    def _lookup(self, repo: Repository, key: SchemaKey) -> dict[str, Any] | None:
        if repo.http_uri is not None:
            body = self._fetch(repo, key)
        else:
            body = self._read_embedded(repo, key)
        if body is None:
            return None
        try:
            schema = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise _RepoProblem("served invalid JSON") from None
        if not isinstance(schema, dict):
            raise _RepoProblem(f"served a JSON {json_type(schema)}, not a schema")
        try:
            Draft4Validator.check_schema(schema)
        except SchemaError:
            raise _RepoProblem("served an invalid JSON Schema") from None
        own = schema.get("self")
        if isinstance(own, dict):
            expected = {"vendor": key.vendor, "name": key.name, "version": key.version}
            if any(own.get(part, value) != value for part, value in expected.items()):
                raise _RepoProblem("served a schema whose self block names another schema")
        return schema

    def _read_embedded(self, repo: Repository, key: SchemaKey) -> bytes | None:
        root = Path(repo.embedded_path or "")
        if not root.is_absolute():
            root = self.base_dir / root
        target = root / "schemas" / key.vendor / key.name / key.format / key.version
        if not target.is_file():
            return None
        try:
            with open(target, "rb") as handle:
                body = handle.read(MAX_SCHEMA_BYTES + 1)
        except OSError as error:
            raise _RepoProblem(f"unreadable ({error.strerror or 'error'})") from None
        if len(body) > MAX_SCHEMA_BYTES:
            raise _RepoProblem("holds a schema larger than 1 MiB")
        return body

    def _fetch(self, repo: Repository, key: SchemaKey) -> bytes | None:
        """GET in a daemon thread so even DNS cannot make us wait past the deadline."""
        url = f"{(repo.http_uri or '').rstrip('/')}/schemas/{key.path}"
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = _http_get(url, repo.apikey, self.timeouts)
            except BaseException as error:  # reported to the caller below
                outcome["error"] = error

        worker = threading.Thread(target=run, name=f"iglu-fetch-{repo.name}", daemon=True)
        worker.start()
        worker.join(self.timeouts.total)
        if worker.is_alive():
            raise _RepoProblem(f"unreachable (no answer within {self.timeouts.total:g} s)")
        if "error" in outcome:
            raise _RepoProblem(_network_reason(outcome["error"])) from None
        status, body = outcome["result"]
        if not 200 <= status < 300:
            raise _NotFound(status)
        return body


class _NotFound(_RepoProblem):
    def __init__(self, status: int) -> None:
        super().__init__(f"answered HTTP {status}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _network_reason(error: BaseException) -> str:
    if isinstance(error, (TimeoutError, socket.timeout)):
        return "unreachable (timed out)"
    if isinstance(error, ConnectionRefusedError):
        return "unreachable (connection refused)"
    if isinstance(error, socket.gaierror):
        return "unreachable (host name not resolved)"
    if isinstance(error, ssl.SSLError):
        return "unreachable (TLS error)"
    if isinstance(error, _RepoProblem):
        return str(error)
    if isinstance(error, OSError):
        return f"unreachable ({error.strerror or type(error).__name__})"
    if isinstance(error, http.client.HTTPException):
        return f"unreachable (bad HTTP answer: {type(error).__name__})"
    return f"unreachable ({type(error).__name__})"


def _http_get(url: str, apikey: str | None, timeouts: HttpTimeouts) -> tuple[int, bytes]:
    """GET with a connect timeout, a read timeout and an overall deadline; follows up to three
    redirects (the apikey only goes to the original host)."""
    deadline = time.monotonic() + timeouts.total
    origin = urlsplit(url).netloc
    for _ in range(4):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _RepoProblem("has an unsupported URI (only http and https)")
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(parts.hostname, parts.port, timeout=timeouts.connect)
        try:
            connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(timeouts.read)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            headers = {"Accept": "application/json", "User-Agent": "event-manifest-populator"}
            if apikey and parts.netloc == origin:
                headers["apikey"] = apikey
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                url = urljoin(url, response.getheader("Location", ""))
                continue
            if not 200 <= response.status < 300:
                return response.status, b""
            body = b""
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError
                chunk = response.read(64 * 1024)
                if not chunk:
                    return response.status, body
                body += chunk
                if len(body) > MAX_SCHEMA_BYTES:
                    raise _RepoProblem("served more than 1 MiB")
        finally:
            connection.close()
    raise _RepoProblem("redirected too many times")
