"""`inv run_emr` for real (a subprocess per run) against moto: what EMR and S3 receive, the
output, the exit codes, the duplicate guard, the --wait paths, and never a secret anywhere."""

from __future__ import annotations

import json
import re
import signal
from typing import Any, Dict, List

import pytest

from devkit.emr import cluster, set_states, start_cluster, step
from devkit.jobs import SECRET
from populator.core.storage_config import parse_storage_config_text
from populator.launcher.bundle import JOB_SCRIPT, bootstrap_script, cluster_modules, job_zip
from populator.launcher.redact import secret_forms
from populator.launcher.targets.common.request import TAG_DIGEST, TAG_TABLE, TOOL_NAME
from tests.support.cli import (
    DEAD_ENDPOINT,
    POLLING,
    STARTED,
    Running,
    args,
    inv,
    inv_in_process,
    waiting_on_emr,
)
from tests.support.emr_expect import SPARK_SUBMIT_HEAD
from tests.support.emr_steps import put_step_logs


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        leaked = [form for form in secret_forms(SECRET) if form in text]
        assert not leaked, f"secret form {leaked[0]!r} in output"


def emr_view(emr, cluster_id: str) -> str:
    """Everything EMR holds about the cluster, as a console user would see it."""
    parts = [
        emr.describe_cluster(ClusterId=cluster_id)["Cluster"],
        emr.list_steps(ClusterId=cluster_id)["Steps"],
        emr.list_bootstrap_actions(ClusterId=cluster_id)["BootstrapActions"],
    ]
    return json.dumps(parts, default=str)


def our_clusters(emr, table: str) -> List[str]:
    found = []
    for summary in emr.list_clusters(
        ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
    )["Clusters"]:
        tags = {
            t["Key"]: t["Value"]
            for t in emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]["Tags"]
        }
        if tags.get(TAG_TABLE) == table:
            found.append(summary["Id"])
    return found


