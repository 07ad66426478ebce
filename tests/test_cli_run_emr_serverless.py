"""`inv run_emr … --application-id APP | --serverless` for real: a subprocess per run against
the session moto server (through a recording proxy), states driven from here (moto keeps job
runs where tests put them): the exact request, `--json`, exit codes, refusals, SIGTERM."""

from __future__ import annotations

import json
import signal
from typing import Any, Dict, List, Tuple

from devkit.jobs import SECRET
from devkit.serverless import Proxy, job_runs, set_job_run
from populator.launcher.bundle import build_bundle
from populator.launcher.inputs import validate_inputs
from populator.launcher.redact import secret_forms
from populator.launcher.targets.serverless import ServerlessOptions, run_serverless
from tests.support.cli import DEAD_ENDPOINT, Running, args, inv, inv_many
from tests.support.serverless_runs import REGION, ROLE

STARTED = r"started EMR Serverless job run (\w+) on application (\w+)"
FORMS = sorted(secret_forms(SECRET))


def planned(setup: Dict[str, Any], **changes: Any) -> Dict[str, Any]:
    """The requests the library plans for these options (the CLI must print the same)."""
    inputs = validate_inputs(
        setup["archive"], setup["storage"], setup["resolver"], None, local_archive_ok=False
    )
    options = ServerlessOptions(execution_role_arn=ROLE, dry_run=True, **changes)
    outcome = run_serverless(inputs, build_bundle(inputs.storage), options, print, lambda _: None)
    return outcome.details["request"]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert not [form for form in FORMS if form in text]


def sent(proxy: Proxy, method: str, suffix: str) -> List[Any]:
    return [r for r in proxy.requests if r.method == method and r.path.endswith(suffix)]


def on(application: str) -> Tuple[str, ...]:
    """The flags that send the backfill to this existing application."""
    return ("--application-id", application, "--execution-role-arn", ROLE)


def waiting(setup: Dict[str, Any], proxy: Proxy, *options: str) -> Tuple[Running, str, str]:
    """`run_emr OPTIONS --wait --json` in the background, once it follows a SUBMITTED job run:
    (the run, its job run id, its application id)."""
    command = args(setup, *options, "--wait", "--json", "--poll-interval", "0.05")
    running = Running("run_emr", command, proxy.url)
    run_id, app = running.expect(STARTED).groups()
    running.expect(rf"job run {run_id} SUBMITTED")
    return running, run_id, app


def test_serverless_dry_run_prints_the_exact_requests(setup) -> None:
    extra = ("--in-flight", "7", "--tag", "team=data", "--idle-timeout", "1200")
    extra += ("--method", "write")  # a dry run against a dead endpoint cannot resolve auto
    dry = inv(
        "run_emr",
        args(setup, "--serverless", "--execution-role-arn", ROLE, "--dry-run", *extra),
        DEAD_ENDPOINT,  # any AWS call would fail: a dry run makes none
    )
    assert dry.code == 0, dry.err
    shown = json.loads(dry.out)
    expected = planned(
        setup,
        serverless=True,
        in_flight="7",
        tags=("team=data",),
        idle_timeout=1200,
        job_extra={"method": "write"},  # what the CLI resolves `--method write` to
    )
    assert shown == expected
    start = shown["StartJobRun"]
    assert start["executionRoleArn"] == ROLE
    arguments = start["jobDriver"]["sparkSubmit"]["entryPointArguments"]
    assert arguments[arguments.index("--in-flight") + 1] == "7"
    assert start["tags"]["team"] == "data"
    assert shown["CreateApplication"]["autoStopConfiguration"] == {
        "enabled": True,
        "idleTimeoutMinutes": 20,
    }
    assert "nothing was created" in dry.err
    assert_no_secret(dry.out, dry.err)


def test_serverless_idle_timeout_defaults_to_15_minutes_and_job_flags_reach_the_job(setup) -> None:
    dry = inv(
        "run_emr",
        args(
            setup,
            "--serverless",
            "--execution-role-arn",
            ROLE,
            "--dry-run",
            "--json",
            "--progress-interval",
            "10",
        ),
        DEAD_ENDPOINT,
    )
    assert dry.code == 0, dry.err
    result = json.loads(dry.out)
    assert (result["target"], result["state"], result["dry_run"]) == ("serverless", "DRY_RUN", True)
    request = result["request"]
    assert request["CreateApplication"]["autoStopConfiguration"]["idleTimeoutMinutes"] == 15
    arguments = request["StartJobRun"]["jobDriver"]["sparkSubmit"]["entryPointArguments"]
    assert arguments[arguments.index("--progress-interval") + 1] == "10"
    assert result["operation"] == "CreateApplication+StartJobRun" and result["uploads"]


