"""``--since`` parsing: the two UTC formats, and a loud error for everything else."""

from __future__ import annotations

import inspect
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from populator.core import since as since_module
from populator.core.since import parse_since

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-04-30", datetime(2017, 4, 30, tzinfo=UTC)),
        ("2017-04-30-12-30-00", datetime(2017, 4, 30, 12, 30, tzinfo=UTC)),
        ("2017-01-26-00-01-25", datetime(2017, 1, 26, 0, 1, 25, tzinfo=UTC)),
        ("2016-02-29", datetime(2016, 2, 29, tzinfo=UTC)),  # leap day
        ("2000-02-29-23-59-59", datetime(2000, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ("2017-12-31-23-59-59", datetime(2017, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("0001-01-01", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31-23-59-59", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_valid(text: str, expected: datetime) -> None:
    parsed = parse_since(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(" ", id="space"),
        pytest.param("\t\n", id="whitespace-only"),
        pytest.param("2017/04/30", id="slashes"),
        pytest.param("2017.04.30", id="dots"),
        pytest.param("20170430", id="no-separators"),
        pytest.param("2017-4-30", id="unpadded-month"),
        pytest.param("2017-04-3", id="unpadded-day"),
        pytest.param("17-04-30", id="two-digit-year"),
        pytest.param("+2017-04-30", id="sign"),
        pytest.param("2017-13-01", id="month-13"),
        pytest.param("2017-00-10", id="month-0"),
        pytest.param("2017-04-00", id="day-0"),
        pytest.param("2017-02-29", id="not-a-leap-year"),
        pytest.param("2017-04-31", id="april-31"),
        pytest.param("0000-01-01", id="year-0"),
        pytest.param("2017-04-30-24-00-00", id="hour-24"),
        pytest.param("2017-04-30-12-60-00", id="minute-60"),
        pytest.param("2017-04-30-12-30-60", id="leap-second"),
        pytest.param("2017-04-30-12-30-61", id="second-61"),
        pytest.param("2017-04-30-12", id="hour-only"),
        pytest.param("2017-04-30-12-30", id="no-seconds"),
        pytest.param("2017-04-30-1-2-3", id="unpadded-time"),
        pytest.param("2017-04-30T12:30:00", id="iso-8601"),
        pytest.param("2017-04-30 12:30:00", id="sql-timestamp"),
        pytest.param("2017-04-30-12-30-00Z", id="zone-suffix"),
        pytest.param("2017-04-30-12-30-00.5", id="fraction"),
        pytest.param("2017-04-30x", id="trailing-junk"),
        pytest.param("2017-04-30-", id="trailing-dash"),
        pytest.param(" 2017-04-30", id="leading-space"),
        pytest.param("2017-04-30 ", id="trailing-space"),
        pytest.param("2017-04-30\n", id="trailing-newline"),
        pytest.param("run=2017-04-30-12-30-00", id="run-prefix"),
        pytest.param("1493555400", id="epoch-seconds"),
        pytest.param("\u0662\u0660\u0661\u0667-04-30", id="non-ascii-digits"),
        pytest.param("\uff12\uff10\uff11\uff17-04-30", id="fullwidth-digits"),
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_since(text)
    message = str(raised.value)
    assert repr(text) in message
    assert "YYYY-MM-DD" in message and "YYYY-MM-DD-HH-MM-SS" in message


def test_error_message_is_exact() -> None:
    with pytest.raises(ValueError) as raised:
        parse_since("2017/04/30")
    assert str(raised.value) == (
        "--since '2017/04/30' is not a date: expected YYYY-MM-DD or YYYY-MM-DD-HH-MM-SS (UTC), "
        "e.g. 2017-04-30 or 2017-04-30-12-30-00"
    )


def test_impossible_date_error_hides_the_internal_cause() -> None:
    with pytest.raises(ValueError) as raised:
        parse_since("2017-02-30")
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_since(None)  # type: ignore[arg-type]


def test_never_uses_the_epoch_directive() -> None:
    """The original launcher's bug: the lowercase-s strftime directive."""
    assert "%" + "s" not in inspect.getsource(since_module)


_instants = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))


@given(_instants)
def test_precise_round_trip(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}-"
        f"{moment.hour:02d}-{moment.minute:02d}-{moment.second:02d}"
    )
    assert parse_since(text) == moment.replace(tzinfo=UTC)


@given(st.dates())
def test_date_round_trip(day: date) -> None:
    text = f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
    assert parse_since(text) == datetime(day.year, day.month, day.day, tzinfo=UTC)


@given(st.text(alphabet="0123456789-/: Tx\n", max_size=24))
def test_any_text_parses_to_utc_or_raises_value_error(text: str) -> None:
    try:
        parsed = parse_since(text)
    except ValueError as error:
        assert repr(text) in str(error)
    else:
        assert parsed.tzinfo is UTC
        assert len(text) in (10, 19)
