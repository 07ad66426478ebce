"""`inv run_emr`: validate locally, package and upload, start the backfill on EMR, follow it.

Order matters (each step may stop the command; none leaves anything half-done):
1. everything local: the three inputs, --since, both configs, every option, the job bundle:
   a mistake exits 2 before any AWS call;
2. `--dry-run` prints the exact request (secrets redacted) and stops: nothing is created;
3. the region (the archive bucket's unless --region), the events-manifest table (created
   when missing unless --no-create-table), the duplicate-backfill guard;
4. uploads (content-addressed, skipped when present), then one RunJobFlow/AddJobFlowSteps;
5. with --wait, follow the step (populator.launcher.targets.emr.wait) and explain a failure;
   when it ends,
   read the job's JSON report back from the `--report` URI in the step's arguments (printed
   as the job's summary on success, its errors on failure; the dict is in the --json result).
Exit codes: 0 ok, 1 job failed, 2 bad input, 3 still running at --timeout, 130 cancelled.
Re-attach to a submitted step: `--cluster-id J --step-id S` (implies --wait).
"""

from __future__ import annotations

import json
from typing import Any, Optional, Sequence

from populator.cli.common import eprint, notice
from populator.cli.emr_result import Result, _conclude, _say, concluded
from populator.cli.serverless_run import ServerlessFlags, run_on_serverless
from populator.core import aws
from populator.core.errors import (
    EXIT_CANCELLED,
    EXIT_STILL_RUNNING,
    Cancelled,
    UserError,
    aws_user_error,
)
from populator.launcher.bundle import BundleError, build_bundle
from populator.launcher.inputs import validate_inputs
from populator.launcher.signals import Signals, Terminated, interrupt_name
from populator.launcher.targets.base import Handle
from populator.launcher.targets.common.method import resolve_remote_method
from populator.launcher.targets.common.plan import upload_rows
from populator.launcher.targets.common.report import (
    FetchedReport,
    fetch_report,
    step_report_uri,
)
from populator.launcher.targets.common.request import (
    TAG_DIGEST,
    TAG_TOOL,
    TOOL_NAME,
    redact_request,
)
from populator.launcher.targets.emr.console import (
    console_url,
    describe_step_command,
    reattach_command,
)
from populator.launcher.targets.emr.options import (
    EMR_JOB_FIELDS,
    Checked,
    EmrOptions,
    check_options,
)
from populator.launcher.targets.emr.plan import plan_request
from populator.launcher.targets.emr.submit import (
    Submission,
)
from populator.launcher.targets.emr.target import EmrTarget, Live
from populator.launcher.targets.emr.wait import cancel_backfill

__all__ = ["EMR_JOB_FIELDS", "EmrOptions", "Result", "ServerlessFlags", "plan_request", "run_emr"]

# --- the command -----------------------------------------------------------------------------


def run_emr(
    enriched_archive: Optional[str],
    storage_config: Optional[str],
    resolver: Optional[str],
    options: EmrOptions,
    serverless: Optional[ServerlessFlags] = None,
) -> int:
    """The task body (wrap with populator.cli.common.command for errors and exit codes).
    Any EMR Serverless flag (`--application-id`, `--serverless`, …) takes the serverless
    branch (populator.cli.serverless_run), which refuses a mix with cluster flags."""

    if serverless is not None and serverless.given():
        return run_on_serverless(enriched_archive, storage_config, resolver, options, serverless)

    result = Result(dry_run=options.dry_run)
    target = EmrTarget(lambda message: _say(options, message), eprint, notice)
    live = target.live

    def body() -> None:
        with Signals() as signals:
            try:
                if options.step_id:
                    positionals = [enriched_archive, storage_config, resolver]
                    _attach(options, check_options(options), result, positionals, target)
                else:
                    _launch(enriched_archive, storage_config, resolver, options, result, target)
                signals.check()  # a signal whose exception a library call swallowed
            except (KeyboardInterrupt, Terminated) as interrupt:
                signals.ignore()
                raise _interrupted(interrupt_name(interrupt), options, live) from None

    def keep_region() -> None:
        result.region = result.region or live.region

    return concluded(body, result, options, _aws_user_error, keep_region)


