"""Progress wired into the launchers: `inv run_emr --wait` reads and shows the object the job
writes beside its report (moto's EMR and S3; the test plays the job), and puts the last one
in --json; `Watch.on_poll` is called after every poll of the real wait loop."""

from __future__ import annotations

import json

from devkit.emr import Clock, set_states
from populator.core.progress import progress_uri_for
from populator.launcher.targets.emr.wait import wait_for_step
from tests.support.cli import waiting_on_emr
from tests.support.emr_steps import fake_watch, started_step
from tests.support.progress_sample import writing_progress


def test_on_poll_is_called_after_every_poll(emr) -> None:
    job = started_step(emr)
    clock = Clock(0.0)
    clock.events[3] = lambda: set_states(
        job["cluster"], step_state="COMPLETED", cluster_state="TERMINATED"
    )
    polls: list = []
    every_second = {"poll_interval": 1.0, "max_interval": 1.0}
    watch = fake_watch(emr, job, clock, on_poll=lambda: polls.append(clock.time()), **every_second)
    outcome = wait_for_step(watch)
    assert outcome.exit_code == 0
    assert len(polls) == 4  # three polls RUNNING, the fourth saw COMPLETED


def test_wait_shows_the_jobs_progress_and_json_has_the_last_object(
    moto_endpoint, emr, s3, setup
) -> None:
    running, cluster_id, step_id = waiting_on_emr(
        setup, moto_endpoint, "--json", "--method", "write"
    )
    step_args = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Config"]["Args"]
    report = step_args[step_args.index("--report") + 1]
    bucket, _, key = progress_uri_for(report)[len("s3://") :].partition("/")
    writing = writing_progress()
    s3.put_object(Bucket=bucket, Key=key, Body=writing.to_json().encode())
    shown = running.expect(r"progress: .*60\.0%.*keys 600/1,000")
    assert "throttles 4" in shown.string
    set_states(cluster_id, step_state="COMPLETED", cluster_state="TERMINATED")
    done = running.finish()
    assert done.code == 0, done.err
    result = json.loads(done.out)
    assert result["progress"]["phase"] == "writing" and result["progress"]["keys"]["done"] == 600
    assert result["progress"]["sequence"] == 5
