"""Follow a submitted step to its end, and never leave a cluster running silently.

Polls DescribeStep/DescribeCluster with backoff (first interval, then x1.5 up to a cap, back
to the first interval after each state change), printing every state change with the elapsed
time. It ends in one of four ways, each with its documented exit code:
- success: the step COMPLETED (0);
- failure: the step FAILED/CANCELLED/INTERRUPTED, or the cluster ended under it (1); the
  step's and the driver's logs are fetched from the log URI and the probable cause is
  returned, with EMR's failure details and the cluster's state change reason. A cluster that
  failed to start (bootstrap, capacity, validation) is noticed as soon as it is TERMINATING
  with such a reason code; its step never ran, so no step logs are waited for (a failed
  bootstrap action's own output is read instead), and a hint says what to do. A cluster this
  tool started that is still up after its step failed is terminated (EMR's
  TERMINATE_CLUSTER should already do it: this is the safety net);
- time-out: still running at the deadline (3): nothing is touched, the caller prints how to
  re-attach;
- cancel: SIGINT (Ctrl-C) or SIGTERM (a CI runner stopping the job) (130): a cluster this
  tool started is terminated (its step ends with it); on a cluster we did not start, only
  the step is cancelled. Further signals are ignored until that is done, and it is said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from populator.core.errors import EXIT_CANCELLED, EXIT_JOB_FAILED, EXIT_OK, EXIT_STILL_RUNNING
from populator.launcher.targets.common.watch import Poll, Poller, collect_logs, follow
from populator.launcher.targets.emr.logs import (
    Cause,
    LogText,
    bootstrap_cause,
    fetch_bootstrap_logs,
    fetch_step_logs,
    probable_cause,
)
from populator.launcher.targets.emr.request import ACTIVE_CLUSTER_STATES

__all__ = [
    "CLUSTER_FAILURE_CODES",
    "ENDED_CLUSTER_STATES",
    "FAILED_STEP_STATES",
    "Outcome",
    "Watch",
    "cancel_backfill",
    "failure_hint",
    "wait_for_step",
]

FAILED_STEP_STATES = ("FAILED", "CANCELLED", "INTERRUPTED")
FINAL_STEP_STATES = ("COMPLETED", *FAILED_STEP_STATES)
NEVER_RAN_STEP_STATES = ("PENDING", "CANCEL_PENDING")
ENDED_CLUSTER_STATES = ("TERMINATED", "TERMINATED_WITH_ERRORS")
# StateChangeReason codes of a cluster that failed (mostly: failed to start). With one of
# these a TERMINATING cluster will not run the step: no need to wait for TERMINATED.
CLUSTER_FAILURE_CODES = (
    "BOOTSTRAP_FAILURE",
    "INSTANCE_FAILURE",
    "INSTANCE_FLEET_TIMEOUT",
    "VALIDATION_ERROR",
    "INTERNAL_ERROR",
)
_CAPACITY_WORDS = ("capacity", "limit", "quota", "not supported in", "unsupported")


@dataclass(frozen=True)
class Outcome:
    """How the wait ended: `state` is the step's last state, or TIMEOUT / CANCELLED."""

    state: str
    exit_code: int
    elapsed: float
    cluster_state: str = ""
    cluster_reason: Optional[str] = None
    failure_details: Optional[str] = None
    cause: Optional[Cause] = None
    logs: Tuple[str, ...] = ()
    actions: Tuple[str, ...] = ()  # what the cancel (or the failure's clean-up) did, in words
    cluster_code: Optional[str] = None  # the cluster's StateChangeReason code
    never_ran: bool = False  # the step never started (so it has no logs to wait for)
    hint: Optional[str] = None  # what to do about a cluster failure


@dataclass
class Watch(Poller):
    """One step to follow. `owned`: this tool started the cluster (terminate it on cancel)."""

    emr: Any
    cluster_id: str
    step_id: str
    owned: bool


def _reason(status: Dict[str, Any]) -> Optional[str]:
    reason = status.get("StateChangeReason") or {}
    parts = [str(reason[k]) for k in ("Code", "Message") if reason.get(k)]
    return ": ".join(parts) or None


def _reason_code(status: Dict[str, Any]) -> Optional[str]:
    code = (status.get("StateChangeReason") or {}).get("Code")
    return str(code) if code else None


