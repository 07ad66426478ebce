"""The duplicate-backfill refusal both targets raise (their guards live in emr/submit.py and
serverless/submit.py: each searches what it can start for the tags of common/request.py)."""

from __future__ import annotations

from populator.core.errors import UserError

__all__ = ["DuplicateBackfill"]


class DuplicateBackfill(UserError):
    """Another backfill of the same table is active (exit 2 unless --force)."""
