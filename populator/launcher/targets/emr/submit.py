"""Send a built request to EMR, refusing to start a second backfill of the same table.

A backfill cluster carries tags naming its table and its request digest. Before sending, the
active clusters (STARTING, BOOTSTRAPPING, RUNNING, WAITING) are searched for those tags:
- same digest: the identical request is already running; it is returned, not sent again;
- same table, other digest: another backfill writes that table; refused unless `force`.
On an existing cluster (`--cluster-id`) the cluster's pending and running steps are searched
the same way, by the table and digest in the step name.

RunJobFlow and AddJobFlowSteps have no idempotency token, so they are sent once (pass a client
without retries): after an ambiguous failure (time-out, connection reset) the digest tag is
looked up before giving up, instead of a blind retry that could start a duplicate cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional

from populator.core.errors import UserError
from populator.core.retry import is_retryable
from populator.launcher.targets.common.guard import DuplicateBackfill, backfills
from populator.launcher.targets.common.request import TAG_DIGEST, TOOL_NAME, step_name
from populator.launcher.targets.emr.request import ACTIVE_CLUSTER_STATES

__all__ = [
    "ACTIVE_STEP_STATES",
    "ActiveBackfill",
    "Submission",
    "active_backfills",
    "check_target_cluster",
    "find_duplicate",
    "submit",
]

ACTIVE_STEP_STATES = ("PENDING", "CANCEL_PENDING", "RUNNING")
RUNNABLE_CLUSTER_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")


@dataclass(frozen=True)
class Submission:
    """Where the backfill runs. `started_cluster`: this tool created the cluster (so it may
    terminate it on cancel); `reused`: an identical request was already running."""

    cluster_id: str
    step_id: str
    started_cluster: bool
    reused: bool = False


@dataclass(frozen=True)
class ActiveBackfill:
    cluster_id: str
    cluster_name: str
    state: str
    digest: Optional[str]
    step_id: Optional[str] = None
    tagged: bool = True  # False: found by step name on a cluster we did not start


def _tags(cluster: Dict[str, Any]) -> Dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in cluster.get("Tags", [])}


def _list_active(emr: Any) -> Iterator[Dict[str, Any]]:
    for page in emr.get_paginator("list_clusters").paginate(
        ClusterStates=list(ACTIVE_CLUSTER_STATES)
    ):
        yield from page.get("Clusters", [])


def active_backfills(emr: Any, table: str, table_region: str) -> List[ActiveBackfill]:
    """Active clusters started by this tool for `table` in `table_region` (by their tags)."""
    found = []
    for summary in _list_active(emr):
        if not str(summary.get("Name", "")).startswith(TOOL_NAME):
            continue  # only our clusters carry our name; saves a DescribeCluster per cluster
        cluster = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]
        tags = _tags(cluster)
        if not backfills(tags, table, table_region):
            continue
        found.append(
            ActiveBackfill(
                cluster_id=cluster["Id"],
                cluster_name=cluster.get("Name", ""),
                state=cluster["Status"]["State"],
                digest=tags.get(TAG_DIGEST),
            )
        )
    return found


def _active_steps(emr: Any, cluster_id: str) -> List[Dict[str, Any]]:
    steps: List[Dict[str, Any]] = []
    for page in emr.get_paginator("list_steps").paginate(
        ClusterId=cluster_id, StepStates=list(ACTIVE_STEP_STATES)
    ):
        steps.extend(page.get("Steps", []))
    return steps


def _backfill_steps(emr: Any, cluster_id: str, table: str) -> List[Dict[str, Any]]:
    prefix = step_name(table, "")[: -len("[]")]
    return [s for s in _active_steps(emr, cluster_id) if str(s.get("Name", "")).startswith(prefix)]


def _step_of(emr: Any, cluster_id: str, digest: str, table: str) -> Optional[str]:
    wanted = step_name(table, digest)
    steps = emr.list_steps(ClusterId=cluster_id).get("Steps", [])
    for step in steps:
        if step.get("Name") == wanted:
            return step["Id"]
    return steps[-1]["Id"] if steps else None


def find_duplicate(
    emr: Any,
    table: str,
    table_region: str,
    digest: str,
    cluster_id: Optional[str] = None,
    force: bool = False,
) -> Optional[Submission]:
    """The running identical request (to re-attach to), else None when it is safe to send.

    Raises DuplicateBackfill when another request for the table is active, unless `force`.
    """
    others: List[ActiveBackfill] = []
    for backfill in active_backfills(emr, table, table_region):
        if backfill.digest == digest:
            step = _step_of(emr, backfill.cluster_id, digest, table)
            if step is not None:
                return Submission(backfill.cluster_id, step, started_cluster=True, reused=True)
        others.append(backfill)
    if cluster_id is not None:
        for step in _backfill_steps(emr, cluster_id, table):
            if step.get("Name") == step_name(table, digest):
                return Submission(cluster_id, step["Id"], started_cluster=False, reused=True)
            others.append(
                ActiveBackfill(cluster_id, "", step["Status"]["State"], None, step["Id"], False)
            )
    if others and not force:
        listed = "; ".join(
            f"cluster {b.cluster_id} ({b.state})" + (f" step {b.step_id}" if b.step_id else "")
            for b in others
        )
        raise DuplicateBackfill(
            f"another backfill of DynamoDB table '{table}' ({table_region}) is active: {listed}. "
            "Two backfills of one table double the writes and the cost; wait for it to end "
            "(re-attach with --cluster-id/--step-id --wait), or pass --force to start anyway"
        )
    return None


def check_target_cluster(emr: Any, cluster_id: str) -> Dict[str, Any]:
    """The existing cluster a step is added to must exist and still take steps."""
    try:
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    except Exception as error:
        if is_retryable(error):
            raise
        raise UserError(f"--cluster-id {cluster_id}: no such EMR cluster here ({error})") from None
    state = cluster["Status"]["State"]
    if state not in RUNNABLE_CLUSTER_STATES:
        raise UserError(
            f"--cluster-id {cluster_id} is {state}: it no longer runs steps; leave out "
            "--cluster-id to start a new cluster"
        )
    return cluster


def _first_step(emr: Any, cluster_id: str) -> str:
    steps = emr.list_steps(ClusterId=cluster_id).get("Steps", [])
    if not steps:
        raise RuntimeError(f"EMR started cluster {cluster_id} without the backfill step")
    return steps[-1]["Id"]  # newest first: the last one is the first submitted


def submit(
    emr: Any,
    emr_once: Any,
    request: Dict[str, Any],
    table: str,
    table_region: str,
    digest: str,
) -> Submission:
    """RunJobFlow (no `JobFlowId` in the request) or AddJobFlowSteps, sent exactly once."""
    cluster_id = request.get("JobFlowId")
    try:
        if cluster_id is None:
            new_cluster = emr_once.run_job_flow(**request)["JobFlowId"]
            return Submission(new_cluster, _first_step(emr, new_cluster), started_cluster=True)
        step_ids = emr_once.add_job_flow_steps(**request)["StepIds"]
        return Submission(cluster_id, step_ids[0], started_cluster=False)
    except Exception as error:
        if not is_retryable(error):
            raise
        # Did the request arrive before the connection failed? Look before anything else.
        landed = find_duplicate(emr, table, table_region, digest, cluster_id, force=True)
        if landed is not None:
            return Submission(landed.cluster_id, landed.step_id, landed.started_cluster)
        raise
