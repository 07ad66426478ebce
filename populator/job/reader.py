"""Stream lines out of archive files, local or on S3, gzip detected by magic bytes.

Spark's text reader cannot decompress the pre-R83 `.gzip` files, and local Spark has no S3
connector, so executors read objects themselves with boto3 (honouring AWS_ENDPOINT_URL).
Files are streamed, never loaded whole. Cluster code: Python 3.9.
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import IO, Any, Callable, Iterator, Optional

GZIP_MAGIC = b"\x1f\x8b"
BUFFER = 1 << 20


class ReadError(Exception):
    """An archive object could not be read to its end (missing, unreadable, corrupt)."""


class _RawBody(io.RawIOBase):
    """Adapts a botocore StreamingBody to RawIOBase so BufferedReader can peek at it."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        return size

    def close(self) -> None:
        try:
            self._body.close()
        finally:
            super().close()


def open_object(path: str, s3_client_factory: Callable[[], Any]) -> IO[bytes]:
    """A buffered binary stream of the object at an s3://, s3a://, s3n://, file:// or local path."""
    if path.startswith(("s3://", "s3a://", "s3n://")):
        bucket, _, key = path.split("://", 1)[1].partition("/")
        try:
            body = s3_client_factory().get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as error:
            raise ReadError(f"cannot read {path}: {_describe(error)}") from error
        return io.BufferedReader(_RawBody(body), BUFFER)
    local = path[len("file://") :] if path.startswith("file://") else path
    try:
        return open(local, "rb", buffering=BUFFER)
    except OSError as error:
        raise ReadError(f"cannot read {path}: {error.strerror or error}") from error


def iter_lines(stream: IO[bytes], path: str) -> Iterator[bytes]:
    """Lines (with their endings) of a plain or gzip stream; raise ReadError on corruption."""
    reader: IO[bytes] = stream
    try:
        if stream.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]
            reader = io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"), BUFFER)  # type: ignore[arg-type]
        yield from reader
    except (OSError, EOFError, zlib.error) as error:
        raise ReadError(f"cannot read {path} to its end: {_describe(error)}") from error
    except Exception as error:
        if _is_transport_error(error):
            raise ReadError(f"cannot read {path} to its end: {_describe(error)}") from error
        raise
    finally:
        reader.close()


def _is_transport_error(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"ClientError", "BotoCoreError", "ProtocolError", "HTTPError"})


def _describe(error: BaseException) -> str:
    response: Optional[dict] = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        code = response["Error"].get("Code", "")
        return f"{code} {response['Error'].get('Message', '')}".strip()
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if text != type(error).__name__ else text
