"""Storage configs checked against the schema their resolver config resolves: Iglu Central
unreachable, an embedded repository with a stricter schema, no resolver config, a repository
serving a hostile or another schema, and a bad POPULATOR_IGLU_OFFLINE through `inv run_emr`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from populator.launcher.configs import validate_configs
from populator.launcher.iglu import bundled_schema
from tests.support.configs import (
    VALID_STORAGE,
    StorageChecks,
    iglu_central,
    resolver,
    storage,
    write,
)
from tests.support.iglu import SCHEMA_PATH, SECRET, STORAGE, Notices, Route, Serve, assert_clean


def test_unreachable_iglu_central_prints_one_notice_and_uses_the_bundled_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], closed_port: int, online: None
) -> None:
    uri = f"http://127.0.0.1:{closed_port}"
    resolver_path = write(
        tmp_path, "resolver.json", resolver("1-0-1", [iglu_central(uri, apikey=SECRET)])
    )
    path = write(tmp_path, "storage.json", storage("2-0-0", auth=None))
    config = validate_configs(path, resolver_path)  # default notice: stderr
    assert config == VALID_STORAGE["2-0-0-auth-null"][1]
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err == (
        f"notice: Iglu repository 'Iglu Central' ({uri}) unreachable (connection refused); "
        f"using the bundled copy of {STORAGE.uri}\n"
    )
    assert_clean(printed.err)


def test_embedded_repository_relative_to_the_resolver_file(checks: StorageChecks) -> None:
    """A local repository wins over the bundled copy: its stricter schema is what applies."""
    stricter = bundled_schema(STORAGE)
    assert stricter is not None
    stricter["properties"]["name"]["maxLength"] = 5
    schema_file = checks.tmp_path / "conf" / "iglu" / "schemas" / STORAGE.path
    schema_file.parent.mkdir(parents=True)
    schema_file.write_text(json.dumps(stricter), encoding="utf-8")
    local = {
        "name": "Local",
        "priority": 10,
        "vendorPrefixes": ["com.snowplowanalytics"],
        "connection": {"embedded": {"path": "iglu"}},
    }
    checks.resolver_path = write(
        checks.tmp_path / "conf", "resolver.json", resolver("1-0-3", [iglu_central(), local])
    )
    monkey_cwd = os.getcwd()
    os.chdir("/")  # relative to the resolver file, not to where we run
    try:
        checks.refused(
            storage(), "$.data.name", "$.data.name: expected a string of at most 5 characters"
        )
    finally:
        os.chdir(monkey_cwd)
    assert checks.notices == []


def test_without_a_resolver_config_iglu_central_then_bundled(tmp_path: Path) -> None:
    notices = Notices()
    path = write(tmp_path, "storage.json", storage())
    assert validate_configs(path, None, notices) == VALID_STORAGE["2-0-0-auth"][1]
    assert len(notices) == 1 and "'Iglu Central' (http://iglucentral.com)" in notices[0]


def test_a_served_schema_with_a_remote_ref_is_never_followed(
    tmp_path: Path, serve: Serve, silent_port: int, online: None
) -> None:
    """End to end: the ref points at a port that accepts and never answers; nothing hangs."""
    recorder = serve({})
    hostile = bundled_schema(STORAGE)
    assert hostile is not None
    hostile["properties"]["name"] = {"$ref": f"http://127.0.0.1:{silent_port}/x"}
    hostile["properties"]["id"] = {"$ref": recorder.url + "/y"}
    repository = serve({SCHEMA_PATH: Route(body=json.dumps(hostile).encode())})
    uri = repository.url
    resolver_path = write(tmp_path, "resolver.json", resolver("1-0-3", [iglu_central(uri)]))
    notices = Notices()
    path = write(tmp_path, "storage.json", storage())
    config = validate_configs(path, resolver_path, notices)
    assert config == VALID_STORAGE["2-0-0-auth"][1]
    assert recorder.requests == []
    assert repository.paths == [SCHEMA_PATH]
    assert notices == [
        f"Iglu repository 'Iglu Central' ({uri}) served a schema with a remote $ref "
        f"(nothing is fetched); using the bundled copy of {STORAGE.uri}"
    ]


def test_a_repository_serving_another_schema_is_not_blamed_on_the_users_file(
    tmp_path: Path, serve: Serve, online: None
) -> None:
    another = {"type": "object", "required": ["somethingElse"]}
    uri = serve({SCHEMA_PATH: Route(body=json.dumps(another).encode())}).url
    resolver_path = write(tmp_path, "resolver.json", resolver("1-0-3", [iglu_central(uri)]))
    notices = Notices()
    path = write(tmp_path, "storage.json", storage())
    assert validate_configs(path, resolver_path, notices) == VALID_STORAGE["2-0-0-auth"][1]
    assert len(notices) == 1
    assert notices[0].startswith(f"Iglu repository 'Iglu Central' ({uri}) served something")


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_bad_offline_setting_is_exit_2_naming_the_variable(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real `inv run_emr` program: one `error:` line, exit 2, no traceback."""
    from tests.support.cli import DEAD_ENDPOINT, inv_in_process

    monkeypatch.setenv("AWS_ENDPOINT_URL", DEAD_ENDPOINT)
    monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", value)
    storage_path = write(tmp_path, "storage.json", storage())
    resolver_path = write(tmp_path, "resolver.json", resolver())
    ran = inv_in_process(
        "run_emr", ["s3://my-archive/enriched/archive/", storage_path, resolver_path]
    )
    assert ran.code == 2, (ran.code, ran.err)
    assert "Traceback" not in ran.err
    assert ran.error_lines == [
        "error: POPULATOR_IGLU_OFFLINE: expected 1, true, yes or on (skip HTTP repositories) "
        "or 0, false, no, off or empty, in any case; got another value."
    ]
