"""What Spark executors run: read one archive file into keyed records; write one partition.

Records feed a single `reduceByKey`: event keys keep the earliest (etl_time, run), so the
stored etlTime never depends on partitioning or file order; counter keys sum, so the report's
counts are exact even when Spark re-runs a task (only the reduced result is collected).
Cluster code: Python 3.9.
"""

from __future__ import annotations

import base64
import heapq
import json
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from populator.core import aws
from populator.core.events import TTL_SECONDS, MalformedEvent, parse_line
from populator.core.location import parse_location
from populator.core.retry import RetryPolicy
from populator.core.storage_config import StorageConfig
from populator.core.write import fast_put
from populator.core.write.writer import DEFAULT_POLICY, Sender, WriteStats, write_items
from populator.job import sinks
from populator.job.reader import MAX_LINE_BYTES, LineTooLong, ReadError, iter_lines, open_object
from populator.job.zip_finders import forget_zip_finders

COUNT = "\x00count"  # key: (COUNT, run_index, name) -> int
READ_ERROR = "\x00error"  # key: (READ_ERROR, run_index, path) -> message
MAX_BAD_LINE = 1 << 20  # bad rows keep lines whole up to 1 MiB (then cut, and say so)

# Read tasks and write partitions are sized by stored bytes, not by file count: a task per
# file made 2,000 one-event files cost 80x one 2,000-event file (Python worker start-up and
# scheduling per task, then every write batch scanning 2,000 partitions).
READ_TASK_BYTES = 64 << 20  # stored (mostly gzip) bytes per read task
WRITE_PARTITION_BYTES = 32 << 20  # stored bytes behind one write partition (~100k events)
MAX_READ_TASKS = 10000
MAX_WRITE_PARTITIONS = 2000

Record = Tuple[Tuple[Any, ...], Any]


@dataclass(frozen=True)
class FileTask:
    """One archive file to read: its run (index and id), path, path below the run, size."""

    run_index: int
    run_id: str
    path: str
    relative: str
    size: int


