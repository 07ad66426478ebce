"""Run manifests: the Snowplow Analytics SDK's API and table, minus its bugs (moto over HTTP)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from populator.core import run_manifests as rm
from populator.core.archive import format_run_id
from populator.core.run_manifests import (
    DYNAMODB_RUNID_ATTRIBUTE,
    RunManifests,
    clean_dict,
    extract_run_id,
    is_glacier,
    list_runids,
    normalize_prefix,
    split_full_path,
)
from tests.support.archive_objects import T0, put
from tests.support.job_inputs import create_table_keyed_on


def run_key(moment: datetime, prefix: str = "enriched/archive/") -> str:
    return f"{prefix}run={format_run_id(moment)}/"


@pytest.fixture
def manifests(dynamodb: Any, unique_name: Callable[[str], str]) -> RunManifests:
    table = RunManifests(dynamodb, unique_name("run-manifests"))
    table.create()
    return table


# --- the SDK README, verbatim ---------------------------------------------------------------

README_SNIPPET = """
from populator.core.run_manifests import *
run_manifests = RunManifests(dynamodb, 'snowplow-run-manifests')
run_manifests.create()
for run_id in list_runids(s3, 's3://acme-snowplow-data/storage/enriched-archive/'):
    if not run_manifests.contains(run_id):
        process(run_id)
        run_manifests.add(run_id)
"""


@pytest.fixture
def readme_world(s3: Any, dynamodb: Any) -> Iterator[None]:
    """The README's fixed bucket and table, fresh, removed afterwards."""

    def clean() -> None:
        if "snowplow-run-manifests" in dynamodb.list_tables()["TableNames"]:
            dynamodb.delete_table(TableName="snowplow-run-manifests")
        try:
            listing = s3.list_objects_v2(Bucket="acme-snowplow-data")
        except s3.exceptions.NoSuchBucket:
            return
        for obj in listing.get("Contents", []):
            s3.delete_object(Bucket="acme-snowplow-data", Key=obj["Key"])
        s3.delete_bucket(Bucket="acme-snowplow-data")

    clean()
    s3.create_bucket(Bucket="acme-snowplow-data")
    yield
    clean()


def test_sdk_readme_snippet(s3: Any, dynamodb: Any, readme_world: None) -> None:
    archive = "storage/enriched-archive/"
    runs = [run_key(T0 + timedelta(hours=h), archive) for h in range(3)]
    for key in runs:
        put(s3, "acme-snowplow-data", key + "part-00000.gz")
        put(s3, "acme-snowplow-data", key + "_SUCCESS", b"")
    put(
        s3, "acme-snowplow-data", run_key(T0 - timedelta(days=1), archive) + "p.gz", b"x", "GLACIER"
    )
    processed: List[str] = []

    def run_snippet() -> Dict[str, Any]:
        namespace: Dict[str, Any] = {"s3": s3, "dynamodb": dynamodb, "process": processed.append}
        exec(README_SNIPPET, namespace)
        return namespace

    namespace = run_snippet()
    assert processed == runs  # oldest first; the Glacier run is skipped
    assert {"RunManifests", "list_runids", "split_full_path", "extract_run_id"} <= set(namespace)

    # A second pass finds everything recorded; a new run is picked up alone.
    later = run_key(T0 + timedelta(days=1), archive)
    put(s3, "acme-snowplow-data", later + "part-00000.gz")
    run_snippet()
    assert processed == [*runs, later]


def test_star_import_exports() -> None:
    namespace: Dict[str, Any] = {}
    exec("from populator.core.run_manifests import *", namespace)
    for name in (
        "RunManifests",
        "list_runids",
        "split_full_path",
        "extract_run_id",
        "normalize_prefix",
        "clean_dict",
        "create_manifest_table",
        "add_to_manifest",
        "is_in_manifest",
        "is_glacier",
        "DYNAMODB_RUNID_ATTRIBUTE",
    ):
        assert name in namespace, name
    assert all(hasattr(rm, name) for name in rm.__all__)


# --- DynamoDB -------------------------------------------------------------------------------


def test_create_is_harmless_when_the_table_exists(dynamodb: Any, unique_name: Any) -> None:
    name = unique_name("run-manifests")
    RunManifests(dynamodb, name).create()
    RunManifests(dynamodb, name).add("enriched/archive/run=2017-01-26-00-01-25/")
    RunManifests(dynamodb, name).create()
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == [{"AttributeName": "RunId", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "RunId", "AttributeType": "S"}]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5  # the SDK's capacity
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 5
    assert RunManifests(dynamodb, name).contains("enriched/archive/run=2017-01-26-00-01-25/")


def test_create_on_demand(dynamodb: Any, unique_name: Any) -> None:
    name = unique_name("run-manifests")
    RunManifests(dynamodb, name).create(billing_mode="PAY_PER_REQUEST")
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_create_refuses_a_foreign_table_and_bad_billing(dynamodb: Any, unique_name: Any) -> None:
    name = create_table_keyed_on(dynamodb, unique_name("events-manifest"), "eventId", "fingerprint")
    with pytest.raises(ValueError, match="not a run manifest"):
        RunManifests(dynamodb, name).create()
    with pytest.raises(ValueError, match="billing_mode"):
        RunManifests(dynamodb, unique_name("run-manifests")).create(billing_mode="FREE")


