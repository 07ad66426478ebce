"""What a backfill will cost before it runs: events from archive bytes, writes, money, time.

Pure: the caller reads the sample (the first ~1 MiB of one data file, by a Range GET) and
hands the bytes in. Bytes per event is measured on that sample (gunzipped when it starts with
gzip's magic bytes, whatever its extension), else a documented default is used, and the
estimate always says which (its `basis`).

Each event is one conditional PutItem: 1 WCU for an item under 1 KB (manifest items are
~100 bytes), and a write that fails its condition (a duplicate) costs the same. On-demand
writes cost about $0.625 per million (us-east-1); at W provisioned WCU the table takes W
writes per second. Every file also costs a fixed overhead (one GET's latency, opening the
stream, its share of task scheduling) whatever its size: PER_FILE_SECONDS, so an archive of
many small files is not estimated as if it were one big file.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

from populator.core.events import TTL_SECONDS

__all__ = [
    "DEFAULT_BYTES_PER_EVENT",
    "DEFAULT_WRITE_CAPACITY",
    "PER_FILE_SECONDS",
    "PRICE_PER_MILLION_WRITES",
    "SAMPLE_BYTES",
    "Estimate",
    "Sample",
    "estimate",
    "human_bytes",
    "human_duration",
    "is_expired",
    "measure_sample",
]

# Enriched TSV lines run 1-3 KB (contexts make the difference) and gzip about 7:1: with no
# sample to measure we assume 300 stored bytes per event, i.e. gzip-compressed archives.
DEFAULT_BYTES_PER_EVENT = 300
DEFAULT_WRITE_CAPACITY = 1000
PRICE_PER_MILLION_WRITES = 0.625
SAMPLE_BYTES = 1 << 20
# Fixed cost per data file on one reader (S3 first-byte latency ~20-50 ms plus stream set-up);
# files are read in parallel by READERS task slots of a modest cluster.
PER_FILE_SECONDS = 0.05
READERS = 8
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Sample:
    """Events counted in the head of one data file, and the stored bytes they took."""

    source: str
    compressed: bool
    stored_bytes: float  # bytes of the file (as stored) that held the counted events
    events: int

    @property
    def bytes_per_event(self) -> float:
        return self.stored_bytes / self.events


def _gunzip_prefix(data: bytes) -> Optional[bytes]:
    """All the text a (possibly truncated, possibly multi-member) gzip prefix holds."""
    out = []
    rest = data
    try:
        while rest[:2] == GZIP_MAGIC:
            member = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out.append(member.decompress(rest))
            if not member.eof:
                break
            rest = member.unused_data
    except zlib.error:
        if not out:
            return None
    return b"".join(out)


def measure_sample(data: bytes, source: str, whole_file: bool) -> Optional[Sample]:
    """Count the complete lines in `data`, the head of `source` (or all of it).

    A cut-off last line is not counted, and only the stored bytes that held the counted
    lines are; None when not even one line is complete (or the gzip data is corrupt).
    """
    compressed = data[:2] == GZIP_MAGIC
    text = _gunzip_prefix(data) if compressed else data
    if not text:
        return None
    counted = len(text) if whole_file else text.rfind(b"\n") + 1
    events = text.count(b"\n", 0, counted)
    if whole_file and not text.endswith(b"\n"):
        events += 1
    if events == 0:
        return None
    stored = len(data) * (counted / len(text))
    return Sample(source=source, compressed=compressed, stored_bytes=stored, events=events)


@dataclass(frozen=True)
class Estimate:
    bytes: int
    events: int
    bytes_per_event: float
    basis: str
    writes: int
    cost_usd: float
    price_per_million_usd: float
    write_capacity: int
    seconds: float
    files: int = 0
    file_seconds: float = 0.0  # the per-file part of ``seconds``


def estimate(
    total_bytes: int,
    sample: Optional[Sample],
    write_capacity: int = DEFAULT_WRITE_CAPACITY,
    price_per_million: float = PRICE_PER_MILLION_WRITES,
    files: int = 0,
) -> Estimate:
    """Events, writes, on-demand cost and time at `write_capacity` WCU for `total_bytes` in
    `files` data files (each adds PER_FILE_SECONDS / READERS to the time)."""
    if write_capacity < 1:
        raise ValueError(f"write capacity must be at least 1 WCU, not {write_capacity}")
    if sample is not None:
        per_event = sample.bytes_per_event
        kind = "gzip" if sample.compressed else "uncompressed"
        basis = (
            f"measured on {human_bytes(int(sample.stored_bytes))} of {sample.source} ({kind}): "
            f"{sample.events:,} events, {per_event:,.0f} bytes/event"
        )
    else:
        per_event = float(DEFAULT_BYTES_PER_EVENT)
        basis = (
            f"default {DEFAULT_BYTES_PER_EVENT} bytes/event (gzip-compressed enriched TSV); "
            "no data file could be sampled"
        )
    events = round(total_bytes / per_event) if total_bytes else 0
    writes = events
    file_seconds = files * PER_FILE_SECONDS / READERS
    return Estimate(
        bytes=total_bytes,
        events=events,
        bytes_per_event=round(per_event, 1),
        basis=basis,
        writes=writes,
        cost_usd=round(writes / 1_000_000 * price_per_million, 6),
        price_per_million_usd=price_per_million,
        write_capacity=write_capacity,
        seconds=writes / write_capacity + file_seconds,
        files=files,
        file_seconds=round(file_seconds, 3),
    )


def is_expired(started: datetime, now: datetime) -> bool:
    """A run's items would carry a ttl already past (TTL deletes them again): writing is waste.

    Events are enriched at or after the run starts, so run start + 180 days is the earliest
    ttl its items can have.
    """
    return started + timedelta(seconds=TTL_SECONDS) <= now.astimezone(timezone.utc)


def human_bytes(count: float) -> str:
    """1,536 -> '1.5 KiB' (binary units, like `aws s3 ls --human-readable`)."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    """4,000 s -> '1h 06m 40s'; days once over a day."""
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
