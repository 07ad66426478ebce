"""Exponential backoff with full jitter, and which AWS errors deserve a retry.

Pure and small (after mrjob's retry.py): the writer owns the loop so it can count retries and
throttles for the report; botocore's own retries are switched off for manifest writes.
Cluster code: Python 3.9, standard library only (botocore errors are recognised by shape).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
    }
)
TRANSIENT_CODES = frozenset(
    {"InternalServerError", "InternalFailure", "ServiceUnavailable", "RequestTimeout"}
)
_TRANSIENT_EXCEPTION_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "ConnectionError",
        "ProxyConnectionError",
        "IncompleteReadError",
        "ResponseStreamingError",
        "ProtocolError",
        "ConnectionResetError",
        "BrokenPipeError",
        "RemoteDisconnected",
        "TimeoutError",
        "socket.timeout",
        "ChecksumError",  # a response garbled in transit (x-amz-crc32); botocore retries it too
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """How long a write may keep trying before the task fails (and Spark retries it)."""

    max_attempts: int = 16
    base_delay: float = 0.05
    max_delay: float = 5.0

    def delay(self, attempt: int, rng: Optional[random.Random] = None) -> float:
        return full_jitter(attempt, self.base_delay, self.max_delay, rng)


def backoff_ceiling(attempt: int, base: float, cap: float, factor: float = 2.0) -> float:
    """base * factor^attempt, capped at `cap` (never below `base`)."""
    return min(max(cap, base), base * (factor ** min(attempt, 60)))


def full_jitter(
    attempt: int, base: float, cap: float, rng: Optional[random.Random] = None
) -> float:
    """Sleep before retry number `attempt` (1-based): uniform in [0, min(cap, base * 2^attempt)].

    Full jitter spreads retrying writers apart, which avoids the synchronised retry storms that
    equal-jitter and fixed backoff cause against a throttled table.
    """
    return (rng or random).uniform(0.0, backoff_ceiling(attempt, base, cap))


def backoff_delays(
    base: float,
    cap: float,
    factor: float = 2.0,
    jitter: bool = True,
    rng: Optional[random.Random] = None,
) -> Iterator[float]:
    """The one backoff schedule: base * factor^n for n = 0, 1, ..., capped, full jitter or not.

    Jitter is for many clients contending for one resource (writes, batch reads); a single
    poller of a slow state (the EMR step waiter) asks for `jitter=False` and exact intervals.
    """
    attempt = 0
    while True:
        ceiling = backoff_ceiling(attempt, base, cap, factor)
        yield (rng or random).uniform(0.0, ceiling) if jitter else ceiling
        attempt += 1


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError, else the exception's class name."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(error).__name__


def http_status(error: BaseException) -> Optional[int]:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    return None


def is_throttle(error: BaseException) -> bool:
    return error_code(error) in THROTTLE_CODES


def is_retryable(error: BaseException) -> bool:
    """Throttling, 5xx and connection-level failures are retried; everything else is final."""
    if is_throttle(error) or error_code(error) in TRANSIENT_CODES:
        return True
    status = http_status(error)
    if status is not None and status >= 500:
        return True
    return any(cls.__name__ in _TRANSIENT_EXCEPTION_NAMES for cls in type(error).__mro__)


def call_with_retries(
    operation: Callable[[], object],
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    on_retry: Optional[Callable[[BaseException, int], None]] = None,
    rng: Optional[random.Random] = None,
) -> object:
    """Run `operation` until it succeeds, fails for good, or runs out of attempts."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return operation()
        except Exception as error:
            if attempt >= policy.max_attempts or not is_retryable(error):
                raise
            if on_retry is not None:
                on_retry(error, attempt)
            sleep(policy.delay(attempt, rng))
