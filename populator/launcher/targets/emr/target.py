"""The EMR target (a transient cluster, or a step on `--cluster-id`) behind the target seam.

plan    the exact RunJobFlow / AddJobFlowSteps request and its uploads (pure; `--dry-run`)
submit  pre-flight checks in a short AWS budget (region, table, target cluster, the duplicate
        guard), content-addressed uploads, then one send (a lost answer is looked up)
watch   follow the step to its end, a deadline (`--timeout`) or a signal (which cancels)
cancel  cancel the step, and terminate the cluster when this backfill started it
`Live` says what an interrupt outside the wait must know (is a submission under way).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from populator.core import aws
from populator.core.location import parse_s3_uri
from populator.launcher.bundle import upload_artifacts
from populator.launcher.inputs import ensure_manifest_table
from populator.launcher.progress_view import ProgressFollower
from populator.launcher.targets.base import Handle, Log, Outcome, Plan
from populator.launcher.targets.common.plan import locations
from populator.launcher.targets.common.region import bucket_region
from populator.launcher.targets.common.report import step_report_uri
from populator.launcher.targets.emr.options import EmrOptions, check_options
from populator.launcher.targets.emr.plan import plan_request
from populator.launcher.targets.emr.submit import (
    Submission,
    check_target_cluster,
    find_duplicate,
    submit,
)
from populator.launcher.targets.emr.wait import Watch, cancel_backfill, wait_for_step
from populator.launcher.write_rate import emr_slots, expected_write_rate

__all__ = ["EmrTarget", "Live"]


@dataclass
class Live:
    """What an interrupt must know: is something submitted, and through which client."""

    emr: Any = None
    digest: Optional[str] = None
    submitting: bool = False
    submission: Optional[Submission] = None
    region: Optional[str] = None


class EmrTarget:
    """EMR cluster or step (see module docstring). `say` is for the user's eyes (stdout, or
    stderr under --json), `log` for progress on stderr."""

    name = "emr"

    def __init__(self, say: Log, log: Log, notice: Callable[[str], None]) -> None:
        self.say, self.log, self.notice = say, log, notice
        self.live = Live()

    def plan(self, inputs: Any, bundle: Any, args: EmrOptions) -> Plan:
        options = args
        checked = check_options(options)
        operation, request, digest, log_uri, report = plan_request(inputs, options, checked, bundle)
        archive = parse_s3_uri(inputs.archive)
        _, assets = locations(archive, checked)
        artifacts = tuple(
            a for a in bundle.artifacts() if not (options.cluster_id and a.role == "bootstrap")
        )
        return Plan(
            target=self.name,
            operation=operation,
            request=request,
            digest=digest,
            report_uri=report,
            uploads=artifacts,
            region=options.region,
            extra={
                "options": options,
                "checked": checked,
                "log_uri": None if options.cluster_id else log_uri,
                "assets": assets,
                "storage": inputs.storage,
                "archive": archive,
            },
        )

    def submit(self, plan: Plan) -> Handle:
        options: EmrOptions = plan.extra["options"]
        storage, archive = plan.extra["storage"], plan.extra["archive"]
        log_uri = plan.extra["log_uri"]
        with aws.preflight():  # checks before any work: seconds, not minutes, when AWS hangs
            session = aws.session(options.profile, options.region)
            s3 = session.client("s3", config=aws.client_config())
            region = options.region or bucket_region(s3, archive.bucket)
            self.live.region = region
            checks = aws.session(options.profile, region).client("emr", config=aws.client_config())
            checked = plan.extra["checked"]
            ensure_manifest_table(
                storage,
                options.create_table,
                profile=options.profile,
                log=self.notice,
                method=str(options.job_extra.get("method") or "write"),
                # every core node's 4 vCPUs (m5.xlarge) run a write task: launcher/write_rate.py
                expected_rate=expected_write_rate(
                    emr_slots(checked.instance_count), checked.in_flight
                ),
            )
            if options.cluster_id:
                log_uri = check_target_cluster(checks, options.cluster_id).get("LogUri")
                self.notice(
                    f"adding the step to cluster {options.cluster_id}: its nodes need boto3 for "
                    "python3 (clusters started by run_emr install it in a bootstrap action)"
                )
            existing = find_duplicate(
                checks,
                storage.table,
                storage.region,
                plan.digest,
                options.cluster_id,
                options.force,
            )
        session = aws.session(options.profile, region)
        s3 = session.client("s3", config=aws.client_config())
        emr = session.client("emr", config=aws.client_config())
        self.live.emr, self.live.digest = emr, plan.digest
        uploaded: List[bool] = []
        if existing is not None:
            submission = existing
            self.say(
                f"this exact backfill is already running: cluster {submission.cluster_id}, "
                f"step {submission.step_id}; not submitting it again"
            )
        else:
            assets = plan.extra["assets"]
            uploads = upload_artifacts(
                s3, assets, list(plan.uploads), options.kms_key_id, log=self.log
            )
            uploaded = [upload.uploaded for upload in uploads]
            once = session.client("emr", config=aws.client_config(retries=False))
            self.live.submitting = True
            submission = submit(emr, once, plan.request, storage.table, storage.region, plan.digest)
            started = (
                "started EMR cluster" if submission.started_cluster else "added a step to cluster"
            )
            self.say(
                f"{started} {submission.cluster_id} in {region}: step {submission.step_id} "
                f"backfills DynamoDB table '{storage.table}'"
            )
        self.live.submission = submission
        return self.handle(submission, region, emr, s3, log_uri, plan.report_uri, uploaded)

    def handle(
        self,
        submission: Submission,
        region: str,
        emr: Any,
        s3: Any,
        log_uri: Optional[str],
        report_uri: Optional[str],
        uploaded: Optional[List[bool]] = None,
    ) -> Handle:
        """A Handle for a submission (new, found again, or re-attached with --step-id)."""
        self.live.emr, self.live.submission = emr, submission
        return Handle(
            target=self.name,
            ids={"cluster_id": submission.cluster_id, "step_id": submission.step_id},
            owned=submission.started_cluster,
            reused=submission.reused,
            region=region,
            report_uri=report_uri,
            extra={
                "emr": emr,
                "s3": s3,
                "log_uri": log_uri,
                "submission": submission,
                "uploaded": list(uploaded or []),
            },
        )

    def watch(
        self,
        handle: Handle,
        deadline: Optional[float],
        log: Log,
        poll_interval: float = 15.0,
        log_wait: float = 120.0,
    ) -> Outcome:
        """Follow the step; Ctrl-C/SIGTERM/SIGHUP inside cancel it (wait_for_step's block).
        `details["emr"]` keeps the EMR-specific outcome for the explanation of a failure."""
        submission: Submission = handle.extra["submission"]
        follower = self._progress_follower(handle, submission)
        try:
            emr_outcome = wait_for_step(
                Watch(
                    emr=handle.extra["emr"],
                    cluster_id=submission.cluster_id,
                    step_id=submission.step_id,
                    owned=submission.started_cluster,
                    s3=handle.extra["s3"],
                    log_uri=handle.extra["log_uri"],
                    timeout=deadline,
                    poll_interval=poll_interval,
                    log_wait=log_wait,
                    log=log if follower is None else follower.wrap_log(log),
                    on_poll=None if follower is None else follower.poll,
                )
            )
        finally:
            if follower is not None:
                follower.close()
        cause = emr_outcome.cause.text if emr_outcome.cause is not None else None
        return Outcome(
            state=emr_outcome.state,
            exit_code=emr_outcome.exit_code,
            elapsed=emr_outcome.elapsed,
            cause=cause or emr_outcome.failure_details or emr_outcome.cluster_reason,
            ids=dict(handle.ids),
            actions=emr_outcome.actions,
            details={
                "emr": emr_outcome,
                "progress": None if follower is None else follower.as_json(),
            },
        )

    def _progress_follower(
        self, handle: Handle, submission: Submission
    ) -> Optional[ProgressFollower]:
        """Reads the job's progress object (beside the step's --report) at each poll; None
        when the step names no report. Only objects written after the step was created count
        (an earlier attempt of the same request left one at the same place)."""
        try:
            step = handle.extra["emr"].describe_step(
                ClusterId=submission.cluster_id, StepId=submission.step_id
            )["Step"]
            report = step_report_uri(step) or handle.report_uri
            created = ((step.get("Status") or {}).get("Timeline") or {}).get("CreationDateTime")
            if report is None:
                return None
            return ProgressFollower(handle.extra["s3"], report, sys.stderr, not_before=created)
        except Exception as error:  # progress is a courtesy: the wait goes on without it
            self.notice(f"progress is not shown: {error}")
            return None

    def cancel(self, handle: Handle, why: str, log: Log) -> List[str]:
        submission: Submission = handle.extra["submission"]
        return cancel_backfill(
            handle.extra["emr"],
            submission.cluster_id,
            submission.step_id,
            submission.started_cluster,
            why,
            log,
        )

    def report_uri(self, handle: Handle) -> Optional[str]:
        return handle.report_uri
