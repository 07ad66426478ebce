"""`inv run_local`: validate like run_emr, then run the same job script on Spark's local master.

Thin glue: options are checked here (before any AWS call or side effect), the table is checked
within the pre-flight budget, and populator.launcher.targets.local plans, starts, watches and
cancels the job.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

from populator.cli.common import (
    Signals,
    Terminated,
    as_user_error,
    eprint,
    interrupt_name,
    notice,
)
from populator.core import aws, s3io
from populator.core.errors import Cancelled, JobFailed, UserError
from populator.core.import_table import default_prefix
from populator.core.job_args import to_argv
from populator.core.location import has_s3_scheme, parse_location
from populator.launcher.inputs import ensure_manifest_table, validate_inputs
from populator.launcher.method_choice import (
    describe_manifest_table,
    resolve_method,
    unfinished_import_marker,
)
from populator.launcher.targets.base import LaunchOptions, job_fields
from populator.launcher.targets.local import (
    LocalArgs,
    LocalTarget,
    job_environment,
    spark_submit_argv,
    spark_submit_path,
)
from populator.launcher.write_rate import expected_write_rate, local_slots

__all__ = [
    "LOCAL_JOB_FIELDS",
    "LocalRun",
    "build_local_command",
    "check_local_options",
    "job_environment",
    "run_local",
    "spark_submit_path",
]

MAX_IN_FLIGHT = 1024
LOCAL_PROGRESS_INTERVAL = 10  # seconds; the job's default (30) suits remote runs
MASTER_RE = re.compile(
    r"^(local(\[(\*|[1-9][0-9]*)(,[1-9][0-9]*)?\])?|local-cluster\[[1-9][0-9]*,[1-9][0-9]*,"
    r"[1-9][0-9]*\]|spark://[^\s/]+|yarn|k8s://\S+)$"
)
MEMORY_RE = re.compile(r"^[1-9][0-9]*[kmgt]?b?$", re.IGNORECASE)


@dataclass(frozen=True)
class LocalRun(LaunchOptions):
    """`inv run_local`'s options as typed (`check_local_options` checks them)."""

    master: str = "local[*]"
    report: Optional[str] = None
    endpoint_url: Optional[str] = None
    driver_memory: str = "2g"


# The job flags LocalRun has fields for; flags added to core.job_args later go in job_extra.
LOCAL_JOB_FIELDS = job_fields(LocalRun)


def check_endpoint_url(url: Optional[str], flag: str = "--endpoint-url") -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(
            f"{flag} {url!r}: expected an http:// or https:// URL such as "
            "http://localhost:4566 or https://dynamodb.eu-west-1.amazonaws.com"
        )
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise UserError(f"{flag} {url!r}: the port is not a number from 1 to 65535") from None


def check_local_options(run: LocalRun) -> Optional[int]:
    """Every option, before any AWS call; returns --in-flight as a number."""
    in_flight = None
    if run.in_flight is not None:
        text = str(run.in_flight)
        if not text.isdigit() or not 1 <= int(text) <= MAX_IN_FLIGHT:
            raise UserError(
                f"--in-flight {text!r}: expected a whole number between 1 and {MAX_IN_FLIGHT}"
            )
        in_flight = int(text)
    if not MASTER_RE.match(run.master or ""):
        raise UserError(
            f"--master {run.master!r}: expected a Spark master such as local[*], local[4] "
            "or spark://host:7077"
        )
    if not MEMORY_RE.match(run.driver_memory or ""):
        raise UserError(
            f"--driver-memory {run.driver_memory!r}: expected a size such as 2g or 512m"
        )
    check_endpoint_url(run.endpoint_url)
    return in_flight


def job_argv(run: LocalRun, in_flight: Optional[int]) -> List[str]:
    """The job's flags after --enriched-archive/--storage-config (core.job_args.to_argv)."""
    values = {name: getattr(run, name) for name in LOCAL_JOB_FIELDS}
    values.update(run.job_extra, in_flight=in_flight)
    return to_argv(values)


def build_local_command(
    archive: str, storage_path: str, run: LocalRun, scratch: Optional[str] = None
) -> List[str]:
    """The spark-submit command line (pure, so tests compare it exactly); `scratch`: where
    Spark's local files go (a caller that may kill the JVM removes that folder itself)."""
    in_flight = None if run.in_flight is None else int(run.in_flight)
    return spark_submit_argv(
        archive, storage_path, run.master, run.driver_memory, job_argv(run, in_flight), scratch
    )


def _unfinished_import(inputs: Any, run: LocalRun) -> Optional[str]:
    """This backfill's import marker when a killed job left its import unfinished."""
    prefix = run.job_extra.get("import_prefix")
    if not prefix and has_s3_scheme(inputs.archive):
        prefix = default_prefix(inputs.archive)  # where the job stages it (core.import_table)
    if not prefix:
        return None
    s3 = aws.s3_client(run.endpoint_url)
    return unfinished_import_marker(s3, str(prefix), inputs, bool(run.include_expired))


