"""The one parser of locations: ``s3://``, ``s3a://``, ``s3n://`` (any case), ``file://``, paths.

``parse_location`` gives a typed ``Location`` (S3 bucket/key or a local path) for every option
that names a place; ``parse_s3_uri`` gives the canonical S3 *folder* (``S3Uri``).

Hadoop-era configs spell the same location three ways; everything downstream (listing,
run-manifest ids, file paths handed to Spark) wants one canonical form: the bucket plus a
key prefix that is either empty or ends with ``/``, so ``prefix + name`` is always a key.
Schemes are removed by exact match, never with ``str.lstrip`` (which strips a *set of
characters*: ``'s3://s3-bucket'.lstrip('s3://')`` eats the bucket's ``s3-`` too).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass
from typing import Optional, Sequence

__all__ = [
    "LOCAL",
    "S3",
    "S3_SCHEMES",
    "Location",
    "LocationError",
    "S3Uri",
    "destination_problem",
    "has_s3_scheme",
    "is_s3_uri",
    "parse_location",
    "parse_s3_uri",
]

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
    return _s3_location(text, scheme).s3uri()


# --- the one location type ----------------------------------------------------------------

S3 = "s3"
LOCAL = "local"
_BARE_S3_RE = re.compile(r"(?i)s3[an]?:/?(?!/)")


class LocationError(ValueError):
    """A location option that names no place we can read or write; the message names it."""


@dataclass(frozen=True)
class Location:
    """Where an input or output lives: an S3 object/folder or a local file/folder.

    ``kind`` is ``'s3'`` (``bucket`` and ``key``: ``''`` for the bucket root, a folder ends
    with ``/``) or ``'local'`` (``path``: absolute and normalised; ``folder`` says a trailing
    ``/`` was written). Every option that names a place is parsed into this one type, so
    ``S3://``, ``s3a://`` and ``file://`` mean the same thing to the launcher and the job.
    """

    kind: str
    bucket: str = ""
    key: str = ""
    path: str = ""
    folder: bool = False

    @property
    def is_s3(self) -> bool:
        return self.kind == S3

    @property
    def is_dir_like(self) -> bool:
        """Written as a folder: an S3 key ending ``/`` (or the bucket root), a path ending ``/``."""
        if self.is_s3:
            return self.key == "" or self.key.endswith("/")
        return self.folder

    @property
    def uri(self) -> str:
        """``s3://bucket/key`` (the scheme EMRFS and boto3 read) or the absolute local path."""
        if self.is_s3:
            return f"s3://{self.bucket}/{self.key}"
        return self.path.rstrip("/") + "/" if self.folder else self.path

    def as_folder(self) -> Location:
        """The same place taken as a folder (a trailing ``/`` added)."""
        if self.is_s3:
            key = self.key if self.key == "" or self.key.endswith("/") else self.key + "/"
            return Location(S3, self.bucket, key)
        return Location(LOCAL, path=self.path, folder=True)

    def s3uri(self) -> S3Uri:
        """This S3 folder as an ``S3Uri`` (bucket + prefix)."""
        if not self.is_s3:
            raise ValueError(f"{self.uri} is not an S3 location")
        return S3Uri(self.bucket, self.as_folder().key)

    def join(self, *parts: str) -> Location:
        """The location of ``parts`` (relative, ``/``-separated) below this folder."""
        names = [p.strip("/") for p in parts if p.strip("/")]
        for name in names:
            if any(s in ("", ".", "..") for s in name.split("/")):
                raise ValueError(f"cannot join {name!r}: empty, '.' or '..' segment")
        tail = "/".join(names)
        if self.is_s3:
            return Location(S3, self.bucket, self.as_folder().key + tail)
        path = os.path.join(self.path, *tail.split("/")) if tail else self.path
        return Location(LOCAL, path=path)

    def is_under(self, other: Location) -> bool:
        """True when this location is ``other`` itself or inside it (``other`` taken as a folder).

        Local paths are compared after resolving symbolic links, so a link into the archive
        is caught too.
        """
        if self.kind != other.kind:
            return False
        if self.is_s3:
            if self.bucket != other.bucket:
                return False
            root = other.as_folder().key
            return root == "" or self.as_folder().key.startswith(root)
        mine, theirs = os.path.realpath(self.path), os.path.realpath(other.path)
        return mine == theirs or mine.startswith(theirs.rstrip(os.sep) + os.sep)

    def __str__(self) -> str:
        return self.uri


