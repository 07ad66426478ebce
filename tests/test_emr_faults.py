"""EMR faults (issue 6): a cluster that cannot start, a step that fails on a cluster that stays
up, a status read mid-change, and Ctrl-C on a cluster we did not start.

Each must leave no cluster running that this tool started and say what happened and what to
do. The wait-level tests run `wait_for_step` against moto's server with a fake clock (EMR's
moves are played between two polls); the CLI tests run `inv run_emr` in a subprocess. Already
covered elsewhere: a failed step's cause from its logs, the time-out (exit 3) and SIGINT /
SIGTERM on a cluster we started (tests/test_emr_wait.py, tests/test_cli_run_emr.py).
"""

from __future__ import annotations

import gzip
import json
import signal
import time
from typing import Any, Dict, List

import pytest

from devkit.emr import Clock, cluster, set_states, start_cluster, step
from devkit.emr_faults import cancel_steps, fail_cluster, reason_codes
from populator.launcher.bundle import BOTO3_FOR_EMR
from populator.launcher.targets.common.request import TAG_TABLE
from populator.launcher.targets.emr.request import ACTIVE_CLUSTER_STATES
from populator.launcher.targets.emr.wait import Watch, wait_for_step
from tests.support.cli import Running, waiting_on_emr
from tests.support.emr_steps import fake_watch, put_step_logs, started_step

POLL = ("--poll-interval", "0.05")
WAIT = ("--wait", *POLL)
PIP_ERROR = (
    f"ERROR: Could not find a version that satisfies the requirement boto3=={BOTO3_FOR_EMR}\n"
    f"ERROR: No matching distribution found for boto3=={BOTO3_FOR_EMR}\n"
)
BOOTSTRAP_REASON = (
    "On the master instance (i-0123456789abcdef0), bootstrap action 1 returned a non-zero "
    "return code"
)


@pytest.fixture
def codes(monkeypatch) -> None:
    reason_codes(monkeypatch)


@pytest.fixture
def starting(emr, codes) -> Dict[str, str]:
    """A cluster this tool started, still bootstrapping: its step waits, PENDING."""
    return started_step(emr, step_state="PENDING", cluster_state="BOOTSTRAPPING")


def make_watch(emr, job: Dict[str, str], clock: Clock, **settings: Any) -> Watch:
    # A (fake-clock) time-out turns a regression that never notices the end into a failure.
    options: Dict[str, Any] = {"poll_interval": 1.0, "log_wait": 120.0, "timeout": 3600.0}
    return fake_watch(emr, job, clock, **{**options, **settings})


def put_bootstrap_log(s3, bucket: str, prefix: str, cluster_id: str) -> str:
    key = f"{prefix}{cluster_id}/node/i-0123456789abcdef0/bootstrap-actions/1/stderr.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(PIP_ERROR.encode()))
    return f"s3://{bucket}/{key}"


def test_bootstrap_failure_is_noticed_while_terminating_with_its_output(
    emr, s3, bucket, starting
) -> None:
    source = put_bootstrap_log(s3, bucket, "emr/", starting["cluster"])
    clock = Clock()
    clock.events[2] = lambda: fail_cluster(
        starting["cluster"], "TERMINATING", "BOOTSTRAP_FAILURE", BOOTSTRAP_REASON
    )
    w = make_watch(emr, starting, clock, s3=s3, log_uri=f"s3://{bucket}/emr/")
    outcome = wait_for_step(w)

    assert (outcome.state, outcome.exit_code, outcome.never_ran) == ("PENDING", 1, True)
    assert clock.sleeps == [1.0, 1.5]  # ended at the first poll after; no wait for step logs
    assert (outcome.cluster_state, outcome.cluster_code) == ("TERMINATING", "BOOTSTRAP_FAILURE")
    assert outcome.cluster_reason == f"BOOTSTRAP_FAILURE: {BOOTSTRAP_REASON}"
    assert outcome.cause is not None and outcome.cause.kind == "bootstrap-log"
    assert outcome.cause.source == source
    assert outcome.cause.text == PIP_ERROR.strip()
    assert outcome.hint is not None and "package index" in outcome.hint
    assert outcome.actions == ()  # already going down: nothing to terminate
    assert not any("waiting up to" in line for line in w.said)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "code, message, step_state, advice",
    [
        (
            "INSTANCE_FAILURE",
            "Instance i-0a1 failed to start: InsufficientInstanceCapacity for m5.xlarge",
            "CANCELLED",
            "another --instance-type, or a --subnet-id in another Availability Zone",
        ),
        (
            "VALIDATION_ERROR",
            "The requested instance type m5.xlarge is not supported in the requested "
            "availability zone",
            "PENDING",
            "another --instance-type, or a --subnet-id in another Availability Zone",
        ),
        (
            "VALIDATION_ERROR",
            "The subnet ID 'subnet-0abc12345' does not exist",
            "CANCELLED",
            "fix the option the message names",
        ),
        ("INSTANCE_FAILURE", "Instance i-0a1 failed health checks", "PENDING", "EC2 quotas"),
    ],
)
def test_a_cluster_that_cannot_start_ends_the_wait_with_its_reason_and_advice(
    emr, s3, bucket, starting, code, message, step_state, advice
) -> None:
    clock = Clock()
    clock.events[1] = lambda: fail_cluster(
        starting["cluster"], "TERMINATED_WITH_ERRORS", code, message, step_state
    )
    w = make_watch(emr, starting, clock, s3=s3, log_uri=f"s3://{bucket}/emr/")
    outcome = wait_for_step(w)
    assert (outcome.state, outcome.exit_code, outcome.never_ran) == (step_state, 1, True)
    assert clock.sleeps == [1.0]
    assert outcome.cluster_reason == f"{code}: {message}"
    assert outcome.cause is None and outcome.logs == ()  # no bootstrap log to look for
    assert outcome.hint is not None and advice in outcome.hint
    assert cluster(starting["cluster"]).state == "TERMINATED_WITH_ERRORS"


