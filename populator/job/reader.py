"""Stream lines out of archive files, local or on S3, gzip detected by magic bytes.

Spark's text reader cannot decompress the pre-R83 `.gzip` files, and local Spark has no S3
connector, so executors read objects themselves with boto3 (honouring AWS_ENDPOINT_URL).
Files are streamed, never loaded whole, and so are lines: a line longer than MAX_LINE_BYTES
(a gzip bomb is one such line) is reported as a ``LineTooLong`` and skipped to the next newline
without being buffered. A file that is neither gzip nor text (bzip2 or zip named ``.gz``, a
binary) is a ``ReadError`` naming it, not thousands of invalid-UTF-8 lines.
Cluster code: Python 3.9.
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import IO, Any, Callable, Iterator, Optional, Union

from populator.core import s3io
from populator.core.location import parse_location

GZIP_MAGIC = b"\x1f\x8b"
BUFFER = 1 << 20
# Enriched lines run 1-3 KB, 100 KB with big contexts (collectors cap a payload near 1 MB);
# 4 MiB (newline included) bounds a worker's memory per line and leaves real events untouched.
MAX_LINE_BYTES = 4 << 20
# What other formats start with: reading them as text would give garbage "lines".
_FOREIGN_MAGIC = (
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"PAR1", "parquet"),
    (b"Obj\x01", "avro"),
)
_SNIFF_BYTES = 4096
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 13))


class LineTooLong:
    """Stands for a line over MAX_LINE_BYTES, skipped unread; ``length`` is its size in bytes."""

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length


Line = Union[bytes, LineTooLong]


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
    try:
        location = parse_location(path, "archive file")
    except ValueError as error:
        raise ReadError(str(error)) from None
    if location.is_s3:
        try:
            body = s3io.open_body(s3_client_factory(), location.bucket, location.key)
        except Exception as error:
            raise ReadError(f"cannot read {path}: {_describe(error)}") from error
        return io.BufferedReader(_RawBody(body), BUFFER)
    try:
        return open(location.path, "rb", buffering=BUFFER)
    except OSError as error:
        raise ReadError(f"cannot read {path}: {error.strerror or error}") from error


def foreign_format(head: bytes) -> Optional[str]:
    """The format ``head`` (a file's first bytes) is in when it is not text, else None."""
    for magic, name in _FOREIGN_MAGIC:
        if head.startswith(magic):
            return name
    sample = head[:_SNIFF_BYTES]
    if len(sample) >= 64 and len(sample.translate(None, _CONTROL)) < len(sample) * 0.9:
        return "binary"  # over 10% control bytes: not an enriched TSV
    return None


def _bounded_lines(reader: IO[bytes], limit: int) -> Iterator[Line]:
    """Lines of ``reader``; one over ``limit`` bytes becomes LineTooLong, read through in chunks."""
    readline = reader.readline
    while True:
        line = readline(limit + 1)
        if not line:
            return
        if len(line) <= limit:
            yield line
            continue
        length = len(line)
        while not line.endswith(b"\n"):
            line = readline(BUFFER)
            if not line:
                break
            length += len(line)
        yield LineTooLong(length)


def iter_lines(stream: IO[bytes], path: str, max_line: int = MAX_LINE_BYTES) -> Iterator[Line]:
    """Lines (with their endings) of a plain or gzip stream; raise ReadError on corruption.

    Lines over ``max_line`` bytes come as ``LineTooLong``; a file in another format
    (bzip2, zip, binary) is a ReadError before any line.
    """
    reader: IO[bytes] = stream
    try:
        if stream.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]
            reader = io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"), BUFFER)  # type: ignore[arg-type]
        kind = foreign_format(reader.peek(_SNIFF_BYTES)[:_SNIFF_BYTES])  # type: ignore[attr-defined]
        if kind is not None:
            what = "its gzip content is" if reader is not stream else "it is"
            raise ReadError(f"cannot read {path}: {what} {kind} data, not gzip nor text")
        yield from _bounded_lines(reader, max_line)
    except (OSError, EOFError, zlib.error) as error:
        raise ReadError(f"cannot read {path} to its end: {_describe(error)}") from error
    except ReadError:
        raise
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
