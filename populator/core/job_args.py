"""The job's flags, declared once: name, type, default, help and which invoke tasks expose them.

Everything else is derived from `FLAGS`: the job's argparse parser (`parser()`), its options
object (`JobOptions`), the argv every launcher sends (`to_argv`: the EMR step's arguments and
the local spark-submit line), and the invoke tasks' options, help and defaults (`task_flags`,
`task_help`, used by tasks.py through populator.cli.task_options). Adding a flag is one entry
at the end of `FLAGS` (give it `tasks=(...)` to show it in `inv run_emr` / `inv run_local`).

Secrets never travel here: the storage config is read from a file (or a pipe).
Cluster code: Python 3.9, standard library only.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, make_dataclass
from datetime import datetime
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from populator.core.errors import UserError
from populator.core.since import parse_since
from populator.core.write.fast_put import WRITERS

DEFAULT_IN_FLIGHT = 32
BOTH = ("run_emr", "run_local")


def _since(text: str) -> datetime:
    try:
        return parse_since(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _number(
    convert: Callable[[str], Any], accepts: Callable[[Any], bool], expected: str
) -> Callable[[str], Any]:
    """An argparse type: `convert` the text, keep it if `accepts` holds, else say `expected`."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_INF = float("inf")
_positive = _number(int, lambda value: value >= 1, "a whole number >= 1")
# Fractions allowed: tests publish every 0.2 s. NaN fails every comparison, so it is refused.
_seconds = _number(float, lambda value: 0 < value < _INF, "a number of seconds > 0")
_rate = _number(float, lambda value: 0 < value < _INF, "a number of writes/s > 0")
_share = _number(float, lambda value: 0 < value <= 1, "a fraction in (0, 1]")


def _capacity(text: str) -> str:
    from populator.core.import_table import parse_capacity

    try:
        parse_capacity(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


_TYPES: Dict[str, Callable[[str], Any]] = {
    "positive": _positive,
    "since": _since,
    "seconds": _seconds,
    "rate": _rate,
    "share": _share,
    "capacity": _capacity,
}


@dataclass(frozen=True)
class Flag:
    """One job flag. `kind`: "text", "bool", "choice", or a key of `_TYPES` ("positive" is a
    whole number >= 1, "seconds" and "rate" numbers > 0, "share" a fraction in (0, 1])."""

    name: str  # "--in-flight"
    help: str  # the job's --help text
    kind: str = "text"
    default: Any = None
    required: bool = False
    choices: Tuple[str, ...] = ()
    tasks: Tuple[str, ...] = ()  # invoke tasks that expose it as an option
    task_help: Optional[str] = None  # what `inv --help TASK` says (default: `help`)

    @property
    def dest(self) -> str:
        return self.name[2:].replace("-", "_")

    @property
    def type(self) -> Optional[Callable[[str], Any]]:
        return _TYPES.get(self.kind)


FLAGS: Tuple[Flag, ...] = (
    Flag(
        "--enriched-archive",
        "s3://, s3a://, s3n://, file:// or a local dir",
        required=True,
    ),
    Flag("--storage-config", "validated storage config: path or S3 URI", required=True),
    Flag(
        "--since",
        "process runs at or after YYYY-MM-DD[-HH-MM-SS] (UTC)",
        kind="since",
        tasks=BOTH,
        task_help="only runs at or after YYYY-MM-DD or YYYY-MM-DD-HH-MM-SS (UTC)",
    ),
    Flag(
        "--run-manifest-table",
        "skip runs recorded here; record runs when written",
        tasks=BOTH,
        task_help="DynamoDB run-manifest table: skip recorded runs, record new ones",
    ),
    Flag(
        "--report",
        "write the JSON report to this path or S3 URI",
        tasks=("run_local",),
        task_help="also write the JSON report to this path or S3 URI",
    ),
    Flag(
        "--bad-rows",
        "write malformed lines with their reason under this path or S3 prefix",
        tasks=BOTH,
    ),
    Flag(
        "--in-flight",
        "concurrent writes per partition",
        kind="positive",
        default=DEFAULT_IN_FLIGHT,
        tasks=BOTH,
        task_help="concurrent conditional writes per Spark partition (default 32)",
    ),
    Flag(
        "--endpoint-url",
        "AWS endpoint for S3 and DynamoDB (else AWS_ENDPOINT_URL)",
        tasks=("run_local",),
        task_help="AWS endpoint for S3 and DynamoDB (default: AWS_ENDPOINT_URL)",
    ),
    Flag(
        "--include-expired",
        "also write items whose ttl has passed",
        kind="bool",
        default=False,
        tasks=BOTH,
        task_help="also write items whose 180-day ttl has already passed",
    ),
    Flag(
        "--accept-read-errors",
        "record runs with unreadable files anyway",
        kind="bool",
        default=False,
        tasks=BOTH,
        task_help="record runs with unreadable files as processed anyway",
    ),
    Flag("--dynamodb-endpoint-url", "DynamoDB endpoint only (default: --endpoint-url)"),
    Flag(
        "--retry-attempts",
        "attempts per write before the task fails",
        kind="positive",
        default=16,
    ),
    Flag(
        "--batches",
        "write runs in this many checkpointed batches",
        kind="positive",
        default=10,
    ),
    Flag("--partitions", "write partitions (default: from the data size)", kind="positive"),
    Flag(
        "--writer",
        "PutItem path: fast (botocore-signed, a quarter or less of boto3's CPU) or boto3",
        kind="choice",
        default="fast",
        choices=tuple(WRITERS),
    ),
    # ---- flags added by other parts of the job go below this line, one entry each ----------
    Flag(
        "--method",
        "write: conditional PutItems into an existing table; import: create the table with "
        "DynamoDB ImportTable (the table must not exist)",
        kind="choice",
        default="write",
        choices=("write", "import"),
        tasks=BOTH,
        task_help="auto (default): import when the events-manifest table does not exist, else "
        "write; write: conditional writes; import: ImportTable creates the table (it must not "
        "exist)",
    ),
    Flag(
        "--import-prefix",
        "S3 prefix of the staged import files (default s3://ARCHIVE_BUCKET/populator/import/)",
        tasks=BOTH,
        task_help="with --method import: S3 prefix for the staged DynamoDB JSON files "
        "(default: populator/import/ in the archive bucket, or beside --assets)",
    ),
    Flag(
        "--keep-import-files",
        "keep the staged files after the import COMPLETED",
        kind="bool",
        default=False,
        tasks=BOTH,
    ),
    Flag(
        "--import-capacity",
        "READ,WRITE provisioned capacity of the imported table (default: on demand)",
        kind="capacity",
        tasks=BOTH,
    ),
    Flag(
        "--max-write-rate",
        "writes/s for the whole backfill, across every task and executor (default: none, "
        "or --write-share of a provisioned table's write capacity)",
        kind="rate",
        tasks=BOTH,
    ),
    Flag(
        "--write-share",
        "fraction of a PROVISIONED table's current write capacity the backfill may use when "
        "--max-write-rate is not given (default 0.5; on-demand tables get no default cap)",
        kind="share",
        default=0.5,
        tasks=BOTH,
    ),
    Flag(
        "--progress-interval",
        "publish progress every this many seconds (default 30; a last one on exit)",
        kind="seconds",
        default=30.0,
        tasks=BOTH,
    ),
    Flag(
        "--progress-uri",
        "write progress JSON here (path or S3 URI; default: beside an S3 --report)",
    ),
)

_FIELD_TYPES = {
    "bool": bool,
    "positive": Optional[int],
    "since": Optional[datetime],
    "seconds": Optional[float],
    "rate": Optional[float],
    "share": Optional[float],
}


def _options_class() -> type:
    required = [(f.dest, str) for f in FLAGS if f.required]
    optional = [
        (f.dest, _FIELD_TYPES.get(f.kind, Optional[str]), field(default=f.default))
        for f in FLAGS
        if not f.required
    ]
    cls = make_dataclass("JobOptions", [*required, *optional], frozen=True)
    cls.__module__ = __name__
    cls.__doc__ = "The job's options, one field per entry of FLAGS."
    return cls


JobOptions = _options_class()


def flag(dest: str) -> Flag:
    for entry in FLAGS:
        if entry.dest == dest:
            return entry
    raise KeyError(dest)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="populate_manifest.py",
        description="Back-populate the Snowplow events manifest from the enriched archive.",
    )
    for entry in FLAGS:
        if entry.kind == "bool":
            p.add_argument(entry.name, action="store_true", help=entry.help)
            continue
        kwargs: Dict[str, Any] = {"help": entry.help, "default": entry.default}
        if entry.required:
            kwargs["required"] = True
        if entry.type is not None:
            kwargs["type"] = entry.type
        if entry.choices:
            kwargs["choices"] = list(entry.choices)
        p.add_argument(entry.name, **kwargs)
    return p