def _interrupted(what: str, options: EmrOptions, live: Live) -> Cancelled:
    """Ctrl-C/SIGTERM outside the wait loop: never leave a cluster running without saying so."""
    submission = live.submission
    if submission is None and live.submitting:
        return Cancelled(
            f"{what} while submitting to EMR: a cluster may have started; run the same command "
            f"again to find it (tag populator:request-digest={live.digest}) or list them with: "
            "aws emr list-clusters --active"
        )
    if submission is None:
        return Cancelled(f"{what}: stopped before anything was submitted to EMR; nothing runs")
    if options.wait or options.step_id:
        actions = cancel_backfill(
            live.emr,
            submission.cluster_id,
            submission.step_id,
            submission.started_cluster,
            what,
            eprint,
        )
        return Cancelled(" ".join(actions[1:]))
    return Cancelled(
        f"{what}: step {submission.step_id} on cluster {submission.cluster_id} was submitted and "
        "keeps running; stop it with: aws emr terminate-clusters --cluster-ids "
        f"{submission.cluster_id}"
    )


def _aws_user_error(error: BaseException) -> Optional[UserError]:
    """AWS refusals (access denied, bad role, unknown instance type) are the user's to fix."""
    if isinstance(error, BundleError):
        return UserError(f"cannot package the job: {error}")
    return aws_user_error(error)  # type: ignore[return-value]  (JobFailed for a 5xx)


def _launch(
    enriched_archive: Optional[str],
    storage_config: Optional[str],
    resolver: Optional[str],
    options: EmrOptions,
    result: Result,
    target: EmrTarget,
) -> None:
    inputs = validate_inputs(
        enriched_archive, storage_config, resolver, options.since, local_archive_ok=False
    )
    options = _resolve_method(inputs, options, check_options(options), result)
    bundle = build_bundle(inputs.storage, include_job=options.jar is None)
    plan = target.plan(inputs, bundle, options)
    assets = plan.extra["assets"]
    result.operation, result.request_digest = plan.operation, plan.digest
    result.report, result.log_uri = plan.report_uri, plan.extra["log_uri"]
    result.uploads = upload_rows(plan.uploads, assets)
    if options.dry_run:
        result.region = options.region
        shown = redact_request(plan.request, inputs.storage.secrets())
        result.request = shown
        if not options.json:
            print(json.dumps(shown, indent=2), flush=True)
        where = options.region or "the archive bucket's region"
        for upload in result.uploads:
            eprint(f"dry run: would upload {upload['role']} to {upload['uri']}")
        eprint(
            f"dry run: would call EMR {plan.operation} in {where}; nothing was created or uploaded"
        )
        return
    handle = target.submit(plan)
    result.region, result.log_uri = handle.region, handle.extra["log_uri"]
    for entry, uploaded in zip(result.uploads, handle.extra["uploaded"]):
        entry["uploaded"] = uploaded
    _follow(options, plan.extra["checked"], result, handle, target)


def _resolve_method(
    inputs: Any, options: EmrOptions, checked: Checked, result: Result
) -> EmrOptions:
    """`--method auto|write|import` resolved before anything starts (DescribeTable, short
    budget): said, in the --json result, and in the job's flags (targets/common/method.py)."""
    choice, options = resolve_remote_method(inputs, options, checked)
    eprint(choice.line())
    result.method = choice.as_json()
    return options


