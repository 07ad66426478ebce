"""EMR Serverless waits against moto's server: moto keeps job runs where tests put them, so
states are driven at the n-th poll of a fake clock (success, progress, failure with the
driver's cause, cancelled, time-out, re-attach); a real signal sent to this process while the
watch sleeps cancels the job run."""

from __future__ import annotations

import json
import os
import signal

import pytest

from devkit.emr import Clock
from devkit.serverless import job_runs, set_job_run
from populator.launcher.targets.serverless import outcome_json
from tests.support.serverless_runs import Run, driver_log, only_run, states


def test_wait_follows_states_to_success(setup, proxy, application) -> None:
    clock = Clock()
    clock.events = states(application, "SCHEDULED", "RUNNING", "RUNNING", "SUCCESS")
    ran = Run(setup, clock=clock, application_id=application, wait=True)
    assert ran.outcome.state == "SUCCESS" and ran.outcome.exit_code == 0
    seen = [line for line in ran.lines if "] job run " in line]
    assert [line.split()[-1] for line in seen] == ["SUBMITTED", "SCHEDULED", "RUNNING", "SUCCESS"]
    assert seen[-1].startswith("[00:00:0")  # the elapsed time of the fake clock
    assert ran.outcome.details["job_report"] is None  # the job never ran on moto: no report


def test_wait_shows_the_jobs_progress_and_keeps_the_last_object(
    setup, proxy, application, s3, capsys
) -> None:
    """The progress object beside the job run's report is read at each poll (issue 13)."""
    from populator.launcher.progress_view import progress_location
    from tests.support.progress_sample import writing_progress

    def publish() -> None:
        report = only_run(application).job_driver["sparkSubmit"]["entryPointArguments"]
        where = progress_location(report[report.index("--report") + 1]).removeprefix("s3://")
        bucket, key = where.split("/", 1)
        s3.put_object(Bucket=bucket, Key=key, Body=writing_progress().to_json().encode())

    clock = Clock()
    clock.events = states(application, "RUNNING", "RUNNING", "SUCCESS")
    move_to_running = clock.events[1]
    clock.events[1] = lambda: (move_to_running(), publish())
    ran = Run(setup, clock=clock, application_id=application, wait=True)
    assert ran.outcome.state == "SUCCESS"
    assert ran.outcome.details["progress"]["percent"] == 60.0
    assert "60" in capsys.readouterr().err  # the rendered progress line (percent)


def test_a_failed_job_run_shows_state_details_and_the_drivers_cause(
    setup, proxy, application, s3
) -> None:
    clock = Clock()
    clock.events = states(application, "RUNNING", "FAILED", details="Job failed, exit code 1")

    def log_then_fail() -> None:
        run_id = job_runs(application)[-1].id
        trace = (
            'Traceback (most recent call last):\n  File "job.py", line 3, in <module>\n'
            "ModuleNotFoundError: No module named 'boto3'\n"
        )
        driver_log(s3, setup["bucket"], application, run_id, trace)
        set_job_run(application, run_id, "FAILED", "Job failed, exit code 1")

    clock.events[2] = log_then_fail
    ran = Run(setup, clock=clock, application_id=application, wait=True, log_wait=0)
    assert ran.outcome.state == "FAILED" and ran.outcome.exit_code == 1
    assert "No module named 'boto3'" in ran.outcome.cause
    assert "EMR Serverless: Job failed, exit code 1" in ran.text
    assert "SPARK_DRIVER/stderr.gz" in ran.outcome.details["cause_source"]
    assert "--environment-archive" in ran.outcome.details["hint"]


def test_a_job_run_cancelled_by_someone_else_is_a_failure(setup, proxy, application) -> None:
    clock = Clock()
    clock.events = states(application, "RUNNING", "CANCELLED", details="cancelled by user")
    ran = Run(setup, clock=clock, application_id=application, wait=True, log_wait=0)
    assert (ran.outcome.state, ran.outcome.exit_code) == ("CANCELLED", 1)
    assert ran.outcome.cause == "cancelled by user"


def test_timeout_exits_3_and_leaves_the_job_run_going(setup, proxy, application) -> None:
    clock = Clock()
    clock.events = states(application, "RUNNING")
    ran = Run(setup, clock=clock, application_id=application, wait=True, timeout=5)
    assert ran.outcome.exit_code == 3 and ran.outcome.state == "RUNNING"
    assert only_run(application).state == "RUNNING"
    assert f"--job-run-id {ran.outcome.ids['job_run_id']} --wait" in ran.text
    assert sum(clock.sleeps) == pytest.approx(5)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_wait_cancels_the_job_run(setup, proxy, application, signum) -> None:
    before = signal.getsignal(signal.SIGINT)  # pyspark's, when the session Spark started first
    clock = Clock()
    clock.events = states(application, "RUNNING")
    clock.events[3] = lambda: os.kill(os.getpid(), signum)
    ran = Run(setup, clock=clock, application_id=application, wait=True)
    assert ran.outcome.exit_code == 130 and ran.outcome.state == "CANCELLED"
    assert only_run(application).state == "CANCELLED"
    what = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
    assert ran.outcome.actions[0].startswith(what)
    assert "(CancelJobRun)" in ran.outcome.actions[1]
    assert signal.getsignal(signal.SIGINT) is before  # restored


def test_json_outcome_has_the_neutral_fields_and_the_ids(setup, proxy, application) -> None:
    clock = Clock()
    clock.events = states(application, "SUCCESS")
    ran = Run(setup, clock=clock, application_id=application, wait=True, json=True)
    found = json.loads(json.dumps(outcome_json(ran.outcome)))
    assert found["application_id"] == application and found["job_run_id"]
    assert (found["state"], found["exit_code"], found["target"]) == ("SUCCESS", 0, "serverless")
    for key in ("elapsed_seconds", "cause", "request_digest", "log_uri", "report", "region"):
        assert key in found


def test_reattach_follows_a_submitted_job_run(setup, proxy, application) -> None:
    first = Run(setup, application_id=application)
    clock = Clock()
    clock.events = states(application, "SUCCESS")
    again = Run(
        setup,
        clock=clock,
        application_id=application,
        job_run_id=first.outcome.ids["job_run_id"],
        execution_role_arn=None,
    )
    assert again.outcome.state == "SUCCESS" and again.outcome.ids == first.outcome.ids
    assert again.outcome.details["report"] == first.outcome.details["report"]
