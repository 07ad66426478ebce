"""Resolve `--method auto|write|import` once, before anything starts (run_local, run_emr).

The choice itself is `populator.launcher.method.choose_method` (pure); here is what the
launchers do around it: one DescribeTable under the short pre-flight budget, the rules that
need the rest of the command line (`--no-create-table`, a local archive without
`--import-prefix`), and what a dry run does when AWS cannot be reached (it still prints the
request: the write one, and says that auto is undecided).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Mapping, Optional

from populator.core import aws
from populator.core.errors import UserError
from populator.core.manifest import EventsManifest
from populator.launcher.method import choose_method

__all__ = ["MethodChoice", "describe_manifest_table", "method_job_extra", "resolve_method"]


@dataclass(frozen=True)
class MethodChoice:
    requested: str  # what the user asked: auto, write or import
    method: str  # what the job gets: write or import
    reason: str
    table_exists: Optional[bool]  # None: the table could not be checked (a dry run offline)

    def line(self) -> str:
        return f"populator: method {self.method}: {self.reason}"

    def as_json(self) -> Dict[str, Any]:
        return asdict(self)


def describe_manifest_table(
    storage: Any, endpoint_url: Optional[str] = None, profile: Optional[str] = None
) -> Optional[Dict[str, Any]]:
    """DescribeTable's answer for the events-manifest table (None: it does not exist)."""
    with aws.preflight():
        client = aws.dynamodb_client(storage, endpoint_url, profile=profile)
        return EventsManifest(client, storage.table).describe()


def resolve_method(
    requested: Optional[str],
    describe: Callable[[], Optional[Dict[str, Any]]],
    create_table: bool = True,
    s3_staging: bool = True,
    dry_run: bool = False,
) -> MethodChoice:
    """The method the job runs with, and why. UserError (exit 2) for a refused combination.

    `s3_staging`: the staged import files have somewhere to go in S3 (an S3 archive, or
    `--import-prefix`); ImportTable reads only from S3. A dry run that cannot reach DynamoDB
    resolves `auto` to write and says so; a real run lets the AWS error through (exit 2).
    """
    wanted = (requested or "auto").strip().lower()
    if wanted not in ("auto", "write", "import"):
        raise UserError(f"--method {requested!r}: expected auto, write or import")
    try:
        exists: Optional[bool] = describe() is not None
    except Exception as error:
        if not dry_run:
            raise
        exists = None
        unchecked = f"could not describe the table ({type(error).__name__}: {error})"
    if wanted == "import" and not s3_staging:
        raise UserError(
            "--method import: ImportTable reads its files from S3 and the archive is local: "
            "give --import-prefix s3://bucket/prefix/ (or use --method write)"
        )
    if wanted == "import" and not create_table:
        raise UserError(
            "--method import creates the events-manifest table and --no-create-table forbids "
            "creating it: drop one of the two"
        )
    if exists is None:
        if wanted == "auto":
            return MethodChoice(
                wanted,
                "write",
                f"auto undecided in this dry run: {unchecked}; the request shown is the write "
                "one (auto imports when the table does not exist)",
                None,
            )
        return MethodChoice(wanted, wanted, f"--method {wanted} (dry run: {unchecked})", None)
    if wanted == "auto" and not exists and not create_table:
        return MethodChoice(wanted, "write", "auto: --no-create-table: the table must exist", False)
    if wanted == "auto" and not exists and not s3_staging:
        return MethodChoice(
            wanted,
            "write",
            "auto: the table does not exist, but the archive is local and ImportTable reads "
            "from S3 (give --import-prefix to import): the table is created, then written",
            False,
        )
    try:
        method, reason = choose_method(wanted, exists)
    except ValueError as error:
        raise UserError(str(error)) from None
    return MethodChoice(wanted, method, reason, exists)


def method_job_extra(
    job_extra: Mapping[str, Any], method: str, default_import_prefix: Optional[str] = None
) -> Dict[str, Any]:
    """The job flags (by dest) with the resolved method; an import's staging prefix defaults to
    `default_import_prefix` (run_emr: beside the assets) unless `--import-prefix` was given."""
    extra = {**job_extra, "method": method}
    if method == "import" and not extra.get("import_prefix") and default_import_prefix:
        extra["import_prefix"] = default_import_prefix
    return extra
