"""Sessions share one botocore data loader; profile, region and credentials stay their own."""

from __future__ import annotations

from devkit.jobs import storage_config
from populator.core import aws
from populator.core.storage_config import StorageConfig


def test_sessions_share_one_loader_without_growing_its_search_paths() -> None:
    first, second = aws.session(region="us-east-1"), aws.session(region="eu-west-1")
    for _ in range(20):
        aws.session()
    loader = first._session.get_component("data_loader")
    assert loader is second._session.get_component("data_loader")
    assert len(loader.search_paths) == len(set(loader.search_paths))
    assert first.region_name == "us-east-1" and second.region_name == "eu-west-1"
    assert first.client("s3").meta.region_name == "us-east-1"
    assert second.client("dynamodb").meta.region_name == "eu-west-1"


def test_a_storage_configs_keys_stay_with_its_client() -> None:
    document = storage_config("manifest", region="eu-central-1")
    storage = StorageConfig.from_self_describing(document, "test")
    keyed = aws.dynamodb_client(storage)
    plain = aws.s3_client(region="us-east-1")
    assert keyed.meta.region_name == "eu-central-1"
    keyed_credentials = keyed._request_signer._credentials
    assert keyed_credentials.access_key == storage.credentials.access_key_id
    assert plain._request_signer._credentials.access_key == "testing"  # the default chain
