"""A tiny Iglu HTTP repository on 127.0.0.1 (schema, 404, apikey check, slow answers,
redirects) and the secret, schema key and builders the Iglu and config tests share.

The fixtures that start them are in ``tests.support.iglu_fixtures``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from populator.launcher.iglu import HttpTimeouts, Repository, Resolver, SchemaKey, bundled_schema
from populator.launcher.redact import secret_forms

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLESECRET+/="
MASKED = f"'wJ…' ({len(SECRET)} chars)"  # how a key name that could be SECRET is shown
STORAGE = SchemaKey(
    "com.snowplowanalytics.snowplow.storage", "amazon_dynamodb_config", "jsonschema", "2-0-0"
)
SCHEMA_PATH = "/api/schemas/" + STORAGE.path  # repositories below are served under /api
FAST = HttpTimeouts(connect=0.5, read=0.4, total=1.5)


def assert_clean(text: str, secret: str = SECRET) -> None:
    """No form of the secret (raw, escaped, encoded: ``secret_forms``) is in ``text``."""
    leaked = [form for form in secret_forms(secret) if form in text]
    assert not leaked, f"secret leaked as {leaked!r} in {text!r}"


class Notices(list):
    """A ``notice`` callback that keeps what it is told."""

    def __call__(self, message: str) -> None:
        self.append(message)


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

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


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


def start_server(routes: dict[str, Route], stop: threading.Event) -> ThreadingHTTPServer:
    """A repository serving ``routes`` in a thread; its IgluServer is ``server.state``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.stop = stop  # type: ignore[attr-defined]
    server.state = IgluServer(f"http://127.0.0.1:{server.server_address[1]}/api", routes)  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def http_repo(name: str, uri: str, priority: float = 0, apikey: str | None = None) -> Repository:
    return Repository(name, priority, ("com.snowplowanalytics",), http_uri=uri, apikey=apikey)


def schema_with(marker: str, **members: Any) -> dict[str, Any]:
    """The bundled storage schema, told apart by its description, with ``members`` set."""
    schema = bundled_schema(STORAGE)
    assert schema is not None
    schema["description"] = marker
    schema.update(members)
    return schema


def served_schema(marker: str) -> bytes:
    return json.dumps(schema_with(marker)).encode()


Serve = Callable[[dict[str, Route]], IgluServer]  # the `serve` fixture


def iglu_central_serving(serve: Serve, marker: str) -> tuple[IgluServer, Resolver]:
    """A repository named 'Iglu Central' serving the storage schema, and a resolver of it."""
    server = serve({SCHEMA_PATH: Route(body=served_schema(marker))})
    return server, Resolver([http_repo("Iglu Central", server.url)], timeouts=FAST)
