"""Enriched archives of a chosen size and duplicate/expiry mix, written fast enough for 1M lines.

Lines come from `devkit.enriched_lines.make_line` (realistic 131-field page views): it is
called once to build a template, then each line is three string splices. The generator knows
exactly which keys a correct backfill stores, so benchmarks can check results, not only time
them.
"""

from __future__ import annotations

import gzip
import os
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, List, Optional, Tuple

from devkit.enriched_lines import make_line
from devkit.sample_archive import run_folder, tstamp

Line = Callable[[str, str, str], str]


def line_maker() -> Line:
    """(event_id, etl_tstamp, fingerprint) -> the line `make_line` would build."""
    marked = make_line("\x01", "\x02", "\x03")
    before_etl, rest = marked.split("\x02", 1)
    between_etls, rest = rest.split("\x02", 1)  # collector_tstamp repeats the etl time
    before_id, rest = rest.split("\x01", 1)
    before_fp, after_fp = rest.split("\x03", 1)

    def line(event_id: str, etl: str, fingerprint: str) -> str:
        parts = (before_etl, etl, between_etls, etl, before_id, event_id, before_fp)
        return "".join(parts) + fingerprint + after_fp

    return line


@dataclass(frozen=True)
class ArchiveSpec:
    """`events` lines over `runs` runs; fractions are of all lines."""

    events: int
    runs: int = 4
    files_per_run: int = 4
    expired: float = 0.0  # lines in runs older than the 180-day TTL
    cross_run_duplicates: float = 0.0  # lines repeating an event of an earlier run
    in_run_duplicates: float = 0.0  # lines repeating an event of the same run
    seed: int = 7


@dataclass(frozen=True)
class ArchiveFacts:
    root: str
    lines: int
    stored_keys: int  # distinct unexpired (eventId, fingerprint): what a backfill stores
    expired_lines: int
    duplicate_lines: int
    files: int
    bytes: int


def write_archive(spec: ArchiveSpec, root: str, now: Optional[datetime] = None) -> ArchiveFacts:
    """Write gzip part files (level 1: generation time matters) and `_SUCCESS` markers."""
    rng = random.Random(spec.seed)
    now = now or datetime.now(timezone.utc)
    line = line_maker()
    expired_lines = int(spec.events * spec.expired)
    cross = int(spec.events * spec.cross_run_duplicates)
    in_run = int(spec.events * spec.in_run_duplicates)
    old_runs = min(spec.runs - 1, max(1, round(spec.runs * spec.expired))) if expired_lines else 0
    recent_runs = spec.runs - old_runs
    if cross and recent_runs < 2:
        raise ValueError("cross-run duplicates need at least two recent runs")
    unique_recent = spec.events - expired_lines - cross - in_run
    files = size = 0
    seen: List[Tuple[str, str]] = []  # recent keys written so far (for cross-run repeats)

    def new_key() -> Tuple[str, str]:
        return str(uuid.UUID(int=rng.getrandbits(128))), f"{rng.getrandbits(128):032X}"

    plan: List[Tuple[datetime, int, int, int]] = []  # (start, new lines, cross, in-run)
    for index in range(old_runs):
        start = (now - timedelta(days=400 - 30 * index)).replace(microsecond=0)
        plan.append((start, _share(expired_lines, old_runs, index), 0, 0))
    for index in range(recent_runs):
        start = (now - timedelta(days=40 - 7 * index)).replace(microsecond=0)
        repeats = _share(cross, recent_runs - 1, index - 1) if index else 0
        plan.append(
            (
                start,
                _share(unique_recent, recent_runs, index),
                repeats,
                _share(in_run, recent_runs, index),
            )
        )
    stored = 0
    for start, fresh, repeats, doubles in plan:
        expired_run = start < now - timedelta(days=180)
        triples: List[Tuple[str, str, str]] = []
        keys = [new_key() for _ in range(fresh)]
        for number, (event_id, fingerprint) in enumerate(keys):
            etl = tstamp(start + timedelta(seconds=number % 3600), number % 1000)
            triples.append((event_id, etl, fingerprint))
        later = tstamp(start + timedelta(hours=2))
        for _ in range(repeats):
            event_id, fingerprint = seen[rng.randrange(len(seen))]
            triples.append((event_id, later, fingerprint))
        for _ in range(doubles):
            event_id, fingerprint = keys[rng.randrange(len(keys))]
            triples.append((event_id, later, fingerprint))
        if not expired_run:
            seen.extend(keys)
            stored += len(keys)
        rng.shuffle(triples)
        folder = os.path.join(root, run_folder(start))
        os.makedirs(folder, exist_ok=True)
        per_file = -(-len(triples) // spec.files_per_run) if triples else 0
        for part in range(spec.files_per_run):
            chunk = triples[part * per_file : (part + 1) * per_file]
            if not chunk:
                continue
            path = os.path.join(folder, f"part-{part:05d}.gz")
            with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
                out.write("\n".join(line(e, t, f) for e, t, f in chunk))
                out.write("\n")
            files += 1
            size += os.path.getsize(path)
        open(os.path.join(folder, "_SUCCESS"), "wb").close()
    return ArchiveFacts(
        root=root,
        lines=spec.events,
        stored_keys=stored,
        expired_lines=expired_lines,
        duplicate_lines=cross + in_run,
        files=files,
        bytes=size,
    )


def _share(total: int, parts: int, index: int) -> int:
    """Split `total` into `parts` near-equal integers; the `index`-th of them."""
    if parts <= 0 or index < 0:
        return 0
    return total // parts + (1 if index < total % parts else 0)
