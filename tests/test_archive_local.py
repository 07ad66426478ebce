"""Archive listing in local directories: run folders, file:// URIs, relative paths,
``since``, what is skipped and why, and the message for an archive without runs."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Callable

import pytest

from populator.core.archive import (
    ArchiveFile,
    Skipped,
    list_run_files,
    list_runs,
    no_runs_problem,
)
from tests.support.archive_objects import T0, run_name

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
