"""Iglu: schema URIs, bundled schemas, value-free messages, and resolution over real HTTP.

HTTP repositories are a real ``http.server`` on 127.0.0.1 (schema, 404, apikey check, slow
answers, redirects); "unreachable" is a closed port. Timeouts are shortened for speed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from populator.core.errors import UserError
from populator.launcher.iglu import (
    ConfigError,
    HttpTimeouts,
    Problem,
    Repository,
    Resolver,
    SchemaKey,
    UnusableSchema,
    bundled_schema,
    load_self_describing,
    parse_schema_uri,
    schema_problems,
)
from populator.launcher.redact import secret_forms

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLESECRET+/="
APIKEY = "iglu-apikey-0f3c9a7e-4b1d-4e8a-9c2f-5d6e7f8a9b0c"
STORAGE = SchemaKey(
    "com.snowplowanalytics.snowplow.storage", "amazon_dynamodb_config", "jsonschema", "2-0-0"
)
SCHEMA_PATH = "/api/schemas/" + STORAGE.path  # repositories below are served under /api
FAST = HttpTimeouts(connect=0.5, read=0.4, total=1.5)
BUNDLED = [
    "com.snowplowanalytics.snowplow.storage/amazon_dynamodb_config/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow.storage/amazon_dynamodb_config/jsonschema/1-0-1",
    "com.snowplowanalytics.snowplow.storage/amazon_dynamodb_config/jsonschema/2-0-0",
    "com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-0",
    "com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-1",
    "com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-2",
    "com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
]


def assert_clean(text: str, secret: str = SECRET) -> None:
    leaked = [form for form in secret_forms(secret) if form in text]
    assert not leaked, f"secret leaked as {leaked!r} in {text!r}"


# ---- a tiny Iglu HTTP repository ----------------------------------------------------------------


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    apikey: str | None = None  # required value of the `apikey` header
    delay: float = 0.0  # before answering
    trickle: float = 0.0  # between body bytes
    location: str = ""


@dataclass
class IgluServer:
    url: str
    routes: dict[str, Route]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:
        state: IgluServer = self.server.state
        stop: threading.Event = self.server.stop
        state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = state.routes.get(self.path, Route(status=404, body=b"not found"))
        if route.apikey is not None and self.headers.get("apikey") != route.apikey:
            route = Route(status=401, body=b'{"message": "bad apikey"}')
        try:
            if route.delay:
                stop.wait(route.delay)
            self.send_response(route.status)
            if route.location:
                self.send_header("Location", route.location)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            if route.trickle:
                for byte in route.body:
                    if stop.wait(route.trickle):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            else:
                self.wfile.write(route.body)
        except (ConnectionError, OSError):
            pass  # the client gave up first, as intended in the timeout tests

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(routes)`` starts a repository on 127.0.0.1 and returns its IgluServer."""
    servers: list[ThreadingHTTPServer] = []
    stop = threading.Event()

    def start(routes: dict[str, Route]) -> IgluServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.stop = stop  # type: ignore[attr-defined]
        server.state = IgluServer(f"http://127.0.0.1:{server.server_address[1]}/api", routes)  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server.state  # type: ignore[attr-defined]

    yield start
    stop.set()
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POPULATOR_IGLU_OFFLINE", raising=False)


def http_repo(name: str, uri: str, priority: float = 0, apikey: str | None = None) -> Repository:
    return Repository(name, priority, ("com.snowplowanalytics",), http_uri=uri, apikey=apikey)


def served_schema(marker: str) -> bytes:
    schema = bundled_schema(STORAGE)
    assert schema is not None
    schema["description"] = marker
    return json.dumps(schema).encode()


class Notices(list):
    def __call__(self, message: str) -> None:
        self.append(message)


# ---- schema keys and bundled schemas ------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "iglu:com.snowplowanalytics.snowplow.storage/amazon_dynamodb_config/jsonschema/2-0-0",
            STORAGE,
        ),
        (
            "iglu:com.acme_1/my-event/jsonschema/10-20-30",
            SchemaKey("com.acme_1", "my-event", "jsonschema", "10-20-30"),
        ),
    ],
)
def test_parse_schema_uri(uri: str, expected: SchemaKey) -> None:
    key = parse_schema_uri(uri)
    assert key == expected
    assert key.uri == uri == str(key)


