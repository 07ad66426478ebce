"""`inv list_runs`: what a backfill of this archive would read, write and cost, before it runs.

One row per run: files, bytes, storage class (Glacier runs cannot be read and are skipped),
whether its items would already be past the manifest's 180-day TTL (skipped by the job unless
--include-expired), and whether the run manifest records it as processed. Then totals, and
an estimate for the runs a backfill would write (see populator.launcher.estimate). Local archives
(directories) work too; S3 needs only list/get permissions (and DynamoDB read for the run
manifest).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from populator.cli.common import notice
from populator.core import aws, s3io
from populator.core.archive import Run, archive_is_s3, format_run_id
from populator.core.archive import list_runs as find_runs
from populator.core.errors import UserError
from populator.core.location import parse_location
from populator.core.manifest import EventsManifest
from populator.core.retry import error_code
from populator.core.run_manifests import RunManifests
from populator.launcher.configs import REGION_RE
from populator.launcher.estimate import (
    DEFAULT_WRITE_CAPACITY,
    SAMPLE_BYTES,
    Estimate,
    Sample,
    estimate,
    human_bytes,
    human_duration,
    is_expired,
    measure_sample,
)
from populator.launcher.inputs import (
    check_archive_has_runs,
    check_since,
    check_table_name,
    validate_archive,
)
from populator.launcher.method import compare_methods, render_comparison

__all__ = ["RunRow", "list_runs", "render_table", "rows_for"]


@dataclass(frozen=True)
class RunRow:
    run_id: str
    path: str
    files: int
    bytes: int
    storage_class: str
    glacier: bool
    expired: bool
    processed: Optional[bool]  # None: no --run-manifest-table to ask

    @property
    def to_write(self) -> bool:
        return not (self.glacier or self.expired or self.processed)


def rows_for(runs: Sequence[Run], processed: Optional[Set[str]], now: datetime) -> List[RunRow]:
    rows = []
    for run in runs:
        classes = sorted({f.storage_class for f in run.files}) or ["-"]
        rows.append(
            RunRow(
                run_id=run.run_id,
                path=run.uri,
                files=len(run.files),
                bytes=run.bytes,
                storage_class="+".join(classes),
                glacier=run.glacier,
                expired=is_expired(run.started, now),
                processed=None if processed is None else run.prefix in processed,
            )
        )
    return rows


def _totals(rows: Sequence[RunRow], processed_known: bool) -> Dict[str, Any]:
    writing = [row for row in rows if row.to_write]
    return {
        "runs": len(rows),
        "files": sum(row.files for row in rows),
        "bytes": sum(row.bytes for row in rows),
        "glacier_runs": sum(row.glacier for row in rows),
        "expired_runs": sum(row.expired for row in rows),
        "processed_runs": sum(bool(row.processed) for row in rows) if processed_known else None,
        "to_write": {
            "runs": len(writing),
            "files": sum(row.files for row in writing),
            "bytes": sum(row.bytes for row in writing),
        },
    }


def _yes(flag: Optional[bool], word: str = "yes") -> str:
    return "?" if flag is None else (word if flag else "-")


def _dollars(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else "<$0.01"


def render_table(rows: Sequence[RunRow], totals: Dict[str, Any], est: Estimate) -> str:
    """The human report: one line per run, totals, the estimate block."""
    header = ("run id", "files", "bytes", "storage class", "glacier", "expired", "processed")
    body = [
        (
            row.run_id,
            f"{row.files:,}",
            human_bytes(row.bytes),
            row.storage_class,
            _yes(row.glacier, "GLACIER"),
            _yes(row.expired),
            _yes(row.processed),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    right = {1, 2}

    def fmt(line: Sequence[str]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))
        ]
        return "  ".join(cells).rstrip()

    out = [fmt(header), *(fmt(line) for line in body)]
    processed = totals["processed_runs"]
    out += [
        "",
        f"total: {totals['runs']:,} runs, {totals['files']:,} files, {human_bytes(totals['bytes'])}"
        f" ({totals['glacier_runs']} in Glacier, {totals['expired_runs']} past the 180-day TTL, "
        + (
            "processed unknown: no --run-manifest-table"
            if processed is None
            else f"{processed} processed"
        )
        + ")",
        f"to write: {totals['to_write']['runs']:,} runs, {totals['to_write']['files']:,} files, "
        f"{human_bytes(totals['to_write']['bytes'])}",
        "",
        "estimate for the runs to write:",
        f"  events  ~{est.events:,}  ({est.basis})",
        f"  writes  ~{est.writes:,} conditional PutItem, 1 WCU each (duplicates cost the same)",
        f"  cost    ~{_dollars(est.cost_usd)} on demand "
        f"(${est.price_per_million_usd} per million writes)",
        f"  time    ~{human_duration(est.seconds)} at {est.write_capacity:,} WCU "
        f"(--write-capacity), of which ~{human_duration(est.file_seconds)} for "
        f"{est.files:,} files",
    ]
    return "\n".join(out)


def _read_head(path: str, s3: Any) -> bytes:
    """The first SAMPLE_BYTES of a data file: a Range GET on S3, a bounded read locally."""
    where = parse_location(path, "data file")
    if where.is_s3:
        return s3io.get_range(s3, where.bucket, where.key, 0, SAMPLE_BYTES - 1)
    with open(where.path, "rb") as handle:
        return handle.read(SAMPLE_BYTES)


def _sample(runs: Sequence[Run], rows: Sequence[RunRow], s3: Any) -> Optional[Sample]:
    """Measure the largest file of the newest run that will be written (else newest readable)."""
    readable = [(run, row) for run, row in zip(runs, rows) if not row.glacier and run.files]
    preferred = [pair for pair in readable if pair[1].to_write] or readable
    for run, _ in reversed(preferred):
        biggest = max(run.files, key=lambda f: f.size)
        try:
            head = _read_head(biggest.path, s3)
        except Exception:
            continue  # unreadable: try an older run; the estimate falls back to the default
        sample = measure_sample(head, biggest.path, whole_file=biggest.size <= SAMPLE_BYTES)
        if sample is not None:
            return sample
    return None


def _region(s3: Any, archive: str, region: Optional[str]) -> Optional[str]:
    if region or not archive_is_s3(archive):
        return region
    try:
        return s3io.bucket_region(s3, parse_location(archive, "ENRICHED_ARCHIVE").bucket)
    except Exception:
        return None


def _aws_error(error: BaseException, what: str) -> UserError:
    code = error_code(error)
    response = getattr(error, "response", None) or {}
    message = response.get("Error", {}).get("Message") or str(error)
    return UserError(f"{what}: {code}: {message}")


def _options(
    enriched_archive: Optional[str],
    since: Optional[str],
    run_manifest_table: Optional[str],
    write_capacity: Any,
    region: Optional[str],
) -> Tuple[str, Optional[datetime], int]:
    """Validate the options (no AWS call): (archive, since, write capacity)."""
    if not enriched_archive:
        raise UserError(
            "missing ENRICHED_ARCHIVE: give the enriched archive, e.g. "
            "inv list_runs s3://bucket/enriched/archive/ (or a local directory)"
        )
    archive = validate_archive(enriched_archive)
    moment = check_since(since)
    capacity = DEFAULT_WRITE_CAPACITY
    if write_capacity is not None:
        try:
            capacity = int(str(write_capacity))
        except ValueError:
            capacity = 0
        if capacity < 1:
            raise UserError(
                f"--write-capacity {write_capacity!r}: expected a whole number of WCU >= 1"
            )
    check_table_name(run_manifest_table, "--run-manifest-table")
    if region is not None and not REGION_RE.match(region):
        raise UserError(f"--region {region!r}: expected an AWS region such as us-east-1")
    return archive, moment, capacity


def _find_runs(archive: str, s3: Any, moment: Optional[datetime]) -> List[Run]:
    try:
        runs = find_runs(archive, s3, moment)
        if not runs:
            check_archive_has_runs(archive, s3)
    except FileNotFoundError as error:
        raise UserError(f"ENRICHED_ARCHIVE: {error}") from None
    except UserError:
        raise
    except Exception as error:
        if error_code(error) in ("NoSuchBucket", "AccessDenied", "AllAccessDisabled"):
            raise _aws_error(error, f"cannot list {archive}") from None
        raise
    return runs


def _processed(
    runs: Sequence[Run], archive: str, table: str, s3: Any, region: Optional[str], profile: Any
) -> Set[str]:
    """The runs the run manifest records (none when the table does not exist yet)."""
    table_region = _region(s3, archive, region) or aws.session(profile).region_name
    client = aws.session(profile, table_region).client("dynamodb", config=aws.client_config())
    try:
        return RunManifests(client, table).contains_many(r.prefix for r in runs)
    except Exception as error:
        if error_code(error) != "ResourceNotFoundException":
            if getattr(error, "response", None) is None:
                raise
            raise _aws_error(error, f"cannot read --run-manifest-table '{table}'") from None
    # The job creates it on its first run: until then no run is recorded.
    notice(
        f"run manifest table '{table}' does not exist in {table_region} "
        "(yet): no run is recorded as processed (check the name, or give --region)"
    )
    return set()


def _table_exists(
    s3: Any, archive: str, region: Optional[str], profile: Optional[str], table: Optional[str]
) -> Optional[bool]:
    """Does the events-manifest table exist (DescribeTable)? None: no --table, or unreadable."""
    if not table:
        return None
    where = _region(s3, archive, region) or aws.session(profile).region_name
    client = aws.session(profile, where).client("dynamodb", config=aws.client_config())
    try:
        return EventsManifest(client, table).describe() is not None
    except Exception as error:
        notice(f"cannot describe table '{table}' in {where} ({error_code(error) or error})")
        return None


def _methods(est: Estimate, exists: Optional[bool]) -> Tuple[Dict[str, Any], List[str]]:
    """Both methods side by side (launcher.method) for --json and for the text."""
    write, imported, auto = compare_methods(est.writes, est.write_capacity, bool(exists))
    if exists is None:
        auto = "auto would pick: unknown: import if the table does not exist, else write"
    document = {
        "write": asdict(write),
        "import": asdict(imported),
        "table_exists": exists,
        "auto": None if exists is None else ("write" if exists else "import"),
        "auto_reason": auto,
    }
    lines = render_comparison(write, imported, auto)
    return document, ["", "methods (inv run_emr/run_local --method):", *lines]


def list_runs(
    enriched_archive: Optional[str],
    since: Optional[str] = None,
    run_manifest_table: Optional[str] = None,
    json_output: bool = False,
    write_capacity: Any = None,
    region: Optional[str] = None,
    profile: Optional[str] = None,
    now: Optional[datetime] = None,
    table: Optional[str] = None,
) -> int:
    """The task body (wrap with populator.cli.common.command)."""
    archive, moment, capacity = _options(
        enriched_archive, since, run_manifest_table, write_capacity, region
    )
    s3 = None
    if archive_is_s3(archive) or run_manifest_table:
        s3 = aws.s3_client(region=region, profile=profile)
    runs = _find_runs(archive, s3, moment)
    processed: Optional[Set[str]] = None
    if run_manifest_table:
        processed = _processed(runs, archive, run_manifest_table, s3, region, profile)

    rows = rows_for(runs, processed, now or datetime.now(timezone.utc))
    totals = _totals(rows, processed is not None)
    writing = totals["to_write"]
    est = estimate(writing["bytes"], _sample(runs, rows, s3), capacity, files=writing["files"])
    methods, method_lines = _methods(est, _table_exists(s3, archive, region, profile, table))
    if json_output:
        document = {
            "archive": archive,
            "since": None if moment is None else format_run_id(moment),
            "run_manifest_table": run_manifest_table,
            "runs": [asdict(row) for row in rows],
            "totals": totals,
            "estimate": asdict(est),
            "methods": methods,
        }
        print(json.dumps(document, indent=2), flush=True)
        return 0
    if not rows:
        print(f"no runs under {archive}" + (f" at or after {since}" if since else ""), flush=True)
    print(render_table(rows, totals, est), file=sys.stdout, flush=True)
    print("\n".join(method_lines), flush=True)
    return 0
