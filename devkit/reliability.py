"""`inv reliability`: run the reliability tests bigger and print the figures the README records."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import Dict

from devkit.figures import load

FIGURES = ("faults_injected", "writes_verified", "kills_survived", "inputs_tried")


def run(kills: int = 5, scale: int = 20) -> int:
    with tempfile.TemporaryDirectory(prefix="reliability-") as scratch:
        figures_path = os.path.join(scratch, "figures.jsonl")
        env = dict(os.environ)
        env.update(
            POPULATOR_FIGURES=figures_path,
            POPULATOR_KILLS=str(kills),
            POPULATOR_HOSTILE_SCALE=str(scale),
        )
        code = subprocess.call(
            [sys.executable, "-m", "pytest", "-q", "-m", "reliability", "-p", "no:cacheprovider"],
            env=env,
        )
        rows = load(figures_path)
    totals: Dict[str, int] = {name: 0 for name in FIGURES}
    print("\nReliability figures")
    print(f"  {'check':28} " + " ".join(f"{name:>16}" for name in FIGURES))
    for row in rows:
        for name in FIGURES:
            totals[name] += int(row.get(name, 0))
        cells = " ".join(f"{row.get(name, ''):>16}" for name in FIGURES)
        print(f"  {row['test']:28} {cells}")
    secrets = sum(int(row.get("secrets_found", 0)) for row in rows)
    print(f"  {'total':28} " + " ".join(f"{totals[name]:>16}" for name in FIGURES))
    print(f"  secrets found: {secrets}   pytest exit code: {code}")
    return code
