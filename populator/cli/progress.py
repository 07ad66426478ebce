"""`inv progress REPORT_OR_PROGRESS_URI`: how far a backfill started earlier is, from anywhere.

Reads the progress object the job publishes beside its report (S3 or a local path) and
prints it once: the human line and how old it is, or the object itself with `--json`.
Only s3:GetObject on that one object is needed.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any

from populator.core import aws
from populator.core.errors import UserError
from populator.core.location import has_s3_scheme
from populator.core.progress import FINAL_PHASES, from_dict, human_duration, render_line
from populator.launcher.configs import REGION_RE
from populator.launcher.progress_view import fetch_document, progress_location

__all__ = ["age_seconds", "progress"]


def age_seconds(updated_at: str, now: datetime) -> float | None:
    """Seconds since the object was published (None when its timestamp is unreadable)."""
    try:
        moment = datetime.strptime(updated_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None
    return max(0.0, (now - moment).total_seconds())


def progress(
    uri: str | None,
    json_output: bool = False,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    now: datetime | None = None,
) -> int:
    """The task body (wrap with populator.cli.common.command). Exit 0 when an object was
    shown; 2 (UserError) when there is none yet at that location."""
    location = progress_location(uri or "")
    if region is not None and not REGION_RE.match(region):
        raise UserError(f"--region {region!r}: expected an AWS region such as us-east-1")
    s3: Any = None
    if has_s3_scheme(location):
        s3 = aws.s3_client(endpoint_url, region=region, profile=profile)
    document = fetch_document(s3, location)
    if document is None:
        raise UserError(
            f"no progress object at {location} (yet): the job publishes it within its first "
            "--progress-interval (30 s by default) when its --report is on S3; check the URI"
        )
    if json_output:
        print(json.dumps(document, indent=2, sort_keys=True), flush=True)
        return 0
    shown = from_dict(document)
    print(render_line(shown), flush=True)
    age = age_seconds(shown.updated_at, now or datetime.now(timezone.utc))
    if age is not None and shown.phase not in FINAL_PHASES:
        print(
            f"published {human_duration(age)} ago at {location} (the job publishes it every "
            "--progress-interval seconds: a much older one means the job stopped)",
            file=sys.stderr,
            flush=True,
        )
    return 0
