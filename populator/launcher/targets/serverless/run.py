"""`run_serverless`: one backfill on EMR Serverless, from validated inputs to an Outcome.

The CLI validates the three inputs and builds the bundle, then calls this; it renders the
Outcome (`outcome_json` for `--json`) and exits with `outcome.exit_code`. Bad options raise
UserError (exit 2) before any AWS call. Ctrl-C/SIGTERM after submission cancels the job run
(and releases an application this backfill created), and says so (130).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable, Optional

from populator.core import aws
from populator.core.errors import (
    EXIT_CANCELLED,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_STILL_RUNNING,
)
from populator.core.location import parse_s3_uri
from populator.launcher.bundle import Bundle
from populator.launcher.signals import Signals, Terminated, interrupt_name
from populator.launcher.targets.base import Handle, Outcome, Plan
from populator.launcher.targets.serverless.cancel import delete_commands, release_application
from populator.launcher.targets.serverless.options import ServerlessOptions
from populator.launcher.targets.serverless.target import (
    Clients,
    ServerlessTarget,
    connect,
    dry_run_outcome,
    failure_summary,
    reattach_command,
    still_running_lines,
)

__all__ = ["run_serverless"]

Log = Callable[[str], None]
# Write tasks at once, for the on-demand warning (launcher/write_rate.py): EMR Serverless'
# defaults, 3 executors (spark.executor.instances) of 4 vCPUs (spark.executor.cores). Dynamic
# allocation may add executors, so the estimate is a floor.
DEFAULT_SLOTS = 3 * 4


def run_serverless(
    inputs: Any,
    bundle: Bundle,
    options: ServerlessOptions,
    log: Log,
    out: Log = print,
    clients: Optional[Clients] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Plan, guard, upload, submit and (with `wait`) follow one backfill (module doc)."""
    target = ServerlessTarget(options, log, clients, clock, sleep)
    if options.job_run_id:
        if target.clients is None:
            target.clients = connect(options, "")
        return _follow(target, target.attach(str(options.application_id), options.job_run_id))
    plan = target.plan(inputs, bundle)
    if options.dry_run:
        return dry_run_outcome(plan, list(inputs.storage.secrets()), out, log, options.json)
    if target.clients is None:
        target.clients = connect(options, parse_s3_uri(inputs.archive).bucket)
    from populator.launcher.inputs import ensure_manifest_table
    from populator.launcher.write_rate import expected_write_rate

    with aws.preflight():  # a check before any work: seconds, not minutes, when AWS hangs
        ensure_manifest_table(
            inputs.storage,
            options.create_table,
            profile=options.profile,
            log=log,
            method=str(options.job_extra.get("method") or "write"),
            expected_rate=expected_write_rate(DEFAULT_SLOTS, target.checked.in_flight),
        )
    base = {"request_digest": plan.digest, "log_uri": plan.extra["log_uri"]}
    with Signals() as signals:
        handle: Optional[Handle] = None
        try:
            handle = target.submit(plan)
            signals.check()  # a signal whose exception a library call swallowed
            return _follow(target, handle, base)
        except (KeyboardInterrupt, Terminated) as interrupt:
            signals.ignore()
            return _interrupted(target, handle, interrupt_name(interrupt), plan, base)


def _ids(handle: Handle) -> dict:
    return dict(handle.ids)


def _follow(target: ServerlessTarget, handle: Handle, base: Optional[dict] = None) -> Outcome:
    """After submission: say where it runs; with --wait, watch it, report, clean up."""
    options, log, region = target.options, target.log, str(handle.region)
    app, run = handle.ids["application_id"], handle.ids["job_run_id"]
    details = {
        **(base or {}),
        "request_digest": handle.extra.get("digest"),
        "log_uri": handle.extra.get("log_uri"),
        "region": region,
        "report": handle.report_uri,
        "created_application": handle.owned,
        "reused": handle.reused,
    }
    if handle.extra.get("log_uri"):
        prefix = str(handle.extra["log_uri"]).rstrip("/")
        log(f"logs:    {prefix}/applications/{app}/jobs/{run}/SPARK_DRIVER/")
    if not (options.wait or options.job_run_id):
        log(f"follow:  {reattach_command(app, run, region)}")
        actions = []
        if handle.owned:
            actions.append(
                f"application {app} was created for this backfill and stops by itself when "
                f"idle; delete it when the job run has ended: {delete_commands(app, region)}"
            )
            log(actions[-1])
        return Outcome(
            "SUBMITTED", EXIT_OK, 0.0, ids=_ids(handle), actions=tuple(actions), details=details
        )
    deadline = None if target.checked.timeout is None else target.clock() + target.checked.timeout
    log(
        f"waiting for job run {run}"
        + (f" (at most {int(target.checked.timeout)}s)" if target.checked.timeout else "")
        + "; Ctrl-C cancels it"
    )
    outcome = target.watch(handle, deadline, log)
    if outcome.exit_code == EXIT_STILL_RUNNING:
        for line in still_running_lines(handle, region):
            log(line)
        return _merge(outcome, details)
    report = None if outcome.exit_code == EXIT_CANCELLED else target.read_report(handle)
    details["job_report"] = report
    actions = list(outcome.actions)
    if handle.owned:
        actions += target.release(handle, log)
    if outcome.exit_code == EXIT_JOB_FAILED:
        for line in failure_summary(outcome, report):
            log(line)
    elif outcome.exit_code == EXIT_OK:
        log(f"job run {run} SUCCESS")
        if handle.report_uri:
            log(f"report:  {handle.report_uri}")
    return _merge(outcome, details, actions)


def _merge(outcome: Outcome, details: dict, actions: Optional[list] = None) -> Outcome:
    """The watch's Outcome with the run's details (the watch's own win) and the actions."""
    return replace(
        outcome,
        actions=tuple(outcome.actions if actions is None else actions),
        details={**details, **outcome.details},
    )


def _interrupted(
    target: ServerlessTarget, handle: Optional[Handle], what: str, plan: Plan, base: dict
) -> Outcome:
    """Ctrl-C/SIGTERM outside the watch: cancel what was submitted, or say nothing runs."""
    if handle is None:
        try:
            handle = target.interrupted_submission(plan)
        except Exception as error:  # say it; never a traceback while cancelling
            target.log(f"could not look for the job run being submitted: {error}")
    if handle is None:
        if target.sending is not None or target.created is not None:
            message = (
                f"{what} while submitting to EMR Serverless: nothing was found running, but "
                "run the same command again to be sure (it finds this backfill by its tag "
                f"populator:request-digest={plan.digest})"
            )
        else:
            message = f"{what}: stopped before anything was submitted; nothing runs"
        target.log(message)
        actions = [message]
        if target.created is not None:
            clients = target.clients
            assert clients is not None
            actions += release_application(clients.es, target.created, clients.region, target.log)
        return Outcome("CANCELLED", EXIT_CANCELLED, 0.0, actions=tuple(actions), details=base)
    actions = target.cancel(handle, what, target.log)
    return Outcome(
        "CANCELLED", EXIT_CANCELLED, 0.0, ids=_ids(handle), actions=tuple(actions), details=base
    )
