"""Run the real job the way `inv run_local` does (the same spark-submit command), measured.

`submit` returns the job's JSON report, its exit code, the wall time including Spark's start,
and the peak memory of its process tree. Benchmarks take a `Runner` so the smoke test can run
the same code paths with the job in-process on the test suite's Spark session.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from benchmarks.proctree import Peaks, TreeSampler
from populator.cli.run_local import LocalRun, build_local_command, job_environment
from populator.launcher.signals import wait_process
from populator.launcher.targets.local import stop_group


@dataclass
class JobRun:
    report: Dict[str, Any]
    exit_code: int
    wall_seconds: float
    peaks: Peaks = field(default_factory=Peaks)


# (archive, storage config path, report path, extra job args) -> JobRun
Runner = Callable[[str, str, str, List[str]], JobRun]


def command(archive: str, storage_path: str, report: str, extra: List[str]) -> List[str]:
    """`inv run_local`'s spark-submit command plus job flags it has no option for."""
    run = LocalRun(master="local[*]", report=report)
    return build_local_command(archive, storage_path, run) + list(extra)


def submit(
    archive: str, storage_path: str, report: str, extra: List[str], log: Optional[str] = None
) -> JobRun:
    """spark-submit the job; its output goes to `log` (or is discarded)."""
    env = job_environment()
    env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    sink = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    started = time.perf_counter()
    try:
        process = subprocess.Popen(
            command(archive, storage_path, report, extra),
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        sampler = TreeSampler(process.pid).start()
        try:
            code = wait_process(process)
        except BaseException:  # a signal to `inv bench`: the job's own session goes too
            stop_group(process, 5.0)
            raise
        finally:
            peaks = sampler.stop()
    finally:
        if log:
            sink.close()  # type: ignore[union-attr]
    wall = time.perf_counter() - started
    report_data: Dict[str, Any] = {}
    if os.path.exists(report):
        with open(report, encoding="utf-8") as handle:
            report_data = json.load(handle)
    return JobRun(report_data, code, wall, peaks)
