"""EMR Serverless requests, built without AWS: exact fields, digest, tokens, option checks."""

from __future__ import annotations

import dataclasses
import json

import pytest

from devkit.jobs import SECRET
from populator.core.errors import UserError
from populator.launcher.bundle import build_bundle
from populator.launcher.inputs import validate_inputs
from populator.launcher.redact import secret_forms
from populator.launcher.targets.common.request import DEFAULT_RELEASE_LABEL, TAG_DIGEST, TAG_TABLE
from populator.launcher.targets.serverless.deps import environment_conf
from populator.launcher.targets.serverless.options import ServerlessOptions, check_options
from populator.launcher.targets.serverless.plan import plan_backfill
from populator.launcher.targets.serverless.request import (
    APPLICATION_FROM_CREATE,
    application_name,
    client_token,
    parse_spark_submit_parameters,
    spark_submit_parameters,
)
from tests.support.serverless_runs import ROLE


def plan_for(setup, since=None, **changes):
    options = ServerlessOptions(
        **{"application_id": "00fabc123", "execution_role_arn": ROLE, **changes}
    )
    inputs = validate_inputs(
        setup["archive"], setup["storage"], setup["resolver"], since, local_archive_ok=False
    )
    bundle = build_bundle(inputs.storage)
    return plan_backfill(inputs, bundle, options, check_options(options)), bundle


def test_start_job_run_is_exactly_what_the_backfill_needs(setup) -> None:
    plan, bundle = plan_for(setup)
    assets = f"s3://{setup['bucket']}/populator/assets/"
    start = plan.request["StartJobRun"]
    assert plan.operation == "StartJobRun" and set(plan.request) == {"StartJobRun"}
    assert start == {
        "applicationId": "00fabc123",
        "clientToken": plan.digest,
        "executionRoleArn": ROLE,
        "name": f"populate events manifest {setup['table']} [{plan.digest[:16]}]",
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": assets + bundle.job.filename,
                "entryPointArguments": [
                    "--enriched-archive",
                    setup["archive"],
                    "--storage-config",
                    assets + bundle.storage_config.filename,
                    "--report",
                    f"{assets}reports/backfill-{plan.digest}.json",
                ],
                "sparkSubmitParameters": f"--py-files {assets}{bundle.py_files.filename} "
                "--conf spark.speculation=false",
            }
        },
        "configurationOverrides": {
            "monitoringConfiguration": {
                "s3MonitoringConfiguration": {"logUri": f"s3://{setup['bucket']}/populator/logs/"}
            }
        },
        "tags": {
            "populator:tool": "event-manifest-populator",
            "populator:version": start["tags"]["populator:version"],
            "populator:archive": setup["archive"],
            "populator:table": setup["table"],
            "populator:table-region": "us-east-1",
            "populator:request-digest": plan.digest,
        },
    }
    assert [a.role for a in plan.uploads] == ["job", "py-files", "storage-config"]
    assert not any(form in json.dumps(plan.request) for form in secret_forms(SECRET))


def test_a_created_application_is_named_and_tagged_from_the_digest(setup) -> None:
    plan, _ = plan_for(setup, application_id=None, serverless=True, idle_timeout="1750")
    create = plan.request["CreateApplication"]
    assert plan.operation == "CreateApplication+StartJobRun"
    assert create == {
        "name": f"event-manifest-populator-{plan.digest[:16]}",
        "releaseLabel": DEFAULT_RELEASE_LABEL,
        "type": "SPARK",
        "clientToken": plan.digest,
        "autoStartConfiguration": {"enabled": True},
        "autoStopConfiguration": {"enabled": True, "idleTimeoutMinutes": 30},
        "tags": plan.request["StartJobRun"]["tags"],
    }
    assert create["tags"][TAG_DIGEST] == plan.digest and create["tags"][TAG_TABLE]
    assert plan.request["StartJobRun"]["applicationId"] == APPLICATION_FROM_CREATE
    assert len(create["name"]) <= 64 and application_name(plan.digest) == create["name"]


def test_the_digest_is_stable_and_follows_every_choice(setup) -> None:
    first, _ = plan_for(setup)
    again, _ = plan_for(setup)
    assert first.digest == again.digest and first.request == again.request
    others = {
        plan_for(setup, since="2020-01-01")[0].digest,
        plan_for(setup, application_id="00other")[0].digest,
        plan_for(setup, application_id=None, serverless=True)[0].digest,
        plan_for(setup, execution_role_arn=ROLE + "2")[0].digest,
        plan_for(setup, environment_archive="s3://b/env.tar.gz")[0].digest,
    }
    assert first.digest not in others and len(others) == 5


def test_an_environment_archive_travels_in_spark_archives(setup) -> None:
    plan, _ = plan_for(setup, environment_archive="s3://b/env-1.tar.gz")
    text = plan.request["StartJobRun"]["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"]
    py_files, conf = parse_spark_submit_parameters(text)
    assert py_files and py_files.endswith(".zip")
    assert conf == {"spark.speculation": "false", **dict(environment_conf("s3://b/env-1.tar.gz"))}
    assert conf["spark.archives"] == "s3://b/env-1.tar.gz#environment"


def test_spark_submit_parameters_round_trip_with_odd_characters() -> None:
    conf = (("spark.a", "x y"), ("spark.b", "it's=1"))
    assert parse_spark_submit_parameters(spark_submit_parameters("s3://b/p q.zip", conf)) == (
        "s3://b/p q.zip",
        dict(conf),
    )


def test_client_tokens_change_only_between_deliberate_runs() -> None:
    digest = "a" * 64
    assert client_token(digest) == digest == client_token(digest, 0)
    assert client_token(digest, 1) != client_token(digest, 2) != digest
    assert len(client_token(digest, 1)) == 64


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"application_id": None}, "--application-id"),
        ({"serverless": True}, "--application-id"),
        ({"execution_role_arn": None}, "--execution-role-arn"),
        ({"execution_role_arn": "populator-job"}, "--execution-role-arn"),
        ({"application_id": "Not An Id"}, "--application-id"),
        ({"release_label": "7.12"}, "--release-label"),
        ({"application_id": None, "serverless": True, "idle_timeout": "59"}, "--idle-timeout"),
        ({"timeout": "10"}, "--timeout"),
        ({"log_path": "/tmp/logs"}, "--log-path"),
        ({"bad_rows": "/tmp/bad"}, "--bad-rows"),
        ({"environment_archive": "s3://b/env.zip"}, "--environment-archive"),
        ({"image_uri": "x/y:1"}, "--image-uri"),
        ({"tags": ["populator:x=1"]}, "--tag"),
        ({"job_run_id": "abc", "application_id": None, "serverless": True}, "--job-run-id"),
    ],
)
def test_bad_options_name_the_flag(changes, named) -> None:
    base = ServerlessOptions(application_id="00fabc123", execution_role_arn=ROLE)
    with pytest.raises(UserError) as caught:
        check_options(dataclasses.replace(base, **changes))
    assert named in str(caught.value)
