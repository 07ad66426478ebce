"""The EMR requests, field by field: what `inv run_emr` sends is exactly what is built here."""

from __future__ import annotations

import json

import pytest

from populator.core.job_args import parse_options
from populator.launcher.redact import secret_forms
from populator.launcher.targets.common.request import (
    JobArgs,
    build_job_args,
    parse_tags,
    redact_request,
    request_digest,
    step_name,
    tag_value,
    with_digest,
)
from populator.launcher.targets.emr.request import (
    ClusterSpec,
    build_add_steps,
    build_jar_step,
    build_run_job_flow,
    build_spark_step,
)
from tests.support.emr_expect import SPARK_SUBMIT_HEAD

ZIP = "s3://b/assets/populator-1.zip"
SCRIPT = "s3://b/assets/populate_manifest-2.py"
CONFIG = "s3://b/assets/storage-config-3.json"


def test_job_args_hold_uris_only_in_the_jobs_order() -> None:
    assert build_job_args(JobArgs("s3://a/archive/", CONFIG)) == [
        "--enriched-archive",
        "s3://a/archive/",
        "--storage-config",
        CONFIG,
    ]
    full = JobArgs("s3://a/archive/", CONFIG, "2017-01-01-00-00-00", "runs", "s3://b/r.json")
    assert build_job_args(full) == [
        "--enriched-archive",
        "s3://a/archive/",
        "--storage-config",
        CONFIG,
        "--since",
        "2017-01-01-00-00-00",
        "--run-manifest-table",
        "runs",
        "--report",
        "s3://b/r.json",
    ]
    job_flags = JobArgs(
        "s3://a/archive/",
        CONFIG,
        bad_rows_uri="s3://b/bad-rows/",
        in_flight=8,
        include_expired=True,
        accept_read_errors=True,
    )
    assert build_job_args(job_flags) == [
        "--enriched-archive",
        "s3://a/archive/",
        "--storage-config",
        CONFIG,
        "--bad-rows",
        "s3://b/bad-rows/",
        "--in-flight",
        "8",
        "--include-expired",
        "--accept-read-errors",
    ]
    # The job's own parser reads them back as given (the launcher and the job agree).
    parsed = parse_options(build_job_args(job_flags))
    assert (parsed.bad_rows, parsed.in_flight) == ("s3://b/bad-rows/", 8)
    assert parsed.include_expired and parsed.accept_read_errors


def test_spark_step_is_spark_submit_in_cluster_mode_via_command_runner() -> None:
    step = build_spark_step("n", SCRIPT, ["--x", "1"], ZIP)
    assert step == {
        "Name": "n",
        "ActionOnFailure": "TERMINATE_CLUSTER",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                *SPARK_SUBMIT_HEAD,
                "--py-files",
                ZIP,
                SCRIPT,
                "--x",
                "1",
            ],
        },
    }
    custom = build_spark_step("n", "s3://b/mine.py", ["--x"], None, "CONTINUE")
    assert custom["ActionOnFailure"] == "CONTINUE"
    assert custom["HadoopJarStep"]["Args"] == [
        *SPARK_SUBMIT_HEAD,
        "s3://b/mine.py",
        "--x",
    ]


def test_jar_step_runs_the_artifact_with_the_same_job_args() -> None:
    assert build_jar_step("n", "s3://b/p.jar", ["--a", "b"], "CONTINUE") == {
        "Name": "n",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "s3://b/p.jar", "Args": ["--a", "b"]},
    }


def test_run_job_flow_every_field_with_defaults() -> None:
    step = build_spark_step("s", SCRIPT, [], ZIP)
    spec = ClusterSpec(
        name="event-manifest-populator: t",
        log_uri="s3://b/logs/",
        bootstrap_uri="s3://b/assets/bootstrap.sh",
        tags=(("populator:table", "t"), ("team", "data")),
    )
    assert build_run_job_flow(spec, [step]) == {
        "Name": "event-manifest-populator: t",
        "LogUri": "s3://b/logs/",
        "ReleaseLabel": "emr-7.12.0",
        "Applications": [{"Name": "Spark"}],
        "Instances": {
            "InstanceGroups": [
                {
                    "Name": "Master",
                    "InstanceRole": "MASTER",
                    "Market": "ON_DEMAND",
                    "InstanceType": "m5.xlarge",
                    "InstanceCount": 1,
                },
                {
                    "Name": "Core",
                    "InstanceRole": "CORE",
                    "Market": "ON_DEMAND",
                    "InstanceType": "m5.xlarge",
                    "InstanceCount": 2,
                },
            ],
            "KeepJobFlowAliveWhenNoSteps": False,
            "TerminationProtected": False,
        },
        "Steps": [step],
        "JobFlowRole": "EMR_EC2_DefaultRole",
        "ServiceRole": "EMR_DefaultRole",
        "VisibleToAllUsers": True,
        "AutoTerminationPolicy": {"IdleTimeout": 3600},
        "Tags": [{"Key": "populator:table", "Value": "t"}, {"Key": "team", "Value": "data"}],
        "BootstrapActions": [
            {
                "Name": "Install boto3 when missing",
                "ScriptBootstrapAction": {"Path": "s3://b/assets/bootstrap.sh", "Args": []},
            }
        ],
    }