def test_launch_sends_exactly_the_dry_run_request(moto_endpoint, emr, s3, dynamodb, setup) -> None:
    dry = inv(
        "run_emr",
        args(setup, "--dry-run", "--tag", "team=data", "--method", "write"),
        DEAD_ENDPOINT,
    )
    assert dry.code == 0, dry.err
    request = json.loads(dry.out)
    assert "nothing was created or uploaded" in dry.err

    ran = inv("run_emr", args(setup, "--tag", "team=data", "--method", "write"), moto_endpoint)
    assert ran.code == 0, ran.err
    cluster_id, step_id = re.search(STARTED, ran.out).groups()  # type: ignore[union-attr]
    assert (
        f"console: https://us-east-1.console.aws.amazon.com/emr/home?region=us-east-1#/clusterDetails/{cluster_id}"
        in ran.out
    )
    assert (
        f"follow:  inv run_emr --region us-east-1 --cluster-id {cluster_id} --step-id {step_id} "
        "--wait" in ran.out
    )
    assert (
        f"aws emr describe-step --region us-east-1 --cluster-id {cluster_id} --step-id {step_id}"
        in ran.out
    )

    described = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    assert described["Name"] == request["Name"] == f"{TOOL_NAME}: {setup['table']}"
    assert described["LogUri"] == request["LogUri"] == f"s3://{setup['bucket']}/populator/logs/"
    assert described["ReleaseLabel"] == "emr-7.12.0"
    assert [a["Name"] for a in described["Applications"]] == ["Spark"]
    assert described["VisibleToAllUsers"] is True and described["AutoTerminate"] is True
    assert described["TerminationProtected"] is False
    assert described["ServiceRole"] == "EMR_DefaultRole"
    assert described["Ec2InstanceAttributes"]["IamInstanceProfile"] == "EMR_EC2_DefaultRole"
    assert described["Tags"] == request["Tags"]
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags == {
        "populator:tool": TOOL_NAME,
        "populator:version": "0.1.0",
        "populator:archive": setup["archive"],
        "populator:table": setup["table"],
        "populator:table-region": "us-east-1",
        "populator:request-digest": tags[TAG_DIGEST],
        "team": "data",
    }
    groups = sorted(
        (g["InstanceGroupType"], g["InstanceType"], g["RequestedInstanceCount"])
        for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
    )
    assert groups == [("CORE", "m5.xlarge", 2), ("MASTER", "m5.xlarge", 1)]
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is False
    assert request["AutoTerminationPolicy"] == {"IdleTimeout": 3600}

    steps = emr.list_steps(ClusterId=cluster_id)["Steps"]
    assert [s["Id"] for s in steps] == [step_id]
    sent = request["Steps"][0]
    assert steps[0]["Name"] == sent["Name"] and steps[0]["ActionOnFailure"] == "TERMINATE_CLUSTER"
    assert steps[0]["Config"]["Jar"] == "command-runner.jar"
    step_args = steps[0]["Config"]["Args"]
    assert step_args == sent["HadoopJarStep"]["Args"]
    assets = f"s3://{setup['bucket']}/populator/assets/"
    zip_uri, script_uri, config_uri = step_args[8], step_args[9], step_args[13]
    assert step_args == [
        *SPARK_SUBMIT_HEAD,
        "--py-files",
        zip_uri,
        script_uri,
        "--enriched-archive",
        setup["archive"],
        "--storage-config",
        config_uri,
        "--report",
        f"{assets}reports/backfill-{tags[TAG_DIGEST]}.json",
        "--method",
        "write",
    ]
    boot = emr.list_bootstrap_actions(ClusterId=cluster_id)["BootstrapActions"]
    assert [b["ScriptPath"] for b in boot] == [
        request["BootstrapActions"][0]["ScriptBootstrapAction"]["Path"]
    ]

    # The artifacts behind those URIs: content-addressed, complete, the config encrypted.
    def get(uri: str) -> Dict[str, Any]:
        assert uri.startswith(assets)
        return s3.get_object(Bucket=setup["bucket"], Key=uri[len(f"s3://{setup['bucket']}/") :])

    assert get(script_uri)["Body"].read() == JOB_SCRIPT.read_bytes()
    assert get(zip_uri)["Body"].read() == job_zip(cluster_modules())
    assert get(boot[0]["ScriptPath"])["Body"].read() == bootstrap_script()
    config = get(config_uri)
    assert config["ServerSideEncryption"] == "AES256"
    assert parse_storage_config_text(config["Body"].read().decode()).table == setup["table"]
    for uri in (script_uri, zip_uri, config_uri):
        assert re.search(r"-[0-9a-f]{64}\.(py|zip|json)$", uri)

    # The manifest table was created before the cluster.
    assert dynamodb.describe_table(TableName=setup["table"])["Table"]["TableStatus"] == "ACTIVE"
    keys = " ".join(o["Key"] for o in s3.list_objects_v2(Bucket=setup["bucket"])["Contents"])
    assert_no_secret(dry.out, dry.err, ran.out, ran.err, emr_view(emr, cluster_id), keys)


def test_identical_resubmission_is_recognised_and_another_refused(
    moto_endpoint, emr, setup
) -> None:
    first = inv("run_emr", args(setup, "--json"), moto_endpoint)
    assert first.code == 0, first.err
    result = json.loads(first.out)
    assert (result["exit_code"], result["state"], result["reused"]) == (0, "SUBMITTED", False)

    again = inv("run_emr", args(setup, "--json"), moto_endpoint)
    assert again.code == 0, again.err
    repeat = json.loads(again.out)
    assert repeat["reused"] is True
    assert (repeat["cluster_id"], repeat["step_id"]) == (result["cluster_id"], result["step_id"])
    assert "this exact backfill is already running" in again.err
    assert our_clusters(emr, setup["table"]) == [result["cluster_id"]]

    other = inv("run_emr", args(setup, "--since", "2017-01-01"), moto_endpoint)
    assert other.code == 2
    assert other.error_lines == [
        f"error: another backfill of DynamoDB table '{setup['table']}' (us-east-1) is active: "
        f"cluster {result['cluster_id']} (WAITING). Two backfills of one table double the writes "
        "and the cost; wait for it to end (re-attach with --cluster-id/--step-id --wait), or pass "
        "--force to start anyway"
    ]
    forced = inv("run_emr", args(setup, "--since", "2017-01-01", "--force"), moto_endpoint)
    assert forced.code == 0, forced.err
    assert len(our_clusters(emr, setup["table"])) == 2


