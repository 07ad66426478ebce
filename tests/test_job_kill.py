"""SIGKILL the whole spark-submit process tree at random points of its writes, several times,
then re-run.

The final table must be exactly a clean run's, and with a run manifest the re-runs skip the
runs that were finished before each kill.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from devkit.figures import env_int, record
from devkit.jobs import count_items, dump_table, storage_config, write_json
from devkit.sample_archive import realistic_archive, write_to_s3
from populator.cli.run_local import LocalRun, build_local_command, job_environment
from populator.core.events import TTL_SECONDS
from populator.core.manifest import EventsManifest

pytestmark = [pytest.mark.spark, pytest.mark.reliability]

KILLS = env_int("POPULATOR_KILLS", 3)


def start(
    archive: str, config: str, runs_table: str, report: str, scratch: Path
) -> subprocess.Popen:
    # Two writes in flight per partition (moto takes ~100 writes/s): the run lasts well past
    # the kill window, since byte-sized partitions made a default run finish inside it.
    run = LocalRun(master="local[2]", run_manifest_table=runs_table, report=report, in_flight=2)
    scratch.mkdir(exist_ok=True)  # a SIGKILLed JVM leaves its files: in pytest's tmp
    command = build_local_command(archive, config, run, scratch=str(scratch))
    command[command.index("--run-manifest-table") :] += ["--batches", "8"]
    return subprocess.Popen(
        command,
        env=job_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_killed_again_and_again_then_rerun_gives_the_clean_table(
    s3, dynamodb, bucket, unique_name, tmp_path: Path
) -> None:
    seed = int(os.environ.get("POPULATOR_KILL_SEED", "20261122"))
    rng = random.Random(seed)
    sample = realistic_archive(datetime.now(timezone.utc), runs=6, events_per_run=80, seed=seed)
    archive = write_to_s3(sample, s3, bucket, "enriched/archive")
    table, runs_table = unique_name("manifest"), unique_name("runs")
    EventsManifest(dynamodb, table).create()
    config = write_json(tmp_path / "storage.json", storage_config(table))
    report = str(tmp_path / "report.json")

    total = len(sample.expected)
    killed = 0
    for _ in range(KILLS):
        before = count_items(dynamodb, table)
        # A random point in the first half of what is left to write: mid-batch, mid-run,
        # whatever the machine's speed (a wall-clock delay let a fast run finish first).
        threshold = before + rng.randint(1, max(1, (total - before) // 2))
        process = start(archive, config, runs_table, report, tmp_path / "scratch")
        while process.poll() is None and count_items(dynamodb, table) < threshold:
            time.sleep(0.25)  # each count is a scan of the table by the suite's moto: CPU
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            killed += 1
        process.wait()
    assert killed == KILLS, f"seed {seed}: the job finished before a kill"

    final = start(archive, config, runs_table, report, tmp_path / "scratch")
    assert final.wait(timeout=300) == 0
    result = json.loads(Path(report).read_text())
    assert result["status"] == "succeeded"

    expected = {k: (v, v + TTL_SECONDS) for k, v in sample.expected.items()}
    assert dump_table(dynamodb, table) == expected, f"seed {seed}"
    recorded = set(result["runs"]["recorded"]) | set(result["runs"]["skipped"]["already_recorded"])
    assert len(recorded) == 7  # six recent runs + the expired one; the Glacier run is skipped
    record("sigkill", kills_survived=killed, writes_verified=len(expected))
