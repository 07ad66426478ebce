"""The backfill's progress object: counts, rates, percent and ETA, as JSON and as one line.

The Spark driver builds one `Progress` per publish (job/progress.py); the launcher reads the
JSON back (launcher/progress_view.py). Field names are a contract (docs/progress.md): add
fields, never rename them; `version` changes only when a field's meaning changes.

ETA rules (`Estimator`): percent and ETA are about the current phase (reading: files;
writing: keys), computed from that phase's measured rate over a sliding window; unknown
(`None`) until the phase has at least one interval and some work done, and again once its
measured work is all done while the phase goes on; recomputed at each publish, so a stall
makes the ETA grow (or become unknown), never freeze at a number; never negative.
Cluster code: Python 3.9, pure (no I/O).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Deque, Dict, List, Optional, Tuple

VERSION = 1
PHASES = ("listing", "reading", "writing", "importing", "done", "failed")
FINAL_PHASES = ("done", "failed")
WINDOW_SECONDS = 300.0  # the ETA's rate is measured over the last five minutes of the phase


@dataclass(frozen=True)
class Counts:
    """A done/total pair; `total` is None while unknown."""

    done: int = 0
    total: Optional[int] = None


@dataclass(frozen=True)
class Progress:
    """One published snapshot (the JSON object, see `to_dict`)."""

    phase: str = "listing"
    status: str = "running"  # running | succeeded | failed
    batch: Optional[Counts] = None  # writing batch k/n
    runs: Counts = field(default_factory=Counts)
    files: Counts = field(default_factory=Counts)
    lines_read: int = 0
    keys_done: int = 0  # distinct keys handled: written, or skipped as expired
    keys_written: int = 0  # conditional writes that succeeded (new, unchanged, present)
    keys_expected: Optional[int] = None  # distinct keys to handle (known after reading)
    retries: int = 0
    throttles: int = 0
    writes_per_second: Optional[float] = None  # over the last interval
    lines_per_second: Optional[float] = None  # over the last interval
    percent: Optional[float] = None  # of the current phase
    eta_seconds: Optional[float] = None  # to the end of the current phase
    started_at: str = ""
    updated_at: str = ""
    elapsed_seconds: float = 0.0
    sequence: int = 0  # publishes so far: a reader can tell a stale object
    message: Optional[str] = None  # the failure's cause when phase is failed

    @property
    def label(self) -> str:
        """`writing batch 2/5`, or the phase's name."""
        if self.phase == "writing" and self.batch is not None and self.batch.total:
            return f"writing batch {self.batch.done}/{self.batch.total}"
        return self.phase

    def to_dict(self) -> Dict[str, Any]:
        return {
            "version": VERSION,
            "phase": self.phase,
            "phase_label": self.label,
            "status": self.status,
            "batch": None
            if self.batch is None
            else {"number": self.batch.done, "total": self.batch.total},
            "runs": asdict(self.runs),
            "files": asdict(self.files),
            "lines_read": self.lines_read,
            "keys": {
                "done": self.keys_done,
                "written": self.keys_written,
                "expected": self.keys_expected,
            },
            "retries": self.retries,
            "throttles": self.throttles,
            "writes_per_second": self.writes_per_second,
            "lines_per_second": self.lines_per_second,
            "percent": self.percent,
            "eta_seconds": self.eta_seconds,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "elapsed_seconds": self.elapsed_seconds,
            "sequence": self.sequence,
            "message": self.message,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True) + "\n"


