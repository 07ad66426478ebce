"""Spark tasks do not re-read every zip on the path (populator.job.zip_finders)."""

from __future__ import annotations

import importlib
import sys
import zipfile
import zipimport
from pathlib import Path

from populator.job.zip_finders import forget_zip_finders


def test_forgotten_zip_finders_still_import_and_are_not_reread(tmp_path: Path) -> None:
    archive = tmp_path / "pkgs.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("zipped_pkg/__init__.py", "")
        zipped.writestr("zipped_pkg/first.py", "VALUE = 1\n")
        zipped.writestr("zipped_pkg/second.py", "VALUE = 2\n")
    sys.path.insert(0, str(archive))
    try:
        first = importlib.import_module("zipped_pkg.first")
        assert first.VALUE == 1
        assert forget_zip_finders() >= 2  # the archive's and the package's
        finders = sys.path_importer_cache.values()
        assert not [f for f in finders if isinstance(f, zipimport.zipimporter)]
        reads = []
        original = zipimport._read_directory
        zipimport._read_directory = lambda path: reads.append(path) or original(path)
        try:
            importlib.invalidate_caches()  # what PySpark's worker does before every task
            assert reads == []
            assert importlib.import_module("zipped_pkg.second").VALUE == 2
            assert reads == []  # a new finder comes from zipimport's directory cache
        finally:
            zipimport._read_directory = original
    finally:
        sys.path.remove(str(archive))
        for name in ("zipped_pkg", "zipped_pkg.first", "zipped_pkg.second"):
            sys.modules.pop(name, None)
        forget_zip_finders()
