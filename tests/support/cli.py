"""Run `inv TASK ...` for real, in a subprocess, against the test run's moto server."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parents[2]
DEAD_ENDPOINT = "http://127.0.0.1:9"  # discard port: any AWS call would fail to connect


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> List[str]:
        return [line for line in self.err.splitlines() if line.startswith("error: ")]


def environment(endpoint: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AWS_PROFILE")}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "POPULATOR_IGLU_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONFAULTHANDLER": "1",  # SIGABRT on a hang prints every thread's stack
        }
    )
    env.update(extra or {})
    return env


def command(task: str, args: Sequence[str]) -> List[str]:
    return [sys.executable, "-m", "invoke", task, *args]


def inv(
    task: str,
    args: Sequence[str],
    endpoint: str,
    timeout: float = 60,
    extra_env: Optional[Dict[str, str]] = None,
) -> Ran:
    done = subprocess.run(
        command(task, args),
        cwd=REPO_ROOT,
        env=environment(endpoint, extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def inv_many(task: str, cases: Dict[str, Sequence[str]], endpoint: str) -> Dict[str, Ran]:
    """Run many invocations at once (each is a fresh Python: ~1 s of imports)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {name: pool.submit(inv, task, args, endpoint) for name, args in cases.items()}
        return {name: future.result() for name, future in futures.items()}


class Running:
    """A task in the background whose output lines can be awaited (for --wait tests)."""

    def __init__(self, task: str, args: Sequence[str], endpoint: str) -> None:
        self.process = subprocess.Popen(
            command(task, args),
            cwd=REPO_ROOT,
            env=environment(endpoint),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self.out: List[str] = []
        self.err: List[str] = []
        self._pumps = [
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
            for stream, sink in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for pump in self._pumps:
            pump.start()

    def _pump(self, stream, sink: List[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            sink.append(line)
            self._lines.put(line)

    def expect(self, pattern: str, timeout: float = 30) -> re.Match:
        """Block until an output line matches `pattern` (stdout or stderr)."""
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        for line in self.out + self.err:
            found = compiled.search(line)
            if found:
                return found
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no line matched {pattern!r}:\n{''.join(self.out + self.err)}"
                )
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            found = compiled.search(line)
            if found:
                return found

    def interrupt(self, signum: int = signal.SIGINT) -> None:
        self.process.send_signal(signum)

    def finish(self, timeout: float = 60) -> Ran:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)  # faulthandler: the stacks, on stderr
            self.process.wait(timeout=10)
            for pump in self._pumps:
                pump.join(timeout=10)
            raise AssertionError(
                f"still running {timeout}s after the test was done with it; its output:\n"
                + "".join(self.out + self.err)
            ) from None
        for pump in self._pumps:
            pump.join(timeout=10)
        return Ran(code, "".join(self.out), "".join(self.err))


def inv_in_process(task: str, args: Sequence[str]) -> Ran:
    """The same `inv` program (tasks.py, invoke.yaml, parser) inside this process: ~100x
    cheaper than a subprocess, for large corpora. Set the environment with monkeypatch."""
    import contextlib
    import io

    from invoke import Program

    from populator.cli import common

    out, err = io.StringIO(), io.StringIO()
    code = 0
    saved, common._redactor = common._redactor, None  # a fresh process's redacting streams
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            Program().run(["inv", "--search-root", str(REPO_ROOT), task, *args])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            common._redactor = saved
    return Ran(code, out.getvalue(), err.getvalue())


# What run_emr prints when it starts a cluster, and while --wait polls.
STARTED = r"started EMR cluster (j-\w+) in [\w-]+: step (s-\w+)"
POLLING = r"\[\d\d:\d\d:\d\d\] step s-\w+ RUNNING"


def args(setup: Dict[str, Any], *extra: str) -> List[str]:
    return [setup["archive"], setup["storage"], setup["resolver"], *extra]


def waiting_on_emr(setup: Dict[str, Any], endpoint: str, *extra: str) -> Tuple[Running, str, str]:
    """`inv run_emr INPUTS EXTRA --wait` (polling every 0.05 s) in the background, once it has
    started a cluster and polled its step RUNNING: (the run, cluster id, step id)."""
    running = Running("run_emr", args(setup, *extra, "--wait", "--poll-interval", "0.05"), endpoint)
    cluster_id, step_id = running.expect(STARTED).groups()
    running.expect(POLLING)
    return running, cluster_id, step_id
