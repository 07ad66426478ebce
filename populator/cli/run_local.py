"""`inv run_local`: validate like run_emr, then run the same job script on Spark's local master."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional

import populator
from populator.cli.common import eprint
from populator.core.errors import Cancelled, JobFailed, UserError
from populator.launcher.inputs import ensure_manifest_table, validate_inputs

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(populator.__file__)))
JOB_SCRIPT = os.path.join(PROJECT_ROOT, "spark_jobs", "populate_manifest.py")
LOG4J2_PROPERTIES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log4j2.properties")


@dataclass(frozen=True)
class LocalRun:
    master: str = "local[*]"
    since: Optional[str] = None
    run_manifest_table: Optional[str] = None
    report: Optional[str] = None
    bad_rows: Optional[str] = None
    in_flight: Optional[int] = None
    include_expired: bool = False
    endpoint_url: Optional[str] = None
    accept_read_errors: bool = False
    driver_memory: str = "2g"


def spark_submit_path() -> str:
    import pyspark

    return os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")


def build_local_command(archive: str, storage_path: str, run: LocalRun) -> List[str]:
    """The spark-submit command line (pure, so tests compare it exactly)."""
    command = [
        spark_submit_path(),
        "--master",
        run.master,
        "--driver-memory",
        run.driver_memory,
        "--driver-java-options",
        f"-Dlog4j2.configurationFile=file:{LOG4J2_PROPERTIES}",
        "--conf",
        "spark.ui.showConsoleProgress=true",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.driver.host=127.0.0.1",
        JOB_SCRIPT,
        "--enriched-archive",
        archive,
        "--storage-config",
        storage_path,
    ]
    options = [
        ("--since", run.since),
        ("--run-manifest-table", run.run_manifest_table),
        ("--report", run.report),
        ("--bad-rows", run.bad_rows),
        ("--in-flight", None if run.in_flight is None else str(run.in_flight)),
        ("--endpoint-url", run.endpoint_url),
    ]
    for flag, value in options:
        if value is not None:
            command += [flag, value]
    if run.include_expired:
        command.append("--include-expired")
    if run.accept_read_errors:
        command.append("--accept-read-errors")
    return command


def job_environment(base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Driver and workers use this Python and import this checkout's populator package."""
    env = dict(os.environ if base is None else base)
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    paths = [PROJECT_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def run_local(
    enriched_archive: Optional[str],
    storage_config: Optional[str],
    resolver: Optional[str],
    run: LocalRun,
    create_table: bool = True,
) -> int:
    inputs = validate_inputs(enriched_archive, storage_config, resolver, run.since)
    ensure_manifest_table(inputs.storage, create_table, endpoint_url=run.endpoint_url)
    if run.in_flight is not None and run.in_flight < 1:
        raise UserError(f"--in-flight {run.in_flight}: expected a whole number >= 1")
    with tempfile.TemporaryDirectory(prefix="populator-") as scratch:
        storage_path = os.path.join(scratch, "storage-config.json")
        fd = os.open(storage_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(inputs.storage.to_self_describing(), out)
        command = build_local_command(inputs.archive, storage_path, run)
        eprint(f"populator: running the job on Spark {run.master} (Ctrl-C stops it)")
        code = _run(command)
    if code == 2:
        raise UserError("the job refused its input (exit 2); see the message above")
    if code != 0:
        raise JobFailed(f"the job exited with code {code}; see the report above")
    return code


def _run(command: List[str]) -> int:
    process = subprocess.Popen(command, env=job_environment(), start_new_session=True)
    try:
        return process.wait()
    except KeyboardInterrupt:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        raise Cancelled(
            "stopped the local Spark job; re-running is safe (writes are idempotent, "
            "and with --run-manifest-table finished runs are skipped)"
        ) from None
