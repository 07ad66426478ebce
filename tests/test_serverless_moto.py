"""EMR Serverless against moto's server: submission, guard, lost answers, waits, cancel, clean-up.

Every AWS call goes over HTTP through a recording loopback proxy in front of moto (the
session server); moto keeps job runs where tests put them, so states are driven explicitly
(devkit.serverless) at the n-th poll of a fake clock. Ctrl-C is a real SIGINT sent to this
process while the watch sleeps: the signal block turns it into a cancel.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import os
import signal

import boto3
import pytest

from devkit.emr import Clock
from devkit.jobs import SECRET
from devkit.serverless import Proxy, applications, job_runs, runs_start_in, set_job_run
from populator.core.errors import UserError
from populator.launcher.bundle import build_bundle
from populator.launcher.inputs import validate_inputs
from populator.launcher.redact import secret_forms
from populator.launcher.targets.common.guard import DuplicateBackfill
from populator.launcher.targets.common.request import TAG_DIGEST
from populator.launcher.targets.serverless import ServerlessOptions, outcome_json, run_serverless

ROLE = "arn:aws:iam::123456789012:role/populator-job"
REGION = "us-east-1"
FORMS = sorted(secret_forms(SECRET))


@pytest.fixture
def proxy(moto_endpoint, monkeypatch):
    runs_start_in(monkeypatch, "SUBMITTED")
    with Proxy(moto_endpoint) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL", running.url)
        yield running


@pytest.fixture
def es(moto_endpoint):
    return boto3.client("emr-serverless", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture
def application(es, unique_name) -> str:
    return es.create_application(
        name=unique_name("shared"), releaseLabel="emr-7.12.0", type="SPARK"
    )["applicationId"]


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


def only_run(application_id: str):
    runs = job_runs(application_id)
    assert len(runs) == 1, [r.id for r in runs]
    return runs[0]


def test_dry_run_prints_the_exact_requests_and_creates_nothing(setup, proxy) -> None:
    ran = Run(setup, serverless=True, dry_run=True)
    shown = json.loads(ran.out[0])
    assert set(shown) == {"CreateApplication", "StartJobRun"}
    assert shown == ran.outcome.details["request"]
    assert ran.outcome.state == "DRY_RUN" and ran.outcome.exit_code == 0
    assert proxy.requests == []  # not one AWS call
    assert "nothing was created" in ran.text


def test_submission_sends_the_planned_request(setup, proxy, es, application) -> None:
    dry = Run(setup, application_id=application, dry_run=True)
    ran = Run(setup, application_id=application)
    planned = dry.outcome.details["request"]["StartJobRun"]
    got = es.get_job_run(applicationId=application, jobRunId=ran.outcome.ids["job_run_id"])
    run = got["jobRun"]
    assert ran.outcome.state == "SUBMITTED" and ran.outcome.exit_code == 0
    assert ran.outcome.ids == {"application_id": application, "job_run_id": run["jobRunId"]}
    for key in ("name", "jobDriver", "configurationOverrides", "tags"):
        assert run[key] == planned[key], key
    sent = [r for r in proxy.requests if r.method == "POST" and r.path.endswith("/jobruns")]
    assert len(sent) == 1 and sent[0].path == f"/applications/{application}/jobruns"
    body = {k: v for k, v in planned.items() if k != "applicationId"}  # it is in the path
    assert json.loads(sent[0].body) == body  # exactly what the dry run showed, on the wire
    assert body["clientToken"] == run["tags"][TAG_DIGEST] and body["executionRoleArn"] == ROLE
    assert f"--application-id {application} --job-run-id {run['jobRunId']}" in ran.text


def test_the_identical_backfill_is_followed_another_refused_unless_forced(
    setup, proxy, application
) -> None:
    first = Run(setup, application_id=application)
    again = Run(setup, application_id=application)
    assert again.outcome.ids == first.outcome.ids and again.outcome.details["reused"]
    assert "already running" in again.text and len(job_runs(application)) == 1
    with pytest.raises(DuplicateBackfill) as refused:
        Run(setup, since="2020-01-01", application_id=application)
    assert first.outcome.ids["job_run_id"] in str(refused.value) and "--force" in str(refused.value)
    assert isinstance(refused.value, UserError)
    forced = Run(setup, since="2020-01-01", application_id=application, force=True)
    assert forced.outcome.ids["job_run_id"] != first.outcome.ids["job_run_id"]
    assert len(job_runs(application)) == 2


def test_a_lost_start_job_run_answer_never_starts_a_second_run(setup, proxy, application) -> None:
    proxy.drop_answer_once("POST", rf"/applications/{application}/jobruns$")
    ran = Run(setup, application_id=application)
    assert len(proxy.dropped) == 1  # the request landed, its answer never came back
    run = only_run(application)
    assert ran.outcome.ids["job_run_id"] == run.id


def test_a_deliberate_rerun_after_the_end_gets_a_new_token(setup, proxy, application) -> None:
    first = Run(setup, application_id=application)
    set_job_run(application, first.outcome.ids["job_run_id"], "FAILED")
    second = Run(setup, application_id=application)
    assert second.outcome.ids["job_run_id"] != first.outcome.ids["job_run_id"]
    tokens = [r.client_token for r in job_runs(application)]
    assert tokens[0] != tokens[1] and tokens[0] == job_runs(application)[0].tags[TAG_DIGEST]


def driver_log(s3, bucket: str, application: str, run_id: str, text: str) -> None:
    key = f"populator/logs/applications/{application}/jobs/{run_id}/SPARK_DRIVER/stderr.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(text.encode()))


def states(application: str, *moves: str, details: str = ""):
    """Clock events: the n-th sleep moves the (only) job run to moves[n-1]."""

    def move(state: str):
        return lambda: set_job_run(application, job_runs(application)[-1].id, state, details)

    return {n: move(state) for n, state in enumerate(moves, start=1)}


def test_wait_follows_states_to_success(setup, proxy, application) -> None:
    clock = Clock()
    clock.events = states(application, "SCHEDULED", "RUNNING", "RUNNING", "SUCCESS")
    ran = Run(setup, clock=clock, application_id=application, wait=True)
    assert ran.outcome.state == "SUCCESS" and ran.outcome.exit_code == 0
    seen = [line for line in ran.lines if "] job run " in line]
    assert [line.split()[-1] for line in seen] == ["SUBMITTED", "SCHEDULED", "RUNNING", "SUCCESS"]
    assert seen[-1].startswith("[00:00:0")  # the elapsed time of the fake clock
    assert ran.outcome.details["job_report"] is None  # the job never ran on moto: no report


def test_wait_shows_the_jobs_progress_and_keeps_the_last_object(
    setup, proxy, application, s3, capsys
) -> None:
    """The progress object beside the job run's report is read at each poll (issue 13)."""
    from populator.launcher.progress_view import progress_location
    from tests.support.progress_sample import writing_progress

    def publish() -> None:
        report = only_run(application).job_driver["sparkSubmit"]["entryPointArguments"]
        where = progress_location(report[report.index("--report") + 1]).removeprefix("s3://")
        bucket, key = where.split("/", 1)
        s3.put_object(Bucket=bucket, Key=key, Body=writing_progress().to_json().encode())

    clock = Clock()
    clock.events = states(application, "RUNNING", "RUNNING", "SUCCESS")
    move_to_running = clock.events[1]
    clock.events[1] = lambda: (move_to_running(), publish())
    ran = Run(setup, clock=clock, application_id=application, wait=True)
    assert ran.outcome.state == "SUCCESS"
    assert ran.outcome.details["progress"]["percent"] == 60.0
    assert "60" in capsys.readouterr().err  # the rendered progress line (percent)