@pytest.mark.parametrize(
    "uri",
    [
        "com.acme/x/jsonschema/1-0-0",
        "iglu:com.acme/x/jsonschema/1-0",
        "iglu:com.acme/x/jsonschema/1-0-0/extra",
        "iglu:com.acme/x.y/jsonschema/1-0-0",
        "iglu:com.acme/x/jsonschema/1-0-0 ",
        "iglu:../x/jsonschema/1-0-0",
        "iglu:" + SECRET,
        5,
    ],
)
def test_parse_schema_uri_rejects_without_echoing(uri: Any) -> None:
    with pytest.raises(ValueError) as info:
        parse_schema_uri(uri)
    assert_clean(str(info.value))


@pytest.mark.parametrize("path", BUNDLED)
def test_bundled_schemas_are_valid_draft4_with_a_matching_self_block(path: str) -> None:
    key = SchemaKey(*path.split("/"))
    schema = bundled_schema(key)
    assert schema is not None
    Draft4Validator.check_schema(schema)
    assert schema["self"] == {
        "vendor": key.vendor,
        "name": key.name,
        "format": key.format,
        "version": key.version,
    }
    assert schema["additionalProperties"] is False
    assert bundled_schema(key) is not schema  # callers may not corrupt the cache


def test_bundled_schema_unknown_is_none() -> None:
    assert bundled_schema(SchemaKey("com.acme", "nothing", "jsonschema", "1-0-0")) is None


# ---- value-free messages ------------------------------------------------------------------------


def test_problems_name_paths_rules_and_types_never_values() -> None:
    schema = bundled_schema(STORAGE)
    assert schema is not None
    data = {
        "name": SECRET,
        "auth": {"accessKeyId": 12345678901234567890, "secretAccessKey": SECRET},
        "awsRegion": ["us-east-1"],
        "id": SECRET,
        "purpose": SECRET,
        SECRET[:8]: 1,
    }
    problems = schema_problems(data, schema)
    error = ConfigError("storage.json", problems=problems)
    text = str(error)
    assert_clean(text)
    assert "12345678901234567890" not in text
    assert Problem("$.data.dynamodbTable", "this required field (missing)", "required") in problems
    assert ("$.data.auth.accessKeyId", "a string, got number") in [p[:2] for p in problems]
    assert ("$.data.awsRegion", "a string, got array") in [p[:2] for p in problems]
    assert ("$.data.id", "a UUID (8-4-4-4-12 hex digits)") in [p[:2] for p in problems]
    assert ("$.data.purpose", 'one of "EVENTS_MANIFEST", got another string') in [
        p[:2] for p in problems
    ]
    assert len(problems) == 6
    assert text.startswith("storage.json: ")
    assert text.endswith("(and 1 more problem).")
    assert text.count(": expected ") == 5
    assert (error.json_path, error.expected) == problems[0][:2]


def test_config_error_shape() -> None:
    error = ConfigError("r.json", "$.data.cacheSize", "a number", hint="See the docs.")
    assert str(error) == "r.json: $.data.cacheSize: expected a number. See the docs."
    assert (error.path, error.json_path, error.expected) == (
        "r.json",
        "$.data.cacheSize",
        "a number",
    )
    assert (
        str(ConfigError("r.json", "", "an existing file")) == "r.json: expected an existing file."
    )


def test_one_of_reports_the_branch_the_user_meant() -> None:
    key = SchemaKey("com.snowplowanalytics.iglu", "resolver-config", "jsonschema", "1-0-1")
    schema = bundled_schema(key)
    assert schema is not None

    def repo(connection: Any) -> dict[str, Any]:
        item = {"name": "r", "priority": 0, "vendorPrefixes": [], "connection": connection}
        return {"cacheSize": 1, "repositories": [item]}

    path = "$.data.repositories[0].connection"
    meant = schema_problems(repo({"http": {"uri": 5, "apikey": SECRET}}), schema)
    assert [p[:2] for p in meant] == [(f"{path}.http.uri", "a string, got number")]
    both = schema_problems(repo({"http": {"uri": "http://x"}, "embedded": {"path": "/"}}), schema)
    assert len(both) == 1 and both[0].json_path == path
    assert "exactly one of" in both[0].expected and "'embedded', 'http'" in both[0].expected
    neither = schema_problems(repo({}), schema)
    assert "exactly one of" in neither[0].expected
    bad_uri = schema_problems(repo({"http": {"uri": "not a uri"}}), schema)
    assert [p[:2] for p in bad_uri] == [
        (f"{path}.http.uri", "an absolute URI such as http://iglucentral.com")
    ]


# ---- self-describing files ----------------------------------------------------------------------


