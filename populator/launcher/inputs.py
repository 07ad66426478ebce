"""Validation shared by the launching commands (run_local, run_emr): one code path, one error."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

from populator.cli.common import notice, protect_secret
from populator.core import aws
from populator.core.errors import UserError
from populator.core.location import has_s3_scheme, parse_s3_uri
from populator.core.manifest import EventsManifest, ManifestTableError
from populator.core.since import parse_since
from populator.core.storage_config import StorageConfig


@dataclass(frozen=True)
class Inputs:
    archive: str  # normalised: s3://bucket/prefix/ or an absolute local directory
    since: Optional[datetime]
    storage: StorageConfig


def require(value: Optional[str], name: str, what: str) -> str:
    if value is None or not str(value).strip():
        raise UserError(f"missing {name}: give {what} (see `inv --help` for the task)")
    return str(value)


def validate_archive(text: str) -> str:
    """An s3://, s3a://, s3n:// URI (normalised to s3://) or an existing local directory."""
    if has_s3_scheme(text):
        try:
            return parse_s3_uri(text).uri
        except ValueError as error:
            raise UserError(f"ENRICHED_ARCHIVE {text!r}: {error}") from None
    local = text[len("file://") :] if text.startswith("file://") else text
    if "://" in local:
        raise UserError(
            f"ENRICHED_ARCHIVE {text!r}: expected s3://bucket/prefix/ (or s3a://, s3n://) "
            "or a local directory"
        )
    if not os.path.isdir(local):
        raise UserError(
            f"ENRICHED_ARCHIVE {text!r}: no such local directory (for S3 write s3://bucket/prefix/)"
        )
    return os.path.abspath(local).rstrip("/") + "/"


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
    moment = None
    if since is not None:
        try:
            moment = parse_since(since)
        except ValueError as error:
            raise UserError(str(error)) from None
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
    return Inputs(archive=archive, since=moment, storage=storage)


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
