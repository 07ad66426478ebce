"""Archive names: run ids (parsed, formatted, ordered) and which file names are data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from populator.core.archive import (
    format_run_id,
    is_data_file,
    parse_run_id,
)
from tests.support.archive_objects import UTC

# --- run ids --------------------------------------------------------------------------------


NOT_RUN_IDS = [  # each parses as None
    "run=2017-13-45-00-00-00",
    "run=2017-02-29-00-00-00",
    "run=2017-01-26-24-00-00",
    "run=2017-01-26-00-60-00",
    "run=2017-01-26-00-01-61",
    "run=2017-01-26-00-01-60",
    "run=2017-01-26-00-01",
    "run=2017-01-26",
    "run=",
    "",
    "run=2017-01-26-00-01-25/",
    "run=2017-01-26-00-01-25x",
    "run=2017-01-26-00-01-25_$folder$",
    "run=2017-1-26-00-01-25",
    " run=2017-01-26-00-01-25",
    "nur=2017-01-26-00-01-25",  # lstrip('run=') accepted this
    "RUN=2017-01-26-00-01-25",
    "run=run=2017-01-26-00-01-25",
    "run=2017-01-26T00:01:25",
    "run=\u0662017-01-26-00-01-25",
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("run=2017-01-26-00-01-25", datetime(2017, 1, 26, 0, 1, 25, tzinfo=UTC)),
        ("2017-01-26-00-01-25", datetime(2017, 1, 26, 0, 1, 25, tzinfo=UTC)),
        ("run=2016-02-29-23-59-59", datetime(2016, 2, 29, 23, 59, 59, tzinfo=UTC)),
        *((name, None) for name in NOT_RUN_IDS),
    ],
)
def test_parse_run_id(name: str, expected: Optional[datetime]) -> None:
    assert parse_run_id(name) == expected


def test_parse_run_id_non_string() -> None:
    assert parse_run_id(None) is None  # type: ignore[arg-type]


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_run_id_round_trip(moment: datetime) -> None:
    utc = moment.replace(tzinfo=UTC)
    run_id = format_run_id(utc)
    assert parse_run_id(run_id) == utc.replace(microsecond=0)
    assert parse_run_id("run=" + run_id) == utc.replace(microsecond=0)
    assert format_run_id(moment) == run_id  # naive means UTC


def test_format_run_id_converts_to_utc() -> None:
    paris = timezone(timedelta(hours=2))
    assert format_run_id(datetime(2017, 1, 26, 2, 1, 25, tzinfo=paris)) == "2017-01-26-00-01-25"
    assert format_run_id(datetime(17, 1, 2, 3, 4, 5)) == "0017-01-02-03-04-05"


@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
)
def test_run_ids_sort_like_time(a: datetime, b: datetime) -> None:
    """The StartAfter shortcut relies on this."""
    a, b = a.replace(microsecond=0), b.replace(microsecond=0)
    assert (format_run_id(a) < format_run_id(b)) == (a < b)


# --- data files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "size", "data"),
    [
        ("part-00000.gz", 10, True),
        ("part-00000", 10, True),
        ("1485388885-3b7f8c6e.gz", 10, True),
        ("part-00000.gzip", 10, True),
        ("sub/part-00000.gz", 10, True),
        ("part_1.gz", 10, True),
        ("_SUCCESS", 0, False),
        ("_SUCCESS", 10, False),
        ("_logs/history", 10, False),
        ("_temporary/0/part-00000", 10, False),
        (".part-00000.crc", 10, False),
        ("sub/.hidden", 10, False),
        ("part-00000.gz", 0, False),
        ("", 0, False),
        ("sub/", 0, False),
        ("sub/", 10, False),
        ("sub_$folder$", 0, False),
        ("sub_$folder$", 10, False),
    ],
)
def test_is_data_file(relative: str, size: int, data: bool) -> None:
    assert is_data_file(relative, size) is data
