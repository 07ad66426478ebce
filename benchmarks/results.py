"""What a benchmark hands back: rows for the results table and markdown details."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class Row:
    """One line of the results table: what was compared, the ratio, the target, the verdict."""

    item: str
    measured: str  # both sides, side by side
    ratio: str
    target: str
    met: Optional[bool]  # None: informational, no target
    note: str = ""  # by how much and why, when missed; what it means otherwise

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "info"
        return "met" if self.met else "**missed**"


@dataclass
class Section:
    """One benchmark: its rows plus the raw numbers behind them."""

    number: int
    title: str
    rows: List[Row] = field(default_factory=list)
    details: List[str] = field(default_factory=list)  # markdown lines
    facts: dict = field(default_factory=dict)  # numbers later benchmarks reuse


def fmt(value: float, digits: int = 0) -> str:
    """Thousands separators; `digits` decimals."""
    return f"{value:,.{digits}f}"


def times(ratio: float) -> str:
    return f"{ratio:.2f}x"


def percent(ratio: float) -> str:
    return f"{ratio * 100:.0f} %"


def spread(values: List[float], digits: int = 2) -> str:
    """min to max of repeated measurements, to show how steady a figure was."""
    if not values:
        return "n/a"
    return f"{min(values):.{digits}f} to {max(values):.{digits}f}"
