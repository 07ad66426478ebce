"""Validation shared by the launching commands (run_local, run_emr): one code path, one error."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from populator.cli.common import notice, protect_secret
from populator.core import aws, s3io
from populator.core.archive import no_runs_problem
from populator.core.errors import UserError
from populator.core.location import Location, LocationError, destination_problem, parse_location
from populator.core.manifest import EventsManifest, ManifestTableError
from populator.core.retry import error_code
from populator.core.run_manifests import table_name_problem
from populator.core.since import parse_since
from populator.core.storage_config import StorageConfig


@dataclass(frozen=True)
class Inputs:
    archive: str  # normalised: s3://bucket/prefix/ or an absolute local directory
    since: Optional[datetime]
    storage: StorageConfig
    # The user's files this run reads (storage config, resolver): outputs must not be them.
    input_files: Tuple[str, ...] = ()


def require(value: Optional[str], name: str, what: str) -> str:
    if value is None or not str(value).strip():
        raise UserError(f"missing {name}: give {what} (see `inv --help` for the task)")
    return str(value)


def location(text: str, option: str) -> Location:
    """``text`` parsed by the one location parser, or a UserError naming ``option``."""
    try:
        return parse_location(text, option)
    except LocationError as error:
        raise UserError(str(error)) from None


def validate_archive(text: str) -> str:
    """An s3://, s3a://, s3n:// URI (normalised to s3://), a file:// URI (percent-encoding
    decoded, as the job reads it) or an existing local directory (absolute, ending ``/``)."""
    archive = location(text, "ENRICHED_ARCHIVE").as_folder()
    if archive.is_s3:
        return archive.uri
    if not os.path.isdir(archive.path):
        raise UserError(
            f"ENRICHED_ARCHIVE {text!r}: no such local directory (for S3 write s3://bucket/prefix/)"
        )
    return archive.uri


def check_since(since: Optional[str]) -> Optional[datetime]:
    """--since as a moment (None when not given); a bad value is a UserError (exit 2)."""
    if since is None:
        return None
    try:
        return parse_since(since)
    except ValueError as error:
        raise UserError(str(error)) from None


def check_table_name(value: Optional[str], option: str) -> Optional[str]:
    """``value`` when it is a DynamoDB table name (None: option not given); else UserError.

    ``--run-manifest-table ""`` (an unset shell variable) is an error, not "no run manifest".
    """
    if value is None:
        return None
    problem = table_name_problem(value)
    if problem:
        raise UserError(f"{option} {value!r} {problem}")
    return value


def _local_destination_problem(option: str, where: Location, folder: bool) -> Optional[str]:
    """A local output that cannot be written: a directory given for a file, a path under a
    file, a file given for a folder, an unwritable folder (checked on the nearest existing one)."""
    path = where.path
    if not folder and (where.folder or os.path.isdir(path)):
        return f"{option} {where.uri} is a directory: give a file name, e.g. {path}/report.json"
    if folder and os.path.exists(path) and not os.path.isdir(path):
        return f"{option} {where.uri} is a file: give a folder"
    parent = path if folder else os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"{option} {where.uri} is under {parent}, which is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{option} {where.uri}: folder {parent} is not writable"
    return None


def check_destinations(
    archive: str,
    report: Optional[str] = None,
    bad_rows: Optional[str] = None,
    inputs: Sequence[str] = (),
) -> Dict[str, Location]:
    """Refuse outputs that would lose data, before any work (UserError, exit 2).

    ``--report``/``--bad-rows`` must not be at or under the archive (the next run would read
    them as events), nor any input file (``inputs``: the storage config, the resolver, ...),
    nor (locally) a directory given for the report, a path under a file or an unwritable
    folder. Returns the parsed destinations by option; no AWS call (see check_buckets).
    """
    root = location(archive, "ENRICHED_ARCHIVE").as_folder()
    sources = [location(path, "input") for path in inputs if path]
    found: Dict[str, Location] = {}
    for option, value, folder in (("--report", report, False), ("--bad-rows", bad_rows, True)):
        if value is None:
            continue
        if not str(value).strip():
            raise UserError(f"{option} is empty (an unset variable?): give a location or omit it")
        where = location(value, option)
        if option == "--report" and where.is_s3 and where.is_dir_like:
            raise UserError(f"{option} {where.uri} is a folder: give an object key ending .json")
        problem = destination_problem(option, where, root, sources)
        if problem is None and not where.is_s3:
            problem = _local_destination_problem(option, where, folder)
        if problem:
            raise UserError(problem)
        found[option] = where.as_folder() if folder else where
    return found


def check_buckets(destinations: Dict[str, Location], s3_client: Any) -> None:
    """Every S3 destination's bucket exists (else UserError, exit 2), before any work."""
    for option, where in destinations.items():
        if not where.is_s3:
            continue
        try:
            exists = s3io.bucket_exists(s3_client, where.bucket)
        except Exception as error:
            raise UserError(
                f"{option} {where.uri}: cannot check bucket '{where.bucket}' (HeadBucket): "
                f"{error_code(error) or error}"
            ) from None
        if not exists:
            raise UserError(f"{option} {where.uri}: bucket '{where.bucket}' does not exist")


