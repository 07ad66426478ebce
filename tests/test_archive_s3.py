"""Archive listing on S3 (moto over HTTP): run folders, data files, Glacier, ``since``,
pagination past 1,000 runs and 1,000 files, and bad locations."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional

import boto3
import pytest

from populator.core.archive import (
    GLACIER_CLASSES,
    ArchiveFile,
    Run,
    archive_is_s3,
    format_run_id,
    list_run_files,
    list_runs,
)
from tests.support.archive_objects import T0, UTC, put, run_name
from tests.support.locations import S3_SCHEME_CASES

FAT_FILES = 1005  # files in the big archive's oldest run: more than one S3 page


def count_list_calls(s3: Any) -> List[Dict[str, Any]]:
    """Record ListObjectsV2 requests made through ``s3`` (observing, not replacing, boto3)."""
    calls: List[Dict[str, Any]] = []

    def record(params: Dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    s3.meta.events.register("provide-client-params.s3.ListObjectsV2", record)
    return calls


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


@pytest.mark.parametrize(("archive", "expected"), S3_SCHEME_CASES)
def test_archive_is_s3(archive: str, expected: bool) -> None:
    assert archive_is_s3(archive) is expected