def read_groups(files: List[FileTask], parallelism: int) -> List[List[FileTask]]:
    """Files packed into read tasks of about READ_TASK_BYTES each (largest first, onto the
    lightest task), with at least ``2 x parallelism`` tasks when there are that many files."""
    if not files:
        return []
    total = sum(f.size for f in files)
    count = max(min(len(files), 2 * max(1, parallelism)), -(-total // READ_TASK_BYTES))
    count = min(count, len(files), MAX_READ_TASKS)
    heap = [(0, n) for n in range(count)]
    groups: List[List[FileTask]] = [[] for _ in range(count)]
    for task in sorted(files, key=lambda f: (-f.size, f.path)):
        load, n = heapq.heappop(heap)
        groups[n].append(task)
        heapq.heappush(heap, (load + max(task.size, 1), n))
    return [group for group in groups if group]


def write_partition_count(total_bytes: int, parallelism: int) -> int:
    """Write (reduce) partitions for ``total_bytes`` of archive: by data, not by file count."""
    by_data = -(-total_bytes // WRITE_PARTITION_BYTES)
    return max(1, min(MAX_WRITE_PARTITIONS, max(parallelism, by_data)))


@dataclass(frozen=True)
class JobContext:
    """Everything executors need; pickled into each task (holds no secret but the config's)."""

    storage: Dict[str, Any]  # self-describing storage config
    endpoint_url: Optional[str]  # S3 (and DynamoDB unless dynamodb_endpoint_url)
    in_flight: int
    now: int
    skip_expired: bool
    bad_rows: Optional[str]
    retry: RetryPolicy = DEFAULT_POLICY
    dynamodb_endpoint_url: Optional[str] = None
    writer: str = "fast"  # fast_put.FastPutSender, or "boto3" for BotocoreSender
    progress: Optional[Any] = None  # job.progress.ProgressCounters (Spark accumulators)
    task_write_rate: Optional[float] = None  # each write task's share of the write budget


_clients: Dict[str, Any] = {}


def _s3(context: JobContext) -> Any:
    key = f"s3|{context.endpoint_url}"
    if key not in _clients:
        _clients[key] = aws.s3_client(context.endpoint_url, max_pool_connections=4)
    return _clients[key]


def _dynamodb(context: JobContext) -> Any:
    """One client per Python worker, reused across tasks (keeps connections warm)."""
    endpoint = context.dynamodb_endpoint_url or context.endpoint_url
    key = f"ddb|{endpoint}|{context.in_flight}"
    if key not in _clients:
        storage = StorageConfig.from_self_describing(context.storage)
        _clients[key] = aws.dynamodb_client(
            storage, endpoint, max_pool_connections=context.in_flight + 2, retries=False
        )
    return _clients[key]


def _sender(context: JobContext, table: str) -> Sender:
    """One sender per Python worker and table, reused across tasks (its connections too)."""
    endpoint = context.dynamodb_endpoint_url or context.endpoint_url
    key = f"put|{endpoint}|{context.in_flight}|{table}|{context.writer}"
    if key not in _clients:
        _clients[key] = fast_put.manifest_sender(_dynamodb(context), table, context.writer)
    return _clients[key]


def combine(left: Any, right: Any) -> Any:
    """reduceByKey's merge: earliest (etl_time, run) for events, sums for counters."""
    if type(left) is tuple:
        return left if left <= right else right
    if type(left) is int:
        return left + right
    return left  # read error message: keep one


def is_event(record: Record) -> bool:
    return len(record[0]) == 2


def counters_only(records: Iterable[Record], context: JobContext) -> Iterator[Record]:
    """The counter records of a partition; counts its event keys for progress (keys to write)."""
    forget_zip_finders()
    events = 0
    for record in records:
        if is_event(record):
            events += 1
        else:
            yield record
    if context.progress is not None:
        context.progress.add(keys_expected=events)


def read_files(group: Iterable[FileTask], context: JobContext) -> Iterator[Record]:
    """``read_file`` for each file of one read task."""
    forget_zip_finders()
    for task in group:
        yield from read_file(task, context)


def read_file(task: FileTask, context: JobContext) -> Iterator[Record]:
    """Yield ((event_id, fingerprint), (etl_time, run_index)) per good line, then counters."""
    run_index, path = task.run_index, task.path
    counts: Counter = Counter()
    bad = _BadRows(context, task) if context.bad_rows else None
    try:
        stream = open_object(path, lambda: _s3(context))
        for number, raw in enumerate(iter_lines(stream, path), 1):
            counts["lines"] += 1
            if raw.__class__ is LineTooLong:
                counts["malformed:line_too_long"] += 1
                if bad is not None:
                    bad.add_too_long(number, raw.length)  # type: ignore[union-attr]
                continue
            try:
                entry = parse_line(raw.decode("utf-8"))  # type: ignore[union-attr]
            except UnicodeDecodeError:
                counts["malformed:invalid_utf8"] += 1
                if bad is not None:
                    bad.add(number, "invalid_utf8", "line is not valid UTF-8", raw)  # type: ignore[arg-type]
                continue
            except MalformedEvent as error:
                counts["malformed:" + error.reason] += 1
                if bad is not None:
                    bad.add(number, error.reason, error.detail, raw)  # type: ignore[arg-type]
                continue
            yield (entry.event_id, entry.fingerprint), (entry.etl_time, run_index)
    except ReadError as error:
        yield (READ_ERROR, run_index, path), str(error)
    if bad is not None:
        bad.close()
    counts["files"] += 1
    if context.progress is not None:
        context.progress.add(lines=counts["lines"], files=1)
    for name, value in counts.items():
        yield (COUNT, run_index, name), value


def bad_rows_target(bad_rows: str, run_id: str, relative: str) -> str:
    """Where one file's bad rows go: its path below the run, so same-named files in
    different sub-folders keep apart (``<bad-rows>/run=<id>/<sub/part-0.gz>.jsonl``)."""
    folder = parse_location(bad_rows, "--bad-rows").as_folder()
    return folder.join(f"run={run_id}", relative.strip("/") + ".jsonl").uri


class _BadRows:
    """Malformed lines of one input file, as JSON lines at a name derived from that file.

    The name is deterministic, so a retried task replaces its own output instead of adding to it.
    """

    def __init__(self, context: JobContext, task: FileTask) -> None:
        self.context = context
        self.target = bad_rows_target(str(context.bad_rows), task.run_id, task.relative)
        self.path = task.path
        self.handle: Optional[Any] = None
        self.temp = ""

    def _write(self, row: Dict[str, Any]) -> None:
        if self.handle is None:
            fd, self.temp = tempfile.mkstemp(prefix="bad-rows-", suffix=".jsonl")
            self.handle = os.fdopen(fd, "w", encoding="utf-8")
        self.handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def add_too_long(self, number: int, length: int) -> None:
        """An overlong line is not kept (it was never buffered): its size only."""
        detail = f"line of {length} bytes is over the {MAX_LINE_BYTES}-byte limit; skipped"
        self._write(
            {
                "file": self.path,
                "line_number": number,
                "reason": "line_too_long",
                "detail": detail,
                "truncated_from_bytes": length,
            }
        )

    def add(self, number: int, reason: str, detail: str, raw: bytes) -> None:
        row: Dict[str, Any] = {"file": self.path, "line_number": number, "reason": reason}
        if detail:
            row["detail"] = detail
        clipped = raw[:MAX_BAD_LINE]
        if len(raw) > MAX_BAD_LINE:
            row["truncated_from_bytes"] = len(raw)
        try:
            row["line"] = clipped.decode("utf-8")
        except UnicodeDecodeError:
            row["line_base64"] = base64.b64encode(clipped).decode("ascii")
        self._write(row)

    def close(self) -> None:
        if self.handle is None:  # nothing bad: no file (and none left by an earlier attempt)
            return
        self.handle.close()
        try:
            sinks.upload_file(self.target, self.temp, lambda: _s3(self.context))
        except Exception as error:
            cause = sinks.describe(error)
            raise sinks.SinkError(f"cannot write bad rows to {self.target}: {cause}") from None
        finally:
            if os.path.exists(self.temp):
                os.unlink(self.temp)


def write_partition(
    records: Iterable[Record], context: JobContext, table: str
) -> List[Dict[str, int]]:
    """Write a partition's items conditionally; return its counts (one dict) to the driver."""
    forget_zip_finders()
    expired = 0
    started = time.monotonic()

    def items() -> Iterator[Tuple[str, str, int]]:
        nonlocal expired
        for (event_id, fingerprint), (etl_time, _run) in records:
            if context.skip_expired and etl_time + TTL_SECONDS <= context.now:
                expired += 1
                continue
            yield event_id, fingerprint, etl_time

    stats: WriteStats = write_items(
        items(),
        _sender(context, table),
        in_flight=context.in_flight,
        policy=context.retry,
        max_rate=context.task_write_rate,
    )
    result = stats.as_dict()
    result["expired_skipped"] = expired
    result["write_seconds_x1000"] = int((time.monotonic() - started) * 1000)
    if context.progress is not None:
        context.progress.add(
            keys_done=stats.items + expired,
            keys_written=stats.items,
            retries=stats.retries,
            throttles=stats.throttles,
        )
    return [result]