def test_load_self_describing_returns_object_and_text(tmp_path: Path) -> None:
    text = '\ufeff{"schema": "iglu:com.acme/x/jsonschema/1-0-0", "data": {}}'
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")
    obj, read = load_self_describing(path)
    assert obj == {"schema": "iglu:com.acme/x/jsonschema/1-0-0", "data": {}}
    assert read == text.lstrip("\ufeff")


# ---- resolution ---------------------------------------------------------------------------------


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
    assert [path for path, _ in server.requests] == [SCHEMA_PATH]
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
    assert [p for p, _ in empty.requests] == [SCHEMA_PATH]


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


def test_offline_skips_http_and_says_so_once(serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", "1")
    server = serve({SCHEMA_PATH: Route(body=served_schema("never fetched"))})
    notices = Notices()
    resolver = Resolver([http_repo("Iglu Central", server.url)], timeouts=FAST)
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


def test_one_of_auth_like_iglu_centrals_2_0_0() -> None:
    """Iglu Central's 2-0-0 writes auth as oneOf [object, null]: messages stay value-free."""
    schema = {
        "type": "object",
        "properties": {
            "auth": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {
                            "accessKeyId": {"type": "string"},
                            "secretAccessKey": {"type": "string"},
                        },
                        "required": ["accessKeyId", "secretAccessKey"],
                    },
                    {"type": "null"},
                ]
            }
        },
    }
    wrong_kind = schema_problems({"auth": SECRET}, schema)
    assert [p[:2] for p in wrong_kind] == [
        (
            "$.data.auth",
            "exactly one of: an object with accessKeyId, secretAccessKey or null; got a string",
        )
    ]
    inner = schema_problems({"auth": {"accessKeyId": 5, "secretAccessKey": SECRET}}, schema)
    assert [p[:2] for p in inner] == [("$.data.auth.accessKeyId", "a string, got number")]
    assert_clean(str(ConfigError("s.json", problems=wrong_kind + inner)))


def test_errors_survive_pickling() -> None:
    import pickle

    from populator.core.storage_config import StorageConfigError

    error = ConfigError("s.json", hint="Hint.", problems=[Problem("$.data", "an object")])
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) == "s.json: $.data: expected an object. Hint."
    storage_error = StorageConfigError("s3://b/k", "$.data.id", "a UUID string")
    assert str(pickle.loads(pickle.dumps(storage_error))) == str(storage_error)


# ---- hostile repositories: remote $ref, one budget, the wrong schema (issue 10) ---------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (in the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


def schema_with(marker: str, **members: Any) -> dict[str, Any]:
    schema = bundled_schema(STORAGE)
    assert schema is not None
    schema["description"] = marker
    schema.update(members)
    return schema


def ref_targets(recorder: IgluServer, silent: int, closed: int) -> dict[str, str]:
    return {
        "recorded": recorder.url + "/evil.json",
        "never-answers": f"http://127.0.0.1:{silent}/evil.json#/definitions/x",
        "closed-port": f"http://127.0.0.1:{closed}/evil.json",
        "relative": "evil.json",
        "dangling-local": "#/definitions/nowhere",
        "loop": "#/properties/name",
    }


REF_CASES = ["recorded", "never-answers", "closed-port", "relative", "dangling-local", "loop"]


def with_ref(ref: str) -> dict[str, Any]:
    """The storage schema with ``ref`` where ``name``'s type was: validation would follow it."""
    schema = schema_with("with a $ref")
    schema["properties"]["name"] = {"$ref": ref}
    return schema


def ref_reason(case: str) -> str:
    if case == "dangling-local":
        return "served a schema with a $ref that points nowhere"
    if case == "loop":
        return "served a schema whose $ref loops back without reading any data"
    return "served a schema with a remote $ref (nothing is fetched)"


@pytest.mark.parametrize("case", REF_CASES)
def test_http_schema_with_a_ref_elsewhere_is_refused_without_fetching(
    case: str, serve: Any, silent_port: int, closed_port: int, online: None
) -> None:
    recorder = serve({})
    ref = ref_targets(recorder, silent_port, closed_port)[case]
    repo = serve({SCHEMA_PATH: Route(body=json.dumps(with_ref(ref)).encode())})
    notices = Notices()
    timeouts = HttpTimeouts(connect=0.5, read=1.0, total=2.0)
    started = time.monotonic()
    schema = Resolver([http_repo("Hostile", repo.url)], timeouts=timeouts).resolve(STORAGE, notices)
    assert time.monotonic() - started < timeouts.total + 3
    assert schema == bundled_schema(STORAGE)
    assert recorder.requests == []
    assert [path for path, _ in repo.requests] == [SCHEMA_PATH]
    assert notices == [
        f"Iglu repository 'Hostile' ({repo.url}) {ref_reason(case)}; "
        f"using the bundled copy of {STORAGE.uri}"
    ]
    # The schema we fall back to validates without any network either.
    problems = schema_problems({"name": 5}, schema)
    assert ("$.data.name", "a string, got number") in [p[:2] for p in problems]