def test_wait_success_json(moto_endpoint, setup) -> None:
    running, cluster_id, _ = waiting_on_emr(setup, moto_endpoint, "--json")
    set_states(cluster_id, step_state="COMPLETED", cluster_state="TERMINATED")
    done = running.finish()
    assert done.code == 0, done.err
    result = json.loads(done.out)  # stdout holds exactly one JSON object
    assert (result["state"], result["exit_code"], result["cluster_id"]) == (
        "COMPLETED",
        0,
        cluster_id,
    )
    assert result["console_url"].endswith(cluster_id) and result["cause"] is None
    assert "step s-" in done.err and "COMPLETED" in done.err
    assert_no_secret(done.out, done.err)


def test_wait_failure_prints_the_probable_cause(moto_endpoint, s3, setup) -> None:
    running, cluster_id, step_id = waiting_on_emr(setup, moto_endpoint, "--json", "--log-wait", "0")
    driver = (
        b"Traceback (most recent call last):\n"
        b'  File "populate_manifest.py", line 3, in <module>\n'
        b"    main()\n"
        b"PermissionError: dynamodb:PutItem denied\n"
    )
    app = "application_1732248000000_0042"
    put_step_logs(s3, setup["bucket"], f"populator/logs/{cluster_id}/", step_id, app, driver)
    set_states(
        cluster_id,
        step_state="FAILED",
        cluster_state="TERMINATED_WITH_ERRORS",
        reason="Steps failed",
    )
    done = running.finish()
    assert done.code == 1, done.err
    assert "probable cause (python-traceback, from s3://" in done.err
    assert "PermissionError: dynamodb:PutItem denied" in done.err
    assert f"cluster {cluster_id} TERMINATED_WITH_ERRORS: Steps failed" in done.err
    assert done.error_lines == [
        f"error: the backfill failed on EMR (step {step_id} FAILED); see the cause above and "
        f"https://us-east-1.console.aws.amazon.com/emr/home?region=us-east-1#/clusterDetails/{cluster_id}"
    ]
    result = json.loads(done.out)
    assert (result["state"], result["exit_code"]) == ("FAILED", 1)
    assert result["cause"].endswith("PermissionError: dynamodb:PutItem denied")


def test_timeout_exits_3_and_reattach_follows_to_the_end(moto_endpoint, setup) -> None:
    timed = inv(
        "run_emr", args(setup, "--wait", "--timeout", "1", "--poll-interval", "0.2"), moto_endpoint
    )
    assert timed.code == 3, timed.err
    cluster_id, step_id = re.search(STARTED, timed.out).groups()  # type: ignore[union-attr]
    again = (
        f"inv run_emr --region us-east-1 --cluster-id {cluster_id} --step-id {step_id} "
        "--wait --timeout 1"
    )
    assert f"Re-attach with: {again}" in timed.err
    assert (
        f"cluster {cluster_id} is left running ON PURPOSE: the step is still working" in timed.err
    )
    assert f"to stop it instead: aws emr terminate-clusters --cluster-ids {cluster_id}" in timed.err
    assert cluster(cluster_id).state != "TERMINATED"

    running = Running(
        "run_emr",
        [
            "--region",
            "us-east-1",
            "--cluster-id",
            cluster_id,
            "--step-id",
            step_id,
            "--json",
            "--poll-interval",
            "0.05",
        ],
        moto_endpoint,
    )
    running.expect(POLLING)
    set_states(cluster_id, step_state="COMPLETED")
    done = running.finish()
    assert done.code == 0, done.err
    assert json.loads(done.out)["state"] == "COMPLETED"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_while_waiting_terminates_the_cluster_we_started(
    moto_endpoint, setup, signum
) -> None:
    running, cluster_id, step_id = waiting_on_emr(setup, moto_endpoint)
    running.interrupt(signum)
    done = running.finish()
    assert done.code == 130, done.err
    assert cluster(cluster_id).state == "TERMINATED"
    assert (
        f"terminated cluster {cluster_id}: this backfill started it; step {step_id} ends with it"
        in done.err
    )
    assert "Traceback" not in done.err


