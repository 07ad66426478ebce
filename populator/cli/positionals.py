"""Positional task arguments that may be missing, so the task itself reports it (exit 2).

invoke either requires a positional argument (a missing one is a parse error: exit 1 with
invoke's own message) or makes it a flag only. `inv run_emr ARCHIVE STORAGE RESOLVER` needs
both spellings (`--enriched-archive` too) and our one-paragraph error with exit code 2. A task
made with `@task(klass=OptionalPositionalTask, positional=[...])` gets positionals that are
filled from bare words as usual but become "" when not given; the task validates them.
Relies on invoke 3.0's ParseMachine.complete_context (pinned in requirements.txt).
"""

from __future__ import annotations

from typing import Any, List, Optional

from invoke import Task
from invoke.parser import Argument
from invoke.parser.parser import ParseMachine

__all__ = ["MISSING", "OptionalPositionalTask"]

MISSING = ""  # what a missing optional positional arrives as (tasks treat it like None)
_MARK = "populator_optional_positional"


class OptionalPositionalTask(Task):
    """A Task whose positional arguments are optional (see module docstring)."""

    def get_arguments(self, ignore_unknown_help: Optional[bool] = None) -> List[Argument]:
        arguments = super().get_arguments(ignore_unknown_help)
        for argument in arguments:
            if argument.positional:
                setattr(argument, _MARK, True)
        return arguments


_complete_context = ParseMachine.complete_context


def _lenient_complete_context(self: Any) -> None:
    context = getattr(self, "context", None)
    if context is not None:
        for argument in context.positional_args:
            if argument.value is None and getattr(argument, _MARK, False):
                argument.set_value(MISSING, cast=False)
    _complete_context(self)


if getattr(ParseMachine.complete_context, "__name__", "") != _lenient_complete_context.__name__:
    ParseMachine.complete_context = _lenient_complete_context  # type: ignore[method-assign]
