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
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import List

import pytest

from devkit.jobs import SECRET, dump_table, resolver_config, storage_config, write_json
from devkit.sample_archive import realistic_archive, write_to_s3
from populator.core.events import TTL_SECONDS
from populator.launcher.bundle import JOB_SCRIPT
from populator.launcher.redact import secret_forms
from tests.support.cli import inv

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        not JOB_SCRIPT.exists(), reason="spark_jobs/populate_manifest.py has not landed yet"
    ),
]


def split_s3(uri: str) -> List[str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return [bucket, key]


def local_command(args: List[str], s3, workdir: Path) -> List[str]:
    """The step's spark-submit line for a local master, with the s3:// code downloaded."""
    import pyspark

    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    rest = list(args[3:])
    zip_at = rest.index("--py-files") + 1
    script_at = zip_at + 1
    for index, name in ((zip_at, "bundle.zip"), (script_at, "job.py")):
        bucket, key = split_s3(rest[index])
        target = workdir / name
        target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        rest[index] = str(target)
    spark_submit = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")
    return [spark_submit, "--master", "local[2]", *rest]


def test_the_submitted_step_populates_the_table(
    moto_endpoint, s3, emr, dynamodb, bucket, unique_name, tmp_path: Path
) -> None:
    now = datetime.now(timezone.utc)
    sample = realistic_archive(now=now, runs=3, events_per_run=25)
    archive = write_to_s3(sample, s3, bucket, "enriched/archive")
    table = unique_name("manifest")
    storage = write_json(tmp_path / "storage.json", storage_config(table))
    resolver = write_json(tmp_path / "resolver.json", resolver_config())

    submitted = inv("run_emr", [archive, storage, resolver, "--json"], moto_endpoint)
    assert submitted.code == 0, submitted.err
    result = json.loads(submitted.out)

    step = emr.describe_step(ClusterId=result["cluster_id"], StepId=result["step_id"])["Step"]
    assert step["Config"]["Jar"] == "command-runner.jar"
    args = step["Config"]["Args"]
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    command = local_command(args, s3, workdir)
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

    report_bucket, report_key = split_s3(args[args.index("--report") + 1])
    report = json.loads(s3.get_object(Bucket=report_bucket, Key=report_key)["Body"].read())
    assert report["status"] == "succeeded"
    for text in (submitted.out, submitted.err, json.dumps(args), ran.stdout, ran.stderr):
        assert not any(form in text for form in secret_forms(SECRET))
