"""The plan of a Serverless backfill: its requests, digest, uploads and locations (pure)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from populator.core.errors import UserError
from populator.core.location import parse_s3_uri
from populator.launcher.bundle import Bundle
from populator.launcher.targets.base import Plan
from populator.launcher.targets.common.plan import (
    backfill_tags,
    job_argv,
    locations,
    report_location,
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
    config = bundle.storage_config.uri(assets)
    args = job_argv(inputs, options, checked, config, report_location(assets, digest))
    tags = backfill_tags(inputs, digest, checked.tags)
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
