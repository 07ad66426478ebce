"""What every command shares: one-paragraph errors, exit codes, and secret-proof output."""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any, Callable, TypeVar

from invoke.exceptions import Exit

from populator.core.errors import (
    EXIT_BAD_INPUT,
    EXIT_CANCELLED,
    Cancelled,
    JobFailed,
    StillRunning,
    UserError,
    aws_user_error,
)
from populator.launcher.signals import Signals, Terminated, interrupt_name

__all__ = ["Signals", "Terminated", "command", "eprint", "interrupt_name", "notice"]

F = TypeVar("F", bound=Callable[..., Any])

_redactor = None


def redactor():
    """The process-wide redactor; stdout and stderr are wrapped so no secret is ever printed."""
    global _redactor
    if _redactor is None:
        from populator.launcher.redact import RedactingStream, Redactor

        _redactor = Redactor()
        if not isinstance(sys.stdout, RedactingStream):
            sys.stdout = RedactingStream(sys.stdout, _redactor)
        if not isinstance(sys.stderr, RedactingStream):
            sys.stderr = RedactingStream(sys.stderr, _redactor)
    return _redactor


MIN_ACCEPTED_SECRET = 8
_JSON_WORDS = ("true", "false", "null")


def protect_secret(secret: str) -> None:
    """Mask `secret` in all output; refuse one too trivial to mask (`true`, `1234`): it
    would hide ordinary words and break `--json` without protecting anything."""
    if isinstance(secret, str) and (
        len(secret) < MIN_ACCEPTED_SECRET
        or secret.lower() in _JSON_WORDS
        or secret.replace(".", "", 1).isdigit()
    ):
        raise UserError(
            f"a secret in the configs (an AWS secretAccessKey or an Iglu apikey) is only "
            f"{len(secret)} characters long or a bare word/number: that cannot be a real key "
            "(AWS secret access keys have 40 characters), and it could not be kept out of the "
            "output; put the real secret in the file"
        )
    redactor().add(secret)


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def notice(message: str) -> None:
    eprint(f"notice: {message}")


def command(func: F) -> F:
    """Turn our errors into `error: …` on stderr and the documented exit code, never a trace."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        redactor()
        try:
            return func(*args, **kwargs)
        except (UserError, JobFailed, Cancelled, StillRunning) as error:
            eprint(f"error: {error}")
            raise Exit(code=error.exit_code) from None
        except BrokenPipeError:
            # `inv list_runs | head`: the reader left; not an error worth a traceback.
            _silence_stdout()
            raise Exit(code=0) from None
        except KeyboardInterrupt:
            eprint("error: interrupted")
            raise Exit(code=EXIT_CANCELLED) from None
        except Exit:
            raise
        except Exception as error:
            user_error = as_user_error(error)
            if user_error is None:
                raise
            eprint(f"error: {user_error}")
            raise Exit(code=getattr(user_error, "exit_code", EXIT_BAD_INPUT)) from None

    return wrapper  # type: ignore[return-value]


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(devnull, sys.__stdout__.fileno())


def as_user_error(error: BaseException) -> Any:
    """Config errors and every AWS failure (populator.core.errors.aws_user_error, the one
    mapping) are the user's to fix, or a server's: say so plainly, never a traceback."""
    name = type(error).__name__
    if name in ("ConfigError", "StorageConfigError", "BundleError"):
        return error
    return aws_user_error(error)
