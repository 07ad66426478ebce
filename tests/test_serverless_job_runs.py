"""Acceptance: the job run `run_serverless` submits really runs and populates the table.

Submit against moto, read back the job run moto holds (entryPoint, entryPointArguments,
sparkSubmitParameters), download the artifacts they name from moto's S3, and run exactly
that with `spark-submit --master local[2]` (the only change: the s3:// script and --py-files
zip become their downloaded copies). PYTHONPATH is empty and the working directory elsewhere,
so every populator module must come from the uploaded zip. The storage config and the report
stay S3 URIs, read and written by the job through moto.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest

from devkit.jobs import dump_table
from populator.launcher.bundle import build_bundle
from populator.launcher.inputs import validate_inputs
from populator.launcher.targets.serverless import ServerlessOptions, outcome_json, run_serverless
from populator.launcher.targets.serverless.request import parse_spark_submit_parameters
from tests.support.job_inputs import expected_items
from tests.support.serverless_runs import ROLE
from tests.support.spark_submit import Replay, assert_no_secret, spark_submit

pytestmark = pytest.mark.spark


def local_command(job_driver: dict, replay: Replay, workdir: Path) -> List[str]:
    submit = job_driver["sparkSubmit"]
    py_files, conf = parse_spark_submit_parameters(submit["sparkSubmitParameters"])
    assert py_files is not None and conf == {"spark.speculation": "false"}
    return [
        spark_submit(),
        "--master",
        "local[2]",
        *(part for key, value in conf.items() for part in ("--conf", f"{key}={value}")),
        "--py-files",
        replay.download(py_files, workdir / "bundle.zip"),
        replay.download(submit["entryPoint"], workdir / "job.py"),
        *submit["entryPointArguments"],
    ]


def test_the_submitted_job_run_populates_the_table(
    moto_endpoint, s3, dynamodb, setup, es, application, tmp_path: Path
) -> None:
    replay = Replay.written(s3, setup)
    inputs = validate_inputs(
        setup["archive"], setup["storage"], setup["resolver"], None, local_archive_ok=False
    )
    options = ServerlessOptions(
        application_id=application, execution_role_arn=ROLE, region="us-east-1"
    )
    lines: List[str] = []
    outcome = run_serverless(inputs, build_bundle(inputs.storage), options, lines.append)
    assert outcome.exit_code == 0, lines

    run = es.get_job_run(applicationId=application, jobRunId=outcome.ids["job_run_id"])["jobRun"]
    job_driver = run["jobDriver"]
    ran = replay.run(
        lambda workdir: local_command(job_driver, replay, workdir), moto_endpoint, tmp_path
    )
    assert dump_table(dynamodb, setup["table"]) == expected_items(replay.sample)
    args = run["jobDriver"]["sparkSubmit"]["entryPointArguments"]
    assert args[args.index("--report") + 1] == outcome.details["report"]
    report = replay.read_json(outcome.details["report"])
    assert report["status"] == "succeeded"

    # Re-attach with --wait: the end is seen and the job's report is read back.
    again = run_serverless(
        None,
        None,
        ServerlessOptions(
            application_id=application, job_run_id=outcome.ids["job_run_id"], region="us-east-1"
        ),
        lines.append,
    )
    assert (again.state, again.exit_code) == ("SUCCESS", 0)
    assert again.details["job_report"]["status"] == "succeeded"
    assert_no_secret(
        "\n".join(lines),
        json.dumps(run, default=str),
        json.dumps(outcome_json(outcome), default=str),
        ran.stdout,
        ran.stderr,
    )
