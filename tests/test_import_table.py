"""The pure parts of `--method import`: item lines, object plan, exact ImportTable request,
digest and token, outcome checks, the job's flags, and the launcher's auto decision and costs."""

from __future__ import annotations

import gzip
import json

import pytest

from populator.core.import_table import (
    MAX_OBJECTS,
    backfill_digest,
    build_import_request,
    client_token,
    import_problem,
    item_line,
    parse_capacity,
    plan_objects,
    staging,
)
from populator.core.job_args import parse_options
from populator.core.manifest import build_put_request
from populator.launcher.method import (
    BYTES_PER_ITEM,
    choose_method,
    compare_methods,
    default_import_prefix,
    import_cost,
    job_flags,
    render_comparison,
    write_cost,
)

EVENT = "c6ef3124-b53a-4b13-a233-0088f79dcbcb"
FP = "AADCE520E20C2899F4CED228A79A3083"


def test_item_line_is_exactly_the_item_the_write_path_stores() -> None:
    line = item_line(EVENT, FP, 1485388885)
    assert line == (
        '{"Item":{"eventId":{"S":"c6ef3124-b53a-4b13-a233-0088f79dcbcb"},'
        '"fingerprint":{"S":"AADCE520E20C2899F4CED228A79A3083"},'
        '"etlTime":{"N":"1485388885"},"ttl":{"N":"1500940885"}}}\n'
    )
    assert json.loads(line)["Item"] == build_put_request("t", EVENT, FP, 1485388885)["Item"]
    assert len(line.encode()) == BYTES_PER_ITEM == 175  # the estimate's figure, measured
    assert gzip.decompress(gzip.compress(line.encode())).decode() == line


def test_object_plan_follows_the_guidance_and_the_limit() -> None:
    assert plan_objects(0) == 1
    assert plan_objects(10, parallelism=4) == 4  # small data: one object per partition
    assert plan_objects(3, parallelism=8) == 3  # never more objects than items
    assert plan_objects(4_000_000) == 1
    assert plan_objects(4_000_001) == 2
    assert plan_objects(10**9, parallelism=200) == 250
    assert plan_objects(10**12) == MAX_OBJECTS


