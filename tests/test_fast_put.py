"""FastPutSender must be indistinguishable from BotocoreSender, only cheaper.

Outcomes and stored items are compared with BotocoreSender's on moto's server (the DynamoDB
reference we have); throttles, 5xx and dropped connections from devkit.fault_proxy; HTTP corner
cases (chunked answers, servers closing idle connections, garbled bodies, credentials that
refresh) from a tiny scripted HTTP server below.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import boto3
import botocore.session
import pytest
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import ChecksumError, ClientError, ConnectionClosedError

from devkit.fault_proxy import FaultProxy
from devkit.jobs import dump_table
from populator.core.manifest import EventsManifest, build_put_request
from populator.core.retry import RetryPolicy, error_code, is_retryable, is_throttle
from populator.core.write.fast_put import FastPutSender, manifest_sender
from populator.core.write.writer import NEW, PRESENT, UNCHANGED, BotocoreSender, write_items
from tests.conftest import REGION

FAST_RETRIES = RetryPolicy(max_attempts=40, base_delay=0.001, max_delay=0.01)
EVENT = "c6ef3124-b53a-4b13-a233-0088f79dcbcb"
SECONDS = 1485388885


def sequence() -> List[Tuple[str, str, int]]:
    """New, re-run, conflict, another fingerprint, unicode and maximum-size fingerprints."""
    other = "1799a90f-f570-4414-b91a-b0db8f39cc2e"
    longest = "€" * 341 + "a"  # 1,024 UTF-8 bytes: DynamoDB's sort-key limit
    return [
        (EVENT, "AADCE520E20C2899F4CED228A79A3083", SECONDS),  # new
        (EVENT, "AADCE520E20C2899F4CED228A79A3083", SECONDS),  # re-run of the same batch
        (EVENT, "AADCE520E20C2899F4CED228A79A3083", SECONDS + 60),  # another batch: present
        (EVENT, "BED9A39A0917874D2FF072033A6413D9", SECONDS + 60),  # other fingerprint: new
        (other, 'émoji-😀-指纹-"quoted"\\', SECONDS),
        (other, 'émoji-😀-指纹-"quoted"\\', SECONDS),
        (other, "x" * 1024, SECONDS),
        (other, longest, SECONDS),
        (other, longest, SECONDS - 1),
    ]


def test_same_outcomes_and_items_as_botocore_sender(dynamodb, unique_name) -> None:
    reference, fast_table = unique_name("boto3"), unique_name("fast")
    for table in (reference, fast_table):
        EventsManifest(dynamodb, table).create()
    boto3_sender = BotocoreSender(dynamodb, reference)
    fast = FastPutSender(dynamodb, fast_table)

    expected = [boto3_sender(*item) for item in sequence()]
    got = [fast(*item) for item in sequence()]

    assert got == expected
    assert expected[:4] == [NEW, UNCHANGED, PRESENT, NEW]
    assert PRESENT in expected[-1:]
    assert dump_table(dynamodb, fast_table) == dump_table(dynamodb, reference)
    assert len(dump_table(dynamodb, fast_table)) == 5


def test_a_missing_table_is_the_same_final_client_error(dynamodb, unique_name) -> None:
    table = unique_name("missing")
    with pytest.raises(ClientError) as botocore_error:
        BotocoreSender(dynamodb, table)(*sequence()[0])
    with pytest.raises(ClientError) as fast_error:
        FastPutSender(dynamodb, table)(*sequence()[0])

    assert error_code(fast_error.value) == error_code(botocore_error.value)
    assert error_code(fast_error.value) == "ResourceNotFoundException"
    assert fast_error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert not is_retryable(fast_error.value)


@pytest.fixture(scope="module")
def fake(moto_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_endpoint, seed=3) as server:
        EventsManifest(server.client(), "fast-put-faults").create()
        yield server


@pytest.fixture
def fresh(fake: FaultProxy) -> Iterator[FaultProxy]:
    fake.configure(fault_rate=0.0, faults=[], outage=False)
    yield fake
    fake.configure(fault_rate=0.0, faults=[], outage=False)


def test_errors_are_classified_like_botocore_ones(fresh: FaultProxy) -> None:
    sender = FastPutSender(fresh.client(), "fast-put-faults")
    item = ("0b6a1f0e-8a54-4a8e-9e4b-3c2d1f0e9a8b", "FP-CLASSIFY", SECONDS)
    expectations: List[Tuple[Dict[str, Any], Callable[[BaseException], bool]]] = [
        ({"outage": True}, lambda e: error_code(e) == "InternalServerError"),
        ({"fault_rate": 1.0, "faults": ["throttle"]}, is_throttle),
        ({"fault_rate": 1.0, "faults": ["drop"]}, lambda e: isinstance(e, ConnectionClosedError)),
    ]
    for settings, check in expectations:
        fresh.configure(**settings)
        with pytest.raises(Exception) as raised:
            sender(*item)
        assert check(raised.value), raised.value
        assert is_retryable(raised.value)
        fresh.configure(fault_rate=0.0, faults=[], outage=False)
    assert sender(*item) == NEW  # reconnects after the dropped connection


def test_faults_are_retried_by_write_items_and_nothing_is_lost(fresh: FaultProxy) -> None:
    client = fresh.client()
    sender = FastPutSender(client, "fast-put-faults")
    items = [(f"{n:08d}-0000-4000-8000-000000000000", "FP-FAULTS", SECONDS) for n in range(200)]
    fresh.configure(fault_rate=0.3, faults=["throttle", "server_error", "drop"])
    before = dict.fromkeys(("throttle", "server_error", "drop"), 0)
    before.update(fresh.stats()["faults"])

    # Retries only: pacing (which treats every throttle as a capacity signal, and so slows
    # to a crawl under random injected throttles) is tested in test_rate_limit.py.
    stats = write_items(items, sender, in_flight=8, policy=FAST_RETRIES, seed=1, adaptive=False)

    fresh.configure(fault_rate=0.0, faults=[])
    faults = fresh.stats()["faults"]
    assert all(faults.get(kind, 0) > before[kind] for kind in ("throttle", "server_error", "drop"))
    assert stats.failed == 0 and stats.items == 200 and stats.new == 200
    assert stats.retries > 0 and stats.throttles > 0
    assert stats.requests == stats.items + stats.retries
    stored = {k: v for k, v in dump_table(client, "fast-put-faults").items() if k[1] == "FP-FAULTS"}
    assert stored == {(e, f): (t, t + 15_552_000) for e, f, t in items}


def test_connections_are_reused_one_per_concurrent_caller(fresh: FaultProxy) -> None:
    sender = FastPutSender(fresh.client(), "fast-put-faults")
    opened = fresh.stats()["connections"]
    items = [(f"{n:08d}-1111-4000-8000-000000000000", "FP-POOL", SECONDS) for n in range(150)]

    stats = write_items(items, sender, in_flight=4)

    assert stats.new == 150
    assert fresh.stats()["connections"] - opened <= 4


# ---- HTTP corner cases, against a scripted server ---------------------------------------------


class ScriptedServer:
    """Answers each request with the next scripted reply, then closes or keeps the connection.

    A reply is (body, options): options may set `chunked`, `close` (answer with `Connection:
    close` and close), `hangup` (close after answering, without saying so), `crc` (a wrong
    x-amz-crc32) or `status`. Requests (headers, body) and connections are counted.
    """

    def __init__(self, replies: List[Tuple[bytes, Dict[str, Any]]]) -> None:
        self.replies = list(replies)
        self.requests: List[Tuple[Dict[str, str], bytes]] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while self.replies:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                self._serve_connection(conn)

    def _serve_connection(self, conn: socket.socket) -> None:
        buffer = b""
        while self.replies:
            while b"\r\n\r\n" not in buffer:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)
            }
            length = int(headers["content-length"])
            while len(buffer) < length:
                buffer += conn.recv(65536)
            body, buffer = buffer[:length], buffer[length:]
            self.requests.append((headers, body))
            reply, options = self.replies.pop(0)
            conn.sendall(_http_answer(reply, options))
            if options.get("close") or options.get("hangup"):
                return

    def close(self) -> None:
        self.listener.close()


def _http_answer(body: bytes, options: Dict[str, Any]) -> bytes:
    crc = zlib.crc32(body) & 0xFFFFFFFF
    head = [
        f"HTTP/1.1 {options.get('status', 200)} X",
        "Content-Type: application/x-amz-json-1.0",
        f"x-amz-crc32: {crc + 1 if options.get('crc') else crc}",
        "x-amzn-RequestId: REQ",
    ]
    if options.get("close"):
        head.append("Connection: close")
    if options.get("chunked"):
        head.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        framed = b"".join(
            b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]) if part
        )
        return ("\r\n".join(head) + "\r\n\r\n").encode() + framed + b"0\r\n\r\n"
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedServer]]:
    servers: List[ScriptedServer] = []

    def start(*replies: Tuple[bytes, Dict[str, Any]]) -> ScriptedServer:
        servers.append(ScriptedServer(list(replies)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _client(endpoint: str, session: Optional[Any] = None) -> Any:
    if session is not None:
        return session.create_client("dynamodb", region_name=REGION, endpoint_url=endpoint)
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)


def test_body_headers_and_http_framing(scripted) -> None:
    attributes = json.dumps({"Attributes": {"eventId": {"S": EVENT}}}).encode()
    server = scripted(
        (b"{}", {"chunked": True}),
        (attributes, {"close": True}),  # the server closes after answering
        (b"{}", {}),  # so this one needs a new connection
        (b'{"__type":"x#ConditionalCheckFailedException","message":"no"}', {"status": 400}),
    )
    sender = FastPutSender(_client(server.endpoint_url), "manifest")

    outcomes = [sender(EVENT, "FP", SECONDS) for _ in range(4)]

    assert outcomes == [NEW, UNCHANGED, NEW, PRESENT]
    headers, body = server.requests[0]
    expected = dict(build_put_request("manifest", EVENT, "FP", SECONDS), ReturnValues="ALL_OLD")
    assert json.loads(body) == expected
    assert headers["x-amz-target"] == "DynamoDB_20120810.PutItem"
    assert headers["content-type"] == "application/x-amz-json-1.0"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert f"/{REGION}/dynamodb/aws4_request" in headers["authorization"]


def test_an_idle_connection_closed_by_the_server_is_replaced(scripted) -> None:
    # The first answer keeps the connection alive, then the server hangs up while it is idle
    # (as DynamoDB does after a while): the next call must reconnect, not fail.
    server = scripted((b"{}", {"hangup": True}), (b"{}", {}), (b"{}", {}))
    sender = FastPutSender(_client(server.endpoint_url), "manifest")

    assert sender(EVENT, "FP", SECONDS) == NEW
    time.sleep(0.1)
    assert sender(EVENT, "FP", SECONDS) == NEW
    assert sender(EVENT, "FP", SECONDS) == NEW
    assert server.connections == 2


def test_a_garbled_answer_is_a_retryable_checksum_error(scripted) -> None:
    server = scripted((b"{}", {"crc": True}))
    sender = FastPutSender(_client(server.endpoint_url), "manifest")
    with pytest.raises(ChecksumError) as raised:
        sender(EVENT, "FP", SECONDS)
    assert is_retryable(raised.value)


def test_refreshable_credentials_are_refreshed_per_request(scripted) -> None:
    server = scripted((b"{}", {}), (b"{}", {}))
    generation = [0]

    def refresh() -> Dict[str, str]:
        generation[0] += 1
        expires = datetime.now(timezone.utc) + timedelta(seconds=1)  # always due for refresh
        return {
            "access_key": f"ROLEKEY{generation[0]}",
            "secret_key": "secret",
            "token": f"TOKEN{generation[0]}",
            "expiry_time": expires.isoformat(),
        }

    session = botocore.session.get_session()
    session._credentials = RefreshableCredentials.create_from_metadata(
        refresh(), refresh_using=refresh, method="test-role"
    )
    sender = FastPutSender(_client(server.endpoint_url, session), "manifest")

    sender(EVENT, "FP", SECONDS)
    sender(EVENT, "FP", SECONDS)

    keys = [h["authorization"].split("Credential=")[1].split("/")[0] for h, _ in server.requests]
    tokens = [h["x-amz-security-token"] for h, _ in server.requests]
    assert keys[0] != keys[1] and all(k.startswith("ROLEKEY") for k in keys)
    assert tokens == [k.replace("ROLEKEY", "TOKEN") for k in keys]


def test_manifest_sender_picks_the_writer(fake: FaultProxy, monkeypatch) -> None:
    client = fake.client()
    assert isinstance(manifest_sender(client, "manifest"), FastPutSender)
    assert isinstance(manifest_sender(client, "manifest", "boto3"), BotocoreSender)
    with pytest.raises(ValueError):
        manifest_sender(client, "manifest", "curl")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert isinstance(manifest_sender(client, "manifest"), BotocoreSender)
