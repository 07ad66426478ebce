"""Archive listing: run ids, data files, Glacier, ``since``, pagination (moto over HTTP)."""

from __future__ import annotations

import math
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from populator.core.archive import (
    GLACIER_CLASSES,
    ArchiveFile,
    Run,
    archive_is_s3,
    format_run_id,
    is_data_file,
    list_run_files,
    list_runs,
    parse_run_id,
)

UTC = timezone.utc
T0 = datetime(2017, 1, 26, 0, 1, 25, tzinfo=UTC)
FAT_FILES = 1005  # files in the big archive's oldest run: more than one S3 page


def run_name(moment: datetime) -> str:
    return "run=" + format_run_id(moment)


def put(s3: Any, bucket: str, key: str, body: bytes = b"x", storage_class: Optional[str] = None):
    extra = {"StorageClass": storage_class} if storage_class else {}
    s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)


def count_list_calls(s3: Any) -> List[Dict[str, Any]]:
    """Record ListObjectsV2 requests made through ``s3`` (observing, not replacing, boto3)."""
    calls: List[Dict[str, Any]] = []

    def record(params: Dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    s3.meta.events.register("provide-client-params.s3.ListObjectsV2", record)
    return calls


# --- run ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("run=2017-01-26-00-01-25", datetime(2017, 1, 26, 0, 1, 25, tzinfo=UTC)),
        ("2017-01-26-00-01-25", datetime(2017, 1, 26, 0, 1, 25, tzinfo=UTC)),
        ("run=2016-02-29-23-59-59", datetime(2016, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ("run=2017-13-45-00-00-00", None),
        ("run=2017-02-29-00-00-00", None),
        ("run=2017-01-26-24-00-00", None),
        ("run=2017-01-26-00-60-00", None),
        ("run=2017-01-26-00-01-61", None),
        ("run=2017-01-26-00-01-60", None),
        ("run=2017-01-26-00-01", None),
        ("run=2017-01-26", None),
        ("run=", None),
        ("", None),
        ("run=2017-01-26-00-01-25/", None),
        ("run=2017-01-26-00-01-25x", None),
        ("run=2017-01-26-00-01-25_$folder$", None),
        ("run=2017-1-26-00-01-25", None),
        (" run=2017-01-26-00-01-25", None),
        ("nur=2017-01-26-00-01-25", None),  # lstrip('run=') accepted this
        ("RUN=2017-01-26-00-01-25", None),
        ("run=run=2017-01-26-00-01-25", None),
        ("run=2017-01-26T00:01:25", None),
        ("run=\u0662017-01-26-00-01-25", None),
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


# --- S3 -------------------------------------------------------------------------------------


def test_only_valid_run_folders_directly_under_the_archive(s3: Any, bucket: str) -> None:
    archive = f"s3://{bucket}/enriched/archive/"
    good = [T0, T0 + timedelta(hours=1), T0 + timedelta(days=400)]
    for moment in reversed(good):
        put(s3, bucket, f"enriched/archive/{run_name(moment)}/part-00000.gz")
    junk = [
        "enriched/archive/run=2017-13-45-00-00-00/part-00000.gz",
        "enriched/archive/run=2017-01-26-00-01-61/part-00000.gz",
        "enriched/archive/run=2017-01-26-00-01/part-00000.gz",
        "enriched/archive/run=2017-01-26-00-01-25x/part-00000.gz",
        "enriched/archive/run=2017-01-26-00-01-25",  # loose object named like a run
        "enriched/archive/run=2017-01-26-00-01-25_$folder$",
        "enriched/archive/nur=2017-01-26-00-01-25/part-00000.gz",
        "enriched/archive/2017-01-26-00-01-25/part-00000.gz",
        "enriched/archive/other/run=2017-01-26-00-01-25/part-00000.gz",
        "enriched/archive/notes.txt",
        "enriched/archive-old/run=2017-01-26-00-01-25/part-00000.gz",
        "enriched/run=2017-01-26-00-01-25/part-00000.gz",
        "run=2017-01-26-00-01-25/part-00000.gz",
    ]
    for key in junk:
        put(s3, bucket, key)

    runs = list_runs(archive, s3)

    assert [run.started for run in runs] == good
    first = runs[0]
    assert first == Run(
        run_id="2017-01-26-00-01-25",
        started=T0,
        prefix="enriched/archive/run=2017-01-26-00-01-25/",
        uri=f"s3://{bucket}/enriched/archive/run=2017-01-26-00-01-25/",
        files=(
            ArchiveFile(
                f"s3://{bucket}/enriched/archive/run=2017-01-26-00-01-25/part-00000.gz",
                1,
                "STANDARD",
            ),
        ),
        glacier=False,
    )


def test_markers_hidden_and_empty_objects_are_not_data(s3: Any, bucket: str) -> None:
    run = f"archive/{run_name(T0)}/"
    put(s3, bucket, run, b"")  # folder marker
    put(s3, bucket, run + "_SUCCESS", b"")
    put(s3, bucket, run + "_$folder$", b"")
    put(s3, bucket, run + "sub_$folder$", b"")
    put(s3, bucket, run + "sub/", b"")
    put(s3, bucket, run + ".part-00000.gz.crc", b"crc")
    put(s3, bucket, run + "_temporary/0/part-00009.gz", b"partial")
    put(s3, bucket, run + "empty.gz", b"")
    put(s3, bucket, run + "part-00000.gz", b"12345")
    put(s3, bucket, run + "part-00001.gzip", b"123")
    put(s3, bucket, run + "sub/1485388885-uuid.gz", b"1234567")
    only_success = f"archive/{run_name(T0 + timedelta(hours=1))}/"
    put(s3, bucket, only_success + "_SUCCESS", b"")

    runs = list_runs(f"s3://{bucket}/archive", s3)

    assert [run.run_id for run in runs] == [
        format_run_id(T0),
        format_run_id(T0 + timedelta(hours=1)),
    ]
    assert [(f.path.rsplit("/", 2)[-2:], f.size) for f in runs[0].files] == [
        (["run=2017-01-26-00-01-25", "part-00000.gz"], 5),
        (["run=2017-01-26-00-01-25", "part-00001.gzip"], 3),
        (["sub", "1485388885-uuid.gz"], 7),
    ]
    assert runs[0].bytes == 15
    # A finished run with nothing to read is still a run.
    assert runs[1].files == () and runs[1].bytes == 0 and not runs[1].glacier


def test_glacier_runs_are_flagged(s3: Any, bucket: str) -> None:
    layout = {
        T0: [("part-0.gz", "STANDARD")],
        T0 + timedelta(hours=1): [("part-0.gz", "STANDARD"), ("part-1.gz", "GLACIER")],
        T0 + timedelta(hours=2): [("part-0.gz", "DEEP_ARCHIVE")],
        T0 + timedelta(hours=3): [("part-0.gz", "GLACIER_IR"), ("part-1.gz", "STANDARD_IA")],
        T0 + timedelta(hours=4): [("_SUCCESS", "GLACIER"), ("part-0.gz", "STANDARD")],
    }
    for moment, objects in layout.items():
        for name, storage_class in objects:
            body = b"" if name == "_SUCCESS" else b"data"
            put(s3, bucket, f"{run_name(moment)}/{name}", body, storage_class)

    runs = list_runs(f"s3a://{bucket}", s3)

    assert [run.glacier for run in runs] == [False, True, True, False, False]
    assert [[f.storage_class for f in run.files] for run in runs] == [
        ["STANDARD"],
        ["STANDARD", "GLACIER"],
        ["DEEP_ARCHIVE"],
        ["GLACIER_IR", "STANDARD_IA"],
        ["STANDARD"],
    ]
    assert {"GLACIER", "DEEP_ARCHIVE"} == GLACIER_CLASSES
    # Bucket-root archive: run-manifest ids are the bare run folders, URIs use s3://.
    assert runs[0].prefix == f"{run_name(T0)}/"
    assert runs[0].uri == f"s3://{bucket}/{run_name(T0)}/"


def test_since_boundary(s3: Any, bucket: str) -> None:
    moments = [T0 + timedelta(seconds=s) for s in (-1, 0, 1)] + [T0 + timedelta(days=1)]
    for moment in moments:
        put(s3, bucket, f"a/{run_name(moment)}/part-0.gz")
    archive = f"s3://{bucket}/a/"

    def started(since: Optional[datetime], page_size: int = 1000) -> List[datetime]:
        return [r.started for r in list_runs(archive, s3, since, page_size=page_size)]

    assert started(None) == moments
    assert started(T0) == moments[1:]  # a run exactly at since is included
    assert started(T0, page_size=1) == moments[1:]
    assert started(T0 + timedelta(microseconds=1)) == moments[2:]
    assert started(T0 - timedelta(microseconds=1)) == moments[1:]
    assert started(T0.replace(tzinfo=None)) == moments[1:]  # naive = UTC
    assert started(T0.astimezone(timezone(timedelta(hours=-5)))) == moments[1:]
    assert started(T0 + timedelta(days=2)) == []
    assert started(datetime(1970, 1, 1, tzinfo=UTC)) == moments


def test_many_files_per_run_across_pages(s3: Any, bucket: str) -> None:
    """Pages end in the middle of runs; every file lands in its run."""
    layout = {T0 + timedelta(hours=h): 11 + h for h in range(4)}
    for moment, count in layout.items():
        put(s3, bucket, f"x/{run_name(moment)}/_SUCCESS", b"")
        for i in range(count):
            put(s3, bucket, f"x/{run_name(moment)}/part-{i:05d}.gz", b"x" * (i + 1))
    for page_size in (1, 3, 7, 1000):
        runs = list_runs(f"s3://{bucket}/x/", s3, page_size=page_size)
        assert [len(run.files) for run in runs] == list(layout.values())
        assert [run.bytes for run in runs] == [n * (n + 1) // 2 for n in layout.values()]
    files = list_run_files(runs[2].uri, s3, page_size=4)
    assert files == runs[2].files


def seed_objects(s3: Any, bucket: str, keys: List[str]) -> None:
    """Create many one-byte objects fast.

    ThreadedMotoServer serves from this process's moto backend, so the objects go straight
    into it (1,000 PUTs over HTTP take 5-10 s); the test then lists them over HTTP as usual.
    Falls back to PutObject when the backend is not in this process.
    """
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        backend.get_bucket(bucket)
    except Exception:  # not moto's in-process server: use the API
        for key in keys:
            put(s3, bucket, key)
        return
    for key in keys:
        backend.put_object(bucket, key, b"x")


@pytest.fixture(scope="module")
def big_archive(moto_endpoint: str) -> Iterator[Any]:
    """1,002 runs (more than a full S3 page of them): the oldest holds 1,005 files and a
    ``_SUCCESS``, the others one file each; plus a bad-date run and an unrelated folder."""
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    name = f"big-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    fat = T0 - timedelta(hours=1)
    moments = [T0 + timedelta(hours=i, seconds=i % 60) for i in range(1001)]
    keys = [f"enriched/archive/{run_name(fat)}/part-{i:05d}.gz" for i in range(FAT_FILES)]
    keys += [f"enriched/archive/{run_name(m)}/part-00000.gz" for m in moments]
    seed_objects(s3, name, keys)
    put(s3, name, f"enriched/archive/{run_name(fat)}/_SUCCESS", b"")
    put(s3, name, "enriched/archive/run=2017-13-45-00-00-00/part-00000.gz")
    put(s3, name, "enriched/archive/zzz/part-00000.gz")
    yield s3, name, [fat, *moments]


def test_more_than_1000_runs(big_archive: Any) -> None:
    s3, name, moments = big_archive
    calls = count_list_calls(s3)
    runs = list_runs(f"s3n://{name}/enriched/archive", s3, page_size=97)
    assert [run.started for run in runs] == moments
    assert [len(run.files) for run in runs] == [FAT_FILES] + [1] * 1001
    assert len({f.path for f in runs[0].files}) == FAT_FILES
    assert len({run.prefix for run in runs}) == 1002
    # Every key under run= once, in pages of 97; the unrelated folder is never listed.
    keys_under_runs = FAT_FILES + 1 + 1001 + 1
    assert len(calls) == math.ceil(keys_under_runs / 97)
    assert all(call["Prefix"] == "enriched/archive/run=" for call in calls)
    assert calls[0]["MaxKeys"] == 97


def test_more_than_1000_runs_with_full_pages(big_archive: Any) -> None:
    s3, name, moments = big_archive
    runs = list_runs(f"s3://{name}/enriched/archive/", s3)
    assert [run.started for run in runs] == moments
    assert sum(len(run.files) for run in runs) == FAT_FILES + 1001


def test_since_skips_earlier_runs_without_listing_them(big_archive: Any) -> None:
    s3, name, moments = big_archive
    calls = count_list_calls(s3)
    since = moments[991]
    runs = list_runs(f"s3://{name}/enriched/archive/", s3, since, page_size=5)
    assert [run.started for run in runs] == moments[991:]
    assert len(calls) == 3  # 11 runs (+ the bad-date folder) in pages of 5
    assert calls[0]["StartAfter"] == f"enriched/archive/{run_name(since)}"
    assert "ContinuationToken" in calls[1]  # boto3's paginator; S3 then ignores StartAfter


def test_list_runs_needs_a_client_for_s3() -> None:
    with pytest.raises(ValueError, match="s3_client"):
        list_runs("s3://bucket/archive/")


def test_list_runs_rejects_malformed_s3_uris(s3: Any) -> None:
    with pytest.raises(ValueError, match="bucket name"):
        list_runs("s3://Bad_Bucket/archive/", s3)
    with pytest.raises(ValueError, match=r"'\.\.'"):
        list_runs("s3://bucket/a/../archive/", s3)


def test_missing_bucket_is_an_error(s3: Any, unique_name: Callable[[str], str]) -> None:
    with pytest.raises(s3.exceptions.NoSuchBucket):
        list_runs(f"s3://{unique_name('missing')}/archive/", s3)


@pytest.mark.parametrize(
    ("archive", "expected"),
    [
        ("s3://b-1/x", True),
        ("s3a://b-1/x", True),
        ("s3n://b-1/x", True),
        ("s3://Bad_Bucket/x", True),
        ("file:///tmp/x", False),
        ("/tmp/x", False),
        ("relative/dir", False),
    ],
)
def test_archive_is_s3(archive: str, expected: bool) -> None:
    assert archive_is_s3(archive) is expected


# --- local directories ----------------------------------------------------------------------


def write(path: Path, body: bytes = b"data") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


@pytest.fixture
def local_archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    for hours in (2, 0, 1):
        run = root / run_name(T0 + timedelta(hours=hours))
        write(run / "part-00000.gz", b"x" * (hours + 1))
        write(run / "_SUCCESS", b"")
    run0 = root / run_name(T0)
    write(run0 / "empty.gz", b"")
    write(run0 / ".part-00000.gz.crc")
    write(run0 / "_temporary" / "0" / "part-00001.gz")
    write(run0 / "sub" / "part-00002.gz", b"abc")
    write(run0 / "sub_$folder$", b"")
    write(root / "run=2017-13-45-00-00-00" / "part-00000.gz")
    write(root / "other" / run_name(T0) / "part-00000.gz")
    write(root / "run=2017-01-26-00-01-25.txt")  # a loose file named like a run
    write(root / "notes.txt")
    return root


def test_local_directory(local_archive: Path) -> None:
    runs = list_runs(str(local_archive))
    assert [run.started for run in runs] == [T0 + timedelta(hours=h) for h in range(3)]
    first = runs[0]
    run_dir = f"{local_archive}/{run_name(T0)}/"
    assert first.prefix == first.uri == run_dir
    assert first.run_id == "2017-01-26-00-01-25"
    assert first.files == (
        ArchiveFile(run_dir + "part-00000.gz", 1, "STANDARD"),
        ArchiveFile(run_dir + "sub/part-00002.gz", 3, "STANDARD"),
    )
    assert not any(run.glacier for run in runs)
    assert [run.bytes for run in runs] == [4, 2, 3]
    assert list_run_files(run_dir) == first.files
    assert list_run_files("file://" + run_dir) == first.files


@pytest.mark.parametrize(
    "spell", [lambda p: f"file://{p}", lambda p: f"file:{p}", lambda p: f"file://localhost{p}/"]
)
def test_local_file_uris(local_archive: Path, spell: Callable[[Path], str]) -> None:
    assert list_runs(spell(local_archive)) == list_runs(str(local_archive))


def test_local_relative_path_and_since(
    local_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(local_archive.parent)
    runs = list_runs("archive", since=T0 + timedelta(hours=1))
    assert [run.started for run in runs] == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert all(os.path.isabs(run.prefix) and run.prefix.endswith("/") for run in runs)


def test_local_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list_runs(str(tmp_path / "missing"))
    write(tmp_path / "file")
    with pytest.raises(FileNotFoundError):
        list_runs(str(tmp_path / "file"))
    with pytest.raises(ValueError, match="unsupported"):
        list_runs("hdfs://namenode/archive/")
    with pytest.raises(ValueError, match="another host"):
        list_runs("file://otherhost/archive/")
    assert list_runs(str(tmp_path)) == []


# --- issue 10 items 20 and 21 -----------------------------------------------------------------

from populator.core.archive import Skipped, no_runs_problem  # noqa: E402


def test_local_runs_report_what_they_skip(tmp_path: Path) -> None:
    run = tmp_path / "archive" / run_name(T0)
    write(run / "part-00000.gz")
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "elsewhere" / "part-00009.gz")
    (run / "linked").symlink_to(tmp_path / "elsewhere")
    (run / "dangling.gz").symlink_to(tmp_path / "missing.gz")
    os.mkfifo(run / "pipe.gz")
    (run / "file-link.gz").symlink_to(tmp_path / "elsewhere" / "part-00009.gz")
    (run_only,) = list_runs(str(tmp_path / "archive"))
    assert [f.path for f in run_only.files] == [
        str(run / "file-link.gz"),
        str(run / "part-00000.gz"),
    ]
    assert run_only.skipped == (
        Skipped(str(run / "dangling.gz"), "dangling_link"),
        Skipped(str(run / "linked"), "symlinked_folder"),
        Skipped(str(run / "pipe.gz"), "not_a_regular_file"),
    )


def test_no_runs_problem_names_the_mistake(s3, bucket, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key=f"archive/{run_name(T0)}/part-00000.gz", Body=b"x")
    assert no_runs_problem(f"s3://{bucket}/archive/", s3) is None
    single = no_runs_problem(f"s3://{bucket}/archive/{run_name(T0)}/", s3)
    assert "is a run folder itself" in single and f"s3://{bucket}/archive/ " in single
    assert "(the bucket root)" in no_runs_problem(f"S3://{bucket}", s3)
    assert "holds no run=" in no_runs_problem(f"s3://{bucket}/nothing-here/", s3)
    write(tmp_path / "a" / run_name(T0) / "part-00000.gz")
    assert no_runs_problem(str(tmp_path / "a")) is None
    assert "is a run folder itself" in no_runs_problem(str(tmp_path / "a" / run_name(T0)))
    assert "holds no run=" in no_runs_problem(f"file://{tmp_path}")
