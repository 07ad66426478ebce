"""What both remote targets' plans share (pure): where the logs, uploads and the job's report
go, the job's command line from the shared options, and the tags the compute carries."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Tuple

import populator
from populator.core.archive import format_run_id
from populator.core.location import S3Uri
from populator.launcher.targets.common.options import RemoteChecked, RemoteOptions
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

__all__ = ["backfill_tags", "job_argv", "locations", "report_location", "upload_rows"]


def locations(archive: S3Uri, checked: RemoteChecked) -> Tuple[S3Uri, S3Uri]:
    """(log URI, assets): defaults under `populator/` in the archive bucket; --assets defaults
    to a `populator-assets/` folder beside --log-path when that is given (common.region)."""
    return default_locations(archive, checked.log_path, checked.assets)


def upload_rows(uploads: Iterable[Any], assets: S3Uri) -> List[Dict[str, Any]]:
    """A plan's uploads (bundle Artifacts) as `--dry-run` says them and `--json` lists them."""
    return [
        {"role": a.role, "uri": a.uri(assets), "bytes": len(a.body), "sha256": a.shown_sha256}
        for a in uploads
    ]


def report_location(assets: S3Uri, digest: str) -> str:
    """Where the job writes its JSON report: named by the request digest, under the assets."""
    return f"{assets.uri}reports/backfill-{digest}.json"


def job_argv(
    inputs: Any,
    options: RemoteOptions,
    checked: RemoteChecked,
    storage_config_uri: str,
    report_uri: str,
) -> List[str]:
    """The job's command line on either target (build_job_args), from the shared options."""
    return build_job_args(
        JobArgs(
            enriched_archive=inputs.archive,
            storage_config_uri=storage_config_uri,
            since=None if inputs.since is None else format_run_id(inputs.since),
            run_manifest_table=options.run_manifest_table,
            report_uri=report_uri,
            bad_rows_uri=checked.bad_rows,
            in_flight=checked.in_flight,
            include_expired=options.include_expired,
            accept_read_errors=options.accept_read_errors,
            extra=options.job_extra,
        )
    )


def backfill_tags(
    inputs: Any, digest: str, own: Iterable[Tuple[str, str]] = ()
) -> Tuple[Tuple[str, str], ...]:
    """Ours (the duplicate guard finds a backfill by them), then the user's `--tag`s."""
    storage = inputs.storage
    return (
        (TAG_TOOL, TOOL_NAME),
        (TAG_VERSION, populator.__version__),
        (TAG_ARCHIVE, tag_value(inputs.archive)),
        (TAG_TABLE, storage.table),
        (TAG_TABLE_REGION, storage.region),
        (TAG_DIGEST, digest),
        *own,
    )