def test_a_step_cancelled_mid_run_by_a_node_failure_is_explained_from_its_logs(
    emr, s3, bucket, starting
) -> None:
    """A CANCELLED step with a start time did run: its driver's logs hold the story."""
    app = "application_1732248000000_0003"
    lost = b"26/11/22 05:00:00 ERROR YarnScheduler: Lost executor 1: node lost\n"
    base = f"emr/{starting['cluster']}/"
    put_step_logs(s3, bucket, base, starting["step"], app, lost, "Submitted application")
    set_states(starting["cluster"], step_state="RUNNING", cluster_state="RUNNING")
    assert emr.describe_step(ClusterId=starting["cluster"], StepId=starting["step"])["Step"][
        "Status"
    ]["Timeline"]["StartDateTime"]
    clock = Clock()

    def node_lost() -> None:
        set_states(starting["cluster"], step_state="CANCELLED")
        fail_cluster(starting["cluster"], "TERMINATING", "INSTANCE_FAILURE", "Instance i-1 lost")

    clock.events[1] = node_lost
    w = make_watch(emr, starting, clock, s3=s3, log_uri=f"s3://{bucket}/emr/", log_wait=0.0)
    outcome = wait_for_step(w)
    assert (outcome.state, outcome.exit_code, outcome.never_ran) == ("CANCELLED", 1, False)
    assert outcome.cause is not None and "Lost executor 1: node lost" in outcome.cause.text
    assert outcome.cluster_reason == "INSTANCE_FAILURE: Instance i-1 lost"


def test_a_failed_step_on_a_cluster_we_started_that_stays_up_is_terminated(emr, starting) -> None:
    set_states(starting["cluster"], step_state="RUNNING", cluster_state="RUNNING")
    clock = Clock()
    clock.events[1] = lambda: set_states(
        starting["cluster"], step_state="FAILED", cluster_state="WAITING"
    )
    outcome = wait_for_step(make_watch(emr, starting, clock, log_wait=0.0))
    assert (outcome.state, outcome.exit_code, outcome.never_ran) == ("FAILED", 1, False)
    assert cluster(starting["cluster"]).state == "TERMINATED"
    assert outcome.actions == (
        f"terminated cluster {starting['cluster']}: this backfill started it and its step "
        f"{starting['step']} ended FAILED",
    )


def test_a_failed_step_on_a_cluster_we_did_not_start_leaves_the_cluster_alone(
    emr, starting
) -> None:
    set_states(starting["cluster"], step_state="RUNNING", cluster_state="RUNNING")
    clock = Clock()
    clock.events[1] = lambda: set_states(starting["cluster"], step_state="FAILED")
    outcome = wait_for_step(make_watch(emr, starting, clock, owned=False, log_wait=0.0))
    assert (outcome.state, outcome.exit_code, outcome.actions) == ("FAILED", 1, ())
    assert cluster(starting["cluster"]).state == "RUNNING"


