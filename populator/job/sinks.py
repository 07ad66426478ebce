"""Write job outputs (report, bad rows) to a local path or an S3 URI."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable, Tuple


def is_s3(location: str) -> bool:
    return location.startswith(("s3://", "s3a://", "s3n://"))


def split_s3(location: str) -> Tuple[str, str]:
    bucket, _, key = location.split("://", 1)[1].partition("/")
    return bucket, key


def local_path(location: str) -> str:
    return location[len("file://") :] if location.startswith("file://") else location


def join(location: str, *parts: str) -> str:
    return "/".join([location.rstrip("/"), *parts])


def write_bytes(location: str, data: bytes, s3_client_factory: Callable[[], Any]) -> None:
    """Replace the object or file at `location` whole (atomic locally: temp file + rename)."""
    if is_s3(location):
        bucket, key = split_s3(location)
        s3_client_factory().put_object(Bucket=bucket, Key=key, Body=data)
        return
    path = local_path(location)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def upload_file(location: str, source: str, s3_client_factory: Callable[[], Any]) -> None:
    if is_s3(location):
        bucket, key = split_s3(location)
        s3_client_factory().upload_file(source, bucket, key)
        return
    path = local_path(location)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    os.replace(source, path) if _same_device(source, path) else _copy(source, path)


def _same_device(source: str, target: str) -> bool:
    try:
        return os.stat(source).st_dev == os.stat(os.path.dirname(os.path.abspath(target))).st_dev
    except OSError:
        return False


def _copy(source: str, target: str) -> None:
    import shutil

    shutil.copyfile(source, target)
    os.unlink(source)


def read_text(location: str, s3_client_factory: Callable[[], Any]) -> str:
    if is_s3(location):
        bucket, key = split_s3(location)
        return s3_client_factory().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    with open(local_path(location), encoding="utf-8") as handle:
        return handle.read()
