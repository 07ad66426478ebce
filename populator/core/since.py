"""Parse the ``--since`` option: which archive runs to process.

Runs whose id (UTC) is at or after the parsed instant are processed. Two spellings are
accepted, both UTC: ``YYYY-MM-DD`` (midnight) and ``YYYY-MM-DD-HH-MM-SS`` (the run-id
format, so a run id can be pasted as is). Parsing is strict, a typo must fail loudly rather
than silently select the wrong runs. The original launcher parsed the precise form with the
epoch-seconds strftime directive (local time, platform dependent); this module builds the
datetime from regex groups and never goes through a format-directive table.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

__all__ = ["SINCE_FORMATS", "parse_since"]

SINCE_FORMATS = ("YYYY-MM-DD", "YYYY-MM-DD-HH-MM-SS")

# [0-9], not \d: \d also matches non-ASCII digits such as '٢'.
_SINCE_RE = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"(?:-(?P<hour>[0-9]{2})-(?P<minute>[0-9]{2})-(?P<second>[0-9]{2}))?"
)


def _error(text: str) -> ValueError:
    return ValueError(
        f"--since {text!r} is not a date: expected YYYY-MM-DD or YYYY-MM-DD-HH-MM-SS (UTC), "
        "e.g. 2017-04-30 or 2017-04-30-12-30-00"
    )


def parse_since(text: str) -> datetime:
    """Return ``text`` as a timezone-aware UTC datetime.

    Raises ``ValueError`` quoting the input and both accepted formats for anything else:
    other separators, missing zero padding, surrounding whitespace, trailing characters,
    impossible dates (2017-02-30) or times (24:00:00, 61 seconds).
    """
    if not isinstance(text, str):
        raise TypeError(f"--since must be a string, not {type(text).__name__}")
    match = _SINCE_RE.fullmatch(text)
    if match is None:
        raise _error(text)
    fields = {name: int(value) for name, value in match.groupdict(default="0").items()}
    try:
        return datetime(tzinfo=timezone.utc, **fields)
    except ValueError:
        raise _error(text) from None
