"""`--serverless`: the application a backfill creates for itself against moto's server: named
and tagged for it, deleted at the end (or left with its delete command without --wait), one
even when CreateApplication's answer is lost, and Ctrl-C at each step of its life."""

from __future__ import annotations

import os
import signal

from devkit.emr import Clock
from devkit.serverless import applications, job_runs, set_job_run
from populator.launcher.targets.common.request import TAG_DIGEST
from tests.support.serverless_runs import REGION, Run, only_run


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
