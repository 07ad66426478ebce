"""EMR Serverless behind the Target protocol, and `run_serverless`, what the CLI calls.

Order (each step may stop the command; none leaves anything half-done): local checks and the
plan (pure; `--dry-run` prints the requests, secrets redacted, and stops); the region, the
manifest table, the duplicate guard; uploads (content-addressed); the application (found by
its digest name or created once); StartJobRun (clientToken); with `--wait`, the watch, the
job's report, and the deletion of an application this backfill created.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Dict, List, Optional

from populator.core import aws
from populator.core.errors import EXIT_OK, UserError
from populator.launcher.bundle import Bundle, upload_artifacts
from populator.launcher.progress_view import ProgressFollower
from populator.launcher.targets.base import Handle, Outcome, Plan
from populator.launcher.targets.common.plan import upload_rows
from populator.launcher.targets.common.region import bucket_region
from populator.launcher.targets.common.report import failure_lines, fetch_report, report_uri
from populator.launcher.targets.common.request import TAG_DIGEST, TOOL_NAME, redact_request
from populator.launcher.targets.common.timing import format_elapsed
from populator.launcher.targets.serverless.cancel import (
    cancel_job_run,
    delete_commands,
    release_application,
)
from populator.launcher.targets.serverless.options import (
    Checked,
    ServerlessOptions,
    check_options,
)
from populator.launcher.targets.serverless.plan import TARGET, plan_backfill
from populator.launcher.targets.serverless.request import client_token
from populator.launcher.targets.serverless.submit import (
    JobRunRef,
    check_application,
    create_application,
    ended_runs,
    find_application,
    find_duplicate,
    landed_job_run,
    start_job_run,
)
from populator.launcher.targets.serverless.watch import JobRunWatch, wait_for_job_run

__all__ = [
    "Clients",
    "ServerlessTarget",
    "connect",
    "dry_run_outcome",
    "failure_summary",
    "outcome_json",
    "reattach_command",
    "still_running_lines",
]

Log = Callable[[str], None]


def reattach_command(application_id: str, job_run_id: str, region: str) -> str:
    return (
        f"inv run_emr --region {region} --application-id {application_id} "
        f"--job-run-id {job_run_id} --wait"
    )


@dataclass
class Clients:
    es: Any
    es_once: Any  # no retries: a lost answer is looked up, never blindly resent
    s3: Any
    region: str


def connect(options: ServerlessOptions, bucket: str) -> Clients:
    session = aws.session(options.profile, options.region)
    if options.region:
        region = options.region
    elif bucket:
        with aws.preflight():  # short time-outs for this one check
            region = bucket_region(session.client("s3", config=aws.client_config()), bucket)
    elif session.region_name:
        region = session.region_name
    else:
        raise UserError("re-attaching to a job run needs its region: give --region")
    session = aws.session(options.profile, region)
    return Clients(
        es=session.client("emr-serverless", config=aws.client_config()),
        es_once=session.client("emr-serverless", config=aws.client_config(retries=False)),
        s3=session.client("s3", config=aws.client_config()),
        region=region,
    )


class ServerlessTarget:
    """plan / submit / watch / cancel / report_uri for EMR Serverless."""

    name = TARGET

    def __init__(
        self,
        options: ServerlessOptions,
        log: Log,
        clients: Optional[Clients] = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self.checked: Checked = check_options(options)
        self.log = log
        self.clients = clients
        self.clock = clock
        self.sleep = sleep
        self.sending: Optional[Dict[str, Any]] = None  # the StartJobRun in flight, if any
        self.created: Optional[str] = None  # an application created (or found) for the plan

    # --- the protocol ------------------------------------------------------------------------

    def plan(self, inputs: Any, bundle: Bundle, args: Any = None) -> Plan:
        return plan_backfill(inputs, bundle, self.options, self.checked)

    def submit(self, plan: Plan) -> Handle:
        """The guard, the uploads, the application, then one StartJobRun."""
        c = self._clients()
        table, table_region = plan.extra["table"], plan.extra["table_region"]
        create = plan.request.get("CreateApplication")
        if create is None:
            check_application(c.es, plan.request["StartJobRun"]["applicationId"])
        existing = find_duplicate(c.es, table, table_region, plan.digest, self.options.force)
        if existing is not None:
            owned = create is not None and existing.application_id == find_application(
                c.es, create["name"]
            )
            self.log(
                f"this exact backfill is already running: application {existing.application_id}"
                f", job run {existing.job_run_id}; not submitting it again"
            )
            return self._handle(plan, existing, owned)
        kms = self.options.kms_key_id
        upload_artifacts(c.s3, plan.extra["assets"], plan.uploads, kms, log=self.log)
        start = dict(plan.request["StartJobRun"])
        if create is not None:
            generation = _terminated_named(c.es, create["name"])
            request = {**create, "clientToken": client_token(plan.digest, generation)}
            start["applicationId"] = create_application(c.es, c.es_once, request)
            self.created = start["applicationId"]
            self.log(f"application {start['applicationId']} ({create['name']}) in {c.region}")
        start["clientToken"] = client_token(
            plan.digest, ended_runs(c.es, start["applicationId"], start["name"])
        )
        self.sending = start
        ref = start_job_run(c.es, c.es_once, start)
        self.sending = None
        self.log(
            f"started EMR Serverless job run {ref.job_run_id} on application "
            f"{ref.application_id} in {c.region}: backfills DynamoDB table '{table}'"
        )
        return self._handle(plan, ref, owned=create is not None)

    def watch(self, handle: Handle, deadline: Optional[float], log: Log) -> Outcome:
        c = self._clients()
        follower = self._progress_follower(handle)
        try:
            outcome = wait_for_job_run(
                JobRunWatch(
                    es=c.es,
                    application_id=handle.ids["application_id"],
                    job_run_id=handle.ids["job_run_id"],
                    s3=c.s3,
                    log_uri=handle.extra.get("log_uri"),
                    deadline=deadline,
                    poll_interval=self.checked.poll_interval,
                    log_wait=self.checked.log_wait,
                    log=log if follower is None else follower.wrap_log(log),
                    clock=self.clock,
                    sleep=self.sleep,
                    on_poll=None if follower is None else follower.poll,
                )
            )
        finally:
            if follower is not None:
                follower.close()
        if follower is None:
            return outcome
        return replace(outcome, details={**outcome.details, "progress": follower.as_json()})

    def _progress_follower(self, handle: Handle) -> Optional[ProgressFollower]:
        """The job's progress object beside its --report, read at each poll (as for EMR); only
        objects written after this job run was created count. None: no report to follow."""
        if handle.report_uri is None:
            return None
        try:
            c = self._clients()
            run = c.es.get_job_run(
                applicationId=handle.ids["application_id"], jobRunId=handle.ids["job_run_id"]
            )["jobRun"]
            created = run.get("createdAt")
            return ProgressFollower(c.s3, handle.report_uri, sys.stderr, not_before=created)
        except Exception as error:  # progress is a courtesy: the wait goes on without it
            self.log(f"notice: progress is not shown: {error}")
            return None

    def cancel(self, handle: Handle, why: str, log: Log) -> List[str]:
        c = self._clients()
        app, run = handle.ids["application_id"], handle.ids["job_run_id"]
        actions = cancel_job_run(c.es, app, run, why, log)
        if handle.owned:
            actions += self.release(handle, log)
        return actions

    def report_uri(self, handle: Handle) -> Optional[str]:
        return handle.report_uri

    # --- helpers -----------------------------------------------------------------------------

    def release(self, handle: Handle, log: Log) -> List[str]:
        c = self._clients()
        return release_application(
            c.es,
            handle.ids["application_id"],
            c.region,
            log,
            handle.ids["job_run_id"],
            self.clock,
            self.sleep,
        )

    def interrupted_submission(self, plan: Plan) -> Optional[Handle]:
        """After Ctrl-C inside submit: the job run that landed anyway, if any (to cancel)."""
        if self.sending is None:
            return None
        landed = landed_job_run(self._clients().es, self.sending)
        if landed is None:
            return None
        ref = JobRunRef(self.sending["applicationId"], landed)
        return self._handle(plan, ref, owned=self.created is not None)

    def attach(self, application_id: str, job_run_id: str) -> Handle:
        """A job run submitted earlier: the log URI and report from what EMR Serverless holds."""
        c = self._clients()
        run = c.es.get_job_run(applicationId=application_id, jobRunId=job_run_id)["jobRun"]
        app = c.es.get_application(applicationId=application_id)["application"]
        tags = app.get("tags") or {}
        owned = str(app.get("name", "")).startswith(TOOL_NAME) and TAG_DIGEST in tags
        monitoring = (run.get("configurationOverrides") or {}).get("monitoringConfiguration")
        log_uri = ((monitoring or {}).get("s3MonitoringConfiguration") or {}).get("logUri")
        args = (run.get("jobDriver") or {}).get("sparkSubmit", {}).get("entryPointArguments")
        return Handle(
            target=TARGET,
            ids={"application_id": application_id, "job_run_id": job_run_id},
            owned=owned,
            reused=True,
            region=c.region,
            report_uri=report_uri([str(a) for a in args or []]),
            extra={"log_uri": log_uri, "digest": (run.get("tags") or {}).get(TAG_DIGEST)},
        )

    def read_report(self, handle: Handle) -> Optional[Dict[str, Any]]:
        """The job's JSON report (a courtesy: trouble reading it is said, never fatal)."""
        c = self._clients()
        uri = handle.report_uri
        if uri is None:
            return None
        try:
            run = c.es.get_job_run(
                applicationId=handle.ids["application_id"], jobRunId=handle.ids["job_run_id"]
            )["jobRun"]
            fetched = fetch_report(c.s3, uri, not_before=run.get("createdAt"))
        except Exception as error:
            self.log(f"notice: could not read the job's report at {uri}: {error}")
            return None
        if fetched.status != "found":
            self.log(f"notice: no job report used from {uri}: {fetched.detail}")
            return None
        return fetched.report

    def _clients(self) -> Clients:
        if self.clients is None:
            raise RuntimeError("ServerlessTarget used before connect()")
        return self.clients

    def _handle(self, plan: Plan, ref: JobRunRef, owned: bool) -> Handle:
        return Handle(
            target=TARGET,
            ids={"application_id": ref.application_id, "job_run_id": ref.job_run_id},
            owned=owned,
            reused=ref.reused,
            region=self._clients().region,
            report_uri=plan.report_uri,
            extra={"log_uri": plan.extra["log_uri"], "digest": plan.digest},
        )


