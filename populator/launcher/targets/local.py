"""The local target: the job under `spark-submit` on this machine (Spark's local master).

plan    the exact spark-submit argv (pure; `--dry-run` prints it)
submit  start it in its own session (one process group: JVM, Python driver, workers), tied to
        the launcher's life: PR_SET_PDEATHSIG kills the JVM if the launcher dies, even by
        SIGKILL, and the job's entry point does the same for the Python driver
watch   wait for it; the job's stderr is relayed, and dropped once a cancel starts (no Java
        shutdown stack lines after Ctrl-C)
cancel  SIGTERM to the whole process group, SIGKILL after a grace period

The storage config reaches the job through a named pipe, and Spark's scratch goes to a
private folder removed after the run (local_files.py): nothing secret, and nothing of Spark's,
outlives the run whatever kills the launcher.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import populator
from populator.core.errors import UserError
from populator.launcher.signals import wait_process
from populator.launcher.targets.base import Handle, Log, Outcome, Plan
from populator.launcher.targets.local_files import (
    PIPE_NAME,
    Scratch,
    SecretPipe,
    pipe_folder,
    scratch_folder,
    sweep_stale_folders,
)

__all__ = [
    "LocalArgs",
    "LocalTarget",
    "descendants",
    "find_java",
    "job_environment",
    "pipe_folder",
    "spark_submit_argv",
    "stop_group",
    "sweep_stale_folders",
]

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(populator.__file__)))
JOB_SCRIPT = os.path.join(PROJECT_ROOT, "spark_jobs", "populate_manifest.py")
LOG4J2_PROPERTIES = os.path.join(PROJECT_ROOT, "populator", "cli", "log4j2.properties")
GRACE_SECONDS = 20.0
PR_SET_PDEATHSIG = 1
JAVA_HINT = (
    "Java is not installed (Spark needs Java 17): install it with "
    "`sudo apt-get install openjdk-17-jre-headless` (or set JAVA_HOME)"
)


@dataclass(frozen=True)
class LocalArgs:
    """What the plan needs besides the job's own flags (already rendered as argv)."""

    master: str
    driver_memory: str
    job_argv: Sequence[str]  # the job's flags, without --enriched-archive/--storage-config
    report: Optional[str] = None
    quiet_stdout: bool = False  # --json: the job's stdout goes to stderr, stdout stays ours


def spark_submit_path() -> str:
    import pyspark

    return os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")


def spark_submit_argv(
    archive: str,
    storage_path: str,
    master: str,
    driver_memory: str,
    job_argv: Sequence[str],
    scratch: Optional[str] = None,
) -> List[str]:
    """The spark-submit command line (pure, so tests compare it exactly); `scratch`: the
    folder for Spark's local files (spark.local.dir and the JVM's java.io.tmpdir)."""
    java_options = f"-Dlog4j2.configurationFile=file:{LOG4J2_PROPERTIES}"
    local_dir: List[str] = []
    if scratch is not None:
        java_options += f" -Djava.io.tmpdir={scratch}"
        local_dir = ["--conf", f"spark.local.dir={scratch}"]
    return [
        spark_submit_path(),
        "--master",
        master,
        "--driver-memory",
        driver_memory,
        "--driver-java-options",
        java_options,
        *local_dir,
        "--conf",
        "spark.ui.showConsoleProgress=false",  # the job's own progress line (issue 13)
        "--conf",
        "spark.speculation=false",  # a speculative copy would pace at half its budget share
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.driver.host=127.0.0.1",
        JOB_SCRIPT,
        "--enriched-archive",
        archive,
        "--storage-config",
        storage_path,
        *job_argv,
    ]


