"""`inv run_emr`: the job's own options reach the step, and `--wait` brings the job's report
back (its summary on success, its errors on failure, the dict in the `--json` result)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

import pytest

from devkit.emr import set_states
from populator.core.report import new_report, summary
from populator.launcher.targets.common.report import failure_lines, fetch_report, report_uri
from populator.launcher.targets.common.request import TAG_DIGEST
from tests.support.cli import DEAD_ENDPOINT, args, inv_in_process, waiting_on_emr


def step_args(emr, cluster_id: str, step_id: str) -> List[str]:
    return emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Config"]["Args"]


def put_json(s3, uri: str, document: Dict[str, Any]) -> None:
    bucket, _, key = uri[len("s3://") :].partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode())


def job_report(setup: Dict[str, Any], status: str) -> Dict[str, Any]:
    report = new_report()
    report.update(status=status, archive=setup["archive"], table=setup["table"])
    report["runs"]["processed"] = report["runs"]["recorded"] = ["2017-01-26-00-01-25"]
    report.update(files_read=2, lines_read=40, valid_events=39, distinct_items=37)
    report["malformed"] = {"field_count": 1}
    report["writes"].update(requests=37, new=36, already_present=1)
    return report


def test_job_options_reach_the_step_and_the_report_comes_back_on_success(
    moto_endpoint, emr, s3, setup
) -> None:
    bad_rows = f"s3://{setup['bucket']}/populator/bad-rows"  # normalised to a folder
    running, cluster_id, step_id = waiting_on_emr(
        setup,
        moto_endpoint,
        *("--bad-rows", bad_rows, "--include-expired", "--in-flight", "8"),
        *("--accept-read-errors", "--since", "2017-01-01", "--run-manifest-table", "runs"),
        "--json",
    )
    sent = step_args(emr, cluster_id, step_id)
    digest = {
        t["Key"]: t["Value"] for t in emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Tags"]
    }[TAG_DIGEST]
    report_at = f"s3://{setup['bucket']}/populator/assets/reports/backfill-{digest}.json"
    assert sent[10:] == [
        "--enriched-archive",
        setup["archive"],
        "--storage-config",
        sent[13],
        "--since",
        "2017-01-01-00-00-00",
        "--run-manifest-table",
        "runs",
        "--report",
        report_at,
        "--bad-rows",
        bad_rows + "/",
        "--in-flight",
        "8",
        "--include-expired",
        "--accept-read-errors",
        "--method",  # auto, and the table does not exist: ImportTable creates it
        "import",
        "--import-prefix",
        f"s3://{setup['bucket']}/populator/assets/import/",
    ]
    report = job_report(setup, "succeeded")
    report["write_budget"] = {"writes_per_second": 500.0, "source": "--max-write-rate"}
    put_json(s3, report_at, report)
    set_states(cluster_id, step_state="COMPLETED", cluster_state="TERMINATED")
    done = running.finish()

    assert done.code == 0, done.err
    result = json.loads(done.out)
    assert (result["state"], result["report"], result["job_report"]) == (
        "COMPLETED",
        report_at,
        report,
    )
    assert result["write_budget"] == report["write_budget"]
    assert summary(report) in done.err  # --json keeps stdout for the one JSON object
    assert "Events manifest backfill: SUCCEEDED" in done.err


def test_failure_shows_the_reports_errors_with_the_cause(moto_endpoint, emr, s3, setup) -> None:
    running, cluster_id, step_id = waiting_on_emr(setup, moto_endpoint, "--json", "--log-wait", "0")
    report_at = report_uri(step_args(emr, cluster_id, step_id))
    assert report_at is not None
    report = job_report(setup, "failed")
    report["errors"] = [
        "writing batch 1 (2017-01-26-00-01-25 .. 2017-01-26-00-01-25) failed: "
        "ProvisionedThroughputExceededException after 16 attempts"
    ]
    unreadable = f"{setup['archive']}run=2017-01-26-00-01-25/part-00001.gz"
    report["read_errors"] = [{"run": "2017-01-26-00-01-25", "path": unreadable, "error": "EOF"}]
    report["runs"]["not_recorded"], report["runs"]["recorded"] = ["2017-01-26-00-01-25"], []
    put_json(s3, report_at, report)
    set_states(cluster_id, step_state="FAILED", cluster_state="TERMINATED_WITH_ERRORS")
    done = running.finish()

    assert done.code == 1, done.err
    assert f"the job's report ({report_at}) says:" in done.err
    for line in failure_lines(report):
        assert f"  {line}" in done.err
    assert f"  job error: {report['errors'][0]}" in done.err
    assert f"  unreadable: {unreadable}: EOF" in done.err
    assert f"nothing is left running: cluster {cluster_id} is TERMINATED_WITH_ERRORS" in done.err
    result = json.loads(done.out)
    assert (result["state"], result["exit_code"], result["job_report"]) == ("FAILED", 1, report)


def test_a_report_older_than_the_step_or_missing_is_not_shown_as_this_runs(s3, bucket) -> None:
    uri = f"s3://{bucket}/populator/assets/reports/backfill-x.json"
    assert fetch_report(s3, uri).status == "missing"
    s3.put_object(Bucket=bucket, Key="populator/assets/reports/backfill-x.json", Body=b"{}")
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    stale = fetch_report(s3, uri, not_before=later)
    assert (stale.status, stale.report) == ("stale", None)
    assert "an earlier attempt's" in stale.detail
    assert fetch_report(s3, uri, not_before=later - timedelta(minutes=10)).report == {}
    s3.put_object(Bucket=bucket, Key="populator/assets/reports/backfill-x.json", Body=b"[1]")
    assert fetch_report(s3, uri).status == "invalid"


def test_report_uri_is_read_from_the_step_args() -> None:
    assert report_uri(["--report", "s3://b/r1.json", "--x", "--report", "s3://b/r2.json"]) == (
        "s3://b/r2.json"
    )
    assert report_uri(["--report=s3://b/r.json"]) == "s3://b/r.json"
    assert report_uri(["--report", "/local/r.json"]) is None and report_uri(["--report"]) is None


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--bad-rows", "/tmp/bad-rows"],
            "error: --bad-rows '/tmp/bad-rows': expected an S3 prefix such as "
            "s3://bucket/populator/bad-rows/ (the job runs on EMR: a local path would stay on a "
            "cluster node)",
        ),
        (["--bad-rows", "s3://no/bad"], "error: --bad-rows: S3 URI 's3://no/bad' bucket name"),
        (
            ["--in-flight", "0"],
            "error: --in-flight '0': expected a whole number between 1 and 1024",
        ),
        (["--in-flight", "many"], "error: --in-flight 'many': expected a whole number between 1"),
        (["--in-flight", "5000"], "error: --in-flight '5000': expected a whole number between 1"),
    ],
)
def test_bad_job_options_exit_2_before_any_aws_call(monkeypatch, setup, extra, message) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", DEAD_ENDPOINT)
    ran = inv_in_process("run_emr", args(setup, *extra))
    assert ran.code == 2, ran.err
    assert len(ran.error_lines) == 1 and ran.error_lines[0].startswith(message)
    assert "Traceback" not in ran.err
