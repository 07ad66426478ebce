"""Redactor: every spelling of a secret is masked in text, log records and wrapped streams."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from urllib.parse import quote, quote_plus, urlencode

import pytest

from populator.launcher.redact import (
    MASK,
    RedactingFilter,
    RedactingStream,
    Redactor,
    secret_forms,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLESECRET+/="
UNICODE_SECRET = "pässwörd/ÜBER+geheim=="


def assert_clean(text: str, secret: str = SECRET) -> None:
    leaked = [form for form in secret_forms(secret) if form in text]
    assert not leaked, f"secret leaked as {leaked!r} in {text!r}"


def _b64(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


def _b64url(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


ENCODINGS = {
    "plain": lambda s: s,
    "json-escaped": lambda s: json.dumps(s)[1:-1],
    "json-escaped-slash": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "json-ascii-off": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "repr": lambda s: repr(s)[1:-1],
    "quote": lambda s: quote(s, safe=""),
    "quote-default-safe": quote,
    "quote-plus": quote_plus,
    "quote-lower-hex": lambda s: re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), quote(s, safe="")),
    "base64": _b64,
    "base64-unpadded": lambda s: _b64(s).rstrip("="),
    "base64-urlsafe": _b64url,
    "base64-urlsafe-unpadded": lambda s: _b64url(s).rstrip("="),
}


@pytest.mark.parametrize("secret", [SECRET, UNICODE_SECRET], ids=["ascii", "unicode"])
@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_every_encoding_is_a_listed_form_and_is_masked(secret: str, encoding: str) -> None:
    encoded = ENCODINGS[encoding](secret)
    assert encoded in secret_forms(secret)
    text = f"before {encoded} after"
    redacted = Redactor([secret]).redact(text)
    assert redacted == f"before {MASK} after"
    assert_clean(redacted, secret)


@pytest.mark.parametrize(
    "container",
    [
        lambda s: _b64("AKIAEXAMPLE:" + s),  # HTTP basic auth style, secret at an odd offset
        lambda s: _b64("x:" + s + ":tail"),
        lambda s: _b64(json.dumps({"secretAccessKey": s})),
        lambda s: _b64url(json.dumps({"auth": {"secretAccessKey": s}})),
        lambda s: urlencode({"key": "AKIA", "secret": s}),
        lambda s: json.dumps(json.dumps({"secret": s})),  # escaped twice
    ],
    ids=["basic-auth", "mid-blob", "json-blob", "urlsafe-json-blob", "query", "json-in-json"],
)
def test_secret_inside_larger_encoded_blobs_is_masked(container) -> None:
    text = container(SECRET)
    redacted = Redactor([SECRET]).redact(text)
    assert MASK in redacted
    assert_clean(redacted)


def test_short_secrets_and_non_strings_are_ignored() -> None:
    redactor = Redactor()
    for value in ("", "a", "abc", None):
        redactor.add(value)  # type: ignore[arg-type]
    assert not redactor
    assert redactor.redact("abc and a") == "abc and a"
    redactor.add("abcd")
    assert redactor.redact("x abcd x") == f"x {MASK} x"
    assert redactor.redact("xabcdx") == "xabcdx"  # short secrets: whole tokens only


def test_a_short_secret_does_not_cut_words_or_json_apart() -> None:
    import json

    redactor = Redactor(["state", "s3cr3t-k3y"])
    document = json.dumps({"state": "RUNNING", "statement": "x s3cr3t-k3y", "reinstated": 1})
    masked = redactor.redact(document)
    assert "s3cr3t-k3y" not in masked and "statement" in masked and "reinstated" in masked
    assert json.loads(masked)["statement"] == f"x {MASK}"


def test_several_secrets_longest_match_wins() -> None:
    redactor = Redactor(["secret-one", "secret-one-and-more"])
    assert redactor.redact("secret-one-and-more; secret-one") == f"{MASK}; {MASK}"
    assert repr(redactor) == "Redactor(2 secrets)"
    assert "secret-one" not in repr(redactor)


def test_text_without_secrets_is_unchanged() -> None:
    text = "plain log line: 131 fields, run=2017-01-26-00-01-25"
    assert Redactor([SECRET]).redact(text) == text
    assert Redactor().redact(text) == text


def test_logging_filter_masks_arguments_and_tracebacks() -> None:
    redactor = Redactor([SECRET])
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger("test_redact.filter")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("config %s and %r", SECRET, {"k": SECRET})
        logger.warning("base64 %s", _b64(SECRET))
        try:
            raise ValueError(f"boom {quote_plus(SECRET)}")
        except ValueError:
            logger.exception("failed with %s", json.dumps(SECRET))
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert text.count(MASK) >= 5
    assert "ValueError: boom ***" in text
    assert_clean(text)


def test_stream_masks_secret_split_across_writes() -> None:
    target = io.StringIO()
    stream = RedactingStream(target, Redactor([SECRET]))
    half = len(SECRET) // 2
    stream.write("key=" + SECRET[:half])
    stream.write(SECRET[half:] + "\n")
    print("again", SECRET, file=stream)
    stream.write("no newline " + _b64(SECRET))
    assert "no newline" not in target.getvalue()  # held until a newline or flush
    stream.flush()
    text = target.getvalue()
    assert text == f"key={MASK}\nagain {MASK}\nno newline {MASK}"
    assert_clean(text)


def test_stream_behaves_like_a_text_stream() -> None:
    target = io.StringIO()
    stream = RedactingStream(target, Redactor([SECRET]))
    assert stream.write("abc\n") == 4
    stream.writelines(["x\n", SECRET + "\n"])
    assert stream.writable() and not stream.readable() and not stream.isatty()
    assert stream.wrapped is target
    assert not hasattr(stream, "buffer")  # bytes would bypass redaction
    assert stream.getvalue() == f"abc\nx\n{MASK}\n"  # other attributes come from the wrapped one
    stream.close()
    assert "RedactingStream" in repr(stream)


def test_stream_wraps_sys_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    redactor = Redactor([SECRET])
    original = sys.stdout
    sys.stdout = RedactingStream(original, redactor)
    try:
        print(f"creds: {SECRET} / {quote(SECRET, safe='')}")
        sys.stdout.flush()
    finally:
        sys.stdout = original
    captured = capsys.readouterr().out
    assert captured == f"creds: {MASK} / {MASK}\n"


def test_secret_forms_of_empty_string_is_empty() -> None:
    assert secret_forms("") == set()
    assert SECRET in secret_forms(SECRET)


def _dry_run_json(tmp_path, secret: str):
    from devkit.jobs import resolver_config, storage_config, write_json
    from tests.support.cli import inv_in_process

    config = write_json(tmp_path / "s.json", storage_config("manifest", secret=secret))
    resolver = write_json(tmp_path / "r.json", resolver_config())
    return inv_in_process(
        "run_emr", ["s3://my-archive/enriched/", config, resolver, "--dry-run", "--json"]
    )


def test_a_trivial_secret_is_refused_not_masked_everywhere(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", "1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    ran = _dry_run_json(tmp_path, "true")
    assert ran.code == 2, ran.err
    assert len(ran.error_lines) == 1 and "only 4 characters" in ran.error_lines[0]


def test_a_short_secret_leaves_json_valid(tmp_path, monkeypatch) -> None:
    import json

    monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", "1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    ran = _dry_run_json(tmp_path, "RUNNING1")  # 8 characters, also a word of the output
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)
    assert result["dry_run"] is True and "RUNNING1" not in ran.out
