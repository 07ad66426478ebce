"""Iglu resolution over real HTTP and embedded repositories: order, apikeys, 404s, bad or slow
answers, redirects, POPULATOR_IGLU_OFFLINE and the bundled fallback (one notice each)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from populator.core.errors import UserError
from populator.launcher.iglu import ConfigError, Repository, Resolver, SchemaKey, bundled_schema
from tests.support.iglu import (
    FAST,
    SCHEMA_PATH,
    SECRET,
    STORAGE,
    IgluServer,
    Notices,
    Route,
    Serve,
    assert_clean,
    http_repo,
    iglu_central_serving,
    served_schema,
)

APIKEY = "iglu-apikey-0f3c9a7e-4b1d-4e8a-9c2f-5d6e7f8a9b0c"
OfflineAs = Callable[[str, str], tuple[IgluServer, Resolver]]


@pytest.fixture
def offline_as(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> OfflineAs:
    """``offline_as(value, marker)``: POPULATOR_IGLU_OFFLINE=value, and 'Iglu Central'
    serving the storage schema marked ``marker`` with a resolver of it."""

    def make(value: str, marker: str) -> tuple[IgluServer, Resolver]:
        monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", value)
        return iglu_central_serving(serve, marker)

    return make


def test_repositories_sorted_by_vendor_match_then_embedded_then_priority() -> None:
    other = ("com.acme",)
    repos = [
        Repository("http-0", 0, ("com.snowplowanalytics",), http_uri="http://a"),
        Repository("other-embedded", -5, other, embedded_path="x"),
        Repository("embedded-9", 9, ("com.snowplowanalytics.snowplow",), embedded_path="y"),
        Repository("http-neg", -1, ("com.snowplowanalytics",), http_uri="http://b"),
        Repository("embedded-1", 1, ("com.snowplowanalytics",), embedded_path="z"),
        Repository("other-http", -9, other, http_uri="http://c"),
    ]
    order = [r.name for r in Resolver(repos).ordered(STORAGE)]
    assert order == [
        "embedded-1",
        "embedded-9",
        "http-neg",
        "http-0",
        "other-embedded",
        "other-http",
    ]


def test_http_repository_serves_the_schema_with_the_apikey(serve: Any, online: None) -> None:
    server = serve({SCHEMA_PATH: Route(body=served_schema("from http"), apikey=APIKEY)})
    notices = Notices()
    resolver = Resolver([http_repo("Private", server.url, apikey=APIKEY)], timeouts=FAST)
    schema = resolver.resolve(STORAGE, notice=notices)
    assert schema["description"] == "from http"
    assert notices == []
    assert server.paths == [SCHEMA_PATH]
    assert server.requests[0][1]["apikey"] == APIKEY
    assert resolver.secrets == [APIKEY]
    assert_clean(repr(resolver), APIKEY)
    assert resolver.resolve(STORAGE, notice=notices) is schema  # cached
    assert len(server.requests) == 1


def test_wrong_apikey_is_not_found_and_never_printed(serve: Any, online: None) -> None:
    server = serve({SCHEMA_PATH: Route(body=served_schema("from http"), apikey="right")})
    notices = Notices()
    resolver = Resolver([http_repo("Private", server.url, apikey=APIKEY)], timeouts=FAST)
    schema = resolver.resolve(STORAGE, notice=notices)
    assert schema == bundled_schema(STORAGE)
    assert notices == [
        f"Iglu repository 'Private' ({server.url}) answered HTTP 401; "
        f"using the bundled copy of {STORAGE.uri}"
    ]
    assert_clean(notices[0], APIKEY)


def test_404_goes_to_the_next_repository(serve: Any, online: None) -> None:
    empty = serve({})
    full = serve({SCHEMA_PATH: Route(body=served_schema("second"))})
    notices = Notices()
    resolver = Resolver(
        [http_repo("Second", full.url, priority=5), http_repo("First", empty.url, priority=1)],
        timeouts=FAST,
    )
    assert resolver.resolve(STORAGE, notice=notices)["description"] == "second"
    assert notices == []
    assert empty.paths == [SCHEMA_PATH]


def test_unreachable_repository_falls_back_to_bundled_with_one_notice(
    closed_port: int, online: None
) -> None:
    notices = Notices()
    uri = f"http://user:pw@127.0.0.1:{closed_port}"
    resolver = Resolver([http_repo("Iglu Central", uri)], timeouts=FAST)
    started = time.monotonic()
    schema = resolver.resolve(STORAGE, notice=notices)
    assert time.monotonic() - started < 1.5
    assert schema == bundled_schema(STORAGE)
    assert notices == [
        f"Iglu repository 'Iglu Central' (http://127.0.0.1:{closed_port}) unreachable "
        f"(connection refused); using the bundled copy of {STORAGE.uri}"
    ]


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (Route(body=b"{}", delay=3), "unreachable (timed out)"),
        (Route(body=b"{" + b" " * 40 + b"}", trickle=0.1), "unreachable (no answer within 1.5 s)"),
        (Route(body=b"<html>not json</html>"), "served invalid JSON"),
        (Route(body=b"[1, 2]"), "served a JSON array, not a schema"),
        (Route(body=b'{"type": 5}'), "served an invalid JSON Schema"),
        (
            Route(body=json.dumps({"self": {"version": "1-0-0"}}).encode()),
            "served a schema whose self block names another schema",
        ),
        (Route(status=500, body=b"oops"), "answered HTTP 500"),
    ],
    ids=["slow", "trickle-past-deadline", "html", "array", "bad-schema", "wrong-self", "5xx"],
)
def test_bad_answers_become_one_notice_and_the_bundled_copy(
    serve: Any, online: None, route: Route, reason: str
) -> None:
    server = serve({SCHEMA_PATH: route})
    notices = Notices()
    started = time.monotonic()
    schema = Resolver([http_repo("Flaky", server.url)], timeouts=FAST).resolve(STORAGE, notices)
    assert time.monotonic() - started < FAST.total + 0.5
    assert schema == bundled_schema(STORAGE)
    assert notices == [
        f"Iglu repository 'Flaky' ({server.url}) {reason}; using the bundled copy of {STORAGE.uri}"
    ]


def test_redirects_are_followed_but_the_apikey_stays_home(serve: Any, online: None) -> None:
    target = serve({SCHEMA_PATH: Route(body=served_schema("moved"))})
    origin = serve(
        {SCHEMA_PATH: Route(status=302, location=target.url + "/schemas/" + STORAGE.path)}
    )
    resolver = Resolver([http_repo("Old", origin.url, apikey=APIKEY)], timeouts=FAST)
    assert resolver.resolve(STORAGE, notice=Notices())["description"] == "moved"
    assert origin.requests[0][1]["apikey"] == APIKEY
    assert "apikey" not in target.requests[0][1]


def test_offline_skips_http_and_says_so_once(offline_as: OfflineAs) -> None:
    server, resolver = offline_as("1", "never fetched")
    notices = Notices()
    assert resolver.resolve(STORAGE, notice=notices) == bundled_schema(STORAGE)
    assert server.requests == []
    assert notices == [
        f"HTTP repositories skipped because POPULATOR_IGLU_OFFLINE=1: 'Iglu Central' "
        f"({server.url}); using the bundled copy of {STORAGE.uri}"
    ]


def test_embedded_repository_by_relative_path(tmp_path: Path) -> None:
    schema_file = tmp_path / "iglu" / "schemas" / STORAGE.path
    schema_file.parent.mkdir(parents=True)
    schema_file.write_bytes(served_schema("embedded"))
    repos = [
        Repository("local", 0, ("com.snowplowanalytics",), embedded_path="iglu"),
        Repository("missing", 1, ("com.snowplowanalytics",), embedded_path="nowhere"),
    ]
    notices = Notices()
    resolver = Resolver(repos, base_dir=tmp_path, offline=True)
    assert resolver.resolve(STORAGE, notice=notices)["description"] == "embedded"
    assert notices == []


def test_schema_unknown_everywhere_is_a_config_error(tmp_path: Path) -> None:
    key = SchemaKey("com.acme", "unknown", "jsonschema", "1-0-0")
    resolver = Resolver(
        [Repository("local", 0, ("com.acme",), embedded_path=str(tmp_path))],
        offline=True,
        source="resolver.json",
    )
    with pytest.raises(ConfigError) as info:
        resolver.resolve(key, notice=Notices())
    assert str(info.value).startswith(
        f"resolver.json: $.data.repositories: expected a repository that serves {key.uri}"
    )
    assert f"'local' (embedded {tmp_path}) does not have it" in str(info.value)


def test_no_repositories_uses_bundled_with_a_notice() -> None:
    notices = Notices()
    assert Resolver([]).resolve(STORAGE, notice=notices) == bundled_schema(STORAGE)
    assert notices == [
        f"the resolver config lists no repositories; using the bundled copy of {STORAGE.uri}"
    ]


def test_default_resolver_is_iglu_central() -> None:
    resolver = Resolver.default()
    assert [r.describe() for r in resolver.repositories] == [
        "'Iglu Central' (http://iglucentral.com)"
    ]


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "ON", " On ", "TRUE", "Yes"])
def test_offline_accepts_every_true_spelling(value: str, offline_as: OfflineAs) -> None:
    server, resolver = offline_as(value, "never fetched")
    notices = Notices()
    assert resolver.resolve(STORAGE, notice=notices) == bundled_schema(STORAGE)
    assert server.requests == []
    assert "HTTP repositories skipped because POPULATOR_IGLU_OFFLINE=" in notices[0]


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off", "OFF", "False", " no "])
def test_offline_accepts_every_false_spelling(value: str, offline_as: OfflineAs) -> None:
    _, resolver = offline_as(value, "fetched")
    assert resolver.resolve(STORAGE, notice=Notices())["description"] == "fetched"


@pytest.mark.parametrize("value", ["maybe", "2", "offline", "y", SECRET])
def test_offline_with_another_value_is_a_clear_user_error(
    value: str, offline_as: OfflineAs
) -> None:
    server, resolver = offline_as(value, "fetched")
    with pytest.raises(UserError) as info:
        resolver.resolve(STORAGE, notice=Notices())
    assert info.value.exit_code == 2
    message = str(info.value)
    assert message.startswith("POPULATOR_IGLU_OFFLINE: expected 1, true, yes or on")
    assert "0, false, no, off or empty" in message
    assert server.requests == []
    assert_clean(message)
