"""`--method auto|write|import` resolved for a remote target (`inv run_emr`, on a cluster or on
EMR Serverless) before anything starts, as launcher/method_choice.py says: one DescribeTable
(and a look for this backfill's unfinished import) under the short pre-flight budget; the
import's staged files default to `<assets>/import/`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional, Tuple, TypeVar

from populator.core import aws
from populator.core.location import parse_s3_uri
from populator.launcher.method import default_import_prefix
from populator.launcher.method_choice import (
    MethodChoice,
    describe_manifest_table,
    method_job_extra,
    resolve_method,
    unfinished_import_marker,
)
from populator.launcher.targets.common.options import RemoteChecked, RemoteOptions
from populator.launcher.targets.common.plan import locations

__all__ = ["resolve_remote_method"]

Options = TypeVar("Options", bound=RemoteOptions)


def resolve_remote_method(
    inputs: Any, options: Options, checked: RemoteChecked
) -> Tuple[MethodChoice, Options]:
    """(the choice, the options with the resolved method in `job_extra`); UserError (exit 2)
    for a refused combination, such as `--method import` onto an existing table."""
    _, assets = locations(parse_s3_uri(inputs.archive), checked)
    beside = default_import_prefix(assets.uri)
    prefix = options.job_extra.get("import_prefix") or beside

    def unfinished() -> Optional[str]:
        with aws.preflight():
            session = aws.session(options.profile, options.region)
            s3 = session.client("s3", config=aws.client_config())
            return unfinished_import_marker(s3, str(prefix), inputs, options.include_expired)

    choice = resolve_method(
        options.job_extra.get("method"),
        lambda: describe_manifest_table(inputs.storage, profile=options.profile),
        options.create_table,
        dry_run=options.dry_run,
        unfinished_import=unfinished,
    )
    extra = method_job_extra(options.job_extra, choice.method, beside)
    return choice, replace(options, job_extra=extra)
