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
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import List

import boto3
import pytest

from devkit.jobs import SECRET, dump_table, resolver_config, storage_config, write_json
from devkit.sample_archive import realistic_archive, write_to_s3
from populator.core.events import TTL_SECONDS
from populator.launcher.bundle import build_bundle
from populator.launcher.inputs import validate_inputs
from populator.launcher.redact import secret_forms
from populator.launcher.targets.serverless import ServerlessOptions, outcome_json, run_serverless
from populator.launcher.targets.serverless.request import parse_spark_submit_parameters

pytestmark = pytest.mark.spark
ROLE = "arn:aws:iam::123456789012:role/populator-job"


def download(s3, uri: str, target: Path) -> str:
    bucket, _, key = uri[len("s3://") :].partition("/")
    target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return str(target)


def local_command(job_driver: dict, s3, workdir: Path) -> List[str]:
    import pyspark

    submit = job_driver["sparkSubmit"]
    py_files, conf = parse_spark_submit_parameters(submit["sparkSubmitParameters"])
    assert py_files is not None and conf == {"spark.speculation": "false"}
    spark_submit = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")
    return [
        spark_submit,
        "--master",
        "local[2]",
        *(part for key, value in conf.items() for part in ("--conf", f"{key}={value}")),
        "--py-files",
        download(s3, py_files, workdir / "bundle.zip"),
        download(s3, submit["entryPoint"], workdir / "job.py"),
        *submit["entryPointArguments"],
    ]


def test_the_submitted_job_run_populates_the_table(
    moto_endpoint, s3, dynamodb, bucket, unique_name, tmp_path: Path
) -> None:
    es = boto3.client("emr-serverless", endpoint_url=moto_endpoint, region_name="us-east-1")
    application = es.create_application(
        name=unique_name("app"), releaseLabel="emr-7.12.0", type="SPARK"
    )["applicationId"]
    sample = realistic_archive(now=datetime.now(timezone.utc), runs=3, events_per_run=25)
    archive = write_to_s3(sample, s3, bucket, "enriched/archive")
    table = unique_name("manifest")
    storage = write_json(tmp_path / "storage.json", storage_config(table))
    resolver = write_json(tmp_path / "resolver.json", resolver_config())
    inputs = validate_inputs(archive, storage, resolver, None, local_archive_ok=False)
    options = ServerlessOptions(
        application_id=application, execution_role_arn=ROLE, region="us-east-1"
    )
    lines: List[str] = []
    outcome = run_serverless(inputs, build_bundle(inputs.storage), options, lines.append)
    assert outcome.exit_code == 0, lines

    run = es.get_job_run(applicationId=application, jobRunId=outcome.ids["job_run_id"])["jobRun"]
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    command = local_command(run["jobDriver"], s3, workdir)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AWS_PROFILE")}
    env.update(
        {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
    )
    ran = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr[-4000:]

    expected = {key: (etl, etl + TTL_SECONDS) for key, etl in sample.expected.items()}
    assert dump_table(dynamodb, table) == expected
    args = run["jobDriver"]["sparkSubmit"]["entryPointArguments"]
    assert args[args.index("--report") + 1] == outcome.details["report"]
    report_bucket, _, report_key = outcome.details["report"][len("s3://") :].partition("/")
    report = json.loads(s3.get_object(Bucket=report_bucket, Key=report_key)["Body"].read())
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
    channels = (
        "\n".join(lines),
        json.dumps(run, default=str),
        json.dumps(outcome_json(outcome), default=str),
        ran.stdout,
        ran.stderr,
    )
    for text in channels:
        assert not any(form in text for form in secret_forms(SECRET))