def test_a_failed_job_run_shows_state_details_and_the_drivers_cause(
    setup, proxy, application, s3
) -> None:
    clock = Clock()
    clock.events = states(application, "RUNNING", "FAILED", details="Job failed, exit code 1")

    def log_then_fail() -> None:
        run_id = job_runs(application)[-1].id
        trace = (
            'Traceback (most recent call last):\n  File "job.py", line 3, in <module>\n'
            "ModuleNotFoundError: No module named 'boto3'\n"
        )
        driver_log(s3, setup["bucket"], application, run_id, trace)
        set_job_run(application, run_id, "FAILED", "Job failed, exit code 1")

    clock.events[2] = log_then_fail
    ran = Run(setup, clock=clock, application_id=application, wait=True, log_wait=0)
    assert ran.outcome.state == "FAILED" and ran.outcome.exit_code == 1
    assert "No module named 'boto3'" in ran.outcome.cause
    assert "EMR Serverless: Job failed, exit code 1" in ran.text
    assert "SPARK_DRIVER/stderr.gz" in ran.outcome.details["cause_source"]
    assert "--environment-archive" in ran.outcome.details["hint"]


def test_a_job_run_cancelled_by_someone_else_is_a_failure(setup, proxy, application) -> None:
    clock = Clock()
    clock.events = states(application, "RUNNING", "CANCELLED", details="cancelled by user")
    ran = Run(setup, clock=clock, application_id=application, wait=True, log_wait=0)
    assert (ran.outcome.state, ran.outcome.exit_code) == ("CANCELLED", 1)
    assert ran.outcome.cause == "cancelled by user"


