"""Problems found in a scenario, reported as ``file:line: field.path: reason``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_PLAIN = re.compile(r"^[A-Za-z0-9_<>-]+$")

Loc = tuple[int | str, ...]

# A broken file can produce thousands of identical errors (a 10,000-item list of
# the wrong type); the first ones are what a director needs to see.
MAX_PROBLEMS = 50


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario: where (file, field path, line) and why."""

    source: str
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        problems = list(problems)
        if len(problems) > MAX_PROBLEMS:
            first = problems[0]
            more = len(problems) - MAX_PROBLEMS
            problems = [
                *problems[:MAX_PROBLEMS],
                Problem(first.source, "", None, f"... and {more} more problems"),
            ]
        self.problems: list[Problem] = problems
        super().__init__("\n".join(str(p) for p in problems))

    @classmethod
    def single(
        cls, source: str, message: str, *, path: str = "", line: int | None = None
    ) -> ScenarioError:
        return cls([Problem(source, path, line, message)])


def format_loc(loc: Iterable[int | str | object]) -> str:
    """``("agents", 3, "place")`` -> ``agents[3].place``."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN.match(part):
            out += f".{part}" if out else part
        else:
            # Keys with spaces, newlines or odd types are shown quoted, so a
            # problem always stays on one line and reads unambiguously.
            out += f"[{str(part)!r}]"
    return out
