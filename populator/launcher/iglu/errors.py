"""The errors of the Iglu package: a user's bad config, and a repository's bad answer.

A ``ConfigError`` is the user's to fix and names their file; a ``RepoProblem`` is the
repository's fault and never reaches the user as such: the resolver turns it into one line of
its notice and falls back (or tries the next repository). Neither text contains a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from populator.core.errors import UserError

MAX_PROBLEMS_SHOWN = 5


class Problem(NamedTuple):
    """One thing wrong in a config: where (JSON path) and what was expected. Never a value."""

    json_path: str
    expected: str
    validator: str = ""


class ConfigError(UserError):
    """A config file we cannot use: ``<file>: <json path>: expected <…>`` in one paragraph.

    ``path`` is the file, ``json_path`` and ``expected`` describe the first (best) problem;
    ``problems`` holds all of them. The text never contains a field value.
    """

    def __init__(
        self,
        path: str,
        json_path: str = "",
        expected: str = "",
        hint: str = "",
        problems: Sequence[Problem] = (),
    ) -> None:
        self.path = str(path)
        self.problems: list[Problem] = list(problems) or [Problem(json_path, expected)]
        self.json_path = self.problems[0].json_path
        self.expected = self.problems[0].expected
        self.hint = hint
        super().__init__(self._render())

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, "", "", self.hint, self.problems))

    def _render(self) -> str:
        shown = [
            f"{p.json_path}: expected {p.expected}" if p.json_path else f"expected {p.expected}"
            for p in self.problems[:MAX_PROBLEMS_SHOWN]
        ]
        text = f"{self.path}: " + "; ".join(shown)
        hidden = len(self.problems) - MAX_PROBLEMS_SHOWN
        if hidden > 0:
            text += f" (and {hidden} more problem{'s' if hidden > 1 else ''})"
        text = text if text.endswith(".") else text + "."
        return f"{text} {self.hint}" if self.hint else text


class RepoProblem(Exception):
    """A repository that could not answer, or served something we do not trust.

    The text completes ``Iglu repository 'name' (where) …``, e.g. ``answered HTTP 500``.
    """


class UnusableSchema(UserError):
    """A schema that cannot be applied without fetching something (a last line of defence:
    the resolver refuses such schemas before anyone validates with them)."""
