"""S3 URI parsing: three schemes, canonical prefixes, S3's bucket naming rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from populator.core.location import S3Uri, has_s3_scheme, is_s3_uri, parse_s3_uri
from tests.support.locations import S3_SCHEME_CASES


@pytest.mark.parametrize(
    ("text", "bucket", "prefix"),
    [
        ("s3://bucket/enriched/archive/", "bucket", "enriched/archive/"),
        ("s3://bucket/enriched/archive", "bucket", "enriched/archive/"),
        ("s3a://bucket/enriched/archive/", "bucket", "enriched/archive/"),
        ("s3n://bucket/enriched/archive", "bucket", "enriched/archive/"),
        ("S3://bucket/a/", "bucket", "a/"),  # schemes are case-insensitive
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/", "bucket", ""),
        ("s3a://bucket", "bucket", ""),
        ("s3n://bucket/", "bucket", ""),
        # The lstrip('s3://') bug ate these buckets' leading characters.
        ("s3://s3-bucket/x", "s3-bucket", "x/"),
        ("s3://sss/3/", "sss", "3/"),
        ("s3n://snowplow-bucket/some/prefix/", "snowplow-bucket", "some/prefix/"),
        ("s3://my.bucket-1/run=2017-01-26-00-01-25/", "my.bucket-1", "run=2017-01-26-00-01-25/"),
        ("s3://abc/x", "abc", "x/"),
        ("s3://" + "a" * 63 + "/x", "a" * 63, "x/"),
        ("s3://1.2.3/x", "1.2.3", "x/"),  # dotted digits, but not an IPv4 address
        ("s3://bucket/a b/c=d/é/", "bucket", "a b/c=d/é/"),  # keys may hold any text
        ("s3://bucket/.../", "bucket", ".../"),
        ("s3://bucket/a.b/", "bucket", "a.b/"),
    ],
)
def test_valid(text: str, bucket: str, prefix: str) -> None:
    parsed = parse_s3_uri(text)
    assert parsed == S3Uri(bucket, prefix)
    assert is_s3_uri(text)
    assert has_s3_scheme(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not an S3 URI"),
        ("bucket/prefix", "not an S3 URI"),
        ("/local/path", "not an S3 URI"),
        ("http://bucket/prefix", "not an S3 URI"),
        ("gs://bucket/prefix", "not an S3 URI"),
        ("s3:/bucket/prefix", "not an S3 URI"),
        ("s3//bucket/prefix", "not an S3 URI"),
        (" s3://bucket/prefix", "not an S3 URI"),
        ("s3://", "no bucket"),
        ("s3:///prefix", "no bucket"),
        ("s3://ab", "3 to 63"),
        ("s3://" + "a" * 64, "3 to 63"),
        ("s3://Bucket", "lowercase"),
        ("s3://my_bucket", "lowercase"),
        ("s3://-bucket", "start and end"),
        ("s3://bucket-", "start and end"),
        ("s3://.bucket", "start and end"),
        ("s3://bucket./x", "start and end"),
        ("s3://my bucket/x", "lowercase"),
        ("s3://my..bucket", "adjacent periods"),
        ("s3://192.168.1.1/x", "IP address"),
        ("s3://xn--bucket/x", "reserved"),
        ("s3://sthree-bucket/x", "reserved"),
        ("s3://bucket:443/x", "lowercase"),
        ("s3://bucket//", "empty path segment"),
        ("s3://bucket//a/", "empty path segment"),
        ("s3://bucket/a//b/", "empty path segment"),
        ("s3://bucket/a//", "empty path segment"),
        ("s3://bucket/..", "'..'"),
        ("s3://bucket/a/../b/", "'..'"),
        ("s3://bucket/a/..", "'..'"),
        ("s3://bucket/./a", "'.'"),
        ("s3://bucket/a/./", "'.'"),
        ("s3://bucket/a\nb/", "control characters"),
        ("s3://bucket/a\tb", "control characters"),
    ],
)
def test_invalid(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_s3_uri(text)
    assert not is_s3_uri(text)


def test_embedded_credentials_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError) as raised:
        parse_s3_uri("s3n://AKIAEXAMPLE:SuperSecret@bucket/archive/")
    assert "credentials" in str(raised.value)
    assert "SuperSecret" not in str(raised.value)


def test_non_string() -> None:
    with pytest.raises(TypeError):
        parse_s3_uri(None)  # type: ignore[arg-type]
    assert not is_s3_uri(None)  # type: ignore[arg-type]
    assert not has_s3_scheme(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "scheme"), S3_SCHEME_CASES)
def test_has_s3_scheme(text: str, scheme: bool) -> None:
    assert has_s3_scheme(text) is scheme


def test_s3uri_helpers() -> None:
    location = S3Uri("bucket", "enriched/archive/")
    assert location.uri == "s3://bucket/enriched/archive/"
    assert str(location) == location.uri
    assert location.key("run=2017-01-26-00-01-25/part-00000.gz") == (
        "enriched/archive/run=2017-01-26-00-01-25/part-00000.gz"
    )
    assert S3Uri("bucket", "").uri == "s3://bucket/"
    assert S3Uri("bucket", "").key("a") == "a"
    with pytest.raises(ValueError, match="relative"):
        location.key("/absolute")
    with pytest.raises(ValueError, match="end with '/'"):
        S3Uri("bucket", "no-slash")
    with pytest.raises(dataclasses.FrozenInstanceError):
        location.bucket = "other"  # type: ignore[misc]


def test_schemes_are_equivalent() -> None:
    assert (
        parse_s3_uri("s3://b-1/x")
        == parse_s3_uri("s3a://b-1/x/")
        == parse_s3_uri("s3n://b-1/x")
        == S3Uri("b-1", "x/")
    )
    assert parse_s3_uri("s3a://b-1/x").uri == "s3://b-1/x/"


_bucket_names = st.from_regex(r"[a-z0-9][a-z0-9-]{1,30}[a-z0-9]", fullmatch=True).filter(
    lambda name: not name.startswith(("xn--", "sthree-"))
)
_segments = st.lists(
    st.text(
        alphabet=st.characters(min_codepoint=0x20, blacklist_characters="/\x7f"),
        min_size=1,
        max_size=8,
    ).filter(lambda segment: segment not in (".", "..")),
    max_size=4,
)


@given(st.sampled_from(["s3", "s3a", "s3n"]), _bucket_names, _segments, st.booleans())
def test_round_trip(scheme: str, bucket: str, segments: list, trailing: bool) -> None:
    key = "/".join(segments) + ("/" if trailing and segments else "")
    text = f"{scheme}://{bucket}/{key}" if key or trailing else f"{scheme}://{bucket}"
    parsed = parse_s3_uri(text)
    assert parsed.bucket == bucket
    assert parsed.prefix == "".join(segment + "/" for segment in segments)
    assert parse_s3_uri(parsed.uri) == parsed


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    try:
        parsed = parse_s3_uri(text)
    except ValueError:
        assert not is_s3_uri(text)
    else:
        assert parsed.prefix == "" or parsed.prefix.endswith("/")
        assert parse_s3_uri(parsed.uri) == parsed


# --- the one Location type (issue 9, issue 10 items 1, 3, 4, 23) ----------------------------

from populator.core.location import (  # noqa: E402
    Location,
    LocationError,
    destination_problem,
    parse_location,
)


@pytest.mark.parametrize("scheme", ["s3", "S3", "s3a", "S3A", "s3n", "S3n"])
def test_every_s3_spelling_is_s3(scheme: str) -> None:
    where = parse_location(f"{scheme}://bucket/r.json", "--report")
    assert where == Location("s3", "bucket", "r.json")
    assert where.uri == "s3://bucket/r.json" and not where.is_dir_like
    assert parse_location(f"{scheme}://bucket/bad/").is_dir_like


@pytest.mark.parametrize("text", ["http://host/r.json", "ftp://h/x", "gs://b/x", "HDFS://n/x"])
def test_unknown_schemes_are_refused_naming_the_option(text: str) -> None:
    with pytest.raises(LocationError, match=r"^--report .*unsupported scheme"):
        parse_location(text, "--report")


def test_s3_missing_slashes_is_not_a_local_folder() -> None:
    with pytest.raises(LocationError, match="missing '//'"):
        parse_location("s3:/bucket/x", "--bad-rows")


def test_file_uris_are_decoded_and_local_paths_absolute(tmp_path) -> None:
    assert parse_location("file:///tmp/with%20space/r.json").path == "/tmp/with space/r.json"
    assert parse_location("file://localhost/tmp/a/").uri == "/tmp/a/"
    assert parse_location("file:/tmp/a").path == "/tmp/a"
    assert parse_location("rel/x.json").path == str(Path.cwd() / "rel" / "x.json")
    with pytest.raises(LocationError, match="another host"):
        parse_location("file://otherhost/x")


def test_join_and_is_under() -> None:
    archive = parse_location("s3://bkt/enriched/archive")
    assert archive.as_folder().uri == "s3://bkt/enriched/archive/"
    assert (
        archive.join("run=1", "sub/part.gz.jsonl").uri
        == "s3://bkt/enriched/archive/run=1/sub/part.gz.jsonl"
    )
    assert parse_location("S3a://bkt/enriched/archive/bad/").is_under(archive)
    assert parse_location("s3://bkt/enriched/archive").is_under(archive)
    assert not parse_location("s3://bkt/enriched/archive2/x").is_under(archive)
    assert not parse_location("s3://other/enriched/archive/x").is_under(archive)
    assert parse_location("s3://bkt/x").is_under(parse_location("s3://bkt"))  # bucket root
    assert not parse_location("/tmp/archive/x").is_under(archive)
    with pytest.raises(ValueError):
        archive.join("../escape")


def test_local_is_under_resolves_links(tmp_path) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "archive")
    inside = parse_location(str(tmp_path / "link" / "bad"))
    assert inside.is_under(parse_location(str(tmp_path / "archive")))
    assert not parse_location(str(tmp_path / "archive2")).is_under(
        parse_location(str(tmp_path / "archive"))
    )


def test_destination_problem_archive_and_inputs(tmp_path) -> None:
    archive = parse_location("s3://bkt/archive/")
    config = parse_location(str(tmp_path / "storage.json"))
    assert "inside the enriched archive" in destination_problem(
        "--bad-rows", parse_location("S3://bkt/archive/bad/"), archive, [config]
    )
    assert "input of this run" in destination_problem(
        "--report", parse_location(f"file://{tmp_path}/storage.json"), archive, [config]
    )
    assert (
        destination_problem("--report", parse_location("s3://bkt/r.json"), archive, [config])
        is None
    )
