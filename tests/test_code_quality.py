"""Lint and compatibility gates, run by the same test command as everything else.

Code shipped to EMR 7 (the job and every populator module it imports) must parse and run on
Python 3.9; `vermin` checks the minimum version, `ruff` the style of the whole tree.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Set

from populator.launcher.bundle import cluster_modules

ROOT = Path(__file__).resolve().parent.parent
JOB = ROOT / "spark_jobs" / "populate_manifest.py"


def job_modules() -> Set[Path]:
    """The job script plus the populator modules it imports (the bundle's own closure)."""
    modules = {JOB}
    for name in cluster_modules():
        base = ROOT.joinpath(*name.split("."))
        modules.add(base / "__init__.py" if base.is_dir() else base.with_suffix(".py"))
    return modules


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cluster_code_runs_on_python_3_9() -> None:
    modules = sorted(str(p) for p in job_modules())
    assert any(m.endswith("populator/job/driver.py") for m in modules)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vermin; sys.exit(vermin.main())",
            "--target=3.9-",
            "--no-tips",
            "--violations",
            "--eval-annotations",
            *modules,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for module in modules:
        ast.parse(Path(module).read_text(), module, feature_version=(3, 9))


def _top_level_imports(path: Path) -> Set[str]:
    """Modules imported at module level (not inside a function: those are lazy)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    found: Set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_the_product_never_imports_dev_code() -> None:
    """populator/ is shipped; devkit/, benchmarks/ and tests/ are not (no import at all)."""
    offenders = []
    for path in sorted((ROOT / "populator").rglob("*.py")):
        tree = ast.parse(path.read_bytes(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in ("devkit", "benchmarks", "tests")
            ]
    assert offenders == []


def test_tasks_import_dev_code_only_lazily() -> None:
    """`inv run_emr` must load without devkit/benchmarks: they are imported inside the
    demo/bench/reliability task bodies only."""
    eager = _top_level_imports(ROOT / "tasks.py")
    assert not {m for m in eager if m.split(".")[0] in ("devkit", "benchmarks", "tests")}
