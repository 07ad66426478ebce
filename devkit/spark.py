"""A local Spark session for running the job in-process (benchmarks; the tests' is alike).

The Python workers must be this interpreter and import this checkout (`PYTHONPATH`), and
everything stays on loopback: no UI, no console progress bars, errors-only logging.
Dev-only; `populator/` never imports it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Mapping, Optional

REPO_ROOT = Path(__file__).resolve().parent.parent
QUIET_LOOPBACK = {
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.ui.showConsoleProgress": "false",
}


def local_spark(
    app_name: str, conf: Optional[Mapping[str, str]] = None, master: str = "local[2]"
) -> Any:
    """A new (or the running) session on `master`, with `conf` on top of QUIET_LOOPBACK."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    paths = [str(REPO_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**QUIET_LOOPBACK, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
