"""The job's report: one dict, printed as a human summary and saved as JSON."""

from __future__ import annotations

import json
from typing import Any, Dict, List


def new_report() -> Dict[str, Any]:
    return {
        "status": "running",
        "archive": "",
        "table": "",
        "runs": {"processed": [], "skipped": {}, "recorded": [], "not_recorded": []},
        "lines_read": 0,
        "files_read": 0,
        "malformed": {},
        "read_errors": [],
        "skipped_inputs": [],  # entries of run folders not read: {run, path, reason}
        "valid_events": 0,
        "duplicates_collapsed": 0,
        "distinct_items": 0,
        "expired_skipped": 0,
        "writes": {
            "requests": 0,
            "new": 0,
            "unchanged": 0,
            "already_present": 0,
            "retries": 0,
            "throttles": 0,
            "failed": 0,
        },
        "write_budget": {
            "writes_per_second": None,
            "source": "",
            "write_tasks": None,
            "per_task_writes_per_second": None,
            "achieved_writes_per_second": 0.0,
            "write_seconds": 0.0,
        },
        "elapsed_seconds": 0.0,
        "events_per_second": 0.0,
        "errors": [],
    }


def _n(value: int) -> str:
    return f"{value:,}"


def summary(report: Dict[str, Any]) -> str:
    """A few aligned lines a person reads at the end of a run."""
    runs = report["runs"]
    writes = report["writes"]
    skipped = ", ".join(f"{len(v)} {k}" for k, v in sorted(runs["skipped"].items()) if v) or "none"
    malformed = report["malformed"]
    malformed_text = (
        ", ".join(f"{reason} {_n(count)}" for reason, count in sorted(malformed.items())) or "none"
    )
    lines: List[str] = [
        f"Events manifest backfill: {report['status'].upper()}",
        f"  archive              {report['archive']}",
        f"  table                {report['table']}",
        f"  runs processed       {len(runs['processed'])} (skipped: {skipped})",
        f"  runs recorded        {len(runs['recorded'])}"
        + (f" (not recorded: {len(runs['not_recorded'])})" if runs["not_recorded"] else ""),
        f"  files read           {_n(report['files_read'])}",
        f"  lines read           {_n(report['lines_read'])}",
        f"  malformed            {_n(sum(malformed.values()))} ({malformed_text})",
        f"  read errors          {len(report['read_errors'])}",
        f"  skipped inputs       {len(report.get('skipped_inputs', []))}",
        f"  duplicates collapsed {_n(report['duplicates_collapsed'])}",
        f"  expired skipped      {_n(report['expired_skipped'])}",
        f"  written              {_n(writes['new'])} new, {_n(writes['unchanged'])} unchanged",
        f"  already present      {_n(writes['already_present'])} (another etlTime kept)",
        f"  write requests       {_n(writes['requests'])} "
        f"(retries {_n(writes['retries'])}, throttles {_n(writes['throttles'])}, "
        f"failed {_n(writes['failed'])})",
        _budget_line(report),
        f"  elapsed              {report['elapsed_seconds']:.1f} s "
        f"({report['events_per_second']:,.0f} events/s)",
    ]
    imported = report.get("import")  # --method import
    if imported:
        lines.append(
            f"  import               {imported['status']}: {_n(imported['imported_items'] or 0)} "
            f"of {_n(imported['staged_items'])} staged item(s), {_n(imported['staged_objects'])} "
            f"object(s), {_n(imported['staged_bytes'])} bytes ({imported['import_arn']})"
        )
    for error in report["read_errors"]:
        lines.append(f"  read error: {error['path']}: {error['error']}")
    for error in report["errors"]:
        lines.append(f"  error: {error}")
    return "\n".join(lines)


def _budget_line(report: Dict[str, Any]) -> str:
    budget = report.get("write_budget") or {}
    limit = budget.get("writes_per_second")
    achieved = budget.get("achieved_writes_per_second") or 0.0
    throttles = _n(report["writes"]["throttles"])
    text = f"{limit:,.1f} writes/s ({budget.get('source')})" if limit else "none"
    return (
        f"  write budget         {text}; achieved {achieved:,.1f} writes/s, "
        f"throttles {throttles}"
    )


def to_json(report: Dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"