def test_timeout_exits_3_and_leaves_the_job_run_going(setup, proxy, application) -> None:
    clock = Clock()
    clock.events = states(application, "RUNNING")
    ran = Run(setup, clock=clock, application_id=application, wait=True, timeout=5)
    assert ran.outcome.exit_code == 3 and ran.outcome.state == "RUNNING"
    assert only_run(application).state == "RUNNING"
    assert f"--job-run-id {ran.outcome.ids['job_run_id']} --wait" in ran.text
    assert sum(clock.sleeps) == pytest.approx(5)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_wait_cancels_the_job_run(setup, proxy, application, signum) -> None:
    before = signal.getsignal(signal.SIGINT)  # pyspark's, when the session Spark started first
    clock = Clock()
    clock.events = states(application, "RUNNING")
    clock.events[3] = lambda: os.kill(os.getpid(), signum)
    ran = Run(setup, clock=clock, application_id=application, wait=True)
    assert ran.outcome.exit_code == 130 and ran.outcome.state == "CANCELLED"
    assert only_run(application).state == "CANCELLED"
    what = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
    assert ran.outcome.actions[0].startswith(what)
    assert "(CancelJobRun)" in ran.outcome.actions[1]
    assert signal.getsignal(signal.SIGINT) is before  # restored


def test_serverless_creates_its_application_and_deletes_it_at_the_end(setup, proxy) -> None:
    clock = Clock()
    before = {a.id for a in applications()}

    def finish() -> None:
        new = [a for a in applications() if a.id not in before]
        set_job_run(new[0].id, job_runs(new[0].id)[-1].id, "SUCCESS")

    clock.events = {2: finish}
    ran = Run(setup, clock=clock, serverless=True, idle_timeout=1200, wait=True)
    created = [a for a in applications() if a.id not in before]
    assert len(created) == 1
    app = created[0]
    assert ran.outcome.ids["application_id"] == app.id and ran.outcome.exit_code == 0
    assert app.name == f"event-manifest-populator-{ran.outcome.details['request_digest'][:16]}"
    assert app.auto_stop_configuration == {"enabled": True, "idleTimeoutMinutes": 20}
    assert app.tags[TAG_DIGEST] == ran.outcome.details["request_digest"]
    assert app.state == "TERMINATED"
    assert any(f"deleted application {app.id}" in action for action in ran.outcome.actions)


