"""Concurrent conditional writes of manifest items, with counted retries and no silent loss.

One `write_items` call per Spark partition: a bounded number of writes in flight (threads:
the work is network-bound and botocore releases the GIL while waiting), each retried with
full-jitter backoff on throttling and transient errors. A write that still fails stops the
partition with `WriteFailed`, so Spark retries the task; writes are idempotent.
Cluster code: Python 3.9.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from populator.core.manifest import NEW, PRESENT, UNCHANGED, build_put_request, put_outcome
from populator.core.retry import RetryPolicy, error_code, is_retryable, is_throttle
from populator.core.write.budget import TaskPacer
from populator.core.write.rate_limit import AdaptiveRateLimiter

__all__ = ["NEW", "PRESENT", "UNCHANGED", "BotocoreSender", "WriteFailed", "WriteStats"]

Item = Tuple[str, str, int]  # event_id, fingerprint, etl_time seconds
Sender = Callable[[str, str, int], str]


class WriteFailed(Exception):
    """A write failed for good (non-retryable, or out of attempts)."""


@dataclass
class WriteStats:
    items: int = 0
    new: int = 0
    unchanged: int = 0
    already_present: int = 0
    requests: int = 0
    retries: int = 0
    throttles: int = 0
    failed: int = 0

    def add(self, other: WriteStats) -> WriteStats:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))
        return self

    def as_dict(self) -> Dict[str, int]:
        return asdict(self)


class BotocoreSender:
    """PutItem through a boto3 client (its own retries off: `aws.client_config(retries=False)`)."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def __call__(self, event_id: str, fingerprint: str, etl_time: int) -> str:
        request = build_put_request(self.table, event_id, fingerprint, etl_time)
        try:
            answer = self.client.put_item(ReturnValues="ALL_OLD", **request)
        except Exception as error:
            outcome = put_outcome(error_code(error))
            if outcome is None:
                raise
            return outcome
        return str(put_outcome(None, answer))


_DONE = object()
DEFAULT_POLICY = RetryPolicy()


def write_items(
    items: Iterable[Item],
    send: Sender,
    in_flight: int = 32,
    policy: Optional[RetryPolicy] = None,
    sleep: Callable[[float], None] = time.sleep,
    seed: Optional[int] = None,
    adaptive: bool = True,
    max_rate: Optional[float] = None,
) -> WriteStats:
    """Write every item; return the counts, or raise WriteFailed after stopping all threads.

    `adaptive` paces this call's requests with an AIMD rate limiter once the table throttles
    (see populator.core.write.rate_limit and BENCHMARKS.md: it keeps throttled requests and
    retries per write low when many partitions share a small table). `max_rate` caps this
    call's requests per second, retries included (its share of the job's write budget, see
    populator.core.write.budget); the AIMD limiter still works beneath it.
    """
    policy = policy or DEFAULT_POLICY
    in_flight = max(1, int(in_flight))
    # Equal additive steps per partition (one write/s per slot each second): fair shares.
    limiter = AdaptiveRateLimiter(increase=in_flight, sleep=sleep) if adaptive else None
    pacer = TaskPacer(max_rate, sleep=sleep) if max_rate else None
    work: queue.Queue[Any] = queue.Queue(maxsize=in_flight * 4)
    lock = threading.Lock()
    total = WriteStats()
    failure: Dict[str, BaseException] = {}
    stop = threading.Event()

    def worker(worker_seed: Optional[int]) -> None:
        rng = random.Random(worker_seed)
        local = WriteStats()
        try:
            while True:
                item = work.get()
                if item is _DONE:
                    return
                if stop.is_set():
                    continue  # drain so the producer never blocks
                try:
                    outcome = _send_with_retries(
                        item, send, policy, sleep, rng, local, limiter, pacer
                    )
                except BaseException as error:
                    local.failed += 1
                    with lock:
                        failure.setdefault("error", error)
                    stop.set()
                    continue
                local.items += 1
                if outcome == NEW:
                    local.new += 1
                elif outcome == UNCHANGED:
                    local.unchanged += 1
                else:
                    local.already_present += 1
        finally:
            with lock:
                total.add(local)

    threads = [
        threading.Thread(
            target=worker,
            args=(None if seed is None else seed + n,),
            daemon=True,
            name=f"manifest-writer-{n}",
        )
        for n in range(in_flight)
    ]
    for thread in threads:
        thread.start()
    try:
        for item in items:
            if stop.is_set():
                break
            work.put(item)
    finally:
        for _ in threads:
            work.put(_DONE)
        for thread in threads:
            thread.join()
    if "error" in failure:
        error = failure["error"]
        raise WriteFailed(
            f"a manifest write failed after {policy.max_attempts} attempts at most "
            f"({error_code(error)}: {_short(error)}); {total.items} items were written "
            "by this task before it stopped"
        ) from error
    return total


def _send_with_retries(
    item: Item,
    send: Sender,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    rng: random.Random,
    stats: WriteStats,
    limiter: Optional[AdaptiveRateLimiter] = None,
    pacer: Optional[TaskPacer] = None,
) -> str:
    attempt = 0
    while True:
        attempt += 1
        sent = limiter.acquire() if limiter is not None else 0.0
        if pacer is not None:
            pacer.acquire()  # last, so the bucket's spacing is the spacing on the wire
        stats.requests += 1
        try:
            outcome = send(*item)
        except Exception as error:
            throttled = is_throttle(error)
            if throttled and limiter is not None:
                limiter.on_throttle(sent)
            if attempt >= policy.max_attempts or not is_retryable(error):
                raise
            stats.retries += 1
            if throttled:
                stats.throttles += 1
            sleep(policy.delay(attempt, rng))
        else:
            if limiter is not None:
                limiter.on_success()
            return outcome


def _short(error: BaseException) -> str:
    text = str(error).replace("\n", " ")
    return text if len(text) <= 300 else text[:297] + "..."