@pytest.mark.parametrize("case", REF_CASES)
def test_embedded_schema_with_a_ref_elsewhere_is_refused_offline_too(
    case: str,
    serve: Any,
    silent_port: int,
    closed_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", "1")
    recorder = serve({})
    ref = ref_targets(recorder, silent_port, closed_port)[case]
    schema_file = tmp_path / "iglu" / "schemas" / STORAGE.path
    schema_file.parent.mkdir(parents=True)
    schema_file.write_text(json.dumps(with_ref(ref)), encoding="utf-8")
    local = Repository("local", 0, ("com.snowplowanalytics",), embedded_path="iglu")
    notices = Notices()
    schema = Resolver([local], base_dir=tmp_path).resolve(STORAGE, notices)
    assert schema == bundled_schema(STORAGE)
    assert recorder.requests == []
    assert notices == [
        f"Iglu repository 'local' (embedded iglu) {ref_reason(case)}; "
        f"using the bundled copy of {STORAGE.uri}"
    ]


def test_local_refs_that_resolve_are_trusted(serve: Any, online: None) -> None:
    schema = schema_with("local refs", definitions={"text": {"type": "string"}})
    schema["properties"]["name"] = {"$ref": "#/definitions/text"}
    repo = serve({SCHEMA_PATH: Route(body=json.dumps(schema).encode())})
    notices = Notices()
    served = Resolver([http_repo("Fine", repo.url)], timeouts=FAST).resolve(STORAGE, notices)
    assert served["description"] == "local refs" and notices == []
    problems = schema_problems({"name": 5}, served)
    assert ("$.data.name", "a string, got number") in [p[:2] for p in problems]


def test_validation_itself_never_fetches_a_remote_ref(serve: Any) -> None:
    """Even a schema that reached validation some other way: no request, a clear error."""
    recorder = serve({})
    schema = {"type": "object", "properties": {"name": {"$ref": recorder.url + "/evil.json"}}}
    with pytest.raises(UnusableSchema) as info:
        schema_problems({"name": "x"}, schema)
    assert "$ref" in str(info.value)
    assert recorder.requests == []


def test_one_budget_for_all_repositories(silent_port: int, online: None) -> None:
    """Ten repositories that never answer: the whole resolution stays within one budget."""
    timeouts = HttpTimeouts(connect=1.0, read=1.0, total=2.0)
    repos = [
        http_repo(f"Hang {i}", f"http://127.0.0.1:{silent_port}/r{i}", priority=i)
        for i in range(10)
    ]
    notices = Notices()
    started = time.monotonic()
    schema = Resolver(repos, timeouts=timeouts).resolve(STORAGE, notices)
    elapsed = time.monotonic() - started
    assert elapsed < timeouts.total + 3, elapsed  # a correctness bound: 10 x 1 s before
    assert schema == bundled_schema(STORAGE)
    assert len(notices) == 1
    assert "the 2 s Iglu budget ran out" in notices[0]
    assert f"'Hang 9' (http://127.0.0.1:{silent_port}/r9)" in notices[0]


@pytest.mark.parametrize(
    ("served", "reason"),
    [
        (
            {k: v for k, v in schema_with("no self").items() if k != "self"},
            f"served something that is not an Iglu schema for {STORAGE.uri} (no self)",
        ),
        (
            {"type": "object", "required": ["somethingElse"]},
            f"served something that is not an Iglu schema for {STORAGE.uri} (no self)",
        ),
        (
            schema_with("avro", self={**STORAGE.self_block(), "format": "avro"}),
            "served a schema whose self block names another schema",
        ),
        (
            schema_with("other name", self={**STORAGE.self_block(), "name": "other"}),
            "served a schema whose self block names another schema",
        ),
        ({"message": "The schema is not found"}, "not an Iglu schema"),
    ],
    ids=["no-self", "not-a-schema", "other-format", "other-name", "error-json"],
)
def test_a_repository_serving_another_schema_is_distrusted_and_named(
    served: dict[str, Any], reason: str, serve: Any, online: None
) -> None:
    wrong = serve({SCHEMA_PATH: Route(body=json.dumps(served).encode())})
    right = serve({SCHEMA_PATH: Route(body=served_schema("the right one"))})
    notices = Notices()
    resolver = Resolver(
        [http_repo("Wrong", wrong.url, priority=0), http_repo("Right", right.url, priority=1)],
        timeouts=FAST,
    )
    assert resolver.resolve(STORAGE, notices)["description"] == "the right one"
    assert notices == []
    alone = Resolver([http_repo("Wrong", wrong.url)], timeouts=FAST).resolve(STORAGE, notices)
    assert alone == bundled_schema(STORAGE)
    assert notices[0].startswith(f"Iglu repository 'Wrong' ({wrong.url}) ")
    assert reason in notices[0]


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "ON", " On ", "TRUE", "Yes"])
def test_offline_accepts_every_true_spelling(
    value: str, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", value)
    server = serve({SCHEMA_PATH: Route(body=served_schema("never fetched"))})
    notices = Notices()
    resolver = Resolver([http_repo("Iglu Central", server.url)], timeouts=FAST)
    assert resolver.resolve(STORAGE, notice=notices) == bundled_schema(STORAGE)
    assert server.requests == []
    assert "HTTP repositories skipped because POPULATOR_IGLU_OFFLINE=" in notices[0]


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off", "OFF", "False", " no "])
def test_offline_accepts_every_false_spelling(
    value: str, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", value)
    server = serve({SCHEMA_PATH: Route(body=served_schema("fetched"))})
    resolver = Resolver([http_repo("Iglu Central", server.url)], timeouts=FAST)
    assert resolver.resolve(STORAGE, notice=Notices())["description"] == "fetched"


@pytest.mark.parametrize("value", ["maybe", "2", "offline", "y", SECRET])
def test_offline_with_another_value_is_a_clear_user_error(
    value: str, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", value)
    server = serve({SCHEMA_PATH: Route(body=served_schema("fetched"))})
    resolver = Resolver([http_repo("Iglu Central", server.url)], timeouts=FAST)
    with pytest.raises(UserError) as info:
        resolver.resolve(STORAGE, notice=Notices())
    assert info.value.exit_code == 2
    message = str(info.value)
    assert message.startswith("POPULATOR_IGLU_OFFLINE: expected 1, true, yes or on")
    assert "0, false, no, off or empty" in message
    assert server.requests == []
    assert_clean(message)


# ---- names that could be secrets are never echoed (issue 10, item 7) ---------------------------


def test_unknown_key_names_are_masked_on_every_path(tmp_path: Path) -> None:
    schema = bundled_schema(STORAGE)
    assert schema is not None
    texts = []
    # additionalProperties (data and auth), oneOf "with the keys", patternProperties paths.
    problems = schema_problems({SECRET: 1, "name": "n"}, schema)
    texts.append(str(ConfigError("s.json", problems=problems)))
    resolver_key = SchemaKey("com.snowplowanalytics.iglu", "resolver-config", "jsonschema", "1-0-1")
    resolver_schema = bundled_schema(resolver_key)
    assert resolver_schema is not None
    item = {"name": "r", "priority": 0, "vendorPrefixes": [], "connection": {SECRET: {}}}
    for data in (
        {"cacheSize": 1, "repositories": [item], SECRET: 1},
        {"cacheSize": 1, "repositories": [dict(item, **{SECRET: 2})]},
        {
            "cacheSize": 1,
            "repositories": [dict(item, connection={"http": {"uri": "http://x", SECRET: 1}})],
        },
    ):
        texts.append(str(ConfigError("r.json", problems=schema_problems(data, resolver_schema))))
    free_form = {"type": "object", "additionalProperties": {"type": "string"}}
    texts.append(str(ConfigError("s.json", problems=schema_problems({SECRET: 5}, free_form))))
    # The file readers: a duplicate key and an unexpected top-level key.
    duplicate = tmp_path / "dup.json"
    duplicate.write_text(f'{{"{SECRET}": 1, "{SECRET}": 2}}', encoding="utf-8")
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"schema": STORAGE.uri, "data": {}, SECRET: 1}), encoding="utf-8")
    for path in (duplicate, extra):
        with pytest.raises(ConfigError) as info:
            load_self_describing(path)
        texts.append(str(info.value))
    for text in texts:
        assert_clean(text)
        assert f"'wJ…' ({len(SECRET)} chars)" in text, text
