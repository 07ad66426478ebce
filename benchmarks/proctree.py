"""Peak memory of a process tree, sampled from /proc (Linux), grouped by role.

Spark's local mode runs as a tree: spark-submit's JVM (driver and executor), the Python
driver running the job script, and pyspark's daemon with the Python workers it forks. PSS
(proportional set size, from smaps_rollup) is summed per role, so pages the forked workers
share are not counted once per worker; the largest single RSS is kept too.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

ROLES = ("JVM", "Python driver", "Python workers")


def classify(argv: List[str]) -> Optional[str]:
    """The role of a process from its command line, or None (shell wrappers and the like)."""
    if not argv:
        return None
    program = os.path.basename(argv[0])
    if program == "java":
        return "JVM"
    if program.startswith("python"):
        text = " ".join(argv)
        if "pyspark.daemon" in text or "pyspark.worker" in text:
            return "Python workers"
        return "Python driver"
    return None


def _children_map() -> Dict[int, List[int]]:
    children: Dict[int, List[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    return children


def descendants(root: int) -> List[int]:
    children = _children_map()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _memory(pid: int) -> Tuple[int, int]:
    """(PSS, RSS) in bytes; (0, 0) when the process is gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
    except OSError:
        return 0, 0
    return pss, rss


def _argv(pid: int) -> List[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [part.decode("utf-8", "replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


@dataclass
class Peaks:
    pss: Dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROLES, 0))
    largest_rss: Dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROLES, 0))
    processes: Dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROLES, 0))
    samples: int = 0


class TreeSampler:
    """Samples the tree under `root` every `interval` seconds until `stop()`."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        self.root = root
        self.interval = interval
        self.peaks = Peaks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> Peaks:
        self._stop.set()
        self._thread.join()
        return self.peaks

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        totals = dict.fromkeys(ROLES, 0)
        counts = dict.fromkeys(ROLES, 0)
        for pid in descendants(self.root):
            role = classify(_argv(pid))  # not cached: spark-class execs java in place
            if role is None:
                continue
            pss, rss = _memory(pid)
            if not rss:
                continue
            totals[role] += pss
            counts[role] += 1
            self.peaks.largest_rss[role] = max(self.peaks.largest_rss[role], rss)
        for role in ROLES:
            self.peaks.pss[role] = max(self.peaks.pss[role], totals[role])
            self.peaks.processes[role] = max(self.peaks.processes[role], counts[role])
        self.peaks.samples += 1
