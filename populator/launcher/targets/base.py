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

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple

from populator.core.job_args import FLAGS

Log = Callable[[str], None]


@dataclass(frozen=True)
class LaunchOptions:
    """What every launching task takes: the job flags it has fields for (`job_fields`), every
    other job flag in `job_extra` (by dest), `--dry-run` and `--json`. As typed: each target
    checks them (a number may still be a string)."""

    since: Optional[str] = None
    run_manifest_table: Optional[str] = None
    bad_rows: Optional[str] = None
    in_flight: Any = None
    include_expired: bool = False
    accept_read_errors: bool = False
    dry_run: bool = False
    json: bool = False
    job_extra: Mapping[str, Any] = field(default_factory=dict)  # further job flags (job_args)


def job_fields(options_class: type) -> Tuple[str, ...]:
    """The job flags (core.job_args.FLAGS dests) an options dataclass has fields for; the
    task sends every other job flag in `job_extra`, so a flag added later needs no field."""
    dests = {flag.dest for flag in FLAGS}
    return tuple(f.name for f in fields(options_class) if f.name in dests)


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
