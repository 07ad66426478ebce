"""When a request's bytes reached the endpoint, as the kernel saw them, not when we read them.

The write-budget measurements count PutItems per 2-second window at the fault proxy. A
`time.monotonic()` taken by the proxy's handler is late by however long the proxy waited for
the interpreter lock (its moto shares it) or for a core: on a loaded machine a 0.4 s stall
put 8 requests of the stall into the next window, 48 in a window that had 40. The kernel
stamps every segment it receives (`SO_TIMESTAMPNS`); `TimestampedReader` keeps the stamp of
the latest bytes read, which, with one request in flight per connection, is the arrival of
the request being parsed.
"""

from __future__ import annotations

import io
import socket
import struct
import sys
import time
from typing import Any, Optional, Tuple

__all__ = ["TimestampedReader", "stamp_arrivals", "timestamped_rfile"]

# Python names SO_TIMESTAMPNS only on some builds; 35 is Linux's value (also SCM_TIMESTAMPNS).
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)
_TIMESPEC = struct.Struct("@ll")


def stamp_arrivals(connection: socket.socket) -> bool:
    """Ask the kernel to stamp what `connection` receives (a listening socket passes it on to
    the connections it accepts, and turns stamping on before the first one arrives)."""
    if _SO_TIMESTAMPNS is None:
        return False
    try:
        connection.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


class TimestampedReader(io.RawIOBase):
    """A socket's raw reader that remembers when the kernel received the latest bytes."""

    def __init__(self, connection: socket.socket) -> None:
        super().__init__()
        self.connection = connection
        self.stamped = stamp_arrivals(connection)
        self._latest: Optional[float] = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # type: ignore[override]
        if not self.stamped:
            return self.connection.recv_into(buffer)
        size, ancillary, _flags, _ = self.connection.recvmsg_into(
            [buffer], socket.CMSG_SPACE(_TIMESPEC.size)
        )
        self._latest = None  # bytes the kernel did not stamp arrived "now"
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                seconds, nanoseconds = _TIMESPEC.unpack(data[: _TIMESPEC.size])
                # The stamp is CLOCK_REALTIME; the proxy's times are monotonic.
                self._latest = seconds + nanoseconds / 1e9 - (time.time() - time.monotonic())
        return size

    def arrived(self) -> float:
        """time.monotonic() at which the latest bytes read reached the socket (now, unknown)."""
        return self._latest if self._latest is not None else time.monotonic()


def timestamped_rfile(connection: socket.socket) -> Tuple[io.BufferedReader, TimestampedReader]:
    """A buffered `rfile` for an HTTP handler, and its reader (for `arrived()`)."""
    raw = TimestampedReader(connection)
    return io.BufferedReader(raw), raw
