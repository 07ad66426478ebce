"""A generated corpus of hostile and broken enriched lines, each with what must become of it.

Every case is bytes (as read from an archive) plus the expected outcome: the manifest triple a
correct parser extracts, or the reason it is refused. Kept small enough for the test suite;
`corpus(scale=…)` grows the random parts for the slow reliability run.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import List, Optional, Tuple

from devkit.enriched_lines import make_line
from populator.job.reader import MAX_LINE_BYTES

EID = "1799a90f-f570-4414-b91a-b0db8f39cc2e"
ETL = "2026-11-01 08:46:40.000"
ETL_SECONDS = 1793522800  # 2026-11-01 08:46:40 UTC
FP = "bed9a39a0917874d2ff072033a6413d9"


@dataclass(frozen=True)
class Case:
    name: str
    line: bytes
    reason: Optional[str]  # None: valid
    triple: Optional[Tuple[str, str, int]] = None  # what must be stored when valid


def _b(text: str) -> bytes:
    return text.encode("utf-8")


def corpus(seed: int = 1, scale: int = 1) -> List[Case]:
    rng = random.Random(seed)
    cases: List[Case] = [
        Case("valid", _b(make_line(EID, ETL, FP)), None, (EID, FP, ETL_SECONDS)),
        Case("valid_130_fields", _b(make_line(EID, ETL, FP, 130)), None, (EID, FP, ETL_SECONDS)),
        Case("crlf", _b(make_line(EID, ETL, FP) + "\r"), None, (EID, FP, ETL_SECONDS)),
        Case("empty", b"", "field_count"),
        Case("whitespace", b"   ", "field_count"),
        Case("tabs_only", b"\t" * 130, "bad_event_id"),
        Case("one_field", b"x", "field_count"),
        Case("129_fields", _b(make_line(EID, ETL, FP, 129)), "field_count"),
        Case("132_fields", _b(make_line(EID, ETL, FP, 132)), "field_count"),
        Case("500_fields", _b("\t".join(["a"] * 500)), "field_count"),
        Case(
            "invalid_utf8",
            _b(make_line(EID, ETL, FP)).replace(b"Reading", b"R\xffading"),
            "invalid_utf8",
        ),
        Case(
            "overlong_utf8",
            _b(make_line(EID, ETL, FP)).replace(b"GB", b"\xc0\xafB"),
            "invalid_utf8",
        ),
        Case(
            "nul_in_unused_field",
            _b(make_line(EID, ETL, FP, overrides={30: "a\x00b"})),
            None,
            (EID, FP, ETL_SECONDS),
        ),
        Case("nul_in_event_id", _b(make_line(EID[:-1] + "\x00", ETL, FP)), "bad_event_id"),
        Case("nul_in_tstamp", _b(make_line(EID, ETL[:-1] + "\x00", FP)), "bad_etl_tstamp"),
        Case(
            "one_megabyte_line",
            _b(make_line(EID, ETL, FP, overrides={52: "x" * (1 << 20)})),
            None,
            (EID, FP, ETL_SECONDS),
        ),
        Case(
            "line_over_the_limit",
            _b(make_line(EID, ETL, FP, overrides={52: "x" * MAX_LINE_BYTES})),
            "line_too_long",
        ),
        Case("upper_case_uuid", _b(make_line(EID.upper(), ETL, FP)), None, (EID, FP, ETL_SECONDS)),
        Case("braced_uuid", _b(make_line("{" + EID + "}", ETL, FP)), "bad_event_id"),
        Case("urn_uuid", _b(make_line("urn:uuid:" + EID, ETL, FP)), "bad_event_id"),
        Case(
            "uuid_no_dashes", _b(make_line(EID.replace("-", "") + "abcd", ETL, FP)), "bad_event_id"
        ),
        Case("uuid_unicode_digits", _b(make_line("\u0661" * 8 + EID[8:], ETL, FP)), "bad_event_id"),
        Case("tz_offset", _b(make_line(EID, ETL + "+02:00", FP)), "bad_etl_tstamp"),
        Case("tz_name", _b(make_line(EID, ETL + " UTC", FP)), "bad_etl_tstamp"),
        Case("leap_second", _b(make_line(EID, "2016-12-31 23:59:60.000", FP)), "bad_etl_tstamp"),
        Case(
            "year_0001",
            _b(make_line(EID, "0001-01-01 00:00:00.000", FP)),
            "etl_tstamp_out_of_range",
        ),
        Case(
            "year_9999",
            _b(make_line(EID, "9999-12-31 23:59:59.999", FP)),
            "etl_tstamp_out_of_range",
        ),
        Case("epoch_number", _b(make_line(EID, "1485388885", FP)), "bad_etl_tstamp"),
        Case(
            "unicode_digits_tstamp", _b(make_line(EID, "٢٠١٧-01-26 00:01:25", FP)), "bad_etl_tstamp"
        ),
        Case("no_fingerprint", _b(make_line(EID, ETL, "")), "no_fingerprint"),
        Case(
            "fingerprint_1024_bytes",
            _b(make_line(EID, ETL, "f" * 1024)),
            None,
            (EID, "f" * 1024, ETL_SECONDS),
        ),
        Case("fingerprint_1025_bytes", _b(make_line(EID, ETL, "f" * 1025)), "fingerprint_too_long"),
        Case(
            "fingerprint_multibyte_over", _b(make_line(EID, ETL, "€" * 342)), "fingerprint_too_long"
        ),
        Case(
            "unicode_fingerprint",
            _b(make_line(EID, ETL, "ƒïñgérprïnt")),
            None,
            (EID, "ƒïñgérprïnt", ETL_SECONDS),
        ),
    ]
    for number in range(20 * scale):
        size = rng.choice([1, 10, 200, 5000])
        garbage = bytes(rng.getrandbits(8) for _ in range(size)).replace(b"\n", b" ")
        cases.append(Case(f"garbage_{number}", garbage, _garbage_reason(garbage)))
    for number in range(10 * scale):
        event_id = str(uuid.UUID(int=rng.getrandbits(128)))
        fingerprint = uuid.UUID(int=rng.getrandbits(128)).hex
        cases.append(
            Case(
                f"random_valid_{number}",
                _b(make_line(event_id, ETL, fingerprint)),
                None,
                (event_id, fingerprint, ETL_SECONDS),
            )
        )
    return cases


def _garbage_reason(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8"
    return "field_count" if text.count("\t") not in (129, 130) else "bad_event_id"