def check_archive_has_runs(archive: str, s3_client: Any = None) -> None:
    """UserError (exit 2) when the archive holds no ``run=`` folder at all (a run folder given
    instead of its parent, the bucket root, an empty prefix), else nothing."""
    problem = no_runs_problem(archive, s3_client)
    if problem:
        raise UserError(f"ENRICHED_ARCHIVE: {problem}")


def validate_inputs(
    enriched_archive: Optional[str],
    storage_config: Optional[str],
    resolver: Optional[str],
    since: Optional[str],
    notify: Callable[[str], None] = notice,
    local_archive_ok: bool = True,
) -> Inputs:
    """Check everything that needs no AWS call; raise UserError with one clear paragraph."""
    from populator.launcher.configs import load_resolver_config, load_storage_config

    archive = validate_archive(
        require(
            enriched_archive,
            "ENRICHED_ARCHIVE",
            "the enriched archive, e.g. s3://bucket/enriched/archive/",
        )
    )
    if not local_archive_ok and not archive.startswith("s3://"):
        raise UserError(
            f"ENRICHED_ARCHIVE {enriched_archive!r}: EMR reads from S3; give s3://bucket/prefix/"
        )
    moment = check_since(since)
    storage_path = require(
        storage_config, "STORAGE_CONFIG", "the DynamoDB storage config (JSON) path"
    )
    resolver_path = require(resolver, "RESOLVER", "the Iglu resolver config (JSON) path")
    iglu = load_resolver_config(resolver_path)
    for apikey in iglu.secrets:
        protect_secret(apikey)
    storage = load_storage_config(storage_path, iglu, notify)
    for secret in storage.secrets():
        protect_secret(secret)
    return Inputs(
        archive=archive,
        since=moment,
        storage=storage,
        input_files=(storage_path, resolver_path),
    )


def ensure_manifest_table(
    storage: StorageConfig,
    create: bool,
    endpoint_url: Optional[str] = None,
    profile: Optional[str] = None,
    log: Callable[[str], None] = notice,
    method: str = "write",
    expected_rate: Optional[float] = None,
) -> EventsManifest:
    """Check the events-manifest table; create it (on-demand, TTL on `ttl`) when allowed.

    `method="import"`: the table must still not exist (ImportTable creates it): nothing is
    created here. `expected_rate` (writes/s): warn when an on-demand table would get over
    half of its maximum write throughput (core.write.budget.on_demand_warning).
    """
    client = aws.dynamodb_client(storage, endpoint_url, profile=profile)
    manifest = EventsManifest(client, storage.table)
    try:
        description = manifest.describe()
        if method == "import":
            if description is not None:
                raise UserError(
                    f"--method import: DynamoDB table '{storage.table}' ({storage.region}) "
                    "exists, and ImportTable only creates new tables; use --method write (or auto)"
                )
            return manifest
        if description is None:
            if not create:
                raise UserError(
                    f"DynamoDB table '{storage.table}' ({storage.region}) does not exist and "
                    "--no-create-table was given: create it or drop the flag"
                )
            manifest.create()
            log(f"created DynamoDB table '{storage.table}' (on-demand, TTL on 'ttl')")
            description = manifest.describe() or {}
        else:
            description = manifest.check()
            if not manifest.ttl_enabled():
                log(
                    f"table '{storage.table}' has no TTL on 'ttl': expired items will be written "
                    "and kept (enable TTL to save writes)"
                )
    except ManifestTableError as error:
        raise UserError(str(error)) from None
    if expected_rate is not None:
        from populator.core.write.budget import on_demand_warning

        warning = on_demand_warning(description, expected_rate)
        if warning:
            log(warning)
    return manifest
