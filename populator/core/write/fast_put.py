"""The manifest's conditional PutItem at a fraction of boto3's client CPU.

A boto3 `put_item` spends about 1 ms of CPU per call in parameter validation, serialization,
event hooks and response parsing, more than everything else a backfill does per event. This
sender keeps botocore as the source of truth for what matters (the client's credentials,
refreshed through `get_frozen_credentials()` on every request; its endpoint, region and
time-outs; SigV4 signing by `botocore.auth.SigV4Auth`; botocore's CA bundle and exception
types) and does the rest directly: the JSON body is `build_put_request` + `ReturnValues:
ALL_OLD`, sent over persistent HTTP/1.1 connections (one per concurrent caller, kept in a
small pool), and the answer is read by `manifest.put_outcome` or becomes a `ClientError` shaped
like botocore's (classified by `populator.core.retry`). Cluster code: Python 3.9 + botocore.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import ssl
import sys
import time
import urllib.request
import zlib
from collections import deque
from typing import Any, Deque, Dict, Optional, Tuple
from urllib.parse import urlsplit

import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import (
    ChecksumError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpsession import get_cert_path

from populator.core.manifest import CONDITION_FAILED, NEW, build_put_request, put_outcome
from populator.core.write.writer import BotocoreSender, Sender

SERVICE = "dynamodb"
TARGET = "DynamoDB_20120810.PutItem"
CONTENT_TYPE = "application/x-amz-json-1.0"
USER_AGENT = f"snowplow-event-manifest-populator fast-put botocore/{botocore.__version__}"
WRITERS = ("fast", "boto3")
_ENCODER = json.JSONEncoder(separators=(",", ":"))  # botocore's JSON form (ASCII, compact)
_CONDITIONAL_FAILED = CONDITION_FAILED.encode("ascii")
MAX_HEAD_BYTES = 64 * 1024
# Reopen connections idle longer than this rather than risk one a NAT or the service dropped
# silently (the AWS SDK for Java closes idle connections after 60 s by default).
MAX_IDLE_SECONDS = 50.0


class FastPutUnavailable(Exception):
    """This client's setup needs botocore's HTTP stack (a proxy): use BotocoreSender."""


class FastPutSender:
    """A `Sender` for `populator.core.write.writer.write_items`; safe to call from many threads.

    Each call takes an idle connection from the pool (or opens one) and puts it back after a
    complete answer, so there are as many connections as concurrent callers, reused across
    Spark tasks when the sender is cached per Python worker.
    """

    def __init__(self, client: Any, table: str) -> None:
        meta = client.meta
        self.table = table
        self.endpoint_url: str = meta.endpoint_url
        self.region: str = meta.region_name
        self._credentials = _client_credentials(client)
        parts = urlsplit(self.endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"unsupported DynamoDB endpoint {self.endpoint_url!r}")
        if _proxy_for(self.endpoint_url, getattr(meta.config, "proxies", None)):
            raise FastPutUnavailable(f"a proxy is configured for {self.endpoint_url}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        default_port = self._port == (443 if self._https else 80)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
        self._host_header = host if default_port else f"{host}:{self._port}"
        self._path = parts.path or "/"
        self._url = f"{parts.scheme}://{self._host_header}{self._path}"
        config = meta.config
        self._connect_timeout = float(getattr(config, "connect_timeout", None) or 60)
        self._read_timeout = float(getattr(config, "read_timeout", None) or 60)
        self._ssl: Optional[ssl.SSLContext] = None
        if self._https:
            # botocore's bundle, or AWS_CA_BUNDLE as botocore's session would use it.
            cafile = os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True)
            self._ssl = ssl.create_default_context(cafile=cafile)
        self._idle: Deque[_Connection] = deque()

    # -- the Sender interface ------------------------------------------------------------------
    def __call__(self, event_id: str, fingerprint: str, etl_time: int) -> str:
        request = build_put_request(self.table, event_id, fingerprint, etl_time)
        request["ReturnValues"] = "ALL_OLD"
        status, headers, data = self.post(_ENCODER.encode(request).encode("ascii"))
        if status == 200:
            # b"{}" (no old item) is by far the most common answer: skip decoding it.
            return NEW if data == b"{}" else str(put_outcome(None, _json(data)))
        if status == 400 and _CONDITIONAL_FAILED in data:  # cheap test before decoding
            outcome = put_outcome(_error_code(_json(data), status))
            if outcome is not None:
                return outcome
        raise _client_error(status, headers, data)

    # -- HTTP ------------------------------------------------------------------------------------
    def post(self, body: bytes) -> Tuple[int, Dict[str, str], bytes]:
        """Sign and send one PutItem body; return (status, lower-cased headers, body)."""
        request = AWSRequest(
            method="POST",
            url=self._url,
            data=body,
            headers={
                "Host": self._host_header,
                "Content-Type": CONTENT_TYPE,
                "X-Amz-Target": TARGET,
                "User-Agent": USER_AGENT,
            },
        )
        SigV4Auth(self._credentials.get_frozen_credentials(), SERVICE, self.region).add_auth(
            request
        )
        head = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
        message = (
            f"POST {self._path} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body
        connection = self._checkout()
        try:
            status, headers, data = connection.exchange(message)
        except BaseException as error:
            connection.close()  # its state is unknown: never reuse it
            if isinstance(error, (OSError, ValueError)):  # incl. timeouts and BadResponse
                raise self._connection_error(error) from error
            raise
        if connection.reusable:
            self._idle.append(connection)
        else:
            connection.close()
        expected = headers.get("x-amz-crc32")
        if expected is not None:
            actual = zlib.crc32(data) & 0xFFFFFFFF
            if str(actual) != expected.strip():
                raise ChecksumError(
                    checksum_type="crc32", expected_checksum=expected, actual_checksum=actual
                )
        return status, headers, data

    def close(self) -> None:
        """Close the idle connections (connections in use close when their call ends)."""
        with contextlib.suppress(IndexError):  # another thread took the last one
            while True:
                self._idle.pop().close()

    def _checkout(self) -> _Connection:
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return self._connect()
            if time.monotonic() - connection.used < MAX_IDLE_SECONDS and not connection.dropped():
                return connection
            connection.close()  # closed by the server while idle, or idle for too long

    def _connect(self) -> _Connection:
        sock: Optional[socket.socket] = None
        try:
            sock = socket.create_connection((self._host, self._port), self._connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if self._ssl is not None:
                sock = self._ssl.wrap_socket(sock, server_hostname=self._host)
            sock.settimeout(self._read_timeout)
        except ssl.SSLCertVerificationError as error:
            _close(sock)
            raise SSLError(endpoint_url=self.endpoint_url, error=error) from error
        except (socket.timeout, TimeoutError) as error:
            _close(sock)
            raise ConnectTimeoutError(endpoint_url=self.endpoint_url, error=error) from error
        except OSError as error:
            _close(sock)
            raise EndpointConnectionError(endpoint_url=self.endpoint_url, error=error) from error
        return _Connection(sock)

    def _connection_error(self, error: Exception) -> Exception:
        """The botocore exception BotocoreSender raises for the same failure (retryable)."""
        if isinstance(error, (socket.timeout, TimeoutError)):
            return ReadTimeoutError(endpoint_url=self.endpoint_url, error=error)
        return ConnectionClosedError(endpoint_url=self.endpoint_url, error=error)


class BadResponse(ValueError):
    """The peer's bytes are not an HTTP/1.1 answer we understand (treated as a dropped link)."""


