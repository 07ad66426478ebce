"""Submitting to EMR on moto: the duplicate-backfill guard and the send-once rule."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from devkit.emr import set_states, start_cluster, step
from populator.core.errors import UserError
from populator.launcher.targets.common.guard import DuplicateBackfill
from populator.launcher.targets.common.request import (
    TAG_DIGEST,
    TAG_TABLE,
    TAG_TABLE_REGION,
    TAG_TOOL,
    TOOL_NAME,
    step_name,
)
from populator.launcher.targets.emr.request import ClusterSpec, build_add_steps, build_run_job_flow
from populator.launcher.targets.emr.submit import (
    Submission,
    active_backfills,
    check_target_cluster,
    find_duplicate,
    submit,
)

DIGEST = "a" * 64
OTHER = "b" * 64


def ours(table: str, digest: str, region: str = "us-east-1") -> dict:
    return {TAG_TOOL: TOOL_NAME, TAG_TABLE: table, TAG_TABLE_REGION: region, TAG_DIGEST: digest}


@pytest.fixture
def table(unique_name) -> str:
    return unique_name("manifest")


@pytest.fixture
def emr_once(moto_endpoint: str):
    """How run_emr sends RunJobFlow/AddJobFlowSteps: one attempt, never a blind retry."""
    config = Config(retries={"total_max_attempts": 1})
    return boto3.client("emr", endpoint_url=moto_endpoint, region_name="us-east-1", config=config)


def test_active_backfills_are_found_by_tags(emr, table) -> None:
    mine = start_cluster(
        emr, f"{TOOL_NAME}: {table}", ours(table, DIGEST), [step(step_name(table, DIGEST))]
    )
    start_cluster(emr, f"{TOOL_NAME}: {table}", ours(table, OTHER, region="eu-west-1"), [step("x")])
    start_cluster(emr, f"{TOOL_NAME}: other", ours(table + "-other", OTHER), [step("x")])
    start_cluster(emr, "someone else's cluster", ours(table, OTHER), [step("x")])
    ended = start_cluster(emr, f"{TOOL_NAME}: {table}", ours(table, OTHER), [step("x")])
    set_states(ended, cluster_state="TERMINATED")

    found = active_backfills(emr, table, "us-east-1")
    assert [(b.cluster_id, b.digest) for b in found] == [(mine, DIGEST)]
    assert found[0].state in ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")


def test_identical_request_is_recognised(emr, table) -> None:
    cluster_id = start_cluster(
        emr, f"{TOOL_NAME}: {table}", ours(table, DIGEST), [step(step_name(table, DIGEST))]
    )
    step_id = emr.list_steps(ClusterId=cluster_id)["Steps"][0]["Id"]
    assert find_duplicate(emr, table, "us-east-1", DIGEST) == Submission(
        cluster_id, step_id, started_cluster=True, reused=True
    )


def test_other_backfill_of_the_table_is_refused_unless_forced(emr, table) -> None:
    cluster_id = start_cluster(emr, f"{TOOL_NAME}: {table}", ours(table, OTHER), [step("x")])
    with pytest.raises(DuplicateBackfill) as refused:
        find_duplicate(emr, table, "us-east-1", DIGEST)
    message = str(refused.value)
    assert cluster_id in message and "--force" in message and table in message
    assert refused.value.exit_code == 2
    assert find_duplicate(emr, table, "us-east-1", DIGEST, force=True) is None
    set_states(cluster_id, cluster_state="TERMINATED_WITH_ERRORS")
    assert find_duplicate(emr, table, "us-east-1", DIGEST) is None


def test_existing_cluster_steps_are_checked_by_name(emr, table) -> None:
    shared = start_cluster(emr, "team cluster", {}, [step("some other job")])
    assert find_duplicate(emr, table, "us-east-1", DIGEST, cluster_id=shared) is None
    added = emr.add_job_flow_steps(JobFlowId=shared, Steps=[step(step_name(table, DIGEST))])
    step_id = added["StepIds"][0]
    assert find_duplicate(emr, table, "us-east-1", DIGEST, cluster_id=shared) == Submission(
        shared, step_id, started_cluster=False, reused=True
    )
    with pytest.raises(DuplicateBackfill, match=step_id):
        find_duplicate(emr, table, "us-east-1", OTHER, cluster_id=shared)
    set_states(shared, step_state="COMPLETED", step_id=step_id)
    assert find_duplicate(emr, table, "us-east-1", OTHER, cluster_id=shared) is None


def test_submit_run_job_flow_and_add_steps(emr, emr_once, table) -> None:
    spec = ClusterSpec(
        name=f"{TOOL_NAME}: {table}", log_uri="s3://l/", tags=tuple(ours(table, DIGEST).items())
    )
    request = build_run_job_flow(spec, [step(step_name(table, DIGEST))])
    started = submit(emr, emr_once, request, table, "us-east-1", DIGEST)
    assert started.started_cluster and not started.reused
    steps = emr.list_steps(ClusterId=started.cluster_id)["Steps"]
    assert [s["Id"] for s in steps] == [started.step_id]
    assert steps[0]["Name"] == step_name(table, DIGEST)

    added = submit(
        emr,
        emr_once,
        build_add_steps(started.cluster_id, [step("more")]),
        table,
        "us-east-1",
        OTHER,
    )
    assert (added.cluster_id, added.started_cluster) == (started.cluster_id, False)
    assert added.step_id in [s["Id"] for s in emr.list_steps(ClusterId=started.cluster_id)["Steps"]]


def test_a_lost_answer_is_looked_up_not_retried(emr, emr_once, table) -> None:
    """The request lands, the answer is lost (read time-out): find the cluster by its digest."""

    def lose_answer(**kwargs: object) -> None:
        raise ReadTimeoutError(endpoint_url="http://emr")

    emr_once.meta.events.register("after-call.emr.RunJobFlow", lose_answer)
    spec = ClusterSpec(
        name=f"{TOOL_NAME}: {table}", log_uri="s3://l/", tags=tuple(ours(table, DIGEST).items())
    )
    submission = submit(
        emr,
        emr_once,
        build_run_job_flow(spec, [step(step_name(table, DIGEST))]),
        table,
        "us-east-1",
        DIGEST,
    )
    assert [b.cluster_id for b in active_backfills(emr, table, "us-east-1")] == [
        submission.cluster_id
    ]
    assert submission.started_cluster and not submission.reused

    # When nothing landed, the error is raised (no blind retry).
    other = table + "-x"
    spec = ClusterSpec(
        name=f"{TOOL_NAME}: {other}", log_uri="s3://l/", tags=tuple(ours(other, DIGEST).items())
    )
    emr_once.meta.events.register("before-call.emr.RunJobFlow", lose_answer)
    with pytest.raises(ReadTimeoutError):
        submit(emr, emr_once, build_run_job_flow(spec, [step("s")]), other, "us-east-1", DIGEST)
    assert active_backfills(emr, other, "us-east-1") == []


def test_target_cluster_must_take_steps(emr) -> None:
    cluster_id = start_cluster(emr, "team cluster", {}, [step("x")])
    assert check_target_cluster(emr, cluster_id)["Id"] == cluster_id
    set_states(cluster_id, cluster_state="TERMINATED")
    with pytest.raises(UserError, match="TERMINATED"):
        check_target_cluster(emr, cluster_id)
    with pytest.raises(UserError, match="no such EMR cluster"):
        check_target_cluster(emr, "j-NOSUCHCLUSTER")