def test_without_wait_the_created_application_is_left_with_its_delete_command(setup, proxy) -> None:
    ran = Run(setup, serverless=True)
    app = ran.outcome.ids["application_id"]
    assert (
        f"aws emr-serverless delete-application --region {REGION} --application-id {app}"
        in (ran.outcome.actions[0])
    )


def test_a_lost_create_application_answer_creates_one_application(setup, proxy) -> None:
    before = {a.id for a in applications()}
    proxy.drop_answer_once("POST", r"/applications$")
    ran = Run(setup, serverless=True)
    created = [a for a in applications() if a.id not in before]
    assert len(proxy.dropped) == 1 and len(created) == 1
    assert ran.outcome.ids["application_id"] == created[0].id


def test_ctrl_c_cancels_and_deletes_an_application_it_created(setup, proxy) -> None:
    clock = Clock()
    clock.events = {2: lambda: os.kill(os.getpid(), signal.SIGINT)}
    ran = Run(setup, clock=clock, serverless=True, wait=True)
    app = next(a for a in applications() if a.id == ran.outcome.ids["application_id"])
    assert ran.outcome.exit_code == 130 and app.state == "TERMINATED"
    assert job_runs(app.id)[0].state == "CANCELLED"
    assert any("deleted application" in action for action in ran.outcome.actions)


def test_json_outcome_has_the_neutral_fields_and_the_ids(setup, proxy, application) -> None:
    clock = Clock()
    clock.events = states(application, "SUCCESS")
    ran = Run(setup, clock=clock, application_id=application, wait=True, json=True)
    found = json.loads(json.dumps(outcome_json(ran.outcome)))
    assert found["application_id"] == application and found["job_run_id"]
    assert (found["state"], found["exit_code"], found["target"]) == ("SUCCESS", 0, "serverless")
    for key in ("elapsed_seconds", "cause", "request_digest", "log_uri", "report", "region"):
        assert key in found


def test_reattach_follows_a_submitted_job_run(setup, proxy, application) -> None:
    first = Run(setup, application_id=application)
    clock = Clock()
    clock.events = states(application, "SUCCESS")
    again = Run(
        setup,
        clock=clock,
        application_id=application,
        job_run_id=first.outcome.ids["job_run_id"],
        execution_role_arn=None,
    )
    assert again.outcome.state == "SUCCESS" and again.outcome.ids == first.outcome.ids
    assert again.outcome.details["report"] == first.outcome.details["report"]


def test_no_secret_in_any_request_tag_or_log(setup, proxy, application) -> None:
    clock = Clock()
    clock.events = states(application, "RUNNING", "FAILED")
    ran = Run(setup, clock=clock, application_id=application, wait=True, log_wait=0)
    dry = Run(setup, serverless=True, dry_run=True)
    assert ran.outcome.exit_code == 1
    texts = {"log": ran.text, "dry run": dry.text, "json": json.dumps(outcome_json(ran.outcome))}
    config_puts = 0
    for number, request in enumerate(proxy.requests):
        if request.method == "PUT" and "storage-config-" in request.path:
            config_puts += 1  # the one intended (encrypted) copy
            assert any(form in request.body.decode() for form in FORMS)  # positive control
            continue
        body = request.body.decode("utf-8", "replace")
        texts[f"{number} {request.method} {request.path}"] = (
            request.path + json.dumps(request.headers) + body
        )
    assert config_puts == 1
    hits = {name: [f for f in FORMS if f in text] for name, text in texts.items()}
    assert {name: found for name, found in hits.items() if found} == {}
    assert base64.b64encode(SECRET.encode()).decode() in FORMS
    dataclasses.replace(ran.options)  # the options hold no secret either
    assert not any(form in repr(ran.options) for form in FORMS)


DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
ACTIONS = (  # (method, path) of the EMR Serverless REST API -> the IAM action it needs
    ("POST", r"^/applications$", "CreateApplication"),
    ("GET", r"^/applications(\?.*)?$", "ListApplications"),
    ("GET", r"^/applications/[^/]+$", "GetApplication"),
    ("POST", r"^/applications/[^/]+/stop$", "StopApplication"),
    ("DELETE", r"^/applications/[^/]+$", "DeleteApplication"),
    ("POST", r"^/applications/[^/]+/jobruns$", "StartJobRun"),
    ("GET", r"^/applications/[^/]+/jobruns(\?.*)?$", "ListJobRuns"),
    ("GET", r"^/applications/[^/]+/jobruns/[^/?]+$", "GetJobRun"),
    ("DELETE", r"^/applications/[^/]+/jobruns/[^/?]+$", "CancelJobRun"),
)


def serverless_policy() -> dict:
    import re

    with open(os.path.join(DOC, "security.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## EMR Serverless") :]
    found = re.search(r"#### The launcher, on EMR Serverless\n.*?```json\n(.*?)```", section, re.S)
    return json.loads(found.group(1))


def test_the_documented_serverless_policy_allows_every_call(setup, proxy) -> None:
    import re

    clock = Clock()
    clock.events = {1: lambda: os.kill(os.getpid(), signal.SIGINT)}
    Run(setup, clock=clock, serverless=True, wait=True)
    allowed = set()
    for statement in serverless_policy()["Statement"]:
        listed = statement["Action"]
        allowed.update([listed] if isinstance(listed, str) else listed)
    sent = set()
    for request in proxy.requests:
        if "/emr-serverless/" not in request.headers.get("Authorization", ""):
            continue
        matched = [a for m, p, a in ACTIONS if m == request.method and re.match(p, request.path)]
        assert matched, (request.method, request.path)
        sent.add(f"emr-serverless:{matched[0]}")
    assert {"emr-serverless:CreateApplication", "emr-serverless:CancelJobRun"} <= sent
    assert {"emr-serverless:DeleteApplication", "emr-serverless:StartJobRun"} <= sent
    assert sent <= allowed, sent - allowed


def test_ctrl_c_while_start_job_run_is_in_flight_cancels_the_run_that_landed(setup, proxy) -> None:
    before = {a.id for a in applications()}
    proxy.drop_answer_once(
        "POST", r"/applications/[^/]+/jobruns$", then=lambda: os.kill(os.getpid(), signal.SIGINT)
    )
    ran = Run(setup, serverless=True, wait=True)
    app = next(a for a in applications() if a.id not in before)
    assert ran.outcome.exit_code == 130
    assert ran.outcome.ids["job_run_id"] == only_run(app.id).id
    assert only_run(app.id).state == "CANCELLED" and app.state == "TERMINATED"


def test_ctrl_c_before_anything_is_sent_says_nothing_runs(setup, proxy) -> None:
    proxy.drop_answer_once(
        "GET", r"^/applications\?", then=lambda: os.kill(os.getpid(), signal.SIGINT)
    )
    ran = Run(setup, serverless=True, wait=True)
    assert ran.outcome.exit_code == 130
    assert "nothing runs" in ran.outcome.actions[0]


def test_an_unusable_application_is_refused_before_anything_is_sent(setup, proxy, es) -> None:
    with pytest.raises(UserError, match="no such EMR Serverless application"):
        Run(setup, application_id="0000nosuchapp00")
    hive = es.create_application(name="hive-one", releaseLabel="emr-7.12.0", type="HIVE")
    with pytest.raises(UserError, match="a Hive application"):
        Run(setup, application_id=hive["applicationId"])
    gone = es.create_application(name="gone", releaseLabel="emr-7.12.0", type="SPARK")
    es.stop_application(applicationId=gone["applicationId"])
    es.delete_application(applicationId=gone["applicationId"])
    with pytest.raises(UserError, match="TERMINATED"):
        Run(setup, application_id=gone["applicationId"])
    assert not [r for r in proxy.requests if r.method in ("PUT", "POST") and "jobruns" in r.path]
