"""Find the runs of an enriched archive and the data files inside each run.

An archive is a folder (``s3://bucket/prefix/``, ``s3a://``, ``s3n://``, ``file://`` or a local
path) holding one folder per pipeline run, ``run=YYYY-MM-DD-HH-MM-SS/`` (UTC). Anything else
next to the runs is ignored: other folders, loose files, impossible dates.

S3 listing strategy: one *recursive* ``ListObjectsV2`` over ``<prefix>run=`` (no delimiter),
grouping keys by run folder. We need every run's files anyway (their sizes, and their storage
classes to spot Glacier), and a run folder rarely holds more than a handful of files, so this
costs ``ceil(objects / 1000)`` requests, while ``CommonPrefixes`` + one listing per run would
cost at least one request per run (tens of thousands for an hourly pipeline's archive). The
``run=`` prefix keeps unrelated folders next to the runs out of the listing. ``--since`` maps
to ``StartAfter='<prefix>run=<since run id>'``: run ids are fixed width, so key order is time
order, and every key of a run at or after ``since`` (``…run=<id>/…``) sorts after that string
while every key of an earlier run sorts before it. ``StartAfter`` is sent on the first request
only; later pages follow ``NextContinuationToken`` until ``IsTruncated`` is false.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional, Tuple

from populator.core.location import has_s3_scheme, parse_s3_uri

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "GLACIER_CLASSES",
    "LOCAL_STORAGE_CLASS",
    "RUN_FOLDER_PREFIX",
    "ArchiveFile",
    "Run",
    "archive_is_s3",
    "format_run_id",
    "is_data_file",
    "iter_s3_objects",
    "list_run_files",
    "list_runs",
    "parse_run_id",
]

# Objects in these classes must be restored before they can be read. GLACIER_IR (Instant
# Retrieval) is readable like STANDARD.
GLACIER_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
RUN_FOLDER_PREFIX = "run="
DEFAULT_PAGE_SIZE = 1000  # S3's maximum MaxKeys
LOCAL_STORAGE_CLASS = "STANDARD"  # what local files report, so no caller special-cases them

_RUN_ID_RE = re.compile(
    r"(?:run=)?([0-9]{4})-([0-9]{2})-([0-9]{2})-([0-9]{2})-([0-9]{2})-([0-9]{2})"
)
_URI_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def parse_run_id(name: str) -> Optional[datetime]:
    """``'run=2017-01-26-00-01-25'`` or ``'2017-01-26-00-01-25'`` -> aware UTC datetime.

    Returns ``None`` for anything else (impossible dates or times, missing parts, trailing
    characters, a trailing ``/``), so callers can use it as the "is this a run?" test.
    """
    if not isinstance(name, str):
        return None
    match = _RUN_ID_RE.fullmatch(name)
    if match is None:
        return None
    try:
        return datetime(*(int(part) for part in match.groups()), tzinfo=timezone.utc)
    except ValueError:
        return None


def _as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC (run ids and ``--since`` are UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def format_run_id(dt: datetime) -> str:
    """UTC ``YYYY-MM-DD-HH-MM-SS`` (no ``run=``; sub-second part truncated; naive = UTC)."""
    u = _as_utc(dt)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}-{u.hour:02d}-{u.minute:02d}-{u.second:02d}"


def is_data_file(relative_path: str, size: int) -> bool:
    """Whether an object below a run folder holds events Spark/Hadoop would read.

    Skips what Hadoop's input formats skip or cannot read: names starting with ``_`` or ``.``
    at any depth (``_SUCCESS``, ``_temporary/…``, ``.crc``), folder markers (keys ending
    ``/``, ``…_$folder$``) and zero-byte objects (no events; not even a valid gzip stream).
    """
    if size <= 0 or not relative_path or relative_path.endswith("/"):
        return False
    if relative_path.endswith("$folder$"):
        return False
    return not any(part.startswith(("_", ".")) for part in relative_path.split("/"))


@dataclass(frozen=True)
class ArchiveFile:
    """One data file: ``path`` is ``s3://bucket/key`` or an absolute local path."""

    path: str
    size: int
    storage_class: str


