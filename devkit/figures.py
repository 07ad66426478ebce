"""Reliability figures: tests append what they injected and verified when asked to.

`inv reliability` sets POPULATOR_FIGURES to a file, runs the reliability tests, then sums the
figures into the table the README records. In a plain test run nothing is written.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List


def record(test: str, **figures: Any) -> None:
    path = os.environ.get("POPULATOR_FIGURES")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"test": test, **figures}) + "\n")


def load(path: str) -> List[Dict[str, Any]]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default
