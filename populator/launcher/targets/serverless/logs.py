"""Where a job run's driver writes its output, and the probable cause of a failure.

With `monitoringConfiguration.s3MonitoringConfiguration.logUri` set, EMR Serverless copies
the driver's output to `{logUri}/applications/{appId}/jobs/{jobRunId}/SPARK_DRIVER/`
(`stderr.gz`, `stdout.gz`). The parsers are EMR's (targets/common/logs.py: traceback,
job error, Spark error, all pure); only the paths differ.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from populator.core.location import parse_s3_uri
from populator.launcher.targets.common.logs import (
    Cause,
    LogText,
    first_existing,
    probable_cause,
)

__all__ = [
    "Cause",
    "LogText",
    "driver_log_prefix",
    "fetch_driver_logs",
    "missing_module_hint",
    "probable_cause",
]


def driver_log_prefix(log_uri: str, application_id: str, job_run_id: str) -> Tuple[str, str]:
    """(bucket, key prefix) of the driver's logs below the job run's logUri."""
    location = parse_s3_uri(log_uri)
    return (
        location.bucket,
        f"{location.prefix}applications/{application_id}/jobs/{job_run_id}/SPARK_DRIVER/",
    )


def fetch_driver_logs(
    s3_client: Any, log_uri: str, application_id: str, job_run_id: str
) -> List[LogText]:
    """The driver's stderr then stdout; [] while none has arrived."""
    bucket, prefix = driver_log_prefix(log_uri, application_id, job_run_id)
    found = []
    for name in ("stderr", "stdout"):
        log = first_existing(s3_client, bucket, (f"{prefix}{name}.gz", f"{prefix}{name}"))
        if log is not None:
            found.append(log)
    return found


def missing_module_hint(cause: Optional[Cause]) -> Optional[str]:
    """The image lacks a module the job needs (boto3/botocore): say how to bring it."""
    if cause is None or "No module named" not in cause.text:
        return None
    return (
        "the EMR Serverless image lacks a Python module the job imports (it needs boto3 and "
        "botocore): use a release whose image has them, a custom image with them "
        "(--image-uri, with --serverless), or a packed environment (--environment-archive)"
    )
