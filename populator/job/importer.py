"""`--method import`: stage the reduced manifest as gzip DynamoDB JSON, ImportTable, follow it.

The same reduce as the write path feeds this (earliest etl time per key, expired skipped,
malformed counted). A small marker object beside the staged data remembers what was staged
and, written the moment ImportTable answers, the ImportArn: a re-run (after a kill or a lost
answer) follows that import instead of starting a second one. Without an ARN in the marker the
same request is re-sent with the same ClientToken, which DynamoDB answers idempotently.
Runs are recorded in the run manifest only after the import COMPLETED with every item.
Cluster code: Python 3.9.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from populator.core import aws, s3io
from populator.core.events import TTL_SECONDS
from populator.core.import_table import (
    Staging,
    backfill_digest,
    build_import_request,
    client_token,
    default_prefix,
    find_own_import,
    import_problem,
    import_report,
    parse_capacity,
    plan_objects,
    refusal_hint,
    staging,
    wait_for_import,
)
from populator.core.manifest import EventsManifest, ManifestTableError
from populator.core.retry import error_code
from populator.job.backfill import Backfill

Log = Callable[[str], None]
REPORT_FIELDS = (
    "lines_read",
    "files_read",
    "malformed",
    "read_errors",
    "valid_events",
    "distinct_items",
    "expired_skipped",
    "duplicates_collapsed",
)


class ImportFailed(Exception):
    """The import ran and did not store every staged item (the job exits 1)."""


@dataclass(frozen=True)
class ImportPlan:
    digest: str
    stage: Staging
    capacity: Optional[Dict[str, int]]
    keep_files: bool


def plan_import(options: Any, table: str, region: str) -> ImportPlan:
    since = None if options.since is None else options.since.strftime("%Y-%m-%d-%H-%M-%S")
    digest = backfill_digest(
        table, region, options.enriched_archive, since, options.include_expired
    )
    prefix = options.import_prefix or default_prefix(options.enriched_archive)
    capacity = parse_capacity(options.import_capacity) if options.import_capacity else None
    return ImportPlan(digest, staging(prefix, digest), capacity, options.keep_import_files)


# --- the marker ------------------------------------------------------------------------------


def read_marker(s3: Any, stage: Staging) -> Optional[Dict[str, Any]]:
    body = s3io.read_if_exists(s3, stage.bucket, stage.marker_key)
    return None if body is None else json.loads(body.decode("utf-8"))


def write_marker(s3: Any, stage: Staging, marker: Dict[str, Any]) -> None:
    body = json.dumps(marker, indent=2, sort_keys=True).encode("utf-8")
    s3io.put_bytes(s3, stage.bucket, stage.marker_key, body)


def delete_data(s3: Any, stage: Staging) -> int:
    """Delete the staged objects (never the marker); return how many."""
    return s3io.delete_under(s3, stage.bucket, stage.data_prefix)


# --- before reading: follow an import already started, or refuse an existing table -----------


def preflight(
    plan: ImportPlan, s3: Any, manifest: EventsManifest
) -> Tuple[Optional[Dict[str, Any]], int]:
    """(marker to resume from, or None to read and stage afresh; the import attempt number).

    Raises ManifestTableError (exit 2) when the table exists and is not this backfill's import.
    """
    marker = read_marker(s3, plan.stage)
    if marker is not None and marker.get("status") != "FAILED":
        return marker, int(marker.get("attempt", 1))
    if manifest.describe() is not None:
        retry = ""
        if marker is not None:
            retry = (
                " It holds what this backfill's failed import left: delete the table to retry "
                "the import."
            )
        raise ManifestTableError(
            f"DynamoDB table '{manifest.table_name}' exists: --method import creates a new "
            f"table and cannot add to an existing one; use --method write (or auto).{retry}"
        )
    return None, 1 if marker is None else int(marker.get("attempt", 1))


# --- on executors: one gzip object per partition ---------------------------------------------

_clients: Dict[str, Any] = {}


def _s3(endpoint_url: Optional[str]) -> Any:
    key = str(endpoint_url)
    if key not in _clients:
        _clients[key] = aws.s3_client(endpoint_url, max_pool_connections=4)
    return _clients[key]


def stage_partition(
    index: int, records: Iterable[Any], context: Any, stage: Staging
) -> Iterator[Dict[str, int]]:
    """Write one partition's items as gzip DynamoDB JSON lines at a name fixed by its index
    (a retried task replaces its own object). Object 0 is written even when empty."""
    from populator.core.import_table import item_line
    from populator.job.zip_finders import forget_zip_finders

    forget_zip_finders()

    counts = {"items": 0, "expired_skipped": 0, "bytes": 0, "objects": 0}
    fd, temp = tempfile.mkstemp(prefix="import-", suffix=".json.gz")
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
            for (event_id, fingerprint), (etl_time, _run) in records:
                if context.skip_expired and etl_time + TTL_SECONDS <= context.now:
                    counts["expired_skipped"] += 1
                    continue
                line = item_line(event_id, fingerprint, etl_time).encode("utf-8")
                out.write(line)
                counts["items"] += 1
                counts["bytes"] += len(line)
        if counts["items"] or index == 0:
            s3io.upload_file(_s3(context.endpoint_url), temp, stage.bucket, stage.object_key(index))
            counts["objects"] = 1
    finally:
        os.unlink(temp)
    yield counts


def stage(
    reduced: Any, plan: ImportPlan, context: Any, upper_bound: int, s3: Any
) -> Dict[str, int]:
    """Replace whatever an earlier attempt staged with this reduce's items; return the totals.

    Items are hashed into the objects (never sorted), so the import has no rolling hot key range.
    """
    from populator.job.partitions import is_event

    delete_data(s3, plan.stage)
    sc = reduced.context
    objects = plan_objects(upper_bound, sc.defaultParallelism)
    sc.setJobDescription(f"stage the import: {objects} gzip DynamoDB JSON object(s)")
    results = (
        reduced.filter(is_event)
        .partitionBy(objects)
        .mapPartitionsWithIndex(lambda i, rows: stage_partition(i, rows, context, plan.stage))
        .collect()
    )
    totals = {"items": 0, "expired_skipped": 0, "bytes": 0, "objects": 0}
    for result in results:
        for name in totals:
            totals[name] += result[name]
    return totals


# --- ImportTable, follow, finish ----------------------------------------------------------------


def start_import(
    dynamodb: Any, s3: Any, plan: ImportPlan, table: str, marker: Dict[str, Any], log: Log
) -> Dict[str, Any]:
    """Send ImportTable once (same ClientToken on a re-send) and record the ARN at once."""
    token = client_token(plan.digest, int(marker.get("attempt", 1)))
    request = build_import_request(table, plan.stage, token, plan.capacity)
    try:
        answer = dynamodb.import_table(**request)["ImportTableDescription"]
    except Exception as error:
        code = error_code(error)
        found = None
        if code in ("ResourceInUseException", "ImportConflictException"):
            found = find_own_import(dynamodb, table, token)  # our answer was lost > 8 h ago?
        if found is not None:
            answer = found
        else:
            hint = refusal_hint(code, table)
            if hint is not None:
                raise ImportFailed(f"ImportTable refused ({code}): {hint}") from None
            raise
    marker.update(import_arn=answer["ImportArn"], client_token=token, status="STARTED")
    write_marker(s3, plan.stage, marker)
    log(
        f"populator: ImportTable started {answer['ImportArn']} (marker s3://"
        f"{plan.stage.bucket}/{plan.stage.marker_key})"
    )
    return marker


def follow(
    dynamodb: Any,
    s3: Any,
    plan: ImportPlan,
    marker: Dict[str, Any],
    report: Dict[str, Any],
    run_manifest: Any,
    log: Log,
    progress: Any = None,
) -> List[str]:
    """Wait for the import, check it, enable TTL, record runs, clean up; return failed run ids.
    `progress` (job.progress.JobProgress) hears each DescribeImport's processed count."""
    table = marker["table"]
    for name in REPORT_FIELDS:
        report[name] = marker["report"][name]
    report["runs"]["processed"] = marker["processed"]
    if not marker.get("import_arn"):
        marker = start_import(dynamodb, s3, plan, table, marker, log)
    items = int(marker["items"])
    if progress is not None:
        progress.importing(0, items)
    on_poll = None if progress is None else (
        lambda d: progress.importing(int(d.get("ProcessedItemCount") or 0), items)
    )

    description = wait_for_import(dynamodb, marker["import_arn"], log, on_poll=on_poll)
    report["import"] = import_report(marker, description, f"s3://{plan.stage.bucket}/{plan.stage.root}")
    problem = import_problem(description, int(marker["items"]))
    not_recorded = list(marker["not_recorded"])
    if problem is not None:
        marker["status"] = "FAILED"
        marker["attempt"] = int(marker.get("attempt", 1)) + 1
        write_marker(s3, plan.stage, marker)
        report["errors"].append(
            f"{problem}. No run was recorded. To retry: fix the cause, delete the table "
            f"'{table}' if it exists, and run the same backfill again: it stages the files "
            f"again and starts a new import (this attempt's files stay under "
            f"s3://{plan.stage.bucket}/{plan.stage.data_prefix} until then)"
        )
        log(f"error: {report['errors'][-1]}")
        report["runs"]["not_recorded"] = [*not_recorded, *marker["record_ids"]]
        return report["runs"]["not_recorded"]
    manifest = EventsManifest(dynamodb, table)
    if not manifest.ttl_enabled():
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
        )
    for prefix, run_id in zip(marker["record"], marker["record_ids"]):
        if run_manifest is not None:
            run_manifest.add(prefix)
            report["runs"]["recorded"].append(run_id)
    report["runs"]["not_recorded"] = not_recorded
    if not plan.keep_files:
        report["import"]["files_deleted"] = delete_data(s3, plan.stage)
    marker["status"] = "COMPLETED"
    write_marker(s3, plan.stage, marker)
    return not_recorded


