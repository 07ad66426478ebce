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
    ids=["gz", "gzip", "snowplow-name-gz", "plain", "multi-member"],  # gzip bodies hold a time
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


# --- issue 10 items 13 and 21: bounded lines, foreign formats --------------------------------

import bz2  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import zlib  # noqa: E402

from populator.job.reader import MAX_LINE_BYTES, LineTooLong  # noqa: E402


def test_an_overlong_line_is_skipped_to_the_next_newline(tmp_path: Path) -> None:
    path = tmp_path / "part-00000"
    path.write_bytes(b"first\n" + b"x" * 5000 + b"\nlast\n")
    lines = list(iter_lines(open_object(str(path), lambda: None), str(path), max_line=100))
    assert lines[0] == b"first\n" and lines[2] == b"last\n"
    assert isinstance(lines[1], LineTooLong) and lines[1].length == 5001
    assert MAX_LINE_BYTES >= 1 << 20  # documented bound, at least a real event's size


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (bz2.compress(b"\n".join(line.encode() for line in LINES)), "bzip2"),
        (gzip.compress(bz2.compress(b"line\n" * 100)), "bzip2"),
        (bytes(range(256)) * 40, "binary"),
        (b"PK\x03\x04" + b"\x00" * 100, "zip"),
    ],
    ids=["bzip2-named-gz", "gzip-of-bzip2", "binary", "zip"],
)
def test_a_file_neither_gzip_nor_text_is_a_read_error(tmp_path: Path, body: bytes, kind: str):
    path = tmp_path / "part-00000.gz"
    path.write_bytes(body)
    with pytest.raises(ReadError, match=rf"part-00000\.gz: .*{kind} data, not gzip nor text"):
        read_all(str(path))


_BOMB_READER = """
import sys
from populator.job.reader import LineTooLong, iter_lines, open_object
path = sys.argv[1]
lines = too_long = longest = 0
for line in iter_lines(open_object(path, lambda: None), path):
    lines += 1
    if isinstance(line, LineTooLong):
        too_long += 1
        longest = line.length
# VmHWM, not ru_maxrss: getrusage keeps the forked parent's peak across exec (pytest's).
peak = next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(lines, too_long, longest, peak)
"""


def test_a_gzip_bomb_does_not_grow_the_reader(tmp_path: Path) -> None:
    """One 256 MiB line (about 250 KB gzipped) between two real lines: counted, never buffered."""
    size, chunk = 256 << 20, b"x" * (1 << 20)
    path = tmp_path / "bomb.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with open(path, "wb") as out:
        out.write(packer.compress(b"before\n"))
        for _ in range(size // len(chunk)):
            out.write(packer.compress(chunk))
        out.write(packer.compress(b"\nafter\n"))
        out.write(packer.flush())
    assert path.stat().st_size < 2 << 20
    done = subprocess.run(
        [sys.executable, "-c", _BOMB_READER, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    lines, too_long, longest, max_rss_kib = (int(n) for n in done.stdout.split())
    assert (lines, too_long, longest) == (3, 1, size + 1)
    assert max_rss_kib < 120 * 1024, f"reader grew to {max_rss_kib // 1024} MiB"
