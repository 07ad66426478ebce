"""The job's driver: choose runs, read and deduplicate on Spark, write in checkpointed batches.

Plan: list runs (skip Glacier, before --since, already recorded) -> one task per file reads and
parses lines -> one reduceByKey keeps each (eventId, fingerprint)'s earliest etl time and sums
the counters -> the reduced data is persisted and written batch by batch of runs (each pair
belongs to the run holding its earliest time); a batch's runs are recorded in the run
manifest only after all of its writes succeeded, so a killed job resumes at the last batch.
Cluster code: Python 3.9.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

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
from populator.job.partitions import (
    COUNT,
    READ_ERROR,
    FileTask,
    JobContext,
    combine,
    counters_only,
    is_event,
    read_files,
    read_groups,
    write_partition,
    write_partition_count,
)
from populator.job.progress import JobProgress, start_progress

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_storage(location: str, endpoint_url: Optional[str]) -> StorageConfig:
    text = sinks.read_text(location, lambda: aws.s3_client(endpoint_url))
    return StorageConfig.from_self_describing(json.loads(text), source=location)


def batch_runs(runs: Sequence[Run], batches: int) -> List[List[Run]]:
    """Split runs (in time order) into at most `batches` consecutive groups."""
    if not runs:
        return []
    size = -(-len(runs) // max(1, batches))
    return [list(runs[i : i + size]) for i in range(0, len(runs), size)]


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
        progress.fail(_cause(error) if isinstance(error, Exception) else type(error).__name__)
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
    if import_plan is not None:
        failed_runs = importer.run(
            spark,
            import_plan,
            todo,
            options,
            context,
            storage.table,
            report,
            run_manifest,
            (s3, dynamodb),
            lambda: _read(spark, todo, options, context, report, log, progress),
            log,
        )
    else:
        context = _apply_budget(spark, budget, context, report, log)
        failed_runs = _process(
            spark, todo, options, context, storage.table, report, run_manifest, log, progress
        )
        _finish_budget(report)
    report["elapsed_seconds"] = round(time.monotonic() - started, 3)
    elapsed = max(report["elapsed_seconds"], 1e-6)
    report["events_per_second"] = round(report["lines_read"] / elapsed, 1)
    report["status"] = "failed" if (failed_runs or report["errors"]) else "succeeded"
    return report


def _apply_budget(
    spark: Any, budget: write_budget.Budget, context: JobContext, report: Dict[str, Any], log: Log
) -> JobContext:
    """Each write task's share of the job's write budget (see core/write/budget.py)."""
    sc = spark.sparkContext
    conf = dict(sc.getConf().getAll())
    tasks = write_budget.concurrent_slots(conf, sc.defaultParallelism)
    speculation = conf.get("spark.speculation", "false").lower() == "true"
    rate = write_budget.task_rate(budget, tasks, speculation)
    report["write_budget"] = write_budget.budget_report(budget, tasks, rate)
    if rate is None:
        log(f"populator: {budget.describe()}")
        return context
    log(f"populator: {budget.describe()}: {tasks} write task(s) at {rate:.3g} writes/s each")
    if speculation:
        log("notice: spark.speculation is on: each write task paces at half its share")
    return dataclasses.replace(context, task_write_rate=rate)


def _finish_budget(report: Dict[str, Any]) -> None:
    section = report.get("write_budget")
    if section and section["write_seconds"] > 0:
        achieved = report["writes"]["requests"] / section["write_seconds"]
        section["achieved_writes_per_second"] = round(achieved, 1)
        section["write_seconds"] = round(section["write_seconds"], 3)


def _process(
    spark: Any,
    runs: List[Run],
    options: JobOptions,
    context: JobContext,
    table: str,
    report: Dict[str, Any],
    run_manifest: Optional[RunManifests],
    log: Log,
    progress: JobProgress,
) -> List[str]:
    """Read, deduplicate and write the runs in checkpointed batches; return failed run ids."""
    reduced, errors_by_run = _read(spark, runs, options, context, report, log, progress)
    return _write(
        spark,
        runs,
        options,
        context,
        table,
        report,
        run_manifest,
        reduced,
        errors_by_run,
        log,
        progress,
    )


def _read(
    spark: Any,
    runs: List[Run],
    options: JobOptions,
    context: JobContext,
    report: Dict[str, Any],
    log: Log,
    progress: JobProgress,
) -> Tuple[Any, Dict[int, List[str]]]:
    """The one reduce both methods share: (persisted reduced RDD or None, read errors by run);
    fills the report's read counters."""
    files = [
        FileTask(index, run.run_id, f.path, _relative(f.path, run.uri), f.size)
        for index, run in enumerate(runs)
        for f in run.files
    ]
    sc = spark.sparkContext
    reduced = None
    if files:
        total = sum(f.size for f in files)
        partitions = options.partitions or write_partition_count(total, sc.defaultParallelism)
        if context.task_write_rate is not None:  # at least one partition per write task
            partitions = max(partitions, report["write_budget"]["write_tasks"])
        groups = read_groups(files, sc.defaultParallelism)
        reduced = (
            sc.parallelize(groups, len(groups))
            .flatMap(lambda group: read_files(group, context))
            .reduceByKey(combine, numPartitions=partitions)
        )
        reduced.persist(_storage_level())
        sc.setJobDescription("read, parse and deduplicate the archive")
        try:
            counters = reduced.mapPartitions(lambda rs: counters_only(rs, context)).collect()
        except Exception as error:  # e.g. the bad-rows destination refused a write
            raise RuntimeError(f"reading the archive failed: {_cause(error)}") from None
    else:
        counters = []
    progress.read_done()

    errors_by_run = _count(counters, runs, report, log)
    return reduced, errors_by_run


