"""The options of an EMR Serverless backfill, their help texts, and their local checks.

The CLI adds these to `inv run_emr` (`--application-id`, `--serverless`,
`--execution-role-arn`, `--idle-timeout` in seconds as for EMR, …); every check runs before any
AWS call and names the flag and what was expected (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional

from populator.core.errors import UserError
from populator.core.location import has_s3_scheme
from populator.launcher.targets.common import options as common
from populator.launcher.targets.serverless.request import (
    DEFAULT_IDLE_TIMEOUT_MINUTES,
    DEFAULT_RELEASE_LABEL,
)

__all__ = ["HELP", "Checked", "ServerlessFlags", "ServerlessOptions", "check_options"]

APPLICATION_ID_RE = re.compile(r"^[0-9a-z]{1,64}$")
JOB_RUN_ID_RE = re.compile(r"^[0-9a-z]{1,64}$")
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")
IMAGE_RE = re.compile(r"^[\w.-]+(?::[0-9]+)?/[\w./-]+(?::[\w.-]+|@sha256:[0-9a-f]{64})?$")
MAX_IDLE_SECONDS = 10080 * 60  # autoStopConfiguration accepts 1 minute to one week
WORDING = common.Wording(
    fraction="a number",
    bad_rows=" (the job runs on EMR Serverless: a local path would vanish with the worker)",
    max_timeout=10**7,
    folder_scheme=True,
    wait_first=True,
)


@dataclass(frozen=True)
class ServerlessFlags:
    """The flags only EMR Serverless has, as typed (`check_options` checks them)."""

    application_id: Optional[str] = None
    serverless: bool = False
    execution_role_arn: Optional[str] = None
    job_run_id: Optional[str] = None
    image_uri: Optional[str] = None
    environment_archive: Optional[str] = None
    execution_timeout: Any = None

    @property
    def chosen(self) -> bool:
        """The backfill runs on EMR Serverless (else: on an EMR cluster)."""
        return bool(self.application_id or self.serverless)

    def given(self) -> List[str]:
        """The EMR Serverless flags the user gave, as typed on the command line."""
        return [
            "--" + f.name.replace("_", "-")
            for f in fields(ServerlessFlags)
            if getattr(self, f.name) not in (None, False)
        ]


@dataclass(frozen=True)
class ServerlessOptions(common.RemoteOptions, ServerlessFlags):
    """As typed on the command line (numbers may be strings; `check_options` parses them)."""

    idle_timeout: Any = DEFAULT_IDLE_TIMEOUT_MINUTES * 60  # seconds, like EMR's --idle-timeout


HELP: Dict[str, str] = {
    "application_id": "EMR Serverless: run the backfill as a job run on this application",
    "serverless": "EMR Serverless: create an application for this backfill (Spark, auto-start, "
    "auto-stop), run the job on it, delete it when the job ends (with --wait)",
    "execution_role_arn": "EMR Serverless: the job run's IAM role ARN (required; the rights of "
    "the cluster's instance role, see docs/security.md)",
    "release_label": f"EMR release (default {DEFAULT_RELEASE_LABEL})",
    "idle_timeout": "with --serverless: stop the application after this many idle seconds, "
    f"rounded up to minutes (default {DEFAULT_IDLE_TIMEOUT_MINUTES * 60})",
    "image_uri": "with --serverless: a custom image for the application (e.g. with boto3)",
    "environment_archive": "EMR Serverless: S3 URI of a venv-pack tar.gz to run Python from "
    "(spark.archives), when the image lacks boto3",
    "job_run_id": "with --application-id: re-attach to this job run and wait for it",
    "execution_timeout": "EMR Serverless: cancel the job run after this many minutes "
    "(default: the service's, 720)",
    "log_path": "S3 folder for the job run's logs (default s3://<archive-bucket>/populator/logs/)",
    "assets": "S3 folder for uploads (default: populator-assets/ beside --log-path, else "
    "s3://<archive-bucket>/populator/assets/)",
    "wait": "follow the job run to its end; exit 0 done, 1 failed (cause shown), 130 Ctrl-C",
    "timeout": "with --wait: stop waiting after SECONDS, exit 3 (the job run goes on)",
    "poll_interval": "with --wait: first poll interval in seconds, backing off to 60",
    "log_wait": "with --wait: seconds to wait for a failed job run's driver log (default 120)",
    "force": "start even if another backfill of the same table is active",
    "dry_run": "print the exact CreateApplication/StartJobRun requests (secrets redacted); "
    "create and upload nothing",
    "json": "print one JSON result (state, exit code, cause, application_id, job_run_id)",
}


@dataclass(frozen=True)
class Checked(common.RemoteChecked):
    """The options parsed: numbers, S3 folders and tags."""

    idle_timeout: int  # minutes, as autoStopConfiguration takes it
    execution_timeout: Optional[int]


def _check_target(options: ServerlessOptions) -> None:
    if bool(options.application_id) == bool(options.serverless):
        raise UserError(
            "EMR Serverless: give either --application-id APP (an existing application) or "
            "--serverless (create one for this backfill), not both"
        )
    if options.job_run_id and not options.application_id:
        raise UserError("--job-run-id re-attaches to a job run: give its --application-id too")
    if not options.execution_role_arn and not options.job_run_id:
        raise UserError(
            "--execution-role-arn is required on EMR Serverless: the IAM role the job run "
            "assumes, e.g. arn:aws:iam::123456789012:role/populator-job"
        )
    common.match(options.application_id, APPLICATION_ID_RE, "--application-id", "an application id")
    common.match(options.job_run_id, JOB_RUN_ID_RE, "--job-run-id", "a job run id")
    common.match(
        options.execution_role_arn,
        ROLE_ARN_RE,
        "--execution-role-arn",
        "an IAM role ARN such as arn:aws:iam::123456789012:role/populator-job",
    )
    common.match(
        options.release_label, common.RELEASE_RE, "--release-label", "a release such as emr-7.12.0"
    )
    common.match(options.image_uri, IMAGE_RE, "--image-uri", "an ECR image URI")
    if options.image_uri and not options.serverless:
        raise UserError("--image-uri configures a created application: add --serverless")


def check_options(options: ServerlessOptions) -> Checked:
    """Every option, before any AWS call; UserError names the option."""
    _check_target(options)
    archive = options.environment_archive
    if archive is not None and not (has_s3_scheme(archive) and archive.endswith(".tar.gz")):
        raise UserError(
            f"--environment-archive {archive!r}: expected the S3 URI of a venv-pack .tar.gz"
        )
    shared = common.check_shared(options, WORDING, attached=bool(options.job_run_id))
    idle_seconds = common.number(options.idle_timeout, "--idle-timeout", 60, MAX_IDLE_SECONDS)
    execution = options.execution_timeout
    return Checked(
        **shared,
        idle_timeout=-(-idle_seconds // 60),
        execution_timeout=None
        if execution is None
        else common.number(execution, "--execution-timeout", 5, 10080),
    )