def test_step_on_an_existing_cluster(moto_endpoint, emr, s3, setup) -> None:
    shared = start_cluster(emr, "team cluster", {}, [step("nightly")])
    ran = inv("run_emr", args(setup, "--cluster-id", shared, "--json"), moto_endpoint)
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)
    assert (result["cluster_id"], result["started_cluster"], result["operation"]) == (
        shared,
        False,
        "AddJobFlowSteps",
    )
    added = [s for s in emr.list_steps(ClusterId=shared)["Steps"] if s["Id"] == result["step_id"]]
    assert added[0]["ActionOnFailure"] == "CONTINUE"
    assert "bootstrap" not in [u["role"] for u in result["uploads"]]
    assert "need boto3" in ran.err
    assert_no_secret(ran.out, ran.err, emr_view(emr, shared))


def test_custom_jar_and_kms(moto_endpoint, emr, s3, setup) -> None:
    jar = f"s3://{setup['bucket']}/jobs/populator-0.3.0.jar"
    ran = inv(
        "run_emr",
        args(setup, "--jar", jar, "--kms-key-id", "alias/backfill", "--json"),
        moto_endpoint,
    )
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)
    assert [u["role"] for u in result["uploads"]] == ["bootstrap", "storage-config"]
    config = result["uploads"][1]["uri"][len(f"s3://{setup['bucket']}/") :]
    assert s3.head_object(Bucket=setup["bucket"], Key=config)["ServerSideEncryption"] == "aws:kms"
    config_step = emr.list_steps(ClusterId=result["cluster_id"])["Steps"][0]["Config"]
    assert config_step["Jar"] == jar
    assert config_step["Args"][:4] == [
        "--enriched-archive",
        setup["archive"],
        "--storage-config",
        result["uploads"][1]["uri"],
    ]


def test_no_create_table_refuses_before_any_cluster(moto_endpoint, emr, setup) -> None:
    ran = inv("run_emr", args(setup, "--no-create-table"), moto_endpoint)
    assert ran.code == 2
    assert ran.error_lines == [
        f"error: DynamoDB table '{setup['table']}' (us-east-1) does not exist and "
        "--no-create-table was given: create it or drop the flag"
    ]
    assert our_clusters(emr, setup["table"]) == []


def test_dry_run_json_and_no_aws_at_all(setup) -> None:
    ran = inv("run_emr", args(setup, "--dry-run", "--json", "--region", "eu-west-1"), DEAD_ENDPOINT)
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)
    assert result["dry_run"] is True and result["operation"] == "RunJobFlow"
    assert result["region"] == "eu-west-1" and result["cluster_id"] is None
    assert result["request"]["Steps"][0]["HadoopJarStep"]["Jar"] == "command-runner.jar"
    assert [u["role"] for u in result["uploads"]] == [
        "job",
        "py-files",
        "bootstrap",
        "storage-config",
    ]
    assert_no_secret(ran.out, ran.err)


def test_dry_run_on_an_existing_cluster_prints_add_job_flow_steps(monkeypatch, setup) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", DEAD_ENDPOINT)
    ran = inv_in_process("run_emr", args(setup, "--dry-run", "--cluster-id", "j-2AXXXXXXGAPLF"))
    assert ran.code == 0, ran.err
    request = json.loads(ran.out)
    assert list(request) == ["JobFlowId", "Steps"] and request["JobFlowId"] == "j-2AXXXXXXGAPLF"
    assert request["Steps"][0]["ActionOnFailure"] == "CONTINUE"
    assert "would call EMR AddJobFlowSteps" in ran.err
    assert "bootstrap" not in ran.err  # nothing to bootstrap on a running cluster
    assert_no_secret(ran.out, ran.err)
