"""A loopback HTTP proxy in front of moto's DynamoDB that injects what moto cannot: faults.

moto is the semantics (every condition expression it accepts, keys, TTL, scans); this proxy
only decides, per request and before forwarding, whether to answer instead: a throttle
(`ThrottlingException`, or `ProvisionedThroughputExceededException` above a WCU budget per
table and second, with one second of burst like DynamoDB's), a 500 `InternalServerError`, a
dropped connection, or extra latency. Faults come at a seeded rate, or for a window (an
outage). Every request's arrival time, operation, table, user agent and outcome is recorded,
so a test can measure what reached the endpoint (e.g. the write budget's acceptance test).

Two ways to run it:
- `FaultProxy(upstream).start()`: threads in this process, in front of a moto server you have
  (the test session's). Control by method calls.
- `devkit.proxy_process.ProxyProcess().start()`: the same proxy with its own moto server in a
  child process, controlled over `/_proxy/*` on the same port; benchmarks use it so the
  client CPU they measure is the client's alone.
Dev-only; `populator/` never imports it.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, Optional, Sequence, Tuple

from devkit.arrival_times import TimestampedReader, stamp_arrivals, timestamped_rfile
from devkit.loopback_server import LoopbackServer
from devkit.proxy_control import Arrival, ProxyControl, proxy_client

# throttle: ThrottlingException; throughput: ProvisionedThroughputExceededException (both 400)
FAULT_KINDS: Tuple[str, ...] = ("throttle", "throughput", "server_error", "drop", "slow")
WRITE_OPERATIONS = frozenset({"PutItem", "BatchWriteItem", "UpdateItem", "DeleteItem"})
_COUNTERS = ("faults", "operations", "outcomes", "forwarded")
_DDB = "com.amazonaws.dynamodb.v20120810#"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te"}
ERRORS: Dict[str, Tuple[int, str, str]] = {
    "throttle": (
        400,
        "com.amazon.coral.availability#ThrottlingException",
        "Rate of requests exceeds the allowed throughput.",
    ),
    "wcu": (
        400,
        _DDB + "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    ),
    "server_error": (500, _DDB + "InternalServerError", "Internal server error"),
}


@dataclass(frozen=True)
class Settings:
    latency_ms: float = 0.0  # added to every request
    fault_rate: float = 0.0  # probability that a faultable request gets one of `faults`
    faults: Tuple[str, ...] = ()
    slow_ms: float = 2000.0  # delay of a "slow" fault
    seed: int = 0
    outage: bool = False  # every faultable request answers 500 while on
    outage_until: Optional[float] = None  # or until this time.monotonic() (a window)
    fault_ops: Optional[Tuple[str, ...]] = None  # None: the write operations
    write_capacity: Optional[float] = None  # write units per second per table; None: no limit

    def validated(self) -> Settings:
        unknown = set(self.faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; choose from {FAULT_KINDS}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be in [0, 1], got {self.fault_rate}")
        if self.fault_rate and not self.faults:
            raise ValueError("a fault_rate needs at least one fault kind")
        if self.write_capacity is not None and self.write_capacity <= 0:
            return replace(self, write_capacity=None)
        return self

    def updated(self, changes: Dict[str, Any]) -> Settings:
        unknown = set(changes) - set(asdict(self))
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}")
        if "outage_seconds" in changes:  # pragma: no cover - normalised by callers
            raise ValueError("use outage_until")
        for name in ("faults", "fault_ops"):
            if changes.get(name) is not None:
                changes = {**changes, name: tuple(changes[name])}
        return replace(self, **changes).validated()


@dataclass
class _Bucket:
    rate: float
    tokens: float
    updated: float = field(default_factory=time.monotonic)

    def take(self, units: float, now: float) -> bool:
        # Arrival times of concurrent connections reach the lock slightly out of order.
        self.tokens = min(self.rate, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = max(self.updated, now)
        if self.tokens >= units:
            self.tokens -= units
            return True
        return False


def _tables_and_units(operation: str, body: Dict[str, Any]) -> List[Tuple[str, int]]:
    if operation == "BatchWriteItem":
        return [(t, len(r)) for t, r in (body.get("RequestItems") or {}).items()]
    return [(str(body.get("TableName", "")), 1)]


class FaultProxy(ProxyControl):
    """A thread-per-connection proxy on 127.0.0.1 forwarding DynamoDB's protocol to moto."""

    def __init__(self, upstream: str, port: int = 0, **settings: Any) -> None:
        target = upstream.split("://", 1)[-1].rstrip("/")
        host, _, upstream_port = target.partition(":")
        self.upstream = (host, int(upstream_port or 80))
        self.settings = Settings().updated(settings)
        self._port = port
        self._lock = threading.Lock()
        self._rng = random.Random(self.settings.seed)
        self._buckets: Dict[str, _Bucket] = {}
        self._arrivals: List[Arrival] = []
        self._counts: Dict[str, Counter] = {k: Counter() for k in _COUNTERS}
        self._connections = 0
        self._server: Optional[LoopbackServer] = None
        self._thread: Optional[threading.Thread] = None
        self._local = threading.local()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        server = LoopbackServer(("127.0.0.1", self._port), _handler(self))
        stamp_arrivals(server.socket)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="fault-proxy",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the proxy first"
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def client_for(endpoint_url: str, **config: Any) -> Any:
        """A boto3 DynamoDB client for a running proxy (botocore Config keywords)."""
        return proxy_client(endpoint_url, **config)

    # -- control -----------------------------------------------------------------------------
    def configure(self, **changes: Any) -> Dict[str, Any]:
        """Change settings; `outage_seconds=N` starts an outage window of N seconds."""
        window = changes.pop("outage_seconds", None)
        if window is not None:
            changes["outage_until"] = time.monotonic() + float(window)
        with self._lock:
            self.settings = self.settings.updated(changes)
            if "seed" in changes:
                self._rng = random.Random(self.settings.seed)
            if "write_capacity" in changes:
                self._buckets.clear()  # a fresh, full bucket per table
        return asdict(self.settings)

    def stats(self) -> Dict[str, Any]:
        """Counts so far: requests, faults by kind, operations, outcomes, forwarded per op."""
        with self._lock:
            return {
                "requests": len(self._arrivals),
                "faults": dict(self._counts["faults"]),
                "operations": dict(self._counts["operations"]),
                "outcomes": dict(self._counts["outcomes"]),
                "forwarded": dict(self._counts["forwarded"]),
                "connections": self._connections,
            }

    def arrivals(self) -> List[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def reset(self) -> None:
        """Forget recorded requests and counters (the tables live in moto)."""
        with self._lock:
            self._arrivals.clear()
            self._counts = {k: Counter() for k in _COUNTERS}
            self._buckets.clear()

    # -- the decision, made before forwarding --------------------------------------------------
    def decide(
        self, operation: str, body: Dict[str, Any], agent: str, now: float
    ) -> Tuple[str, float]:
        """(what to do: 'forward' or a fault kind, seconds to wait first); records the arrival.

        `now`: when the request reached the socket (devkit.arrival_times); the WCU budget and
        the recorded arrival use it, so that a stalled proxy neither bunches nor throttles.
        """
        with self._lock:
            s = self.settings
            delay = s.latency_ms / 1000.0
            faultable = operation in (s.fault_ops if s.fault_ops is not None else WRITE_OPERATIONS)
            action = "forward"
            if faultable and (s.outage or (s.outage_until is not None and now < s.outage_until)):
                action = "outage"
            elif faultable and s.fault_rate and self._rng.random() < s.fault_rate:
                action = self._rng.choice(s.faults)
            if action == "slow":
                delay += s.slow_ms / 1000.0
                action = "forward"
            if action == "forward" and s.write_capacity and operation in WRITE_OPERATIONS:
                for table, units in _tables_and_units(operation, body):
                    bucket = self._buckets.setdefault(
                        table, _Bucket(s.write_capacity, s.write_capacity)
                    )
                    if not bucket.take(units, now):
                        action = "wcu"
            self._counts["operations"][operation] += 1
            self._counts["outcomes"][action] += 1
            if action == "forward":
                self._counts["forwarded"][operation] += 1
            if action != "forward":
                self._counts["faults"][action] += 1
            elif delay > s.latency_ms / 1000.0:
                self._counts["faults"]["slow"] += 1
            table = ",".join(t for t, _ in _tables_and_units(operation, body))
            self._arrivals.append(Arrival(now, operation, table, agent, action))
        return action, delay

    def forward(self, method: str, path: str, headers: Dict[str, str], body: bytes) -> Any:
        """Send to moto over this thread's keep-alive connection (one reconnect on failure)."""
        for attempt in (1, 2):
            connection = getattr(self._local, "upstream", None)
            if connection is None:
                connection = http.client.HTTPConnection(*self.upstream, timeout=120)
                self._local.upstream = connection
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.getheaders(), response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self._local.upstream = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _error_answer(kind: str) -> Tuple[int, bytes]:
    status, code, message = ERRORS[{"outage": "server_error", "throughput": "wcu"}.get(kind, kind)]
    return status, json.dumps({"__type": code, "message": message}).encode()


class _Handler(BaseHTTPRequestHandler):
    """Forwards to moto unless `proxy.decide` injects a fault; `proxy` is set per server."""

    proxy: FaultProxy
    _arrival: TimestampedReader
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the answer goes out as headers then body, and with Nagle on, the body waits
    # for the client's delayed ACK of the headers: 40+ ms added to every request (measured
    # 47.7 ms a sequential PutItem through the proxy vs 3.4 ms to moto; 4.0 ms with this).
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.rfile, self._arrival = timestamped_rfile(self.connection)
        with self.proxy._lock:
            self.proxy._connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._control()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/_proxy/"):
            self._control(body)
            return
        target = self.headers.get("X-Amz-Target", "")
        operation = target.rsplit(".", 1)[-1]
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            document = {}
        action, delay = self.proxy.decide(
            operation,
            document if isinstance(document, dict) else {},
            self.headers.get("User-Agent", ""),
            self._arrival.arrived(),
        )
        if delay:
            time.sleep(delay)
        if action == "drop":
            self.close_connection = True
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            return
        if action != "forward":
            status, payload = _error_answer(action)
            self._answer(status, [("Content-Type", "application/x-amz-json-1.0")], payload)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        status, answer_headers, payload = self.proxy.forward("POST", self.path, headers, body)
        self._answer(status, answer_headers, payload)

    def _answer(self, status: int, headers: Sequence[Tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        seen = set()
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() not in ("server", "date"):
                self.send_header(name, value)
                seen.add(name.lower())
        if "x-amz-crc32" not in seen:
            self.send_header("x-amz-crc32", str(zlib.crc32(payload) & 0xFFFFFFFF))
        if "x-amzn-requestid" not in seen:
            self.send_header("x-amzn-RequestId", f"proxy-{time.monotonic_ns()}")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _control(self, body: bytes = b"") -> None:
        """/_proxy/config (POST: changes), /_proxy/stats, /_proxy/arrivals, /_proxy/reset."""
        name = self.path[len("/_proxy/") :]
        try:
            if name == "config":
                result: Any = self.proxy.configure(**json.loads(body or b"{}"))
            elif name == "stats":
                result = self.proxy.stats()
            elif name == "arrivals":
                result = [asdict(a) for a in self.proxy.arrivals()]
            elif name == "reset":
                self.proxy.reset()
                result = {}
            else:
                raise ValueError(f"unknown control {name!r}")
            status, payload = 200, json.dumps(result).encode()
        except (ValueError, TypeError) as error:
            status, payload = 400, json.dumps({"error": str(error)}).encode()
        self._answer(status, [("Content-Type", "application/json")], payload)


def _handler(proxy: FaultProxy) -> type:
    return type("Handler", (_Handler,), {"proxy": proxy})
