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
while every key of an earlier run sorts before it. Paging is boto3's paginator (core.s3io).

Local runs also report what they skip (symlinked folders, dangling links, FIFOs and other
non-regular files) in ``Run.skipped``, so nothing is left out without a word.
"""

from __future__ import annotations

import os
import re
import stat as stat_mode
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

from populator.core import s3io
from populator.core.location import has_s3_scheme, parse_location, parse_s3_uri

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "GLACIER_CLASSES",
    "LOCAL_STORAGE_CLASS",
    "RUN_FOLDER_PREFIX",
    "ArchiveFile",
    "NoRunsError",
    "Run",
    "Skipped",
    "archive_is_s3",
    "format_run_id",
    "is_data_file",
    "list_run_files",
    "list_runs",
    "no_runs_problem",
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
class Skipped:
    """An entry below a run folder that is not read, and why (counted in the job's report)."""

    path: str
    reason: str  # symlinked_folder, dangling_link, not_a_regular_file


class NoRunsError(ValueError):
    """The archive holds no ``run=`` folder at all: almost always the wrong location."""


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
    skipped: Tuple[Skipped, ...] = ()

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
    for obj in s3io.list_objects(s3_client, location.bucket, run_root, start_after, page_size):
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
    location = parse_location(archive, "archive")
    if location.is_s3:
        raise ValueError(f"{archive!r} is an S3 location, not a local directory")
    return location.path


def _skip_reason(path: str) -> Optional[str]:
    """Why a directory entry is not read, or None for a (link to a) regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "dangling_link" if os.path.islink(path) else "unreadable"
    return None if stat_mode.S_ISREG(mode) else "not_a_regular_file"


def _list_local_files(run_dir: str) -> Tuple[Tuple[ArchiveFile, ...], Tuple[Skipped, ...]]:
    found, skipped = [], []
    for parent, dirs, names in os.walk(run_dir):
        kept = []
        for name in sorted(d for d in dirs if not d.startswith(("_", "."))):
            if os.path.islink(os.path.join(parent, name)):
                skipped.append(Skipped(os.path.join(parent, name), "symlinked_folder"))
            else:
                kept.append(name)
        dirs[:] = kept
        for name in names:
            path = os.path.join(parent, name)
            relative = os.path.relpath(path, run_dir).replace(os.sep, "/")
            if not is_data_file(relative, 1):
                continue  # Hadoop's hidden and marker files: skipped by convention
            reason = _skip_reason(path)
            if reason is not None:
                skipped.append(Skipped(path, reason))
                continue
            size = os.stat(path).st_size
            if is_data_file(relative, size):
                found.append(ArchiveFile(path, size, LOCAL_STORAGE_CLASS))
    return (
        tuple(sorted(found, key=lambda f: f.path)),
        tuple(sorted(skipped, key=lambda s: s.path)),
    )


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
            data, skipped = _list_local_files(run_dir)
            runs.append(
                Run(
                    run_id=entry.name[len(RUN_FOLDER_PREFIX) :],
                    started=when,
                    prefix=run_dir,
                    uri=run_dir,
                    files=data,
                    glacier=False,
                    skipped=skipped,
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
        objects = s3io.list_objects(s3_client, folder.bucket, folder.prefix, None, page_size)
        data = (
            _s3_file(folder.bucket, obj)
            for obj in objects
            if is_data_file(obj["Key"][len(folder.prefix) :], int(obj.get("Size", 0)))
        )
        return tuple(sorted(data, key=lambda f: f.path))
    run_dir = _local_dir(location)
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"run folder {location!r} is not a directory ({run_dir})")
    return _list_local_files(run_dir + "/")[0]


def _has_s3_run(s3_client: Any, archive: str) -> bool:
    location = parse_s3_uri(archive)
    for obj in s3io.list_objects(s3_client, location.bucket, location.prefix + RUN_FOLDER_PREFIX):
        name, slash, _ = obj["Key"][len(location.prefix) :].partition("/")
        if slash and parse_run_id(name) is not None:
            return True
    return False


def _has_local_run(archive: str) -> bool:
    with os.scandir(_local_dir(archive)) as entries:
        return any(
            e.name.startswith(RUN_FOLDER_PREFIX) and parse_run_id(e.name) and e.is_dir()
            for e in entries
        )


def no_runs_problem(archive: str, s3_client: Any = None) -> Optional[str]:
    """Why ``archive`` cannot be an enriched archive (no ``run=`` folder at all), else None.

    Call it when ``list_runs`` found nothing: a run folder given by mistake gets its parent
    suggested, the bucket root and empty prefixes are named as such.
    """
    has_run = _has_s3_run(s3_client, archive) if archive_is_s3(archive) else _has_local_run(archive)
    if has_run:
        return None
    shown = parse_s3_uri(archive).uri if archive_is_s3(archive) else _local_dir(archive) + "/"
    message = f"archive {shown} holds no run=YYYY-MM-DD-HH-MM-SS/ folder"
    folder = shown.rstrip("/")
    parent, _, last = folder.rpartition("/")
    if parse_run_id(last) is not None and last.startswith(RUN_FOLDER_PREFIX):
        message += (
            f": it is a run folder itself; give the folder that holds the runs, {parent}/ "
            "(and --since to start at this run)"
        )
    elif archive_is_s3(archive) and not parse_s3_uri(archive).prefix:
        message += (
            " (the bucket root): give the archive's prefix, e.g. s3://bucket/enriched/archive/"
        )
    else:
        message += ": is this the enriched archive (the folder holding the run= folders)?"
    return message
