"""`--wait` shows the job's progress: moto's EMR and S3, the real wait loop, a fake clock.

moto never moves a step: the injected sleep plays EMR and the job, writing progress objects
at the location derived from the step's --report URI (what `inv run_emr` prints), then
completing the step. The follower is called at each poll as the integrated watch loop will
(`Watch(on_poll=follower.poll)`); here through the injected sleep, the loop being the cli's.
"""

from __future__ import annotations

import io

from devkit.emr import Clock, set_states
from populator.core.progress import Counts, Progress
from populator.launcher.progress_view import ProgressFollower
from populator.launcher.targets.emr.wait import wait_for_step
from tests.support.emr_steps import fake_watch, started_step
from tests.support.progress_sample import writing_progress


def test_wait_shows_the_progress_the_job_writes_beside_its_report(emr, s3, bucket) -> None:
    job = started_step(emr)
    report = f"s3://{bucket}/populator/reports/backfill-d1g3st.json"
    key = "populator/reports/backfill-d1g3st.progress.json"

    def publish(progress: Progress) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=progress.to_json().encode())

    clock = Clock(0.0)
    clock.events[2] = lambda: publish(
        Progress(phase="reading", files=Counts(3, 9), percent=33.3, sequence=2)
    )
    clock.events[4] = lambda: publish(writing_progress())

    def complete() -> None:
        publish(Progress(phase="done", status="succeeded", percent=100.0, sequence=7))
        set_states(job["cluster"], step_state="COMPLETED", cluster_state="TERMINATED")

    clock.events[6] = complete
    terminal = io.StringIO()
    follower = ProgressFollower(s3, report, terminal, clock=clock.time, tty=False)
    follower.renderer.plain_every = 1.0  # a line per fake second, to see every object here
    said: list = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        follower.poll()

    every_second = {"poll_interval": 1.0, "max_interval": 1.0, "log_wait": 0.0}
    log = follower.wrap_log(said.append)
    outcome = wait_for_step(fake_watch(emr, job, clock, log=log, sleep=sleep, **every_second))
    follower.close()

    assert outcome.state == "COMPLETED"
    lines = terminal.getvalue().splitlines()
    assert lines[0].startswith("progress: reading 33.3% | runs 0/? | files 3/9")
    assert lines[1].startswith("progress: writing batch 2/3 60.0%")
    assert "25 writes/s" in lines[1] and "throttles 4" in lines[1] and "ETA 40s" in lines[1]
    assert lines[-1].startswith("progress: done 100.0%")
    assert follower.as_json()["status"] == "succeeded"  # for run_emr --json
    assert any("COMPLETED" in line for line in said)
