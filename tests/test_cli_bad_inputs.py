"""Bad inputs for `inv run_emr` and `inv list_runs`: each gets exit 2 and a one-paragraph
`error:` line naming what is wrong, never a traceback, and no AWS call: the runs point boto3
at a dead endpoint, so any call would show up as a connection error instead.

The corpus runs through invoke's Program in this process (same tasks.py, invoke.yaml and
parser as `inv`); a few cases also run as real `python -m invoke` subprocesses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from devkit.jobs import resolver_config, storage_config, write_json
from tests.support.cli import DEAD_ENDPOINT, Ran, inv_in_process, inv_many

ARCHIVE = "s3://my-archive/enriched/archive/"


def files(root: Path) -> Dict[str, str]:
    good = storage_config("manifest")
    extra = json.loads(json.dumps(good))
    extra["data"]["extra"] = 1
    region = json.loads(json.dumps(good))
    region["data"]["awsRegion"] = "mars"
    (root / "notjson.json").write_text("{not json")
    return {
        "storage": write_json(root / "storage.json", good),
        "resolver": write_json(root / "resolver.json", resolver_config()),
        "extra": write_json(root / "extra.json", extra),
        "region": write_json(root / "region.json", region),
        "notjson": str(root / "notjson.json"),
        "dir": str(root),
        "missing": str(root / "missing.json"),
    }


# Refused values the message quotes after their flag, as `--flag 'value'`.
QUOTED_VALUES = {
    "instance count word": ("--instance-count", "three"),
    "release label": ("--release-label", "7.12.0"),
    "region": ("--region", "mars"),
    "cluster id": ("--cluster-id", "cluster1"),
    "jar not s3": ("--jar", "/tmp/job.py"),
    "idle timeout": ("--idle-timeout", "10"),
    "subnet": ("--subnet-id", "sub"),
    "run manifest table": ("--run-manifest-table", "a"),
}


def run_emr_cases(f: Dict[str, str]) -> Dict[str, Tuple[List[str], str]]:
    def ok(*words: str) -> List[str]:
        return [ARCHIVE, f["storage"], f["resolver"], *words]

    def archive(location: str) -> List[str]:
        return [location, f["storage"], f["resolver"]]

    def storage(path: str) -> List[str]:
        return [ARCHIVE, path, f["resolver"]]

    return {
        "no arguments": ([], "missing ENRICHED_ARCHIVE"),
        "no storage config": ([ARCHIVE], "missing STORAGE_CONFIG"),
        "no resolver": ([ARCHIVE, f["storage"]], "missing RESOLVER"),
        "local archive": (archive(f["dir"]), "EMR reads from S3"),
        "http archive": (archive("http://x/y/"), "expected s3://bucket/prefix/"),
        "bad bucket": (archive("s3://UP/x/"), "bucket name 'UP'"),
        "empty segment": (archive("s3://my-archive/a//b/"), "empty path segment"),
        "embedded keys": (archive("s3n://AKIA:secret@bucket/x/"), "embedded credentials"),
        "since month 13": (ok("--since", "2017-13-01"), "--since '2017-13-01' is not a date"),
        "since words": (ok("--since", "yesterday"), "expected YYYY-MM-DD or YYYY-MM-DD-HH-MM-SS"),
        "since epoch": (ok("--since", "1485388885"), "is not a date"),
        "storage not json": (storage(f["notjson"]), "expected valid JSON"),
        "storage is a resolver": (storage(f["resolver"]), "DynamoDB storage config schema"),
        "resolver is a storage": ([ARCHIVE, f["storage"], f["storage"]], "resolver-config schema"),
        "storage extra field": (storage(f["extra"]), "unexpected: 'e…' (5 chars)"),
        "storage bad region": (storage(f["region"]), "$.data.awsRegion"),
        "storage is a dir": (storage(f["dir"]), "got a directory"),
        "storage missing": (storage(f["missing"]), "no such file"),
        "instance count 0": (
            ok("--instance-count", "0"),
            "--instance-count '0': expected a whole number",
        ),
        "instance type": (
            ok("--instance-type", "m5"),
            "--instance-type 'm5': expected an EC2 type",
        ),
        "tag without value": (ok("--tag", "team"), "--tag 'team': expected KEY=VALUE"),
        "reserved tag": (ok("--tag", "aws:x=1"), "reserved"),
        "step without cluster": (ok("--step-id", "s-ABC"), "give its --cluster-id too"),
        "negative timeout": (ok("--wait", "--timeout", "-5"), "--timeout '-5'"),
        "timeout without wait": (ok("--timeout", "60"), "add --wait"),
        "jar not py or jar": (ok("--jar", "s3://my-archive/job.txt"), "a .py or .jar"),
        "log path not s3": (ok("--log-path", "logs/"), "--log-path: 'logs/' is not an S3 URI"),
        "assets no bucket": (ok("--assets", "s3://"), "--assets: S3 URI 's3://' has no bucket"),
        "kms empty": (ok("--kms-key-id", " "), "--kms-key-id is empty"),
        "poll interval": (ok("--wait", "--poll-interval", "0"), "--poll-interval '0'"),
        "json still one object": (ok("--json", "--since", "nope"), "--since 'nope'"),
        **{
            name: (ok(flag, value), f"{flag} '{value}'")
            for name, (flag, value) in QUOTED_VALUES.items()
        },
    }


def list_runs_cases(f: Dict[str, str]) -> Dict[str, Tuple[List[str], str]]:
    return {
        "no archive": ([], "missing ENRICHED_ARCHIVE"),
        "no such directory": ([f["dir"] + "/nope"], "no such local directory"),
        "ftp archive": (["ftp://x/y/"], "expected s3://bucket/prefix/"),
        "bad bucket": (["s3://a_b/x/"], "bucket name 'a_b'"),
        "since": ([f["dir"], "--since", "2017-02-30"], "--since '2017-02-30' is not a date"),
        "write capacity 0": ([f["dir"], "--write-capacity", "0"], "--write-capacity '0'"),
        "write capacity word": ([f["dir"], "--write-capacity", "lots"], "--write-capacity 'lots'"),
        "run manifest table": (
            [f["dir"], "--run-manifest-table", "x y"],
            "--run-manifest-table 'x y'",
        ),
        "region": ([f["dir"], "--region", "moon-1"], "--region 'moon-1'"),
    }


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> Dict[str, str]:
    return files(tmp_path_factory.mktemp("bad-inputs"))


@pytest.fixture
def dead_aws(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", DEAD_ENDPOINT)
    monkeypatch.setenv("POPULATOR_IGLU_OFFLINE", "1")


def check(ran: Ran, expected: str) -> None:
    assert ran.code == 2, (ran.code, ran.err)
    assert "Traceback" not in ran.err and "cannot reach AWS" not in ran.err
    assert len(ran.error_lines) == 1, ran.err
    line = ran.error_lines[0]
    assert expected in line, line
    # One paragraph: the message is the whole last line; anything before it is a notice.
    assert ran.err.rstrip("\n").splitlines()[-1] == line
    assert all(other.startswith("notice: ") for other in ran.err.splitlines()[:-1]), ran.err


NAMES = dict.fromkeys(["storage", "resolver", "extra", "region", "notjson", "dir", "missing"], "")


@pytest.mark.parametrize("name", list(run_emr_cases(NAMES)))
def test_run_emr_bad_input(bad_files, dead_aws, name: str) -> None:
    args, expected = run_emr_cases(bad_files)[name]
    ran = inv_in_process("run_emr", args)
    check(ran, expected)
    if "--json" in args:
        result = json.loads(ran.out)
        assert result["exit_code"] == 2 and expected in result["error"]
    else:
        assert ran.out == ""


@pytest.mark.parametrize("name", list(list_runs_cases(NAMES)))
def test_list_runs_bad_input(bad_files, dead_aws, name: str) -> None:
    args, expected = list_runs_cases(bad_files)[name]
    ran = inv_in_process("list_runs", args)
    check(ran, expected)
    assert ran.out == ""


def test_real_command_lines(bad_files) -> None:
    """`python -m invoke` itself: a missing positional is our exit 2, not invoke's exit 1."""
    emr, runs = run_emr_cases(bad_files), list_runs_cases(bad_files)
    ran = {
        **inv_many(
            "run_emr",
            {k: emr[k][0] for k in ("no resolver", "json still one object")},
            DEAD_ENDPOINT,
        ),
        **inv_many("list_runs", {k: runs[k][0] for k in ("no archive",)}, DEAD_ENDPOINT),
    }
    check(ran["no resolver"], emr["no resolver"][1])
    check(ran["json still one object"], emr["json still one object"][1])
    assert json.loads(ran["json still one object"].out)["exit_code"] == 2
    check(ran["no archive"], runs["no archive"][1])
