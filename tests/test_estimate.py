"""The backfill estimate: events from bytes (measured or default, always with its basis)."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone

import pytest

from populator.launcher import estimate as est

LINE = b"x" * 999 + b"\n"  # 1,000 bytes per event


def test_uncompressed_whole_file() -> None:
    sample = est.measure_sample(LINE * 10, "/a/part-0", whole_file=True)
    assert sample == est.Sample("/a/part-0", False, 10_000.0, 10)
    assert sample is not None and sample.bytes_per_event == 1000.0
    unterminated = est.measure_sample(LINE * 2 + b"last", "f", whole_file=True)
    assert unterminated is not None and unterminated.events == 3


def test_truncated_head_counts_complete_lines_only() -> None:
    head = (LINE * 5)[:4500]  # 4 complete lines, half of the fifth
    sample = est.measure_sample(head, "f", whole_file=False)
    assert sample == est.Sample("f", False, 4000.0, 4)


def test_gzip_detected_by_magic_not_extension_and_truncated() -> None:
    body = gzip.compress(LINE * 2000)
    head = body[: len(body) // 2]
    sample = est.measure_sample(head, "s3://b/run=1/part-0.gzip", whole_file=False)
    assert sample is not None and sample.compressed
    assert 0 < sample.events < 2000
    # Stored bytes per event: compressed size / events, within a line's rounding.
    assert sample.bytes_per_event == pytest.approx(len(body) / 2000, rel=0.05)


def test_multi_member_gzip() -> None:
    body = gzip.compress(LINE * 3) + gzip.compress(LINE * 4)
    sample = est.measure_sample(body, "f", whole_file=True)
    assert sample is not None and sample.events == 7 and sample.stored_bytes == len(body)


@pytest.mark.parametrize("data", [b"", b"no newline in a cut head", b"\x1f\x8bcorrupt"])
def test_nothing_to_measure(data: bytes) -> None:
    assert est.measure_sample(data, "f", whole_file=False) is None


def test_estimate_from_a_sample() -> None:
    sample = est.Sample("s3://b/run=x/part-0.gz", True, 250_000.0, 1000)
    result = est.estimate(2_500_000_000, sample, write_capacity=500)
    assert result.bytes_per_event == 250.0
    assert result.events == result.writes == 10_000_000
    assert result.cost_usd == 6.25
    assert result.seconds == 20_000.0 and result.write_capacity == 500
    assert result.basis == (
        "measured on 244.1 KiB of s3://b/run=x/part-0.gz (gzip): 1,000 events, 250 bytes/event"
    )


def test_estimate_default_basis_is_said() -> None:
    result = est.estimate(est.DEFAULT_BYTES_PER_EVENT * 4_000_000, None)
    assert result.events == 4_000_000 and result.cost_usd == 2.5 and result.seconds == 4000.0
    assert result.basis.startswith(f"default {est.DEFAULT_BYTES_PER_EVENT} bytes/event")
    assert est.estimate(0, None).events == 0
    with pytest.raises(ValueError):
        est.estimate(1, None, write_capacity=0)


def test_expiry_is_180_days_after_the_run() -> None:
    now = datetime(2024, 7, 1, tzinfo=timezone.utc)
    assert est.is_expired(now - timedelta(days=181), now)
    assert est.is_expired(now - timedelta(days=180), now)
    assert not est.is_expired(now - timedelta(days=179, hours=23), now)


def test_human_units() -> None:
    assert est.human_bytes(0) == "0 B" and est.human_bytes(1023) == "1023 B"
    assert est.human_bytes(1536) == "1.5 KiB" and est.human_bytes(5 * 1024**4) == "5.0 TiB"
    assert est.human_duration(42) == "42s" and est.human_duration(4000) == "1h 06m 40s"
    assert est.human_duration(125) == "2m 05s" and est.human_duration(90061) == "1d 01h 01m"


def test_many_files_cost_time_of_their_own() -> None:
    one = est.estimate(1_000_000, None, 1000, files=1)
    many = est.estimate(1_000_000, None, 1000, files=100_000)
    assert many.events == one.events and many.cost_usd == one.cost_usd
    assert many.seconds - one.seconds == pytest.approx(99_999 * est.PER_FILE_SECONDS / est.READERS)
    assert many.file_seconds == round(100_000 * est.PER_FILE_SECONDS / est.READERS, 3)
