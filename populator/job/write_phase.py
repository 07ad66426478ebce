"""The write phase: the reduced data written batch by batch of runs under the write budget;
a batch's runs are recorded in the run manifest only after all of its writes succeeded.
Cluster code: Python 3.9.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict, List, Sequence

from populator.core.archive import Run
from populator.core.write import budget as write_budget
from populator.job.backfill import Backfill
from populator.job.partitions import JobContext, is_event, write_partition
from populator.job.read_phase import cause

Log = Callable[[str], None]


def batch_runs(runs: Sequence[Run], batches: int) -> List[List[Run]]:
    """Split runs (in time order) into at most `batches` consecutive groups."""
    if not runs:
        return []
    size = -(-len(runs) // max(1, batches))
    return [list(runs[i : i + size]) for i in range(0, len(runs), size)]



def apply_budget(
    spark: Any, budget: write_budget.Budget, context: JobContext, report: Dict[str, Any], log: Log
) -> JobContext:
    """Each write task's share of the job's write budget (see core/write/budget.py)."""
    sc = spark.sparkContext
    conf = dict(sc.getConf().getAll())
    tasks = write_budget.concurrent_slots(conf, sc.defaultParallelism)
    speculation = conf.get("spark.speculation", "false").lower() == "true"
    rate = write_budget.task_rate(budget, tasks, speculation)
    report["write_budget"] = write_budget.budget_report(budget, tasks, rate)
    if rate is None:
        log(f"populator: {budget.describe()}")
        return context
    log(f"populator: {budget.describe()}: {tasks} write task(s) at {rate:.3g} writes/s each")
    if speculation:
        log("notice: spark.speculation is on: each write task paces at half its share")
    return dataclasses.replace(context, task_write_rate=rate)


def finish_budget(report: Dict[str, Any]) -> None:
    section = report.get("write_budget")
    if section and section["write_seconds"] > 0:
        achieved = report["writes"]["requests"] / section["write_seconds"]
        section["achieved_writes_per_second"] = round(achieved, 1)
        section["write_seconds"] = round(section["write_seconds"], 3)



def write_batches(job: Backfill, reduced: Any, errors_by_run: Dict[int, List[str]]) -> List[str]:
    """Write `reduced` batch by batch of `job.runs`; return the failed run ids."""
    runs, options, context, table = job.runs, job.options, job.context, job.table
    report, run_manifest, log, progress = job.report, job.run_manifest, job.log, job.progress
    sc = job.spark.sparkContext
    valid = report["valid_events"]
    failed_runs: List[str] = []
    distinct = 0
    position = {run.prefix: index for index, run in enumerate(runs)}
    batches = batch_runs(runs, options.batches)
    for number, batch in enumerate(batches, 1):
        progress.writing(number, len(batches))
        indexes = {position[run.prefix] for run in batch}
        written = True
        if reduced is not None:
            sc.setJobDescription(
                f"write batch {number}: runs {batch[0].run_id} .. {batch[-1].run_id}"
            )
            write_started = time.monotonic()
            try:
                batch_items = reduced.filter(
                    lambda r, ix=frozenset(indexes): is_event(r) and r[1][1] in ix
                )
                if context.task_write_rate is not None:  # exactly the tasks the budget assumes
                    batch_items = batch_items.coalesce(report["write_budget"]["write_tasks"])
                results = batch_items.mapPartitions(
                    lambda records: write_partition(records, context, table)
                ).collect()
            except Exception as error:  # Spark gave up on a task after its retries
                written = False
                report["errors"].append(
                    f"writing batch {number} ({batch[0].run_id} .. {batch[-1].run_id}) failed: "
                    f"{cause(error)}"
                )
                log(f"error: {report['errors'][-1]}")
                results = []
            if "write_budget" in report:
                report["write_budget"]["write_seconds"] += time.monotonic() - write_started
            for result in results:
                distinct += result["items"] + result["expired_skipped"]
                report["expired_skipped"] += result["expired_skipped"]
                for name in report["writes"]:
                    report["writes"][name] += result.get(name, 0)
        for run in batch:
            index = position[run.prefix]
            unreadable = index in errors_by_run and not options.accept_read_errors
            if not written or unreadable:
                failed_runs.append(run.run_id)
                report["runs"]["not_recorded"].append(run.run_id)
            elif run_manifest is not None:
                try:
                    run_manifest.add(run.prefix)
                except Exception as error:
                    written = False
                    report["errors"].append(
                        f"recording run {run.run_id} in the run manifest failed: {cause(error)}"
                    )
                    log(f"error: {report['errors'][-1]}")
                    failed_runs.append(run.run_id)
                    report["runs"]["not_recorded"].append(run.run_id)
                    continue
                report["runs"]["recorded"].append(run.run_id)
        progress.batch_done(len(batch))
        log(
            f"populator: batch {number} done ({len(batch)} run(s), {'ok' if written else 'FAILED'})"
        )
        if not written:
            # Later batches would still be correct, but stop early: the cause needs fixing.
            for later in runs[position[batch[-1].prefix] + 1 :]:
                failed_runs.append(later.run_id)
                report["runs"]["not_recorded"].append(later.run_id)
            break
    report["distinct_items"] = distinct
    valid = report["valid_events"]
    report["duplicates_collapsed"] = max(0, valid - distinct) if not report["errors"] else 0
    if reduced is not None:
        reduced.unpersist()
    return failed_runs


