"""Resolve an Iglu schema through the user's resolver config, then our bundled copy.

Iglu's lookup order (vendor-prefix matches, embedded before HTTP, lower priority first), with
two promises on top: resolution never takes longer than one budget for all repositories
together (``HttpTimeouts.total``), and a repository is only believed when it serves the
schema asked for, complete in itself (``trust``). Anything else becomes one line of a single
notice and the bundled copy. Only the configured repositories' schema URLs are fetched.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from populator.launcher.iglu.errors import ConfigError, RepoProblem
from populator.launcher.iglu.http_fetch import MAX_SCHEMA_BYTES, DeadlinePassed, fetch
from populator.launcher.iglu.keys import IGLU_CENTRAL, SchemaKey, bundled_schema
from populator.launcher.iglu.trust import trusted_schema

OFFLINE_ENV = "POPULATOR_IGLU_OFFLINE"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class HttpTimeouts:
    """Seconds: TCP connect and each socket read per request, and one hard budget for the
    whole resolution of a schema (every repository together, DNS included)."""

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

    def schema_url(self, key: SchemaKey) -> str:
        return f"{(self.http_uri or '').rstrip('/')}/schemas/{key.path}"

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


def _print_notice(message: str) -> None:
    print(f"notice: {message}", file=sys.stderr, flush=True)


def offline_requested() -> bool:
    """``POPULATOR_IGLU_OFFLINE``: 1/true/yes/on or 0/false/no/off/empty, in any case."""
    value = os.environ.get(OFFLINE_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(
        OFFLINE_ENV,
        "",
        "1, true, yes or on (skip HTTP repositories) or 0, false, no, off or empty, "
        "in any case; got another value",
    )


def _offline_setting() -> str:
    value = os.environ.get(OFFLINE_ENV, "").strip()
    return value if value.lower() in _TRUE else "1"


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
        budget = self.timeouts.total
        deadline = time.monotonic() + budget
        failures: list[str] = []
        skipped: list[Repository] = []
        late: list[Repository] = []
        asked_http = False
        for repo in self.ordered(key):
            if repo.is_http and offline:
                skipped.append(repo)
                continue
            if repo.is_http and time.monotonic() >= deadline:
                late.append(repo)
                continue
            first, asked_http = not asked_http, asked_http or repo.is_http
            try:
                schema = self._lookup(repo, key, deadline, first)
            except RepoProblem as problem:
                failures.append(f"Iglu repository {repo.describe()} {problem}")
                continue
            if schema is not None:
                return self._remember(key, schema)
            failures.append(f"Iglu repository {repo.describe()} does not have it")
        if skipped:
            names = ", ".join(r.describe() for r in skipped)
            failures.append(
                f"HTTP repositories skipped because {OFFLINE_ENV}={_offline_setting()}: {names}"
            )
        if late:
            names = ", ".join(r.describe() for r in late)
            failures.append(f"not tried because the {budget:g} s Iglu budget ran out: {names}")
        return self._fallback(key, failures, notice)

    def _fallback(
        self, key: SchemaKey, failures: list[str], notice: Callable[[str], None] | None
    ) -> dict[str, Any]:
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

    def _lookup(
        self, repo: Repository, key: SchemaKey, deadline: float, first: bool
    ) -> dict[str, Any] | None:
        if repo.http_uri is not None:
            body = self._fetch(repo, key, deadline, first)
        else:
            body = self._read_embedded(repo, key)
        return None if body is None else trusted_schema(body, key)

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
            raise RepoProblem(f"unreadable ({error.strerror or 'error'})") from None
        if len(body) > MAX_SCHEMA_BYTES:
            raise RepoProblem("holds a schema larger than 1 MiB")
        return body

    def _fetch(self, repo: Repository, key: SchemaKey, deadline: float, first: bool) -> bytes:
        timeouts = self.timeouts
        try:
            status, body = fetch(
                repo.schema_url(key),
                repo.apikey,
                timeouts.connect,
                timeouts.read,
                deadline,
                name=repo.name,
            )
        except DeadlinePassed:
            if first:
                raise RepoProblem(f"unreachable (no answer within {timeouts.total:g} s)") from None
            raise RepoProblem(
                f"unreachable (no answer before the {timeouts.total:g} s Iglu budget ran out)"
            ) from None
        if not 200 <= status < 300:
            raise RepoProblem(f"answered HTTP {status}")
        return body


def _one_line(text: str) -> str:
    return " ".join(text.split())
