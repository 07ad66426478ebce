"""The options both remote targets take (`inv run_emr` on a cluster or on EMR Serverless) and
their shared checks, made before any AWS call.

Each target's options dataclass extends `RemoteOptions` with its own fields, and its
`check_options` calls `check_shared` for the shared ones, then checks its own. Where the two
targets word a refusal differently, `Wording` keeps each target's words (exit 2 either way).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional, Sequence, Tuple

from populator.core.errors import UserError
from populator.core.location import S3Uri, has_s3_scheme, parse_s3_uri
from populator.launcher.targets.base import LaunchOptions
from populator.launcher.targets.common.request import DEFAULT_RELEASE_LABEL, parse_tags

__all__ = [
    "MAX_IN_FLIGHT",
    "RELEASE_RE",
    "RemoteChecked",
    "RemoteOptions",
    "Wording",
    "check_shared",
    "match",
    "number",
    "s3_folder",
    "shared_values",
]

RELEASE_RE = re.compile(r"^emr-[0-9]+\.[0-9]+\.[0-9]+$")
MAX_IN_FLIGHT = 1024  # per partition; more only exhausts the executors' sockets
MAX_WAIT_SECONDS = 3600  # --poll-interval and --log-wait
_TIMEOUT_WITHOUT_WAIT = "--timeout limits --wait: add --wait (or leave out --timeout)"


@dataclass(frozen=True)
class RemoteOptions(LaunchOptions):
    """As typed on the command line (numbers may be strings: `check_shared` parses them)."""

    log_path: Optional[str] = None
    assets: Optional[str] = None
    profile: Optional[str] = None
    region: Optional[str] = None
    kms_key_id: Optional[str] = None
    release_label: str = DEFAULT_RELEASE_LABEL
    tags: Sequence[str] = ()
    create_table: bool = True
    force: bool = False
    wait: bool = False
    timeout: Any = None
    poll_interval: Any = 15
    log_wait: Any = 120


def shared_values(options: RemoteOptions) -> Dict[str, Any]:
    """The `RemoteOptions` fields of any target's options, to build another target's."""
    values = {f.name: getattr(options, f.name) for f in fields(RemoteOptions)}
    values.update(tags=tuple(options.tags or ()), job_extra=dict(options.job_extra))
    return values


@dataclass(frozen=True)
class RemoteChecked:
    """The shared options parsed: numbers, S3 folders and tags."""

    tags: List[Tuple[str, str]]
    timeout: Optional[float]
    poll_interval: float
    log_wait: float
    log_path: Optional[S3Uri]
    assets: Optional[S3Uri]
    bad_rows: Optional[str]
    in_flight: Optional[int]


@dataclass(frozen=True)
class Wording:
    """Where the targets' refusals differ: each keeps its own words."""

    fraction: str  # what a number that may be a fraction is called: "a number of seconds"
    bad_rows: str  # after "--bad-rows X: expected an S3 prefix": why a local path will not do
    max_timeout: Optional[float] = None  # None: any --timeout from 1 second on
    folder_scheme: bool = False  # refuse a non-S3 folder in our words (else the parser's)
    wait_first: bool = False  # --timeout without --wait: say so before checking its number


def number(
    text: Any, flag: str, low: float, high: Optional[float], fraction: Optional[str] = None
) -> Any:
    """`text` as a whole number in [low, high] (None: no upper bound), or as a float when it
    may be a `fraction` (the words that name such a number); NaN is refused."""
    try:
        value = float(str(text)) if fraction else int(str(text))
    except ValueError:
        value = None
    if value is None or value != value or value < low or (high is not None and value > high):
        kind = fraction or "a whole number"
        bound = f" between {low} and {high}" if high is not None else f" >= {low}"
        raise UserError(f"{flag} {text!r}: expected {kind}{bound}")
    return value


def s3_folder(text: Optional[str], flag: str, scheme: bool = False) -> Optional[S3Uri]:
    """An S3 folder option parsed (None stays None); `scheme`: refuse a local path first."""
    if text is None:
        return None
    if scheme and not has_s3_scheme(text):
        raise UserError(f"{flag} {text!r}: expected an S3 folder such as s3://bucket/prefix/")
    try:
        return parse_s3_uri(text)
    except (TypeError, ValueError) as error:
        raise UserError(f"{flag}: {error}") from None


def match(value: Optional[str], pattern: re.Pattern, flag: str, expected: str) -> None:
    if value is not None and not pattern.match(value):
        raise UserError(f"{flag} {value!r}: expected {expected}")


def check_shared(options: RemoteOptions, wording: Wording, attached: bool) -> Dict[str, Any]:
    """The `RemoteChecked` fields, checked; `attached`: re-attaching (which implies --wait)."""
    try:
        tags = parse_tags(options.tags or ())
    except ValueError as error:
        raise UserError(str(error)) from None
    if options.bad_rows is not None and not has_s3_scheme(options.bad_rows):
        raise UserError(f"--bad-rows {options.bad_rows!r}: expected an S3 prefix{wording.bad_rows}")
    bad_rows = s3_folder(options.bad_rows, "--bad-rows", wording.folder_scheme)
    in_flight = options.in_flight
    if in_flight is not None:
        in_flight = number(in_flight, "--in-flight", 1, MAX_IN_FLIGHT)
    timeout = options.timeout
    if timeout is not None:
        unwaited = not (options.wait or attached)
        if unwaited and wording.wait_first:
            raise UserError(_TIMEOUT_WITHOUT_WAIT)
        timeout = number(timeout, "--timeout", 1, wording.max_timeout, wording.fraction)
        if unwaited:
            raise UserError(_TIMEOUT_WITHOUT_WAIT)

    def seconds(value: Any, flag: str, low: float) -> float:
        return number(value, flag, low, MAX_WAIT_SECONDS, wording.fraction)

    def folder(value: Optional[str], flag: str) -> Optional[S3Uri]:
        return s3_folder(value, flag, wording.folder_scheme)

    return {
        "tags": tags,
        "timeout": timeout,
        "poll_interval": seconds(options.poll_interval, "--poll-interval", 0.01),
        "log_wait": seconds(options.log_wait, "--log-wait", 0),
        "log_path": folder(options.log_path, "--log-path"),
        "assets": folder(options.assets, "--assets"),
        "bad_rows": None if bad_rows is None else bad_rows.uri,
        "in_flight": in_flight,
    }
