"""The signposting catalogue and the rules that choose from it, both editors' YAML."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from .conditions import Answers, Condition
from .flow import Flow, Question

SIGNPOST_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Turns a question and some of its answer codes into the words the person saw.
Labeller = Callable[[Question, list[str]], list[str]]


class Signpost(BaseModel):
    """One piece of advice or one offer the result can show."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: str
    title: str = Field(min_length=1, max_length=120)
    summary: str = Field(min_length=1)
    details: tuple[str, ...] = ()
    pros: tuple[str, ...] = ()
    cons: tuple[str, ...] = ()
    fits: str | None = None
    action: str | None = None
    link: HttpUrl | None = None
    owner: str = Field(min_length=1)
    review_by: dt.date

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not SIGNPOST_ID_RE.match(value):
            raise ValueError(
                f"signpost id {value!r} must be lower-case letters, digits and _ "
                "(starting with a letter, at most 40 characters)"
            )
        return value


class Section(BaseModel):
    """A heading in the result; rules put signposts under one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    intro: str | None = None


class Rule(BaseModel):
    """Show ``show`` under section ``section`` when ``when`` holds (always, if absent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    show: str
    section: str
    when: Condition | None = None
    because: str | None = Field(
        None, description="reason shown instead of the answers the condition matched"
    )


class Contact(BaseModel):
    """The programme's contact details, filled in by the programme team."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    email: str
    phone: str | None = None
    website: HttpUrl | None = None
    urgent: str = Field(description="how to reach the team quickly about a live bid")
    hours: str | None = None
    example: bool = Field(
        False, description="true while these are example values; the check flags them"
    )


class SignpostFile(BaseModel):
    """``content/signposts.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signposts: tuple[Signpost, ...]


class RulesFile(BaseModel):
    """``content/rules.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sections: tuple[Section, ...]
    rules: tuple[Rule, ...]


class ProgrammeFile(BaseModel):
    """``content/programme.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contact: Contact


@dataclass
class Recommendation:
    """A signpost chosen for this person, with every reason it was chosen."""

    signpost: Signpost
    section: Section
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Catalogue:
    """Signposts, sections, rules and contact details, cross-checked at load."""

    signposts: Mapping[str, Signpost]
    sections: tuple[Section, ...]
    rules: tuple[Rule, ...]
    contact: Contact

    def recommend(self, flow: Flow, answers: Answers, words: Labeller) -> list[Recommendation]:
        """Choose signposts for a finished set of answers, in section then rule order."""
        path_ids = {q.id for q in flow.path(answers)}
        chosen: dict[str, Recommendation] = {}
        sections = {s.id: s for s in self.sections}
        for rule in self.rules:
            if rule.when is not None and (
                rule.when.evaluate(answers, path_ids, flow.exclusive) is not True
            ):
                continue
            rec = chosen.get(rule.show)
            if rec is None:
                rec = Recommendation(self.signposts[rule.show], sections[rule.section])
                chosen[rule.show] = rec
            reason = rule.because or reason_for(flow, rule.when, answers, words)
            if reason and reason not in rec.reasons:
                rec.reasons.append(reason)
        order = {s.id: i for i, s in enumerate(self.sections)}
        return sorted(chosen.values(), key=lambda r: order[r.section.id])


def reason_for(flow: Flow, when: Condition | None, answers: Answers, words: Labeller) -> str:
    """The answers a condition matched, in words ("Barriers: Legal arrangements are complex")."""
    if when is None:
        return ""
    parts: list[str] = []
    for leaf in when.leaves():
        question = flow.by_id.get(leaf.q or "")
        value = answers.get(leaf.q or "")
        if question is None or value is None:
            continue
        chosen = [value] if isinstance(value, str) else list(value)
        if leaf.in_ is not None:
            chosen = [c for c in chosen if c in leaf.in_]
        said = words(question, chosen)
        part = f"{question.label}: {', '.join(said)}"
        if said and part not in parts:
            parts.append(part)
    return "; ".join(parts)
