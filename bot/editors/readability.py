"""How easy text is to read: a grade level and sentence lengths, the same way everywhere.

``content check`` uses these on signposts and on every result a person can see, and
``bench/result_figures.py`` uses them to compare versions of the content. Text may be Telegram
HTML, plain YAML text or a list's lines: :func:`prose` turns any of them into plain sentences
first, treating each line (a heading, a bullet) as a sentence of its own, as a reader does.

The grade is the Flesch-Kincaid grade level from ``textstat``: roughly the years of school a
reader needs. GOV.UK aims for about a reading age of 9, which is grade 4; grade 8 is the
ceiling the programme set for advice. textstat (and the word lists it reads, 19 MB) comes with
the team's and editors' tools (``pip install '.[tools]'``), not with the bot: where
it is missing, :func:`can_grade` is false and ``content check`` says the grades were skipped.
"""

from __future__ import annotations

import html
import importlib.util
import re
from functools import cache, lru_cache

GRADE_LIMIT = 8.0
SENTENCE_LIMIT = 25
# Joins the lines of prose(): a space to readers and to textstat, a line end to grade().
LINE = " \u2029"

_TAG = re.compile(r"<[^>]+>")
# Anything that is not a letter, digit, space or ordinary punctuation: emoji, bullets, arrows.
_SYMBOLS = re.compile(r"[^\w\s.,;:!?'’()£%&/-]", re.UNICODE)
_END = re.compile(r"[.!?:;]$")
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_WORD = re.compile(r"[A-Za-z0-9£%][\w'’£%.-]*")
_TEXTSTAT_SENTENCE = re.compile(r"\b[^.!?]+[.!?]*", re.UNICODE)


def prose(text: str) -> str:
    """Plain sentences from HTML or plain text: tags and symbols removed, one line a sentence."""
    text = html.unescape(_TAG.sub("", text))
    lines = []
    for line in text.splitlines():
        line = _SYMBOLS.sub(" ", line)
        line = re.sub(r"\s+", " ", line).strip(" -")
        if not line:
            continue
        lines.append(line if _END.search(line) else f"{line}.")
    return LINE.join(lines)


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (after :func:`prose`), stripped."""
    found = [s.strip() for s in _SENTENCE.findall(prose(text))]
    return [s for s in found if _WORD.search(s)]


def word_count(sentence: str) -> int:
    """Words in one sentence, counting numbers such as £33m as words."""
    return len(_WORD.findall(sentence))


def long_sentences(text: str, limit: int = SENTENCE_LIMIT) -> list[str]:
    """Sentences of more than ``limit`` words."""
    return [s for s in sentences(text) if word_count(s) > limit]


@cache
def can_grade() -> bool:
    """Whether textstat is installed, so :func:`grade` can be used."""
    return importlib.util.find_spec("textstat") is not None


def grade(text: str) -> float:
    """Flesch-Kincaid grade level of ``text`` (0 for text without words).

    The formula from textstat, over counts made line by line (each line is one or more whole
    sentences after :func:`prose`), so that lines repeated across many results are counted
    once: ``content check`` grades thousands of results.
    """
    words = sentence_total = syllables = 0
    for line in prose(text).split(LINE):
        w, s, y = _counts(line)
        words, sentence_total, syllables = words + w, sentence_total + s, syllables + y
    if not words:
        return 0.0
    value = 0.39 * words / max(1, sentence_total) + 11.8 * syllables / words - 15.59
    return round(value, 1)


@lru_cache(maxsize=65536)
def _counts(line: str) -> tuple[int, int, int]:
    """(words, sentences, syllables) of one line, as textstat counts them."""
    import textstat  # imported here: loading its dictionary takes a moment

    if not _WORD.search(line):
        return 0, 0, 0
    # textstat's own sentence rule, without its "at least one" floor (applied to the total):
    # sentences of two words or fewer ("Your results.") are not counted.
    found = _TEXTSTAT_SENTENCE.findall(line)
    sentence_count = sum(1 for s in found if textstat.lexicon_count(s) > 2)
    return int(textstat.lexicon_count(line)), sentence_count, int(textstat.syllable_count(line))
