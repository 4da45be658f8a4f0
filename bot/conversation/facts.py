"""Legal facts as data (``content/facts.yaml``): each stated once, with its source.

Signposts, question texts and templates name a fact as ``{{ facts.NAME }}``. In signposts the
name is replaced by the fact's value when the content loads, and each signpost that uses a fact
links to that fact's source; templates and question texts get ``facts`` as a variable. A name
that is not defined is an error `content check` reports with its file and line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

FACT_ID = r"[a-z][a-z0-9_]{0,39}"
# ``{{ facts.NAME }}`` as editors write it (spaces inside the braces optional).
FACT_USE_RE = re.compile(r"\{\{\s*facts\.(" + FACT_ID + r")\s*\}\}")
# Any mention of ``facts.NAME`` in a template, including inside tags and expressions.
FACT_NAME_RE = re.compile(r"\bfacts\.(" + FACT_ID + r")\b")


class Source(BaseModel):
    """Where a fact is stated: a legislation.gov.uk or GOV.UK page, and the part of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=80, description="shown as the link's words")
    url: HttpUrl
    section: str = Field(min_length=1, description="the section, regulation or paragraph")


class Fact(BaseModel):
    """One legal fact: its value as people read it, what it means, and its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^" + FACT_ID + r"$")
    value: str = Field(min_length=1, description="the words put in place of {{ facts.ID }}")
    means: str = Field(min_length=1, description="what the law says, for editors")
    source: Source
    owner: str = Field(min_length=1)
    review_by: dt.date


class FactsFile(BaseModel):
    """``content/facts.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    facts: tuple[Fact, ...]


def used_in(text: str) -> list[str]:
    """The fact names a text uses, in order of first use, each once."""
    return list(dict.fromkeys(FACT_NAME_RE.findall(text)))


def fill(text: str, facts: Mapping[str, Fact]) -> str:
    """The text with each ``{{ facts.NAME }}`` replaced by the fact's value.

    Unknown names are left as written: the loader reports them before anything is shown.
    """

    def value(match: re.Match[str]) -> str:
        fact = facts.get(match.group(1))
        return fact.value if fact is not None else match.group(0)

    return FACT_USE_RE.sub(value, text)