def _attach(
    options: EmrOptions,
    checked: Checked,
    result: Result,
    positionals: Sequence[Optional[str]],
    target: EmrTarget,
) -> None:
    """`--cluster-id J --step-id S`: wait on a step submitted earlier (no new submission)."""
    if any(positionals):
        notice(
            "re-attaching to a submitted step: "
            "ENRICHED_ARCHIVE, STORAGE_CONFIG and RESOLVER are not used"
        )
    session = aws.session(options.profile, options.region)
    region = options.region or session.region_name
    if not region:
        raise UserError("re-attaching needs the cluster's region: give --region")
    emr = session.client("emr", region_name=region, config=aws.client_config())
    s3 = session.client("s3", region_name=region, config=aws.client_config())
    cluster_id, step_id = str(options.cluster_id), str(options.step_id)
    try:
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        emr.describe_step(ClusterId=cluster_id, StepId=step_id)
    except Exception as error:
        if _aws_user_error(error) is None:
            raise
        raise UserError(
            f"cannot re-attach to step {step_id} of cluster {cluster_id} in {region}: {error}"
        ) from None
    tags = {t["Key"]: t.get("Value", "") for t in cluster.get("Tags", [])}
    owned = tags.get(TAG_TOOL) == TOOL_NAME and TAG_DIGEST in tags
    result.region, result.log_uri = region, cluster.get("LogUri")
    result.request_digest = tags.get(TAG_DIGEST)
    submission = Submission(cluster_id, step_id, started_cluster=owned, reused=True)
    handle = target.handle(submission, region, emr, s3, result.log_uri, result.report)
    _follow(options, checked, result, handle, target, force_wait=True)


def _follow(
    options: EmrOptions,
    checked: Checked,
    result: Result,
    handle: Handle,
    target: EmrTarget,
    force_wait: bool = False,
) -> None:
    submission: Submission = handle.extra["submission"]
    region = str(handle.region)
    result.ids = dict(handle.ids)
    result.started_cluster, result.reused = submission.started_cluster, submission.reused
    result.console_url = console_url(submission.cluster_id, region)
    result.state = "SUBMITTED"
    _say(options, f"console: {result.console_url}")
    if result.log_uri:
        logs = f"{result.log_uri.rstrip('/')}/{submission.cluster_id}/steps/{submission.step_id}/"
        _say(options, f"logs:    {logs}")
    if not (options.wait or force_wait):
        _say(
            options,
            f"follow:  {reattach_command(submission.cluster_id, submission.step_id, region)}",
        )
        _say(
            options,
            f"         {describe_step_command(submission.cluster_id, submission.step_id, region)}",
        )
        return
    eprint(
        f"waiting for step {submission.step_id} "
        + (f"(at most {int(checked.timeout)}s; " if checked.timeout else "(")
        + (
            "Ctrl-C terminates the cluster)"
            if submission.started_cluster
            else "Ctrl-C cancels the step)"
        )
    )
    handle.extra["log_uri"] = result.log_uri
    watched = target.watch(handle, checked.timeout, eprint, checked.poll_interval, checked.log_wait)
    outcome = watched.details["emr"]
    result.progress = watched.details.get("progress")
    # By exit code, not state: a step EMR (or someone else) CANCELLED is a failure to explain.
    if outcome.exit_code not in (EXIT_STILL_RUNNING, EXIT_CANCELLED) and not outcome.never_ran:
        _read_report(options, result, handle.extra["emr"], handle.extra["s3"], submission)
    _conclude(options, checked, result, submission, region, outcome)


def _read_report(
    options: EmrOptions, result: Result, emr: Any, s3: Any, submission: Submission
) -> Optional[FetchedReport]:
    """The job's report, from the `--report` URI in the step EMR holds (a courtesy: trouble
    reading it is said, never changes the exit code)."""
    uri = result.report
    try:
        step = emr.describe_step(ClusterId=submission.cluster_id, StepId=submission.step_id)
        step = step["Step"]
        uri = step_report_uri(step) or uri
        if uri is None:
            notice("the step names no --report URI: no job report to show")
            return None
        result.report = uri
        created = ((step.get("Status") or {}).get("Timeline") or {}).get("CreationDateTime")
        fetched = fetch_report(s3, uri, not_before=created)
    except Exception as error:
        notice(f"could not read the job's report at {uri or 'its --report URI'}: {error}")
        return None
    if fetched.status != "found" or fetched.report is None:
        notice(f"no job report used from {uri}: {fetched.detail}")
        return None
    result.job_report = fetched.report
    result.write_budget = fetched.report.get("write_budget")
    return fetched