def test_run_job_flow_options() -> None:
    spec = ClusterSpec(
        name="n",
        log_uri="s3://b/l/",
        release_label="emr-7.13.0",
        instance_type="r5.2xlarge",
        instance_count=1,
        service_role="svc",
        instance_profile="prof",
        ec2_key_name="key",
        subnet_id="subnet-0abc1234",
        idle_timeout=600,
    )
    request = build_run_job_flow(spec, [])
    assert request["Instances"] == {
        "InstanceGroups": [
            {
                "Name": "Master",
                "InstanceRole": "MASTER",
                "Market": "ON_DEMAND",
                "InstanceType": "r5.2xlarge",
                "InstanceCount": 1,
            }
        ],
        "KeepJobFlowAliveWhenNoSteps": False,
        "TerminationProtected": False,
        "Ec2KeyName": "key",
        "Ec2SubnetId": "subnet-0abc1234",
    }
    assert (request["ReleaseLabel"], request["JobFlowRole"], request["ServiceRole"]) == (
        "emr-7.13.0",
        "prof",
        "svc",
    )
    assert request["AutoTerminationPolicy"] == {"IdleTimeout": 600}
    assert "BootstrapActions" not in request and request["Tags"] == []


def test_add_steps_request() -> None:
    step = build_jar_step("n", "s3://b/p.jar", [])
    assert build_add_steps("j-ABC", [step]) == {"JobFlowId": "j-ABC", "Steps": [step]}


def test_digest_is_of_the_request_built_without_it() -> None:
    def build(digest: str) -> dict:
        return build_add_steps("j-1", [build_jar_step(step_name("t", digest), "s3://b/p.jar", [])])

    request, digest = with_digest(build)
    assert digest == request_digest(build(""))
    assert (
        len(digest) == 64
        and request["Steps"][0]["Name"] == f"populate events manifest t [{digest[:16]}]"
    )
    assert with_digest(build) == (request, digest)  # deterministic
    _, other_digest = with_digest(
        lambda d: build_add_steps("j-2", [build_jar_step(step_name("t", d), "s3://b/p.jar", [])])
    )
    assert other_digest != digest
    # Key order does not change the digest (canonical JSON).
    assert request_digest({"a": 1, "b": [1, 2]}) == request_digest({"b": [1, 2], "a": 1})


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], []),
        (
            ["team=data", "cost center=42", "empty="],
            [("team", "data"), ("cost center", "42"), ("empty", "")],
        ),
        (["k=a=b"], [("k", "a=b")]),
    ],
)
def test_tags_parse(items: list, expected: list) -> None:
    assert parse_tags(items) == expected


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ("novalue", "expected KEY=VALUE"),
        ("=v", "expected KEY=VALUE"),
        ("populator:table=x", "reserved"),
        ("aws:x=y", "reserved"),
        ("k=" + "v" * 257, "at most"),
        ("k=semi;colon", "letters, digits"),
    ],
)
def test_bad_tags(item: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_tags([item])
    with pytest.raises(ValueError, match="twice"):
        parse_tags(["a=1", "a=2"])


def test_tag_value_fits_emr_rules() -> None:
    assert tag_value("s3://b/p=1/") == "s3://b/p=1/"
    assert tag_value("s3://b/a*b?") == "s3://b/a_b_"
    assert len(tag_value("x" * 300)) == 256


def test_redact_request_scrubs_every_form() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    import base64

    leaked = {
        "Args": ["--key", secret, base64.b64encode(secret.encode()).decode()],
        "Nested": {"x": f"pre{secret}post", "n": 3},
    }
    shown = redact_request(leaked, [secret])
    text = json.dumps(shown)
    assert not any(form in text for form in secret_forms(secret))
    assert shown["Nested"]["n"] == 3 and shown["Args"][0] == "--key"
    assert leaked["Args"][1] == secret  # the input is not modified
