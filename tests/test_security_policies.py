"""docs/security.md holds up: its IAM policies parse and cover what `inv run_emr` really does,
and a table with another key schema is refused before anything is uploaded or started.

The launcher's requests are taken from moto's own request recorder (the server runs in this
process), filtered by the user agent our clients send, and mapped to the IAM actions AWS
checks for them; each must be allowed by the documented launcher policy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Set
from urllib.parse import parse_qs, urlsplit

from devkit.emr import set_states
from devkit.jobs import resolver_config, storage_config, write_json
from populator.core.aws import USER_AGENT
from populator.core.report import new_report
from populator.core.storage_config import storage_schema_uri
from populator.launcher.targets.common.report import report_uri
from populator.launcher.targets.common.request import TAG_TABLE
from populator.launcher.targets.emr.request import ACTIVE_CLUSTER_STATES
from tests.support.cli import inv, waiting_on_emr
from tests.support.emr_steps import put_step_logs
from tests.support.job_inputs import create_table_keyed_on

DOC = Path(__file__).resolve().parent.parent / "docs" / "security.md"
TARGET_PREFIXES = {"ElasticMapReduce.": "elasticmapreduce:", "DynamoDB_20120810.": "dynamodb:"}


def policies() -> Dict[str, Dict[str, Any]]:
    """The JSON policy documents in docs/security.md, by the heading above each."""
    text = DOC.read_text(encoding="utf-8")
    found: Dict[str, Dict[str, Any]] = {}
    block = r"^### ([^\n]+)\n(?:(?!^#).)*?```json\n(.*?)```"  # the heading right above
    for match in re.finditer(block, text, re.S | re.M):
        document = json.loads(match.group(2))
        if "Statement" in document:
            found[match.group(1).strip()] = document
    return found


def allowed_actions(policy: Dict[str, Any]) -> Set[str]:
    actions: Set[str] = set()
    for statement in policy["Statement"]:
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def test_the_documented_policies_are_valid_documents() -> None:
    found = policies()
    assert set(found) == {"The launcher", "The cluster's instance role"}
    for name, policy in found.items():
        assert policy["Version"] == "2012-10-17", name
        sids = [s["Sid"] for s in policy["Statement"]]
        assert len(sids) == len(set(sids)), name
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow" and statement["Resource"], statement
    role = allowed_actions(found["The cluster's instance role"])
    assert {"dynamodb:PutItem", "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive"} <= role
    never = {"dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"}
    assert not role & never and not allowed_actions(found["The launcher"]) & never


def iam_action(entry: Dict[str, Any]) -> str:
    """The IAM action AWS authorises for one recorded request."""
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    target = headers.get("x-amz-target", "")
    for prefix, service in TARGET_PREFIXES.items():
        if target.startswith(prefix):
            return service + target[len(prefix) :]
    url = urlsplit(entry["url"])
    bucket_and_key = url.path.lstrip("/").split("/", 1)
    has_key = len(bucket_and_key) == 2 and bucket_and_key[1] != ""
    query = parse_qs(url.query, keep_blank_values=True)
    method = entry["method"]
    if method == "GET" and "location" in query:
        return "s3:GetBucketLocation"
    if method == "GET" and not has_key:
        return "s3:ListBucket"
    if method in ("GET", "HEAD") and has_key:
        return "s3:GetObject"
    if method == "PUT" and has_key and not query:
        return "s3:PutObject"
    return f"unknown: {method} {entry['url']} {target}"


def launcher_requests(recording: Path) -> List[Dict[str, Any]]:
    entries = [json.loads(line) for line in recording.read_text().splitlines() if line.strip()]
    return [
        e
        for e in entries
        if USER_AGENT in {k.lower(): v for k, v in e["headers"].items()}.get("user-agent", "")
    ]


def test_the_launcher_policy_allows_every_request_run_emr_and_list_runs_send(
    moto_endpoint, s3, emr, bucket, unique_name, monkeypatch, tmp_path: Path
) -> None:
    from moto.moto_api import recorder

    table, runs_table = unique_name("manifest"), unique_name("runs")
    config = storage_config(table)
    config["data"]["auth"] = None  # the recommended setup: the launcher's own identity
    assert config["schema"] == storage_schema_uri("2-0-0")
    storage = write_json(tmp_path / "storage.json", config)
    resolver = write_json(tmp_path / "resolver.json", resolver_config())
    archive = f"s3://{bucket}/enriched/archive/"
    s3.put_object(Bucket=bucket, Key="enriched/archive/run=2017-01-26-00-01-25/part-0", Body=b"x")
    recording = tmp_path / "requests.jsonl"
    monkeypatch.setattr(recorder, "_location", str(recording))
    monkeypatch.setattr(recorder, "_user_enabled", True)

    inputs = {"archive": archive, "storage": storage, "resolver": resolver}
    running, cluster_id, step_id = waiting_on_emr(
        inputs, moto_endpoint, "--method", "write", "--log-wait", "0"
    )
    put_step_logs(
        s3,
        bucket,
        f"populator/logs/{cluster_id}/",
        step_id,
        "application_1732248000000_0007",
        b"error: dynamodb:PutItem denied\n",
        submitted="Submitted application",
        driver_log="stderr",  # plain, not gzipped
    )
    at = report_uri(
        emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Config"]["Args"]
    )
    assert at is not None
    report = {**new_report(), "status": "failed", "errors": ["dynamodb:PutItem denied"]}
    s3.put_object(Bucket=bucket, Key=at.split("/", 3)[3], Body=json.dumps(report).encode())
    set_states(cluster_id, step_state="FAILED", cluster_state="WAITING")  # stays up: cleaned up
    done = running.finish()
    assert done.code == 1, done.err
    assert "probable cause (job-error" in done.err and "job error: dynamodb:PutItem" in done.err
    listed = inv(
        "list_runs", [archive, "--json", "--run-manifest-table", runs_table], moto_endpoint
    )
    assert listed.code == 0, listed.err
    monkeypatch.setattr(recorder, "_user_enabled", False)

    used = {iam_action(entry) for entry in launcher_requests(recording)}
    allowed = allowed_actions(policies()["The launcher"])
    assert used - allowed == set(), (
        f"requests the documented launcher policy would refuse: {used - allowed}"
    )
    exercised = {
        "s3:GetBucketLocation",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:DescribeTimeToLive",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:BatchGetItem",
        "elasticmapreduce:ListClusters",
        "elasticmapreduce:RunJobFlow",
        "elasticmapreduce:DescribeStep",
        "elasticmapreduce:DescribeCluster",
        "elasticmapreduce:ListSteps",
        "elasticmapreduce:TerminateJobFlows",
    }
    assert exercised <= used, f"not exercised: {exercised - used}"


def test_a_table_with_another_key_schema_is_refused_before_anything_starts(
    moto_endpoint, s3, emr, dynamodb, bucket, unique_name, tmp_path: Path
) -> None:
    table = create_table_keyed_on(dynamodb, unique_name("not-a-manifest"), "eventId")
    storage = write_json(tmp_path / "storage.json", storage_config(table))
    resolver = write_json(tmp_path / "resolver.json", resolver_config())
    ran = inv("run_emr", [f"s3://{bucket}/enriched/archive/", storage, resolver], moto_endpoint)
    assert ran.code == 2, ran.err
    assert ran.error_lines == [
        f"error: DynamoDB table '{table}' has key schema [eventId (HASH, S)]; an events manifest "
        "needs [eventId (HASH, S), fingerprint (RANGE, S)]: refusing to write to it"
    ]
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0  # nothing uploaded
    for summary in emr.list_clusters(ClusterStates=list(ACTIVE_CLUSTER_STATES))["Clusters"]:
        tags = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]["Tags"]
        assert {t["Key"]: t["Value"] for t in tags}.get(TAG_TABLE) != table
