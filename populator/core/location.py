"""Parse ``s3://``, ``s3a://`` and ``s3n://`` URIs into a bucket and a key prefix.

Hadoop-era configs spell the same location three ways; everything downstream (listing,
run-manifest ids, file paths handed to Spark) wants one canonical form: the bucket plus a
key prefix that is either empty or ends with ``/``, so ``prefix + name`` is always a key.
Schemes are removed by exact match, never with ``str.lstrip`` (which strips a *set of
characters*: ``'s3://s3-bucket'.lstrip('s3://')`` eats the bucket's ``s3-`` too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["S3_SCHEMES", "S3Uri", "has_s3_scheme", "is_s3_uri", "parse_s3_uri"]

S3_SCHEMES = ("s3", "s3a", "s3n")

_SCHEME_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
_IPV4_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
# Prefixes AWS reserves; CreateBucket refuses them, so such a name is a typo.
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class S3Uri:
    """A canonical S3 location: ``prefix`` is ``''`` (bucket root) or ends with ``/``."""

    bucket: str
    prefix: str

    def __post_init__(self) -> None:
        if self.prefix and not self.prefix.endswith("/"):
            raise ValueError(f"S3 prefix {self.prefix!r} must be empty or end with '/'")

    @property
    def uri(self) -> str:
        """``s3://bucket/prefix`` (always the ``s3`` scheme, which EMRFS and boto3 read)."""
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        """The key of ``name`` below this prefix (``name`` is relative: no leading ``/``)."""
        if name.startswith("/"):
            raise ValueError(f"key name {name!r} must be relative (no leading '/')")
        return self.prefix + name

    def __str__(self) -> str:
        return self.uri


def _scheme(text: str) -> str:
    match = _SCHEME_RE.match(text)
    return match.group("scheme").lower() if match else ""


def has_s3_scheme(text: str) -> bool:
    """True when ``text`` starts with ``s3://``, ``s3a://`` or ``s3n://`` (valid or not).

    Lets callers route a location to S3 even when it is malformed, so that the user gets
    ``parse_s3_uri``'s error instead of a "no such directory" for a local path.
    """
    return isinstance(text, str) and _scheme(text) in S3_SCHEMES


def is_s3_uri(text: str) -> bool:
    """True when ``text`` is a valid S3 URI, i.e. ``parse_s3_uri`` accepts it."""
    try:
        parse_s3_uri(text)
    except (TypeError, ValueError):
        return False
    return True


def _check_bucket(bucket: str, text: str) -> None:
    problem = ""
    if not bucket:
        problem = "has no bucket name"
    elif not 3 <= len(bucket) <= 63:
        problem = f"bucket name {bucket!r} must be 3 to 63 characters long"
    elif not _BUCKET_RE.fullmatch(bucket):
        problem = (
            f"bucket name {bucket!r} may only hold lowercase letters, digits, '.' and '-', "
            "and must start and end with a letter or digit"
        )
    elif ".." in bucket:
        problem = f"bucket name {bucket!r} must not hold two adjacent periods"
    elif _IPV4_RE.fullmatch(bucket):
        problem = f"bucket name {bucket!r} must not be formatted as an IP address"
    elif bucket.startswith(_RESERVED_BUCKET_PREFIXES):
        problem = f"bucket name {bucket!r} starts with a prefix reserved by AWS"
    if problem:
        raise ValueError(f"S3 URI {text!r} {problem}")


def parse_s3_uri(text: str) -> S3Uri:
    """Parse ``s3://bucket[/key/prefix[/]]`` (or ``s3a``/``s3n``) into an ``S3Uri``.

    The bucket must follow S3's naming rules. The key part is a folder: a trailing ``/`` is
    added when missing, and empty (``a//b``), ``.`` and ``..`` segments are refused because
    S3 would take them literally while a reader expects them to be normalised away.
    Raises ``ValueError`` with the reason.
    """
    if not isinstance(text, str):
        raise TypeError(f"S3 URI must be a string, not {type(text).__name__}")
    scheme = _scheme(text)
    if scheme not in S3_SCHEMES:
        raise ValueError(
            f"{text!r} is not an S3 URI: expected s3://bucket/prefix/ (or s3a://, s3n://)"
        )
    rest = text[len(scheme) + len("://") :]
    bucket, _, key = rest.partition("/")
    if "@" in bucket:
        # Credentials embedded in the URI (s3n://KEY:SECRET@bucket): never echo them back.
        raise ValueError(
            "S3 URIs with embedded credentials are not supported; use an AWS profile or role"
        )
    _check_bucket(bucket, text)
    if _CONTROL_RE.search(key):
        raise ValueError(f"S3 URI {text!r} holds control characters")
    if not key:
        return S3Uri(bucket, "")
    segments = key[:-1].split("/") if key.endswith("/") else key.split("/")
    for segment in segments:
        if segment == "":
            raise ValueError(f"S3 URI {text!r} has an empty path segment ('//')")
        if segment in (".", ".."):
            raise ValueError(f"S3 URI {text!r} has a {segment!r} path segment")
    return S3Uri(bucket, "/".join(segments) + "/")
