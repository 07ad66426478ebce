"""The launcher's view of a backfill's progress: a pty, a fake clock, moto's S3, `inv progress`."""

from __future__ import annotations

import fcntl
import io
import json
import os
import struct
import subprocess
import sys
import termios
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from populator.core.errors import UserError
from populator.core.progress import Counts, Progress, iso
from populator.launcher.progress_view import (
    ProgressFollower,
    ProgressRenderer,
    fetch_progress,
    progress_location,
)

REPO = Path(__file__).resolve().parent.parent


def writing(sequence: int, done: int, eta: float | None = 120.0, **extra) -> Progress:
    return Progress(
        phase="writing",
        batch=Counts(1, 3),
        keys_done=done,
        keys_expected=1000,
        percent=done / 10,
        eta_seconds=eta,
        writes_per_second=42.0,
        throttles=7,
        sequence=sequence,
        **extra,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _read_all(fd: int) -> bytes:
    """Everything written to the pty; call after closing the terminal side (then EIO ends it)."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the terminal side is closed and all is read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _set_columns(fd: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))


def test_on_a_terminal_one_line_is_redrawn_in_place() -> None:
    controller, terminal = os.openpty()
    _set_columns(terminal, 160)
    try:
        stream = open(terminal, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        renderer = ProgressRenderer(stream)
        assert renderer.tty  # found out from the stream itself
        for sequence, done in enumerate((100, 250, 400), 1):
            assert renderer.show(writing(sequence, done))
        renderer.clear()
        stream.write("step RUNNING\n")
        renderer.show(writing(4, 500))
        renderer.show(Progress(phase="done", status="succeeded", percent=100.0, sequence=5))
        stream.flush()
        os.close(terminal)
        text = _read_all(controller).decode("utf-8")
    finally:
        os.close(controller)
    drawn = text.split("\r\x1b[2K")
    assert len(drawn) >= 6  # every show starts with carriage return + clear line
    assert "writing batch 1/3 [██████" in drawn[3] and "40.0%" in drawn[3]
    assert "42 writes/s" in drawn[3] and "throttles 7" in drawn[3] and "ETA 2m00s" in drawn[3]
    assert "\n" not in "".join(drawn[1:4])  # redrawn: no new line between updates
    assert "step RUNNING" in text  # other output on its own, cleared line
    assert text.rstrip("\r\n").split("\r\x1b[2K")[-1].startswith("done [████████████████████]")
    assert text.endswith("\n") or text.endswith("\r\n")  # the last line is ended


def test_a_narrow_terminal_gets_the_line_cut_to_its_width() -> None:
    controller, terminal = os.openpty()
    _set_columns(terminal, 50)
    try:
        stream = open(terminal, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        ProgressRenderer(stream).show(writing(1, 100))
        stream.flush()
        os.close(terminal)
        text = _read_all(controller).decode("utf-8")
    finally:
        os.close(controller)
    assert len(text.split("\r\x1b[2K")[-1]) == 49


def test_off_a_terminal_one_plain_line_per_minute_at_most() -> None:
    out = io.StringIO()
    clock = Clock()
    renderer = ProgressRenderer(out, clock=clock)
    assert not renderer.tty
    shown = []
    for second in range(0, 181, 15):  # a poll every 15 s for three minutes
        clock.now = float(second)
        shown.append(renderer.show(writing(second + 1, second)))
    assert [s for s, ok in zip(range(0, 181, 15), shown) if ok] == [0, 60, 120, 180]
    clock.now = 200.0
    assert renderer.show(Progress(phase="done", status="succeeded", sequence=999))  # the end
    assert not renderer.show(Progress(phase="done", status="succeeded", sequence=999))
    lines = out.getvalue().splitlines()
    assert len(lines) == 5 and "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert lines[0].startswith("progress: writing batch 1/3 0.0%")
    assert lines[-1].startswith("progress: done")


def test_an_unchanged_object_is_not_repeated_in_plain_logs() -> None:
    out = io.StringIO()
    clock = Clock()
    renderer = ProgressRenderer(out, clock=clock, tty=False)
    assert renderer.show(writing(3, 10))
    clock.now = 120.0
    assert not renderer.show(writing(3, 10))


def test_locations_of_report_and_progress_uris() -> None:
    assert progress_location("s3://bkt/r/backfill-1.json") == "s3://bkt/r/backfill-1.progress.json"
    assert progress_location("s3://bkt/r/progress.json") == "s3://bkt/r/progress.json"
    for bad in ("", "s3://B_ad/r.json", "s3://bucket/a//b.json"):
        with pytest.raises(UserError):
            progress_location(bad)


def test_the_follower_shows_what_the_job_wrote_in_s3(s3, bucket) -> None:
    report = f"s3://{bucket}/reports/backfill-abc.json"
    out = io.StringIO()
    clock = Clock()
    follower = ProgressFollower(s3, report, out, clock=clock, tty=False)
    assert follower.poll() is None and out.getvalue() == ""  # nothing published yet
    key = "reports/backfill-abc.progress.json"
    s3.put_object(Bucket=bucket, Key=key, Body=writing(1, 250).to_json().encode())
    clock.now = 15.0
    assert follower.poll() == writing(1, 250)
    assert "progress: writing batch 1/3 25.0%" in out.getvalue()
    assert follower.as_json()["keys"] == {"done": 250, "written": 0, "expected": 1000}
    # An object that is not a progress object is said once; the wait goes on.
    s3.put_object(Bucket=bucket, Key=key, Body=b"<html>")
    assert follower.poll() == writing(1, 250)
    assert follower.poll() == writing(1, 250)
    assert out.getvalue().count("is not a progress object") == 1


def test_fetch_reads_local_files_too(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    assert fetch_progress(None, str(path)) is None
    path.write_text(writing(2, 500).to_json())
    assert fetch_progress(None, f"file://{path}") == writing(2, 500)
    path.write_text('{"no": "phase"}')
    with pytest.raises(UserError, match="no 'phase' field"):
        fetch_progress(None, str(path))


def _inv(*args: str, env_extra: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "invoke", "progress", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_inv_progress_prints_the_object_a_backfill_published(s3, bucket, moto_endpoint) -> None:
    env = {"AWS_ENDPOINT_URL": moto_endpoint}
    report = f"s3://{bucket}/reports/backfill-xyz.json"
    missing = _inv(report, env_extra=env)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no progress object at ")
    assert "Traceback" not in missing.stderr

    published = datetime.now(timezone.utc) - timedelta(minutes=3)
    body = writing(4, 700, eta=30.0, updated_at=iso(published)).to_json()
    s3.put_object(Bucket=bucket, Key="reports/backfill-xyz.progress.json", Body=body.encode())
    shown = _inv(report, env_extra=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("progress: writing batch 1/3 70.0% | ")
    assert "ETA 30s" in shown.stdout
    assert "published 3m0" in shown.stderr

    as_json = _inv(f"s3://{bucket}/reports/backfill-xyz.progress.json", "--json", env_extra=env)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == json.loads(body)

    bad = _inv("s3://Not_A_Bucket/x.json", env_extra=env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: REPORT_OR_PROGRESS_URI: ")


def test_the_progress_task_body_reads_a_moto_object(s3, bucket, moto_endpoint, capsys) -> None:
    from populator.cli.progress import progress

    key = "p/progress.json"
    s3.put_object(Bucket=bucket, Key=key, Body=writing(1, 100).to_json().encode())
    assert progress(f"s3://{bucket}/{key}", endpoint_url=moto_endpoint) == 0
    assert capsys.readouterr().out.startswith("progress: writing batch 1/3 10.0%")
    with pytest.raises(UserError, match="--region"):
        progress(f"s3://{bucket}/{key}", region="mars")


def test_an_earlier_attempts_object_is_not_shown_as_this_ones(s3, bucket, tmp_path: Path) -> None:
    """The same request names the same report, so the same progress object: an object older
    than the step (`not_before`: its creation time) is an earlier attempt's."""
    key = "reports/backfill-same.progress.json"
    s3.put_object(Bucket=bucket, Key=key, Body=Progress(phase="done", sequence=9).to_json())
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    out = io.StringIO()
    stale = ProgressFollower(s3, f"s3://{bucket}/{key}", out, tty=False, not_before=later)
    assert stale.poll() is None and out.getvalue() == ""
    earlier = datetime.now(timezone.utc) - timedelta(minutes=5)
    fresh = ProgressFollower(s3, f"s3://{bucket}/{key}", out, tty=False, not_before=earlier)
    assert fresh.poll() == Progress(phase="done", sequence=9)
    path = tmp_path / "progress.json"
    path.write_text(writing(1, 5).to_json())
    assert fetch_progress(None, str(path), not_before=later) is None
    assert fetch_progress(None, str(path), not_before=earlier) == writing(1, 5)


def test_the_redraw_goes_through_the_launchers_redacting_stderr() -> None:
    """`inv` wraps stderr so no secret is printed: the line is still redrawn in place."""
    from populator.launcher.redact import RedactingStream, Redactor

    controller, terminal = os.openpty()
    _set_columns(terminal, 160)
    try:
        raw = open(terminal, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        renderer = ProgressRenderer(RedactingStream(raw, Redactor()))
        assert renderer.tty
        renderer.show(writing(1, 100))
        renderer.show(writing(2, 200))
        os.close(terminal)
        text = _read_all(controller).decode("utf-8")
    finally:
        os.close(controller)
    assert text.count("\r\x1b[2K") == 2 and "\n" not in text
    assert "[████░" in text.split("\r\x1b[2K")[-1]
