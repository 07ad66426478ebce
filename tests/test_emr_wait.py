"""`--wait` on moto: success, failure with its cause, time-out, and cancel on signals.

moto never moves a step on its own: the injected `sleep` plays EMR, moving states in moto's
backend between two polls. The clock is fake too, so back-off and time-outs take no time.
moto has no CancelSteps: where one is needed, a botocore `before-call` hook answers in AWS's
documented shape and cancels the step in moto's backend, like EMR would.
"""

from __future__ import annotations

import json
import os
import signal
import types
from typing import Any, Callable, Dict, List, Optional

import pytest

from devkit.emr import Clock, cluster, set_states
from populator.launcher.targets.common.timing import backoff_delays, format_elapsed
from populator.launcher.targets.emr.wait import Watch, wait_for_step
from tests.support.emr_steps import fake_watch, put_step_logs, started_step

APP = "application_1732248000000_0001"
DRIVER = (
    "Traceback (most recent call last):\n"
    '  File "populate_manifest.py", line 40, in <module>\n'
    "    sys.exit(main())\n"
    "ValueError: the archive holds no runs\n"
)


@pytest.fixture
def job(emr) -> Dict[str, str]:
    return started_step(emr)


def watch(emr, job, clock: Clock, **kwargs: Any) -> Watch:
    settings: Dict[str, Any] = {"poll_interval": 1.0, "max_interval": 4.0, "log_wait": 0.0}
    return fake_watch(emr, job, clock, **{**settings, **kwargs})


def test_success_shows_state_changes_with_elapsed_time(emr, job) -> None:
    clock = Clock(1000.0)
    clock.events[3] = lambda: set_states(
        job["cluster"], step_state="COMPLETED", cluster_state="TERMINATING"
    )
    w = watch(emr, job, clock)
    outcome = wait_for_step(w)
    assert (outcome.state, outcome.exit_code, outcome.cluster_state) == (
        "COMPLETED",
        0,
        "TERMINATING",
    )
    assert outcome.elapsed == 1.0 + 1.5 + 2.25
    assert w.said == [  # type: ignore[attr-defined]
        f"[00:00:00] step {job['step']} RUNNING, cluster {job['cluster']} RUNNING",
        f"[00:00:04] step {job['step']} COMPLETED, cluster {job['cluster']} TERMINATING",
    ]


def test_backoff_is_capped_and_resets_on_a_state_change(emr, job) -> None:
    clock = Clock(1000.0)
    clock.events[5] = lambda: set_states(job["cluster"], cluster_state="WAITING")
    clock.events[7] = lambda: set_states(job["cluster"], step_state="COMPLETED")
    assert wait_for_step(watch(emr, job, clock)).exit_code == 0
    assert clock.sleeps == [1.0, 1.5, 2.25, 3.375, 4.0, 1.0, 1.5]
    delays = backoff_delays(15, 60)
    assert [next(delays) for _ in range(6)] == [15, 22.5, 33.75, 50.625, 60, 60]


def test_timeout_leaves_the_step_running(emr, job) -> None:
    clock = Clock(1000.0)
    outcome = wait_for_step(watch(emr, job, clock, timeout=10.0))
    assert (outcome.state, outcome.exit_code) == ("TIMEOUT", 3)
    assert outcome.elapsed == 10.0 and sum(clock.sleeps) == 10.0  # never sleeps past the deadline
    assert cluster(job["cluster"]).state == "RUNNING"
    assert cluster(job["cluster"]).steps[0].state == "RUNNING"


def put_logs(s3, bucket: str, cluster_id: str, step_id: str) -> None:
    put_step_logs(s3, bucket, f"emr/{cluster_id}/", step_id, APP, DRIVER.encode())


def test_failure_brings_the_cause_and_the_clusters_reason(emr, s3, bucket, job) -> None:
    put_logs(s3, bucket, job["cluster"], job["step"])
    clock = Clock(1000.0)
    clock.events[1] = lambda: set_states(
        job["cluster"],
        step_state="FAILED",
        cluster_state="TERMINATED_WITH_ERRORS",
        reason="Steps completed with errors",
    )
    outcome = wait_for_step(watch(emr, job, clock, s3=s3, log_uri=f"s3://{bucket}/emr/"))
    assert (outcome.state, outcome.exit_code) == ("FAILED", 1)
    assert outcome.cluster_state == "TERMINATED_WITH_ERRORS"
    assert outcome.cluster_reason == "Steps completed with errors"
    assert outcome.cause is not None and outcome.cause.kind == "python-traceback"
    assert outcome.cause.text.endswith("ValueError: the archive holds no runs")
    assert outcome.cause.source.endswith("container_1732248000000_0001_01_000001/stderr.gz")
    assert len(outcome.logs) == 2


