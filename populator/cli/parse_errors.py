"""invoke's own parse errors (an unknown flag, an extra word) exit 2, as the README promises.

invoke's Program.run maps a ParseError to exit 1 and gives no hook for it; `tasks.py` is
imported by Program.parse_collection, before Program.parse_tasks parses the task's flags. So
importing this module from tasks.py wraps parse_tasks: its ParseError becomes `Exit(code=2)`
with the same one-line message, prefixed `error:` like every other bad input. Core-option
errors (`inv --bogus`) happen before tasks.py is loaded and keep invoke's exit 1.
Relies on invoke 3.0's Program.parse_tasks (pinned in requirements.txt).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from invoke.exceptions import Exit, ParseError
from invoke.program import Program

from populator.core.errors import EXIT_BAD_INPUT

_MARK = "_populator_exit_2"


def _exit_2(parse_tasks: Callable[[Any], None]) -> Callable[[Any], None]:
    @functools.wraps(parse_tasks)
    def wrapper(self: Any) -> None:
        try:
            parse_tasks(self)
        except ParseError as error:
            raise Exit(
                message=f"error: {error} (see `inv --help TASK`)", code=EXIT_BAD_INPUT
            ) from None

    setattr(wrapper, _MARK, True)
    return wrapper


def install() -> None:
    if not getattr(Program.parse_tasks, _MARK, False):
        Program.parse_tasks = _exit_2(Program.parse_tasks)  # type: ignore[method-assign]