def _terminated_named(es: Any, name: str) -> int:
    """Deleted applications of this name: the CreateApplication token generation."""
    count = 0
    for page in es.get_paginator("list_applications").paginate(states=["TERMINATED"]):
        count += sum(1 for app in page.get("applications", []) if app.get("name") == name)
    return count


def dry_run_outcome(plan: Plan, secrets: List[str], out: Log, log: Log, as_json: bool) -> Outcome:
    shown = redact_request(plan.request, secrets)
    if not as_json:
        out(json.dumps(shown, indent=2))
    uploads = upload_rows(plan.uploads, plan.extra["assets"])
    for upload in uploads:
        log(f"dry run: would upload {upload['role']} to {upload['uri']}")
    where = plan.region or "the archive bucket's region"
    log(f"dry run: would call EMR Serverless {plan.operation} in {where}; nothing was created")
    return Outcome(
        "DRY_RUN",
        EXIT_OK,
        0.0,
        details={
            "dry_run": True,
            "operation": plan.operation,
            "request": shown,
            "request_digest": plan.digest,
            "uploads": uploads,
            "log_uri": plan.extra["log_uri"],
            "report": plan.report_uri,
        },
    )


def outcome_json(outcome: Outcome) -> Dict[str, Any]:
    """The `--json` object: the neutral fields, the ids (application_id, job_run_id), extras."""
    found = asdict(outcome)
    ids, details = found.pop("ids"), found.pop("details")
    found["elapsed_seconds"] = round(found.pop("elapsed"), 1)
    found["actions"] = list(found["actions"])
    return {"target": TARGET, **found, **ids, **details}


