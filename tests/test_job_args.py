"""The job's flags are declared once (core.job_args.FLAGS): the job's parser, JobOptions, the
launchers' argv and the invoke tasks' options and help all come from that table."""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timezone

import pytest
from invoke import Collection

import tasks
from populator.cli.run_local import LOCAL_JOB_FIELDS, LocalRun, job_argv
from populator.cli.task_options import job_flags
from populator.core import job_args
from populator.core.job_args import FLAGS, Flag, JobOptions, parse_options, parser, to_argv
from populator.launcher.targets.emr.request import JobArgs, build_job_args


def _arguments(task: str):  # type: ignore[no-untyped-def]
    """invoke pops help texts as it builds arguments: work on a copy of the task."""
    return copy.deepcopy(Collection.from_module(tasks)[task]).get_arguments()


def test_parser_and_options_have_exactly_the_table_flags() -> None:
    dests = [f.dest for f in FLAGS]
    assert sorted(a.dest for a in parser()._actions if a.dest != "help") == sorted(dests)
    assert sorted(f.name for f in dataclasses.fields(JobOptions)) == sorted(dests)
    parsed = parse_options(["--enriched-archive", "a", "--storage-config", "b"])
    for entry in FLAGS:
        if not entry.required:
            assert getattr(parsed, entry.dest) == entry.default, entry.name


def test_to_argv_round_trips_through_the_job_parser() -> None:
    values = {
        "enriched_archive": "s3://a/archive/",
        "storage_config": "s3://a/c.json",
        "since": "2017-01-02-03-04-05",
        "run_manifest_table": "runs",
        "in_flight": 7,
        "include_expired": True,
        "accept_read_errors": False,
        "writer": "boto3",
    }
    parsed = parse_options(to_argv(values))
    assert parsed.since == datetime(2017, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert (parsed.in_flight, parsed.include_expired, parsed.writer) == (7, True, "boto3")
    assert parsed.accept_read_errors is False and "--accept-read-errors" not in to_argv(values)
    with pytest.raises(KeyError):
        to_argv({"no_such_flag": 1})


@pytest.mark.parametrize("task", ["run_emr", "run_local"])
def test_invoke_options_come_from_the_table(task: str) -> None:
    arguments = {a.name: a for a in _arguments(task)}
    for entry in job_args.task_flags(task):
        argument = arguments[entry.dest]
        assert argument.default == (False if entry.kind == "bool" else None), entry.name
        assert argument.help, entry.name
        assert len(argument.names) == 1, f"an auto short flag for {entry.name}"
    optional = {f.dest for f in FLAGS if not f.required}
    assert {a for a in arguments if a in optional} == {f.dest for f in job_args.task_flags(task)}


def test_run_local_help_is_the_tables() -> None:
    helps = {a.name: a.help for a in _arguments("run_local")}
    assert helps["in_flight"] == job_args.flag("in_flight").task_help


def test_a_new_flag_is_one_entry(monkeypatch) -> None:
    """Append a Flag to the table: the task's signature gains it and it reaches the argv."""
    new = Flag("--future-flag", "writes per second", kind="positive", tasks=("run_local",))
    monkeypatch.setattr(job_args, "FLAGS", (*FLAGS, new))

    @job_flags("run_local")
    def body(c, enriched_archive=None, master="local[*]", **flags):  # type: ignore[no-untyped-def]
        return flags

    import inspect

    assert inspect.signature(body).parameters["future_flag"].default is None
    run = LocalRun(job_extra={"future_flag": "500"})
    assert job_argv(run, None)[-2:] == ["--future-flag", "500"]
    emr = build_job_args(JobArgs("s3://a/x/", "s3://a/c.json", extra={"future_flag": 9}))
    assert emr[-2:] == ["--future-flag", "9"]


def test_local_fields_are_table_flags() -> None:
    assert set(LOCAL_JOB_FIELDS) <= {f.dest for f in FLAGS}
