"""`--method auto|write|import` on `inv run_emr` on EMR Serverless, for real (a subprocess per
run) against the session's moto server: resolved exactly as on a cluster
(launcher/method_choice.py) before anything starts, said on stderr, shown by --dry-run's
request and --json's `method`, and given to the table check (an import's table is left to
ImportTable; the expected write rate warns of an on-demand table)."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import boto3
import pytest

from populator.core.manifest import EventsManifest
from populator.launcher.method import choose_method
from tests.support.cli import args, inv, inv_many

ROLE = "arn:aws:iam::123456789012:role/populator-job"
CREATED = ("--serverless", "--execution-role-arn", ROLE)
IMPORT_REFUSED = (
    "error: --method import: the events-manifest table exists, and DynamoDB's ImportTable "
    "only creates new tables; use --method write (or auto)"
)


def job_argv(request: Dict[str, Any]) -> List[str]:
    return request["StartJobRun"]["jobDriver"]["sparkSubmit"]["entryPointArguments"]


def said(err: str) -> str:
    """The one line that says which method was chosen, and why."""
    [line] = [x for x in err.splitlines() if x.startswith("populator: method ")]
    return line


def test_auto_imports_a_missing_table_in_the_dry_run_and_its_json(
    moto_endpoint, dynamodb, setup
) -> None:
    runs = inv_many(
        "run_emr",
        {
            "plain": args(setup, *CREATED, "--dry-run"),
            "json": args(setup, *CREATED, "--dry-run", "--json", "--method", "auto"),
        },
        moto_endpoint,
    )
    for ran in runs.values():
        assert ran.code == 0, ran.err
    _, reason = choose_method("auto", table_exists=False)
    line = f"populator: method import: {reason}"
    assert said(runs["plain"].err) == said(runs["json"].err) == line
    result = json.loads(runs["json"].out)
    assert result["method"] == {
        "requested": "auto",
        "method": "import",
        "reason": reason,
        "table_exists": False,
    }
    shown = json.loads(runs["plain"].out)  # the dry run's request, as it would be sent
    assert result["request"] == shown
    argv = job_argv(shown)
    at = argv.index("--method")
    staged = f"s3://{setup['bucket']}/populator/assets/import/"
    assert argv[at : at + 4] == ["--method", "import", "--import-prefix", staged]
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.describe_table(TableName=setup["table"])  # a dry run creates nothing


def test_auto_writes_into_an_existing_table(moto_endpoint, dynamodb, setup) -> None:
    EventsManifest(dynamodb, setup["table"]).create()
    ran = inv("run_emr", args(setup, *CREATED, "--dry-run", "--json"), moto_endpoint)
    assert ran.code == 0, ran.err
    _, reason = choose_method("auto", table_exists=True)
    assert said(ran.err) == f"populator: method write: {reason}"
    result = json.loads(ran.out)
    assert (result["method"]["method"], result["method"]["table_exists"]) == ("write", True)
    argv = job_argv(result["request"])
    assert argv[argv.index("--method") + 1] == "write" and "--import-prefix" not in argv


def test_import_onto_an_existing_table_exits_2_before_anything_starts(
    moto_endpoint, s3, dynamodb, setup
) -> None:
    EventsManifest(dynamodb, setup["table"]).create()
    es = boto3.client("emr-serverless", endpoint_url=moto_endpoint, region_name="us-east-1")
    before = es.list_applications()["applications"]
    ran = inv("run_emr", args(setup, *CREATED, "--method", "import", "--json"), moto_endpoint)
    assert ran.code == 2, ran.err
    assert ran.error_lines == [IMPORT_REFUSED]
    result = json.loads(ran.out)
    assert f"error: {result['error']}" == IMPORT_REFUSED and result["exit_code"] == 2
    assert es.list_applications()["applications"] == before  # no application, no job run
    uploaded = s3.list_objects_v2(Bucket=setup["bucket"], Prefix="populator/")
    assert uploaded["KeyCount"] == 0


def test_a_submission_leaves_an_import_table_to_the_job_and_warns_of_an_on_demand_one(
    moto_endpoint, dynamodb, setup, unique_name
) -> None:
    """12 write tasks (3 executors x 4 vCPUs) x min(32 in flight / 10 ms, 3,646/core)."""
    es = boto3.client("emr-serverless", endpoint_url=moto_endpoint, region_name="us-east-1")
    app = es.create_application(
        name=unique_name("method"), releaseLabel="emr-7.12.0", type="SPARK"
    )["applicationId"]
    on_app = ("--application-id", app, "--execution-role-arn", ROLE, "--json")
    imported = inv("run_emr", args(setup, *on_app), moto_endpoint)
    assert imported.code == 0, imported.err
    result = json.loads(imported.out)
    assert (result["state"], result["method"]["method"]) == ("SUBMITTED", "import")
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.describe_table(TableName=setup["table"])  # ImportTable must create it
    run = es.get_job_run(applicationId=app, jobRunId=result["job_run_id"])["jobRun"]
    argv = run["jobDriver"]["sparkSubmit"]["entryPointArguments"]
    assert argv[argv.index("--method") + 1] == "import"

    EventsManifest(dynamodb, setup["table"]).create()  # on demand: default maximum 40,000
    written = inv("run_emr", args(setup, *on_app, "--force"), moto_endpoint)
    assert written.code == 0, written.err
    assert json.loads(written.out)["method"]["method"] == "write"
    assert (
        "the backfill may write about 38,400 writes/s, over half of the on-demand table's "
        "maximum of 40,000"
    ) in written.err
    quiet = inv("run_emr", args(setup, *on_app, "--force", "--in-flight", "8"), moto_endpoint)
    assert quiet.code == 0, quiet.err
    assert "over half of the on-demand" not in quiet.err  # 12 x 8 / 10 ms = 9,600 writes/s