def failure_summary(outcome: Outcome, report: Optional[Dict[str, Any]]) -> List[str]:
    """The lines that explain a failed job run: state, stateDetails, cause, report, hint."""
    run = outcome.ids.get("job_run_id")
    lines = [f"job run {run} {outcome.state} after {format_elapsed(outcome.elapsed)}"]
    details = outcome.details
    if details.get("state_details"):
        lines.append(f"EMR Serverless: {details['state_details']}")
    if details.get("cause_source") and outcome.cause:
        lines.append(
            f"probable cause ({details['cause_kind']}, from {details['cause_source']}):\n"
            f"{outcome.cause}"
        )
    else:
        where = ", ".join(details.get("logs") or []) or "the driver's log (nothing there yet)"
        lines.append(f"no traceback or Spark error found in {where}")
    if report is not None:
        found = failure_lines(report)
        if found:
            lines.append("the job's report says:")
            lines.extend(f"  {line}" for line in found)
    if details.get("hint"):
        lines.append(f"what to do: {details['hint']}")
    return lines


def still_running_lines(handle: Handle, region: str) -> List[str]:
    app, run = handle.ids["application_id"], handle.ids["job_run_id"]
    lines = [
        f"timeout: job run {run} is still running; it goes on. Re-attach with: "
        f"{reattach_command(app, run, region)}",
        f"to cancel it instead: aws emr-serverless cancel-job-run --region {region} "
        f"--application-id {app} --job-run-id {run}",
    ]
    if handle.owned:
        lines.append(
            f"application {app} is left ON PURPOSE (its job run is working); it stops by itself "
            f"when idle; delete it afterwards with: {delete_commands(app, region)}"
        )
    return lines
