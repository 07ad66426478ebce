"""`--method write|import|auto`: which way the backfill fills the table, and what each costs.

Pure functions for the launcher (Python 3.11). `choose_method` resolves `auto` from whether the
events-manifest table exists (ImportTable only creates new tables); its reason is printed
before anything starts and shown by `--dry-run`. `compare_methods` puts both methods side by
side for `inv list_runs`: dollars, bytes and time.

Prices (us-east-1), from https://aws.amazon.com/dynamodb/pricing/on-demand/ :
- "Import from S3": $0.15 per GB of source data, measured uncompressed, failed items included;
- on-demand write request units: $0.625 per million (after the November 2024 price cut).
Check the page for your region; both are arguments here, so a caller can pass its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from populator.core.import_table import BYTES_PER_ITEM  # 175 B: a typical item line, measured

METHODS = ("write", "import", "auto")
IMPORT_PRICE_PER_GB = 0.15  # USD, us-east-1, "Import from S3" (page cited above)
WRITE_PRICE_PER_MILLION = 0.625  # USD, us-east-1, on-demand write request units
GB = 1 << 30  # AWS bills data volumes in GB of 2^30 bytes


def choose_method(requested: str, table_exists: bool) -> tuple[str, str]:
    """(method, reason). `auto`: import into a table that does not exist yet, else write.

    Raises ValueError for an unknown method or `import` onto an existing table (exit 2).
    """
    if requested not in METHODS:
        raise ValueError(f"--method {requested!r}: expected one of {', '.join(METHODS)}")
    if requested == "import" and table_exists:
        raise ValueError(
            "--method import: the events-manifest table exists, and DynamoDB's ImportTable "
            "only creates new tables; use --method write (or auto)"
        )
    if requested == "import":
        return "import", "--method import: ImportTable creates the table from staged S3 files"
    if requested == "write":
        if table_exists:
            return "write", "--method write: conditional writes into the existing table"
        return "write", "--method write: the table is created, then written item by item"
    if table_exists:
        return "write", "auto: the table exists, and ImportTable cannot add to a table"
    return "import", (
        "auto: the table does not exist, so ImportTable creates it without consuming write "
        "capacity (about 1/25 of the cost of writing)"
    )


def job_flags(
    method: str,
    import_prefix: Optional[str] = None,
    keep_import_files: bool = False,
    import_capacity: Optional[str] = None,
) -> list[str]:
    """The job's flags for a resolved method (`auto` never reaches the job)."""
    if method not in ("write", "import"):
        raise ValueError(f"resolve --method {method!r} with choose_method first")
    flags = ["--method", method]
    if method == "import":
        if import_prefix:
            flags += ["--import-prefix", import_prefix]
        if keep_import_files:
            flags.append("--keep-import-files")
        if import_capacity:
            flags += ["--import-capacity", import_capacity]
    return flags


def default_import_prefix(assets_uri: str) -> str:
    """`inv run_emr`: the staged files go beside the other assets (`<assets>/import/`)."""
    return assets_uri.rstrip("/") + "/import/"


@dataclass(frozen=True)
class MethodCost:
    method: str
    items: int
    requests: int  # write requests (0 for import)
    import_bytes: int  # uncompressed DynamoDB JSON bytes ImportTable is billed on (0 for write)
    dollars: float
    seconds: Optional[float]  # None: not bound by write capacity (AWS publishes no rate)
    basis: str


def write_cost(
    items: int, write_rate: float, price_per_million: float = WRITE_PRICE_PER_MILLION
) -> MethodCost:
    """One conditional PutItem (1 WCU, under 1 KB) per stored key, at `write_rate` writes/s."""
    if write_rate <= 0:
        raise ValueError(f"write rate must be positive, not {write_rate}")
    return MethodCost(
        method="write",
        items=items,
        requests=items,
        import_bytes=0,
        dollars=round(items / 1_000_000 * price_per_million, 6),
        seconds=items / write_rate,
        basis=f"${price_per_million}/million on-demand writes, {write_rate:,.0f} writes/s",
    )


def import_cost(
    items: int,
    bytes_per_item: float = BYTES_PER_ITEM,
    price_per_gb: float = IMPORT_PRICE_PER_GB,
) -> MethodCost:
    """ImportTable is billed by the uncompressed bytes of the staged files."""
    total = round(items * bytes_per_item)
    return MethodCost(
        method="import",
        items=items,
        requests=0,
        import_bytes=total,
        dollars=round(total / GB * price_per_gb, 6),
        seconds=None,
        basis=f"${price_per_gb}/GB imported, {bytes_per_item:,.0f} B/item in DynamoDB JSON",
    )


def compare_methods(
    items: int, write_rate: float, table_exists: bool
) -> tuple[MethodCost, MethodCost, str]:
    """(write, import, what auto picks and why) for `inv list_runs`."""
    method, reason = choose_method("auto", table_exists)
    return write_cost(items, write_rate), import_cost(items), f"auto would pick {method}: {reason}"


def render_comparison(write: MethodCost, imported: MethodCost, auto: str) -> list[str]:
    """Lines for `inv list_runs` (text); the dataclasses feed `--json`."""
    time_text = "n/a" if write.seconds is None else f"{write.seconds:,.0f} s"
    ratio = imported.dollars / write.dollars if write.dollars else 0.0
    return [
        f"  write:  {write.requests:,} write requests, ${write.dollars:,.2f}, {time_text} "
        f"({write.basis})",
        f"  import: {imported.import_bytes:,} bytes to import, ${imported.dollars:,.2f}, "
        f"no write capacity used ({imported.basis}; {ratio:.3f} of writing)",
        f"  {auto}",
    ]
