"""EMR for the wait tests: a cluster this tool started in moto with its one step, a Watch of
it on a fake clock, and the logs EMR copies to a cluster's log URI."""

from __future__ import annotations

import gzip
from typing import Any, Dict, List

from devkit.emr import Clock, set_states, start_cluster, step
from populator.launcher.targets.emr.wait import Watch


def started_step(
    emr: Any, step_state: str = "RUNNING", cluster_state: str = "RUNNING"
) -> Dict[str, str]:
    """A cluster named as this tool names its own, with one step in these states."""
    cluster_id = start_cluster(emr, "event-manifest-populator: t", {}, [step("s")])
    step_id = emr.list_steps(ClusterId=cluster_id)["Steps"][0]["Id"]
    set_states(cluster_id, step_state=step_state, cluster_state=cluster_state)
    return {"cluster": cluster_id, "step": step_id}


def fake_watch(emr: Any, job: Dict[str, str], clock: Clock, **settings: Any) -> Watch:
    """A Watch of ``job`` (owned by default) on ``clock``; what it says is kept in ``.said``
    unless ``settings`` give another ``log``."""
    said: List[str] = []
    options: Dict[str, Any] = {
        "owned": True,
        "log": said.append,
        "clock": clock.time,
        "sleep": clock.sleep,
    }
    options.update(settings)
    w = Watch(emr=emr, cluster_id=job["cluster"], step_id=job["step"], **options)
    w.said = said  # type: ignore[attr-defined]
    return w


def put_step_logs(
    s3: Any,
    bucket: str,
    base: str,
    step_id: str,
    app: str,
    driver: bytes,
    submitted: str = "INFO Client: Submitted application",
    driver_log: str = "stderr.gz",
) -> None:
    """What EMR copies below ``base`` (``<log uri><cluster id>/``): the step's stderr naming
    its YARN application ``app``, and the stderr of that application's driver container
    (gzipped when ``driver_log`` ends in .gz)."""
    s3.put_object(
        Bucket=bucket,
        Key=f"{base}steps/{step_id}/stderr.gz",
        Body=gzip.compress(f"{submitted} {app}\n".encode()),
    )
    container = "container_" + app[len("application_") :] + "_01_000001"
    body = gzip.compress(driver) if driver_log.endswith(".gz") else driver
    s3.put_object(Bucket=bucket, Key=f"{base}containers/{app}/{container}/{driver_log}", Body=body)
