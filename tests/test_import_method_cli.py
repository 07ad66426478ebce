"""`--method auto|write|import` on `inv run_local` and `inv run_emr`, for real (a subprocess per
run) against the session's moto server: the choice is made from DescribeTable before anything
starts, printed, shown by --dry-run and --json, and reaches the job's argv."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from devkit.jobs import dump_table, resolver_config, storage_config, write_json
from devkit.sample_archive import realistic_archive, write_to_s3
from populator.core.manifest import EventsManifest
from tests.support.cli import args, inv
from tests.support.job_inputs import expected_items

NOW = datetime.now(timezone.utc)


def method_line(err: str) -> str:
    [line] = [x for x in err.splitlines() if x.startswith("populator: method ")]
    return line


@pytest.mark.spark
def test_run_local_auto_imports_a_missing_table_then_writes_into_the_existing_one(
    moto_endpoint, s3, dynamodb, bucket, tmp_path: Path, unique_name
) -> None:
    sample = realistic_archive(now=NOW, runs=2, events_per_run=20)
    archive = write_to_s3(sample, s3, bucket, "enriched/archive")
    table = unique_name("manifest")
    storage = write_json(tmp_path / "storage.json", storage_config(table))
    resolver = write_json(tmp_path / "resolver.json", resolver_config())
    report = tmp_path / "report.json"
    common = [archive, storage, resolver, "--master", "local[2]", "--report", str(report)]

    first = inv("run_local", [*common, "--method", "auto", "--json"], moto_endpoint, timeout=300)
    assert first.code == 0, first.err
    assert method_line(first.err).startswith("populator: method import: auto: the table does not")
    result = json.loads(first.out)
    assert result["method"] == {
        "requested": "auto",
        "method": "import",
        "reason": result["method"]["reason"],
        "table_exists": False,
    }
    assert "--method" in result["request"]["argv"]
    assert json.loads(report.read_text())["import"]["status"] == "COMPLETED"
    assert dump_table(dynamodb, table) == expected_items(sample)
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")
    assert "progress: done 100.0%" in first.err  # the job's progress line (the last one)

    second = inv("run_local", [*common, "--json"], moto_endpoint, timeout=300)
    assert second.code == 0, second.err
    assert method_line(second.err) == (
        "populator: method write: auto: the table exists, and ImportTable cannot add to a table"
    )
    result = json.loads(second.out)
    assert result["method"]["method"] == "write" and result["method"]["table_exists"] is True
    argv = result["request"]["argv"]
    assert argv[argv.index("--method") + 1] == "write"
    assert result["write_budget"]["source"].startswith("on-demand table")
    assert "import" not in json.loads(report.read_text())
    assert dump_table(dynamodb, table) == expected_items(sample)


def test_run_local_import_onto_an_existing_table_exits_2_and_starts_nothing(
    moto_endpoint, dynamodb, tmp_path: Path, unique_name
) -> None:
    table = unique_name("manifest")
    EventsManifest(dynamodb, table).create()
    storage = write_json(tmp_path / "storage.json", storage_config(table))
    resolver = write_json(tmp_path / "resolver.json", resolver_config())
    (tmp_path / "archive").mkdir()
    local = [str(tmp_path / "archive"), storage, resolver]
    ran = inv("run_local", [*local, "--method", "import"], moto_endpoint)
    assert ran.code == 2
    assert ran.error_lines == [
        "error: --method import: ImportTable reads its files from S3 and the archive is local: "
        "give --import-prefix s3://bucket/prefix/ (or use --method write)"
    ]
    ran = inv(
        "run_local",
        [*local, "--method", "import", "--import-prefix", "s3://b/import/", "--json"],
        moto_endpoint,
    )
    assert ran.code == 2 and "running the job" not in ran.err
    assert ran.error_lines == [
        "error: --method import: the events-manifest table exists, and DynamoDB's ImportTable "
        "only creates new tables; use --method write (or auto)"
    ]
    assert json.loads(ran.out)["exit_code"] == 2
    bad = inv("run_local", [*local, "--method", "sideways"], moto_endpoint)
    assert bad.code == 2 and bad.error_lines == [
        "error: --method 'sideways': expected auto, write or import"
    ]


def test_run_local_auto_with_a_local_archive_writes(moto_endpoint, tmp_path: Path, unique_name):
    """ImportTable reads from S3 only: a local archive without --import-prefix is written."""
    storage = write_json(tmp_path / "storage.json", storage_config(unique_name("manifest")))
    resolver = write_json(tmp_path / "resolver.json", resolver_config())
    (tmp_path / "archive").mkdir()
    ran = inv(
        "run_local", [str(tmp_path / "archive"), storage, resolver, "--dry-run"], moto_endpoint
    )
    assert ran.code == 0, ran.err
    assert method_line(ran.err).startswith(
        "populator: method write: auto: the table does not exist, but the archive is local"
    )
    argv = json.loads(ran.out)["argv"]
    assert argv[argv.index("--method") + 1] == "write"
    assert argv[argv.index("--progress-interval") + 1] == "10"
    assert "spark.speculation=false" in argv and "spark.ui.showConsoleProgress=false" in argv


def test_run_emr_dry_run_shows_the_choice_and_the_job_argv(
    moto_endpoint, emr, dynamodb, setup
) -> None:
    ran = inv("run_emr", args(setup, "--dry-run", "--json", "--method", "auto"), moto_endpoint)
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)
    assert result["method"]["method"] == "import" and result["method"]["table_exists"] is False
    assert method_line(ran.err).startswith("populator: method import: auto: the table does not")
    step_args = result["request"]["Steps"][0]["HadoopJarStep"]["Args"]
    assets = f"s3://{setup['bucket']}/populator/assets/"
    at = step_args.index("--method")
    assert step_args[at : at + 4] == ["--method", "import", "--import-prefix", f"{assets}import/"]
    assert "spark.speculation=false" in step_args
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.describe_table(TableName=setup["table"])  # a dry run creates nothing

    EventsManifest(dynamodb, setup["table"]).create()
    again = inv("run_emr", args(setup, "--dry-run", "--json"), moto_endpoint)
    assert again.code == 0, again.err
    shown = json.loads(again.out)
    assert shown["method"]["method"] == "write"
    step_args = shown["request"]["Steps"][0]["HadoopJarStep"]["Args"]
    assert step_args[step_args.index("--method") + 1] == "write"
    assert "--import-prefix" not in step_args


def test_run_emr_import_onto_an_existing_table_exits_2_before_any_cluster(
    moto_endpoint, emr, dynamodb, setup
) -> None:
    EventsManifest(dynamodb, setup["table"]).create()
    before = len(emr.list_clusters()["Clusters"])
    ran = inv("run_emr", args(setup, "--method", "import"), moto_endpoint)
    assert ran.code == 2
    assert ran.error_lines == [
        "error: --method import: the events-manifest table exists, and DynamoDB's ImportTable "
        "only creates new tables; use --method write (or auto)"
    ]
    assert len(emr.list_clusters()["Clusters"]) == before


def test_run_emr_auto_import_leaves_the_table_to_the_job(moto_endpoint, emr, dynamodb, setup):
    """The launcher never creates a table the job will import (ImportTable must create it)."""
    ran = inv("run_emr", args(setup, "--json"), moto_endpoint)
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)
    assert result["method"]["method"] == "import" and result["cluster_id"]
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.describe_table(TableName=setup["table"])
    step = emr.list_steps(ClusterId=result["cluster_id"])["Steps"][0]
    assert step["Config"]["Args"][step["Config"]["Args"].index("--method") + 1] == "import"


def test_list_runs_compares_both_methods_and_says_what_auto_picks(
    moto_endpoint, s3, dynamodb, bucket, unique_name
) -> None:
    archive = write_to_s3(realistic_archive(now=NOW, runs=2, events_per_run=20), s3, bucket, "a")
    table = unique_name("manifest")
    missing = inv("list_runs", [archive, "--table", table, "--json"], moto_endpoint)
    assert missing.code == 0, missing.err
    methods = json.loads(missing.out)["methods"]
    assert (methods["table_exists"], methods["auto"]) == (False, "import")
    assert methods["write"]["requests"] == methods["write"]["items"] > 0
    assert methods["import"]["requests"] == 0 and methods["import"]["import_bytes"] > 0
    assert methods["import"]["dollars"] < methods["write"]["dollars"]

    EventsManifest(dynamodb, table).create()
    present = inv("list_runs", [archive, "--table", table], moto_endpoint)
    assert present.code == 0, present.err
    assert "auto would pick write: auto: the table exists" in present.out
    assert "  import: " in present.out and "bytes to import" in present.out

    unknown = inv("list_runs", [archive, "--json"], moto_endpoint)
    methods = json.loads(unknown.out)["methods"]
    assert (methods["table_exists"], methods["auto"]) == (None, None)
    assert "unknown: import if the table does not exist" in methods["auto_reason"]


def test_an_on_demand_table_warns_when_the_cluster_could_take_over_half_of_it(
    moto_endpoint, emr, dynamodb, setup
) -> None:
    """9 core nodes x 4 vCPUs x min(32 in flight / 10 ms, 3,646/core) = 115,200 writes/s."""
    EventsManifest(dynamodb, setup["table"]).create()  # on demand: default maximum 40,000
    ran = inv("run_emr", args(setup, "--instance-count", "10"), moto_endpoint)
    assert ran.code == 0, ran.err
    assert (
        "notice: the backfill may write about 115,200 writes/s, over half of the on-demand "
        "table's maximum of 40,000: the live pipeline may be throttled; cap the backfill with "
        "--max-write-rate"
    ) in ran.err
    quiet = inv("run_emr", args(setup, "--force", "--in-flight", "8"), moto_endpoint)
    assert quiet.code == 0, quiet.err
    assert "over half of the on-demand" not in quiet.err  # 2 x 4 x 8 / 10 ms = 6,400 writes/s


def test_an_unfinished_import_of_this_backfill_is_followed_not_refused(
    moto_endpoint, s3, dynamodb, setup
) -> None:
    """A job killed after ImportTable left the table CREATING/ACTIVE and its marker unfinished:
    the re-run (auto or import) goes to the job, which follows that import."""
    from populator.core.import_table import backfill_digest

    EventsManifest(dynamodb, setup["table"]).create()
    digest = backfill_digest(setup["table"], "us-east-1", setup["archive"], None, False)
    key = f"populator/assets/import/{digest}/import.json"
    s3.put_object(Bucket=setup["bucket"], Key=key, Body=b'{"status": "IN_PROGRESS"}')
    for method in ("auto", "import"):
        ran = inv("run_emr", args(setup, "--dry-run", "--json", "--method", method), moto_endpoint)
        assert ran.code == 0, ran.err
        assert json.loads(ran.out)["method"]["method"] == "import"
        assert f"(marker s3://{setup['bucket']}/{key})" in method_line(ran.err)
    s3.put_object(Bucket=setup["bucket"], Key=key, Body=b'{"status": "COMPLETED"}')
    done = inv("run_emr", args(setup, "--dry-run", "--json"), moto_endpoint)
    assert json.loads(done.out)["method"]["method"] == "write"