@dataclass(frozen=True)
class Run:
    """One ``run=…`` folder of the archive.

    ``prefix`` is the id recorded in the run manifest: the full key prefix
    (``enriched/archive/run=2017-01-26-00-01-25/``) as the Snowplow Analytics SDK records it,
    or the absolute local folder path ending with ``/``.
    """

    run_id: str
    started: datetime
    prefix: str
    uri: str
    files: Tuple[ArchiveFile, ...]
    glacier: bool

    @property
    def bytes(self) -> int:
        """Total size of the data files."""
        return sum(f.size for f in self.files)


def archive_is_s3(archive: str) -> bool:
    """True for ``s3://``, ``s3a://`` and ``s3n://`` locations (even malformed ones, which
    then fail with ``parse_s3_uri``'s message instead of being taken for local paths)."""
    return has_s3_scheme(archive)


def _is_glacier(files: Tuple[ArchiveFile, ...]) -> bool:
    return any(f.storage_class in GLACIER_CLASSES for f in files)


# --- S3 -------------------------------------------------------------------------------------


def iter_s3_objects(
    s3_client: Any,
    bucket: str,
    prefix: str,
    start_after: Optional[str] = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Iterator[Dict[str, Any]]:
    """Yield every object under ``prefix`` in key order, following continuation tokens."""
    if not 1 <= page_size <= DEFAULT_PAGE_SIZE:
        raise ValueError(f"page_size must be 1..{DEFAULT_PAGE_SIZE}, not {page_size}")
    request: Dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
    if start_after:
        request["StartAfter"] = start_after
    while True:
        response = s3_client.list_objects_v2(**request)
        yield from response.get("Contents", [])
        token = response.get("NextContinuationToken")
        if not response.get("IsTruncated") or not token:
            return
        request.pop("StartAfter", None)
        request["ContinuationToken"] = token


def _require_client(s3_client: Any, archive: str) -> None:
    if s3_client is None:
        raise ValueError(f"listing {archive!r} needs a boto3 S3 client (s3_client=...)")


def _s3_file(bucket: str, obj: Dict[str, Any]) -> ArchiveFile:
    return ArchiveFile(
        path=f"s3://{bucket}/{obj['Key']}",
        size=int(obj.get("Size", 0)),
        storage_class=obj.get("StorageClass") or "STANDARD",
    )


def _list_s3_runs(
    archive: str, s3_client: Any, since: Optional[datetime], page_size: int
) -> List[Run]:
    _require_client(s3_client, archive)
    location = parse_s3_uri(archive)
    run_root = location.prefix + RUN_FOLDER_PREFIX
    start_after = run_root + format_run_id(since) if since is not None else None
    seen: Dict[str, Optional[datetime]] = {}  # folder name -> run start, None: not a run
    files: Dict[str, List[ArchiveFile]] = {}
    for obj in iter_s3_objects(s3_client, location.bucket, run_root, start_after, page_size):
        name, slash, inner = obj["Key"][len(location.prefix) :].partition("/")
        if not slash:
            continue  # a loose object such as 'run=…_$folder$' next to the runs
        if name not in seen:
            seen[name] = parse_run_id(name)
        if seen[name] is None:
            continue
        run_files = files.setdefault(name, [])
        if is_data_file(inner, int(obj.get("Size", 0))):
            run_files.append(_s3_file(location.bucket, obj))
    runs = []
    for name, run_files in files.items():
        when = seen[name]
        if when is None or (since is not None and when < since):
            continue
        prefix = f"{location.prefix}{name}/"
        data = tuple(sorted(run_files, key=lambda f: f.path))
        runs.append(
            Run(
                run_id=name[len(RUN_FOLDER_PREFIX) :],
                started=when,
                prefix=prefix,
                uri=f"s3://{location.bucket}/{prefix}",
                files=data,
                glacier=_is_glacier(data),
            )
        )
    return runs


# --- local ----------------------------------------------------------------------------------


def _local_dir(archive: str) -> str:
    """``file:///abs``, ``file:/abs``, ``file://localhost/abs`` or a path -> absolute path."""
    path = archive
    if archive.lower().startswith("file:"):
        parts = urllib.parse.urlsplit(archive)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{archive!r}: file URIs on another host are not supported")
        path = urllib.parse.unquote(parts.path)
    elif _URI_SCHEME_RE.match(archive) and "://" in archive:
        raise ValueError(
            f"{archive!r}: unsupported archive location (use s3://, s3a://, s3n://, file:// "
            "or a local directory)"
        )
    if not path:
        raise ValueError(f"{archive!r}: empty archive path")
    return os.path.abspath(path)


def _list_local_files(run_dir: str) -> Tuple[ArchiveFile, ...]:
    found = []
    for parent, dirs, names in os.walk(run_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        for name in names:
            path = os.path.join(parent, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue  # dangling symlink or removed while listing
            relative = os.path.relpath(path, run_dir).replace(os.sep, "/")
            if os.path.isfile(path) and is_data_file(relative, stat.st_size):
                found.append(ArchiveFile(path, stat.st_size, LOCAL_STORAGE_CLASS))
    return tuple(sorted(found, key=lambda f: f.path))


def _list_local_runs(archive: str, since: Optional[datetime]) -> List[Run]:
    root = _local_dir(archive)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"archive {archive!r} is not a directory ({root})")
    runs = []
    with os.scandir(root) as entries:
        for entry in entries:
            when = parse_run_id(entry.name) if entry.name.startswith(RUN_FOLDER_PREFIX) else None
            if when is None or not entry.is_dir():
                continue
            if since is not None and when < since:
                continue
            run_dir = os.path.join(root, entry.name) + "/"
            data = _list_local_files(run_dir)
            runs.append(
                Run(
                    run_id=entry.name[len(RUN_FOLDER_PREFIX) :],
                    started=when,
                    prefix=run_dir,
                    uri=run_dir,
                    files=data,
                    glacier=False,
                )
            )
    return runs


# --- public entry points ---------------------------------------------------------------------


def list_runs(
    archive: str,
    s3_client: Any = None,
    since: Optional[datetime] = None,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> List[Run]:
    """All runs of ``archive`` started at or after ``since`` (naive = UTC), oldest first.

    A run with no data files (only ``_SUCCESS``) is still returned, with ``files=()``: it is
    a finished run with nothing to read. Runs holding a GLACIER/DEEP_ARCHIVE data file come
    back with ``glacier=True``; deciding to skip them is the caller's business. ``page_size``
    is ``MaxKeys`` per S3 request (tests shrink it to exercise pagination).
    """
    cutoff = _as_utc(since) if since is not None else None
    if archive_is_s3(archive):
        runs = _list_s3_runs(archive, s3_client, cutoff, page_size)
    else:
        runs = _list_local_runs(archive, cutoff)
    return sorted(runs, key=lambda run: run.started)


def list_run_files(
    location: str, s3_client: Any = None, *, page_size: int = DEFAULT_PAGE_SIZE
) -> Tuple[ArchiveFile, ...]:
    """The data files of one run folder (S3 URI or local directory), sorted by path."""
    if archive_is_s3(location):
        _require_client(s3_client, location)
        folder = parse_s3_uri(location)
        objects = iter_s3_objects(s3_client, folder.bucket, folder.prefix, None, page_size)
        data = (
            _s3_file(folder.bucket, obj)
            for obj in objects
            if is_data_file(obj["Key"][len(folder.prefix) :], int(obj.get("Size", 0)))
        )
        return tuple(sorted(data, key=lambda f: f.path))
    run_dir = _local_dir(location)
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"run folder {location!r} is not a directory ({run_dir})")
    return _list_local_files(run_dir + "/")