class _Connection:
    """One keep-alive HTTP/1.1 connection used by one caller at a time.

    A minimal client on purpose: requests carry Content-Length and no `Expect`, so an answer is
    a status line, headers and a body framed by Content-Length, chunked encoding or the close.
    `http.client` costs ~90 µs of CPU more per exchange (an email-parser per response).
    """

    __slots__ = ("buffer", "reusable", "sock", "used")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.reusable = True
        self.used = time.monotonic()

    def exchange(self, message: bytes) -> Tuple[int, Dict[str, str], bytes]:
        self.used = time.monotonic()
        self.sock.sendall(message)
        while True:
            status, headers, version = self._read_head()
            if status >= 200:
                break  # 1xx interim answers (100 Continue) are skipped
        connection = headers.get("connection", "").lower()
        self.reusable = "close" not in connection and (
            version == "HTTP/1.1" or "keep-alive" in connection
        )
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            text = headers["content-length"].strip()
            if not text.isdigit():
                raise BadResponse(f"bad Content-Length {text!r}")
            body = self._read_exactly(int(text))
        else:
            body = self._read_to_close()
        if self.buffer:
            raise BadResponse("unexpected bytes after the answer")
        return status, headers, body

    def dropped(self) -> bool:
        """True when the idle socket is readable: the peer closed it (or sent junk)."""
        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        self.reusable = False
        _close(self.sock)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the connection closed before the answer was complete")
        self.buffer += chunk

    def _read_head(self) -> Tuple[int, Dict[str, str], str]:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise BadResponse("response head too large")
            self._fill()
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        self.buffer = self.buffer[end + 4 :]
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise BadResponse(f"bad status line {lines[0][:80]!r}")
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return int(parts[1]), headers, parts[0]

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        body, self.buffer = self.buffer[:size], self.buffer[size:]
        return body

    def _read_line(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
                return line
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise BadResponse("chunk header too large")
            self._fill()

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size_text = self._read_line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadResponse(f"bad chunk size {size_text[:20]!r}") from None
            if size == 0:
                while self._read_line():
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self._read_exactly(size))
            if self._read_exactly(2) != b"\r\n":
                raise BadResponse("bad chunk framing")

    def _read_to_close(self) -> bytes:
        self.reusable = False
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                body, self.buffer = self.buffer, b""
                return body
            self.buffer += chunk