def test_import_request_exactly_on_demand_and_provisioned() -> None:
    stage = staging("s3://bucket/some/prefix/", "d" * 64)
    token = client_token("d" * 64)
    assert build_import_request("manifest", stage, token) == {
        "ClientToken": "populator-" + "d" * 40 + "-1",
        "S3BucketSource": {"S3Bucket": "bucket", "S3KeyPrefix": f"some/prefix/{'d' * 64}/data/"},
        "InputFormat": "DYNAMODB_JSON",
        "InputCompressionType": "GZIP",
        "TableCreationParameters": {
            "TableName": "manifest",
            "AttributeDefinitions": [
                {"AttributeName": "eventId", "AttributeType": "S"},
                {"AttributeName": "fingerprint", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "eventId", "KeyType": "HASH"},
                {"AttributeName": "fingerprint", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    }
    provisioned = build_import_request("m", stage, token, parse_capacity("100,200"))
    assert provisioned["TableCreationParameters"]["BillingMode"] == "PROVISIONED"
    assert provisioned["TableCreationParameters"]["ProvisionedThroughput"] == {
        "ReadCapacityUnits": 100,
        "WriteCapacityUnits": 200,
    }
    # The marker sits beside the data, never under the prefix ImportTable reads.
    assert stage.marker_key == f"some/prefix/{'d' * 64}/import.json"
    assert not stage.marker_key.startswith(stage.data_prefix)
    assert staging("s3a://bkt", "x").root == "x/"


def test_digest_names_the_backfill_not_the_run_list_and_token_changes_per_attempt() -> None:
    one = backfill_digest("t", "eu-west-1", "s3://a/archive/", None, False)
    assert one == backfill_digest("t", "eu-west-1", "s3://a/archive", None, False)
    assert one != backfill_digest("t2", "eu-west-1", "s3://a/archive/", None, False)
    assert one != backfill_digest("t", "eu-west-1", "s3://a/archive/", "2020-01-01-00-00-00", False)
    assert client_token(one) == client_token(one, 1) != client_token(one, 2)
    assert "$" not in client_token(one)  # ClientToken's pattern is ^[^$]+$


@pytest.mark.parametrize(
    "description, expected, problem",
    [
        ({"ImportStatus": "COMPLETED", "ImportedItemCount": 5, "ErrorCount": 0}, 5, None),
        (
            {"ImportStatus": "COMPLETED", "ImportedItemCount": 4, "ErrorCount": 0},
            5,
            "DynamoDB import COMPLETED with ImportedItemCount 4, but the job staged 5 item(s)",
        ),
        (
            {"ImportStatus": "COMPLETED", "ImportedItemCount": 5, "ErrorCount": 2},
            5,
            "DynamoDB import COMPLETED with ErrorCount 2 (expected 0)",
        ),
        (
            {"ImportStatus": "FAILED", "FailureCode": "S3NoSuchBucket", "FailureMessage": "gone"},
            5,
            "DynamoDB import FAILED: S3NoSuchBucket: gone",
        ),
        (
            {"ImportStatus": "CANCELLED"},
            5,
            "DynamoDB import CANCELLED: no failure code: no failure message",
        ),
    ],
)
def test_import_problem(description, expected, problem) -> None:
    assert import_problem(description, expected) == problem


def test_job_flags() -> None:
    base = ["--enriched-archive", "s3://a/x/", "--storage-config", "c.json"]
    options = parse_options(base)
    assert (options.method, options.import_prefix, options.keep_import_files) == (
        "write",
        None,
        False,
    )
    options = parse_options(
        [
            *base,
            "--method",
            "import",
            "--import-prefix",
            "s3://b/i/",
            "--keep-import-files",
            "--import-capacity",
            "5,10",
        ]
    )
    assert (options.method, options.import_prefix, options.keep_import_files) == (
        "import",
        "s3://b/i/",
        True,
    )
    assert options.import_capacity == "5,10"
    for bad in (["--method", "auto"], ["--import-capacity", "5"], ["--import-capacity", "0,1"]):
        with pytest.raises(SystemExit) as exit_info:
            parse_options([*base, *bad])
        assert exit_info.value.code == 2


def test_auto_picks_import_for_a_missing_table_and_write_for_an_existing_one() -> None:
    assert choose_method("auto", table_exists=False)[0] == "import"
    assert choose_method("auto", table_exists=True)[0] == "write"
    assert "does not exist" in choose_method("auto", False)[1]
    assert choose_method("write", False)[0] == "write"
    assert choose_method("import", False)[0] == "import"
    with pytest.raises(ValueError, match="only creates new tables"):
        choose_method("import", table_exists=True)
    with pytest.raises(ValueError, match="expected one of write, import, auto"):
        choose_method("bulk", False)


def test_costs_side_by_side_import_is_under_a_twentieth() -> None:
    million = 1_000_000
    write = write_cost(million, write_rate=1000)
    imported = import_cost(million)
    assert write.dollars == 0.625 and write.seconds == 1000 and write.requests == million
    assert imported.import_bytes == 175 * million
    assert imported.dollars == round(175 * million / (1 << 30) * 0.15, 6)
    assert imported.dollars / write.dollars <= 1 / 20
    w, i, auto = compare_methods(million, 1000, table_exists=False)
    lines = render_comparison(w, i, auto)
    assert "auto would pick import" in lines[-1]
    assert "175,000,000 bytes to import" in lines[1]
    with pytest.raises(ValueError):
        write_cost(1, 0)


def test_benchmark_cost_per_million_keys_from_two_reports() -> None:
    from benchmarks.import_cost import cost_per_million_keys

    write = {"writes": {"new": 990, "unchanged": 10, "requests": 1000}}
    imported = {"import": {"imported_items": 1000, "staged_bytes": 175_000}}
    result = cost_per_million_keys(write, imported)
    assert result["write_usd_per_million_keys"] == 0.625
    assert result["import_usd_per_million_keys"] == round(175e6 / (1 << 30) * 0.15, 4)
    assert result["ratio"] <= 1 / 20


def test_security_doc_lists_the_import_permissions() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    section = text.split("## Extra permissions for `--method import`", 1)[1].split("\n## ", 1)[0]
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", section, re.S)]
    role = {a for statement in blocks[0] for a in statement["Action"]}
    assert {
        "dynamodb:ImportTable",
        "dynamodb:DescribeImport",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:DescribeTable",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
    } <= role
    logs = next(s for s in blocks[0] if s["Sid"] == "ImportTableLogs")
    assert logs["Resource"].endswith(":log-group:/aws-dynamodb/*")
    launcher = {a for statement in blocks[1] for a in statement["Action"]}
    assert "dynamodb:CreateTable" not in launcher | role


def test_launcher_job_flags_reach_the_job_parser() -> None:
    flags = job_flags("import", "s3://b/populator/assets/import/", True, "5,5")
    assert flags == [
        "--method",
        "import",
        "--import-prefix",
        "s3://b/populator/assets/import/",
        "--keep-import-files",
        "--import-capacity",
        "5,5",
    ]
    options = parse_options(["--enriched-archive", "s3://a/", "--storage-config", "c", *flags])
    assert options.method == "import" and options.keep_import_files
    assert job_flags("write", "s3://ignored/") == ["--method", "write"]
    assert default_import_prefix("s3://b/populator/assets/") == "s3://b/populator/assets/import/"
    with pytest.raises(ValueError):
        job_flags("auto")
