"""Find why a step failed: the last Python traceback or Spark error in its logs.

EMR copies logs to the cluster's LogUri: the step's own output under
`<log-uri>/<cluster-id>/steps/<step-id>/` (spark-submit's client side, which names the YARN
application) and, in cluster deploy mode, the driver's output under
`<log-uri>/<cluster-id>/containers/<application-id>/<container>/` (the driver runs in the
first container of the last attempt, `…_<attempt>_000001`). A cluster whose bootstrap action
failed never runs the step: the action's output is under
`<log-uri>/<cluster-id>/node/<instance-id>/bootstrap-actions/<n>/`. The parsers (shared with
EMR Serverless) are in populator.launcher.targets.common.logs; only the `fetch_*` functions
read S3. Users of EMR launchers complain most about failures shown without their cause: this
module is why ours prints one.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from populator.core.location import parse_s3_uri
from populator.core.s3io import list_objects
from populator.launcher.targets.common.logs import (
    Cause,
    LogText,
    first_existing,
    probable_cause,
    read_log,
)

__all__ = [
    "Cause",
    "LogText",
    "application_id",
    "bootstrap_cause",
    "driver_container",
    "fetch_bootstrap_logs",
    "fetch_step_logs",
    "probable_cause",
    "step_log_prefix",
]

_APP_RE = re.compile(r"application_[0-9]+_[0-9]+")
_CONTAINER_RE = re.compile(r"container_(?:e[0-9]+_)?[0-9]+_[0-9]+_([0-9]+)_([0-9]+)")
_BOOTSTRAP_LOG_RE = re.compile(r"/node/[^/]+/bootstrap-actions/[0-9]+/(stderr|stdout)(\.gz)?$")
MAX_TAIL_LINES = 8
MAX_BOOTSTRAP_KEYS = 5000  # a cluster that failed to start has few node logs; stop anyway


def bootstrap_cause(logs: Sequence[LogText]) -> Optional[Cause]:
    """Why a bootstrap action failed: a traceback if there is one, else its output's last lines
    (pip and shell errors are plain text: the end of stderr is where they are)."""
    found = probable_cause(logs)
    if found is not None and found.kind == "python-traceback":
        return found
    for log in logs:
        lines = [line for line in log.text.splitlines() if line.strip()]
        if lines:
            return Cause("bootstrap-log", log.source, "\n".join(lines[-MAX_TAIL_LINES:]))
    return None


def application_id(text: str) -> Optional[str]:
    """The YARN application spark-submit started (it names it in the step's stderr)."""
    found = _APP_RE.findall(text)
    return found[-1] if found else None


def driver_container(keys: Iterable[str]) -> Optional[str]:
    """The driver's container folder among container log keys: last attempt, container 1."""
    best: Optional[Tuple[int, str]] = None
    for key in keys:
        match = _CONTAINER_RE.search(key)
        if match is None or int(match.group(2)) != 1:
            continue
        attempt = int(match.group(1))
        folder = key[: match.end()] + "/"
        if best is None or attempt > best[0]:
            best = (attempt, folder)
    return best[1] if best else None


def step_log_prefix(log_uri: str, cluster_id: str, step_id: str) -> Tuple[str, str]:
    """(bucket, key prefix) of a step's logs below the cluster's LogUri."""
    location = parse_s3_uri(log_uri)
    return location.bucket, f"{location.prefix}{cluster_id}/steps/{step_id}/"


# --- the S3 edge ----------------------------------------------------------------------------


def fetch_step_logs(s3_client: Any, log_uri: str, cluster_id: str, step_id: str) -> List[LogText]:
    """The driver's stderr/stdout and the step's stderr, driver first; [] when none arrived yet."""
    bucket, prefix = step_log_prefix(log_uri, cluster_id, step_id)
    step = first_existing(s3_client, bucket, (prefix + "stderr.gz", prefix + "stderr"))
    found: List[LogText] = []
    app = application_id(step.text) if step is not None else None
    if app is not None:
        root = parse_s3_uri(log_uri).prefix + f"{cluster_id}/containers/{app}/"
        folder = driver_container(obj["Key"] for obj in list_objects(s3_client, bucket, root))
        if folder is not None:
            for name in ("stderr", "stdout"):
                log = first_existing(s3_client, bucket, (folder + name + ".gz", folder + name))
                if log is not None:
                    found.append(log)
    if step is not None:
        found.append(step)
    return found


def fetch_bootstrap_logs(s3_client: Any, log_uri: str, cluster_id: str) -> List[LogText]:
    """Every node's bootstrap-action output, stderr before stdout; [] when none arrived."""
    location = parse_s3_uri(log_uri)
    root = f"{location.prefix}{cluster_id}/node/"
    keys: List[str] = []
    for number, obj in enumerate(list_objects(s3_client, location.bucket, root)):
        if number >= MAX_BOOTSTRAP_KEYS:
            break
        if _BOOTSTRAP_LOG_RE.search(obj["Key"]):
            keys.append(obj["Key"])
    keys.sort(key=lambda key: ("/stdout" in key, key))
    found: List[LogText] = []
    for key in keys:
        text = read_log(s3_client, location.bucket, key)
        if text is not None:
            found.append(LogText(f"s3://{location.bucket}/{key}", text))
    return found