def test_application_id_wait_json_sends_the_dry_run_request_and_reports(
    setup, proxy, application
) -> None:
    # --method write: the dry run (dead endpoint) and the run (a missing table) would resolve
    # auto differently
    target = (*on(application), "--method", "write")
    dry = inv("run_emr", args(setup, *target, "--dry-run"), DEAD_ENDPOINT)
    assert dry.code == 0, dry.err
    running, run_id, app = waiting(setup, proxy, *target)
    assert app == application
    set_job_run(application, run_id, "SUCCESS")
    done = running.finish()
    assert done.code == 0, done.err
    result = json.loads(done.out)  # stdout holds exactly one JSON object
    assert (result["target"], result["state"], result["exit_code"]) == ("serverless", "SUCCESS", 0)
    assert (result["application_id"], result["job_run_id"]) == (application, run_id)
    assert result["ids"] == {"application_id": application, "job_run_id": run_id}
    assert result["cluster_id"] is None and result["step_id"] is None and result["error"] is None
    assert result["region"] == REGION and result["created_application"] is False
    start = json.loads(dry.out)["StartJobRun"]
    assert result["request_digest"] == start["tags"]["populator:request-digest"]
    posted = sent(proxy, "POST", f"/applications/{application}/jobruns")
    assert len(posted) == 1
    body = {k: v for k, v in start.items() if k != "applicationId"}  # it is in the path
    assert json.loads(posted[0].body) == body  # exactly what the dry run printed
    assert_no_secret(done.out, done.err)


def test_a_failed_job_run_exits_1_with_its_cause_in_the_json(setup, proxy, application) -> None:
    running, run_id, _ = waiting(setup, proxy, *on(application), "--log-wait", "0")
    set_job_run(application, run_id, "FAILED", "Job failed, ExitCode: 1")
    done = running.finish()
    assert done.code == 1, done.err
    result = json.loads(done.out)
    assert (result["state"], result["exit_code"]) == ("FAILED", 1)
    assert result["cause"] == "Job failed, ExitCode: 1"
    assert "error: the backfill failed on EMR Serverless" in done.err
    assert "Traceback" not in done.err


def test_timeout_exits_3_then_reattach_follows_to_the_end(setup, proxy, application) -> None:
    waits = ("--wait", "--timeout", "1", "--poll-interval", "0.2", "--json")
    first = inv("run_emr", args(setup, *on(application), *waits), proxy.url)
    assert first.code == 3, first.err
    result = json.loads(first.out)
    run_id = result["job_run_id"]
    assert result["exit_code"] == 3 and "--job-run-id " + run_id in result["error"]
    running = Running(
        "run_emr",
        [
            "--region",
            REGION,
            "--application-id",
            application,
            "--job-run-id",
            run_id,
            "--poll-interval",
            "0.05",
        ],
        proxy.url,
    )
    running.expect(rf"job run {run_id} SUBMITTED")
    set_job_run(application, run_id, "SUCCESS")
    done = running.finish()
    assert done.code == 0, done.err
    assert f"job run {run_id} SUCCESS" in done.err
    assert len(sent(proxy, "POST", f"/applications/{application}/jobruns")) == 1


def test_sigterm_during_wait_cancels_the_job_run(setup, proxy, application) -> None:
    running, run_id, _ = waiting(setup, proxy, *on(application))
    running.interrupt(signal.SIGTERM)
    done = running.finish()
    assert done.code == 130, done.err
    assert len(sent(proxy, "DELETE", f"/applications/{application}/jobruns/{run_id}")) == 1
    assert [r.state for r in job_runs(application) if r.id == run_id] == ["CANCELLED"]
    result = json.loads(done.out)
    assert (result["state"], result["exit_code"]) == ("CANCELLED", 130)
    assert "SIGTERM" in result["cause"] and "(CancelJobRun)" in result["cause"]
    assert f"cancelled job run {run_id}" in done.err and "Traceback" not in done.err


