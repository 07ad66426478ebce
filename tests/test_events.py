"""parse_line: table-driven over real-looking 131- and 130-field lines and every bad class."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from devkit.enriched_lines import EVENT_FINGERPRINT, EVENT_ID, make_line
from populator.core.events import (
    TTL_SECONDS,
    MalformedEvent,
    ManifestEntry,
    etl_seconds,
    etl_time,
    parse_line,
    ttl,
)

EID = "1799a90f-f570-4414-b91a-b0db8f39cc2e"
FP = "bed9a39a0917874d2ff072033a6413d9"


def test_parses_the_triple_from_a_131_field_line() -> None:
    line = make_line(EID, "2016-11-27 08:46:40.000", FP)
    assert len(line.split("\t")) == 131
    entry = parse_line(line)
    assert entry == ManifestEntry(EID, FP, "2016-11-27 08:46:40.000", 1480236400)
    assert isinstance(entry, tuple)
    with pytest.raises(AttributeError):
        entry.event_id = "x"  # type: ignore[misc]


def test_parses_a_130_field_line_where_the_fingerprint_is_last() -> None:
    entry = parse_line(make_line(EID, "2016-11-27 08:46:40.000", FP, field_count=130))
    assert (entry.event_id, entry.fingerprint) == (EID, FP)


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_tolerates_line_endings(ending: str) -> None:
    assert parse_line(make_line(EID, "2016-11-27 08:46:40.000", FP) + ending).fingerprint == FP


def test_trailing_empty_true_tstamp_is_normal() -> None:
    line = make_line(EID, "2016-11-27 08:46:40.000", FP)
    assert line.endswith(FP + "\t")
    assert parse_line(line).fingerprint == FP


def test_fingerprint_is_read_from_column_129_not_a_neighbour() -> None:
    line = make_line(EID, "2017-01-26 00:01:25.292", "FP129", overrides={128: "x", 130: "tt"})
    assert parse_line(line).fingerprint == "FP129"


@pytest.mark.parametrize(
    ("tstamp", "seconds"),
    [
        ("2017-01-26 00:01:25.292", 1485388885),
        ("2017-01-26 00:01:25", 1485388885),
        ("2017-01-26 00:01:25.9", 1485388885),
        ("2017-01-26 00:01:25.292123", 1485388885),
        ("2017-01-26 00:01:25.292123456", 1485388885),
        ("2017-01-26T00:01:25.292Z", 1485388885),
        ("2013-11-26 00:02:05", 1385424125),
    ],
)
def test_timestamps_are_lenient_and_utc(tstamp: str, seconds: int) -> None:
    assert etl_seconds(tstamp) == seconds
    assert parse_line(make_line(EID, tstamp, FP)).etl_time == seconds


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "field_count"),
        ("a\tb\tc", "field_count"),
        (make_line(EID, "2016-11-27 08:46:40.000", FP, field_count=129), "field_count"),
        (make_line(EID, "2016-11-27 08:46:40.000", FP, field_count=132), "field_count"),
        (make_line("not-a-uuid", "2016-11-27 08:46:40.000", FP), "bad_event_id"),
        (make_line("{" + EID[1:-1] + "}", "2016-11-27 08:46:40.000", FP), "bad_event_id"),
        (make_line(EID.replace("-", "x"), "2016-11-27 08:46:40.000", FP), "bad_event_id"),
        (make_line("g" + EID[1:], "2016-11-27 08:46:40.000", FP), "bad_event_id"),
        (make_line("", "2016-11-27 08:46:40.000", FP), "bad_event_id"),
        (make_line(EID, "", FP), "bad_etl_tstamp"),
        (make_line(EID, "2016-13-27 08:46:40.000", FP), "bad_etl_tstamp"),
        (make_line(EID, "2016-12-31 23:59:60.000", FP), "bad_etl_tstamp"),
        (make_line(EID, "2016-11-27 08:46:40.000+02:00", FP), "bad_etl_tstamp"),
        (make_line(EID, "2016-11-27 08:46:40.", FP), "bad_etl_tstamp"),
        (make_line(EID, "27/11/2016 08:46:40", FP), "bad_etl_tstamp"),
        (make_line(EID, "0001-01-01 00:00:00.000", FP), "etl_tstamp_out_of_range"),
        (make_line(EID, "9999-12-31 23:59:59.999", FP), "etl_tstamp_out_of_range"),
        (make_line(EID, "2016-11-27 08:46:40.000", ""), "no_fingerprint"),
        (make_line(EID, "2016-11-27 08:46:40.000", "f" * 1025), "fingerprint_too_long"),
        (make_line(EID, "2016-11-27 08:46:40.000", "é" * 600), "fingerprint_too_long"),
    ],
)
def test_malformed_lines_raise_with_a_reason(line: str, reason: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_line(line)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)


def test_upper_case_event_ids_are_canonicalised_as_the_shredder_does() -> None:
    assert parse_line(make_line(EID.upper(), "2016-11-27 08:46:40.000", FP)).event_id == EID


def test_fingerprint_of_exactly_1024_bytes_is_accepted() -> None:
    assert (
        len(parse_line(make_line(EID, "2016-11-27 08:46:40.000", "f" * 1024)).fingerprint) == 1024
    )


def test_reference_conversions() -> None:
    entry = parse_line(
        make_line(
            "c6ef3124-b53a-4b13-a233-0088f79dcbcb",
            "2017-01-26 00:01:25.292",
            "AADCE520E20C2899F4CED228A79A3083",
        )
    )
    assert etl_time(entry) == 1485388885
    assert ttl(etl_time(entry)) == 1500940885
    assert etl_time("2017-01-26 00:01:25.292") == 1485388885
    assert etl_time(datetime(2017, 1, 26, 0, 1, 25, 292000, tzinfo=timezone.utc)) == 1485388885
    assert etl_time(datetime(2017, 1, 26, 0, 1, 25)) == 1485388885
    assert TTL_SECONDS == 15_552_000


def test_columns_match_the_reference() -> None:
    assert (EVENT_ID, EVENT_FINGERPRINT) == (6, 129)


def test_a_last_line_ending_in_a_bare_cr_keeps_the_fingerprint_clean() -> None:
    uuid = "1799a90f-f570-4414-b91a-b0db8f39cc2e"
    entry = parse_line(make_line(uuid, "2026-11-01 08:46:40.000", "abc") + "\r")
    assert entry.fingerprint == "abc"
