"""The seam for "where the job runs": one small protocol, one implementation per folder or file.

A target turns validated inputs into a plan (pure: `--dry-run` prints `plan.request` and
stops), sends it once (a lost answer is looked up, never sent twice), follows it to an end,
and cancels it when the user interrupts. The CLI only renders what these return, so adding a
place to run (EMR Serverless, say) is a new folder under `targets/`, not an edit of EMR's.

Lifecycle, as `populator.cli` drives it:
    plan = target.plan(inputs, bundle, args)      # no AWS call; raises UserError on bad options
    handle = target.submit(plan)                  # or an identical backfill already running
    outcome = target.watch(handle, deadline, log) # Ctrl-C/SIGTERM -> target.cancel(handle, …)
    target.report_uri(handle)                     # where the job's JSON report lands
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

Log = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    """Everything a submission will send, computed without a network call."""

    target: str  # "emr", "local", "serverless"
    operation: str  # the API call (RunJobFlow, AddJobFlowSteps, StartJobRun) or "spark-submit"
    request: Dict[str, Any]  # the exact request; redact with the storage secrets before showing
    digest: str  # the backfill's request digest: the duplicate guard and idempotency tokens
    report_uri: Optional[str] = None
    uploads: Tuple[Any, ...] = ()  # launcher.bundle.Artifact objects to upload before submit
    region: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)  # target-specific facts for rendering


@dataclass
class Handle:
    """What was submitted: enough to watch, cancel or re-attach from another process."""

    target: str
    ids: Dict[str, str]  # e.g. {"cluster_id": …, "step_id": …} or {"job_run_id": …}
    owned: bool  # this backfill started the compute (cancel stops all of it)
    reused: bool = False  # an identical backfill was already running: we follow that one
    region: Optional[str] = None
    report_uri: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """A target-neutral end (or `--timeout`) of a watch; `--json` renders these fields."""

    state: str  # the target's own final word: COMPLETED, FAILED, SUCCESS, CANCELLED, RUNNING…
    exit_code: int  # 0 done, 1 failed, 3 still running at the deadline, 130 cancelled by us
    elapsed: float
    cause: Optional[str] = None  # the probable cause of a failure, value-free
    ids: Dict[str, str] = field(default_factory=dict)
    actions: Tuple[str, ...] = ()  # what a cancel or clean-up did, in words
    details: Dict[str, Any] = field(default_factory=dict)  # target-specific extras


class Target(Protocol):
    """One place the job runs. Implementations live in `targets/<name>/` or `targets/<name>.py`."""

    name: str

    def plan(self, inputs: Any, bundle: Any, args: Any) -> Plan: ...

    def submit(self, plan: Plan) -> Handle: ...

    def watch(self, handle: Handle, deadline: Optional[float], log: Log) -> Outcome: ...

    def cancel(self, handle: Handle, why: str, log: Log) -> List[str]: ...

    def report_uri(self, handle: Handle) -> Optional[str]: ...
