"""GET one schema URL from an Iglu HTTP repository through urllib3, within a hard deadline.

urllib3 gives the connect and read time-outs, redirects (at most three; the ``apikey``
header is dropped when a redirect leaves the host) and streaming; a daemon thread around it
bounds what no socket time-out covers (name resolution), so the caller never waits past its
deadline. Failures are ``RepoProblem`` texts such as ``unreachable (connection refused)``.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from typing import Any

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationValueError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util.retry import Retry

from populator.launcher.iglu.errors import RepoProblem

MAX_SCHEMA_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
_HEADERS = {"Accept": "application/json", "User-Agent": "event-manifest-populator"}


class DeadlinePassed(Exception):
    """The hard deadline came before the answer (the request may still be in flight)."""


def fetch(
    url: str, apikey: str | None, connect: float, read: float, deadline: float, name: str = ""
) -> tuple[int, bytes]:
    """``(status, body)`` (body empty unless 2xx), RepoProblem, or DeadlinePassed at
    ``deadline`` (a ``time.monotonic()`` value) whatever the network does."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = _get(url, apikey, connect, read, deadline)
        except BaseException as error:  # reported to the caller below
            outcome["error"] = error

    worker = threading.Thread(target=run, name=f"iglu-fetch-{name}", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise DeadlinePassed
    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, DeadlinePassed):
            raise DeadlinePassed
        raise RepoProblem(_reason(error)) from None
    return outcome["result"]


def _get(url: str, apikey: str | None, connect: float, read: float, deadline: float) -> Any:
    remaining = max(0.001, deadline - time.monotonic())
    retries = Retry(
        total=MAX_REDIRECTS,
        connect=0,
        read=0,
        status=0,
        other=0,
        redirect=MAX_REDIRECTS,
        raise_on_redirect=True,
        raise_on_status=False,
        remove_headers_on_redirect=Retry.DEFAULT_REMOVE_HEADERS_ON_REDIRECT | {"apikey"},
    )
    headers = dict(_HEADERS, **({"apikey": apikey} if apikey else {}))
    pool = urllib3.PoolManager(num_pools=2)
    try:
        response = pool.request(
            "GET",
            url,
            headers=headers,
            retries=retries,
            redirect=True,
            preload_content=False,
            timeout=urllib3.Timeout(connect=min(connect, remaining), read=min(read, remaining)),
        )
        try:
            if not 200 <= response.status < 300:
                return response.status, b""
            return response.status, _read_body(response, deadline)
        finally:
            response.release_conn()
    finally:
        pool.clear()


def _read_body(response: Any, deadline: float) -> bytes:
    body = b""
    while True:
        if time.monotonic() > deadline:
            raise DeadlinePassed
        chunk = response.read(64 * 1024)
        if not chunk:
            return body
        body += chunk
        if len(body) > MAX_SCHEMA_BYTES:
            raise RepoProblem("served more than 1 MiB")


def _reason(error: BaseException) -> str:
    """What went wrong, in words that never include the URL's userinfo or a header."""
    if isinstance(error, MaxRetryError):
        if isinstance(error.reason, ResponseError):
            return "redirected too many times"
        error = error.reason or error
    if isinstance(error, RepoProblem):
        return str(error)
    if isinstance(error, LocationValueError):
        return "has an unsupported URI (only http and https)"
    if isinstance(error, NewConnectionError):  # before ConnectTimeoutError: it is one
        return _connection_reason(error)
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError, TimeoutError, socket.timeout)):
        return "unreachable (timed out)"
    if isinstance(error, (Urllib3SSLError, ssl.SSLError)):
        return "unreachable (TLS error)"
    if isinstance(error, ProtocolError):
        return f"unreachable (bad HTTP answer: {type(error).__name__})"
    if isinstance(error, OSError):
        return f"unreachable ({error.strerror or type(error).__name__})"
    return f"unreachable ({type(error).__name__})"


def _connection_reason(error: NewConnectionError) -> str:
    if isinstance(error, NameResolutionError):
        return "unreachable (host name not resolved)"
    cause = error.__cause__ or error.__context__
    if isinstance(cause, ConnectionRefusedError):
        return "unreachable (connection refused)"
    if isinstance(cause, socket.gaierror):
        return "unreachable (host name not resolved)"
    if isinstance(cause, OSError) and cause.strerror:
        return f"unreachable ({cause.strerror})"
    return "unreachable (connection failed)"