def _write(
    spark: Any,
    runs: List[Run],
    options: JobOptions,
    context: JobContext,
    table: str,
    report: Dict[str, Any],
    run_manifest: Optional[RunManifests],
    reduced: Any,
    errors_by_run: Dict[int, List[str]],
    log: Log,
    progress: JobProgress,
) -> List[str]:
    sc = spark.sparkContext
    valid = report["valid_events"]
    failed_runs: List[str] = []
    distinct = 0
    position = {run.prefix: index for index, run in enumerate(runs)}
    batches = batch_runs(runs, options.batches)
    for number, batch in enumerate(batches, 1):
        progress.writing(number, len(batches))
        indexes = {position[run.prefix] for run in batch}
        written = True
        if reduced is not None:
            sc.setJobDescription(
                f"write batch {number}: runs {batch[0].run_id} .. {batch[-1].run_id}"
            )
            write_started = time.monotonic()
            try:
                batch_items = reduced.filter(
                    lambda r, ix=frozenset(indexes): is_event(r) and r[1][1] in ix
                )
                if context.task_write_rate is not None:  # exactly the tasks the budget assumes
                    batch_items = batch_items.coalesce(report["write_budget"]["write_tasks"])
                results = batch_items.mapPartitions(
                    lambda records: write_partition(records, context, table)
                ).collect()
            except Exception as error:  # Spark gave up on a task after its retries
                written = False
                report["errors"].append(
                    f"writing batch {number} ({batch[0].run_id} .. {batch[-1].run_id}) failed: "
                    f"{_cause(error)}"
                )
                log(f"error: {report['errors'][-1]}")
                results = []
            if "write_budget" in report:
                report["write_budget"]["write_seconds"] += time.monotonic() - write_started
            for result in results:
                distinct += result["items"] + result["expired_skipped"]
                report["expired_skipped"] += result["expired_skipped"]
                for name in report["writes"]:
                    report["writes"][name] += result.get(name, 0)
        for run in batch:
            index = position[run.prefix]
            unreadable = index in errors_by_run and not options.accept_read_errors
            if not written or unreadable:
                failed_runs.append(run.run_id)
                report["runs"]["not_recorded"].append(run.run_id)
            elif run_manifest is not None:
                try:
                    run_manifest.add(run.prefix)
                except Exception as error:
                    written = False
                    report["errors"].append(
                        f"recording run {run.run_id} in the run manifest failed: {_cause(error)}"
                    )
                    log(f"error: {report['errors'][-1]}")
                    failed_runs.append(run.run_id)
                    report["runs"]["not_recorded"].append(run.run_id)
                    continue
                report["runs"]["recorded"].append(run.run_id)
        progress.batch_done(len(batch))
        log(
            f"populator: batch {number} done ({len(batch)} run(s), {'ok' if written else 'FAILED'})"
        )
        if not written:
            # Later batches would still be correct, but stop early: the cause needs fixing.
            for later in runs[position[batch[-1].prefix] + 1 :]:
                failed_runs.append(later.run_id)
                report["runs"]["not_recorded"].append(later.run_id)
            break
    report["distinct_items"] = distinct
    valid = report["valid_events"]
    report["duplicates_collapsed"] = max(0, valid - distinct) if not report["errors"] else 0
    if reduced is not None:
        reduced.unpersist()
    return failed_runs


def _count(
    counters: List[Any], runs: List[Run], report: Dict[str, Any], log: Log
) -> Dict[int, List[str]]:
    """Fold the read phase's counters into the report; the read errors by run index."""
    errors_by_run: Dict[int, List[str]] = {}
    for key, value in counters:
        kind, run_index, name = key
        if kind == READ_ERROR:
            errors_by_run.setdefault(run_index, []).append(name)
            report["read_errors"].append(
                {"run": runs[run_index].run_id, "path": name, "error": value}
            )
        elif kind == COUNT:
            if name == "lines":
                report["lines_read"] += value
            elif name == "files":
                report["files_read"] += value
            elif name.startswith("malformed:"):
                reason = name.split(":", 1)[1]
                report["malformed"][reason] = report["malformed"].get(reason, 0) + value
    valid = report["lines_read"] - sum(report["malformed"].values())
    report["valid_events"] = valid
    report["read_errors"].sort(key=lambda e: e["path"])
    for error in report["read_errors"]:
        log(f"error: {error['path']}: {error['error']}")

    return errors_by_run


def _relative(path: str, run_uri: str) -> str:
    """A file's path below its run folder (bad rows keep it, so same names stay apart)."""
    return path[len(run_uri) :] if path.startswith(run_uri) else path.rsplit("/", 1)[-1]


def _storage_level() -> Any:
    """On disk: the deduplicated data is re-read once per batch; memory stays flat."""
    from pyspark import StorageLevel

    return StorageLevel.DISK_ONLY


def _cause(error: BaseException) -> str:
    """The Python exception a task died of, without the JVM stack around it."""
    text = str(error)
    markers = ("WriteFailed: ", "ReadError: ", "ManifestTableError: ", "SinkError: ")
    for marker in markers:
        if marker in text:
            return text.split(marker, 1)[1].split("\n", 1)[0]
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:500] if lines else type(error).__name__


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
