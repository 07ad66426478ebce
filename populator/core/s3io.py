"""The one home of S3 I/O: listing (boto3's paginator), heads, ranged and streamed reads, writes.

Callers pass a boto3 S3 client and plain bucket/key strings (parse them with
``populator.core.location`` first); errors are botocore's, so callers decide what they mean.
Cluster code: Python 3.9, boto3/botocore only.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

__all__ = [
    "MAX_PAGE_SIZE",
    "bucket_exists",
    "bucket_region",
    "delete_under",
    "get_object",
    "get_range",
    "head_object",
    "is_missing",
    "list_objects",
    "open_body",
    "put_bytes",
    "read_bytes",
    "read_if_exists",
    "upload_file",
]

MAX_PAGE_SIZE = 1000  # S3's maximum MaxKeys
_MISSING = ("404", "NoSuchKey", "NotFound", "NoSuchBucket")


def _code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_missing(error: BaseException) -> bool:
    """The error says there is no such key or bucket."""
    return _code(error) in _MISSING


def list_objects(
    client: Any,
    bucket: str,
    prefix: str,
    start_after: Optional[str] = None,
    page_size: int = MAX_PAGE_SIZE,
) -> Iterator[Dict[str, Any]]:
    """Every object under ``prefix`` in key order (``StartAfter`` on the first request only)."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, not {page_size}")
    request: Dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        request["StartAfter"] = start_after
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(**request, PaginationConfig={"PageSize": page_size}):
        yield from page.get("Contents", [])


def head_object(client: Any, bucket: str, key: str) -> Optional[Dict[str, Any]]:
    """The object's metadata, or None when there is no such key."""
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except Exception as error:
        if is_missing(error):
            return None
        raise


def get_object(client: Any, bucket: str, key: str) -> Dict[str, Any]:
    """GetObject's answer (``Body``, ``LastModified``, ...): for callers that need its metadata."""
    return client.get_object(Bucket=bucket, Key=key)


def get_range(client: Any, bucket: str, key: str, start: int, end: int) -> bytes:
    """Bytes ``start..end`` (inclusive) of an object, by a Range GET."""
    answer = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")
    return answer["Body"].read()


def open_body(client: Any, bucket: str, key: str) -> Any:
    """The object's streaming body (read it in chunks; close it when done)."""
    return client.get_object(Bucket=bucket, Key=key)["Body"]


def read_bytes(client: Any, bucket: str, key: str) -> bytes:
    """A small object whole (configs, reports)."""
    body = open_body(client, bucket, key)
    try:
        return body.read()
    finally:
        body.close()


def read_if_exists(client: Any, bucket: str, key: str) -> Optional[bytes]:
    """A small object whole, or None when there is no such key (or bucket)."""
    try:
        return read_bytes(client, bucket, key)
    except Exception as error:
        if is_missing(error):
            return None
        raise


def put_bytes(client: Any, bucket: str, key: str, data: bytes, **extra: Any) -> None:
    """One PutObject; ``extra`` carries its other fields (ContentType, encryption, Metadata)."""
    client.put_object(Bucket=bucket, Key=key, Body=data, **extra)


def delete_under(client: Any, bucket: str, prefix: str, page_size: int = MAX_PAGE_SIZE) -> int:
    """Delete every object under ``prefix`` (DeleteObjects, one listed page at a time); how many."""
    deleted = 0
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    )
    for page in pages:
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def upload_file(client: Any, source: str, bucket: str, key: str) -> None:
    """A local file to S3 (multipart for big files, by boto3's transfer manager)."""
    client.upload_file(source, bucket, key)


def bucket_exists(client: Any, bucket: str) -> bool:
    """True when the bucket exists (403 counts as existing: someone else's or no ListBucket)."""
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as error:
        if is_missing(error):
            return False
        if _code(error) in ("403", "AccessDenied"):
            return True
        raise
    return True


def bucket_region(client: Any, bucket: str) -> str:
    """The bucket's region (GetBucketLocation says None or '' for us-east-1, EU for eu-west-1)."""
    found = client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(found, found)
