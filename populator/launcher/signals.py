"""The one signal block: SIGINT, SIGTERM and SIGHUP become exceptions so every task cancels.

SIGTERM's and SIGHUP's defaults end the launcher at once (a CI cancel, a closed terminal) and
leave the job running. Inside `Signals()` SIGINT raises KeyboardInterrupt and SIGTERM/SIGHUP
raise `Terminated`, so the task's cancel runs; the old handlers come back on exit. The CLI
(`populator.cli.common`) and the targets' watch loops use this block and nothing else.

An exception raised by a signal handler can be lost: CPython (3.11 at least) drops it when the
handler runs while another exception is being raised, and botocore raises and catches a
ValueError on every API call (`hooks._alias_event_name`), so a Ctrl-C during a poll was now
and then swallowed and the wait went on. The handlers therefore also record the signal, and
the loops call `check()` at their safe points: a lost signal is raised there instead.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from typing import Any, Dict, List

__all__ = ["Signals", "Terminated", "check", "interrupt_name", "wait_process"]

NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}
CTRL_C = "Ctrl-C"

# Signals received inside a block whose exception has not been handled yet (by name).
_received: List[str] = []
_depth = [0]


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived. A BaseException: `except Exception` must not swallow it."""

    def __init__(self, name: str = "SIGTERM") -> None:
        super().__init__(name)
        self.name = name


def interrupt_name(interrupt: BaseException) -> str:
    """ "SIGTERM", "SIGHUP" or "Ctrl-C": what the user (or CI) did, for the messages."""
    return interrupt.name if isinstance(interrupt, Terminated) else CTRL_C


def _as_exception(name: str) -> BaseException:
    return KeyboardInterrupt() if name == CTRL_C else Terminated(name)


def _on_signal(signum: int, frame: Any) -> None:
    name = CTRL_C if signum == signal.SIGINT else NAMES.get(signum, f"signal {signum}")
    _received.append(name)
    raise _as_exception(name)


def check() -> None:
    """Raise the first signal that arrived inside a block and was not handled (its exception
    lost on the way); nothing when there is none. Loops call it before they wait."""
    if _received:
        raise _as_exception(_received[0])


def wait_process(process: subprocess.Popen, tick: float = 0.5) -> int:
    """`process.wait()` that a lost signal cannot outlast: checked every `tick` seconds."""
    while True:
        try:
            return process.wait(timeout=tick)
        except subprocess.TimeoutExpired:
            check()


class Signals:
    """Signals as exceptions inside the block (main thread only); restored after."""

    def __init__(self) -> None:
        self._saved: Dict[int, Any] = {}

    def __enter__(self) -> Signals:
        if threading.current_thread() is threading.main_thread():
            if _depth[0] == 0:
                _received.clear()
            _depth[0] += 1
            for number in (signal.SIGINT, *NAMES):
                self._saved[number] = signal.signal(number, _on_signal)
        return self

    def check(self) -> None:
        check()

    def ignore(self) -> None:
        """While cleaning up: a second signal must not abandon a half-done cancel (and the one
        being handled is no longer pending)."""
        for number in self._saved:
            signal.signal(number, signal.SIG_IGN)
        _received.clear()

    def __exit__(self, *exc: object) -> None:
        if not self._saved:
            return
        for number, handler in self._saved.items():
            signal.signal(number, handler)
        _depth[0] -= 1
        if _depth[0] == 0:
            _received.clear()
