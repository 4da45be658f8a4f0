"""The result of a finished check as typed data, for every transport to render its own way.

:func:`build_result` turns a finished set of answers into a :class:`Result`: the readiness
stage, up to three ranked next steps (each saying why), the sections a button opens, the
reference code and how to reach the programme. It does no rendering: Telegram and the terminal
render it with ``templates/result.j2`` (the first message) and ``templates/section.j2`` (one
section), the full plan with ``templates/plan.html.j2``, and the web page with its own
templates. Everything here is plain, frozen data: safe to hand to a sandboxed template.

This interface is meant to stay small and stable:

- ``Result``: ``code``, ``org_type``, ``urgent``, ``readiness`` (``Stage`` or None),
  ``steps`` (a tuple of ``NextStep``, most important first), ``sections`` (a tuple of
  ``ResultSection`` in order, only those with something in them), ``contact``
  (``Contact``), ``handover`` (``"offered"``, ``"asked"`` or ``"off"``), ``answers`` (a
  tuple of ``AnswerLine``, free text left out) and ``texts`` (the free-text answers, for the
  team's post only); ``result.section(id)`` finds a section.
- ``ResultSection``: ``id``, ``title``, ``button`` (a short label), ``intro``, ``items``.
- ``Item``: one piece of advice: ``id``, ``kind``, ``title``, ``summary``, ``details``,
  ``pros``, ``cons``, ``fits``, ``action``, ``links`` (``Link``: ``title``, ``url``), ``reasons``.
- ``NextStep``: ``rank``, ``id``, ``title``, ``text``, ``reasons``, ``section`` (the id of the
  section holding the full item, or None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Literal

from bot.contacts import Contact
from bot.conversation.conditions import Answer
from bot.conversation.content import Content
from bot.conversation.signposts import Recommendation, Resource

HandoverState = Literal["offered", "asked", "off"]


@dataclass(frozen=True)
class Link:
    """A page of public guidance (content/resources.yaml) or a signpost's own link."""

    title: str
    url: str


@dataclass(frozen=True)
class Item:
    """One piece of advice or one offer, as a person sees it."""

    id: str
    kind: str
    title: str
    summary: str
    details: tuple[str, ...]
    pros: tuple[str, ...]
    cons: tuple[str, ...]
    fits: str | None
    action: str | None
    links: tuple[Link, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ResultSection:
    """A heading of the result with its items; opened by its own button."""

    id: str
    title: str
    button: str
    intro: str | None
    items: tuple[Item, ...]


@dataclass(frozen=True)
class NextStep:
    """One of the ranked next steps of the first message."""

    rank: int
    id: str
    title: str
    text: str
    reasons: tuple[str, ...]
    section: str | None


@dataclass(frozen=True)
class Stage:
    """A Mutual's readiness stage, with the score and the answers it was worked out from."""

    id: str
    title: str
    line: str
    meaning: str
    score: int
    out_of: int
    based_on: tuple[str, ...]


@dataclass(frozen=True)
class AnswerLine:
    """One answer, in words, under its question's short label."""

    label: str
    answer: str


@dataclass(frozen=True)
class Result:
    """Everything a finished check shows, in order of importance. See the module docstring."""

    code: str
    org_type: str | None
    urgent: bool
    readiness: Stage | None
    steps: tuple[NextStep, ...]
    sections: tuple[ResultSection, ...]
    contact: Contact
    handover: HandoverState
    answers: tuple[AnswerLine, ...]
    texts: tuple[AnswerLine, ...] = ()  # typed answers: for the team's post only, never the plan

    def section(self, section_id: str) -> ResultSection | None:
        """The section with this id, if this result has it."""
        return next((s for s in self.sections if s.id == section_id), None)


def _item(
    rec: Recommendation, resources: Mapping[str, Resource], sources: tuple[Link, ...] = ()
) -> Item:
    """One recommended signpost as a result item, with its links (each address once).

    The sources of the legal facts it states come first, then its resources, then its own.
    """
    sp = rec.signpost
    links = list(sources)
    links += [Link(resources[r].title, str(resources[r].url)) for r in sp.see]
    if sp.link is not None:
        links.append(Link(sp.title, str(sp.link)))
    unique: dict[str, Link] = {}
    for link in links:
        unique.setdefault(link.url, link)
    return Item(
        id=sp.id,
        kind=sp.kind,
        title=sp.title,
        summary=sp.summary,
        details=sp.details,
        pros=sp.pros,
        cons=sp.cons,
        fits=sp.fits,
        action=sp.action,
        links=tuple(unique.values()),
        reasons=tuple(rec.reasons),
    )


def _sources(content: Content, signpost_id: str) -> tuple[Link, ...]:
    """Links to the sources of the legal facts (content/facts.yaml) a signpost states."""
    facts = content.catalogue.legal_facts
    return tuple(
        Link(facts[f].source.title, str(facts[f].source.url))
        for f in content.catalogue.fact_uses.get(signpost_id, ())
    )


def build_result(
    content: Content,
    answers: dict[str, Answer],
    *,
    code: str,
    contact: Contact,
    handover: HandoverState,
) -> Result:
    """The result for a finished set of answers (pure: no rendering, no I/O)."""
    flow, catalogue = content.flow, content.catalogue
    recs = catalogue.recommend(flow, answers, content.words)
    resources = catalogue.resources
    sections: list[ResultSection] = []
    where: dict[str, str] = {}
    # Recommendations come in section order: each run of one section is one heading.
    for _, run in groupby(recs, key=lambda rec: rec.section.id):
        group = list(run)
        s = group[0].section
        items = tuple(_item(rec, resources, _sources(content, rec.signpost.id)) for rec in group)
        sections.append(ResultSection(s.id, s.title, s.button, s.intro, items))
        where.update((rec.signpost.id, s.id) for rec in group)

    steps = tuple(
        NextStep(
            rank=n,
            id=r.signpost.id,
            title=r.signpost.title,
            text=r.signpost.step or r.signpost.summary,
            reasons=r.reasons,
            section=where.get(r.signpost.id),
        )
        for n, r in enumerate(catalogue.rank(flow, answers, content.words, recs), start=1)
    )

    readiness = None
    assessed = catalogue.readiness.assess(flow, answers)
    if assessed is not None:
        stage = assessed.stage
        readiness = Stage(
            id=stage.id,
            title=stage.title,
            line=stage.line,
            meaning=stage.meaning,
            score=assessed.score,
            out_of=assessed.out_of,
            based_on=tuple(q.label for q in catalogue.readiness.scored_questions(flow)),
        )

    lines, texts = [], []
    for question in flow.path(answers):
        value = answers.get(question.id)
        if value is None:
            continue
        if question.kind == "text":
            if isinstance(value, str) and value:
                texts.append(AnswerLine(question.label, value))
            continue
        codes = [value] if isinstance(value, str) else value
        lines.append(AnswerLine(question.label, ", ".join(content.words(question, codes))))

    org_type = answers.get("org_type")
    return Result(
        code=code,
        org_type=org_type if isinstance(org_type, str) else None,
        urgent=catalogue.urgent(flow, answers),
        readiness=readiness,
        steps=steps,
        sections=tuple(sections),
        contact=contact,
        handover=handover,
        answers=tuple(lines),
        texts=tuple(texts),
    )
