"""The invoke tasks' job options, derived from populator.core.job_args.FLAGS.

invoke builds a task's options from its body's signature (`inspect.signature`, which honours
`__signature__`). `job_flags("run_local")` appends one keyword parameter per job flag the
table exposes for that task (default False for a switch, else None: unset means the job's own
default) to the body's signature; the body receives them in `**flags`. `help_for` merges the
table's help texts with the task's own. So a flag added to FLAGS with `tasks=("run_local",)`
shows up in `inv --help run_local` and reaches the job's argv with no edit here or in tasks.py.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, Mapping, Tuple, TypeVar

from populator.core.job_args import task_default, task_flags, task_help

F = TypeVar("F", bound=Callable[..., Any])


def job_flags(task: str) -> Callable[[F], F]:
    def decorate(body: F) -> F:
        signature = inspect.signature(body)
        own = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
        names = {p.name for p in own}
        added = [
            inspect.Parameter(f.dest, inspect.Parameter.KEYWORD_ONLY, default=task_default(f))
            for f in task_flags(task)
            if f.dest not in names
        ]
        body.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore
        return body

    return decorate


def help_for(task: str, own: Mapping[str, str], prefix: str = "") -> Dict[str, str]:
    """The table's help for the task's job flags (after `prefix`), then the task's own."""
    return {**{k: prefix + v for k, v in task_help(task).items()}, **own}


def split(
    flags: Mapping[str, Any], known: Tuple[str, ...]
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(flags the caller has fields for, the rest): new table entries travel in the rest."""
    mine = {k: v for k, v in flags.items() if k in known}
    return mine, {k: v for k, v in flags.items() if k not in known}
