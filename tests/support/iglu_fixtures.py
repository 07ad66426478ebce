"""Fixtures for the tests of Iglu repositories and of the configs checked through them: load
them with ``pytest_plugins = ["tests.support.iglu_fixtures"]`` (so that pytest rewrites them)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.configs import StorageChecks
from tests.support.iglu import IgluServer, Route, Serve, start_server


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(routes)`` starts a repository on 127.0.0.1 and returns its IgluServer."""
    servers: list[ThreadingHTTPServer] = []
    stop = threading.Event()

    def start(routes: dict[str, Route]) -> IgluServer:
        server = start_server(routes, stop)
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
def silent_port() -> Iterator[int]:
    """A port that accepts connections (in the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP repositories are asked again (conftest sets POPULATOR_IGLU_OFFLINE=1)."""
    monkeypatch.delenv("POPULATOR_IGLU_OFFLINE", raising=False)


@pytest.fixture
def checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> StorageChecks:
    """validate_configs on storage configs written to tmp_path, next to a valid resolver."""
    return StorageChecks(tmp_path, capsys)
