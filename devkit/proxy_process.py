"""The fault proxy and its own moto server in a child process (`python -m devkit.proxy_process`).

Benchmarks use it so the client CPU they measure is the client's alone; control goes over
`/_proxy/*` on the proxy's port, with the same method names as `FaultProxy`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import subprocess
import sys
from typing import Any, Dict, List, Optional, Sequence

from devkit.fault_proxy import FaultProxy
from devkit.proxy_control import Arrival, ProxyControl

__all__ = ["ProxyProcess", "main"]


class ProxyProcess(ProxyControl):
    """A FaultProxy with its own moto server, in a child process (same control surface)."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.process: Optional[subprocess.Popen] = None
        self.endpoint_url = ""

    def start(self) -> ProxyProcess:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devkit.proxy_process",
                "--moto",
                "--settings",
                json.dumps(self.settings),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"fault proxy did not start: {line!r}")
        self.endpoint_url = line.split()[-1]
        return self

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process else None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.stdin:
            self.process.stdin.close()  # the child exits when its stdin closes
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def _call(self, name: str, payload: Optional[Dict[str, Any]] = None) -> Any:
        host, port = self.endpoint_url.split("://", 1)[1].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.request("POST", f"/_proxy/{name}", body=json.dumps(payload or {}))
            response = connection.getresponse()
            result = json.loads(response.read())
        finally:
            connection.close()
        if response.status != 200:
            raise ValueError(result.get("error"))
        return result

    def configure(self, **changes: Any) -> Dict[str, Any]:
        return self._call("config", changes)

    def stats(self) -> Dict[str, Any]:
        return self._call("stats")

    def arrivals(self) -> List[Arrival]:
        return [Arrival(**a) for a in self._call("arrivals")]

    def reset(self) -> None:
        self._call("reset")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m devkit.proxy_process (--upstream URL | --moto) [--port N] [--settings JSON]`."""
    p = argparse.ArgumentParser(prog="python -m devkit.proxy_process")
    p.add_argument("--upstream", help="moto server URL to forward to")
    p.add_argument("--moto", action="store_true", help="start a moto server of our own")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--settings", default="{}", help="initial settings as JSON")
    args = p.parse_args(argv)
    moto = None
    upstream = args.upstream
    if args.moto:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        upstream = f"http://{host}:{port}"
    if not upstream:
        p.error("give --upstream or --moto")
    proxy = FaultProxy(upstream, port=args.port, **json.loads(args.settings)).start()
    print(f"listening on {proxy.endpoint_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()  # until the parent closes our stdin (or goes away)
    proxy.stop()
    if moto is not None:
        moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
