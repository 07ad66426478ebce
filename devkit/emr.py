"""Drive moto's EMR from tests: moto never moves clusters or steps through their states.

ThreadedMotoServer serves from this process, so its backend objects are reachable here
(`moto.backends.get_backend`); `moto.emr.models.emr_backends` is the same registry. moto's
server puts every EMR cluster in us-east-1 whatever the client's region (it reads the region
from the host name, and ours is 127.0.0.1).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from populator.launcher.targets.emr.request import ClusterSpec, build_run_job_flow, build_spark_step


def cluster(cluster_id: str) -> Any:
    """moto's Cluster object behind `cluster_id`, whatever region it was filed under."""
    for region_backend in get_backend("emr")[DEFAULT_ACCOUNT_ID].values():
        if cluster_id in region_backend.clusters:
            return region_backend.clusters[cluster_id]
    raise KeyError(cluster_id)


def set_states(
    cluster_id: str,
    step_state: Optional[str] = None,
    cluster_state: Optional[str] = None,
    reason: Optional[str] = None,
    step_id: Optional[str] = None,
) -> None:
    """Move a step (the first, or `step_id`) and/or its cluster to a state, as EMR would."""
    found = cluster(cluster_id)
    if step_state is not None:
        step = next(s for s in found.steps if step_id in (None, s.id))
        step.state = step_state
    if cluster_state is not None:
        found.state = cluster_state
        if reason is not None:
            found.last_state_change_reason = reason


def start_cluster(emr: Any, name: str, tags: Dict[str, str], steps: List[Dict[str, Any]]) -> str:
    """A cluster as another launcher (or an earlier run of ours) would have started it."""
    spec = ClusterSpec(name=name, log_uri="s3://logs-bucket/emr/", tags=tuple(tags.items()))
    return emr.run_job_flow(**build_run_job_flow(spec, steps))["JobFlowId"]


def step(name: str) -> Dict[str, Any]:
    return build_spark_step(name, "s3://b/job.py", ["--x"], "s3://b/p.zip")


class Clock:
    """A fake monotonic clock; the n-th sleep advances it and may run one EMR event."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: List[float] = []
        self.events: Dict[int, Callable[[], None]] = {}

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        event = self.events.pop(len(self.sleeps), None)
        if event is not None:
            event()
