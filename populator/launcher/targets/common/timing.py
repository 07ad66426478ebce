"""How the targets' watch loops poll and say how long it has been (pure)."""

from __future__ import annotations

from typing import Iterator

from populator.core import retry

__all__ = ["BACKOFF", "backoff_delays", "format_elapsed"]

BACKOFF = 1.5


def format_elapsed(seconds: float) -> str:
    total = int(seconds)
    return f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}"


def backoff_delays(first: float, cap: float) -> Iterator[float]:
    """first, x1.5, … up to `cap`, without jitter (one launcher polls one job)."""
    return retry.backoff_delays(first, cap, factor=BACKOFF, jitter=False)
