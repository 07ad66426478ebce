"""The job's JSON report, read back by the launcher once `--wait` has seen the job end.

The job writes its report to the `--report` URI in its own arguments (see
populator.core.report); the launcher finds that URI in the step EMR holds (or the job run EMR
Serverless holds), so a re-attached wait (`--step-id S`, `--job-run-id R`) finds it too.
Report keys are content-addressed by the request digest, so an identical request submitted
again names the same key: a report older than the step or job run is an earlier attempt's and
is ignored rather than shown as this one's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Sequence

from populator.core import s3io
from populator.core.location import has_s3_scheme, parse_location
from populator.core.retry import error_code

__all__ = [
    "MAX_REPORT_BYTES",
    "FetchedReport",
    "failure_lines",
    "fetch_report",
    "report_uri",
    "step_report_uri",
]

MAX_REPORT_BYTES = 64 * 1024 * 1024  # a report listing many unreadable files is still small
MAX_LISTED = 10  # read errors shown on a failure; the rest are in the report
# S3 keeps LastModified to the second: a report written just after the step was created can
# look a little older than it.
CLOCK_SLACK = timedelta(seconds=2)


@dataclass(frozen=True)
class FetchedReport:
    """`status`: found, missing (no object), stale (older than the step) or invalid."""

    uri: str
    status: str
    report: Optional[Dict[str, Any]] = None
    detail: str = ""


def report_uri(step_args: Sequence[str]) -> Optional[str]:
    """The value of the last `--report` flag among a step's arguments (an S3 URI), else None."""
    found = None
    for index, arg in enumerate(step_args):
        if arg == "--report" and index + 1 < len(step_args):
            found = step_args[index + 1]
        elif arg.startswith("--report="):
            found = arg.split("=", 1)[1]
    return found if found and has_s3_scheme(found) else None


def step_report_uri(step: Dict[str, Any]) -> Optional[str]:
    """The report URI of a DescribeStep `Step` (its HadoopJarStep arguments)."""
    return report_uri([str(arg) for arg in (step.get("Config") or {}).get("Args", [])])


def _split(uri: str) -> List[str]:
    where = parse_location(uri, "--report")
    return [where.bucket, where.key]


def fetch_report(s3_client: Any, uri: str, not_before: Optional[datetime] = None) -> FetchedReport:
    """Read the report at `uri`; `not_before` (the step's creation time) rejects stale ones.

    Only a missing object is expected (the job died before writing it); other S3 errors
    propagate for the caller to mention.
    """
    bucket, key = _split(uri)
    try:
        answer = s3io.get_object(s3_client, bucket, key)
    except Exception as error:
        if error_code(error) in ("NoSuchKey", "404", "NotFound"):
            return FetchedReport(uri, "missing", detail="the job wrote no report there")
        raise
    modified = answer.get("LastModified")
    if not_before is not None and modified is not None and modified < not_before - CLOCK_SLACK:
        answer["Body"].close()
        return FetchedReport(
            uri,
            "stale",
            detail=f"written {modified:%Y-%m-%d %H:%M:%S} UTC, before this step was submitted: "
            "an earlier attempt's",
        )
    if int(answer.get("ContentLength") or 0) > MAX_REPORT_BYTES:
        answer["Body"].close()
        return FetchedReport(uri, "invalid", detail=f"larger than {MAX_REPORT_BYTES:,} bytes")
    try:
        report = json.loads(answer["Body"].read().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return FetchedReport(uri, "invalid", detail=f"not JSON ({error})")
    if not isinstance(report, dict):
        return FetchedReport(uri, "invalid", detail="not a JSON object")
    return FetchedReport(uri, "found", report=report)


def failure_lines(report: Dict[str, Any], limit: int = MAX_LISTED) -> List[str]:
    """What the job said went wrong: its `errors`, then its unreadable files (bounded)."""
    lines = [f"job error: {error}" for error in report.get("errors") or []]
    read_errors = report.get("read_errors") or []
    for error in read_errors[:limit]:
        if isinstance(error, dict):
            lines.append(f"unreadable: {error.get('path')}: {error.get('error')}")
    if len(read_errors) > limit:
        lines.append(f"... and {len(read_errors) - limit} more unreadable files in the report")
    not_recorded = (report.get("runs") or {}).get("not_recorded") or []
    if not_recorded:
        lines.append(
            f"{len(not_recorded)} run(s) not recorded as processed: a re-run reads them again"
        )
    return lines
