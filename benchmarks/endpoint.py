"""The DynamoDB endpoint benchmarks write to, and the job's storage config for it.

moto's server behind `devkit.fault_proxy`, both in a child process (`ProxyProcess`), so the
client CPU a benchmark measures is the client's alone; the proxy's WCU limit and latency
stand in for a table's capacity and the network. moto bounds the absolute rates (about
150-200 conditional writes/s on 2 cores): ratios measured side by side still hold, absolute
writes/s do not compare with runs against the old in-house fake.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

from devkit.jobs import count_items, storage_config
from devkit.proxy_process import ProxyProcess
from populator.core.manifest import EventsManifest

TABLE = "manifest"

__all__ = ["TABLE", "Endpoint", "fresh_table", "write_storage_config"]


class Endpoint(ProxyProcess):
    """A ProxyProcess with the counters benchmarks read (`stats()`), its CPU included."""

    def stats(self) -> Dict[str, Any]:
        stats = super().stats()
        outcomes = stats["outcomes"]
        stats["items_written"] = stats["forwarded"].get("PutItem", 0)
        stats["outcomes"] = {
            **outcomes,
            "throttled": outcomes.get("wcu", 0) + outcomes.get("throttle", 0),
        }
        stats["operations"] = {op: {"total": n} for op, n in stats["operations"].items()}
        stats["cpu_seconds"] = _cpu_seconds(self.pid)
        return stats

    def stored(self, table: str = TABLE) -> int:
        """Items in `table` (a COUNT scan through the proxy)."""
        return count_items(self.client(), table)


def _cpu_seconds(pid: Optional[int]) -> float:
    """User + system CPU of the endpoint's process (Linux /proc), 0.0 elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def fresh_table(endpoint: Endpoint, table: str = TABLE) -> Any:
    """Drop the table, reset the counters, create it (TTL on, as the job expects); its client."""
    client = endpoint.client()
    if table in client.list_tables()["TableNames"]:
        client.delete_table(TableName=table)
    endpoint.reset()
    EventsManifest(client, table).create()
    return client


def write_storage_config(directory: str, table: str = TABLE) -> str:
    """A 2-0-0 storage config with keys (moto accepts any) in `directory`; its path."""
    path = os.path.join(directory, "storage-config.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(storage_config(table), handle)
    return path
