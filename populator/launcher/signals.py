"""The one signal block: SIGINT, SIGTERM and SIGHUP become exceptions so every task cancels.

SIGTERM's and SIGHUP's defaults end the launcher at once (a CI cancel, a closed terminal) and
leave the job running. Inside `Signals()` SIGINT raises KeyboardInterrupt and SIGTERM/SIGHUP
raise `Terminated`, so the task's cancel runs; the old handlers come back on exit. The CLI
(`populator.cli.common`) and the targets' watch loops use this block and nothing else.
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Dict

__all__ = ["Signals", "Terminated", "interrupt_name"]

NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived. A BaseException: `except Exception` must not swallow it."""

    def __init__(self, name: str = "SIGTERM") -> None:
        super().__init__(name)
        self.name = name


def interrupt_name(interrupt: BaseException) -> str:
    """ "SIGTERM", "SIGHUP" or "Ctrl-C": what the user (or CI) did, for the messages."""
    return interrupt.name if isinstance(interrupt, Terminated) else "Ctrl-C"


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(NAMES.get(signum, f"signal {signum}"))


class Signals:
    """Signals as exceptions inside the block (main thread only); restored after."""

    def __init__(self) -> None:
        self._saved: Dict[int, Any] = {}

    def __enter__(self) -> Signals:
        if threading.current_thread() is threading.main_thread():
            self._saved[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
            for number in NAMES:
                self._saved[number] = signal.signal(number, _raise_terminated)
        return self

    def ignore(self) -> None:
        """While cleaning up: a second signal must not abandon a half-done cancel."""
        for number in self._saved:
            signal.signal(number, signal.SIG_IGN)

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._saved.items():
            signal.signal(number, handler)
