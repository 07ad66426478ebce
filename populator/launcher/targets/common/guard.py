"""The duplicate-backfill refusal both targets raise (their guards live in emr/submit.py and
serverless/submit.py: each searches what it can start for the tags of common/request.py)."""

from __future__ import annotations

from typing import Mapping

from populator.core.errors import UserError
from populator.launcher.targets.common.request import (
    TAG_TABLE,
    TAG_TABLE_REGION,
    TAG_TOOL,
    TOOL_NAME,
)

__all__ = ["DuplicateBackfill", "backfills"]


def backfills(tags: Mapping[str, str], table: str, table_region: str) -> bool:
    """These tags (a cluster's, a job run's) say: this tool's backfill of that table."""
    return (
        tags.get(TAG_TOOL) == TOOL_NAME
        and tags.get(TAG_TABLE) == table
        and tags.get(TAG_TABLE_REGION) == table_region
    )


class DuplicateBackfill(UserError):
    """Another backfill of the same table is active (exit 2 unless --force)."""
