"""A failure's probable cause in a driver's log: the last Python traceback, job error or
Spark error (pure parsers), and the S3 edge that reads a log (gzipped or not, bounded).

EMR (targets/emr/logs.py: step, container and bootstrap-action logs) and EMR Serverless
(targets/serverless/logs.py: the SPARK_DRIVER folder under the job run's logUri) only differ
in where the logs are; what is looked for, and how, is here.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Sequence

from populator.core import s3io
from populator.core.retry import error_code

__all__ = [
    "Cause",
    "LogText",
    "decode_log",
    "first_existing",
    "last_job_error",
    "last_python_traceback",
    "last_spark_error",
    "probable_cause",
    "read_log",
]

TRACEBACK_MARK = "Traceback (most recent call last):"
MAX_FRAMES = 6  # the innermost frames say where; the outer ones are Spark's plumbing
MAX_MESSAGE_LINES = 8
MAX_LOG_BYTES = 32 * 1024 * 1024  # compressed bytes read per log file
_LOG_LINE_RE = re.compile(r"^(?:[0-9]{2}/[0-9]{2}/[0-9]{2} |[0-9]{4}-[0-9]{2}-[0-9]{2}[ T])")
_JVM_EXCEPTION_RE = re.compile(r"^(?:[a-z][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)(?::|$)")
_GENERIC = ("finished with failed status", "User application exited with status")


@dataclass(frozen=True)
class LogText:
    """One log file's text and where it came from (an S3 URI)."""

    source: str
    text: str


@dataclass(frozen=True)
class Cause:
    """The probable cause of a failure: `kind` is python-traceback, job-error or spark-error."""

    kind: str
    source: str
    text: str

    def render(self) -> str:
        return f"probable cause ({self.kind}, from {self.source}):\n{self.text}"


def _is_frame(line: str) -> bool:
    return line.startswith((" ", "\t")) and not line.lstrip().startswith("at ")


def last_python_traceback(text: str) -> Optional[str]:
    """The last traceback, trimmed to its innermost frames and its exception message.

    Also finds tracebacks embedded in a Java message (`PythonException: Traceback …`), where
    a failed executor's Python error arrives at the driver.
    """
    lines = text.splitlines()
    start = None
    for index in range(len(lines) - 1, -1, -1):
        if TRACEBACK_MARK in lines[index]:
            start = index
            break
    if start is None:
        return None
    frames: List[str] = []
    index = start + 1
    while index < len(lines) and _is_frame(lines[index]):
        frames.append(lines[index])
        index += 1
    message: List[str] = []
    while index < len(lines) and len(message) < MAX_MESSAGE_LINES:
        line = lines[index]
        if not line.strip() or _LOG_LINE_RE.match(line) or line.lstrip().startswith("at "):
            break
        message.append(line)
        index += 1
    if not message:
        return None
    kept = _trim_frames(frames)
    return "\n".join([TRACEBACK_MARK, *kept, *message])


def _trim_frames(frames: Sequence[str]) -> List[str]:
    """Keep the last MAX_FRAMES `File …` entries with their source lines."""
    starts = [i for i, line in enumerate(frames) if line.lstrip().startswith("File ")]
    if len(starts) <= MAX_FRAMES:
        return list(frames)
    return ["  ...", *frames[starts[-MAX_FRAMES] :]]


def last_job_error(text: str) -> Optional[str]:
    """The job's own last `error: …` line (it reports failures that are not exceptions)."""
    for line in reversed(text.splitlines()):
        if line.startswith("error: "):
            return line
    return None


def last_spark_error(text: str) -> Optional[str]:
    """The deepest JVM cause: the last `Caused by:`, else the last exception, else ERROR line.

    Generic wrap-ups ("User application exited with status 1") are used only when nothing
    more specific is there.
    """
    caused, thrown, errors = None, None, None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Caused by: "):
            caused = line
        elif line.startswith("Exception in thread ") or _JVM_EXCEPTION_RE.match(line):
            thrown = line
        elif " ERROR " in f" {line} " and _LOG_LINE_RE.match(line):
            errors = line
    for candidate in (caused, thrown, errors):
        if candidate and not any(generic in candidate for generic in _GENERIC):
            return candidate
    return caused or thrown or errors


def probable_cause(logs: Sequence[LogText]) -> Optional[Cause]:
    """Search the logs in order (driver first): traceback, then job error, then JVM error."""
    finders = (
        ("python-traceback", last_python_traceback),
        ("job-error", last_job_error),
        ("spark-error", last_spark_error),
    )
    for kind, finder in finders:
        for log in logs:
            found = finder(log.text)
            if found:
                return Cause(kind, log.source, found)
    return None


def decode_log(data: bytes) -> str:
    """Gunzip when the bytes start with gzip's magic (a truncated stream yields what it can)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    return data.decode("utf-8", "replace")


# --- the S3 edge ----------------------------------------------------------------------------


def read_log(s3_client: Any, bucket: str, key: str) -> Optional[str]:
    try:
        data = s3io.get_range(s3_client, bucket, key, 0, MAX_LOG_BYTES - 1)  # logs may be large
    except Exception as error:
        if error_code(error) in ("NoSuchKey", "404", "InvalidRange"):
            return None
        raise
    return decode_log(data)


def first_existing(s3_client: Any, bucket: str, keys: Iterable[str]) -> Optional[LogText]:
    for key in keys:
        text = read_log(s3_client, bucket, key)
        if text is not None:
            return LogText(f"s3://{bucket}/{key}", text)
    return None
