"""EMR Serverless submission against moto's server, every call through a recording proxy:
the exact request, the duplicate guard, a lost StartJobRun answer, a deliberate re-run, no
secret anywhere, the documented policy, and applications that cannot be used."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import signal

import pytest

from devkit.emr import Clock
from devkit.jobs import SECRET
from devkit.serverless import job_runs, set_job_run
from populator.core.errors import UserError
from populator.launcher.redact import secret_forms
from populator.launcher.targets.common.guard import DuplicateBackfill
from populator.launcher.targets.common.request import TAG_DIGEST
from populator.launcher.targets.serverless import outcome_json
from tests.support.serverless_runs import ROLE, Run, only_run, states

FORMS = sorted(secret_forms(SECRET))


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

    with open(os.path.join(DOC, "security.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## EMR Serverless") :]
    found = re.search(r"#### The launcher, on EMR Serverless\n.*?```json\n(.*?)```", section, re.S)
    return json.loads(found.group(1))


def test_the_documented_serverless_policy_allows_every_call(setup, proxy) -> None:

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
