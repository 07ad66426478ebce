"""Storage and resolver configs for the config tests: builders, the valid ones and what they
load as, and the checks every refusal must pass (file and JSON path named, no secret shown)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from populator.core.storage_config import Credentials, StorageConfig
from populator.launcher.configs import validate_configs
from populator.launcher.iglu import ConfigError
from tests.support.iglu import SECRET, Notices, assert_clean

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
CONFIG_ID = "56799a26-980c-4148-8bd9-c021b988c669"
STORAGE_URI = "iglu:com.snowplowanalytics.snowplow.storage/amazon_dynamodb_config/jsonschema/"
RESOLVER_URI = "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/"
DROP = object()  # as a value in `changes`: remove the key


def changed(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``changes`` applied in place (a DROP value removes the key)."""
    for key, value in changes.items():
        if value is DROP:
            data.pop(key)
        else:
            data[key] = value
    return data


def storage(version: str = "2-0-0", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "AWS DynamoDB events manifest",
        "awsRegion": "us-east-1",
        "dynamodbTable": "snowplow-events-manifest",
        "purpose": "EVENTS_MANIFEST" if version == "2-0-0" else "DUPLICATE_TRACKING",
    }
    if version == "2-0-0":
        data["auth"] = {"accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET}
        data["id"] = CONFIG_ID
    else:
        data["accessKeyId"] = ACCESS_KEY
        data["secretAccessKey"] = SECRET
    if version == "1-0-1":
        data["id"] = CONFIG_ID
    return {"schema": STORAGE_URI + version, "data": changed(data, changes)}


def iglu_central(uri: str = "http://iglucentral.com", **http: Any) -> dict[str, Any]:
    return {
        "name": "Iglu Central",
        "priority": 0,
        "vendorPrefixes": ["com.snowplowanalytics"],
        "connection": {"http": {"uri": uri, **http}},
    }


def resolver(version: str = "1-0-3", repositories: Any = None, **data: Any) -> dict[str, Any]:
    body = {
        "cacheSize": 500,
        "repositories": [iglu_central()] if repositories is None else repositories,
    }
    body.update(data)
    return {"schema": RESOLVER_URI + version, "data": body}


def write(directory: Path, name: str, content: Any) -> str:
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content, indent=2), encoding="utf-8")
    return str(path)


def _loaded(version: str, credentials: Credentials | None, config_id: str | None) -> Any:
    """What ``storage(version)`` loads as, with these credentials and id."""
    purpose = "EVENTS_MANIFEST" if version == "2-0-0" else "DUPLICATE_TRACKING"
    name, table = "AWS DynamoDB events manifest", "snowplow-events-manifest"
    return StorageConfig(name, "us-east-1", table, credentials, version, config_id, purpose)


CREDS = Credentials(ACCESS_KEY, SECRET)
VALID_STORAGE = {  # case -> (the file's object, what it loads as)
    "1-0-0": (storage("1-0-0"), _loaded("1-0-0", CREDS, None)),
    "1-0-1": (storage("1-0-1"), _loaded("1-0-1", CREDS, CONFIG_ID)),
    "2-0-0-auth": (storage("2-0-0"), _loaded("2-0-0", CREDS, CONFIG_ID)),
    "2-0-0-auth-null": (storage("2-0-0", auth=None), _loaded("2-0-0", None, CONFIG_ID)),
}


def assert_nothing_leaked(error: ConfigError, capsys: pytest.CaptureFixture[str]) -> None:
    """The secret is in neither the message, the repr nor anything printed."""
    printed = capsys.readouterr()
    for text in (str(error), repr(error), printed.out, printed.err):
        assert_clean(text)


def expect_error(
    run: Callable[[], Any],
    capsys: pytest.CaptureFixture[str],
    path: str,
    json_path: str,
    *fragments: str,
) -> ConfigError:
    """``run()`` raises a one-line ConfigError naming ``path`` and ``json_path``, saying each
    of ``fragments``, showing the secret nowhere."""
    with pytest.raises(ConfigError) as info:
        run()
    error = info.value
    message = str(error)
    assert message.startswith(f"{path}: "), message
    assert error.path == path
    assert error.json_path == json_path, message
    for fragment in fragments:
        assert fragment in message, message
    assert_nothing_leaked(error, capsys)
    assert "\n" not in message
    return error


class StorageChecks:
    """validate_configs on a storage config in a test's tmp_path, next to a valid resolver."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.tmp_path = tmp_path
        self.capsys = capsys
        self.resolver_path = write(tmp_path, "resolver.json", resolver())
        self.notices = Notices()  # what validate_configs was told to say (unless to_stderr)

    def refused(
        self, content: Any, json_path: str, *fragments: str, to_stderr: bool = False
    ) -> ConfigError:
        """``content`` written as storage.json is refused (see ``expect_error``)."""
        path = write(self.tmp_path, "storage.json", content)
        return self.refused_at(path, json_path, *fragments, to_stderr=to_stderr)

    def refused_at(
        self, path: str, json_path: str, *fragments: str, to_stderr: bool = False
    ) -> ConfigError:
        """The storage config at ``path`` is refused; notices go to a list, or with
        ``to_stderr`` to validate_configs' default (stderr)."""
        notice = () if to_stderr else (self.notices,)
        return expect_error(
            lambda: validate_configs(path, self.resolver_path, *notice),
            self.capsys,
            path,
            json_path,
            *fragments,
        )
