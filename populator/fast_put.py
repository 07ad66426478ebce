"""The manifest's conditional PutItem at a fraction of boto3's client CPU.

A boto3 `put_item` spends about 1 ms of CPU per call in parameter validation, serialization,
event hooks and response parsing, more than everything else a backfill does per event. This
sender keeps botocore as the source of truth for what matters (the client's credentials,
refreshed through `get_frozen_credentials()` on every request; its endpoint, region and
time-outs; SigV4 signing by `botocore.auth.SigV4Auth`; botocore's CA bundle and exception
types) and does the rest directly: the JSON body is `build_put_request` + `ReturnValues:
ALL_OLD`, sent over persistent HTTP/1.1 connections (one per concurrent caller, kept in a
small pool), and the answer is reduced to NEW/UNCHANGED/PRESENT or a `ClientError` shaped
like botocore's, so `populator.retry` classifies it the same way.
Cluster code: Python 3.9, standard library + botocore only.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import ssl
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

from populator.manifest import build_put_request
from populator.writer import NEW, PRESENT, UNCHANGED, BotocoreSender, Sender

SERVICE = "dynamodb"
TARGET = "DynamoDB_20120810.PutItem"
CONTENT_TYPE = "application/x-amz-json-1.0"
USER_AGENT = f"snowplow-event-manifest-populator fast-put botocore/{botocore.__version__}"
WRITERS = ("fast", "boto3")
_ENCODER = json.JSONEncoder(separators=(",", ":"))  # botocore's JSON form (ASCII, compact)
_CONDITIONAL_FAILED = b"ConditionalCheckFailedException"


class FastPutUnavailable(Exception):
    """This client's setup needs botocore's HTTP stack (a proxy): use BotocoreSender."""


class FastPutSender:
    """A `Sender` for `populator.writer.write_items`; safe to call from many threads at once.

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
        default_port = (self._https and self._port == 443) or (
            not self._https and self._port == 80
        )
        self._host_header = parts.hostname if default_port else f"{parts.hostname}:{self._port}"
        if ":" in parts.hostname and not default_port:  # IPv6 literal
            self._host_header = f"[{parts.hostname}]:{self._port}"
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
        self._idle: Deque[http.client.HTTPConnection] = deque()

    # -- the Sender interface ------------------------------------------------------------------
    def __call__(self, event_id: str, fingerprint: str, etl_time: int) -> str:
        request = build_put_request(self.table, event_id, fingerprint, etl_time)
        request["ReturnValues"] = "ALL_OLD"
        status, headers, data = self.post(_ENCODER.encode(request).encode("ascii"))
        if status == 200:
            if data == b"{}":
                return NEW
            return UNCHANGED if _json(data).get("Attributes") else NEW
        if (
            status == 400
            and _CONDITIONAL_FAILED in data
            and _error_code(_json(data), status) == "ConditionalCheckFailedException"
        ):
            return PRESENT
        raise _client_error(status, headers, data)

    # -- HTTP ------------------------------------------------------------------------------------
    def post(self, body: bytes) -> Tuple[int, Dict[str, str], bytes]:
        """Sign and send one PutItem body; return (status, lower-cased headers, body)."""
        credentials = self._credentials.get_frozen_credentials()
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
        SigV4Auth(credentials, SERVICE, self.region).add_auth(request)
        connection = self._checkout()
        try:
            connection.putrequest("POST", self._path, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers.items():
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            headers = {name.lower(): value for name, value in response.getheaders()}
            status = response.status
        except BaseException as error:
            connection.close()
            raise self._connection_error(error) from error
        if response.will_close:
            connection.close()
        else:
            self._idle.append(connection)
        expected = headers.get("x-amz-crc32")
        if expected is not None and str(zlib.crc32(data) & 0xFFFFFFFF) != expected.strip():
            raise ChecksumError(
                checksum_type="crc32",
                expected_checksum=expected,
                actual_checksum=zlib.crc32(data) & 0xFFFFFFFF,
            )
        return status, headers, data

    def close(self) -> None:
        """Close the idle connections (connections in use close when their call ends)."""
        while self._idle:
            try:
                self._idle.pop().close()
            except IndexError:
                break

    def _checkout(self) -> http.client.HTTPConnection:
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return self._connect()
            if not _dropped(connection):
                return connection
            connection.close()  # the server closed it while idle (DynamoDB does after a while)

    def _connect(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._connect_timeout, context=self._ssl
            )
        else:
            connection = http.client.HTTPConnection(
                self._host, self._port, timeout=self._connect_timeout
            )
        try:
            connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(self._read_timeout)
            connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        except ssl.SSLCertVerificationError as error:
            connection.close()
            raise SSLError(endpoint_url=self.endpoint_url, error=error) from error
        except (socket.timeout, TimeoutError) as error:
            connection.close()
            raise ConnectTimeoutError(endpoint_url=self.endpoint_url, error=error) from error
        except OSError as error:
            connection.close()
            raise EndpointConnectionError(endpoint_url=self.endpoint_url, error=error) from error
        return connection

    def _connection_error(self, error: BaseException) -> BaseException:
        """Map a failure during the exchange to the botocore exception BotocoreSender raises."""
        if isinstance(error, (socket.timeout, TimeoutError)):
            return ReadTimeoutError(endpoint_url=self.endpoint_url, error=error)
        if isinstance(error, (OSError, http.client.HTTPException)):
            return ConnectionClosedError(endpoint_url=self.endpoint_url, error=error)
        return error  # KeyboardInterrupt and the like: not ours to translate


def manifest_sender(client: Any, table: str, writer: str = "fast") -> Sender:
    """The sender the job writes with: FastPutSender unless `writer` is 'boto3' or a proxy
    is configured (then boto3's own HTTP stack, which knows proxies)."""
    if writer not in WRITERS:
        raise ValueError(f"unknown writer {writer!r}; choose from {', '.join(WRITERS)}")
    if writer == "fast":
        try:
            return FastPutSender(client, table)
        except FastPutUnavailable:
            pass
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


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """True when an idle connection's socket is readable: the peer closed it (or sent junk)."""
    sock = connection.sock
    if sock is None:
        return False  # closed by us after `Connection: close`: http.client reopens it
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


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

