"""What `inv run_emr` prints at the end, and the one `--json` result object."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional

from populator.cli.common import eprint, notice
from populator.core.errors import (
    EXIT_BAD_INPUT,
    EXIT_CANCELLED,
    EXIT_STILL_RUNNING,
    Cancelled,
    JobFailed,
    UserError,
)
from populator.launcher.targets.common.report import failure_lines
from populator.launcher.targets.common.timing import format_elapsed
from populator.launcher.targets.emr.console import (
    reattach_command,
)
from populator.launcher.targets.emr.options import Checked, EmrOptions
from populator.launcher.targets.emr.submit import (
    Submission,
)
from populator.launcher.targets.emr.wait import (
    CLUSTER_FAILURE_CODES,
    ENDED_CLUSTER_STATES,
    Outcome,
)


@dataclass
class Result:
    """The one object `--json` prints at the end, whatever happened: the target-neutral keys
    (the same in every target's --json), then EMR's and EMR Serverless' own (None elsewhere)."""

    # how it ended (every target's); its ids are also keys of their own (ID_KEYS)
    exit_code: int = 0
    state: Optional[str] = None
    error: Optional[str] = None
    cause: Optional[str] = None
    elapsed_seconds: Optional[float] = None
    actions: List[str] = field(default_factory=list)  # what a cancel or clean-up did, in words
    dry_run: bool = False
    target: str = "emr"
    ids: Dict[str, str] = field(default_factory=dict)
    # the plan: what was (or, in a dry run, would be) sent and uploaded, and where
    operation: Optional[str] = None
    request: Optional[Dict[str, Any]] = None
    request_digest: Optional[str] = None
    uploads: List[Dict[str, Any]] = field(default_factory=list)
    region: Optional[str] = None
    log_uri: Optional[str] = None
    report: Optional[str] = None
    method: Optional[Dict[str, Any]] = None  # --method resolved: requested, method, reason
    # what following it found
    job_report: Optional[Dict[str, Any]] = None  # the job's JSON report, read back after --wait
    write_budget: Optional[Dict[str, Any]] = None  # the job report's write_budget section
    progress: Optional[Dict[str, Any]] = None  # the last progress object seen by --wait
    reused: bool = False  # an identical backfill was already running: it was followed
    # EMR's (target "emr")
    console_url: Optional[str] = None
    started_cluster: Optional[bool] = None
    cluster_state: Optional[str] = None
    cluster_reason: Optional[str] = None
    # EMR Serverless' (target "serverless")
    created_application: Optional[bool] = None

    def as_json(self) -> Dict[str, Any]:
        return {**asdict(self), **{key: self.ids.get(key) for key in ID_KEYS}}


# The targets' ids, each a key of the --json object: EMR's, then EMR Serverless'.
ID_KEYS = ("cluster_id", "step_id", "application_id", "job_run_id")


def _say(options: EmrOptions, message: str) -> None:
    """Human output: stdout, unless --json keeps stdout for the one result object."""
    print(message, file=sys.stderr if options.json else sys.stdout, flush=True)


def emit(result: Result, options: EmrOptions) -> None:
    if options.json:
        print(json.dumps(result.as_json(), sort_keys=True), flush=True)


def concluded(
    body: Callable[[], None],
    result: Result,
    options: EmrOptions,
    user_error: Callable[[BaseException], Any],
    on_error: Callable[[], None] = lambda: None,
) -> int:
    """Run a target's `body`; however it ends, `--json` prints the one result object and the
    documented exit code follows (one home for every remote target's ending)."""
    from invoke.exceptions import Exit

    try:
        body()
    except (UserError, JobFailed, Cancelled) as error:
        on_error()
        result.exit_code = error.exit_code
        result.error = str(error)
        emit(result, options)
        raise
    except Exception as error:
        user = user_error(error)
        if user is None:
            raise
        result.exit_code = getattr(user, "exit_code", EXIT_BAD_INPUT)
        result.error = str(user)
        emit(result, options)
        raise user from None
    emit(result, options)
    if result.exit_code == EXIT_STILL_RUNNING:
        raise Exit(code=EXIT_STILL_RUNNING)
    return result.exit_code


def _report_summary(report: Dict[str, Any], uri: Optional[str]) -> Optional[str]:
    from populator.core.report import summary

    try:
        return summary(report)
    except (KeyError, TypeError, ValueError, AttributeError):
        notice(f"the job's report at {uri} is not in this version's format: see the file")
        return None


def _left_running(submission: Submission, outcome: Outcome) -> str:
    """Say plainly whether anything is still running (and billed) after a failure."""
    cluster = submission.cluster_id
    if outcome.cluster_state in ENDED_CLUSTER_STATES:
        return f"nothing is left running: cluster {cluster} is {outcome.cluster_state}"
    if outcome.cluster_state == "TERMINATING" or any(
        action.startswith("terminated cluster") for action in outcome.actions
    ):
        return f"nothing is left running: cluster {cluster} is terminating"
    if not submission.started_cluster:
        return f"cluster {cluster} keeps running: it was not started by this backfill"
    return (
        f"cluster {cluster} may still be running: "
        f"aws emr terminate-clusters --cluster-ids {cluster}"
    )


def _conclude(
    options: EmrOptions,
    checked: Checked,
    result: Result,
    submission: Submission,
    region: str,
    outcome: Outcome,
) -> None:
    result.state, result.exit_code = outcome.state, outcome.exit_code
    result.elapsed_seconds = round(outcome.elapsed, 1)
    result.actions = list(outcome.actions)
    took = format_elapsed(outcome.elapsed)
    result.cluster_state = outcome.cluster_state or None
    result.cluster_reason = outcome.cluster_reason
    if outcome.state == "COMPLETED":
        _say(options, f"step {submission.step_id} COMPLETED after {took}")
        if result.report:
            _say(options, f"report:  {result.report}")
        if result.job_report is not None:
            text = _report_summary(result.job_report, result.report)
            if text:
                _say(options, text)
        return
    if outcome.exit_code == EXIT_STILL_RUNNING:
        _still_running(checked, result, submission, region, took)
        return
    if outcome.exit_code == EXIT_CANCELLED:  # our Ctrl-C/SIGTERM, not a step EMR cancelled
        result.cause = "; ".join(outcome.actions)
        raise Cancelled(" ".join(outcome.actions[1:]) or "cancelled")
    _failed(result, submission, outcome, took)


def _still_running(
    checked: Checked, result: Result, submission: Submission, region: str, took: str
) -> None:
    cluster, step = submission.cluster_id, submission.step_id
    again = reattach_command(cluster, step, region, checked.timeout)
    if submission.started_cluster:
        stop = f"to stop it instead: aws emr terminate-clusters --cluster-ids {cluster}"
        left = (
            f"cluster {cluster} is left running ON PURPOSE: the step is still working, and "
            "stopping the cluster would throw that work away; it terminates by itself when "
            f"the step ends ({stop})"
        )
    else:
        left = (
            f"the step keeps running on cluster {cluster} (to cancel it instead: aws emr "
            f"cancel-steps --cluster-id {cluster} --step-ids {step})"
        )
    eprint(f"timeout: step {step} still running after {took}; it goes on. {left}")
    eprint(f"Re-attach with: {again}")
    result.error = f"still running at --timeout; {left}; re-attach with: {again}"


def _failed(result: Result, submission: Submission, outcome: Outcome, took: str) -> None:
    """Explain a failed or never-run step (cause, logs, the job's report) and raise JobFailed."""
    cluster, step = submission.cluster_id, submission.step_id
    reason = outcome.cluster_reason or "no reason given"
    left = _left_running(submission, outcome)
    start_failed = outcome.never_ran and outcome.cluster_code in CLUSTER_FAILURE_CODES
    if start_failed:
        lines = [
            f"cluster {cluster} failed to start ({outcome.cluster_state}: {reason}); "
            f"step {step} never ran ({outcome.state}) after {took}"
        ]
    elif outcome.never_ran:
        lines = [
            f"step {step} never ran ({outcome.state}): cluster {cluster} "
            f"{outcome.cluster_state} ({reason}) after {took}"
        ]
    else:
        lines = [f"step {step} {outcome.state} after {took}"]
        if outcome.failure_details:
            lines.append(f"EMR: {outcome.failure_details}")
        if outcome.cluster_reason:
            lines.append(f"cluster {cluster} {outcome.cluster_state}: {outcome.cluster_reason}")
    lines += _cause_lines(result, outcome, cluster)
    if outcome.hint:
        lines.append(f"what to do: {outcome.hint}")
    lines.append(left)
    for line in lines:
        eprint(line)
    if start_failed:
        raise JobFailed(
            f"EMR cluster {cluster} failed to start ({reason}), so the backfill (step {step}) "
            f"never ran; {left}. "
            + (f"What to do: {outcome.hint}. " if outcome.hint else "")
            + f"Console: {result.console_url}"
        )
    raise JobFailed(
        f"the backfill failed on EMR (step {step} {outcome.state}); "
        f"see the cause above and {result.console_url}"
    )


def _cause_lines(result: Result, outcome: Outcome, cluster: str) -> List[str]:
    lines: List[str] = []
    if outcome.cause is not None:
        lines.append(outcome.cause.render())
        result.cause = outcome.cause.text
    elif outcome.never_ran:
        if outcome.cluster_code == "BOOTSTRAP_FAILURE":
            lines.append(
                "the bootstrap action's output is not in the logs yet: "
                f"{(result.log_uri or 'the log URI').rstrip('/')}/{cluster}/node/"
            )
        result.cause = outcome.cluster_reason
    else:
        where = ", ".join(outcome.logs) or f"{result.log_uri or 'the log URI'} (nothing there yet)"
        lines.append(f"no traceback or Spark error found in the logs: {where}")
        result.cause = outcome.failure_details or outcome.cluster_reason
    if result.job_report is not None:
        found = failure_lines(result.job_report)
        if found:
            lines.append(f"the job's report ({result.report}) says:")
            lines.extend(f"  {line}" for line in found)
    return lines