def _cluster_ending(status: Dict[str, Any]) -> bool:
    """Ended, or on its way down because it failed (it will never run the step)."""
    state = status["State"]
    return state in ENDED_CLUSTER_STATES or (
        state == "TERMINATING" and _reason_code(status) in CLUSTER_FAILURE_CODES
    )


def failure_hint(code: Optional[str], message: str = "") -> Optional[str]:
    """What the user can do about a cluster that ended with this StateChangeReason."""
    lowered = message.lower()
    if code in ("INSTANCE_FAILURE", "INSTANCE_FLEET_TIMEOUT", "VALIDATION_ERROR") and any(
        word in lowered for word in _CAPACITY_WORDS
    ):
        return (
            "EC2 could not provide the instances (capacity in the Availability Zone, or an "
            "account limit): run the same command later, or choose another --instance-type, "
            "or a --subnet-id in another Availability Zone; check your EC2 quotas"
        )
    hints = {
        "BOOTSTRAP_FAILURE": (
            "a bootstrap action failed on a node; ours installs boto3 with pip where python3 "
            "lacks it, so the nodes must reach a Python package index (a NAT gateway, or a "
            "mirror configured for pip); fix that and run the same command again"
        ),
        "INSTANCE_FAILURE": (
            "EC2 instances failed or could not start: check the message, the subnet "
            "(--subnet-id) and your EC2 quotas; another --instance-type may help"
        ),
        "INSTANCE_FLEET_TIMEOUT": (
            "EMR could not get the instances in time: run again later or choose another "
            "--instance-type"
        ),
        "VALIDATION_ERROR": (
            "EMR rejected the cluster's configuration (roles, subnet, key pair, release label "
            "or instance type): fix the option the message names and run again"
        ),
        "INTERNAL_ERROR": "an EMR internal error: run the same command again",
        "USER_REQUEST": (
            "someone (or an automated policy) terminated the cluster: find out who before "
            "running the same command again"
        ),
    }
    return hints.get(code or "")


def _failure_details(status: Dict[str, Any]) -> Optional[str]:
    details = status.get("FailureDetails") or {}
    parts = [str(details[k]) for k in ("Reason", "Message") if details.get(k)]
    if details.get("LogFile"):
        parts.append(f"log: {details['LogFile']}")
    return "; ".join(parts) or None


def _describe_step(watch: Watch) -> Dict[str, Any]:
    return watch.emr.describe_step(ClusterId=watch.cluster_id, StepId=watch.step_id)["Step"]


def _poll(watch: Watch) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    step = _describe_step(watch)
    cluster = watch.emr.describe_cluster(ClusterId=watch.cluster_id)["Cluster"]
    if _cluster_ending(cluster["Status"]) and step["Status"]["State"] not in FINAL_STEP_STATES:
        # The step may have ended between the two reads (a step that COMPLETED ends its
        # transient cluster): read it again rather than call a success a failure.
        step = _describe_step(watch)
    return step["Status"], cluster["Status"]


def wait_for_step(watch: Watch) -> Outcome:
    """Poll until the step ends, the deadline passes or a signal arrives (see module doc)."""

    def poll() -> Poll:
        step_status, cluster_status = _poll(watch)
        state, cluster_state = step_status["State"], cluster_status["State"]
        line = f"step {watch.step_id} {state}, cluster {watch.cluster_id} {cluster_state}"

        def ended() -> Outcome:
            if state == "COMPLETED":
                return Outcome(state, EXIT_OK, watch.elapsed(), cluster_state)
            return _failed(watch, step_status, cluster_status)

        done = state in FINAL_STEP_STATES or _cluster_ending(cluster_status)
        return (state, cluster_state), line, ended if done else None

    def timed_out(states: Tuple[str, str]) -> Outcome:
        return Outcome("TIMEOUT", EXIT_STILL_RUNNING, watch.elapsed(), states[1])

    def cancel(what: str) -> Outcome:
        actions = cancel_backfill(
            watch.emr, watch.cluster_id, watch.step_id, watch.owned, what, watch.log
        )
        return Outcome("CANCELLED", EXIT_CANCELLED, watch.elapsed(), actions=tuple(actions))

    return follow(watch, poll, timed_out, cancel)