def job_environment(base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Driver and workers use this Python and import this checkout's populator package."""
    env = dict(os.environ if base is None else base)
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    paths = [PROJECT_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def find_java(env: Optional[Dict[str, str]] = None) -> Optional[str]:
    env = dict(os.environ if env is None else env)
    home = env.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java", path=env.get("PATH"))


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Linux: this process gets `sig` when its parent dies (even by SIGKILL). Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


class _Relay(threading.Thread):
    """Copy the job's stderr to ours until `mute()` (a cancel: the JVM's dying words)."""

    def __init__(self, source: Any, sink: Any) -> None:
        super().__init__(name="job-stderr", daemon=True)
        self.source, self.sink, self.muted = source, sink, False

    def run(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while True:
                chunk = os.read(self.source.fileno(), 65536)
                if not chunk:
                    return
                if not self.muted:
                    self.sink.write(chunk.decode("utf-8", "replace"))
                    self.sink.flush()

    def mute(self) -> None:
        self.muted = True


class LocalTarget:
    """spark-submit on this machine (see module docstring)."""

    name = "local"

    def plan(self, inputs: Any, bundle: Any, args: LocalArgs) -> Plan:
        folder = pipe_folder(tempfile.gettempdir())
        pipe = os.path.join(folder, PIPE_NAME)
        scratch = scratch_folder(pipe)
        argv = spark_submit_argv(
            inputs.archive,
            pipe,
            args.master,
            args.driver_memory,
            list(args.job_argv),
            scratch=scratch,
        )
        return Plan(
            target=self.name,
            operation="spark-submit",
            request={"argv": argv},
            digest="",
            report_uri=args.report,
            extra={
                "storage_pipe": pipe,
                "scratch": scratch,
                "storage": inputs.storage,
                "master": args.master,
                "quiet_stdout": args.quiet_stdout,
            },
        )

    def submit(self, plan: Plan) -> Handle:
        if find_java() is None:
            raise UserError(JAVA_HINT)
        storage = plan.extra["storage"]
        pipe = SecretPipe(
            plan.extra["storage_pipe"], json.dumps(storage.to_self_describing()).encode()
        )
        pipe.open()
        scratch = Scratch(plan.extra["scratch"])
        try:
            scratch.open()
            process = subprocess.Popen(
                plan.request["argv"],
                env={**job_environment(), "POPULATOR_DIE_WITH_PARENT": "1", "TMPDIR": scratch.path},
                start_new_session=True,
                stdout=sys.stderr.fileno() if plan.extra.get("quiet_stdout") else None,
                stderr=subprocess.PIPE,
                preexec_fn=die_with_parent,
            )
        except BaseException:
            pipe.close()
            scratch.close()
            raise
        try:  # a signal here (the CLI's handlers raise) must not leave the job running
            relay = _Relay(process.stderr, sys.stderr)
            relay.start()
        except BaseException:
            stop_group(process, GRACE_SECONDS)
            pipe.close()
            scratch.close()
            raise
        return Handle(
            target=self.name,
            ids={"pid": str(process.pid)},
            owned=True,
            report_uri=plan.report_uri,
            extra={
                "process": process,
                "pipe": pipe,
                "scratch": scratch,
                "relay": relay,
                "started": time.time(),
            },
        )

    def watch(self, handle: Handle, deadline: Optional[float], log: Log) -> Outcome:
        process: subprocess.Popen = handle.extra["process"]
        try:
            code = wait_process(process)
        finally:
            handle.extra["pipe"].close()
        # Interrupted above, cancel() stops the tree and removes the scratch; ended, the same
        # here, so that no worker left in the group still writes into the scratch.
        stop_group(process, GRACE_SECONDS)
        handle.extra["scratch"].close()
        handle.extra["relay"].join(timeout=5)
        state = "SUCCEEDED" if code == 0 else "FAILED"
        return Outcome(
            state=state,
            exit_code=code,
            elapsed=time.time() - handle.extra["started"],
            ids=dict(handle.ids),
        )

    def cancel(self, handle: Handle, why: str, log: Log) -> List[str]:
        """Stop the whole process tree: SIGTERM to the group, SIGKILL after a grace period."""
        process: subprocess.Popen = handle.extra["process"]
        handle.extra["relay"].mute()
        log(f"{why}: stopping the local Spark job (JVM, Python driver and workers), please wait")
        actions = [f"{why}: stopped the local Spark job"]
        stop_group(process, GRACE_SECONDS)
        handle.extra["pipe"].close()
        handle.extra["scratch"].close()
        actions.append(
            "nothing is left running; re-running is safe (writes are idempotent, and with "
            "--run-manifest-table finished runs are skipped)"
        )
        return actions

    def report_uri(self, handle: Handle) -> Optional[str]:
        return handle.report_uri


def stop_group(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM the process group, wait `grace` seconds, then SIGKILL what is left of the tree."""
    tree = descendants(process.pid)
    try:
        _stop_leader(process, grace)
    finally:
        for pid in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _stop_leader(process: subprocess.Popen, grace: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; finish off workers still in its group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        return
    process.wait()


def descendants(pid: int) -> List[int]:
    """Every process below `pid` (Linux /proc), including those that left its process group
    (pyspark's worker daemon makes its own)."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found: List[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
