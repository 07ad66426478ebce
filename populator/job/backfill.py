"""The backfill both write paths finish (`write_phase.write_batches`, `importer.run`), as one
value: the driver builds it once, so the two paths cannot drift apart in what they are given.
Cluster code: Python 3.9.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from populator.core.archive import Run
from populator.core.job_args import JobOptions
from populator.core.run_manifests import RunManifests
from populator.job.partitions import JobContext
from populator.job.progress import JobProgress

Log = Callable[[str], None]


@dataclass(frozen=True)
class Backfill:
    """The runs to process, what executors need, and where the outcome is told.

    ``report`` is filled in place; ``run_manifest`` is None without --run-manifest-table.
    """

    spark: Any
    runs: List[Run]  # in time order: the runs neither in Glacier nor already recorded
    options: JobOptions
    context: JobContext
    table: str  # the events manifest
    report: Dict[str, Any]
    run_manifest: Optional[RunManifests]
    log: Log
    progress: JobProgress
