"""Archive objects are streamed whole or reported with their path: never silently cut."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from devkit.jobs import storage_config
from devkit.sample_archive import gz
from populator.job.partitions import COUNT, READ_ERROR, FileTask, JobContext, read_file
from populator.job.reader import ReadError, iter_lines, open_object

LINES = [f"line {n}" for n in range(2000)]


def read_all(path: str, s3=None) -> list:
    return [line.decode().rstrip("\n") for line in iter_lines(open_object(path, lambda: s3), path)]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("part-00000.gz", gz(LINES)),
        ("part-00000.gzip", gz(LINES)),  # pre-R83: Spark's reader would not decompress it
        ("2017-01-26-000125-0b5e5f2c-5a2f-4c55-9b1a-b0db8f39cc2e.gz", gz(LINES)),
        ("part-00000", "\n".join(LINES).encode() + b"\n"),  # plain text, no extension
        (
            "part-00000.txt.gz",
            gzip.compress(b"\n".join(line.encode() for line in LINES[:1000]) + b"\n")
            + gzip.compress(b"\n".join(line.encode() for line in LINES[1000:]) + b"\n"),
        ),  # multi-member
    ],
)
def test_gzip_is_detected_by_magic_bytes_locally_and_on_s3(tmp_path: Path, s3, bucket, name, body):
    (tmp_path / name).write_bytes(body)
    assert read_all(str(tmp_path / name)) == LINES
    assert read_all(f"file://{tmp_path / name}") == LINES
    s3.put_object(Bucket=bucket, Key=f"run/{name}", Body=body)
    assert read_all(f"s3://{bucket}/run/{name}", s3) == LINES
    assert read_all(f"s3a://{bucket}/run/{name}", s3) == LINES


@pytest.mark.parametrize(
    "body",
    [
        gz(LINES)[: len(gz(LINES)) // 2],
        gz(LINES)[:10] + b"\x00" * 200,
        b"\x1f\x8b" + b"garbage" * 9,
    ],
    ids=["truncated", "corrupt", "bad-header"],
)
def test_broken_gzip_raises_read_error_naming_the_object(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "part-00000.gz"
    path.write_bytes(body)
    with pytest.raises(ReadError, match=r"part-00000\.gz"):
        read_all(str(path))


def test_missing_objects_are_read_errors(tmp_path: Path, s3, bucket) -> None:
    with pytest.raises(ReadError, match="NoSuchKey"):
        read_all(f"s3://{bucket}/gone/part-00000.gz", s3)
    with pytest.raises(ReadError, match="cannot read"):
        read_all(str(tmp_path / "gone.gz"))


def test_an_object_gone_between_listing_and_reading_is_reported_not_fatal(s3, bucket) -> None:
    """The executor's view: the driver listed the file, it vanished before the task ran."""
    path = f"s3://{bucket}/archive/run=2026-11-01-00-00-00/part-00000.gz"
    context = JobContext(
        storage=storage_config("t"),
        endpoint_url=None,
        in_flight=1,
        now=0,
        skip_expired=True,
        bad_rows=None,
    )
    task = FileTask(3, "2026-11-01-00-00-00", path, "part-00000.gz", 10)
    records = list(read_file(task, context))
    assert records[0][0] == (READ_ERROR, 3, path) and "NoSuchKey" in records[0][1]
    assert ((COUNT, 3, "files"), 1) in records
