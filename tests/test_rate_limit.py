"""The AIMD limiter: silent until throttled, then cut by 30 % per burst, growing back linearly."""

from __future__ import annotations

import threading
import uuid

import pytest

from devkit.fault_proxy import FaultProxy
from populator.core.manifest import EventsManifest
from populator.core.retry import RetryPolicy
from populator.core.write.fast_put import FastPutSender
from populator.core.write.rate_limit import AdaptiveRateLimiter
from populator.core.write.writer import write_items


class Clock:
    """Deterministic time: `sleep` advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def limiter_at(rate_per_second: float, clock: Clock) -> AdaptiveRateLimiter:
    """A limiter that has seen one second of successes at the given rate."""
    limiter = AdaptiveRateLimiter(increase=10.0, clock=clock, sleep=clock.sleep)
    for _ in range(int(rate_per_second)):
        limiter.on_success()
        clock.now += 1.0 / rate_per_second
    return limiter


def test_it_does_not_limit_until_throttled_after_two_successes() -> None:
    clock = Clock()
    limiter = AdaptiveRateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(100):
        limiter.acquire()
    limiter.on_throttle(clock.now)  # nothing measured yet: backoff alone paces the partition
    assert limiter.rate is None and clock.slept == 0.0


def test_a_throttle_cuts_the_measured_rate_by_30_percent_and_paces_requests() -> None:
    clock = Clock()
    limiter = limiter_at(100, clock)

    limiter.on_throttle(clock.now)

    assert limiter.rate == pytest.approx(70, rel=0.05)
    starts = [limiter.acquire() for _ in range(8)]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(gap == pytest.approx(1 / 70, rel=0.05) for gap in gaps)


def test_throttles_of_requests_sent_before_the_cut_count_once() -> None:
    clock = Clock()
    limiter = limiter_at(100, clock)
    in_flight = [limiter.acquire() for _ in range(5)]  # sent before any cut
    clock.now += 0.005  # their answers come back a little later

    for sent in in_flight:
        limiter.on_throttle(sent)
    assert limiter.cuts == 1

    sent = limiter.acquire()  # sent after the cut: its throttle cuts again
    clock.now += 0.005
    limiter.on_throttle(sent)
    assert limiter.cuts == 2
    assert limiter.rate == pytest.approx(100 * 0.7 * 0.7, rel=0.05)


def test_the_rate_grows_back_linearly_and_never_falls_below_the_floor() -> None:
    clock = Clock()
    limiter = limiter_at(100, clock)
    limiter.on_throttle(clock.now)
    rate = limiter.rate
    assert rate is not None

    clock.now += 2.0
    limiter.acquire()
    assert limiter.rate == pytest.approx(rate + 2 * 10.0)

    for _ in range(40):
        sent = limiter.acquire()
        clock.now += 0.005
        limiter.on_throttle(sent)
    assert limiter.rate is not None and limiter.rate >= limiter.min_rate


def test_acquire_is_thread_safe() -> None:
    clock = Clock()
    limiter = limiter_at(50, clock)
    limiter.on_throttle(clock.now)
    lock = threading.Lock()
    starts = []

    def grab() -> None:
        for _ in range(50):
            start = limiter.acquire()
            with lock:
                starts.append(start)

    threads = [threading.Thread(target=grab) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(starts)) == 200  # every request got its own slot


def test_write_items_adapts_to_a_small_table_without_losing_writes(
    moto_endpoint, unique_name
) -> None:
    table = unique_name("manifest")
    with FaultProxy(moto_endpoint, write_capacity=40) as fake:
        client = fake.client()
        EventsManifest(client, table).create()
        sender = FastPutSender(client, table)
        items = [(str(uuid.uuid4()), "FP", 1485388885) for _ in range(150)]
        policy = RetryPolicy(max_attempts=16, base_delay=0.01, max_delay=0.5)

        stats = write_items(items, sender, in_flight=16, policy=policy)

        assert stats.items == stats.new == 150 and stats.failed == 0
        assert stats.throttles > 0  # the first second's burst overshoots, then it paces
        puts = [a for a in fake.arrivals() if a.operation == "PutItem"]
        assert sum(a.outcome == "forward" for a in puts) == 150  # each stored once, none lost
        assert client.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"] == 150
