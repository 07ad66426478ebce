"""PySpark entry point: back-populate the Snowplow events manifest from the enriched archive.

Uploaded to S3 by `inv run_emr` (with a zip of the populator modules it imports) and run by
`inv run_local` on Spark's local master. Python 3.9 (EMR 7), Spark 3.5.
Exit codes: 0 success, 1 the backfill failed (reported), 2 bad arguments or configuration.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, List, Optional

from populator.core.job_args import parse_options
from populator.core.report import new_report
from populator.job.driver import finish, run_job

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
_INPUT_ERRORS = (
    "StorageConfigError",
    "ManifestTableError",
    "ValueError",
    "FileNotFoundError",
)


def die_with_parent() -> None:
    """`inv run_local` sets POPULATOR_DIE_WITH_PARENT: this driver dies with the JVM that runs
    it (which dies with the launcher), so a launcher killed hard leaves no writer behind."""
    if os.environ.get("POPULATOR_DIE_WITH_PARENT") != "1" or not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the call took effect
        os._exit(EXIT_FAILED)


def main(argv: Optional[List[str]] = None, spark: Any = None) -> int:
    if argv is None:
        die_with_parent()
    options = parse_options(list(sys.argv[1:] if argv is None else argv))
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("snowplow-event-manifest-populator").getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
    try:
        report = run_job(options, spark)
    except Exception as error:
        name = type(error).__name__
        message = str(error) or name
        print(f"error: {message}", file=sys.stderr, flush=True)
        failed = new_report()
        failed.update(status="failed", archive=options.enriched_archive, errors=[message])
        try:
            finish(failed, options)
        except Exception as report_error:  # the report is a courtesy; the exit code is the truth
            print(f"error: could not write the report: {report_error}", file=sys.stderr)
        return EXIT_BAD_INPUT if name in _INPUT_ERRORS else EXIT_FAILED
    return finish(report, options)


if __name__ == "__main__":
    sys.exit(main())
