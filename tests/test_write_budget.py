"""The write budget holds for the whole job, and it is what protects the live pipeline.

Through the fault proxy with a WCU limit (40 writes/s on a table provisioned at 40 WCU, so the
default --write-share 0.5 gives a budget of 20 writes/s; moto does at most ~150 conditional
writes/s, far fewer on a loaded machine), the real job runs on the session's Spark while a
"pipeline" writer puts 20 writes/s (capacity minus budget) into the same table. Every
PutItem's arrival time is taken at the proxy (the kernel's receive stamp,
devkit/arrival_times.py): the backfill never exceeds its budget by more than 10 % in any
2-second window, sustains at least 85 % of it (between its 5th and 95th percentile arrivals,
not the tasks' start and end), and the pipeline is never throttled. The same run on an
on-demand table (no default budget) behind the same limit throttles the pipeline.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List

import pytest

from devkit.jobs import dump_table, job_args, storage_config, write_json
from devkit.pipeline import beside_pipeline, busiest_window, sustained_rate
from devkit.proxy_control import Arrival, ProxyControl
from devkit.proxy_process import ProxyProcess
from devkit.sample_archive import realistic_archive, write_to_dir
from populator.core.manifest import EventsManifest
from populator.core.write.budget import (
    Budget,
    TaskPacer,
    concurrent_slots,
    effective_budget,
    on_demand_warning,
    task_rate,
)
from spark_jobs.populate_manifest import main

CAPACITY = 40
BUDGET = CAPACITY // 2
WINDOW = 2.0


def test_effective_budget_from_describe_table() -> None:
    provisioned = {
        "BillingModeSummary": {"BillingMode": "PROVISIONED"},
        "ProvisionedThroughput": {"WriteCapacityUnits": 60},
    }
    on_demand = {"BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"}}
    assert effective_budget(provisioned).writes_per_second == 30
    assert effective_budget(provisioned, write_share=0.25).writes_per_second == 15
    assert effective_budget(provisioned, max_write_rate=7).writes_per_second == 7
    assert effective_budget(on_demand).writes_per_second is None
    assert effective_budget(on_demand, max_write_rate=100).writes_per_second == 100
    assert effective_budget({"ProvisionedThroughput": {"WriteCapacityUnits": 10}}).source


def test_on_demand_warning_for_the_launcher() -> None:
    on_demand = {"BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"}}
    assert on_demand_warning(on_demand, 20_000) is None
    assert "40,000" in str(on_demand_warning(on_demand, 20_001))
    capped = {**on_demand, "OnDemandThroughput": {"MaxWriteRequestUnits": 1000}}
    assert "--max-write-rate" in str(on_demand_warning(capped, 600))
    assert on_demand_warning({"BillingModeSummary": {"BillingMode": "PROVISIONED"}}, 1e9) is None


def test_slots_and_task_rates() -> None:
    assert concurrent_slots({"spark.master": "local[3]"}, 8) == 3
    assert concurrent_slots({"spark.master": "local[*]"}, 8) == 8
    yarn = {"spark.master": "yarn", "spark.executor.cores": "4"}
    assert concurrent_slots({**yarn, "spark.executor.instances": "5"}, 2) == 20
    dynamic = {**yarn, "spark.dynamicAllocation.enabled": "true"}
    assert concurrent_slots({**dynamic, "spark.dynamicAllocation.maxExecutors": "10"}, 2) == 40
    assert concurrent_slots(dynamic, 6) == 6
    budget = Budget(100.0, "test")
    assert task_rate(budget, 4, speculation=False) == 25
    assert task_rate(budget, 4, speculation=True) == 12.5  # one speculative copy per task
    assert task_rate(Budget(None, "on-demand"), 4, False) is None


def test_task_pacer_spaces_requests_across_threads() -> None:
    now = [0.0]
    slept: List[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = TaskPacer(10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pacer.acquire()
    assert slept == pytest.approx([0.1, 0.2, 0.3, 0.4])  # the first goes at once


def test_threads_that_wake_late_do_not_leave_together() -> None:
    """Three writer threads wait for their slots at 10/s; the process stalls for a second.
    When they wake, no three leave within one interval (lateness is made up by 0.9 of an
    interval at most): the first pacer booked each thread's slot ahead, and all three left
    at once."""
    now, clock_lock, stall_over = [0.0], threading.Lock(), threading.Event()
    waiting: List[float] = []
    departures: List[float] = []

    def sleep(seconds: float) -> None:
        with clock_lock:
            wake = now[0] + seconds
            waiting.append(wake)
        stall_over.wait(5)
        with clock_lock:
            now[0] = max(now[0], wake)

    pacer = TaskPacer(10.0, clock=lambda: now[0], sleep=sleep)

    def send() -> None:
        pacer.acquire()
        with clock_lock:
            departures.append(now[0])

    send()  # the first leaves at once, at 0.0
    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 1.0
    while len(waiting) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # the old pacer: all three asleep; this one: one asleep, two queued
    with clock_lock:
        now[0] = 1.0  # the stall
    stall_over.set()
    for thread in threads:
        thread.join(5)
    assert departures[0] == 0.0 and len(departures) == 4
    late = sorted(departures[1:])
    assert late[0] == 1.0 and late[2] - late[0] > 0.1 + 1e-9, late


def test_the_sustained_rate_leaves_out_the_ramp_and_the_tail() -> None:
    def at(*times: float) -> List[Arrival]:
        return [Arrival(t, "PutItem", "t", "a", "forward") for t in times]

    steady = [1.0 + n / 20 for n in range(180)]  # 20/s for 9 s
    ramp_and_tail = at(0.0, 0.5, *steady, 11.0, 12.0)  # a late task: a slow start and end
    assert sustained_rate(ramp_and_tail) == pytest.approx(20.0, rel=0.01)
    assert sustained_rate(ramp_and_tail, trim=0.0) == pytest.approx(183 / 12.0)
    assert sustained_rate(at(*[n / 10 for n in range(100)])) == pytest.approx(10.0)
    assert sustained_rate(at(1.0)) == 0.0


def backfill_with_pipeline(
    spark: Any, proxy: ProxyControl, tmp_path: Path, table: str, root: str
) -> Dict[str, Any]:
    config = write_json(tmp_path / f"{table}.json", storage_config(table))
    report_path = tmp_path / f"{table}-report.json"
    # One batch: each batch boundary is a Spark stage start, a pause of the writes that says
    # nothing about the pacing measured here.
    args = job_args(root, config, "--dynamodb-endpoint-url", proxy.endpoint_url, "--batches", "1")
    code, seen = beside_pipeline(
        proxy,
        table,
        CAPACITY,
        CAPACITY - BUDGET,
        lambda: main([*args, "--report", str(report_path)], spark),
    )
    return {
        "code": code,
        "report": json.loads(report_path.read_text()),
        "backfill": seen.backfill,
        "pipeline": seen.pipeline,
        "pipeline_throttled": seen.pipeline_throttled,
    }


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple:
    sample = realistic_archive(now=datetime.now(timezone.utc), runs=3, events_per_run=55, seed=4)
    return sample, write_to_dir(sample, str(tmp_path_factory.mktemp("budget-archive")))


@pytest.mark.spark
def test_the_budget_holds_and_the_pipeline_is_never_throttled(
    spark, archive, tmp_path: Path, unique_name
) -> None:
    sample, root = archive
    # The proxy and its moto in a process of their own, as in benchmark 7: in this one they
    # shared the interpreter lock with the Spark driver and the suite's moto, and on a busy
    # machine the arrival times they took bunched up (a 2 s window of 46 writes, not 40).
    with ProxyProcess() as proxy:
        budgeted, unbudgeted = unique_name("budgeted"), unique_name("on-demand")
        EventsManifest(proxy.client(), budgeted).create(CAPACITY, CAPACITY)
        EventsManifest(proxy.client(), unbudgeted).create()

        # The unbudgeted run first: it also starts both Python workers, so that the measured
        # run's two write tasks start together (a worker forked on a loaded machine started
        # its task a second late, 10 writes short of a sustained 20/s over 8 s).
        free = backfill_with_pipeline(spark, proxy, tmp_path, unbudgeted, root)
        run = backfill_with_pipeline(spark, proxy, tmp_path, budgeted, root)
        table = dump_table(proxy.client(), budgeted)

    assert run["code"] == 0
    stored = {
        k: v
        for k, v in table.items()
        if not k[0].startswith("pipeline-") and k[1] != "GLACIER"
    }
    assert {k: v[0] for k, v in stored.items()} == sample.expected
    backfill = run["backfill"]
    assert len(backfill) >= 150
    assert busiest_window(backfill, WINDOW) <= 1.1 * BUDGET * WINDOW
    assert sustained_rate(backfill) >= 0.85 * BUDGET
    assert run["pipeline_throttled"] == 0 and len(run["pipeline"]) > 0
    assert not [a for a in run["pipeline"] if a.outcome != "forward"]
    budget = run["report"]["write_budget"]
    assert budget["writes_per_second"] == BUDGET and budget["write_tasks"] == 2
    assert 0 < budget["achieved_writes_per_second"] <= 1.1 * BUDGET

    assert free["code"] == 0
    assert free["report"]["write_budget"]["writes_per_second"] is None
    assert free["pipeline_throttled"] > 0


def test_the_budget_flags(capsys) -> None:
    from populator.core.job_args import parse_options

    base = ["--enriched-archive", "/a", "--storage-config", "/s.json"]
    options = parse_options(base)
    assert (options.max_write_rate, options.write_share) == (None, 0.5)
    options = parse_options([*base, "--max-write-rate", "250", "--write-share", "0.25"])
    assert (options.max_write_rate, options.write_share) == (250.0, 0.25)
    for bad in (["--max-write-rate", "0"], ["--max-write-rate", "nan"], ["--write-share", "1.5"]):
        with pytest.raises(SystemExit) as raised:
            parse_options([*base, *bad])
        assert raised.value.code == 2
    assert "expected" in capsys.readouterr().err
