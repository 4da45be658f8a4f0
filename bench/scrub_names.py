"""How well typed answers lose people's names and street addresses (issue 18, item 6).

    python -m bench.scrub_names            # figures for the test set
    python -m bench.scrub_names --show     # ... and every miss and false removal

The test set is ``tests/data/free_text_names.txt``: one typed answer a line, with ``[[...]]``
around what must go (a name, with any title, or a street address). It prints, for names,
titles and addresses: catches (everything marked was removed), misses (some of it stayed)
and false removals (words removed that were not marked); then the time per line and the
resident memory before and after the lists of names are first read (they are read only when
someone submits typed text, so the bot at rest does not carry them).
"""

from __future__ import annotations

import argparse
import difflib
import re
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "free_text_names.txt"
_MARKED = re.compile(r"\[\[(.*?)\]\]")
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Case:
    """One typed answer: its text, what must be removed (character spans), its section."""

    text: str
    spans: tuple[tuple[int, int], ...]
    section: str


@dataclass
class Score:
    """Catches, misses and false removals, with what each miss and false removal was."""

    catches: int = 0
    misses: int = 0
    false: int = 0
    notes: list[str] = field(default_factory=list)


def load(path: Path = DATA) -> list[Case]:
    """The test set; a ``# --- section ---`` comment names the lines after it."""
    cases: list[Case] = []
    section = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# ---"):
            section = line.strip("# -").split()[0]
        if not line.strip() or line.startswith("#"):
            continue
        plain, spans, pos = "", [], 0
        for m in _MARKED.finditer(line):
            plain += line[pos : m.start()]
            spans.append((len(plain), len(plain) + len(m[1])))
            plain += m[1]
            pos = m.end()
        cases.append(Case(plain + line[pos:], tuple(spans), section))
    return cases


def removed_words(before: str, after: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``before`` that are not in ``after``."""
    old = list(_WORDS.finditer(before))
    new = [m[0] for m in _WORDS.finditer(after)]
    kept: set[int] = set()
    matcher = difflib.SequenceMatcher(a=[m[0] for m in old], b=new, autojunk=False)
    for block in matcher.get_matching_blocks():
        kept.update(range(block.a, block.a + block.size))
    return [(m.start(), m.end()) for i, m in enumerate(old) if i not in kept]


def score(cases: list[Case], clean: Callable[[str], str]) -> dict[str, Score]:
    """Score a scrubber (text in, text out) on the cases, by section."""
    scores: dict[str, Score] = {}
    for case in cases:
        s = scores.setdefault(case.section, Score())
        gone = removed_words(case.text, clean(case.text))
        for start, end in case.spans:
            words = [
                (m.start() + start, m.end() + start) for m in _WORDS.finditer(case.text[start:end])
            ]
            if all(w in gone for w in words):
                s.catches += 1
            else:
                s.misses += 1
                s.notes.append(f"miss:  {case.text[start:end]!r} in {case.text!r}")
        for a, b in gone:
            if not any(start <= a and b <= end for start, end in case.spans):
                s.false += 1
                s.notes.append(f"false: {case.text[a:b]!r} in {case.text!r}")
    return scores


def total(scores: dict[str, Score]) -> Score:
    """All sections added up."""
    out = Score()
    for s in scores.values():
        out.catches += s.catches
        out.misses += s.misses
        out.false += s.false
        out.notes += s.notes
    return out


def _rss_mb() -> float:
    # VmRSS now (ru_maxrss is the peak, which would hide what reading the lists costs).
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", action="store_true", help="list every miss and false removal")
    args = parser.parse_args()

    from bot.conversation.content import load_content
    from bot.privacy import scrub

    marks = load_content(DATA.parent.parent.parent).ui.removed.model_dump()
    cases = load()
    before = _rss_mb()
    t0 = time.perf_counter()
    scrub("Read the lists of names once.", marks)
    first = time.perf_counter() - t0
    after = _rss_mb()
    t0 = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        for case in cases:
            scrub(case.text, marks)
    per_line = (time.perf_counter() - t0) / (rounds * len(cases))
    scores = score(cases, lambda text: scrub(text, marks))
    print(f"test set: {DATA.name}, {len(cases)} lines")
    print(f"{'':10} {'catches':>8} {'misses':>7} {'false removals':>15}")
    for section, s in [*scores.items(), ("all", total(scores))]:
        print(f"{section:10} {s.catches:>8} {s.misses:>7} {s.false:>15}")
    print(
        f"first call (reads the lists): {first * 1000:.0f} ms, then {per_line * 1e6:.0f} µs a line"
    )
    grew = after - before
    print(
        f"resident memory: {before:.1f} MB before the lists, {after:.1f} MB after (+{grew:.1f} MB)"
    )
    if args.show:
        for note in total(scores).notes:
            print(" ", note)


if __name__ == "__main__":
    main()
