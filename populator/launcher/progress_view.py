"""Show a running backfill's progress object wherever the launcher waits for it.

The job writes `progress.json` beside its report (core/progress.py says where). Here:
`progress_location` turns a report or progress URI into the object's location,
`fetch_progress` reads it (S3 or local), `ProgressRenderer` draws it (a terminal: one line
redrawn in place, `\\r` + clear; elsewhere, CI logs: one plain line per minute at most, and
the final one), and `ProgressFollower` is what a watch loop calls at each poll.
Launcher code: Python 3.11.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

from populator.core import s3io
from populator.core.errors import UserError
from populator.core.location import has_s3_scheme, parse_location, parse_s3_uri
from populator.core.progress import (
    FINAL_PHASES,
    Progress,
    from_dict,
    human_duration,
    progress_uri_for,
    render_line,
)
from populator.core.retry import error_code

__all__ = [
    "PLAIN_EVERY_SECONDS",
    "ProgressFollower",
    "ProgressRenderer",
    "bar_line",
    "fetch_document",
    "fetch_progress",
    "progress_location",
]

PLAIN_EVERY_SECONDS = 60.0
BAR_WIDTH = 20
MAX_PROGRESS_BYTES = 1 << 20  # a progress object is a few hundred bytes
CLEAR_LINE = "\r\x1b[2K"
# S3 keeps LastModified to the second: an object written just after the step was created can
# look a little older than it.
CLOCK_SLACK = timedelta(seconds=2)
_MISSING = ("NoSuchKey", "404", "NotFound")


def progress_location(uri: str) -> str:
    """The progress object's location for a report URI, a progress URI or a prefix.

    Raises UserError for an S3 URI S3 would not accept (bucket name, `//`, `..`).
    """
    text = (uri or "").strip()
    if not text:
        raise UserError(
            "missing REPORT_OR_PROGRESS_URI: give the backfill's --report URI (the progress "
            "object is beside it) or its progress.json, e.g. s3://bucket/reports/backfill-x.json"
        )
    if has_s3_scheme(text):
        try:
            parse_s3_uri(text)
        except ValueError as error:
            raise UserError(f"REPORT_OR_PROGRESS_URI: {error}") from None
    return progress_uri_for(text)


def _s3_key(uri: str) -> tuple[str, str]:
    parsed = parse_s3_uri(uri)
    return parsed.bucket, parsed.prefix.rstrip("/")


def fetch_progress(s3: Any, location: str, not_before: datetime | None = None) -> Progress | None:
    """The object at `location` (from `progress_location`); None while it does not exist."""
    document = fetch_document(s3, location, not_before)
    return None if document is None else from_dict(document)


def fetch_document(
    s3: Any, location: str, not_before: datetime | None = None
) -> dict[str, Any] | None:
    """The JSON object at `location` as published (newer fields kept); None while absent.

    `not_before` (the step's creation time): an older object is an earlier attempt's (the
    same request names the same report, hence the same progress object): None too.
    Raises UserError when it exists but cannot be read or is not a progress object.
    """
    if has_s3_scheme(location):
        bucket, key = _s3_key(location)
        try:
            answer = s3io.get_object(s3, bucket, key)
            if _stale(answer.get("LastModified"), not_before):
                answer["Body"].close()
                return None
            body = answer["Body"].read(MAX_PROGRESS_BYTES)
        except Exception as error:
            code = error_code(error)
            if code in _MISSING:
                return None
            raise UserError(
                f"cannot read the progress object {location}: {code or error}"
            ) from None
    else:
        path = Path(parse_location(location, "REPORT_OR_PROGRESS_URI").path)
        try:
            modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            if _stale(modified, not_before):
                return None
            body = path.read_bytes()[:MAX_PROGRESS_BYTES]
        except FileNotFoundError:
            return None
        except OSError as error:
            raise UserError(f"cannot read the progress object {location}: {error}") from None
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UserError(f"{location} is not a progress object (not JSON)") from None
    if not isinstance(document, dict) or "phase" not in document:
        raise UserError(f"{location} is not a progress object (no 'phase' field)")
    return document


def _stale(modified: datetime | None, not_before: datetime | None) -> bool:
    return None not in (modified, not_before) and modified < not_before - CLOCK_SLACK


def _bar(percent: float | None, width: int, unicode: bool) -> str:
    full, empty = ("█", "░") if unicode else ("#", "-")
    if percent is None:
        return "[" + empty * width + "]"
    filled = round(width * max(0.0, min(100.0, percent)) / 100)
    return "[" + full * filled + empty * (width - filled) + "]"


def bar_line(progress: Progress, unicode: bool = True) -> str:
    """The terminal's line: phase, a bar, percent, rate, throttles, ETA."""
    percent = "  ?  %" if progress.percent is None else f"{progress.percent:5.1f}%"
    parts = [f"{progress.label} {_bar(progress.percent, BAR_WIDTH, unicode)} {percent}"]
    if progress.phase == "reading" or progress.phase == "listing":
        total = "?" if progress.files.total is None else f"{progress.files.total:,}"
        parts.append(f"files {progress.files.done:,}/{total}")
        if progress.lines_per_second is not None:
            parts.append(f"{progress.lines_per_second:,.0f} lines/s")
    else:
        expected = "?" if progress.keys_expected is None else f"{progress.keys_expected:,}"
        parts.append(f"keys {progress.keys_done:,}/{expected}")
        if progress.writes_per_second is not None:
            parts.append(f"{progress.writes_per_second:,.0f} writes/s")
    parts.append(f"throttles {progress.throttles:,}")
    if progress.phase in FINAL_PHASES:
        parts.append(f"{progress.status} in {human_duration(progress.elapsed_seconds)}")
    else:
        parts.append(f"ETA {human_duration(progress.eta_seconds)}")
    return " | ".join(parts)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width(stream: TextIO) -> int:
    """The terminal's columns (a new pty says 0: then $COLUMNS or 80)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns if columns > 0 else shutil.get_terminal_size().columns


class ProgressRenderer:
    """Draws progress objects on one stream; the clock decides when a plain line is due."""

    def __init__(
        self,
        stream: TextIO,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        plain_every: float = PLAIN_EVERY_SECONDS,
    ) -> None:
        self.stream = stream
        self.tty = _is_tty(stream) if tty is None else tty
        self.clock = clock
        self.plain_every = plain_every
        self._last_plain: float | None = None
        self._drawn = False  # a redrawn line is on screen, without its newline
        self._final_shown = False
        self._last_sequence: int | None = None

    def show(self, progress: Progress) -> bool:
        """Draw it if due; True when something was written."""
        final = progress.phase in FINAL_PHASES
        if self._final_shown:
            return False
        if self.tty:
            underlying = getattr(self.stream, "wrapped", self.stream)  # a RedactingStream's
            encoding = (getattr(underlying, "encoding", "") or "").lower()
            line = bar_line(progress, unicode="utf" in encoding)
            self.stream.write(CLEAR_LINE + line[: max(20, _width(self.stream) - 1)])
            self._drawn = True
            if final:
                self.close()
        else:
            now = self.clock()
            due = self._last_plain is None or now - self._last_plain >= self.plain_every
            if not final and (not due or progress.sequence == self._last_sequence):
                return False
            self._last_plain = now
            self._last_sequence = progress.sequence
            self.stream.write(render_line(progress) + "\n")
        self._final_shown = final
        self.stream.flush()
        return True

    def clear(self) -> None:
        """Before other output on a terminal: take the redrawn line away (the next poll redraws)."""
        if self._drawn:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
            self._drawn = False

    def close(self) -> None:
        """Leave the last redrawn line on screen and end it."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class ProgressFollower:
    """What a watch loop calls at each poll: read the object, draw it when it changed.

    Reading trouble never stops the watch: it is said once (the job may not have written
    the object yet, or the launcher may lack s3:GetObject on it) and polling goes on.
    """

    def __init__(
        self,
        s3: Any,
        uri: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
        not_before: datetime | None = None,
    ) -> None:
        self.s3 = s3
        self.location = progress_location(uri)
        self.not_before = not_before
        self.renderer = ProgressRenderer(stream or sys.stderr, tty=tty, clock=clock)
        self.last: Progress | None = None
        self.document: dict[str, Any] | None = None
        self._warned = False

    def poll(self) -> Progress | None:
        """The latest progress object (None until the job wrote one); drawn if due."""
        try:
            document = fetch_document(self.s3, self.location, self.not_before)
        except UserError as error:
            if not self._warned:
                self._warned = True
                self.renderer.clear()
                print(
                    f"notice: {error} (progress is not shown; the wait goes on)",
                    file=self.renderer.stream,
                    flush=True,
                )
            return self.last
        found = None if document is None else from_dict(document)
        if found is not None and (self.last is None or found.sequence >= self.last.sequence):
            self.last, self.document = found, document
        if self.last is not None:
            self.renderer.show(self.last)
        return self.last

    def wrap_log(self, log: Callable[[str], None]) -> Callable[[str], None]:
        """A log function that clears the redrawn line first (state changes stay readable)."""

        def wrapped(message: str) -> None:
            self.renderer.clear()
            log(message)

        return wrapped

    def close(self) -> None:
        self.renderer.close()

    def as_json(self) -> dict[str, Any] | None:
        """The last object, for `--json` outputs."""
        return self.document
