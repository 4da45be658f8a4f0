"""The signposting catalogue and the rules that choose from it, both editors' YAML."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from .conditions import Answers, Condition
from .flow import Flow, Option, Question

SignpostKind = Literal[
    "support_offer",
    "partnership_model",
    "before_choosing",
    "making_it_work",
    "commissioner_tool",
    "networking",
    "case_study",
    "barrier_tip",
    "route",
    "general",
]
# Rules may test the readiness stage as if it were the answer to this question.
READINESS = "readiness"

SIGNPOST_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Turns a question and some of its answer codes into the words the person saw.
Labeller = Callable[[Question, list[str]], list[str]]


class Signpost(BaseModel):
    """One piece of advice or one offer the result can show."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: SignpostKind
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
    conflicts: tuple[tuple[str, ...], ...] = Field(
        (), description="groups of signposts that contradict each other: at most one shows"
    )


class Stage(BaseModel):
    """One readiness stage: reached from ``min`` points upwards."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    min: int = Field(ge=0)
    meaning: str


class ReadinessFile(BaseModel):
    """``content/readiness.yaml``: points per answer, added up into a stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    applies_when: Condition | None = None
    points: dict[str, dict[str, int]]
    combine: dict[str, Literal["max", "sum"]] = Field(
        default_factory=dict, description="for multi-select questions: max (default) or sum"
    )
    stages: tuple[Stage, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _stages_ascend(self) -> ReadinessFile:
        mins = [s.min for s in self.stages]
        if mins[0] != 0 or mins != sorted(set(mins)):
            raise ValueError("stages must start at min: 0 and go up, each min different")
        return self


@dataclass(frozen=True)
class Readiness:
    """A person's readiness stage and the score behind it."""

    stage: Stage
    score: int
    out_of: int


@dataclass(frozen=True)
class ReadinessScale:
    """Scoring from ``content/readiness.yaml``, ready to apply to answers."""

    spec: ReadinessFile

    @property
    def question(self) -> Question:
        """The stage as a pseudo-question, so rules and reasons can use it like an answer."""
        return Question(
            id=READINESS,
            label=self.spec.label,
            kind="single",
            text="-",
            options=tuple(Option(code=s.id, label=s.title) for s in self.spec.stages),
        )

    def assess(self, flow: Flow, answers: Answers) -> Readiness | None:
        """The stage for these answers, or None when readiness does not apply to them."""
        path_ids = {q.id for q in flow.path(answers)}
        when = self.spec.applies_when
        if when is not None and when.evaluate(answers, path_ids, flow.exclusive) is not True:
            return None
        score = 0
        best = 0
        for qid, points in self.spec.points.items():
            value = answers.get(qid) if qid in path_ids else None
            chosen = [value] if isinstance(value, str) else list(value or [])
            got = [points.get(c, 0) for c in chosen]
            rule = self.spec.combine.get(qid, "max")
            score += sum(got) if rule == "sum" else max(got, default=0)
            best += (
                sum(v for v in points.values() if v > 0)
                if rule == "sum"
                else max(points.values(), default=0)
            )
        stage = [s for s in self.spec.stages if s.min <= score][-1]
        return Readiness(stage=stage, score=score, out_of=best)


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
    readiness: ReadinessScale
    conflicts: tuple[tuple[str, ...], ...] = ()

    def recommend(self, flow: Flow, answers: Answers, words: Labeller) -> list[Recommendation]:
        """Choose signposts for a finished set of answers, in section then rule order."""
        path_ids = {q.id for q in flow.path(answers)}
        assessed = self.readiness.assess(flow, answers)
        if assessed is not None:
            answers = {**answers, READINESS: assessed.stage.id}
            path_ids.add(READINESS)
        questions = {**flow.by_id, READINESS: self.readiness.question}
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
            reason = rule.because or reason_for(questions, rule.when, answers, words)
            if reason and reason not in rec.reasons:
                rec.reasons.append(reason)
        order = {s.id: i for i, s in enumerate(self.sections)}
        return sorted(chosen.values(), key=lambda r: order[r.section.id])


def reason_for(
    questions: Mapping[str, Question], when: Condition | None, answers: Answers, words: Labeller
) -> str:
    """The answers a condition matched, in words ("Barriers: Legal arrangements are complex")."""
    if when is None:
        return ""
    matched: dict[str, list[str]] = {}
    for leaf in when.leaves():
        value = answers.get(leaf.q or "")
        if leaf.q not in questions or value is None:
            continue
        chosen = [value] if isinstance(value, str) else list(value)
        if leaf.in_ is not None:
            chosen = [c for c in chosen if c in leaf.in_]
        codes = matched.setdefault(leaf.q, [])
        codes.extend(c for c in chosen if c not in codes)
    parts = []
    for qid, codes in matched.items():
        question = questions[qid]
        # Keep the order the person saw the options in.
        order = {c: i for i, c in enumerate(answers[qid] if isinstance(answers[qid], list) else [])}
        said = words(question, sorted(codes, key=lambda c: order.get(c, 0)))
        if said:
            parts.append(f"{question.label}: {', '.join(said)}")
    return "; ".join(parts)
