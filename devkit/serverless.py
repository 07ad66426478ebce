"""Drive moto's EMR Serverless from tests, and a loopback proxy that records and drops.

moto creates every job run in SUCCESS and never moves it; `runs_start_in` makes new runs
start in another state (SUBMITTED, as AWS does) and `set_job_run` moves one, as EMR
Serverless would. ThreadedMotoServer serves from the test process, so its backend objects are
reachable here and an `inv` subprocess sees the same fake.

`Proxy` sits between our clients and moto's server (AWS_ENDPOINT_URL points at it): it keeps
every request (method, path, headers, body) for the secret scan, and can forward a request
and then drop the connection without an answer: the "lost answer" of a call that did land.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlparse

import pytest
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from devkit.loopback_server import LoopbackServer

REGION = "us-east-1"
_HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive"}


def backend(region: str = REGION) -> Any:
    return get_backend("emr-serverless")[DEFAULT_ACCOUNT_ID][region]


def runs_start_in(monkeypatch: pytest.MonkeyPatch, state: str = "SUBMITTED") -> None:
    monkeypatch.setattr("moto.emrserverless.models.JOB_STATUS", state)


def set_job_run(
    application_id: str, job_run_id: str, state: str, details: Optional[str] = None
) -> None:
    run = backend().get_job_run(application_id, job_run_id)
    run.state = state
    if details is not None:
        run.state_details = details


def job_runs(application_id: str) -> List[Any]:
    return list(backend().job_runs.get(application_id, []))


def applications() -> List[Any]:
    return list(backend().applications.values())


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes


class Proxy:
    """A recording HTTP proxy on 127.0.0.1 in front of `upstream` (moto's server)."""

    def __init__(self, upstream: str) -> None:
        parsed = urlparse(upstream)
        self.upstream: Tuple[str, int] = (str(parsed.hostname), int(parsed.port or 80))
        self.requests: List[Recorded] = []
        self._drops: List[Tuple[str, re.Pattern, Optional[Callable[[], None]]]] = []
        self.dropped: List[Recorded] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

        self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def drop_answer_once(
        self, method: str, path_regex: str, then: Optional[Callable[[], None]] = None
    ) -> None:
        """Forward the next matching request, run `then` (e.g. send a signal), then hang up
        instead of answering."""
        with self._lock:
            self._drops.append((method, re.compile(path_regex), then))

    def _should_drop(self, method: str, path: str) -> Optional[Callable[[], None]]:
        with self._lock:
            for index, (wanted, pattern, then) in enumerate(self._drops):
                if wanted == method and pattern.search(path):
                    del self._drops[index]
                    return then or (lambda: None)
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k: v for k, v in handler.headers.items()}
        recorded = Recorded(handler.command, handler.path, headers, body)
        with self._lock:
            self.requests.append(recorded)
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        connection.request(handler.command, handler.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        connection.close()
        then = self._should_drop(handler.command, handler.path)
        if then is not None:
            with self._lock:
                self.dropped.append(recorded)
            then()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.send_response(answer.status)
        head = handler.command == "HEAD"  # its Content-Length is the object's, not the body's
        for key, value in answer.getheaders():
            if key.lower() in _HOP_BY_HOP or (key.lower() == "content-length" and not head):
                continue
            handler.send_header(key, value)
        if not head:
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if not head:
            handler.wfile.write(data)
