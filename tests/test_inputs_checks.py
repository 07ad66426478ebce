"""launcher/inputs' destination, table-name and archive checks (issue 10 items 1, 3, 4, 5, 17,
20, 23): pure or one AWS call each, so every target can run them before any work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from populator.core.errors import UserError
from populator.launcher.inputs import (
    check_archive_has_runs,
    check_buckets,
    check_destinations,
    check_table_name,
    validate_archive,
)


@pytest.mark.parametrize(
    ("report", "bad_rows", "message"),
    [
        ("http://host/r.json", None, "--report 'http://host/r.json': unsupported scheme"),
        (None, "ftp://host/bad/", "--bad-rows 'ftp://host/bad/': unsupported scheme"),
        ("S3://arch-bucket/archive/r.json", None, "inside the enriched archive"),
        (None, "s3a://arch-bucket/archive/", "inside the enriched archive"),
        (None, "S3N://arch-bucket/archive/bad/", "inside the enriched archive"),
        ("s3://arch-bucket/reports/", None, "is a folder"),
        ("", None, "--report is empty"),
    ],
)
def test_s3_destinations_refused(report, bad_rows, message) -> None:
    with pytest.raises(UserError, match=message):
        check_destinations("s3://arch-bucket/archive/", report=report, bad_rows=bad_rows)


def test_any_scheme_case_goes_to_s3() -> None:
    found = check_destinations(
        "s3://arch-bucket/archive/", report="S3://out-bucket/r.json", bad_rows="S3a://out-bucket/b"
    )
    assert found["--report"].uri == "s3://out-bucket/r.json"
    assert found["--bad-rows"].uri == "s3://out-bucket/b/"


def test_local_destinations_refused(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    storage = tmp_path / "storage.json"
    resolver = tmp_path / "resolver.json"
    for path in (storage, resolver):
        path.write_text("{}")
    inputs = [str(storage), str(resolver)]

    def refused(message: str, **where: str) -> None:
        with pytest.raises(UserError, match=message):
            check_destinations(str(archive), inputs=inputs, **where)

    refused("inside the enriched archive", bad_rows=str(archive / "bad"))
    refused("inside the enriched archive", report=f"file://{archive}/r.json")
    refused("input of this run", report=str(storage))
    refused("input of this run", report=f"file://{resolver}")
    refused("is a directory", report=str(tmp_path))
    refused("which is a file", report=str(storage / "r.json"))
    (tmp_path / "notes.txt").write_text("mine")
    refused("is a file: give a folder", bad_rows=str(tmp_path / "notes.txt"))
    found = check_destinations(
        str(archive), report=str(tmp_path / "new" / "r.json"), bad_rows=str(tmp_path / "bad")
    )
    assert found["--bad-rows"].uri == f"{tmp_path}/bad/"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_local_folder_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(UserError, match="not writable"):
        check_destinations(str(tmp_path / "a"), report=str(locked / "r.json"))


def test_missing_bucket_refused(s3, bucket, unique_name) -> None:
    check_buckets(check_destinations("/tmp/a/", report=f"s3://{bucket}/r.json"), s3)
    missing = unique_name("nobucket")
    where = check_destinations("/tmp/a/", bad_rows=f"s3://{missing}/bad/")
    with pytest.raises(UserError, match=f"bucket '{missing}' does not exist"):
        check_buckets(where, s3)


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "is empty"), ("  ", "is empty"), ("a b", "not a DynamoDB"), ("ab", "not")],
)
def test_table_names_one_rule(value: str, message: str) -> None:
    with pytest.raises(UserError, match=f"--run-manifest-table .*{message}"):
        check_table_name(value, "--run-manifest-table")
    assert check_table_name(None, "--run-manifest-table") is None
    assert check_table_name("runs.v1-x", "--run-manifest-table") == "runs.v1-x"


def test_percent_encoded_file_archives_are_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "with space"
    folder.mkdir()
    assert validate_archive(f"file://{tmp_path}/with%20space") == f"{folder}/"
    with pytest.raises(UserError, match="unsupported scheme"):
        validate_archive("gs://bucket/archive/")


def test_archive_without_runs_is_exit_2(tmp_path: Path) -> None:
    run = tmp_path / "run=2017-01-26-00-01-25"
    run.mkdir()
    check_archive_has_runs(str(tmp_path))
    with pytest.raises(
        UserError, match=f"give the folder that holds the runs, {tmp_path}/"
    ) as info:
        check_archive_has_runs(str(run))
    assert info.value.exit_code == 2


def test_an_updating_table_is_accepted(moto_endpoint) -> None:
    """DynamoDB takes writes while a table is UPDATING (e.g. changing capacity or a GSI)."""
    import boto3
    from botocore.stub import Stubber

    from populator.core.manifest import EventsManifest, build_create_table_request

    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    request = build_create_table_request("t-updating")
    description = {
        "TableName": "t-updating",
        "TableStatus": "UPDATING",
        "KeySchema": request["KeySchema"],
        "AttributeDefinitions": request["AttributeDefinitions"],
    }
    with Stubber(client) as stub:
        stub.add_response("describe_table", {"Table": description}, {"TableName": "t-updating"})
        assert EventsManifest(client, "t-updating").check()["TableStatus"] == "UPDATING"


def test_validate_inputs_names_the_files_outputs_must_not_overwrite(setup) -> None:
    from populator.launcher.inputs import validate_inputs

    inputs = validate_inputs(setup["archive"], setup["storage"], setup["resolver"], None)
    assert inputs.input_files == (setup["storage"], setup["resolver"])
    with pytest.raises(UserError, match="is an input of this run"):
        check_destinations(inputs.archive, report=setup["storage"], inputs=inputs.input_files)
