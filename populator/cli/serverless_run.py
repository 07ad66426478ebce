"""`inv run_emr … --application-id APP | --serverless`: the backfill on EMR Serverless.

The same local validation and bundle as for a cluster (populator.cli.run_emr), then
`populator.launcher.targets.serverless.run_serverless`; its Outcome becomes the one `--json`
Result (cli/emr_result.py: the cluster's fields plus application_id and job_run_id) and the
exit code (0 ok, 1 failed, 2 bad input, 3 still running at --timeout, 130 cancelled).
Flags of the other target (`--cluster-id`, `--instance-type`, …) are refused, never ignored.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Dict, Optional, Tuple

from populator.cli.common import eprint, notice
from populator.cli.emr_result import Result, concluded
from populator.core.errors import (
    EXIT_CANCELLED,
    EXIT_JOB_FAILED,
    EXIT_STILL_RUNNING,
    Cancelled,
    JobFailed,
    UserError,
    aws_user_error,
)
from populator.launcher.bundle import BundleError
from populator.launcher.signals import Signals, Terminated, interrupt_name
from populator.launcher.targets.base import Outcome
from populator.launcher.targets.emr.options import EmrOptions
from populator.launcher.targets.emr.request import (
    DEFAULT_INSTANCE_COUNT,
    DEFAULT_INSTANCE_PROFILE,
    DEFAULT_INSTANCE_TYPE,
    DEFAULT_SERVICE_ROLE,
)
from populator.launcher.targets.serverless.options import ServerlessFlags

__all__ = ["ServerlessFlags", "run_on_serverless"]


# EMR-cluster-only options and their defaults: given with a Serverless target they are refused.
_CLUSTER_ONLY = (
    ("cluster_id", None),
    ("step_id", None),
    ("jar", None),
    ("instance_type", DEFAULT_INSTANCE_TYPE),
    ("instance_count", DEFAULT_INSTANCE_COUNT),
    ("subnet_id", None),
    ("ec2_keyname", None),
    ("service_role", DEFAULT_SERVICE_ROLE),
    ("instance_profile", DEFAULT_INSTANCE_PROFILE),
)


def check_combination(options: EmrOptions, flags: ServerlessFlags) -> None:
    """Refuse a mix of the two targets' flags (exit 2), before anything else is read."""
    if flags.application_id and flags.serverless:
        raise UserError(
            "--serverless creates an application for this backfill and --application-id names "
            "an existing one: give one of them, not both"
        )
    if not flags.chosen:
        raise UserError(
            f"{', '.join(flags.given())}: EMR Serverless flags; add --application-id APP (an "
            "existing application) or --serverless (one created for this backfill)"
        )
    mixed = [
        "--" + name.replace("_", "-")
        for name, default in _CLUSTER_ONLY
        if getattr(options, name) is not None and str(getattr(options, name)) != str(default)
    ]
    if mixed:
        chosen = "--serverless" if flags.serverless else "--application-id"
        raise UserError(
            f"{', '.join(mixed)}: EMR cluster options, but {chosen} runs the backfill on EMR "
            "Serverless; leave them out (or leave out "
            f"{chosen} to run on a cluster)"
        )


def serverless_options(options: EmrOptions, flags: ServerlessFlags) -> Any:
    """The ServerlessOptions of this command line (the shared flags taken as they are)."""
    from populator.launcher.targets.common.options import shared_values
    from populator.launcher.targets.serverless import ServerlessOptions

    own = {f.name: getattr(flags, f.name) for f in fields(ServerlessFlags)}
    idle = {} if options.idle_timeout is None else {"idle_timeout": options.idle_timeout}
    return ServerlessOptions(**shared_values(options), **own, **idle)


