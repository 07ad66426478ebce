"""What a local run puts in the temp folder, and how none of it outlives the run.

- The storage config (with its secret) reaches the job through a named pipe (FIFO) in a
  private 0700 folder `populator-<pid>-<hex>/`: the launcher writes it when the job opens the
  pipe and unlinks the pipe at that moment. A FIFO holds no data on disk, so nothing secret
  outlives the run whatever kills the launcher; at worst (SIGKILL before the job started) an
  empty pipe is left, which the next run sweeps. An inherited fd would not do: the JVM closes
  every descriptor but 0-2 for its Python child.
- Spark's own scratch (`blockmgr-*`, `spark-*`, the Python workers' temporary files) goes to
  a private `populator-<pid>-<hex>-spark/` beside it (spark.local.dir, java.io.tmpdir and
  TMPDIR), removed when the job has stopped, and by the next run if a SIGKILL took the
  launcher first: a killed JVM runs no shutdown hook, so Spark cannot clean up itself.

Both folders carry the launcher's pid, so a sweep removes only those whose launcher is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets as random_names
import shutil
import stat
import threading
from typing import List, Optional

__all__ = ["Scratch", "SecretPipe", "pipe_folder", "scratch_folder", "sweep_stale_folders"]

PIPE_FOLDER = re.compile(r"^populator-(\d+)-[0-9a-f]{16}$")
SCRATCH_FOLDER = re.compile(r"^populator-(\d+)-[0-9a-f]{16}-spark$")
PIPE_NAME = "storage-config.json"


def pipe_folder(tmp: str) -> str:
    """A private folder for the pipe, named by this launcher's pid so a later run can tell a
    folder whose launcher was SIGKILLed before the job opened the pipe."""
    return os.path.join(tmp, f"populator-{os.getpid()}-{random_names.token_hex(8)}")


def scratch_folder(pipe_path: str) -> str:
    """Spark's scratch folder for the run whose pipe is `pipe_path` (the same pid and token)."""
    return os.path.dirname(pipe_path) + "-spark"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(name: str, pattern: re.Pattern) -> bool:
    match = pattern.match(name)
    return match is not None and not _alive(int(match.group(1)))


def sweep_stale_folders(tmp: str) -> List[str]:
    """Remove the pipe folders and Spark scratch folders of launchers that are gone (SIGKILL
    cannot be caught). A pipe folder is removed only if it holds nothing but our FIFO (which
    holds no data: nothing secret was left); a scratch folder is Spark's alone."""
    removed: List[str] = []
    try:
        names = os.listdir(tmp)
    except OSError:
        return removed
    for name in names:
        folder = os.path.join(tmp, name)
        if _stale(name, SCRATCH_FOLDER) and not os.path.islink(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        elif _stale(name, PIPE_FOLDER):
            pipe = os.path.join(folder, PIPE_NAME)
            with contextlib.suppress(OSError):
                if os.listdir(folder) == [PIPE_NAME] and stat.S_ISFIFO(os.lstat(pipe).st_mode):
                    os.unlink(pipe)
                os.rmdir(folder)
                removed.append(folder)
    return removed


class Scratch:
    """Spark's private scratch folder for one run: created before the job, removed after."""

    def __init__(self, path: str) -> None:
        self.path = path

    def open(self) -> None:
        os.mkdir(self.path, 0o700)

    def close(self) -> None:
        """The job has stopped (its whole process tree): nothing in here is used any more."""
        shutil.rmtree(self.path, ignore_errors=True)


class SecretPipe:
    """The storage config through a FIFO: written once when the job opens it, never on disk."""

    def __init__(self, path: str, payload: bytes) -> None:
        self.path = path
        self.folder = os.path.dirname(path)
        self._payload = payload
        self._thread: Optional[threading.Thread] = None

    def open(self) -> None:
        sweep_stale_folders(os.path.dirname(self.folder))
        os.mkdir(self.folder, 0o700)
        os.mkfifo(self.path, 0o600)
        self._thread = threading.Thread(target=self._serve, name="storage-config", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(self.path, os.O_WRONLY)  # blocks until the job opens the pipe
            try:
                self._remove()  # opened: nobody else can reach it any more
                os.write(fd, self._payload)
            finally:
                os.close(fd)

    def _remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.rmdir(self.folder)

    def close(self) -> None:
        """The job ended (or never read it): release the writer and remove the pipe."""
        if self._thread is not None and self._thread.is_alive():
            with contextlib.suppress(OSError):
                reader = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
                self._thread.join(timeout=5)
                os.close(reader)
        self._remove()
