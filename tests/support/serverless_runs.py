"""EMR Serverless runs against moto for the launcher tests: ``run_serverless`` called with a
fake clock (``Run``), the job run states it should see at the n-th poll, the driver's log."""

from __future__ import annotations

import gzip
from typing import Any, Callable, Dict

from devkit.emr import Clock
from devkit.serverless import job_runs, set_job_run
from populator.launcher.bundle import build_bundle
from populator.launcher.inputs import validate_inputs
from populator.launcher.targets.serverless import ServerlessOptions, run_serverless

ROLE = "arn:aws:iam::123456789012:role/populator-job"
REGION = "us-east-1"


class Run:
    """One run_serverless call with its log lines and what it printed on stdout."""

    def __init__(self, setup, since=None, clock=None, **changes) -> None:
        self.options = ServerlessOptions(
            **{"execution_role_arn": ROLE, "region": REGION, "poll_interval": 1, **changes}
        )
        self.lines, self.out = [], []
        inputs = validate_inputs(
            setup["archive"], setup["storage"], setup["resolver"], since, local_archive_ok=False
        )
        self.clock = clock or Clock()
        self.outcome = run_serverless(
            inputs,
            build_bundle(inputs.storage),
            self.options,
            self.lines.append,
            self.out.append,
            clock=self.clock.time,
            sleep=self.clock.sleep,
        )

    @property
    def text(self) -> str:
        return "\n".join(self.lines + self.out)


def only_run(application_id: str) -> Any:
    runs = job_runs(application_id)
    assert len(runs) == 1, [r.id for r in runs]
    return runs[0]


def states(application: str, *moves: str, details: str = "") -> Dict[int, Callable[[], Any]]:
    """Clock events: the n-th sleep moves the (only) job run to moves[n-1]."""

    def move(state: str) -> Callable[[], Any]:
        return lambda: set_job_run(application, job_runs(application)[-1].id, state, details)

    return {n: move(state) for n, state in enumerate(moves, start=1)}


def driver_log(s3: Any, bucket: str, application: str, run_id: str, text: str) -> None:
    """The job run's driver stderr where EMR Serverless puts it below the log URI."""
    key = f"populator/logs/applications/{application}/jobs/{run_id}/SPARK_DRIVER/stderr.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(text.encode()))
