"""Hostile Iglu repositories (issue 10): a schema with a remote or broken $ref is never
followed, ten silent repositories share one time budget, another schema is not trusted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from populator.launcher.iglu import (
    HttpTimeouts,
    Repository,
    Resolver,
    UnusableSchema,
    bundled_schema,
    schema_problems,
)
from tests.support.iglu import (
    FAST,
    SCHEMA_PATH,
    STORAGE,
    IgluServer,
    Notices,
    Route,
    http_repo,
    schema_with,
    served_schema,
)


def ref_targets(recorder: IgluServer, silent: int, closed: int) -> dict[str, str]:
    return {
        "recorded": recorder.url + "/evil.json",
        "never-answers": f"http://127.0.0.1:{silent}/evil.json#/definitions/x",
        "closed-port": f"http://127.0.0.1:{closed}/evil.json",
        "relative": "evil.json",
        "dangling-local": "#/definitions/nowhere",
        "loop": "#/properties/name",
    }


REF_CASES = ["recorded", "never-answers", "closed-port", "relative", "dangling-local", "loop"]


def with_ref(ref: str) -> dict[str, Any]:
    """The storage schema with ``ref`` where ``name``'s type was: validation would follow it."""
    schema = schema_with("with a $ref")
    schema["properties"]["name"] = {"$ref": ref}
    return schema


def ref_reason(case: str) -> str:
    if case == "dangling-local":
        return "served a schema with a $ref that points nowhere"
    if case == "loop":
        return "served a schema whose $ref loops back without reading any data"
    return "served a schema with a remote $ref (nothing is fetched)"


@pytest.mark.parametrize("case", REF_CASES)
def test_http_schema_with_a_ref_elsewhere_is_refused_without_fetching(
    case: str, serve: Any, silent_port: int, closed_port: int, online: None
) -> None:
    recorder = serve({})
    ref = ref_targets(recorder, silent_port, closed_port)[case]
    repo = serve({SCHEMA_PATH: Route(body=json.dumps(with_ref(ref)).encode())})
    notices = Notices()
    timeouts = HttpTimeouts(connect=0.5, read=1.0, total=2.0)
    started = time.monotonic()
    schema = Resolver([http_repo("Hostile", repo.url)], timeouts=timeouts).resolve(STORAGE, notices)
    assert time.monotonic() - started < timeouts.total + 3
    assert schema == bundled_schema(STORAGE)
    assert recorder.requests == []
    assert repo.paths == [SCHEMA_PATH]
    assert notices == [
        f"Iglu repository 'Hostile' ({repo.url}) {ref_reason(case)}; "
        f"using the bundled copy of {STORAGE.uri}"
    ]
    # The schema we fall back to validates without any network either.
    problems = schema_problems({"name": 5}, schema)
    assert ("$.data.name", "a string, got number") in [p[:2] for p in problems]


@pytest.mark.parametrize("case", REF_CASES)
def test_embedded_schema_with_a_ref_elsewhere_is_refused_offline_too(
    case: str,
    serve: Any,
    silent_port: int,
    closed_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", "1")
    recorder = serve({})
    ref = ref_targets(recorder, silent_port, closed_port)[case]
    schema_file = tmp_path / "iglu" / "schemas" / STORAGE.path
    schema_file.parent.mkdir(parents=True)
    schema_file.write_text(json.dumps(with_ref(ref)), encoding="utf-8")
    local = Repository("local", 0, ("com.snowplowanalytics",), embedded_path="iglu")
    notices = Notices()
    schema = Resolver([local], base_dir=tmp_path).resolve(STORAGE, notices)
    assert schema == bundled_schema(STORAGE)
    assert recorder.requests == []
    assert notices == [
        f"Iglu repository 'local' (embedded iglu) {ref_reason(case)}; "
        f"using the bundled copy of {STORAGE.uri}"
    ]


def test_local_refs_that_resolve_are_trusted(serve: Any, online: None) -> None:
    schema = schema_with("local refs", definitions={"text": {"type": "string"}})
    schema["properties"]["name"] = {"$ref": "#/definitions/text"}
    repo = serve({SCHEMA_PATH: Route(body=json.dumps(schema).encode())})
    notices = Notices()
    served = Resolver([http_repo("Fine", repo.url)], timeouts=FAST).resolve(STORAGE, notices)
    assert served["description"] == "local refs" and notices == []
    problems = schema_problems({"name": 5}, served)
    assert ("$.data.name", "a string, got number") in [p[:2] for p in problems]


def test_validation_itself_never_fetches_a_remote_ref(serve: Any) -> None:
    """Even a schema that reached validation some other way: no request, a clear error."""
    recorder = serve({})
    schema = {"type": "object", "properties": {"name": {"$ref": recorder.url + "/evil.json"}}}
    with pytest.raises(UnusableSchema) as info:
        schema_problems({"name": "x"}, schema)
    assert "$ref" in str(info.value)
    assert recorder.requests == []


def test_one_budget_for_all_repositories(silent_port: int, online: None) -> None:
    """Ten repositories that never answer: the whole resolution stays within one budget."""
    timeouts = HttpTimeouts(connect=1.0, read=1.0, total=2.0)
    repos = [
        http_repo(f"Hang {i}", f"http://127.0.0.1:{silent_port}/r{i}", priority=i)
        for i in range(10)
    ]
    notices = Notices()
    started = time.monotonic()
    schema = Resolver(repos, timeouts=timeouts).resolve(STORAGE, notices)
    elapsed = time.monotonic() - started
    assert elapsed < timeouts.total + 3, elapsed  # a correctness bound: 10 x 1 s before
    assert schema == bundled_schema(STORAGE)
    assert len(notices) == 1
    assert "the 2 s Iglu budget ran out" in notices[0]
    assert f"'Hang 9' (http://127.0.0.1:{silent_port}/r9)" in notices[0]


@pytest.mark.parametrize(
    ("served", "reason"),
    [
        (
            {k: v for k, v in schema_with("no self").items() if k != "self"},
            f"served something that is not an Iglu schema for {STORAGE.uri} (no self)",
        ),
        (
            {"type": "object", "required": ["somethingElse"]},
            f"served something that is not an Iglu schema for {STORAGE.uri} (no self)",
        ),
        (
            schema_with("avro", self={**STORAGE.self_block(), "format": "avro"}),
            "served a schema whose self block names another schema",
        ),
        (
            schema_with("other name", self={**STORAGE.self_block(), "name": "other"}),
            "served a schema whose self block names another schema",
        ),
        ({"message": "The schema is not found"}, "not an Iglu schema"),
    ],
    ids=["no-self", "not-a-schema", "other-format", "other-name", "error-json"],
)
def test_a_repository_serving_another_schema_is_distrusted_and_named(
    served: dict[str, Any], reason: str, serve: Any, online: None
) -> None:
    wrong = serve({SCHEMA_PATH: Route(body=json.dumps(served).encode())})
    right = serve({SCHEMA_PATH: Route(body=served_schema("the right one"))})
    notices = Notices()
    resolver = Resolver(
        [http_repo("Wrong", wrong.url, priority=0), http_repo("Right", right.url, priority=1)],
        timeouts=FAST,
    )
    assert resolver.resolve(STORAGE, notices)["description"] == "the right one"
    assert notices == []
    alone = Resolver([http_repo("Wrong", wrong.url)], timeouts=FAST).resolve(STORAGE, notices)
    assert alone == bundled_schema(STORAGE)
    assert notices[0].startswith(f"Iglu repository 'Wrong' ({wrong.url}) ")
    assert reason in notices[0]