def parse_options(argv: List[str]) -> Any:
    """Parse argv into JobOptions; argparse exits 2 with a usage message on bad arguments."""
    return JobOptions(**vars(parser().parse_args(argv)))


def to_argv(values: Mapping[str, Any]) -> List[str]:
    """The job's command line for `values` (by dest), in FLAGS order. A value that is None,
    False or missing is left out, so a request (and its digest) only changes when the user
    asks for something; the job then applies its own default."""
    unknown = set(values) - {entry.dest for entry in FLAGS}
    if unknown:
        raise KeyError(f"not job flags: {sorted(unknown)}")
    argv: List[str] = []
    for entry in FLAGS:
        value = values.get(entry.dest)
        if value is None or value is False:
            continue
        if entry.kind == "bool":
            argv.append(entry.name)
            continue
        check(entry, value)
        argv += [entry.name, str(value)]
    return argv


def check(entry: Flag, value: Any) -> None:
    """The job's own check of a value, run by the launcher before anything starts."""
    if entry.choices and str(value) not in entry.choices:
        raise UserError(f"{entry.name} {value!r}: expected one of {', '.join(entry.choices)}")
    if entry.type is not None and isinstance(value, str):
        try:
            entry.type(value)
        except (argparse.ArgumentTypeError, ValueError) as error:
            raise UserError(f"{entry.name} {value!r}: {error}") from None


def task_flags(task: str) -> Sequence[Flag]:
    """The job flags the invoke task `task` exposes, in FLAGS order."""
    return [entry for entry in FLAGS if task in entry.tasks]


def task_help(task: str) -> Dict[str, str]:
    return {entry.dest: entry.task_help or entry.help for entry in task_flags(task)}


def task_default(entry: Flag) -> Any:
    """What invoke sees: False for a switch, else None (unset: the job's default applies)."""
    return False if entry.kind == "bool" else None


def dynamodb_endpoint(options: Any) -> Optional[str]:
    return options.dynamodb_endpoint_url or options.endpoint_url