def _s3_location(text: str, scheme: str) -> Location:
    rest = text[len(scheme) + len("://") :]
    bucket, _, key = rest.partition("/")
    if "@" in bucket:
        raise ValueError(
            "S3 URIs with embedded credentials are not supported; use an AWS profile or role"
        )
    _check_bucket(bucket, text)
    if _CONTROL_RE.search(key):
        raise ValueError(f"S3 URI {text!r} holds control characters")
    body = key[:-1] if key.endswith("/") else key
    for segment in body.split("/") if key else ():
        if segment == "":
            raise ValueError(f"S3 URI {text!r} has an empty path segment ('//')")
        if segment in (".", ".."):
            raise ValueError(f"S3 URI {text!r} has a {segment!r} path segment")
    return Location(S3, bucket, key)


def _file_location(text: str) -> Location:
    parts = urllib.parse.urlsplit(text)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"{text!r}: file URIs on another host are not supported")
    return _local_location(urllib.parse.unquote(parts.path), text)


def _local_location(path: str, text: str) -> Location:
    if not path:
        raise ValueError("empty path")
    if "\x00" in path:
        raise ValueError(f"{text!r} holds a NUL character")
    return Location(LOCAL, path=os.path.abspath(path), folder=path.endswith("/"))


def parse_location(text: object, option: str = "location") -> Location:
    """Parse ``s3://``/``s3a://``/``s3n://`` (any case), ``file://`` or a local path.

    Any other ``scheme://`` (``http://``, ``gs://``, ``ftp://``) is refused rather than
    taken for a local folder named ``http:``. Raises ``LocationError`` naming ``option``.
    """
    if not isinstance(text, str):
        raise LocationError(f"{option}: expected a location, not {type(text).__name__}")
    scheme = _scheme(text)
    try:
        if scheme in S3_SCHEMES:
            return _s3_location(text, scheme)
        if scheme == "file" or (not scheme and text.lower().startswith("file:")):
            return _file_location(text)
        if scheme:
            raise ValueError(
                f"unsupported scheme '{scheme}://': expected s3://bucket/prefix/ "
                "(or s3a://, s3n://), file:// or a local path"
            )
        if _BARE_S3_RE.match(text):
            raise ValueError("looks like an S3 URI missing '//': write s3://bucket/key")
        return _local_location(text, text)
    except LocationError:
        raise
    except ValueError as error:
        raise LocationError(f"{option} {text!r}: {error}") from None


def destination_problem(
    option: str, destination: Location, archive: Location, inputs: Sequence[Location] = ()
) -> Optional[str]:
    """Why an output location must not be written (pure: no I/O but resolving local links).

    An output at or under the archive would be read back as events by the next run; one that
    is an input file (the storage config with its keys, the resolver) would overwrite it.
    """
    if destination.is_under(archive):
        return (
            f"{option} {destination.uri} is inside the enriched archive {archive.as_folder().uri}: "
            "the next run would read it as events; write it somewhere else"
        )
    for source in inputs:
        if source.kind == destination.kind and (
            destination.is_under(source) if destination.is_s3 else _same_file(destination, source)
        ):
            return f"{option} {destination.uri} is an input of this run: it would be overwritten"
    return None


def _same_file(one: Location, other: Location) -> bool:
    return os.path.realpath(one.path) == os.path.realpath(other.path)