def cancel_backfill(
    emr: Any, cluster_id: str, step_id: str, owned: bool, what: str, log: Callable[[str], None]
) -> List[str]:
    """Terminate a cluster we started (its steps end with it); else cancel only our step.

    Returns what was done, in words (also logged); failures are said with the command that
    finishes the job by hand, never swallowed.
    """
    said: List[str] = []

    def say(message: str) -> None:
        said.append(message)
        log(message)

    say(f"{what}: cancelling the backfill, please wait")
    if owned:
        try:
            emr.terminate_job_flows(JobFlowIds=[cluster_id])
            say(
                f"terminated cluster {cluster_id}: this backfill started it; "
                f"step {step_id} ends with it"
            )
        except Exception as error:
            say(
                f"could NOT terminate cluster {cluster_id} ({error}); it may still be "
                f"running: aws emr terminate-clusters --cluster-ids {cluster_id}"
            )
        return said
    try:
        answer = emr.cancel_steps(
            ClusterId=cluster_id, StepIds=[step_id], StepCancellationOption="SEND_INTERRUPT"
        )
        info = (answer.get("CancelStepsInfoList") or [{}])[0]
        if info.get("Status") == "FAILED":
            raise RuntimeError(info.get("Reason") or "EMR refused")
        say(
            f"cancelled step {step_id}; cluster {cluster_id} keeps running "
            "(it was not started by this backfill)"
        )
    except Exception as error:
        say(
            f"could NOT cancel step {step_id} ({error}); cancel it yourself: "
            f"aws emr cancel-steps --cluster-id {cluster_id} --step-ids {step_id}"
        )
    return said


def _collect_logs(watch: Watch) -> List[LogText]:
    """The step's logs, once the driver's is there (or `log_wait` has passed)."""
    return collect_logs(
        watch,
        lambda: fetch_step_logs(watch.s3, watch.log_uri, watch.cluster_id, watch.step_id),
        lambda logs: len(logs) > 1 or bool(logs and probable_cause(logs) is not None),
        "the step's logs",
        " (EMR uploads them every few minutes)",
    )


def _bootstrap_logs(watch: Watch) -> List[LogText]:
    """A failed bootstrap action's output, read once (the cluster uploads it as it ends)."""
    if watch.s3 is None or not watch.log_uri:
        return []
    try:
        return fetch_bootstrap_logs(watch.s3, watch.log_uri, watch.cluster_id)
    except Exception as error:
        watch.log(f"could not read the bootstrap logs under {watch.log_uri}: {error}")
        return []


def _stop_our_cluster(watch: Watch, step_state: str) -> List[str]:
    """Terminate a cluster we started that outlived its failed step (it would idle, billed)."""
    try:
        watch.emr.terminate_job_flows(JobFlowIds=[watch.cluster_id])
        message = (
            f"terminated cluster {watch.cluster_id}: this backfill started it and its step "
            f"{watch.step_id} ended {step_state}"
        )
    except Exception as error:
        message = (
            f"could NOT terminate cluster {watch.cluster_id} ({error}); it may still be "
            f"running: aws emr terminate-clusters --cluster-ids {watch.cluster_id}"
        )
    watch.log(message)
    return [message]


def _failed(watch: Watch, step_status: Dict[str, Any], cluster_status: Dict[str, Any]) -> Outcome:
    state = step_status["State"]
    code = _reason_code(cluster_status)
    message = str((cluster_status.get("StateChangeReason") or {}).get("Message") or "")
    # A CANCELLED step that has a start time ran (e.g. a node died under it): its logs count.
    started = bool((step_status.get("Timeline") or {}).get("StartDateTime"))
    never_ran = state in NEVER_RAN_STEP_STATES or (state == "CANCELLED" and not started)
    actions: List[str] = []
    if watch.owned and cluster_status["State"] in ACTIVE_CLUSTER_STATES:
        actions = _stop_our_cluster(watch, state)
    if never_ran:
        logs = _bootstrap_logs(watch) if code == "BOOTSTRAP_FAILURE" else []
        cause = bootstrap_cause(logs)
    else:
        logs = _collect_logs(watch)
        cause = probable_cause(logs)
    return Outcome(
        state=state,
        exit_code=EXIT_JOB_FAILED,
        elapsed=watch.elapsed(),
        cluster_state=cluster_status["State"],
        cluster_reason=_reason(cluster_status),
        failure_details=_failure_details(step_status),
        cause=cause,
        logs=tuple(log.source for log in logs),
        actions=tuple(actions),
        cluster_code=code,
        never_ran=never_ran,
        hint=failure_hint(code, message),
    )
