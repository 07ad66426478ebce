"""Loopback endpoints that misbehave like AWS can: refuse credentials, fail with a 5xx, or
accept connections and never answer. Each runs in a thread on 127.0.0.1 (for the CLI tests)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, List, Tuple


def _handler(status: int, code: str, message: str) -> type:
    class Refuse(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if self.headers.get("X-Amz-Target"):  # DynamoDB (JSON 1.0 protocol)
                body = json.dumps(
                    {"__type": f"com.amazon.coral.service#{code}", "message": message}
                )
                kind = "application/x-amz-json-1.0"
            else:  # S3, EMR query-style: XML
                body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
                kind = "application/xml"
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", "test")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    return Refuse


@contextlib.contextmanager
def refusing_endpoint(status: int, code: str, message: str) -> Iterator[str]:
    """Every request gets this AWS error (JSON for DynamoDB, XML otherwise)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(status, code, message))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """Accepts connections and never answers (a black-holed proxy or a hung server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: List[Tuple[socket.socket, object]] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept())

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for connection, _ in held:
            connection.close()
        listener.close()
