"""The plan of a Serverless backfill: its requests, digest, uploads and locations (pure)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import populator
from populator.core.archive import format_run_id
from populator.core.errors import UserError
from populator.core.location import S3Uri, parse_s3_uri
from populator.launcher.bundle import Bundle
from populator.launcher.targets.base import Plan
from populator.launcher.targets.common.region import locations as default_locations
from populator.launcher.targets.common.request import (
    TAG_ARCHIVE,
    TAG_DIGEST,
    TAG_TABLE,
    TAG_TABLE_REGION,
    TAG_TOOL,
    TAG_VERSION,
    TOOL_NAME,
    JobArgs,
    build_job_args,
    tag_value,
)
from populator.launcher.targets.serverless.deps import spark_conf
from populator.launcher.targets.serverless.options import Checked, ServerlessOptions
from populator.launcher.targets.serverless.request import (
    APPLICATION_FROM_CREATE,
    ApplicationSpec,
    JobRunSpec,
    build_create_application,
    build_start_job_run,
    client_token,
    job_run_name,
    plan_digest,
)

__all__ = ["TARGET", "locations", "plan_backfill", "report_location"]

TARGET = "serverless"


def locations(archive: S3Uri, checked: Checked) -> Tuple[S3Uri, S3Uri]:
    """(log URI, assets): EMR's defaults (common.region), under `populator/` in the archive
    bucket; --assets defaults to a `populator-assets/` folder beside --log-path."""
    return default_locations(archive, checked.log_path, checked.assets)


def report_location(assets: S3Uri, digest: str) -> str:
    return f"{assets.uri}reports/backfill-{digest}.json"


def _tags(inputs: Any, digest: str, checked: Checked) -> Tuple[Tuple[str, str], ...]:
    storage = inputs.storage
    return (
        (TAG_TOOL, TOOL_NAME),
        (TAG_VERSION, populator.__version__),
        (TAG_ARCHIVE, tag_value(inputs.archive)),
        (TAG_TABLE, storage.table),
        (TAG_TABLE_REGION, storage.region),
        (TAG_DIGEST, digest),
        *checked.tags,
    )


def _requests(
    inputs: Any,
    bundle: Bundle,
    options: ServerlessOptions,
    checked: Checked,
    digest: str,
) -> Tuple[Optional[Dict[str, Any]], Dict[str, Any]]:
    archive = parse_s3_uri(inputs.archive)
    log_uri, assets = locations(archive, checked)
    assert bundle.job is not None and bundle.py_files is not None
    args = build_job_args(
        JobArgs(
            enriched_archive=inputs.archive,
            storage_config_uri=bundle.storage_config.uri(assets),
            since=None if inputs.since is None else format_run_id(inputs.since),
            run_manifest_table=options.run_manifest_table,
            report_uri=report_location(assets, digest),
            bad_rows_uri=checked.bad_rows,
            in_flight=checked.in_flight,
            include_expired=options.include_expired,
            accept_read_errors=options.accept_read_errors,
            extra=options.job_extra,
        )
    )
    tags = _tags(inputs, digest, checked)
    create = None
    if options.serverless:
        spec = ApplicationSpec(
            release_label=options.release_label,
            idle_timeout_minutes=checked.idle_timeout,
            image_uri=options.image_uri,
            tags=tags,
        )
        create = build_create_application(spec, digest, client_token(digest))
    run = JobRunSpec(
        application_id=options.application_id or APPLICATION_FROM_CREATE,
        execution_role_arn=str(options.execution_role_arn),
        entry_point=bundle.job.uri(assets),
        entry_point_arguments=tuple(args),
        log_uri=log_uri.uri,
        py_files_uri=bundle.py_files.uri(assets),
        conf=spark_conf(options.environment_archive),
        tags=tags,
        execution_timeout_minutes=checked.execution_timeout,
    )
    start = build_start_job_run(run, job_run_name(inputs.storage.table, digest), digest)
    return create, start


def plan_backfill(
    inputs: Any, bundle: Bundle, options: ServerlessOptions, checked: Checked
) -> Plan:
    """Both requests with their digest; `Plan.request` is what `--dry-run` prints."""
    if bundle.job is None or bundle.py_files is None:
        raise UserError("EMR Serverless runs our job script: --jar is not supported there")
    create, start = _requests(inputs, bundle, options, checked, "")
    digest = plan_digest(start, create)
    create, start = _requests(inputs, bundle, options, checked, digest)
    request: Dict[str, Any] = {"StartJobRun": start}
    if create is not None:
        request = {"CreateApplication": create, **request}
    archive = parse_s3_uri(inputs.archive)
    log_uri, assets = locations(archive, checked)
    artifacts = tuple(a for a in bundle.artifacts() if a.role != "bootstrap")
    return Plan(
        target=TARGET,
        operation="CreateApplication+StartJobRun" if create else "StartJobRun",
        request=request,
        digest=digest,
        report_uri=report_location(assets, digest),
        uploads=artifacts,
        region=options.region,
        extra={
            "log_uri": log_uri.uri,
            "assets": assets,
            "table": inputs.storage.table,
            "table_region": inputs.storage.region,
        },
    )