def run_on_serverless(
    enriched_archive: Optional[str],
    storage_config: Optional[str],
    resolver: Optional[str],
    options: EmrOptions,
    flags: ServerlessFlags,
) -> int:
    """The serverless branch of `inv run_emr` (wrap with populator.cli.common.command)."""

    result = Result(dry_run=options.dry_run, target="serverless")

    def body() -> None:
        with Signals():
            try:
                positionals = (enriched_archive, storage_config, resolver)
                outcome = _run(positionals, options, flags, result)
            except (KeyboardInterrupt, Terminated) as interrupt:
                raise Cancelled(
                    f"{interrupt_name(interrupt)}: stopped before anything was submitted to EMR "
                    "Serverless; nothing runs"
                ) from None
        fill(result, outcome)
        _raise_for(outcome)

    return concluded(body, result, options, _user_error)


def _user_error(error: BaseException) -> Any:
    if isinstance(error, BundleError):
        return UserError(f"cannot package the job: {error}")
    return aws_user_error(error)


def _run(
    positionals: Tuple[Optional[str], Optional[str], Optional[str]],
    options: EmrOptions,
    flags: ServerlessFlags,
    result: Result,
) -> Outcome:
    from populator.launcher.bundle import build_bundle
    from populator.launcher.inputs import validate_inputs
    from populator.launcher.targets.common.method import resolve_remote_method
    from populator.launcher.targets.serverless import run_serverless
    from populator.launcher.targets.serverless.options import check_options

    check_combination(options, flags)
    chosen = serverless_options(options, flags)
    if flags.job_run_id:
        check_options(chosen)
        if any(positionals):
            notice(
                "re-attaching to a submitted job run: "
                "ENRICHED_ARCHIVE, STORAGE_CONFIG and RESOLVER are not used"
            )
        return run_serverless(None, None, chosen, eprint)  # type: ignore[arg-type]
    inputs = validate_inputs(*positionals, options.since, local_archive_ok=False)
    choice, chosen = resolve_remote_method(inputs, chosen, check_options(chosen))
    eprint(choice.line())
    result.method = choice.as_json()
    bundle = build_bundle(inputs.storage)
    return run_serverless(inputs, bundle, chosen, eprint, out=_print)


def _print(text: str) -> None:
    print(text, flush=True)


# The Result fields an Outcome's details hold under the same name (as they are).
_FROM_DETAILS = (
    "region",
    "request_digest",
    "log_uri",
    "report",
    "created_application",
    "job_report",
    "progress",
    "operation",
    "request",
)


def fill(result: Result, outcome: Outcome) -> None:
    """The Outcome in the Result's fields (the same `--json` keys as for a cluster)."""
    details: Dict[str, Any] = outcome.details
    result.state, result.exit_code = outcome.state, outcome.exit_code
    result.elapsed_seconds = round(outcome.elapsed, 1)
    result.ids = dict(outcome.ids)
    for key in _FROM_DETAILS:
        setattr(result, key, details.get(key))
    result.reused = bool(details.get("reused"))
    result.uploads = list(details.get("uploads") or [])
    result.cause = outcome.cause
    result.actions = list(outcome.actions)
    if outcome.exit_code == EXIT_CANCELLED:
        result.cause = "; ".join(outcome.actions) or None
    app, run = outcome.ids.get("application_id"), outcome.ids.get("job_run_id")
    if outcome.exit_code == EXIT_STILL_RUNNING and app and run:
        from populator.launcher.targets.serverless.target import reattach_command

        again = reattach_command(app, run, str(result.region))
        result.error = f"still running at --timeout; it goes on; re-attach with: {again}"


def _raise_for(outcome: Outcome) -> None:
    """Exit 1 and 130 as JobFailed and Cancelled (the `error: …` line, the exit code)."""
    run = outcome.ids.get("job_run_id")
    if outcome.exit_code == EXIT_JOB_FAILED:
        raise JobFailed(
            f"the backfill failed on EMR Serverless (job run {run} {outcome.state}); see the "
            "cause above"
        )
    if outcome.exit_code == EXIT_CANCELLED:
        said = [a for a in outcome.actions if not a.endswith("please wait")]
        raise Cancelled(" ".join(said) or "cancelled")
