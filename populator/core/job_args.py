"""The job's command line. Secrets never travel here: the storage config is read from a file."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional

from populator.core.since import parse_since
from populator.core.write.fast_put import WRITERS

DEFAULT_IN_FLIGHT = 32


@dataclass(frozen=True)
class JobOptions:
    enriched_archive: str
    storage_config: str
    since: Optional[datetime] = None
    run_manifest_table: Optional[str] = None
    report: Optional[str] = None
    bad_rows: Optional[str] = None
    in_flight: int = DEFAULT_IN_FLIGHT
    include_expired: bool = False
    endpoint_url: Optional[str] = None
    dynamodb_endpoint_url: Optional[str] = None
    retry_attempts: int = 16
    accept_read_errors: bool = False
    batches: int = 10
    partitions: Optional[int] = None
    writer: str = "fast"
    # ---- progress (issue 13; owned by the progress engineer: port this block as is) ----
    progress_interval: float = 30.0
    progress_uri: Optional[str] = None
    # --- importer (issue 11 part 1): --method import; the integrator ports this block ---
    method: str = "write"  # "write" or "import"; the launcher resolves "auto"
    import_prefix: Optional[str] = None  # staged files (default: beside the archive)
    keep_import_files: bool = False
    import_capacity: Optional[str] = None  # "READ,WRITE": provisioned; else on demand
    # ---- write budget (writes engineer; see the block at the end of parser()) ----
    max_write_rate: Optional[float] = None
    write_share: float = 0.5


def _since(text: str) -> datetime:
    try:
        return parse_since(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="populate_manifest.py",
        description="Back-populate the Snowplow events manifest from the enriched archive.",
    )
    p.add_argument(
        "--enriched-archive", required=True, help="s3://, s3a://, s3n://, file:// or a local dir"
    )
    p.add_argument(
        "--storage-config", required=True, help="validated storage config: path or S3 URI"
    )
    p.add_argument(
        "--since", type=_since, help="process runs at or after YYYY-MM-DD[-HH-MM-SS] (UTC)"
    )
    p.add_argument("--run-manifest-table", help="skip runs recorded here; record runs when written")
    p.add_argument("--report", help="write the JSON report to this path or S3 URI")
    p.add_argument(
        "--bad-rows", help="write malformed lines with their reason under this path or S3 prefix"
    )
    p.add_argument(
        "--in-flight",
        type=_positive,
        default=DEFAULT_IN_FLIGHT,
        help="concurrent writes per partition",
    )
    p.add_argument(
        "--include-expired", action="store_true", help="also write items whose ttl has passed"
    )
    p.add_argument(
        "--endpoint-url", help="AWS endpoint for S3 and DynamoDB (else AWS_ENDPOINT_URL)"
    )
    p.add_argument(
        "--dynamodb-endpoint-url", help="DynamoDB endpoint only (default: --endpoint-url)"
    )
    p.add_argument(
        "--retry-attempts",
        type=_positive,
        default=16,
        help="attempts per write before the task fails",
    )
    p.add_argument(
        "--accept-read-errors", action="store_true", help="record runs with unreadable files anyway"
    )
    p.add_argument(
        "--batches", type=_positive, default=10, help="write runs in this many checkpointed batches"
    )
    p.add_argument(
        "--partitions", type=_positive, help="write partitions (default: from the data size)"
    )
    p.add_argument(
        "--writer",
        choices=WRITERS,
        default="fast",
        help="PutItem path: fast (botocore-signed, a quarter or less of boto3's CPU) or boto3",
    )
    # ---- progress (issue 13; owned by the progress engineer: port this block as is) ----
    p.add_argument(
        "--progress-interval",
        type=_seconds,
        default=30.0,
        help="publish progress every this many seconds (default 30; a last one on exit)",
    )
    p.add_argument(
        "--progress-uri",
        help="write progress JSON here (path or S3 URI; default: beside an S3 --report)",
    )
    _add_import_flags(p)
    _add_write_budget_flags(p)
    return p


def _seconds(text: str) -> float:
    """A positive number of seconds (fractions allowed: tests publish every 0.2 s)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


# ---- write budget flags (writes engineer): to be ported into the one flag table ------------
WRITE_BUDGET_HELP = {
    "max_write_rate": (
        "writes/s for the whole backfill, across every task and executor (default: none, "
        "or --write-share of a provisioned table's write capacity)"
    ),
    "write_share": (
        "fraction of a PROVISIONED table's current write capacity the backfill may use when "
        "--max-write-rate is not given (default 0.5; on-demand tables get no default cap)"
    ),
}


def _positive_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of writes/s > 0, got {text!r}")
    return value


# --- importer (issue 11 part 1): --method import; the integrator ports this block ------------


def _capacity(text: str) -> str:
    from populator.core.import_table import parse_capacity

    try:
        parse_capacity(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _add_import_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--method",
        choices=("write", "import"),
        default="write",
        help="write: conditional PutItems into an existing table; import: create the table "
        "with DynamoDB ImportTable (the table must not exist)",
    )
    p.add_argument(
        "--import-prefix",
        help="S3 prefix of the staged import files (default s3://ARCHIVE_BUCKET/populator/import/)",
    )
    p.add_argument(
        "--keep-import-files",
        action="store_true",
        help="keep the staged files after the import COMPLETED",
    )
    p.add_argument(
        "--import-capacity",
        type=_capacity,
        help="READ,WRITE provisioned capacity of the imported table (default: on demand)",
    )


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text!r}")
    return value


def _add_write_budget_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-write-rate", type=_positive_rate, help=WRITE_BUDGET_HELP["max_write_rate"]
    )
    p.add_argument(
        "--write-share", type=_share, default=0.5, help=WRITE_BUDGET_HELP["write_share"]
    )
# ---- end of the write budget flags ----------------------------------------------------------


def parse_options(argv: List[str]) -> JobOptions:
    """Parse argv; argparse exits 2 with a usage message on bad arguments."""
    return JobOptions(**vars(parser().parse_args(argv)))


def dynamodb_endpoint(options: JobOptions) -> Optional[str]:
    return options.dynamodb_endpoint_url or options.endpoint_url
