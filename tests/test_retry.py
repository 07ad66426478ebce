"""The one backoff schedule (core/retry.py) and its users' shapes."""

from __future__ import annotations

import random
from itertools import islice

from populator.core.retry import RetryPolicy, backoff_ceiling, backoff_delays, full_jitter


def test_exact_schedule_without_jitter_is_capped_and_never_below_its_base() -> None:
    assert list(islice(backoff_delays(15, 60, factor=1.5, jitter=False), 6)) == [
        15,
        22.5,
        33.75,
        50.625,
        60,
        60,
    ]
    assert list(islice(backoff_delays(5, 1, jitter=False), 2)) == [5, 5]


def test_full_jitter_stays_under_the_exponential_ceiling() -> None:
    rng = random.Random(1)
    delays = list(islice(backoff_delays(0.05, 5.0, rng=rng), 12))
    assert all(0 <= d <= backoff_ceiling(n, 0.05, 5.0) for n, d in enumerate(delays))
    assert len(set(delays)) == 12  # jittered, not a fixed ladder
    policy = RetryPolicy(base_delay=0.05, max_delay=5.0)
    for attempt in range(1, 20):
        assert 0 <= policy.delay(attempt, rng) <= min(5.0, 0.05 * 2**attempt)
        assert full_jitter(attempt, 0.05, 5.0, rng) <= 5.0