def test_a_step_that_completes_between_the_two_reads_is_a_success(emr, starting) -> None:
    """DescribeStep, then DescribeCluster: the step may complete (and end its transient
    cluster) in between; a stale RUNNING next to TERMINATED must not read as a failure."""
    set_states(starting["cluster"], step_state="RUNNING", cluster_state="RUNNING")
    reads: List[str] = []

    def emr_moves(**kwargs: Any) -> None:
        reads.append("step")
        if len(reads) == 2:  # the second poll's step read has answered RUNNING
            set_states(starting["cluster"], step_state="COMPLETED", cluster_state="TERMINATED")

    emr.meta.events.register("after-call.emr.DescribeStep", emr_moves)
    outcome = wait_for_step(make_watch(emr, starting, Clock()))
    assert (outcome.state, outcome.exit_code) == ("COMPLETED", 0)
    assert len(reads) == 3  # the step was read again once the cluster showed it had ended


# --- the command, for real (a subprocess per run) --------------------------------------------


def active_clusters_for(emr, table: str) -> List[str]:
    found = []
    for summary in emr.list_clusters(ClusterStates=list(ACTIVE_CLUSTER_STATES))["Clusters"]:
        tags = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]["Tags"]
        if {t["Key"]: t["Value"] for t in tags}.get(TAG_TABLE) == table:
            found.append(summary["Id"])
    return found


def test_cli_bootstrap_failure_exits_1_promptly_with_reason_console_and_advice(
    moto_endpoint, emr, s3, codes, setup
) -> None:
    running, cluster_id, step_id = waiting_on_emr(setup, moto_endpoint, "--json")
    # --log-wait stays at its default of 120 s
    put_bootstrap_log(s3, setup["bucket"], "populator/logs/", cluster_id)
    failed_at = time.monotonic()
    fail_cluster(
        cluster_id, "TERMINATED_WITH_ERRORS", "BOOTSTRAP_FAILURE", BOOTSTRAP_REASON, "CANCELLED"
    )
    done = running.finish(timeout=60)
    assert time.monotonic() - failed_at < 20  # no wait for the logs of a step that never ran
    assert done.code == 1, done.err
    console = (
        "https://us-east-1.console.aws.amazon.com/emr/home?region=us-east-1"
        f"#/clusterDetails/{cluster_id}"
    )
    assert (
        f"cluster {cluster_id} failed to start (TERMINATED_WITH_ERRORS: BOOTSTRAP_FAILURE: "
        f"{BOOTSTRAP_REASON}); step {step_id} never ran (CANCELLED)" in done.err
    )
    assert f"ERROR: No matching distribution found for boto3=={BOTO3_FOR_EMR}" in done.err
    assert "what to do: a bootstrap action failed on a node" in done.err
    assert f"nothing is left running: cluster {cluster_id} is TERMINATED_WITH_ERRORS" in done.err
    assert len(done.error_lines) == 1 and console in done.error_lines[0]
    assert "waiting up to" not in done.err and "Traceback" not in done.err

    result = json.loads(done.out)
    assert (result["exit_code"], result["state"], result["cluster_state"]) == (
        1,
        "CANCELLED",
        "TERMINATED_WITH_ERRORS",
    )
    assert result["cluster_reason"] == f"BOOTSTRAP_FAILURE: {BOOTSTRAP_REASON}"
    assert result["cause"] == PIP_ERROR.strip()
    assert result["error"].startswith(f"EMR cluster {cluster_id} failed to start")
    assert result["console_url"] == console and result["job_report"] is None
    assert active_clusters_for(emr, setup["table"]) == []


def test_cli_ctrl_c_on_a_cluster_we_did_not_start_cancels_only_our_step(
    moto_endpoint, emr, monkeypatch, setup
) -> None:
    cancel_steps(monkeypatch)
    shared = start_cluster(emr, "team cluster", {}, [step("nightly")])
    nightly = emr.list_steps(ClusterId=shared)["Steps"][0]["Id"]
    running = Running(
        "run_emr",
        [setup["archive"], setup["storage"], setup["resolver"], "--cluster-id", shared, *WAIT],
        moto_endpoint,
    )
    step_id = running.expect(rf"added a step to cluster {shared} in [\w-]+: step (s-\w+)").group(1)
    running.expect(rf"step {step_id} PENDING")
    running.interrupt(signal.SIGINT)
    done = running.finish()
    assert done.code == 130, done.err
    assert (
        f"cancelled step {step_id}; cluster {shared} keeps running "
        "(it was not started by this backfill)" in done.err
    )
    assert cluster(shared).state in ACTIVE_CLUSTER_STATES  # never terminated: not ours
    states = {s["Id"]: s["Status"]["State"] for s in emr.list_steps(ClusterId=shared)["Steps"]}
    assert states == {nightly: "RUNNING", step_id: "CANCELLED"}
    assert "Traceback" not in done.err
