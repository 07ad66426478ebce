"""Read tasks and write partitions follow the data's bytes, not the file count (issue 10 #14)."""

from __future__ import annotations

from populator.job.partitions import (
    MAX_WRITE_PARTITIONS,
    READ_TASK_BYTES,
    WRITE_PARTITION_BYTES,
    FileTask,
    read_groups,
    write_partition_count,
)


def _files(count: int, size: int) -> list:
    return [
        FileTask(0, "r", f"/a/run=r/part-{n:05d}.gz", f"part-{n:05d}.gz", size)
        for n in range(count)
    ]


def test_many_small_files_share_a_few_read_tasks() -> None:
    groups = read_groups(_files(2000, 300), parallelism=2)
    assert len(groups) == 4  # 2 x parallelism, not 2,000
    assert sorted(len(g) for g in groups) == [500] * 4
    assert sorted(t.path for g in groups for t in g) == sorted(f.path for f in _files(2000, 300))


def test_big_files_get_tasks_by_bytes_and_balance() -> None:
    files = _files(10, 2 * READ_TASK_BYTES) + _files(3, 10)
    groups = read_groups(files, parallelism=2)
    assert len(groups) == 13  # ~20 tasks' worth of bytes, capped at one task per file
    assert read_groups([], 2) == []
    assert len(read_groups(_files(1, 5), 8)) == 1


def test_write_partitions_by_bytes() -> None:
    assert write_partition_count(2000 * 300, parallelism=2) == 2  # 2,000 tiny files
    assert write_partition_count(10 * WRITE_PARTITION_BYTES, parallelism=2) == 10
    assert write_partition_count(10**15, parallelism=2) == MAX_WRITE_PARTITIONS
