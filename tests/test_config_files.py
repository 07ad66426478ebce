"""Storage config files refused before their content is read as a config: not JSON (cut,
duplicate keys, NaN, not UTF-8, too large), not a readable regular file. The message names
the file and shows no secret."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from populator.launcher.configs import load_storage_config, validate_configs
from populator.launcher.iglu import ConfigError, Resolver
from tests.support.configs import StorageChecks, expect_error, storage, write
from tests.support.iglu import SECRET, Notices, assert_clean

NOBODY = 65534


def test_not_json(checks: StorageChecks) -> None:
    text = json.dumps(storage())[:-40]  # cut inside the data, after the secret
    checks.refused(text, "", "expected valid JSON (", "at line 1 column")


def test_duplicate_json_keys(checks: StorageChecks) -> None:
    text = json.dumps(storage("1-0-0")).replace(
        '"secretAccessKey":', f'"secretAccessKey": "{SECRET}", "secretAccessKey":'
    )
    checks.refused(
        text, "", "expected JSON without duplicate keys, but the key 'secretAccessKey' repeats"
    )


def test_nan_is_not_json(checks: StorageChecks) -> None:
    text = json.dumps(storage()).replace('"us-east-1"', "NaN")
    checks.refused(text, "", "got the literal NaN", to_stderr=True)


def test_oversized_file(checks: StorageChecks) -> None:
    text = json.dumps(storage(name=SECRET * 30000))
    assert len(text) > 1024 * 1024
    checks.refused(text, "", "expected a file of at most 1.0 MiB (it has 1.")


def test_invalid_utf8(checks: StorageChecks) -> None:
    raw = json.dumps(storage()).encode().replace(b"snowplow-events-manifest", b"snowplow-\xff\xfe")
    checks.refused(raw, "", "expected UTF-8 text (invalid byte sequence at byte offset ")


def test_a_directory(checks: StorageChecks) -> None:
    checks.refused_at(str(checks.tmp_path), "", "expected a file, got a directory", to_stderr=True)


def test_a_missing_file(checks: StorageChecks) -> None:
    path = str(checks.tmp_path / "nope" / "storage.json")
    checks.refused_at(path, "", "expected an existing file (no such file)", to_stderr=True)
    expect_error(
        lambda: validate_configs(checks.resolver_path, path),
        checks.capsys,
        path,
        "",
        "no such file",
    )


def test_a_dangling_symlink(checks: StorageChecks) -> None:
    link = checks.tmp_path / "storage.json"
    link.symlink_to(checks.tmp_path / "gone.json")
    checks.refused_at(
        str(link), "", "expected a file, but it is a symlink to a missing file", to_stderr=True
    )


def test_a_device_is_not_a_config(checks: StorageChecks) -> None:
    checks.refused_at("/dev/null", "", "a regular file", to_stderr=True)


@contextmanager
def unprivileged() -> Iterator[None]:
    """Root reads anything: drop the effective uid for the duration (non-root: nothing to do)."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory anyone may traverse (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="populator-config-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.mark.parametrize("via_symlink", [False, True], ids=["file", "symlink-to-file"])
def test_an_unreadable_file(
    via_symlink: bool, open_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = Path(write(open_dir, "storage.json", storage()))
    target.chmod(0)
    path = target
    if via_symlink:
        path = open_dir / "link.json"
        path.symlink_to(target)
    with unprivileged(), pytest.raises(ConfigError) as info:
        load_storage_config(str(path), Resolver.default(offline=True), Notices())
    assert str(info.value) == f"{path}: expected a readable file (permission denied)."
    assert_clean(str(info.value) + "".join(capsys.readouterr()))
