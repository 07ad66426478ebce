"""`inv run_local` under SIGTERM, SIGHUP, Ctrl-C and SIGKILL: the whole process tree stops, and
no file with the storage config's secret is left behind (issue 10, items 6, 11, 23).

Real processes: the launcher, spark-submit's JVM, the Python driver and workers; checked in
/proc afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import List

import pytest

from devkit.jobs import SECRET, resolver_config, storage_config, write_json
from devkit.sample_archive import realistic_archive, write_to_s3
from populator.launcher.targets.local import descendants, pipe_folder, sweep_stale_folders
from tests.support.cli import Running

pytestmark = [pytest.mark.spark]


def _alive(pids: List[int]) -> List[int]:
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] != "Z":
                    alive.append(pid)
        except OSError:
            continue
    return alive


def _job_tree(running: Running, limit: float = 90) -> List[int]:
    """Wait until the Python driver runs under the JVM; return every pid below the launcher."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        tree = descendants(running.process.pid)
        for pid in tree:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"populate_manifest.py" in cmdline and b"java" not in cmdline.split(b"\0")[0]:
                return descendants(running.process.pid)
        assert running.process.poll() is None, "".join(running.out + running.err)
        time.sleep(0.2)
    raise AssertionError("the job's Python driver never started")


def _wait_gone(pids: List[int], limit: float = 60) -> List[int]:
    deadline = time.monotonic() + limit
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(pids)


def _left_by(launcher_pid: int) -> List[str]:
    """The launcher's own folders in the temp folder (its pipe folder, Spark's scratch)."""
    prefix = f"populator-{launcher_pid}-"
    return [name for name in os.listdir(tempfile.gettempdir()) if name.startswith(prefix)]


def _secret_files() -> List[str]:
    found = []
    for root, dirs, files in os.walk(tempfile.gettempdir()):
        dirs[:] = [d for d in dirs if not d.startswith(("pytest-of-", "bash_jobs"))]
        for name in files:
            path = os.path.join(root, name)
            try:
                if not os.path.isfile(path) or os.path.getsize(path) > 1 << 20:
                    continue
                if SECRET.encode() in Path(path).read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


@pytest.fixture
def backfill(s3, bucket, unique_name, tmp_path: Path, moto_endpoint: str) -> List[str]:
    sample = realistic_archive(datetime.now(timezone.utc), runs=6, events_per_run=400, seed=7)
    archive = write_to_s3(sample, s3, bucket, "enriched/archive")
    config = write_json(tmp_path / "storage.json", storage_config(unique_name("manifest")))
    resolver = write_json(tmp_path / "resolver.json", resolver_config())
    return [archive, config, resolver, "--master", "local[2]", "--endpoint-url", moto_endpoint]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_stops_the_whole_tree_and_exits_130(
    backfill: List[str], moto_endpoint: str, signum: int
) -> None:
    before = set(_secret_files())
    running = Running("run_local", backfill, moto_endpoint)
    tree = _job_tree(running)
    running.interrupt(signum)
    ran = running.finish(timeout=90)
    assert ran.code == 130, ran.err
    assert "stopped the local Spark job" in ran.err
    assert "nothing is left running" in ran.err
    assert _wait_gone(tree, limit=5) == []
    assert "\tat org.apache" not in ran.err and "py4j" not in ran.err.lower()
    assert set(_secret_files()) - before == set()
    assert _left_by(running.process.pid) == []  # no pipe folder, no Spark scratch


def test_sigkill_of_the_launcher_takes_the_job_with_it(
    backfill: List[str], moto_endpoint: str
) -> None:
    before = set(_secret_files())
    running = Running("run_local", backfill, moto_endpoint)
    tree = _job_tree(running)
    scratch = [name for name in _left_by(running.process.pid) if name.endswith("-spark")]
    assert scratch, "Spark's scratch is the launcher's own folder while the job runs"
    folder = os.path.join(tempfile.gettempdir(), scratch[0])
    deadline = time.monotonic() + 60  # the SparkContext comes up after the Python driver
    while not any(n.startswith("blockmgr-") for n in os.listdir(folder)):
        assert time.monotonic() < deadline, os.listdir(folder)
        time.sleep(0.2)
    running.interrupt(signal.SIGKILL)
    running.finish(timeout=30)
    assert _wait_gone(tree) == []
    assert set(_secret_files()) - before == set()
    # A killed JVM cleans nothing: its scratch stays until the next run (here, or any other
    # run_local starting meanwhile) sweeps it.
    sweep_stale_folders(tempfile.gettempdir())
    assert _left_by(running.process.pid) == []


def test_a_pipe_folder_left_by_a_killed_launcher_is_swept_by_the_next_run(tmp_path: Path) -> None:
    """SIGKILL before the job opened the pipe leaves an empty FIFO; the next run removes it,
    and leaves alone a live launcher's folder and anything that is not ours."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = Path(pipe_folder(str(tmp_path)).replace(f"-{os.getpid()}-", f"-{dead.pid}-"))
    live = Path(pipe_folder(str(tmp_path)))
    foreign = tmp_path / f"populator-{dead.pid}-{'0' * 16}"
    for folder in (stale, live, foreign):
        folder.mkdir()
        os.mkfifo(folder / "storage-config.json")
    (foreign / "other.txt").write_text("not ours")
    stale_scratch = Path(f"{stale}-spark")
    live_scratch = Path(f"{live}-spark")
    for scratch in (stale_scratch, live_scratch):
        (scratch / "blockmgr-1" / "0a").mkdir(parents=True)
        (scratch / "blockmgr-1" / "0a" / "shuffle_0_0_0.data").write_bytes(b"spark's")
    assert sorted(sweep_stale_folders(str(tmp_path))) == sorted([str(stale), str(stale_scratch)])
    assert not stale.exists() and live.exists() and (foreign / "other.txt").exists()
    assert not stale_scratch.exists() and live_scratch.exists()


def test_the_secret_never_rests_in_a_file(backfill: List[str], moto_endpoint: str) -> None:
    """While the job runs, no regular file under the temp folder holds the secret."""
    before = set(_secret_files())
    running = Running("run_local", backfill, moto_endpoint)
    _job_tree(running)
    during = set(_secret_files()) - before
    running.interrupt(signal.SIGTERM)
    running.finish(timeout=90)
    assert during == set()


def test_java_missing_is_one_clear_line(
    backfill: List[str], moto_endpoint: str, tmp_path: Path
) -> None:
    from tests.support.cli import REPO_ROOT, command, environment

    env = environment(moto_endpoint)
    env.pop("JAVA_HOME", None)
    (tmp_path / "bin").mkdir()
    env["PATH"] = str(tmp_path / "bin")  # no java anywhere
    done = subprocess.run(
        command("run_local", backfill),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "error: Java is not installed" in done.stderr
    assert "openjdk-17-jre-headless" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_interrupting_the_demo_stops_everything(tmp_path: Path, signum: int) -> None:
    from tests.support.cli import REPO_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(POPULATOR_IGLU_OFFLINE="1", PYTHONUNBUFFERED="1")
    demo = subprocess.Popen(
        [os.sys.executable, "-m", "invoke", "demo", "--directory", str(tmp_path / "demo")],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    running = Running.__new__(Running)  # reuse the tree finder on a bare process
    running.process, running.out, running.err = demo, [], []
    tree = _job_tree(running, limit=180)
    demo.send_signal(signum)
    out, _ = demo.communicate(timeout=90)
    assert _wait_gone(tree) == []
    if signum == signal.SIGTERM:
        assert demo.returncode == 130, out
        assert "nothing is left running" in out and "stopped `inv run_local`" in out