def test_add_contains_round_trip(manifests: RunManifests, dynamodb: Any) -> None:
    run_id = "enriched/archive/run=2017-01-26-00-01-25/"
    assert not manifests.contains(run_id)
    before = int(time.time())
    manifests.add(run_id)
    assert manifests.contains(run_id)
    assert not manifests.contains("enriched/archive/run=2017-01-26-00-01-26/")
    item = dynamodb.get_item(TableName=manifests.table_name, Key={"RunId": {"S": run_id}})["Item"]
    assert set(item) == {"RunId", "AddedAt", "AddedBy"}
    assert before <= int(item["AddedAt"]["N"]) <= int(time.time())
    assert item["AddedBy"] == {"S": "event-manifest-populator"}

    manifests.add(run_id, added_by="backfill-2017")
    item = dynamodb.get_item(TableName=manifests.table_name, Key={"RunId": {"S": run_id}})["Item"]
    assert item["AddedBy"] == {"S": "backfill-2017"}
    assert manifests.list() == [run_id]


def test_module_functions_match_the_sdk(dynamodb: Any, unique_name: Any) -> None:
    name = unique_name("run-manifests")
    rm.create_manifest_table(dynamodb, name)
    rm.add_to_manifest(dynamodb, name, "run=2017-01-26-00-01-25/", added_by=None, added_at=7)
    assert rm.is_in_manifest(dynamodb, name, "run=2017-01-26-00-01-25/")
    assert not rm.is_in_manifest(dynamodb, name, "run=2017-01-26-00-01-26/")
    item = dynamodb.get_item(TableName=name, Key={"RunId": {"S": "run=2017-01-26-00-01-25/"}})
    assert item["Item"] == {"RunId": {"S": "run=2017-01-26-00-01-25/"}, "AddedAt": {"N": "7"}}


def test_rows_written_by_the_sdk_are_read(manifests: RunManifests, dynamodb: Any) -> None:
    """The SDK's add_to_manifest stored RunId only."""
    dynamodb.put_item(TableName=manifests.table_name, Item={"RunId": {"S": "a/run=x/"}})
    assert manifests.contains("a/run=x/")
    assert manifests.contains_many(["a/run=x/", "b/"]) == {"a/run=x/"}


def test_empty_run_id_is_refused(manifests: RunManifests) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        manifests.add("")
    with pytest.raises(ValueError, match="non-empty"):
        manifests.contains_many(["ok/", ""])


def test_contains_many_and_list(manifests: RunManifests) -> None:
    run_ids = [run_key(T0 + timedelta(hours=h)) for h in range(250)]
    for run_id in run_ids[::2]:
        manifests.add(run_id)
    asked = [*run_ids, *run_ids[:10], "enriched/archive/run=1999-01-01-00-00-00/"]
    assert manifests.contains_many(asked) == set(run_ids[::2])
    assert manifests.contains_many([]) == set()
    assert manifests.list() == sorted(run_ids[::2])


class Throttled:
    """A real client whose BatchGetItem answers the first ``stingy`` calls only in part,
    returning the other keys as UnprocessedKeys, as DynamoDB does under throttling."""

    def __init__(self, client: Any, stingy: int, keep: int = 7) -> None:
        self.client = client
        self.stingy = stingy
        self.keep = keep
        self.requests: List[int] = []

    def batch_get_item(self, RequestItems: Dict[str, Any]) -> Dict[str, Any]:
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        self.requests.append(len(keys))
        if len(self.requests) > self.stingy:
            return self.client.batch_get_item(RequestItems=RequestItems)
        served, held = keys[: self.keep], keys[self.keep :]
        response: Dict[str, Any] = {"Responses": {table: []}}
        if served:
            response = self.client.batch_get_item(RequestItems={table: {**request, "Keys": served}})
        if held:
            response["UnprocessedKeys"] = {table: {**request, "Keys": held}}
        return response


def test_contains_many_retries_unprocessed_keys(manifests: RunManifests, dynamodb: Any) -> None:
    run_ids = [run_key(T0 + timedelta(hours=h)) for h in range(120)]
    for run_id in run_ids[:60]:
        manifests.add(run_id)
    client = Throttled(dynamodb, stingy=3)
    sleeps: List[float] = []
    found = rm.manifest_contains_many(client, manifests.table_name, run_ids, sleep=sleeps.append)
    assert found == set(run_ids[:60])
    assert client.requests[0] == 100  # never more than BatchGetItem's limit
    assert max(client.requests) <= 100
    assert len(sleeps) == 3 and all(s >= 0 for s in sleeps)


def test_contains_many_gives_up_when_nothing_is_served(manifests: RunManifests, dynamodb: Any):
    client = Throttled(dynamodb, stingy=1000, keep=0)
    with pytest.raises(RuntimeError, match="unprocessed"):
        rm.manifest_contains_many(
            client, manifests.table_name, ["a/", "b/"], max_stalls=4, sleep=lambda _: None
        )
    assert len(client.requests) == 4


