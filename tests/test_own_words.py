"""Content is written in our own words: no run of 8 words copied from the research.

The research lives beside the repository, in ``../shared/research/``. Where it is absent (a
clean clone, CI) the test is skipped with a message saying so.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT

RESEARCH = ROOT.parent / "shared" / "research"
RUN = 8
CONTENT = ("flows/**/*.yaml", "templates/**/*.j2", "content/**/*.yaml", "content/**/*.md")
_WORD = re.compile(r"[a-z0-9£%]+(?:'[a-z]+)?")


def words(text: str) -> list[tuple[str, int]]:
    """Lower-case words with the line each is on; punctuation, markup and case ignored."""
    out = []
    for number, line in enumerate(text.replace("’", "'").lower().splitlines(), start=1):
        out.extend((word, number) for word in _WORD.findall(line))
    return out


def runs(found: list[tuple[str, int]]) -> set[tuple[str, ...]]:
    plain = [word for word, _ in found]
    return {tuple(plain[i : i + RUN]) for i in range(len(plain) - RUN + 1)}


def copied(path: Path, research: set[tuple[str, ...]]) -> list[str]:
    """Every run of RUN words in ``path`` that is also in the research, with its line."""
    found = words(path.read_text(encoding="utf-8"))
    plain = [word for word, _ in found]
    hits = []
    for i in range(len(plain) - RUN + 1):
        if tuple(plain[i : i + RUN]) in research:
            hits.append(f"{path.relative_to(ROOT)}:{found[i][1]}: {' '.join(plain[i : i + RUN])}")
    return hits


def test_no_content_or_template_file_shares_eight_words_with_the_research() -> None:
    if not RESEARCH.is_dir():
        pytest.skip(f"no research to compare with: {RESEARCH} is not here (as on CI)")
    research: set[tuple[str, ...]] = set()
    documents = [p for p in sorted(RESEARCH.iterdir()) if p.is_file()]
    assert documents, f"{RESEARCH} is empty"
    for document in documents:
        research |= runs(words(document.read_text(encoding="utf-8", errors="replace")))
    files = sorted({p for pattern in CONTENT for p in ROOT.glob(pattern)})
    assert len(files) > 20
    hits = [hit for path in files for hit in copied(path, research)]
    assert hits == [], "copied from the research:\n" + "\n".join(hits)
