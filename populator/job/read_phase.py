"""The read phase both methods share: list files -> read tasks sized by bytes -> parse ->
one reduceByKey (earliest etl time per key, counters summed) persisted on disk; the report's
read counters come from the counter records. Cluster code: Python 3.9.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

from populator.core.archive import Run
from populator.job.backfill import Backfill
from populator.job.partitions import (
    COUNT,
    READ_ERROR,
    FileTask,
    combine,
    counters_only,
    read_files,
    read_groups,
    write_partition_count,
)

Log = Callable[[str], None]


def read_archive(job: Backfill) -> Tuple[Any, Dict[int, List[str]]]:
    """The one reduce both methods share: (persisted reduced RDD or None, read errors by run);
    fills the report's read counters."""
    runs, context, report = job.runs, job.context, job.report
    files = [
        FileTask(index, run.run_id, f.path, relative_path(f.path, run.uri), f.size)
        for index, run in enumerate(runs)
        for f in run.files
    ]
    sc = job.spark.sparkContext
    reduced = None
    if files:
        total = sum(f.size for f in files)
        partitions = job.options.partitions or write_partition_count(total, sc.defaultParallelism)
        if context.task_write_rate is not None:  # at least one partition per write task
            partitions = max(partitions, report["write_budget"]["write_tasks"])
        groups = read_groups(files, sc.defaultParallelism)
        reduced = (
            sc.parallelize(groups, len(groups))
            .flatMap(lambda group: read_files(group, context))
            .reduceByKey(combine, numPartitions=partitions)
        )
        reduced.persist(storage_level())
        sc.setJobDescription("read, parse and deduplicate the archive")
        try:
            counters = reduced.mapPartitions(lambda rs: counters_only(rs, context)).collect()
        except Exception as error:  # e.g. the bad-rows destination refused a write
            raise RuntimeError(f"reading the archive failed: {cause(error)}") from None
    else:
        counters = []
    job.progress.read_done()

    errors_by_run = count_into_report(counters, runs, report, job.log)
    return reduced, errors_by_run



def count_into_report(
    counters: List[Any], runs: List[Run], report: Dict[str, Any], log: Log
) -> Dict[int, List[str]]:
    """Fold the read phase's counters into the report; the read errors by run index."""
    errors_by_run: Dict[int, List[str]] = {}
    for key, value in counters:
        kind, run_index, name = key
        if kind == READ_ERROR:
            errors_by_run.setdefault(run_index, []).append(name)
            report["read_errors"].append(
                {"run": runs[run_index].run_id, "path": name, "error": value}
            )
        elif kind == COUNT:
            if name == "lines":
                report["lines_read"] += value
            elif name == "files":
                report["files_read"] += value
            elif name.startswith("malformed:"):
                reason = name.split(":", 1)[1]
                report["malformed"][reason] = report["malformed"].get(reason, 0) + value
    valid = report["lines_read"] - sum(report["malformed"].values())
    report["valid_events"] = valid
    report["read_errors"].sort(key=lambda e: e["path"])
    for error in report["read_errors"]:
        log(f"error: {error['path']}: {error['error']}")

    return errors_by_run



def relative_path(path: str, run_uri: str) -> str:
    """A file's path below its run folder (bad rows keep it, so same names stay apart)."""
    return path[len(run_uri) :] if path.startswith(run_uri) else path.rsplit("/", 1)[-1]



def storage_level() -> Any:
    """On disk: the deduplicated data is re-read once per batch; memory stays flat."""
    from pyspark import StorageLevel

    return StorageLevel.DISK_ONLY



def cause(error: BaseException) -> str:
    """The Python exception a task died of, without the JVM stack around it."""
    text = str(error)
    markers = ("WriteFailed: ", "ReadError: ", "ManifestTableError: ", "SinkError: ")
    for marker in markers:
        if marker in text:
            return text.split(marker, 1)[1].split("\n", 1)[0]
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:500] if lines else type(error).__name__