def test_mixed_and_incomplete_target_flags_are_refused_with_exit_2(setup) -> None:
    role = ("--execution-role-arn", ROLE)
    cases = {
        "cluster and application": ("--cluster-id", "j-ABC", "--application-id", "app1", *role),
        "step and serverless": ("--cluster-id", "j-ABC", "--step-id", "s-ABC", "--serverless"),
        "both serverless targets": ("--serverless", "--application-id", "app1", *role),
        "role without a target": role,
        "no role": ("--serverless",),
        "instance type": ("--serverless", "--instance-type", "m5.2xlarge", *role),
        "job run without application": ("--serverless", "--job-run-id", "run1", *role),
    }
    ran = inv_many("run_emr", {k: args(setup, *v) for k, v in cases.items()}, DEAD_ENDPOINT)
    expected = {
        "cluster and application": "--cluster-id: EMR cluster options",
        "step and serverless": "--cluster-id, --step-id: EMR cluster options",
        "both serverless targets": "give one of them, not both",
        "role without a target": "--execution-role-arn: EMR Serverless flags",
        "no role": "--execution-role-arn is required",
        "instance type": "--instance-type: EMR cluster options",
        "job run without application": "--job-run-id re-attaches to a job run",
    }
    for name, result in ran.items():
        assert result.code == 2, (name, result.err)
        assert len(result.error_lines) == 1, (name, result.err)
        assert expected[name] in result.error_lines[0], (name, result.err)
        assert "Traceback" not in result.err, name


def test_another_backfill_of_the_table_is_refused_with_exit_2(setup, proxy, application) -> None:
    first = inv("run_emr", args(setup, *on(application), "--json"), proxy.url)
    assert first.code == 0, first.err
    assert json.loads(first.out)["state"] == "SUBMITTED"
    other = inv("run_emr", args(setup, *on(application), "--in-flight", "5", "--json"), proxy.url)
    assert other.code == 2, other.err
    assert "another backfill of DynamoDB table" in json.loads(other.out)["error"]
    assert len(other.error_lines) == 1 and "--force" in other.error_lines[0]
    assert len(sent(proxy, "POST", f"/applications/{application}/jobruns")) == 1


def test_an_unreachable_aws_is_one_error_line_and_exit_2(setup) -> None:
    ran = inv(
        "run_emr",
        args(setup, "--application-id", "app1", "--execution-role-arn", ROLE, "--json"),
        DEAD_ENDPOINT,
    )
    assert ran.code == 2, ran.err
    assert ran.error_lines == [f"error: {json.loads(ran.out)['error']}"]
    assert ran.error_lines[0].startswith("error: cannot reach AWS") and "Traceback" not in ran.err


def test_serverless_wait_creates_the_application_and_deletes_it_at_the_end(setup, proxy) -> None:
    options = ("--serverless", "--execution-role-arn", ROLE, "--idle-timeout", "600")
    running, run_id, app = waiting(setup, proxy, *options)
    set_job_run(app, run_id, "SUCCESS")
    done = running.finish()
    assert done.code == 0, done.err
    result = json.loads(done.out)
    assert (result["application_id"], result["created_application"]) == (app, True)
    created = json.loads(sent(proxy, "POST", "/applications")[0].body)
    assert created["autoStopConfiguration"] == {"enabled": True, "idleTimeoutMinutes": 10}
    assert len(sent(proxy, "DELETE", f"/applications/{app}")) == 1
    assert f"deleted application {app}" in done.err
    assert any("deleted application" in action for action in result["actions"])


def test_help_lists_the_serverless_flags_and_each_targets_idle_default() -> None:
    shown = inv("--help", ["run_emr"], DEAD_ENDPOINT)
    assert shown.code == 0, shown.err
    text = " ".join(shown.out.split())
    for flag in (
        "--application-id=STRING",
        "--serverless ",
        "--execution-role-arn=STRING",
        "--job-run-id=STRING",
        "--image-uri=STRING",
        "--environment-archive=STRING",
        "--execution-timeout=STRING",
    ):
        assert flag in text, flag
    assert "(default 3600); with --serverless" in text and "(default 900)" in text
    assert not [
        line
        for line in shown.out.splitlines()
        if line.lstrip().startswith("-") and not line.lstrip().startswith("--")
    ]
