"""Resolve `--method auto|write|import` once, before anything starts (run_local, run_emr).

The choice itself is `populator.launcher.method.choose_method` (pure); here is what the
launchers do around it: one DescribeTable under the short pre-flight budget, the rules that
need the rest of the command line (`--no-create-table`, a local archive without
`--import-prefix`), and what a dry run does when AWS cannot be reached (it still prints the
request: the write one, and says that auto is undecided).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Mapping, Optional

from populator.core import aws, s3io
from populator.core.errors import UserError
from populator.core.import_table import backfill_digest, staging
from populator.core.manifest import EventsManifest
from populator.core.retry import error_code
from populator.launcher.method import choose_method

__all__ = [
    "MethodChoice",
    "describe_manifest_table",
    "method_job_extra",
    "resolve_method",
    "unfinished_import_marker",
]


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
    unfinished_import: Callable[[], Optional[str]] = lambda: None,
) -> MethodChoice:
    """The method the job runs with, and why. UserError (exit 2) for a refused combination.

    `s3_staging`: the staged import files have somewhere to go in S3 (an S3 archive, or
    `--import-prefix`); ImportTable reads only from S3. A dry run that cannot reach DynamoDB
    resolves `auto` to write and says so; a real run lets the AWS error through (exit 2).
    `unfinished_import()`: the marker of this backfill's import when one was started and has
    not ended (a killed job): the table exists then, and the job follows that import.
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
    marker = _marker(unfinished_import, dry_run) if exists and wanted != "write" else None
    if marker:
        return MethodChoice(
            wanted,
            "import",
            f"this backfill's import was started and has not ended (marker {marker}): the job "
            "follows it and starts no second import",
            True,
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


def _marker(unfinished_import: Callable[[], Optional[str]], dry_run: bool) -> Optional[str]:
    try:
        return unfinished_import()
    except Exception:
        if not dry_run:
            raise
        return None


def unfinished_import_marker(
    s3: Any, import_prefix: str, inputs: Any, include_expired: bool
) -> Optional[str]:
    """The S3 URI of this backfill's import marker when its import has not ended, else None.

    The same digest and staging place as the job's (job/importer.plan_import): a marker that
    is neither COMPLETED nor FAILED is an import the job resumes (STAGED, IN_PROGRESS…).
    """
    since = None if inputs.since is None else inputs.since.strftime("%Y-%m-%d-%H-%M-%S")
    storage = inputs.storage
    digest = backfill_digest(storage.table, storage.region, inputs.archive, since, include_expired)
    try:
        stage = staging(import_prefix, digest)
    except ValueError:
        return None
    try:  # `s3`: a client made under aws.preflight() (a check before any work)
        body = s3io.read_bytes(s3, stage.bucket, stage.marker_key)
        marker = json.loads(body.decode("utf-8"))
    except Exception as error:
        if error_code(error) in ("NoSuchKey", "404", "NoSuchBucket", "AccessDenied"):
            return None
        if isinstance(error, ValueError):  # not JSON: the job will say so
            return None
        raise
    if not isinstance(marker, dict) or marker.get("status") in ("COMPLETED", "FAILED"):
        return None
    return f"s3://{stage.bucket}/{stage.marker_key}"
