"""Errors that end a command with a message and an exit code instead of a traceback."""

from __future__ import annotations

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_STILL_RUNNING = 3
EXIT_CANCELLED = 130


class UserError(Exception):
    """Bad input: the message is one paragraph naming what, where and what was expected."""

    exit_code = EXIT_BAD_INPUT


class JobFailed(Exception):
    """The backfill ran and failed; the message says why and what to do."""

    exit_code = EXIT_JOB_FAILED


class StillRunning(Exception):
    exit_code = EXIT_STILL_RUNNING


class Cancelled(Exception):
    exit_code = EXIT_CANCELLED
