"""EMR faults moto cannot show by itself, added to the fake (never to our code).

- moto's DescribeCluster gives a `StateChangeReason` with a `Message` but never a `Code`,
  while EMR says why a cluster ended with one (BOOTSTRAP_FAILURE, INSTANCE_FAILURE,
  VALIDATION_ERROR, ...): `reason_codes` makes moto's Cluster answer with the code a test
  sets through `fail_cluster`.
- moto has no CancelSteps (a 500 that botocore retries for ~20 s): `cancel_steps` adds it to
  moto's EMR responses with EMR's documented answer, so a subprocess reaches it over HTTP.

Both patch moto's classes with pytest's monkeypatch (undone after the test); the threaded
moto server runs in the test process, so `inv` subprocesses see the patched fake.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import pytest
from moto.core.responses import ActionResult
from moto.emr.models import Cluster
from moto.emr.responses import ElasticMapReduceResponse

from devkit.emr import cluster

CANCELLABLE = ("PENDING", "RUNNING")


def reason_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Cluster.status.fget  # type: ignore[attr-defined]

    def status(self: Cluster) -> Dict[str, Any]:
        found = original(self)
        code = getattr(self, "state_change_code", None)
        if code:
            found["StateChangeReason"] = {**found.get("StateChangeReason", {}), "Code": code}
        return found

    monkeypatch.setattr(Cluster, "status", property(status))


def fail_cluster(
    cluster_id: str,
    state: str,
    code: str,
    message: str,
    step_state: Optional[str] = None,
) -> None:
    """Put a cluster in `state` with EMR's reason (code + message), its first step in
    `step_state` (not started: no StartDateTime), as EMR does when a cluster cannot start."""
    found = cluster(cluster_id)
    found.state = state
    found.state_change_code = code
    found.last_state_change_reason = message
    if step_state is not None:
        found.steps[0].state = step_state
        if step_state in ("PENDING", "CANCELLED"):
            found.steps[0].start_date_time = None  # it never started (moto starts the first)


def cancel_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(self: ElasticMapReduceResponse) -> ActionResult:
        wanted = self._get_param("StepIds", [])
        infos = []
        for step in cluster(self._get_param("ClusterId")).steps:
            if step.id not in wanted:
                continue
            if step.state in CANCELLABLE:
                step.state = "CANCELLED"
                infos.append({"StepId": step.id, "Status": "SUBMITTED"})
            else:
                reason = f"step is {step.state}"
                infos.append({"StepId": step.id, "Status": "FAILED", "Reason": reason})
        return ActionResult({"CancelStepsInfoList": infos})

    monkeypatch.setattr(ElasticMapReduceResponse, "cancel_steps", answer, raising=False)
