"""The signposting catalogue and the rules that choose from it, both editors' YAML."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from bot.conversation.conditions import Answer, Answers, Condition
from bot.conversation.facts import Fact
from bot.conversation.flow import Flow, Option, Question

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
    step: str | None = Field(
        None, description="what to do now, in a sentence or two, when it is a ranked next step"
    )
    link: HttpUrl | None = None
    see: tuple[str, ...] = Field((), description="ids of resources in content/resources.yaml")
    assumes: Condition | None = Field(
        None,
        description="what its words take for granted; `content check` fails if it is "
        "ever shown to someone whose answers say otherwise",
    )
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
    """A heading in the result, opened by its own button; rules put signposts under one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,23}$")
    title: str
    button: str = Field(min_length=1, max_length=32, description="the button that opens it")
    intro: str | None = None
    assumes: Condition | None = None


class Rule(BaseModel):
    """Show ``show`` under section ``section`` when ``when`` holds (always, if absent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    show: str
    section: str
    when: Condition | None = None
    because: str | None = Field(
        None, description="reason shown instead of the answers the condition matched"
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
    line: str = Field(min_length=1, max_length=160, description="one line for the first message")
    meaning: str
    assumes: Condition | None = None


class Cap(BaseModel):
    """Whatever the points, no higher stage than ``at_most`` when ``when`` holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: Condition
    at_most: str


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
    caps: tuple[Cap, ...] = ()

    @model_validator(mode="after")
    def _stages_ascend(self) -> ReadinessFile:
        mins = [s.min for s in self.stages]
        if mins[0] != 0 or mins != sorted(set(mins)):
            raise ValueError("stages must start at min: 0 and go up, each min different")
        ids = [s.id for s in self.stages]
        for cap in self.caps:
            if cap.at_most not in ids:
                raise ValueError(f"caps: at_most {cap.at_most!r} is not a stage")
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
        stages = list(self.spec.stages)
        reached = [s for s in stages if s.min <= score][-1]
        top = stages.index(reached)
        for cap in self.spec.caps:
            if cap.when.evaluate(answers, path_ids, flow.exclusive) is True:
                top = min(top, next(i for i, s in enumerate(stages) if s.id == cap.at_most))
        return Readiness(stage=stages[top], score=score, out_of=best)

    def scored_questions(self, flow: Flow) -> list[Question]:
        """The questions whose answers earn points, in flow order."""
        return [q for q in flow.questions if q.id in self.spec.points]


class ProgrammeFile(BaseModel):
    """``content/programme.yaml``: the programme's name. Its contacts are settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)


class StepRule(BaseModel):
    """A candidate next step: signpost ``show``, or what the rules put in ``section``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    show: str | None = None
    section: str | None = Field(
        None, description="take the signposts the rules chose for this section, in order"
    )
    when: Condition | None = None
    because: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> StepRule:
        if (self.show is None) == (self.section is None):
            raise ValueError("a next step needs either `show: SIGNPOST` or `section: SECTION`")
        return self


class Tier(BaseModel):
    """One rank of next steps: its first ``take`` candidates whose condition holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    about: str = ""
    take: int = Field(1, ge=1, le=5)
    steps: tuple[StepRule, ...] = Field(min_length=1)


class NextStepsFile(BaseModel):
    """``content/next_steps.yaml``: how the first message ranks the next steps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    show: int = Field(3, ge=1, le=5)
    urgent: Condition | None = Field(
        None, description="answers that make the result urgent: the handover is offered first"
    )
    tiers: tuple[Tier, ...] = Field(min_length=1)


class Resource(BaseModel):
    """A stable page of public guidance that signposts point to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    title: str = Field(min_length=1, max_length=80)
    url: HttpUrl
    owner: str = Field(min_length=1)
    review_by: dt.date


class ResourcesFile(BaseModel):
    """``content/resources.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resources: tuple[Resource, ...]


class Term(BaseModel):
    """A word readers may not know, explained in brackets where it is first used."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    term: str = Field(min_length=2)
    means: str = Field(min_length=1)


class GlossaryFile(BaseModel):
    """``content/glossary.yaml``: the jargon `content check` makes sure is explained."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    terms: tuple[Term, ...]


@dataclass(frozen=True)
class Ranked:
    """A next step: a signpost, the tier that chose it, and why."""

    signpost: Signpost
    tier: str
    reasons: tuple[str, ...]


