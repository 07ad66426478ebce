"""Find why a step failed: the last Python traceback or Spark error in its logs.

EMR copies logs to the cluster's LogUri: the step's own output under
`<log-uri>/<cluster-id>/steps/<step-id>/` (spark-submit's client side, which names the YARN
application) and, in cluster deploy mode, the driver's output under
`<log-uri>/<cluster-id>/containers/<application-id>/<container>/` (the driver runs in the
first container of the last attempt, `…_<attempt>_000001`). A cluster whose bootstrap action
failed never runs the step: the action's output is under
`<log-uri>/<cluster-id>/node/<instance-id>/bootstrap-actions/<n>/`. The parsers are pure;
only the `fetch_*` functions read S3. Users of EMR launchers complain most about failures shown
without their cause: this module is why ours prints one.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from populator.core.location import parse_s3_uri
from populator.core.retry import error_code
from populator.core.s3io import list_objects

__all__ = [
    "Cause",
    "LogText",
    "application_id",
    "bootstrap_cause",
    "decode_log",
    "driver_container",
    "fetch_bootstrap_logs",
    "fetch_step_logs",
    "last_job_error",
    "last_python_traceback",
    "last_spark_error",
    "probable_cause",
    "step_log_prefix",
]

TRACEBACK_MARK = "Traceback (most recent call last):"
MAX_FRAMES = 6  # the innermost frames say where; the outer ones are Spark's plumbing
MAX_MESSAGE_LINES = 8
MAX_LOG_BYTES = 32 * 1024 * 1024  # compressed bytes read per log file
_APP_RE = re.compile(r"application_[0-9]+_[0-9]+")
_CONTAINER_RE = re.compile(r"container_(?:e[0-9]+_)?[0-9]+_[0-9]+_([0-9]+)_([0-9]+)")
_LOG_LINE_RE = re.compile(r"^(?:[0-9]{2}/[0-9]{2}/[0-9]{2} |[0-9]{4}-[0-9]{2}-[0-9]{2}[ T])")
_JVM_EXCEPTION_RE = re.compile(r"^(?:[a-z][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)(?::|$)")
_GENERIC = ("finished with failed status", "User application exited with status")
_BOOTSTRAP_LOG_RE = re.compile(r"/node/[^/]+/bootstrap-actions/[0-9]+/(stderr|stdout)(\.gz)?$")
MAX_TAIL_LINES = 8
MAX_BOOTSTRAP_KEYS = 5000  # a cluster that failed to start has few node logs; stop anyway


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


def bootstrap_cause(logs: Sequence[LogText]) -> Optional[Cause]:
    """Why a bootstrap action failed: a traceback if there is one, else its output's last lines
    (pip and shell errors are plain text: the end of stderr is where they are)."""
    found = probable_cause(logs)
    if found is not None and found.kind == "python-traceback":
        return found
    for log in logs:
        lines = [line for line in log.text.splitlines() if line.strip()]
        if lines:
            return Cause("bootstrap-log", log.source, "\n".join(lines[-MAX_TAIL_LINES:]))
    return None


def application_id(text: str) -> Optional[str]:
    """The YARN application spark-submit started (it names it in the step's stderr)."""
    found = _APP_RE.findall(text)
    return found[-1] if found else None


def driver_container(keys: Iterable[str]) -> Optional[str]:
    """The driver's container folder among container log keys: last attempt, container 1."""
    best: Optional[Tuple[int, str]] = None
    for key in keys:
        match = _CONTAINER_RE.search(key)
        if match is None or int(match.group(2)) != 1:
            continue
        attempt = int(match.group(1))
        folder = key[: match.end()] + "/"
        if best is None or attempt > best[0]:
            best = (attempt, folder)
    return best[1] if best else None


def step_log_prefix(log_uri: str, cluster_id: str, step_id: str) -> Tuple[str, str]:
    """(bucket, key prefix) of a step's logs below the cluster's LogUri."""
    location = parse_s3_uri(log_uri)
    return location.bucket, f"{location.prefix}{cluster_id}/steps/{step_id}/"


def decode_log(data: bytes) -> str:
    """Gunzip when the bytes start with gzip's magic (a truncated stream yields what it can)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    return data.decode("utf-8", "replace")


# --- the S3 edge ----------------------------------------------------------------------------


def _read(s3_client: Any, bucket: str, key: str) -> Optional[str]:
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_LOG_BYTES - 1}")
    except Exception as error:
        if error_code(error) in ("NoSuchKey", "404", "InvalidRange"):
            return None
        raise
    return decode_log(body["Body"].read())


def _first_existing(s3_client: Any, bucket: str, keys: Iterable[str]) -> Optional[LogText]:
    for key in keys:
        text = _read(s3_client, bucket, key)
        if text is not None:
            return LogText(f"s3://{bucket}/{key}", text)
    return None


def fetch_step_logs(s3_client: Any, log_uri: str, cluster_id: str, step_id: str) -> List[LogText]:
    """The driver's stderr/stdout and the step's stderr, driver first; [] when none arrived yet."""
    bucket, prefix = step_log_prefix(log_uri, cluster_id, step_id)
    step = _first_existing(s3_client, bucket, (prefix + "stderr.gz", prefix + "stderr"))
    found: List[LogText] = []
    app = application_id(step.text) if step is not None else None
    if app is not None:
        root = parse_s3_uri(log_uri).prefix + f"{cluster_id}/containers/{app}/"
        folder = driver_container(obj["Key"] for obj in list_objects(s3_client, bucket, root))
        if folder is not None:
            for name in ("stderr", "stdout"):
                log = _first_existing(s3_client, bucket, (folder + name + ".gz", folder + name))
                if log is not None:
                    found.append(log)
    if step is not None:
        found.append(step)
    return found


def fetch_bootstrap_logs(s3_client: Any, log_uri: str, cluster_id: str) -> List[LogText]:
    """Every node's bootstrap-action output, stderr before stdout; [] when none arrived."""
    location = parse_s3_uri(log_uri)
    root = f"{location.prefix}{cluster_id}/node/"
    keys: List[str] = []
    for number, obj in enumerate(list_objects(s3_client, location.bucket, root)):
        if number >= MAX_BOOTSTRAP_KEYS:
            break
        if _BOOTSTRAP_LOG_RE.search(obj["Key"]):
            keys.append(obj["Key"])
    keys.sort(key=lambda key: ("/stdout" in key, key))
    found: List[LogText] = []
    for key in keys:
        text = _read(s3_client, location.bucket, key)
        if text is not None:
            found.append(LogText(f"s3://{location.bucket}/{key}", text))
    return found
