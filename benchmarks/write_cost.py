"""2. Client CPU per conditional write: the job's writer vs a plain boto3 `put_item` loop.

The job's writer is the executor's real path, `populator.job.partitions.write_partition` (the
expiry filter, `write_items` with its threads and rate limiter, `FastPutSender`). The
baseline is what the original did: one synchronous `put_item` per event on a default boto3
client. Both write fresh keys to Endpoint in another process, in alternating rounds; CPU
is `time.process_time()` of this process only (all its threads, none of the endpoint's).
Two more rows give context: the job's writer with `--writer boto3`, and FastPutSender called
in a plain loop (no threads).
"""

from __future__ import annotations

import time
import uuid
from typing import Callable, Dict, Iterator, List, Tuple

import boto3

from benchmarks.endpoint import TABLE, Endpoint, fresh_table
from benchmarks.results import Row, Section, fmt, spread, times
from devkit.jobs import storage_config
from populator.core.job_args import DEFAULT_IN_FLIGHT
from populator.core.manifest import build_put_request
from populator.core.retry import error_code
from populator.core.write.fast_put import FastPutSender
from populator.job.partitions import JobContext, write_partition

TARGET = 0.25
ETL_TIME = int(time.time()) - 86_400  # recent: nothing is skipped as expired
Item = Tuple[str, str, int]


def job_context(endpoint: str, in_flight: int = DEFAULT_IN_FLIGHT, writer: str = "fast"):
    """The JobContext the driver would build for this endpoint."""
    return JobContext(
        storage=storage_config(TABLE),
        endpoint_url=None,
        in_flight=in_flight,
        now=int(time.time()),
        skip_expired=True,
        bad_rows=None,
        dynamodb_endpoint_url=endpoint,
        writer=writer,
    )


def records(items: List[Item]) -> Iterator[Tuple[Tuple[str, str], Tuple[int, int]]]:
    """Items in the shape the job's reduceByKey hands to write_partition."""
    return (((event_id, fp), (etl, 0)) for event_id, fp, etl in items)


def fresh_items(count: int) -> List[Item]:
    return [(str(uuid.uuid4()), uuid.uuid4().hex.upper(), ETL_TIME) for _ in range(count)]


def boto3_loop(endpoint: str) -> Callable[[List[Item]], None]:
    """The baseline: a default boto3 client, one synchronous put_item per event."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def write(items: List[Item]) -> None:
        for event_id, fingerprint, etl in items:
            try:
                client.put_item(**build_put_request(TABLE, event_id, fingerprint, etl))
            except Exception as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise

    return write


def job_writer(endpoint: str, writer: str = "fast") -> Callable[[List[Item]], None]:
    context = job_context(endpoint, writer=writer)

    def write(items: List[Item]) -> None:
        [result] = write_partition(records(items), context, TABLE)
        if result["items"] != len(items):
            raise RuntimeError(f"wrote {result['items']} of {len(items)} items")

    return write


def fast_loop(endpoint: str, client) -> Callable[[List[Item]], None]:
    sender = FastPutSender(client, TABLE)

    def write(items: List[Item]) -> None:
        for item in items:
            sender(*item)

    return write


BASELINE = "boto3 put_item loop (original)"
JOB = "job writer (write_partition, fast)"


def run(writes_per_round: int, rounds: int) -> Section:
    section = Section(2, "Client CPU per conditional write")
    with Endpoint() as fake:
        client = fresh_table(fake)
        cases: Dict[str, Callable[[List[Item]], None]] = {
            BASELINE: boto3_loop(fake.endpoint_url),
            JOB: job_writer(fake.endpoint_url),
            "job writer, --writer boto3": job_writer(fake.endpoint_url, "boto3"),
            "FastPutSender, plain loop": fast_loop(fake.endpoint_url, client),
        }
        for write in cases.values():  # warm up: connections, imports, caches
            write(fresh_items(50))
        cpu: Dict[str, List[float]] = {name: [] for name in cases}
        wall: Dict[str, List[float]] = {name: [] for name in cases}
        endpoint_cpu: Dict[str, float] = dict.fromkeys(cases, 0.0)
        for _ in range(rounds):
            for name, write in cases.items():
                items = fresh_items(writes_per_round)
                server_before = fake.stats()["cpu_seconds"]
                cpu_before, wall_before = time.process_time(), time.perf_counter()
                write(items)
                cpu[name].append(time.process_time() - cpu_before)
                wall[name].append(time.perf_counter() - wall_before)
                endpoint_cpu[name] += fake.stats()["cpu_seconds"] - server_before
    writes = writes_per_round * rounds
    micros = {name: sum(values) / writes * 1e6 for name, values in cpu.items()}
    ratio = micros[JOB] / micros[BASELINE]
    per_round = [j / b for j, b in zip(cpu[JOB], cpu[BASELINE])]
    per_core = 1e6 / micros[JOB]
    section.rows.append(
        Row(
            "2. Client CPU per write, job writer vs boto3 loop",
            f"{micros[JOB]:.0f} vs {micros[BASELINE]:.0f} µs",
            times(ratio),
            f"<= {TARGET:.2f}x",
            ratio <= TARGET,
            f"{fmt(per_core)} vs {fmt(1e6 / micros[BASELINE])} writes/s per core; "
            f"rounds {spread(per_round, 3)}x"
            + ("" if ratio <= TARGET else f"; over by {ratio / TARGET:.2f}x"),
        )
    )
    section.details += [
        f"{fmt(writes)} conditional writes of new keys per case, {rounds} alternating rounds, "
        "Endpoint in its own process, no injected latency.",
        "",
        "| writer | client CPU µs/write | writes/s per core | wall writes/s "
        "| endpoint CPU µs/write |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in cases:
        section.details.append(
            f"| {name} | {micros[name]:.0f} | {fmt(1e6 / micros[name])} | "
            f"{fmt(writes / sum(wall[name]))} | {endpoint_cpu[name] / writes * 1e6:.0f} |"
        )
    section.details.append("")
    section.facts["cpu_bound_per_core"] = per_core
    section.facts["micros"] = micros
    return section
