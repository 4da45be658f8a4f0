"""What ``content check`` prints: each problem once, with how many answer paths it breaks.

The check walks hundreds of answer paths, and one mistake (a misspelt variable, say) breaks
many of them. Every check, whichever module it lives in, just reports a
:class:`~bot.conversation.yamlfile.Problem`, setting ``path`` when it was found on an answer
path. Here they are grouped: identical problems become one :class:`Finding` that counts the
distinct paths it was found on and keeps the first as an example. What differs from path to path (a
figure in ``Problem.detail``) is shown as found on that example.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.conversation.yamlfile import Problem

# The path name used for the tour of the screens every person can open (help, privacy...).
TOUR = "the screen tour"


@dataclass(frozen=True)
class Finding:
    """One problem, found on ``paths`` (answer paths; empty for a problem found in a file)."""

    problem: Problem
    paths: tuple[str, ...] = ()

    @property
    def warning(self) -> bool:
        """A warning (worth a look) rather than an error (must be fixed)."""
        return self.problem.warning

    @property
    def broken(self) -> int:
        """How many answer paths it was found on (the screen tour is not one)."""
        return sum(1 for p in self.paths if p != TOUR)

    @property
    def example(self) -> str | None:
        """One path it was found on: an answer path if there is one."""
        answers = [p for p in self.paths if p != TOUR]
        return (answers or list(self.paths) or [None])[0]

    def describe(self, checked: int) -> str:
        """One line: where, what, what to do, and how many of ``checked`` paths it breaks."""
        text = str(self.problem)
        if not self.paths:
            return text
        if self.broken == 0:
            return f"{text}. Found on {self.example}"
        of = f" of {checked:,}" if checked else ""
        paths = "answer path" if self.broken == 1 and not of else "answer paths"
        return f"{text}. Breaks {self.broken:,}{of} {paths}, for example: {self.example}"


def group(problems: Iterable[Problem]) -> list[Finding]:
    """Each distinct problem once, in the order first found, with the paths it was found on.

    A problem found on answer paths at the same file and line as an error found by reading
    the files (a misspelt variable, then every render that trips over it) is the same
    mistake seen twice: its paths are counted on the error that explains it.
    """
    paths: dict[Problem, list[str]] = {}
    # The copy shown: the one found on the example path, so that its detail (a length, a
    # grade, the answers that clash) is the example's.
    shown: dict[Problem, Problem] = {}
    for problem in problems:
        seen = paths.setdefault(problem, [])
        if problem.path and problem.path not in seen:
            seen.append(problem.path)
        first = shown.setdefault(problem, problem)
        if first.path in ("", TOUR) and problem.path not in ("", TOUR):
            shown[problem] = problem
    static = {
        (p.file, p.line): p
        for p, found in reversed(paths.items())
        if not found and not p.warning and p.line is not None
    }
    for problem, found in list(paths.items()):
        explained = static.get((problem.file, problem.line))
        if found and not problem.warning and explained is not None:
            target = paths[explained]
            target.extend(p for p in found if p not in target)
            del paths[problem]
    return [Finding(shown[problem], tuple(found)) for problem, found in paths.items()]


def summary(errors: int, warnings: int) -> str:
    """The closing line: right for none, one and many."""

    def count(n: int, word: str) -> str:
        return f"{n:,} {word}" + ("" if n == 1 else "s")

    if not errors:
        return (
            "No errors or warnings."
            if not warnings
            else f"No errors; {count(warnings, 'warning')}."
        )
    fix = "fix it" if errors == 1 else "fix them"
    tail = "No warnings." if not warnings else f"Also {count(warnings, 'warning')}."
    return f"{count(errors, 'error')}: {fix} before publishing. {tail}"
