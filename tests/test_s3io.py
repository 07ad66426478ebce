"""The one S3 I/O module against moto's server: what every caller of S3 relies on."""

from __future__ import annotations

import pytest

from populator.core import s3io
from populator.core.import_table import default_prefix, staging


def test_read_if_exists_put_and_ranged_get(s3, bucket) -> None:
    assert s3io.read_if_exists(s3, bucket, "absent.json") is None
    s3io.put_bytes(s3, bucket, "a.json", b"0123456789", ContentType="application/json")
    assert s3io.read_if_exists(s3, bucket, "a.json") == b"0123456789"
    assert s3io.head_object(s3, bucket, "a.json")["ContentType"] == "application/json"
    assert s3io.head_object(s3, bucket, "absent.json") is None
    assert s3io.get_range(s3, bucket, "a.json", 0, 3) == b"0123"
    assert s3io.get_object(s3, bucket, "a.json")["Body"].read() == b"0123456789"


def test_a_missing_bucket_is_missing_and_other_errors_propagate(s3, unique_name) -> None:
    assert s3io.read_if_exists(s3, unique_name("nobucket"), "k") is None
    with pytest.raises(Exception) as raised:
        s3io.get_object(s3, unique_name("nobucket"), "k")
    assert s3io.is_missing(raised.value)
    assert not s3io.is_missing(ValueError("no response"))


def test_delete_under_deletes_every_page_and_nothing_beside(s3, bucket) -> None:
    for index in range(7):
        s3.put_object(Bucket=bucket, Key=f"stage/data/part-{index:05d}", Body=b"x")
    s3.put_object(Bucket=bucket, Key="stage/marker.json", Body=b"{}")
    assert s3io.delete_under(s3, bucket, "stage/data/", page_size=3) == 7  # three pages
    left = [o["Key"] for o in s3io.list_objects(s3, bucket, "stage/")]
    assert left == ["stage/marker.json"]


@pytest.mark.parametrize("scheme", ["s3", "S3", "s3a", "S3N"])
def test_import_locations_take_any_s3_scheme_in_any_case(scheme: str) -> None:
    assert default_prefix(f"{scheme}://archive-bucket/enriched/") == (
        "s3://archive-bucket/populator/import/"
    )
    stage = staging(f"{scheme}://stage-bucket/import/", "d1")
    assert (stage.bucket, stage.root) == ("stage-bucket", "import/d1/")


@pytest.mark.parametrize("bad", ["/local/folder/", "file:///tmp/x/", "s3://", "gs://b/x/"])
def test_import_prefix_must_be_an_s3_folder(bad: str) -> None:
    with pytest.raises(ValueError, match="--import-prefix"):
        staging(bad, "d1")


@pytest.mark.parametrize("scheme", ["s3", "S3", "s3a"])
def test_run_local_reads_its_report_back_from_any_s3_scheme(
    s3, bucket, moto_endpoint: str, scheme: str
) -> None:
    from populator.cli.run_local import read_back_report

    s3io.put_bytes(s3, bucket, "reports/r.json", b'{"status": "succeeded"}')
    report = read_back_report(f"{scheme}://{bucket}/reports/r.json", moto_endpoint)
    assert report == {"status": "succeeded"}


def test_run_local_reads_its_report_back_from_a_file_uri(tmp_path) -> None:
    from populator.cli.run_local import read_back_report

    folder = tmp_path / "with space"
    folder.mkdir()
    (folder / "r.json").write_text('{"status": "failed"}')
    uri = "file://" + str(folder / "r.json").replace(" ", "%20")
    assert read_back_report(uri, None) == {"status": "failed"}
