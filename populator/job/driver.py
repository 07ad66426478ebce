"""The job's driver: choose runs, read and deduplicate on Spark, write in checkpointed batches.

Plan: list runs (skip Glacier, before --since, already recorded) -> one task per file reads and
parses lines -> one reduceByKey keeps each (eventId, fingerprint)'s earliest etl time and sums
the counters -> the reduced data is persisted and written batch by batch of runs (each pair
belongs to the run holding its earliest time); a batch's runs are recorded in the run
manifest only after all of its writes succeeded, so a killed job resumes at the last batch.
Cluster code: Python 3.9.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable, Dict, List, Optional

from populator.core import aws
from populator.core.archive import Run, list_runs, no_runs_problem
from populator.core.job_args import JobOptions, dynamodb_endpoint
from populator.core.location import destination_problem, parse_location
from populator.core.manifest import EventsManifest
from populator.core.report import new_report, summary, to_json
from populator.core.retry import RetryPolicy
from populator.core.run_manifests import RunManifests, table_name_problem
from populator.core.storage_config import StorageConfig
from populator.core.write import budget as write_budget
from populator.job import importer, sinks
from populator.job.backfill import Backfill
from populator.job.partitions import JobContext
from populator.job.progress import JobProgress, start_progress
from populator.job.read_phase import cause, read_archive
from populator.job.write_phase import apply_budget, finish_budget, write_batches

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_storage(location: str, endpoint_url: Optional[str]) -> StorageConfig:
    text = sinks.read_text(location, lambda: aws.s3_client(endpoint_url))
    return StorageConfig.from_self_describing(json.loads(text), source=location)


def check_options(options: JobOptions) -> None:
    """Refuse (ValueError: exit 2) what the launcher refuses too, before any work: outputs in
    the archive or over an input, malformed locations, an empty or invalid table name."""
    try:
        problem = _output_problem(options)
    except ValueError as error:  # LocationError: a plain ValueError is the job's exit 2
        raise ValueError(str(error)) from None
    if problem:
        raise ValueError(problem)
    if options.run_manifest_table is not None:
        problem = table_name_problem(options.run_manifest_table)
        if problem:
            raise ValueError(f"--run-manifest-table {options.run_manifest_table!r} {problem}")


def _output_problem(options: JobOptions) -> Optional[str]:
    """Why --report or --bad-rows must not be written, else None (LocationError if malformed)."""
    archive = parse_location(options.enriched_archive, "--enriched-archive").as_folder()
    inputs = [parse_location(options.storage_config, "--storage-config")]
    for option, value in (("--report", options.report), ("--bad-rows", options.bad_rows)):
        if value is None:
            continue
        problem = destination_problem(option, parse_location(value, option), archive, inputs)
        if problem:
            return problem
    return None


def run_job(options: JobOptions, spark: Any, log: Log = _stderr) -> Dict[str, Any]:
    """Run the backfill and return its report (status 'succeeded' or 'failed').

    Progress is published all along (job/progress.py), and a last time however it ends.
    """
    check_options(options)  # before progress, which writes beside the report
    progress = start_progress(
        getattr(spark, "sparkContext", None),
        options.report,
        options.progress_uri,
        options.progress_interval,
        lambda: aws.s3_client(options.endpoint_url),
        log,
    )
    try:
        report = _run_job(options, spark, log, progress)
    except BaseException as error:
        progress.fail(cause(error) if isinstance(error, Exception) else type(error).__name__)
        raise
    progress.finish(report)
    return report


def _run_job(options: JobOptions, spark: Any, log: Log, progress: JobProgress) -> Dict[str, Any]:
    started = time.monotonic()
    report = new_report()
    report["archive"] = options.enriched_archive
    storage = load_storage(options.storage_config, options.endpoint_url)
    report["table"] = storage.table
    s3 = aws.s3_client(options.endpoint_url)
    dynamodb = aws.dynamodb_client(storage, dynamodb_endpoint(options))

    manifest = EventsManifest(dynamodb, storage.table)
    import_plan = None
    budget = None
    if options.method == "import":  # the table must not exist yet: the import creates it
        import_plan = importer.plan_import(options, storage.table, storage.region)
        skip_expired = not options.include_expired  # the import enables TTL on `ttl`
    else:
        description = manifest.check()
        budget = write_budget.effective_budget(
            description, options.max_write_rate, options.write_share
        )
        skip_expired = not options.include_expired and manifest.ttl_enabled()
    run_manifest = None
    if options.run_manifest_table is not None:
        run_manifest = RunManifests(dynamodb, options.run_manifest_table)
        run_manifest.create()

    runs = list_runs(options.enriched_archive, s3_client=s3, since=options.since)
    if not runs:
        problem = no_runs_problem(options.enriched_archive, s3)
        if problem:
            raise ValueError(problem)
    report["skipped_inputs"] = [
        {"run": run.run_id, "path": entry.path, "reason": entry.reason}
        for run in runs
        for entry in run.skipped
    ]
    for entry in report["skipped_inputs"]:
        log(f"notice: not read: {entry['path']} ({entry['reason'].replace('_', ' ')})")
    skipped: Dict[str, List[str]] = {"glacier": [], "already_recorded": []}
    todo: List[Run] = []
    recorded = run_manifest.contains_many([r.prefix for r in runs]) if run_manifest else set()
    for run in runs:
        if run.glacier:
            skipped["glacier"].append(run.run_id)
        elif run.prefix in recorded:
            skipped["already_recorded"].append(run.run_id)
        else:
            todo.append(run)
    report["runs"]["skipped"] = skipped
    report["runs"]["processed"] = [run.run_id for run in todo]
    for run_id in skipped["glacier"]:
        log(f"notice: run {run_id} is in Glacier and cannot be read: skipped (restore it first)")
    log(
        f"populator: {len(todo)} run(s) to process, {len(skipped['glacier'])} in Glacier, "
        f"{len(skipped['already_recorded'])} already recorded"
    )
    progress.reading(len(todo), sum(len(run.files) for run in todo))

    context = JobContext(
        storage=storage.to_self_describing(),
        endpoint_url=options.endpoint_url,
        in_flight=options.in_flight,
        now=int(time.time()),
        skip_expired=skip_expired,
        bad_rows=options.bad_rows,
        retry=RetryPolicy(max_attempts=options.retry_attempts),
        dynamodb_endpoint_url=options.dynamodb_endpoint_url,
        writer=options.writer,
        progress=progress.counters,
    )
    if import_plan is None:
        context = apply_budget(spark, budget, context, report, log)
    job = Backfill(
        spark, todo, options, context, storage.table, report, run_manifest, log, progress
    )
    if import_plan is not None:
        failed_runs = importer.run(job, import_plan, (s3, dynamodb), lambda: read_archive(job))
    else:
        reduced, errors_by_run = read_archive(job)
        failed_runs = write_batches(job, reduced, errors_by_run)
        finish_budget(report)
    report["elapsed_seconds"] = round(time.monotonic() - started, 3)
    elapsed = max(report["elapsed_seconds"], 1e-6)
    report["events_per_second"] = round(report["lines_read"] / elapsed, 1)
    report["status"] = "failed" if (failed_runs or report["errors"]) else "succeeded"
    return report


def finish(report: Dict[str, Any], options: JobOptions, log: Log = _stderr) -> int:
    """Print the summary, save the JSON report, return the exit code."""
    print(summary(report), flush=True)
    if options.report:
        try:
            if _output_problem(options):
                log(f"populator: no report written to {options.report} (refused above)")
                return 1
        except ValueError:
            log(f"populator: no report written to {options.report!r} (refused above)")
            return 1
        try:
            sinks.write_bytes(
                options.report,
                to_json(report).encode("utf-8"),
                lambda: aws.s3_client(options.endpoint_url),
            )
        except Exception as error:
            log(f"error: cannot write the report to {options.report}: {sinks.describe(error)}")
            return 1
        log(f"populator: report written to {options.report}")
    return 0 if report["status"] == "succeeded" else 1