@dataclass
class Recommendation:
    """A signpost chosen for this person, with every reason it was chosen."""

    signpost: Signpost
    section: Section
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Catalogue:
    """Signposts, sections, rules, rankings and resources, cross-checked at load."""

    signposts: Mapping[str, Signpost]
    sections: tuple[Section, ...]
    rules: tuple[Rule, ...]
    programme: str
    readiness: ReadinessScale
    next_steps: NextStepsFile
    resources: Mapping[str, Resource] = field(default_factory=dict)
    conflicts: tuple[tuple[str, ...], ...] = ()
    # Legal facts (content/facts.yaml) and, by signpost id, the facts its words use.
    legal_facts: Mapping[str, Fact] = field(default_factory=dict)
    fact_uses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def facts(self, flow: Flow, answers: Answers) -> tuple[dict[str, Answer], set[str]]:
        """Answers as rules read them (with implied answers and the readiness stage)."""
        full, path_ids = flow.with_implied(answers)
        assessed = self.readiness.assess(flow, answers)
        if assessed is not None:
            full[READINESS] = assessed.stage.id
            path_ids.add(READINESS)
        return full, path_ids

    def recommend(self, flow: Flow, answers: Answers, words: Labeller) -> list[Recommendation]:
        """Choose signposts for a finished set of answers, in section then rule order."""
        answers, path_ids = self.facts(flow, answers)
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
            parts = (
                [rule.because]
                if rule.because
                else reason_parts(questions, rule.when, answers, words)
            )
            rec.reasons.extend(part for part in parts if part not in rec.reasons)
        order = {s.id: i for i, s in enumerate(self.sections)}
        return sorted(chosen.values(), key=lambda r: order[r.section.id])

    def urgent(self, flow: Flow, answers: Answers) -> bool:
        """Whether these answers make the result urgent (next_steps.yaml's ``urgent``)."""
        when = self.next_steps.urgent
        if when is None:
            return False
        facts, path_ids = self.facts(flow, answers)
        return when.evaluate(facts, path_ids, flow.exclusive) is True

    def rank(
        self,
        flow: Flow,
        answers: Answers,
        words: Labeller,
        recs: list[Recommendation] | None = None,
    ) -> list[Ranked]:
        """The next steps for the first message, most important first (next_steps.yaml).

        ``recs``: what :meth:`recommend` chose for these answers, if already worked out.
        """
        facts, path_ids = self.facts(flow, answers)
        questions = {**flow.by_id, READINESS: self.readiness.question}
        if recs is None:
            recs = self.recommend(flow, answers, words)
        picked: list[Ranked] = []
        for tier in self.next_steps.tiers:
            taken = 0
            for candidate in tier.steps:
                if candidate.when is not None and (
                    candidate.when.evaluate(facts, path_ids, flow.exclusive) is not True
                ):
                    continue
                options: list[tuple[Signpost, tuple[str, ...]]]
                if candidate.show is not None:
                    parts = (
                        [candidate.because]
                        if candidate.because
                        else reason_parts(questions, candidate.when, facts, words)
                    )
                    options = [(self.signposts[candidate.show], tuple(parts))]
                else:
                    options = [
                        (
                            r.signpost,
                            (candidate.because,) if candidate.because else tuple(r.reasons),
                        )
                        for r in recs
                        if r.section.id == candidate.section
                    ]
                for signpost, reasons in options:
                    full = len(picked) >= self.next_steps.show or taken >= tier.take
                    if full or not signpost.step:
                        continue
                    if signpost.id in {p.signpost.id for p in picked}:
                        continue
                    picked.append(Ranked(signpost, tier.id, reasons))
                    taken += 1
        return picked


def reason_parts(
    questions: Mapping[str, Question], when: Condition | None, answers: Answers, words: Labeller
) -> list[str]:
    """The answers a condition matched, one "Label: answers" part per question.

    Answers that matched an `in` (or `min_selected`) test are the reason; those that only
    passed a `not_in` test ("appetite is not 'not now'") are named only when nothing else is.
    """
    if when is None:
        return []
    leaves = list(when.leaves())
    positive = [leaf for leaf in leaves if leaf.not_in is None]
    return _said(questions, positive, answers, words) or _said(questions, leaves, answers, words)


def _said(
    questions: Mapping[str, Question],
    leaves: list[Condition],
    answers: Answers,
    words: Labeller,
) -> list[str]:
    matched: dict[str, list[str]] = {}
    for leaf in leaves:
        value = answers.get(leaf.q or "")
        if leaf.q not in questions or value is None:
            continue
        chosen = [value] if isinstance(value, str) else list(value)
        if leaf.in_ is not None:
            chosen = [c for c in chosen if c in leaf.in_]
        if not chosen:
            continue
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
    return parts
