"""The backfill's expected write rate, for the launcher's on-demand warning (budget.py).

An estimate, not a measurement: every task slot keeps `--in-flight` PutItems going at once, a
request takes about 10 ms inside a region, and one core's writer tops out at its CPU bound.
Both figures are measured in BENCHMARKS.md (benchmarks 2 and 3). Slots: run_local's Spark
master (local[N], else this machine's cores); run_emr's core nodes x 4 vCPUs (m5.xlarge, the
default instance type; larger types only make the estimate low); on EMR Serverless, the
default 3 executors x 4 vCPUs (targets/serverless/run.py; dynamic allocation may add more).
"""

from __future__ import annotations

import os
import re
from typing import Optional

from populator.core.job_args import DEFAULT_IN_FLIGHT

REQUEST_SECONDS = 0.010  # a PutItem inside a region (BENCHMARKS.md, benchmark 3)
WRITES_PER_CORE = 3_646.0  # the fast writer's CPU bound per core (BENCHMARKS.md, benchmark 2)
EMR_CORES_PER_NODE = 4  # m5.xlarge


def expected_write_rate(slots: int, in_flight: Optional[int] = None) -> float:
    """writes/s when `slots` tasks each keep `in_flight` requests going."""
    per_slot = (in_flight or DEFAULT_IN_FLIGHT) / REQUEST_SECONDS
    return max(1, slots) * min(per_slot, WRITES_PER_CORE)


def local_slots(master: str) -> int:
    """Task slots of a local master: local[N] is N, local[*] (and anything else) the cores."""
    found = re.match(r"local\[(\d+)", master or "")
    if found:
        return int(found.group(1))
    if master == "local":
        return 1
    return os.cpu_count() or 1


def emr_slots(instance_count: int) -> int:
    """The core nodes (every node but the master) x their vCPUs; 1 node runs on the master."""
    return max(1, instance_count - 1) * EMR_CORES_PER_NODE
