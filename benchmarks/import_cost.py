"""Dollars per million stored keys, write vs import, from one measured run of each (issue 11).

Runs the real job twice over the same sample archive, on a local Spark session against moto's
server: `--method write` into a new table, `--method import` creating another. The write
path's cost comes from the PutItem requests it sent (its report counts every request,
retries included); the import's from the uncompressed bytes it staged, which is what
ImportTable bills. Both tables are checked equal first. Prices are named, with their source,
in `populator.launcher.method`. Target: import <= 1/20 of write.

    python -m benchmarks.import_cost [--events-per-run N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Optional

from populator.launcher.method import GB, IMPORT_PRICE_PER_GB, WRITE_PRICE_PER_MILLION

TARGET = 1 / 20


def cost_per_million_keys(write_report: Dict[str, Any], import_report: Dict[str, Any]) -> Dict:
    """$/million stored keys for each method from the two reports (pure)."""
    write_keys = write_report["writes"]["new"] + write_report["writes"]["unchanged"]
    import_keys = import_report["import"]["imported_items"]
    write_dollars = write_report["writes"]["requests"] / 1e6 * WRITE_PRICE_PER_MILLION
    import_dollars = import_report["import"]["staged_bytes"] / GB * IMPORT_PRICE_PER_GB
    write_per_m = write_dollars / write_keys * 1e6
    import_per_m = import_dollars / import_keys * 1e6
    return {
        "stored_keys": {"write": write_keys, "import": import_keys},
        "write_requests": write_report["writes"]["requests"],
        "import_bytes": import_report["import"]["staged_bytes"],
        "bytes_per_item": import_report["import"]["staged_bytes"] / import_keys,
        "write_usd_per_million_keys": round(write_per_m, 4),
        "import_usd_per_million_keys": round(import_per_m, 4),
        "ratio": round(import_per_m / write_per_m, 4),
        "target": TARGET,
        "prices": {
            "write_usd_per_million_requests": WRITE_PRICE_PER_MILLION,
            "import_usd_per_gb": IMPORT_PRICE_PER_GB,
        },
    }


def measure(events_per_run: int = 100, runs: int = 4) -> Dict[str, Any]:  # pragma: no cover
    """Start moto and Spark in this process, run both methods, return the comparison."""
    import boto3
    from moto.server import ThreadedMotoServer
    from pyspark.sql import SparkSession

    from devkit.jobs import dump_table, job_args, storage_config, write_json
    from devkit.sample_archive import realistic_archive, write_to_s3
    from populator.core.manifest import EventsManifest
    from spark_jobs.populate_manifest import main

    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("PYSPARK_PYTHON", sys.executable),
        ("SPARK_LOCAL_IP", "127.0.0.1"),
    ):
        os.environ.setdefault(name, value)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        s3 = boto3.client("s3")
        dynamodb = boto3.client("dynamodb")
        s3.create_bucket(Bucket="bench")
        sample = realistic_archive(datetime.now(timezone.utc), runs, events_per_run)
        archive = write_to_s3(sample, s3, "bench", "enriched/archive")
        EventsManifest(dynamodb, "written").create()
        reports: Dict[str, Dict[str, Any]] = {}
        with tempfile.TemporaryDirectory() as scratch:
            for method, table in (("write", "written"), ("import", "imported")):
                config = write_json(Path(scratch, f"{table}.json"), storage_config(table))
                report = os.path.join(scratch, f"{method}.json")
                extra = ["--method", method, "--endpoint-url", os.environ["AWS_ENDPOINT_URL"]]
                if main(job_args(archive, config, *extra, report=report), spark) != 0:
                    raise SystemExit(f"the {method} run failed; see its report above")
                with open(report, encoding="utf-8") as handle:
                    reports[method] = json.load(handle)
        if dump_table(dynamodb, "written") != dump_table(dynamodb, "imported"):
            raise SystemExit("the imported table differs from the written one")
        return cost_per_million_keys(reports["write"], reports["import"])
    finally:
        spark.stop()
        server.stop()


def run(events_per_run: int = 100, runs: int = 4) -> Any:
    """Benchmark 8 for benchmarks.run: one Section with the cost row."""
    from benchmarks.results import Row, Section

    result = measure(events_per_run, runs)
    ratio = result["ratio"]
    section = Section(8, "Cold start: dollars per million stored keys, write vs import")
    section.rows.append(
        Row(
            "8. $ per million stored keys, import vs write (same archive, tables equal)",
            f"${result['import_usd_per_million_keys']:.4f} vs "
            f"${result['write_usd_per_million_keys']:.4f}",
            f"{ratio:.3f} (1/{1 / ratio:.1f})",
            "<= 1/20",
            ratio <= TARGET,
            "write: PutItem requests sent x on-demand price; import: staged uncompressed bytes "
            "x ImportTable price (prices and source in populator/launcher/method.py)",
        )
    )
    section.details.append(f"Measured: `{json.dumps(result, sort_keys=True)}`")
    section.facts.update(result)
    return section


def main(argv: Optional[list] = None) -> None:  # pragma: no cover - manual use
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events-per-run", type=int, default=100)
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args(argv)
    result = measure(args.events_per_run, args.runs)
    print(json.dumps(result, indent=2))
    verdict = "meets" if result["ratio"] <= TARGET else "MISSES"
    print(
        f"write ${result['write_usd_per_million_keys']:.4f} vs import "
        f"${result['import_usd_per_million_keys']:.4f} per million stored keys: import costs "
        f"{result['ratio']:.4f} of write (1/{1 / result['ratio']:.1f}), {verdict} the 1/20 target"
    )


if __name__ == "__main__":  # pragma: no cover
    main()
