"""Extract the events-manifest triple from one enriched-event TSV line.

Runs once per event, billions of times: it splits off only the first seven fields and finds
the fingerprint from the end of the line, and caches timestamp conversions (a batch run's
events share a handful of `etl_tstamp` values; stream-enriched ones share seconds).
Cluster code: Python 3.9, standard library only.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timezone
from typing import Dict, NamedTuple, Union

FIELD_COUNTS = (130, 131)  # 130 before true_tstamp was added
TTL_SECONDS = 180 * 24 * 3600  # 15,552,000: the shredder's manifest TTL
MAX_FINGERPRINT_BYTES = 1024  # DynamoDB's limit for a sort key
# Snowplow did not exist before 2012; a year-9999 etl_tstamp is corruption, not data.
MIN_ETL_TIME = calendar.timegm((2012, 1, 1, 0, 0, 0))
MAX_ETL_TIME = calendar.timegm((2100, 1, 1, 0, 0, 0))

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DIGITS = frozenset("0123456789")
_seconds_cache: Dict[str, int] = {}
_CACHE_LIMIT = 50_000


class MalformedEvent(ValueError):
    """A line that cannot become a manifest item; `reason` is a short machine-usable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ManifestEntry(NamedTuple):
    event_id: str
    fingerprint: str
    etl_tstamp: str  # as written in the archive
    etl_time: int  # epoch seconds, fraction truncated


def parse_line(line: str) -> ManifestEntry:
    """Parse a 130- or 131-field enriched line (a trailing `\\n`, `\\r\\n` or `\\r` is tolerated:
    a file's last line may end in a bare `\\r`, which must not end up in the fingerprint)."""
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    tabs = line.count("\t")
    if tabs != 130 and tabs != 129:
        raise MalformedEvent("field_count", f"expected 130 or 131 fields, got {tabs + 1}")
    head = line.split("\t", 7)
    event_id = _event_id(head[6])
    etl_tstamp = head[2]
    etl_time = etl_seconds(etl_tstamp)
    # Field 129 is the last field of a 130-field line, the one before last of a 131-field one.
    end = len(line) if tabs == 129 else line.rindex("\t")
    fingerprint = line[line.rindex("\t", 0, end) + 1 : end]
    if not fingerprint:
        raise MalformedEvent("no_fingerprint", "event_fingerprint is empty")
    if len(fingerprint) > MAX_FINGERPRINT_BYTES // 4 and (
        len(fingerprint.encode("utf-8", "surrogatepass")) > MAX_FINGERPRINT_BYTES
    ):
        raise MalformedEvent("fingerprint_too_long", f"over {MAX_FINGERPRINT_BYTES} bytes")
    return ManifestEntry(event_id, fingerprint, etl_tstamp, etl_time)


def _event_id(text: str) -> str:
    """Canonical lower-case UUID: the shredder parses event_id as a UUID and prints it so."""
    if _UUID.fullmatch(text) is None:
        raise MalformedEvent("bad_event_id", "event_id is not a UUID")
    return text.lower()


def etl_seconds(text: str) -> int:
    """Epoch seconds (UTC, fraction truncated) of `yyyy-MM-dd HH:mm:ss[.fraction]`."""
    key = text[:19]
    seconds = _seconds_cache.get(key)
    if seconds is None:
        seconds = _parse_seconds(key)
        if len(_seconds_cache) >= _CACHE_LIMIT:
            _seconds_cache.clear()
        _seconds_cache[key] = seconds
    if len(text) > 19:
        _check_fraction(text[19:])
    return seconds


def _parse_seconds(text: str) -> int:
    if (
        len(text) != 19
        or text[4] != "-"
        or text[7] != "-"
        or text[10] not in " T"
        or text[13] != ":"
        or text[16] != ":"
        or not _DIGITS.issuperset(text[0:4] + text[5:7] + text[8:10] + text[11:13])
        or not _DIGITS.issuperset(text[14:16] + text[17:19])
    ):
        raise MalformedEvent("bad_etl_tstamp", "expected yyyy-MM-dd HH:mm:ss[.SSS] (UTC)")
    try:
        parsed = datetime(
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
            tzinfo=timezone.utc,
        )
    except ValueError:
        raise MalformedEvent("bad_etl_tstamp", "not a valid date and time") from None
    seconds = calendar.timegm(parsed.utctimetuple())
    if not MIN_ETL_TIME <= seconds < MAX_ETL_TIME:
        raise MalformedEvent("etl_tstamp_out_of_range", "etl_tstamp before 2012 or after 2099")
    return seconds


def _check_fraction(rest: str) -> None:
    """Accept `.S` to `.SSSSSSSSS` and an optional `Z`; any other zone or junk is refused."""
    if rest.endswith("Z"):
        rest = rest[:-1]
    if rest and (rest[0] != "." or not 2 <= len(rest) <= 10 or not _DIGITS.issuperset(rest[1:])):
        raise MalformedEvent("bad_etl_tstamp", "expected yyyy-MM-dd HH:mm:ss[.SSS] (UTC)")


def etl_time(entry_or_tstamp: Union[ManifestEntry, str, datetime]) -> int:
    """Epoch seconds as stored in `etlTime`: from an entry, a TSV timestamp or a datetime."""
    if isinstance(entry_or_tstamp, ManifestEntry):
        return entry_or_tstamp.etl_time
    if isinstance(entry_or_tstamp, datetime):
        moment = entry_or_tstamp
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return calendar.timegm(moment.utctimetuple())
    return etl_seconds(entry_or_tstamp)


def ttl(etl_time_seconds: int) -> int:
    """The manifest item's `ttl`: DynamoDB deletes it 180 days after the ETL run."""
    return etl_time_seconds + TTL_SECONDS