def new_marker(
    plan: ImportPlan,
    table: str,
    totals: Dict[str, int],
    report: Dict[str, Any],
    record: List[Any],
    not_recorded: List[str],
    attempt: int,
) -> Dict[str, Any]:
    """What a re-run needs to follow the import without reading the archive again."""
    return {
        "status": "STAGED",
        "attempt": attempt,
        "digest": plan.digest,
        "table": table,
        "items": totals["items"],
        "objects": totals["objects"],
        "bytes": totals["bytes"],
        "processed": report["runs"]["processed"],
        "record": [run.prefix for run in record],
        "record_ids": [run.run_id for run in record],
        "not_recorded": not_recorded,
        "report": {name: report[name] for name in REPORT_FIELDS},
    }


# --- the driver's branch -----------------------------------------------------------------------


def run(
    job: Backfill,
    plan: ImportPlan,
    clients: Tuple[Any, Any],
    read: Callable[[], Tuple[Any, Dict[int, List[str]]]],
) -> List[str]:
    """Import `job.runs` into the new table `job.table`; return the failed run ids
    (`job.progress` shows `importing` from staging to the import's end)."""
    runs, table, report, run_manifest = job.runs, job.table, job.report, job.run_manifest
    log, progress = job.log, job.progress
    s3, dynamodb = clients
    if not runs:
        log("populator: nothing to import")
        return []
    resume, attempt = preflight(plan, s3, EventsManifest(dynamodb, table))
    try:
        if resume is not None:
            log(
                f"populator: following this backfill's import (marker s3://{plan.stage.bucket}/"
                f"{plan.stage.marker_key})"
            )
            return follow(dynamodb, s3, plan, resume, report, run_manifest, log, progress)
        reduced, errors_by_run = read()
        if progress is not None:
            progress.importing()  # staging the DynamoDB JSON files
        if reduced is None:
            reduced = job.spark.sparkContext.parallelize([], 1)
        try:
            totals = stage(reduced, plan, job.context, report["valid_events"], s3)
        finally:
            reduced.unpersist()
        record, not_recorded = [], []
        for index, run_ in enumerate(runs):
            if index in errors_by_run and not job.options.accept_read_errors:
                not_recorded.append(run_.run_id)
            else:
                record.append(run_)
        report["expired_skipped"] = totals["expired_skipped"]
        report["distinct_items"] = totals["items"] + totals["expired_skipped"]
        report["duplicates_collapsed"] = max(0, report["valid_events"] - report["distinct_items"])
        log(
            f"populator: staged {totals['items']} item(s) in {totals['objects']} object(s) under "
            f"s3://{plan.stage.bucket}/{plan.stage.data_prefix}"
        )
        marker = new_marker(plan, table, totals, report, record, not_recorded, attempt)
        write_marker(s3, plan.stage, marker)
        return follow(dynamodb, s3, plan, marker, report, run_manifest, log, progress)
    except ImportFailed as error:
        report["errors"].append(f"{error}. No run was recorded.")
        log(f"error: {report['errors'][-1]}")
        report["runs"]["not_recorded"] = [run_.run_id for run_ in runs]
        return report["runs"]["not_recorded"]
