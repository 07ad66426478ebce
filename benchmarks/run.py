"""Run every benchmark and regenerate BENCHMARKS.md: `python3 -m invoke bench [--quick]`.

Also runnable as `python3 -m benchmarks.run [--quick] [--output PATH] [--only 1,2,...]`.
The full run takes about 8-10 minutes on 2 cores (the 1M-event end-to-end job is half of
it); `--quick` shrinks every size for a smoke run whose numbers mean little.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from benchmarks import (
    amplification,
    budget,
    capacity,
    end_to_end,
    import_cost,
    latency,
    machine,
    parse,
    small_files,
    write_cost,
)
from benchmarks.report import render
from benchmarks.results import Section
from benchmarks.spark_run import Runner, submit
from populator.launcher.signals import Signals, Terminated, interrupt_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(ROOT, "BENCHMARKS.md")
WORKDIR = os.path.join(ROOT, "benchmarks", "out")  # gitignored scratch space


@dataclass(frozen=True)
class Sizes:
    parse_lines: int
    parse_distinct: int
    parse_rounds: int
    writes_per_round: int
    write_rounds: int
    latency_in_flights: Tuple[int, ...]
    latency_seconds: float
    latency_repeats: int
    capacity_scenarios: Tuple[capacity.Scenario, ...]
    amplification_events: int
    end_to_end_events: Tuple[int, ...]
    budget_events: int = 200
    import_events_per_run: int = 25
    small_files: int = 200


# Every size for the full run and for --quick, side by side: name -> (full, quick).
_SIZES: Dict[str, Tuple[Any, Any]] = {
    "parse_lines": (1_000_000, 30_000),
    "parse_distinct": (20_000, 3_000),
    "parse_rounds": (10, 3),
    "writes_per_round": (2_000, 200),
    "write_rounds": (5, 2),
    "latency_in_flights": ((8, 16, 32, 64), (8, 32)),
    "latency_seconds": (2.0, 0.3),
    "latency_repeats": (3, 1),
    "capacity_scenarios": (
        (capacity.Scenario(1000, 4, 3000), capacity.Scenario(100, 8, 150)),
        (capacity.Scenario(400, 2, 300),),
    ),
    "amplification_events": (20_000, 2_000),
    "end_to_end_events": ((100_000, 1_000_000), (3_000, 12_000)),
    "budget_events": (600, 200),
    "import_events_per_run": (100, 25),
    "small_files": (2000, 200),
}
FULL = Sizes(**{name: full for name, (full, _) in _SIZES.items()})
QUICK = Sizes(**{name: quick for name, (_, quick) in _SIZES.items()})


def run_all(
    sizes: Sizes,
    only: Optional[Sequence[int]] = None,
    runner: Runner = submit,
    workdir: str = WORKDIR,
    log: Callable[[str], None] = print,
) -> List[Section]:
    """Run the selected benchmarks (1-9) in order; 3 reuses 2's CPU bound."""
    os.makedirs(workdir, exist_ok=True)
    wanted = set(only or range(1, 10))
    sections: List[Section] = []
    cpu_bound: Optional[float] = None
    steps: Dict[int, Callable[[], Section]] = {
        1: lambda: parse.run(sizes.parse_lines, sizes.parse_distinct, sizes.parse_rounds),
        2: lambda: write_cost.run(sizes.writes_per_round, sizes.write_rounds),
        3: lambda: latency.run(
            10.0,
            sizes.latency_in_flights,
            sizes.latency_seconds,
            sizes.latency_repeats,
            cpu_bound or _cpu_bound(sizes),
        ),
        4: lambda: capacity.run(sizes.capacity_scenarios),
        5: lambda: amplification.run(sizes.amplification_events, workdir, runner, log),
        6: lambda: end_to_end.run(list(sizes.end_to_end_events), workdir, runner, log),
        7: lambda: budget.run(sizes.budget_events, workdir, runner, log),
        8: lambda: import_cost.run(sizes.import_events_per_run),
        9: lambda: small_files.run(sizes.small_files),
    }
    for number in sorted(wanted):
        started = time.perf_counter()
        log(f"benchmark {number} ...")
        section = steps[number]()
        section.facts["seconds"] = time.perf_counter() - started
        log(f"benchmark {number} done in {section.facts['seconds']:.0f} s")
        if number == 2:
            cpu_bound = section.facts["cpu_bound_per_core"]
        sections.append(section)
    return sections


def _cpu_bound(sizes: Sizes) -> float:
    """Benchmark 3 alone still needs 2's CPU bound: measure it briefly."""
    return write_cost.run(max(200, sizes.writes_per_round // 4), 1).facts["cpu_bound_per_core"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="markdown file to write")
    parser.add_argument("--only", help="comma list of benchmark numbers (1-9)")
    args = parser.parse_args(argv)
    only = [int(part) for part in args.only.split(",")] if args.only else None
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    os.environ.setdefault("POPULATOR_IGLU_OFFLINE", "1")
    started = time.perf_counter()
    description = machine.describe()

    def log(message: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
        print(f"[{stamp} +{time.perf_counter() - started:5.0f}s] {message}", flush=True)

    with Signals():
        try:
            sections = run_all(QUICK if args.quick else FULL, only, log=log)
        except (KeyboardInterrupt, Terminated) as interrupt:
            log(
                f"{interrupt_name(interrupt)}: stopped the benchmarks and their jobs and "
                f"endpoints; {args.output} is unchanged"
            )
            return 130
    markdown = render(sections, description, time.perf_counter() - started, args.quick)
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(markdown)
    log(f"wrote {args.output}")
    missed = [row.item for section in sections for row in section.rows if row.met is False]
    for item in missed:
        log(f"missed: {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