def test_failure_waits_for_late_logs(emr, s3, bucket, job) -> None:
    clock = Clock(1000.0)
    clock.events[1] = lambda: set_states(job["cluster"], step_state="FAILED")
    clock.events[3] = lambda: put_logs(s3, bucket, job["cluster"], job["step"])
    w = watch(emr, job, clock, s3=s3, log_uri=f"s3://{bucket}/emr/", log_wait=60.0)
    outcome = wait_for_step(w)
    assert outcome.cause is not None and "no runs" in outcome.cause.text
    assert clock.sleeps == [1.0, 15.0, 15.0]
    assert any("waiting up to 60s for the step's logs" in line for line in w.said)  # type: ignore[attr-defined]


def test_failure_without_logs_and_a_cluster_that_ended_under_the_step(emr, s3, bucket, job) -> None:
    clock = Clock(1000.0)
    clock.events[1] = lambda: set_states(job["cluster"], cluster_state="TERMINATED", reason="lost")
    outcome = wait_for_step(watch(emr, job, clock, s3=s3, log_uri=f"s3://{bucket}/nothing/"))
    assert (outcome.state, outcome.exit_code, outcome.cause) == ("RUNNING", 1, None)
    assert outcome.cluster_reason == "lost" and outcome.logs == ()


def send(signum: int) -> Callable[[], None]:
    return lambda: os.kill(os.getpid(), signum)


def test_sigterm_terminates_a_cluster_we_started(emr, job) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    clock = Clock(1000.0)
    clock.events[2] = send(signal.SIGTERM)
    w = watch(emr, job, clock)
    outcome = wait_for_step(w)
    assert (outcome.state, outcome.exit_code) == ("CANCELLED", 130)
    assert cluster(job["cluster"]).state == "TERMINATED"
    assert outcome.actions == (
        "SIGTERM: cancelling the backfill, please wait",
        f"terminated cluster {job['cluster']}: this backfill started it; "
        f"step {job['step']} ends with it",
    )
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_cluster_that_cannot_be_terminated_is_said_loudly(emr, job) -> None:
    emr.set_termination_protection(JobFlowIds=[job["cluster"]], TerminationProtected=True)
    clock = Clock(1000.0)
    clock.events[1] = send(signal.SIGINT)
    outcome = wait_for_step(watch(emr, job, clock))
    assert outcome.exit_code == 130
    assert "could NOT terminate" in outcome.actions[1]
    assert f"aws emr terminate-clusters --cluster-ids {job['cluster']}" in outcome.actions[1]
    assert cluster(job["cluster"]).state == "RUNNING"


def emulate_cancel_steps(
    emr, status: str = "SUBMITTED", reason: Optional[str] = None
) -> List[dict]:
    """Answer CancelSteps as EMR documents it (moto lacks it), cancelling in moto's backend."""
    calls: List[dict] = []

    def answer(params: dict, **kwargs: Any) -> Any:
        params = json.loads(params["body"])  # the request as it would go on the wire
        calls.append(params)
        if status == "SUBMITTED":
            for step_id in params["StepIds"]:
                set_states(params["ClusterId"], step_state="CANCELLED", step_id=step_id)
        info = {"StepId": params["StepIds"][0], "Status": status}
        if reason:
            info["Reason"] = reason
        return types.SimpleNamespace(status_code=200, headers={}), {"CancelStepsInfoList": [info]}

    emr.meta.events.register("before-call.emr.CancelSteps", answer)
    return calls


def test_ctrl_c_on_a_cluster_we_did_not_start_cancels_only_the_step(emr, job) -> None:
    calls = emulate_cancel_steps(emr)
    clock = Clock(1000.0)
    clock.events[1] = send(signal.SIGINT)
    outcome = wait_for_step(watch(emr, job, clock, owned=False))
    assert outcome.exit_code == 130
    assert calls == [
        {
            "ClusterId": job["cluster"],
            "StepIds": [job["step"]],
            "StepCancellationOption": "SEND_INTERRUPT",
        }
    ]
    assert cluster(job["cluster"]).state == "RUNNING"
    assert cluster(job["cluster"]).steps[0].state == "CANCELLED"
    assert outcome.actions[1] == (
        f"cancelled step {job['step']}; cluster {job['cluster']} keeps running "
        "(it was not started by this backfill)"
    )


def test_a_refused_cancel_is_said_with_the_command_to_retry(emr, job) -> None:
    emulate_cancel_steps(emr, status="FAILED", reason="step already ended")
    clock = Clock(1000.0)
    clock.events[1] = send(signal.SIGINT)
    outcome = wait_for_step(watch(emr, job, clock, owned=False))
    assert (
        "could NOT cancel step" in outcome.actions[1] and "step already ended" in outcome.actions[1]
    )
    assert f"aws emr cancel-steps --cluster-id {job['cluster']}" in outcome.actions[1]


def test_elapsed_format() -> None:
    assert format_elapsed(0) == "00:00:00" and format_elapsed(3723.9) == "01:02:03"