def _close(sock: Optional[socket.socket]) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()


def manifest_sender(client: Any, table: str, writer: str = "fast") -> Sender:
    """The sender the job writes with: FastPutSender unless `writer` is 'boto3' or a proxy
    is configured (then boto3's own HTTP stack, which knows proxies)."""
    if writer not in WRITERS:
        raise ValueError(f"unknown writer {writer!r}; choose from {', '.join(WRITERS)}")
    if writer == "fast":
        try:
            return FastPutSender(client, table)
        except FastPutUnavailable as reason:
            print(f"populator: writing through boto3 ({reason})", file=sys.stderr, flush=True)
    return BotocoreSender(client, table)


def _client_credentials(client: Any) -> Any:
    """The credentials object the client itself signs with (refreshable ones stay refreshable).

    botocore exposes it only privately (`_get_credentials`, `_request_signer._credentials`);
    both are tried so a botocore change fails here, loudly, instead of signing with other keys.
    """
    getter = getattr(client, "_get_credentials", None)
    credentials = getter() if callable(getter) else None
    if credentials is None:
        signer = getattr(client, "_request_signer", None)
        credentials = getattr(signer, "_credentials", None)
    if credentials is None or not hasattr(credentials, "get_frozen_credentials"):
        raise FastPutUnavailable("the boto3 client has no credentials to sign with")
    return credentials


def _proxy_for(url: str, configured: Optional[Dict[str, str]]) -> bool:
    scheme = urlsplit(url).scheme
    if configured and (configured.get(scheme) or configured.get(f"{scheme}://")):
        return True
    proxies = urllib.request.getproxies_environment()
    if not proxies.get(scheme):
        return False
    return not urllib.request.proxy_bypass_environment(urlsplit(url).hostname or "", proxies)


def _json(data: bytes) -> Dict[str, Any]:
    try:
        document = json.loads(data)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _error_code(body: Dict[str, Any], status: int) -> str:
    """botocore's rule: `__type` after its last '#', else the HTTP status as text."""
    code = str(body.get("__type") or status)
    return code.rsplit("#", 1)[-1]


def _client_error(status: int, headers: Dict[str, str], data: bytes) -> ClientError:
    body = _json(data)
    response: Dict[str, Any] = {
        "Error": {
            "Code": _error_code(body, status),
            "Message": str(body.get("message", body.get("Message", ""))),
        },
        "ResponseMetadata": {
            "RequestId": headers.get("x-amzn-requestid", ""),
            "HTTPStatusCode": status,
            "HTTPHeaders": headers,
            "RetryAttempts": 0,
        },
    }
    return ClientError(response, "PutItem")
