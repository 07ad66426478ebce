"""Write job outputs (report, bad rows) to a local path or S3, and read small inputs back.

Every location is parsed by ``populator.core.location`` (``S3://`` and ``s3a://`` go to S3,
``http://`` is refused) and S3 goes through ``populator.core.s3io``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Callable, Union

from populator.core import s3io
from populator.core.location import Location, parse_location

Where = Union[str, Location]


def _location(where: Where, option: str = "location") -> Location:
    return where if isinstance(where, Location) else parse_location(where, option)


def write_bytes(where: Where, data: bytes, s3_client_factory: Callable[[], Any]) -> None:
    """Replace the object or file at ``where`` whole (atomic locally: temp file + rename)."""
    location = _location(where)
    if location.is_s3:
        s3io.put_bytes(s3_client_factory(), location.bucket, location.key, data)
        return
    directory = os.path.dirname(location.path)
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, location.path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def upload_file(where: Where, source: str, s3_client_factory: Callable[[], Any]) -> None:
    """Move the local file ``source`` to ``where`` (uploaded to S3, or moved/copied locally)."""
    location = _location(where)
    if location.is_s3:
        s3io.upload_file(s3_client_factory(), source, location.bucket, location.key)
        return
    os.makedirs(os.path.dirname(location.path), exist_ok=True)
    if _same_device(source, location.path):
        os.replace(source, location.path)
    else:
        shutil.copyfile(source, location.path)
        os.unlink(source)


def _same_device(source: str, target: str) -> bool:
    try:
        return os.stat(source).st_dev == os.stat(os.path.dirname(target)).st_dev
    except OSError:
        return False


def read_text(where: Where, s3_client_factory: Callable[[], Any]) -> str:
    location = _location(where)
    if location.is_s3:
        data = s3io.read_bytes(s3_client_factory(), location.bucket, location.key)
        return data.decode("utf-8")
    with open(location.path, encoding="utf-8") as handle:
        return handle.read()


class SinkError(Exception):
    """An output could not be written; the message is one line naming it and the cause."""


def describe(error: BaseException) -> str:
    """One line for an S3 or file-system error (no stack, no request details)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        code = response["Error"].get("Code", "")
        return f"{code} {response['Error'].get('Message', '')}".strip()
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror} ({error.filename})" if error.filename else error.strerror
    return (str(error) or type(error).__name__).splitlines()[0]
