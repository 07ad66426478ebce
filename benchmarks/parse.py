"""1. Parse: events/s per core of `populator.core.events.parse_line` vs a naive full-split parser.

The naive baseline does what a straightforward implementation (and the original tooling)
does: split all 131 fields, check the count, validate the UUID with `uuid.UUID`, parse
etl_tstamp with `strptime`. A second baseline only splits and picks the three fields, with no
validation at all: the floor of any full-split parser, shown so the reader sees where the
speed comes from. Implementations alternate in rounds over the same lines (a distinct set,
cycled) and CPU time is `time.process_time()` of this single-threaded process.
"""

from __future__ import annotations

import calendar
import random
import time
import uuid
from datetime import datetime, timedelta
from itertools import cycle, islice
from typing import Callable, Dict, List, Tuple

from benchmarks.archives import line_maker
from benchmarks.results import Row, Section, fmt, spread, times
from devkit.sample_archive import tstamp
from populator.core.events import parse_line

TARGET = 3.0


def naive_parse(line: str) -> Tuple[str, str, int]:
    """Full split, then the same checks done the obvious way."""
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) not in (130, 131):
        raise ValueError("field count")
    event_id = str(uuid.UUID(fields[6]))
    moment = datetime.strptime(fields[2][:19], "%Y-%m-%d %H:%M:%S")
    fingerprint = fields[129]
    if not fingerprint:
        raise ValueError("no fingerprint")
    return event_id, fingerprint, calendar.timegm(moment.timetuple())


def bare_split(line: str) -> Tuple[str, str, str]:
    """Split and pick the fields; no validation, no timestamp conversion."""
    fields = line.split("\t")
    return fields[6], fields[129], fields[2]


def sample_lines(count: int, seed: int = 3) -> List[str]:
    """Distinct 131-field lines; etl times spread over a day (stream-enrich-like seconds)."""
    rng = random.Random(seed)
    line = line_maker()
    base = datetime(2024, 5, 1, 0, 0, 0)
    return [
        line(
            str(uuid.UUID(int=rng.getrandbits(128))),
            tstamp(base + timedelta(seconds=rng.randrange(86_400)), rng.randrange(1000)),
            f"{rng.getrandbits(128):032x}",
        )
        + "\n"
        for _ in range(count)
    ]


def _cpu_seconds(parse: Callable[[str], object], lines: List[str]) -> float:
    started = time.process_time()
    for line in lines:
        parse(line)
    return time.process_time() - started


def run(total_lines: int, distinct: int, rounds: int) -> Section:
    section = Section(1, "Parse")
    pool = sample_lines(distinct)
    assert parse_line(pool[0])[:2] == naive_parse(pool[0])[:2]
    per_round = max(1, total_lines // rounds)
    parsers: Dict[str, Callable[[str], object]] = {
        "populator.core.events.parse_line": parse_line,
        "naive full split + uuid + strptime": naive_parse,
        "bare full split (no checks)": bare_split,
    }
    cpu: Dict[str, List[float]] = {name: [] for name in parsers}
    source = cycle(pool)
    for _ in range(rounds):
        lines = list(islice(source, per_round))
        for name, parse in parsers.items():
            cpu[name].append(_cpu_seconds(parse, lines))
    lines_each = per_round * rounds
    rate = {name: lines_each / sum(values) for name, values in cpu.items()}
    ours, naive, bare = (rate[name] for name in parsers)
    ratios = [n / o for o, n in zip(cpu["populator.core.events.parse_line"], cpu[list(parsers)[1]])]
    ours_cpu = cpu["populator.core.events.parse_line"]
    bare_ratios = [b / o for o, b in zip(ours_cpu, cpu[list(parsers)[2]])]
    ratio = ours / naive
    section.rows.append(
        Row(
            "1. Parse: events/s per core vs naive full split",
            f"{fmt(ours)} vs {fmt(naive)}",
            times(ratio),
            f">= {TARGET:.0f}x",
            ratio >= TARGET,
            f"rounds: {spread(ratios)}x"
            + (
                ""
                if ratio >= TARGET
                else f"; short by {(1 - ratio / TARGET) * 100:.0f} % (see 'What the numbers "
                "decided')"
            ),
        )
    )
    section.rows.append(
        Row(
            "1b. Parse vs a bare split with no validation",
            f"{fmt(ours)} vs {fmt(bare)}",
            times(ours / bare),
            "none (floor)",
            None,
            "the bare split validates and converts nothing: the floor of any full-split "
            "parser; parse_line does both and stays within "
            f"{max(ours, bare) / min(ours, bare):.1f}x of it",
        )
    )
    section.details += [
        f"{fmt(lines_each)} lines per parser ({fmt(distinct)} distinct, cycled), "
        f"{rounds} alternating rounds; CPU time of one thread.",
        "",
        "| parser | events/s per core | µs per line |",
        "|---|---:|---:|",
    ]
    for name in parsers:
        section.details.append(f"| {name} | {fmt(rate[name])} | {1e6 / rate[name]:.2f} |")
    section.details.append("")
    section.facts["bare_ratio_rounds"] = bare_ratios
    section.facts["micros"] = {name: 1e6 / value for name, value in rate.items()}
    section.facts["ratio"] = ratio
    return section
