"""Acceptance: the step `inv run_emr` submits really runs and populates the table.

Submit with the real command against moto, read the step moto received, download the
artifacts it names from S3, and run those exact arguments with `spark-submit --master
local[2]` instead of `--deploy-mode cluster` (the only other change: the s3:// script and
--py-files zip become their downloaded copies). PYTHONPATH is empty and the working directory
is elsewhere, so every populator module must come from the uploaded zip: this proves the
bundle is complete. The storage config and the report stay S3 URIs, read and written by the
job through moto.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest

from devkit.jobs import dump_table
from populator.launcher.bundle import JOB_SCRIPT
from tests.support.cli import args, inv
from tests.support.job_inputs import expected_items
from tests.support.spark_submit import Replay, assert_no_secret, spark_submit

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        not JOB_SCRIPT.exists(), reason="spark_jobs/populate_manifest.py has not landed yet"
    ),
]


def local_command(step_args: List[str], replay: Replay, workdir: Path) -> List[str]:
    """The step's spark-submit line for a local master, with the s3:// code downloaded."""
    assert step_args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    rest = list(step_args[3:])
    zip_at = rest.index("--py-files") + 1
    script_at = zip_at + 1
    for index, name in ((zip_at, "bundle.zip"), (script_at, "job.py")):
        rest[index] = replay.download(rest[index], workdir / name)
    return [spark_submit(), "--master", "local[2]", *rest]


def test_the_submitted_step_populates_the_table(
    moto_endpoint, s3, emr, dynamodb, setup, tmp_path: Path
) -> None:
    replay = Replay.written(s3, setup)
    submitted = inv("run_emr", args(setup, "--json"), moto_endpoint)
    assert submitted.code == 0, submitted.err
    result = json.loads(submitted.out)

    step = emr.describe_step(ClusterId=result["cluster_id"], StepId=result["step_id"])["Step"]
    assert step["Config"]["Jar"] == "command-runner.jar"
    step_args = step["Config"]["Args"]
    ran = replay.run(
        lambda workdir: local_command(step_args, replay, workdir), moto_endpoint, tmp_path
    )
    assert dump_table(dynamodb, setup["table"]) == expected_items(replay.sample)

    report = replay.read_json(step_args[step_args.index("--report") + 1])
    assert report["status"] == "succeeded"
    assert_no_secret(submitted.out, submitted.err, json.dumps(step_args), ran.stdout, ran.stderr)