def _counts(value: Any) -> Counts:
    value = value if isinstance(value, dict) else {}
    total = value.get("total")
    return Counts(
        _int(value.get("done", value.get("number"))), None if total is None else _int(total)
    )


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _num(value: Any) -> Optional[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def from_dict(document: Dict[str, Any]) -> Progress:
    """Read a published object back, tolerating missing or extra fields (newer writers)."""
    keys = document.get("keys") if isinstance(document.get("keys"), dict) else {}
    batch = document.get("batch")
    expected = keys.get("expected")
    return Progress(
        phase=str(document.get("phase") or "listing"),
        status=str(document.get("status") or "running"),
        batch=_counts(batch) if isinstance(batch, dict) else None,
        runs=_counts(document.get("runs")),
        files=_counts(document.get("files")),
        lines_read=_int(document.get("lines_read")),
        keys_done=_int(keys.get("done")),
        keys_written=_int(keys.get("written")),
        keys_expected=None if expected is None else _int(expected),
        retries=_int(document.get("retries")),
        throttles=_int(document.get("throttles")),
        writes_per_second=_num(document.get("writes_per_second")),
        lines_per_second=_num(document.get("lines_per_second")),
        percent=_num(document.get("percent")),
        eta_seconds=_num(document.get("eta_seconds")),
        started_at=str(document.get("started_at") or ""),
        updated_at=str(document.get("updated_at") or ""),
        elapsed_seconds=_num(document.get("elapsed_seconds")) or 0.0,
        sequence=_int(document.get("sequence")),
        message=document.get("message") if isinstance(document.get("message"), str) else None,
    )


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Estimator:
    """The current phase's rate over a sliding window, hence its percent and ETA.

    Feed it `observe(phase, now, done, total)` at each publish: a new phase starts a new
    window (rates of another phase say nothing about this one).
    """

    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self.window = window
        self.phase: Optional[str] = None
        self.samples: Deque[Tuple[float, int]] = deque()

    def observe(
        self, phase: str, now: float, done: int, total: Optional[int]
    ) -> Tuple[Optional[float], Optional[float]]:
        """(percent, eta_seconds) of the phase; None where there is not enough to go on."""
        if phase != self.phase:
            self.phase = phase
            self.samples.clear()
        self.samples.append((now, done))
        # Keep the newest sample at or before the window's start, so the window spans it all.
        while len(self.samples) > 2 and self.samples[1][0] <= now - self.window:
            self.samples.popleft()
        if phase in FINAL_PHASES:
            return (100.0 if phase == "done" else None), (0.0 if phase == "done" else None)
        if total is None:
            return None, None
        percent = round(min(100.0, max(0.0, 100.0 * done / total)), 1) if total > 0 else 100.0
        return percent, self._eta(done, total)

    def rate(self) -> Optional[float]:
        """Work per second over the window; None before one interval or any work."""
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        if t1 <= t0:
            return None
        return max(0.0, (d1 - d0) / (t1 - t0))

    def _eta(self, done: int, total: int) -> Optional[float]:
        remaining = max(0, total - done)
        if remaining == 0:
            # The measured work is all done but the phase goes on (the shuffle after the last
            # file, the run manifest after the last write): how long is not measured.
            return None
        rate = self.rate()
        if not rate:
            return None  # stalled over the whole window, or nothing yet: unknown
        return round(max(0.0, remaining / rate), 1)


def interval_rate(previous: Optional[Tuple[float, int]], now: float, value: int) -> Optional[float]:
    """Per-second change since the previous publish (None on the first)."""
    if previous is None or now <= previous[0]:
        return None
    return round(max(0.0, (value - previous[1]) / (now - previous[0])), 1)


def human_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "?"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    return f"{total // 3600}h{total // 60 % 60:02d}m"


def _n(value: Optional[int]) -> str:
    return "?" if value is None else f"{value:,}"


def render_line(progress: Progress) -> str:
    """The compact human line (the job's stderr, the launcher's plain output)."""
    parts: List[str] = [f"progress: {progress.label}"]
    if progress.percent is not None:
        parts[0] += f" {progress.percent:.1f}%"
    parts.append(f"runs {_n(progress.runs.done)}/{_n(progress.runs.total)}")
    parts.append(f"files {_n(progress.files.done)}/{_n(progress.files.total)}")
    parts.append(f"lines {_n(progress.lines_read)}")
    parts.append(f"keys {_n(progress.keys_done)}/{_n(progress.keys_expected)}")
    if progress.phase == "reading" and progress.lines_per_second is not None:
        parts.append(f"{progress.lines_per_second:,.0f} lines/s")
    elif progress.phase != "reading" and progress.writes_per_second is not None:
        parts.append(f"{progress.writes_per_second:,.0f} writes/s")
    parts.append(f"retries {_n(progress.retries)} throttles {_n(progress.throttles)}")
    if progress.phase not in FINAL_PHASES:
        parts.append(f"ETA {human_duration(progress.eta_seconds)}")
    parts.append(f"elapsed {human_duration(progress.elapsed_seconds)}")
    if progress.message:
        parts.append(progress.message[:200])
    return " | ".join(parts)


def progress_uri_for(uri: str) -> str:
    """Where the progress object of the job whose report is `uri` lives (beside the report).

    `…/backfill-abc.json` -> `…/backfill-abc.progress.json` (one per report, so backfills
    sharing a reports prefix never overwrite each other's); a URI already naming a
    `progress.json` is kept; a prefix (`…/`) gets `progress.json` inside it.
    """
    if uri.endswith("progress.json"):
        return uri
    if uri.endswith("/"):
        return uri + "progress.json"
    if uri.endswith(".json"):
        return uri[: -len(".json")] + ".progress.json"
    return uri + ".progress.json"
