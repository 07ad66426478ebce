"""Many small files: 2,000 one-event files vs one 2,000-event file, on Spark local[2].

Read tasks and write partitions are sized by bytes (populator.job.partitions), so the many
small files should cost at most TARGET_RATIO times the single file. Both archives hold the
same events and are written to a fresh table each (moto's server), so the write work is the
same and the ratio measures what the file count adds. Run:
`python -m benchmarks.small_files [files]` (prints both times and the ratio of this run).
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
import time
import uuid
from typing import Any, Dict, List, Tuple

TARGET_RATIO = 3.0
RUN = "run=2026-11-01-08-00-00"


def _lines(count: int) -> List[str]:
    from devkit.enriched_lines import make_line

    return [
        make_line(str(uuid.UUID(int=n + 1)), "2026-11-01 08:46:40.000", f"fp{n}")
        for n in range(count)
    ]


def write_archives(root: str, events: int) -> Tuple[str, str]:
    """(one file of ``events`` lines, ``events`` files of one line), gzip like the archive."""
    lines = _lines(events)
    one = os.path.join(root, "one", RUN)
    many = os.path.join(root, "many", RUN)
    os.makedirs(one)
    os.makedirs(many)
    with open(os.path.join(one, "part-00000.gz"), "wb") as out:
        out.write(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    for number, line in enumerate(lines):
        with open(os.path.join(many, f"part-{number:05d}.gz"), "wb") as out:
            out.write(gzip.compress((line + "\n").encode(), mtime=0))
    return os.path.dirname(one), os.path.dirname(many)


def _job(spark: Any, archive: str, scratch: str, endpoint: str) -> Dict[str, Any]:
    import boto3

    from devkit.jobs import storage_config, write_json
    from populator.core.manifest import EventsManifest
    from spark_jobs.populate_manifest import main

    table = f"bench-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    EventsManifest(client, table).create()
    config = write_json(_path(scratch, f"{table}.json"), storage_config(table))
    report = os.path.join(scratch, f"{table}-report.json")
    started = time.monotonic()
    code = main(
        [
            *("--enriched-archive", archive, "--storage-config", config, "--report", report),
            # explicit: the JVM (and so the Python workers) may outlive an earlier benchmark's
            # session in this process and keep that run's AWS_ENDPOINT_URL
            *("--endpoint-url", endpoint),
        ],
        spark,
    )
    wall = time.monotonic() - started
    with open(report, encoding="utf-8") as handle:
        document = json.load(handle)
    if code != 0:
        raise RuntimeError(f"the job failed on {archive}: {document.get('errors')}")
    document["wall_seconds"] = wall
    return document


def _path(folder: str, name: str) -> Any:
    from pathlib import Path

    return Path(folder) / name


def measure(events: int = 2000) -> Dict[str, float]:
    """Both jobs on one local[2] session and one moto server; their job times and the ratio."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import logging

    from moto.server import ThreadedMotoServer

    from devkit.spark import local_spark

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    spark = local_spark("small-files-benchmark")
    try:
        with tempfile.TemporaryDirectory(prefix="small-files-") as scratch:
            one, many = write_archives(scratch, events)
            _job(spark, one, scratch, endpoint)  # warm-up: Python workers, JIT, caches
            single = _job(spark, one, scratch, endpoint)
            spread = _job(spark, many, scratch, endpoint)
    finally:
        spark.stop()
        server.stop()
    if single["files_read"] != 1 or spread["files_read"] != events:
        raise RuntimeError("the jobs did not read the expected files")
    return {
        "events": events,
        "one_file_seconds": single["elapsed_seconds"],
        "many_files_seconds": spread["elapsed_seconds"],
        "ratio": spread["elapsed_seconds"] / max(single["elapsed_seconds"], 1e-9),
    }


def run(events: int = 2000) -> Any:
    """Benchmark 9 for benchmarks.run: one Section with the small-files row."""
    from benchmarks.results import Row, Section

    result = measure(events)
    section = Section(9, "Many small files")
    section.rows.append(
        Row(
            f"9. Job time, {events:,} one-event files vs one {events:,}-event file (local[2])",
            f"{result['many_files_seconds']:.1f} vs {result['one_file_seconds']:.1f} s",
            f"{result['ratio']:.2f}x",
            f"<= {TARGET_RATIO:.0f}x",
            result["ratio"] <= TARGET_RATIO,
            "read tasks and write partitions sized by bytes, not by file count",
        )
    )
    section.facts.update(result)
    return section


def main() -> int:  # pragma: no cover - manual use
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    result = measure(events)
    verdict = "ok" if result["ratio"] <= TARGET_RATIO else "OVER TARGET"
    print(
        f"{events:,} one-event files: {result['many_files_seconds']:.1f} s; one "
        f"{events:,}-event file: {result['one_file_seconds']:.1f} s; ratio "
        f"{result['ratio']:.2f}x (target <= {TARGET_RATIO:.0f}x: {verdict})"
    )
    return 0 if result["ratio"] <= TARGET_RATIO else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
