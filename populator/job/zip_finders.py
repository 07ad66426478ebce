"""Forget the cached zip finders, so that each Spark task does not re-read every archive.

PySpark's worker calls `importlib.invalidate_caches()` at the start of every task. On Python
3.10 and later a zip finder's `invalidate_caches` re-reads its archive's whole directory, and
a worker holds one finder per imported package inside pyspark.zip, py4j's zip and the
spark-core jar Spark puts on its path: about 70 ms of CPU per task, more than a small task's
work. Dropping the finders from `sys.path_importer_cache` is safe (it is only a cache: the
next import from an archive makes a new finder from zipimport's directory cache, without
reading the archive again). Python 3.9 (EMR) has no such cost, and this changes nothing there.
Cluster code: Python 3.9.
"""

from __future__ import annotations

import sys
import zipimport

__all__ = ["forget_zip_finders"]


def forget_zip_finders() -> int:
    """Drop the zip finders cached for sys.path entries and package paths; how many."""
    cache = sys.path_importer_cache
    paths = [p for p, finder in list(cache.items()) if isinstance(finder, zipimport.zipimporter)]
    for path in paths:
        cache.pop(path, None)
    return len(paths)
