"""Every task turns AWS trouble into the one-paragraph error (issue 10: items 12, 16, 18, 19).

Real commands (`python -m invoke …` subprocesses) against loopback endpoints that refuse the
credentials, fail with a 5xx, or accept connections and never answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import pytest

from devkit.jobs import resolver_config, storage_config, write_json
from tests.support.aws_faults import refusing_endpoint, silent_endpoint
from tests.support.cli import Ran, Running, args, inv

CREDENTIAL_CODES = [
    (400, "UnrecognizedClientException"),
    (403, "InvalidClientTokenId"),
    (403, "SignatureDoesNotMatch"),
    (403, "InvalidAccessKeyId"),
    (403, "AccessDenied"),
    (400, "ExpiredToken"),
]


def run(task: str, words: List[str], endpoint: str, extra: Optional[Dict[str, str]] = None) -> Ran:
    """`inv TASK WORDS` with a long time-out: a hang guard, not a timing assertion."""
    return inv(task, words, endpoint, timeout=120, extra_env=extra)


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Dict[str, str]:
    root = tmp_path_factory.mktemp("aws-errors")
    archive = root / "archive"
    (archive / "run=2017-01-01-00-00-00").mkdir(parents=True)
    (archive / "run=2017-01-01-00-00-00" / "part-0").write_text("")
    return {
        "archive": str(archive),
        "storage": write_json(root / "storage.json", storage_config("manifest")),
        "resolver": write_json(root / "resolver.json", resolver_config()),
    }


def one_paragraph(ran: Ran, *expected: str) -> None:
    assert "Traceback" not in ran.err, ran.err
    assert len(ran.error_lines) == 1, ran.err
    for text in expected:
        assert text in ran.error_lines[0], ran.err


@pytest.mark.parametrize(("status", "code"), CREDENTIAL_CODES)
def test_run_local_refused_credentials(local: Dict[str, str], status: int, code: str) -> None:
    with refusing_endpoint(status, code, "The security token is not valid.") as endpoint:
        ran = run("run_local", args(local), endpoint)
    assert ran.code == 2, ran.err
    one_paragraph(ran, "AWS refused DescribeTable", code, "credentials")


@pytest.mark.parametrize(("status", "code"), CREDENTIAL_CODES[:4])
def test_list_runs_refused_credentials(status: int, code: str) -> None:
    with refusing_endpoint(status, code, "The key is not valid.") as endpoint:
        ran = run("list_runs", ["s3://my-archive/enriched/"], endpoint)
    assert ran.code == 2, ran.err
    one_paragraph(ran, "AWS refused ListObjectsV2", code, "credentials")


def test_a_server_error_on_a_preflight_call_exits_1(local: Dict[str, str]) -> None:
    with refusing_endpoint(500, "InternalServerError", "We are sorry.") as endpoint:
        ran = run("run_local", args(local), endpoint)
    assert ran.code == 1, ran.err
    one_paragraph(ran, "AWS refused DescribeTable", "InternalServerError", "server error")


def test_an_unknown_operation_names_the_operation(local: Dict[str, str]) -> None:
    with refusing_endpoint(400, "UnknownOperationException", "Not here.") as endpoint:
        ran = run("run_local", args(local), endpoint)
    assert ran.code == 2, ran.err
    one_paragraph(ran, "AWS refused DescribeTable: UnknownOperationException")


def test_an_endpoint_that_never_answers(local: Dict[str, str]) -> None:
    """Each task gives up within its pre-flight budget. The three wait on the same black hole
    at once (each wait is real time, ~10 s), so the test costs one wait, not three."""
    words = {
        "run_local": args(local),
        "list_runs": ["s3://my-archive/enriched/"],
        "run_emr": ["s3://my-archive/enriched/", local["storage"], local["resolver"]],
    }
    with silent_endpoint() as endpoint:
        running = {task: Running(task, task_words, endpoint) for task, task_words in words.items()}
        ended = {task: job.finish(timeout=120) for task, job in running.items()}
    for task, ran in ended.items():
        assert ran.code == 2, (task, ran.err)
        one_paragraph(ran, "cannot reach AWS")


def test_a_dead_https_proxy(local: Dict[str, str]) -> None:
    ran = run(
        "run_local",
        args(local),
        "",
        {"HTTPS_PROXY": "http://127.0.0.1:9", "AWS_ENDPOINT_URL": ""},
    )
    assert ran.code == 2, ran.err
    one_paragraph(ran, "cannot reach AWS")


BAD_VALUES = {
    "--in-flight": ["abc", "1.5", "0"],
    "--endpoint-url": ["not-a-url", "ftp://host/x"],
    "--master": ["local[0]", "bogus://x"],
    "--driver-memory": ["abc"],
}


@pytest.mark.parametrize(
    ("flag", "value"), [(flag, value) for flag, values in BAD_VALUES.items() for value in values]
)
def test_run_local_bad_option_values_before_any_side_effect(
    local: Dict[str, str], moto_endpoint: str, dynamodb, flag: str, value: str
) -> None:
    table = "never-created-" + flag.strip("-") + "-" + str(abs(hash(value)))
    config = write_json(Path(local["storage"]).with_name(f"{table}.json"), storage_config(table))
    ran = run("run_local", args({**local, "storage": config}, flag, value), moto_endpoint)
    assert ran.code == 2, ran.err
    one_paragraph(ran, f"{flag} '{value}'")  # the message quotes the flag and its value
    assert table not in dynamodb.list_tables()["TableNames"]


@pytest.mark.parametrize(
    "words",
    [
        ["list_runs", "s3://my-archive/enriched/", "extra-word"],
        ["run_local", "--in-flight"],
        ["run_emr", "a", "b", "c", "d"],
    ],
)
def test_invoke_parse_errors_exit_2(words: List[str]) -> None:
    ran = run(words[0], words[1:], "http://127.0.0.1:9")
    assert ran.code == 2, ran.err
    assert ran.err.startswith("error: "), ran.err


NEUTRAL = {"target", "state", "exit_code", "cause", "elapsed_seconds", "ids", "error", "dry_run"}


def test_run_local_json_is_one_target_neutral_object(local: Dict[str, str]) -> None:
    import json

    inputs = args(local, "--json")
    dry = run("run_local", [*inputs, "--dry-run", "--in-flight", "4"], "http://127.0.0.1:9")
    assert dry.code == 0, dry.err
    shown = json.loads(dry.out)
    assert set(shown) >= NEUTRAL and shown["target"] == "local"
    argv = shown["request"]["argv"]
    assert argv[argv.index("--in-flight") + 1] == "4"
    with refusing_endpoint(403, "AccessDenied", "No.") as endpoint:
        refused = run("run_local", inputs, endpoint)
    assert refused.code == 2
    failed = json.loads(refused.out)
    assert failed["exit_code"] == 2 and "AWS refused DescribeTable" in failed["error"]


def test_run_emr_json_has_the_neutral_fields(local: Dict[str, str]) -> None:
    import json

    ran = run(
        "run_emr",
        ["s3://my-archive/enriched/", local["storage"], local["resolver"], "--dry-run", "--json"],
        "http://127.0.0.1:9",
    )
    assert ran.code == 0, ran.err
    assert set(json.loads(ran.out)) >= NEUTRAL