def _resolved(run: LocalRun, method: str) -> LocalRun:
    """The job flags after `--method auto` is resolved; progress every 10 s unless given."""
    extra = {**run.job_extra, "method": method}
    if extra.get("progress_interval") is None:
        extra["progress_interval"] = LOCAL_PROGRESS_INTERVAL
    return replace(run, job_extra=extra)


def read_back_report(location: str, endpoint_url: Optional[str]) -> Optional[Dict[str, Any]]:
    """The job's JSON report at its --report location (a courtesy: None when unreadable)."""
    try:
        where = parse_location(location, "--report")
        if where.is_s3:
            body = s3io.read_bytes(aws.s3_client(endpoint_url), where.bucket, where.key)
        else:
            with open(where.path, "rb") as handle:
                body = handle.read()
        report = json.loads(body.decode("utf-8"))
    except Exception as error:
        notice(f"could not read the job's report at {location}: {error}")
        return None
    return report if isinstance(report, dict) else None


def run_local(
    enriched_archive: Optional[str],
    storage_config: Optional[str],
    resolver: Optional[str],
    run: LocalRun,
    create_table: bool = True,
) -> int:
    """The task body; with --json, one target-neutral result object on stdout, whatever
    happened (the job's own output goes to stderr then)."""
    result: Dict[str, Any] = {
        "target": "local",
        "state": None,
        "exit_code": 0,
        "cause": None,
        "elapsed_seconds": None,
        "ids": {},
        "error": None,
        "dry_run": run.dry_run,
        "operation": "spark-submit",
        "request": None,
        "report": run.report,
    }
    try:
        return _run_local(enriched_archive, storage_config, resolver, run, create_table, result)
    except (UserError, JobFailed, Cancelled) as error:
        result.update(exit_code=error.exit_code, error=str(error))
        raise
    except Exception as error:
        user = as_user_error(error)
        if user is not None:
            result.update(exit_code=getattr(user, "exit_code", 2), error=str(user))
        raise
    finally:
        if run.json:
            print(json.dumps(result, sort_keys=True), flush=True)


def _run_local(
    enriched_archive: Optional[str],
    storage_config: Optional[str],
    resolver: Optional[str],
    run: LocalRun,
    create_table: bool,
    result: Dict[str, Any],
) -> int:
    in_flight = check_local_options(run)
    with aws.preflight():
        inputs = validate_inputs(enriched_archive, storage_config, resolver, run.since)
        staging = has_s3_scheme(inputs.archive) or bool(run.job_extra.get("import_prefix"))
        choice = resolve_method(
            run.job_extra.get("method"),
            lambda: describe_manifest_table(inputs.storage, run.endpoint_url),
            create_table,
            s3_staging=staging,
            dry_run=run.dry_run,
            unfinished_import=lambda: _unfinished_import(inputs, run),
        )
        eprint(choice.line())
        result["method"] = choice.as_json()
        run = _resolved(run, choice.method)
        target = LocalTarget()
        args = LocalArgs(
            run.master, run.driver_memory, job_argv(run, in_flight), run.report, run.json
        )
        plan = target.plan(inputs, None, args)
        if run.dry_run:
            result.update(request=plan.request, state="DRY_RUN")
            if not run.json:
                print(json.dumps(plan.request, indent=2), flush=True)
            eprint("dry run: would run the job with spark-submit; nothing was started")
            return 0
        ensure_manifest_table(
            inputs.storage,
            create_table,
            endpoint_url=run.endpoint_url,
            method=choice.method,
            expected_rate=expected_write_rate(local_slots(run.master), in_flight),
        )
    result["request"] = plan.request
    eprint(f"populator: running the job on Spark {run.master} (Ctrl-C stops it)")
    with Signals() as signals:
        try:
            handle = target.submit(plan)
        except (KeyboardInterrupt, Terminated) as interrupt:  # submit stopped what it started
            signals.ignore()
            cause = f"{interrupt_name(interrupt)}: stopped the local Spark job as it started"
            result.update(state="CANCELLED", cause=cause)
            raise Cancelled(f"{cause}; nothing is left running") from None
        result.update(ids=dict(handle.ids), state="RUNNING")
        try:
            outcome = target.watch(handle, None, eprint)
        except BaseException as interrupt:  # Ctrl-C, SIGTERM, SIGHUP, or our own failure
            signals.ignore()
            actions = target.cancel(handle, interrupt_name(interrupt), eprint)
            result.update(state="CANCELLED", cause="; ".join(actions))
            if isinstance(interrupt, (KeyboardInterrupt, Terminated)):
                raise Cancelled("; ".join(actions)) from None
            raise
    code = outcome.exit_code
    result.update(state=outcome.state, elapsed_seconds=round(outcome.elapsed, 1))
    if run.report and run.json:
        result["write_budget"] = (read_back_report(run.report, run.endpoint_url) or {}).get(
            "write_budget"
        )
    if code == 2:
        raise UserError("the job refused its input (exit 2); see the message above")
    if code != 0:
        raise JobFailed(f"the job exited with code {code}; see the report above")
    sys.stdout.flush()
    return code
