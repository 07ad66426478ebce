"""Write enriched archives with the shapes real ones have, for the demo, tests and benchmarks.

Real archives mix Hadoop `part-*` files and stream-enrich `<timestamp>-<uuid>.gz` names, `.gz`
and pre-R83 `.gzip` gzip files and plain text, `_SUCCESS` markers, Glacier runs and junk.
"""

from __future__ import annotations

import gzip
import os
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Tuple

from devkit.enriched_lines import make_line

TSTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def tstamp(moment: datetime, millis: int = 0) -> str:
    """`yyyy-MM-dd HH:mm:ss.SSS` as enrich writes it."""
    return moment.strftime(TSTAMP_FORMAT) + f".{millis:03d}"


def run_folder(moment: datetime) -> str:
    return "run=" + moment.strftime("%Y-%m-%d-%H-%M-%S")


def gz(lines: Iterable[str]) -> bytes:
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)


def plain(lines: Iterable[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


@dataclass
class ArchiveObject:
    key: str  # relative to the archive root, e.g. 'run=2017-…/part-00000.gz'
    body: bytes
    storage_class: str = "STANDARD"


@dataclass
class SampleArchive:
    """Objects to write and the manifest items a correct backfill must produce."""

    objects: List[ArchiveObject] = field(default_factory=list)
    expected: Dict[Tuple[str, str], int] = field(default_factory=dict)  # (eventId, fp) -> etlTime
    # Every valid, unexpired occurrence: (run id, (eventId, fp), etlTime), for subset oracles.
    occurrences: List[Tuple[str, Tuple[str, str], int]] = field(default_factory=list)
    expired: Dict[Tuple[str, str], int] = field(default_factory=dict)
    malformed: Dict[str, int] = field(default_factory=dict)
    lines: int = 0

    def add(self, key: str, body: bytes, storage_class: str = "STANDARD") -> None:
        self.objects.append(ArchiveObject(key, body, storage_class))

    def expected_for(self, run_ids: Iterable[str]) -> Dict[Tuple[str, str], int]:
        """What a backfill of only these runs stores: each key's earliest time among them."""
        wanted = set(run_ids)
        result: Dict[Tuple[str, str], int] = {}
        for run_id, key, seconds in self.occurrences:
            if run_id in wanted:
                result[key] = min(seconds, result.get(key, seconds))
        return result

    @property
    def run_ids(self) -> List[str]:
        return sorted({run_id for run_id, _, _ in self.occurrences})


def write_to_s3(archive: SampleArchive, s3_client: Any, bucket: str, prefix: str) -> str:
    """Upload every object under s3://bucket/prefix; return the archive URI."""
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    for obj in archive.objects:
        s3_client.put_object(
            Bucket=bucket, Key=prefix + obj.key, Body=obj.body, StorageClass=obj.storage_class
        )
    return f"s3://{bucket}/{prefix}"


def write_to_dir(archive: SampleArchive, root: str) -> str:
    """Write every object under a local directory (storage classes are ignored)."""
    for obj in archive.objects:
        path = os.path.join(root, *obj.key.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(obj.body)
    return root


def realistic_archive(
    now: Optional[datetime] = None,
    runs: int = 4,
    events_per_run: int = 60,
    seed: int = 7,
) -> SampleArchive:
    """Several recent runs plus a Glacier run and an expired run, with every messy case.

    Cases: `.gz`, legacy `.gzip`, plain and stream-enrich names; `_SUCCESS`; duplicates within
    a run and across runs; a later run holding an *earlier* etl time for a pair (earliest wins);
    malformed lines (bad field count, bad event id, bad timestamp, no fingerprint); a run with
    a bad folder date that must be ignored.
    """
    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    sample = SampleArchive()
    base = (now - timedelta(days=40)).replace(microsecond=0)
    pool: List[Tuple[str, str]] = []

    def record(event_id: str, fingerprint: str, seconds: int, run: datetime) -> None:
        key = (event_id, fingerprint)
        sample.expected[key] = min(seconds, sample.expected.get(key, seconds))
        sample.occurrences.append((run.strftime("%Y-%m-%d-%H-%M-%S"), key, seconds))

    def malformed(reason: str) -> None:
        sample.malformed[reason] = sample.malformed.get(reason, 0) + 1

    run_lines: List[List[str]] = []
    starts = [base + timedelta(days=7 * index, hours=index) for index in range(runs)]
    for index, started in enumerate(starts):
        lines: List[str] = []
        for number in range(events_per_run):
            etl = started + timedelta(minutes=5, seconds=number)
            event_id = str(uuid.UUID(int=rng.getrandbits(128)))
            fingerprint = uuid.UUID(int=rng.getrandbits(128)).hex.upper()
            lines.append(make_line(event_id, tstamp(etl, number % 1000), fingerprint))
            record(event_id, fingerprint, int(etl.timestamp()), started)
            pool.append((event_id, fingerprint))
        # In-run duplicate: the same event twice in one run.
        dup_id, dup_fp = pool[-1]
        dup_etl = started + timedelta(minutes=6)
        lines.append(make_line(dup_id, tstamp(dup_etl), dup_fp))
        record(dup_id, dup_fp, int(dup_etl.timestamp()), started)
        if index > 0:
            # Cross-run duplicates: events of the previous run seen again, with a later time.
            for event_id, fingerprint in pool[-2 * events_per_run : -2 * events_per_run + 3]:
                etl = started + timedelta(minutes=9)
                lines.append(make_line(event_id, tstamp(etl), fingerprint))
                record(event_id, fingerprint, int(etl.timestamp()), started)
            # A later run holding an *earlier* etl time than an earlier run: the earliest wins.
            event_id, fingerprint = str(uuid.UUID(int=rng.getrandbits(128))), f"EARLY{index}"
            late = starts[index - 1] + timedelta(minutes=1)
            early = starts[index - 1] - timedelta(days=1)
            run_lines[index - 1].append(make_line(event_id, tstamp(late), fingerprint))
            lines.append(make_line(event_id, tstamp(early), fingerprint))
            record(event_id, fingerprint, int(late.timestamp()), starts[index - 1])
            record(event_id, fingerprint, int(early.timestamp()), started)
        lines.extend(_bad_lines(started, malformed))
        run_lines.append(lines)

    for index, (started, lines) in enumerate(zip(starts, run_lines)):
        folder = run_folder(started)
        rng.shuffle(lines)
        sample.lines += len(lines)
        third = len(lines) // 3
        if index % 2 == 0:
            sample.add(f"{folder}/part-00000.gz", gz(lines[:third]))
            sample.add(f"{folder}/part-00001.gzip", gz(lines[third : 2 * third]))
            sample.add(f"{folder}/part-00002", plain(lines[2 * third :]))
        else:
            stamp = started.strftime("%Y-%m-%d-%H%M%S")
            name = f"{stamp}-{uuid.UUID(int=rng.getrandbits(128))}.gz"
            sample.add(f"{folder}/{name}", gz(lines[:third]))
            sample.add(f"{folder}/part-00000.gzip", gz(lines[third:]))
        sample.add(f"{folder}/_SUCCESS", b"")

    # An expired run: older than the manifest's 180-day TTL; its items would be deleted at once.
    old = (now - timedelta(days=200)).replace(microsecond=0)
    old_lines = []
    for number in range(5):
        event_id, fingerprint = str(uuid.UUID(int=rng.getrandbits(128))), f"OLD{number:02d}"
        etl = old + timedelta(seconds=number)
        old_lines.append(make_line(event_id, tstamp(etl), fingerprint))
        sample.expired[(event_id, fingerprint)] = int(etl.timestamp())
    sample.lines += len(old_lines)
    sample.add(f"{run_folder(old)}/part-00000.gz", gz(old_lines))
    sample.add(f"{run_folder(old)}/_SUCCESS", b"")

    # A Glacier run: unreadable until restored, reported and skipped.
    frozen = (now - timedelta(days=60)).replace(microsecond=0)
    frozen_lines = [make_line(None, tstamp(frozen), "GLACIER")]
    sample.add(f"{run_folder(frozen)}/part-00000.gz", gz(frozen_lines), storage_class="GLACIER")

    # Junk next to the runs: ignored.
    sample.add("run=2017-13-45-00-00-00/part-00000.gz", gz(frozen_lines))
    sample.add("not-a-run/part-00000.gz", gz(frozen_lines))
    return sample


def _bad_lines(started: datetime, malformed: Any) -> List[str]:
    etl = tstamp(started)
    lines = [
        ("field_count", "\t".join(["x"] * 20)),
        ("bad_event_id", make_line("not-a-uuid", etl, "FP")),
        ("bad_etl_tstamp", make_line(None, "26/01/2017 00:01:25", "FP")),
        ("no_fingerprint", make_line(None, etl, "")),
    ]
    for reason, _ in lines:
        malformed(reason)
    return [line for _, line in lines]