# --- S3 -------------------------------------------------------------------------------------


def test_list_runids_skips_glacier_and_junk(s3: Any, bucket: str) -> None:
    good = [run_key(T0 + timedelta(hours=h)) for h in range(4)]
    for key in good:
        put(s3, bucket, key + "part-00000.gz")
    # The SDK looked at the first 3 keys only: these hide a Glacier file behind markers.
    hidden = run_key(T0 - timedelta(hours=1))
    for name in ("_SUCCESS", "_a", "_b"):
        put(s3, bucket, hidden + name, b"")
    put(s3, bucket, hidden + "part-00000.gz", b"x", "GLACIER")
    put(s3, bucket, run_key(T0 - timedelta(hours=2)) + "part-00000.gz", b"x", "DEEP_ARCHIVE")
    put(s3, bucket, run_key(T0 - timedelta(hours=3)) + "_SUCCESS", b"", "GLACIER")
    put(s3, bucket, "enriched/archive/run=2017-13-45-00-00-00/part-00000.gz")
    put(s3, bucket, "enriched/archive/2017-01-26-00-01-25/part-00000.gz")  # no run=

    only_success = run_key(T0 - timedelta(hours=3))
    expected = [only_success, *good]
    for path in (f"s3://{bucket}/enriched/archive/", f"s3n://{bucket}/enriched/archive"):
        assert list_runids(s3, path) == expected
        assert list_runids(s3, path, page_size=2) == expected
    assert (
        list_runids(s3, f"s3://{bucket}/enriched/archive/", since=T0 + timedelta(hours=2))
        == (good[2:])
    )
    assert is_glacier(s3, bucket, hidden)
    assert is_glacier(s3, bucket, run_key(T0 - timedelta(hours=2)))
    assert not is_glacier(s3, bucket, only_success)
    assert not is_glacier(s3, bucket, good[0])
    assert not is_glacier(s3, bucket, "nothing/here/")  # the SDK raised KeyError


def test_list_runids_bucket_root(s3: Any, bucket: str) -> None:
    put(s3, bucket, run_key(T0, "") + "part-0.gz")
    assert list_runids(s3, f"s3://{bucket}") == ["run=2017-01-26-00-01-25/"]
    assert list_runids(s3, f"s3a://{bucket}/") == ["run=2017-01-26-00-01-25/"]


def test_list_runids_wants_an_s3_path(s3: Any, tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="not an S3 URI"):
        list_runids(s3, str(tmp_path))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("s3://mybucket/path-to-events", ("mybucket", "path-to-events/")),
        ("s3://mybucket", ("mybucket", None)),
        ("s3://mybucket/", ("mybucket", None)),
        ("s3n://snowplow-bucket/some/prefix/", ("snowplow-bucket", "some/prefix/")),
        ("s3a://snowplow-bucket/some/prefix", ("snowplow-bucket", "some/prefix/")),
        ("s3://s3-bucket/run", ("s3-bucket", "run/")),  # lstrip('s3://') ate 's3-'
        ("s3://sss/s3/", ("sss", "s3/")),
    ],
)
def test_split_full_path(path: str, expected: Any) -> None:
    assert split_full_path(path) == expected


@pytest.mark.parametrize("path", ["mybucket/events", "http://mybucket/x", "s3://My_Bucket/x", ""])
def test_split_full_path_rejects(path: str) -> None:
    with pytest.raises(ValueError):
        split_full_path(path)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("shredded-archive/run=2012-12-11-01-11-33/", "shredded-archive/run=2012-12-11-01-11-33/"),
        ("run=2012-12-11-01-11-33/", "run=2012-12-11-01-11-33/"),
        ("a/b/run=2012-12-11-01-11-33/", "a/b/run=2012-12-11-01-11-33/"),
        ("shredded-archive/run=2012-12-11-01-11-33", None),
        ("shredded-archive/run=2012-13-11-01-11-33/", None),
        ("shredded-archive/run=2012-12-11-01-11-61/", None),
        ("shredded-archive/2012-12-11-01-11-33/", None),  # lstrip('run=') accepted it
        ("shredded-archive/nur=2012-12-11-01-11-33/", None),
        ("shredded-archive/run=2012-12-11-01-11-33x/", None),
        ("run=2012-12-11-01-11-33/part-0/", None),
        ("/", None),
        ("", None),
    ],
)
def test_extract_run_id(key: str, expected: Optional[str]) -> None:
    assert extract_run_id(key) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("somepath", "somepath/"),
        ("somepath/", "somepath/"),
        ("a/b", "a/b/"),
        ("", None),
        ("/", None),
        (None, None),
    ],
)
def test_normalize_prefix(path: Optional[str], expected: Optional[str]) -> None:
    assert normalize_prefix(path) == expected


def test_clean_dict() -> None:
    assert clean_dict({"key": None}) == {}
    assert clean_dict({"empty_s": "", "zero": 0, "none": None}) == {"empty_s": "", "zero": 0}
    assert DYNAMODB_RUNID_ATTRIBUTE == "RunId"
