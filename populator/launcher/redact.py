"""Keep secrets out of every line we print or log, in the encodings they travel in.

A secret leaks not only verbatim: it shows up JSON-escaped (``\\/`` and ``\\u…``), URL-encoded
in a query string, or base64-encoded in a step argument (the reason a Snowplow issue asked
to stop shipping credentials that way). ``secret_forms`` lists those spellings and
``Redactor`` replaces each of them with ``***``. Base64 is matched at all three byte
alignments, so a secret inside a larger base64 blob is caught too.

Standard library only, launcher side: the bundle does not ship it to the cluster.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from typing import Any, Iterable, Optional, Pattern, Set, TextIO
from urllib.parse import quote, quote_plus

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "RedactingStream",
    "Redactor",
    "secret_forms",
]

MASK = "***"
MIN_SECRET_LENGTH = 4
# Secrets shorter than this are masked only as whole tokens (not inside a longer word), so a
# short one cannot cut ordinary words or JSON apart; real AWS secret keys have 40 characters.
WHOLE_TOKEN_BELOW = 16
_TOKEN_CHAR = "A-Za-z0-9"
# A base64 fragment shorter than this is too likely to occur by chance.
_MIN_BASE64_CORE = 8
_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")


def _lower_percent(text: str) -> str:
    return _PERCENT_HEX.sub(lambda m: m.group(0).lower(), text)


def _base64_forms(raw: bytes) -> Set[str]:
    """Full encodings (std/urlsafe, padded or not) plus the alignment-independent cores."""
    forms: Set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        full = encode(raw).decode("ascii")
        forms.update((full, full.rstrip("=")))
        for shift in (0, 1, 2):
            # Bytes before the secret only change the first group, bytes after it the last:
            # the 4-char groups made only of secret bytes are the same in any enclosing blob.
            encoded = encode(b"\0" * shift + raw).decode("ascii")
            first = 1 if shift else 0
            last = (shift + len(raw)) // 3
            core = encoded[4 * first : 4 * last]
            if len(core) >= _MIN_BASE64_CORE:
                forms.add(core)
    return forms


def secret_forms(secret: str) -> Set[str]:
    """Every spelling of ``secret`` we redact (and tests grep outputs for)."""
    if not secret:
        return set()
    forms = {secret}
    for ensure_ascii in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1]
        forms.update((escaped, escaped.replace("/", "\\/")))
    forms.add(repr(secret)[1:-1])
    for encoded in (
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        quote_plus(secret, safe="/"),
    ):
        forms.update((encoded, _lower_percent(encoded)))
    forms.update(_base64_forms(secret.encode("utf-8")))
    forms.discard("")
    return forms


def _base64_cores(secret: str) -> Set[str]:
    return _base64_forms(secret.encode("utf-8"))


def _compile(forms: Set[str], short: Set[str]) -> Pattern[str]:
    """Longest first: at one position the regex takes the first alternative that fits."""
    bounded = f"(?<![{_TOKEN_CHAR}])(?:%s)(?![{_TOKEN_CHAR}])"
    ordered = sorted(forms | short, key=lambda form: (-len(form), form))
    return re.compile(
        "|".join(
            bounded % re.escape(form) if form in short and form not in forms else re.escape(form)
            for form in ordered
        )
    )


class Redactor:
    """Replaces every known secret, in every form from ``secret_forms``, with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: Set[str] = set()
        self._forms: Set[str] = set()
        self._short: Set[str] = set()  # forms of short secrets: whole tokens only
        self._pattern: Optional[Pattern[str]] = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Optional[str]) -> None:
        """Protect ``secret``; values shorter than 4 characters would mask ordinary text."""
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets.add(secret)
            if len(secret) < WHOLE_TOKEN_BELOW:
                self._short.update(secret_forms(secret) - _base64_cores(secret))
            else:
                self._forms.update(secret_forms(secret))
            self._pattern = _compile(self._forms, self._short)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and traceback) before any handler formats it.

    Attach it to handlers: a filter on a logger does not see records from its children.
    """

    def __init__(self, redactor: Redactor, name: str = "") -> None:
        super().__init__(name)
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw template, still redacted
            message = str(record.msg)
        record.msg = self.redactor.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


class RedactingStream:
    """A text stream (for ``sys.stdout``/``sys.stderr``) that redacts before writing.

    Text is passed on line by line, so a secret written in two pieces is still caught;
    ``flush()`` passes on a pending partial line. ``buffer`` is hidden on purpose: bytes
    written there would bypass redaction.
    """

    _MAX_PENDING = 64 * 1024

    def __init__(self, stream: TextIO, redactor: Redactor) -> None:
        self._stream = stream
        self._redactor = redactor
        self._pending = ""
        self._lock = threading.RLock()

    @property
    def wrapped(self) -> TextIO:
        return self._stream

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            cut = self._pending.rfind("\n") + 1
            if len(self._pending) > self._MAX_PENDING:
                cut = len(self._pending)
            if cut:
                ready, self._pending = self._pending[:cut], self._pending[cut:]
                self._stream.write(self._redactor.redact(ready))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                ready, self._pending = self._pending, ""
                self._stream.write(self._redactor.redact(ready))
            self._stream.flush()

    def close(self) -> None:
        self.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> Optional[str]:
        return getattr(self._stream, "encoding", None)

    @property
    def errors(self) -> Optional[str]:
        return getattr(self._stream, "errors", None)

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            raise AttributeError("RedactingStream hides 'buffer' so bytes cannot bypass it")
        return getattr(self._stream, name)

    def __repr__(self) -> str:
        return f"RedactingStream({self._stream!r})"
