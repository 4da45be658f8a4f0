"""``content check`` rules for the result a person acts on (issue 8).

:func:`static_problems` looks at the editors' files once: every question asked has a use or a
stated purpose, plain English (sentences of at most 25 words, grade 8 or below over the whole
catalogue), jargon explained where it is first used, resources due for review, and nothing
that looks like a made-up contact. :func:`result_problems` looks at one profile's finished
result: a stage, section, next step or signpost whose ``assumes`` its answers contradict, a
first message over 1,200 characters, more than 3,000 shown before any tap, no next step, and
any part read at above grade 8.

:func:`result_tour` walks the rest of a result (every section, the plan file, asking the team
to get in touch) so that the checker's usual message checks cover those messages too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from .conditions import Condition
from .contacts import Contact, placeholder
from .content import FLOW_FILE, Content, content_files
from .engine import Conversation, Engine, Reply
from .profiles import Profile
from .readability import GRADE_LIMIT, SENTENCE_LIMIT, grade, long_sentences, word_count
from .render import telegram_length
from .result import Result
from .signposts import READINESS, Signpost
from .simulate import Session, Step
from .yamlfile import Problem, YamlDoc

FIRST_MESSAGE_LIMIT = 1_200
DEFAULT_LIMIT = 3_000
CAPTION_LIMIT = 1_024  # Telegram's limit for a file's caption
# Contacts of typical length, so that length limits are checked with contacts set. Only
# `content check` uses them: they are never shown to anyone.
CHECK_CONTACT = Contact(
    email="partnerships-team@mutuals-programme.invalid",
    phone="+44 161 496 0999",
    website="https://www.mutuals-programme.invalid/contact-us",
    hours="Monday to Friday, 9am to 5pm",
)
# Templates whose words are part of the result, checked like signposts.
RESULT_TEMPLATES = ("result.j2", "section.j2", "plan.html.j2")
_TEMPLATE_SYNTAX = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)


def check_engine(content: Content) -> Engine:
    """The engine `content check` walks: contacts set and the handover offered.

    So every message is rendered, and the first message at its longest.
    """
    return Engine(content, contact=CHECK_CONTACT, handover=True)


# ---- the editors' files, once ---------------------------------------------------------------


def static_problems(content: Content, today: dt.date) -> list[Problem]:
    """Problems found in the files themselves, whatever anyone answers."""
    problems: list[Problem] = []
    problems.extend(_unused_questions(content))
    problems.extend(_plain_english(content))
    problems.extend(_jargon(content))
    problems.extend(_resources(content, today))
    problems.extend(_placeholders(content))
    return problems


def _doc(content: Content, name: str) -> YamlDoc:
    """An editor's file parsed once per content version, for looking up lines."""
    return _parsed(content.root, name, content.digest)


@lru_cache(maxsize=16)
def _parsed(root: Path, name: str, digest: str) -> YamlDoc:
    # The digest is part of the key so that an edited file is read again.
    return YamlDoc(root / name, name)


def _condition_questions(condition: Condition | None) -> set[str]:
    return {leaf.q for leaf in condition.leaves() if leaf.q} if condition else set()


def _unused_questions(content: Content) -> list[Problem]:
    """Every question asked changes something in the result, or says why it is asked."""
    flow, catalogue = content.flow, content.catalogue
    used: set[str] = set()
    for question in flow.questions:
        used |= _condition_questions(question.when)
        if question.options_from:
            used.add(question.options_from)
    for rule in catalogue.rules:
        used |= _condition_questions(rule.when)
    spec = catalogue.readiness.spec
    used |= set(spec.points) | _condition_questions(spec.applies_when)
    for cap in spec.caps:
        used |= _condition_questions(cap.when)
    steps = catalogue.next_steps
    used |= _condition_questions(steps.urgent)
    for tier in steps.tiers:
        for step in tier.steps:
            used |= _condition_questions(step.when)
    if used & {READINESS}:
        used |= set(spec.points)
    doc = _doc(content, FLOW_FILE)
    return [
        doc.problem(
            ["questions", i, "id"],
            f"{q.id} is asked, but nothing in the result uses the answer and it has no `purpose:`",
            "use it in a rule (content/rules.yaml, next_steps.yaml or readiness.yaml), or "
            "say in `purpose:` why it is asked, or stop asking it",
        )
        for i, q in enumerate(flow.questions)
        if q.id not in used and not q.purpose
    ]


@dataclass(frozen=True)
class _Unit:
    """A piece of editors' text read on its own, and where it is written."""

    file: str
    line: int | None
    what: str
    text: str


def _units(content: Content) -> Iterator[_Unit]:
    """Signposts (body and step apart), stage texts, section titles and intros."""
    sp_doc = _doc(content, "content/signposts.yaml")
    for i, sp in enumerate(content.catalogue.signposts.values()):
        line = sp_doc.line_of(["signposts", i])
        yield _Unit("content/signposts.yaml", line, sp.id, _body(sp))
        if sp.step:
            step_line = sp_doc.line_of(["signposts", i, "step"])
            yield _Unit("content/signposts.yaml", step_line, f"{sp.id} (step)", sp.step)
    ready_doc = _doc(content, "content/readiness.yaml")
    for i, stage in enumerate(content.catalogue.readiness.spec.stages):
        yield _Unit(
            "content/readiness.yaml", ready_doc.line_of(["stages", i, "line"]), stage.id, stage.line
        )
        yield _Unit(
            "content/readiness.yaml",
            ready_doc.line_of(["stages", i, "meaning"]),
            stage.id,
            stage.meaning,
        )
    rules_doc = _doc(content, "content/rules.yaml")
    for i, section in enumerate(content.catalogue.sections):
        text = "\n".join(x for x in (section.title, section.intro) if x)
        yield _Unit("content/rules.yaml", rules_doc.line_of(["sections", i]), section.id, text)


def _body(sp: Signpost) -> str:
    """A signpost's words in the order a person reads them in its section."""
    parts = [sp.title, sp.summary, *sp.details, *sp.pros, *sp.cons, sp.fits, sp.action]
    return "\n".join(p for p in parts if p)


def _template_units(content: Content) -> Iterator[_Unit]:
    for name in RESULT_TEMPLATES:
        path = content.root / "templates" / name
        source = path.read_text(encoding="utf-8")
        if name.endswith(".html.j2"):
            source = re.sub(r"<style>.*?</style>", "", source, flags=re.S)
        for number, line in enumerate(source.splitlines(), start=1):
            words = _TEMPLATE_SYNTAX.sub(" ", line)
            if re.search(r"[A-Za-z]{2}", re.sub(r"<[^>]+>", " ", words)):
                yield _Unit(f"templates/{name}", number, name, words)


def _plain_english(content: Content) -> list[Problem]:
    problems = []
    texts = []
    for unit in [*_units(content), *_template_units(content)]:
        if unit.file.startswith("content/signposts") and not unit.what.endswith("(step)"):
            texts.append(unit.text)
        for sentence in long_sentences(unit.text):
            problems.append(
                Problem(
                    unit.file,
                    unit.line,
                    f"{unit.what}: a sentence of {word_count(sentence)} words (at most "
                    f'{SENTENCE_LIMIT}): "{_clip(sentence)}"',
                    "split it in two",
                )
            )
    catalogue = grade("\n".join(texts))
    if catalogue > GRADE_LIMIT:
        problems.append(
            Problem(
                "content/signposts.yaml",
                None,
                f"the signposts read at grade {catalogue:.1f}; the limit is {GRADE_LIMIT:.0f}",
                "use shorter sentences and shorter words",
            )
        )
    return problems


def _clip(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _jargon(content: Content) -> list[Problem]:
    """A glossary term must be explained in brackets where each text first uses it."""
    problems = []
    for unit in [*_units(content), *_template_units(content)]:
        for term in content.glossary:
            found = _first_use(term.term, unit.text)
            if found is None or _explained(unit.text, found):
                continue
            problems.append(
                Problem(
                    unit.file,
                    unit.line,
                    f"{unit.what}: '{term.term}' is used without saying what it means",
                    f"explain it in brackets where it is first used, for example "
                    f'"{term.term} ({term.means})", or use plainer words',
                )
            )
    return problems


def _first_use(term: str, text: str) -> re.Match[str] | None:
    flags = 0 if term.isupper() else re.I
    return re.search(rf"\b{re.escape(term)}s?\b", text, flags)


def _explained(text: str, found: re.Match[str]) -> bool:
    """Whether the term is explained in brackets where it is found.

    Either right after it ("MOU (a ...)", "light touch services (such as ...)"), or the plain
    words come first and the term follows in brackets ("memorandum of understanding (MOU)").
    """
    after = text[found.end() :]
    before = text[: found.start()]
    return bool(re.match(r"(\s+[\w-]+)?\s*\(", after)) or before.endswith("(")


def _resources(content: Content, today: dt.date) -> list[Problem]:
    problems = []
    doc = _doc(content, "content/resources.yaml")
    used = {rid for sp in content.catalogue.signposts.values() for rid in sp.see}
    for i, resource in enumerate(content.catalogue.resources.values()):
        if resource.review_by < today:
            problems.append(
                _warn(
                    doc.problem(
                        ["resources", i, "review_by"],
                        f"{resource.id} was due for review on {resource.review_by.isoformat()} "
                        f"(owner: {resource.owner})",
                        "open the link, check it still says what the signposts rely on, then "
                        "move review_by on",
                    )
                )
            )
        if resource.id not in used:
            problems.append(
                _warn(
                    doc.problem(
                        ["resources", i, "id"],
                        f"{resource.id} is never shown: no signpost has it under `see:`",
                    )
                )
            )
    return problems


def _placeholders(content: Content) -> list[Problem]:
    """Made-up contacts must never reach a person: they belong in settings, for real."""
    problems = []
    for path in content_files(content.root):
        display = path.relative_to(content.root).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.lstrip().startswith("#"):
                continue
            if placeholder(line):
                problems.append(
                    Problem(
                        display,
                        number,
                        "this looks like a made-up contact (an example.org address or a 0000 "
                        "number)",
                        "remove it: contacts are deployment settings (TRIAGE_CONTACT_*)",
                    )
                )
    return problems


# ---- one profile's finished result -----------------------------------------------------------


def result_tour(
    content: Content, engine: Engine, done: Conversation, seen: set[object] | None = None
) -> list[Step]:
    """Open every section of a finished result, ask for the plan, and ask the team to call.

    With ``seen``, a result already toured (the same words for another profile) is skipped.
    """
    if seen is not None:
        key = ("tour", _shape(engine.result(done)))
        if key in seen:
            return []
        seen.add(key)
    session = Session(content, engine=engine)
    session.conv = done
    result = engine.result(done)
    for section in result.sections:
        session.press(f"tap {section.button}", "sec", section.id)
    session.press("tap Full plan", "pl")
    if result.handover == "offered":
        session.press("tap Ask the team to contact me", "ho")
        session.press("tap Send, with my Telegram name", "hs", "name")
        session.press("tap Send again", "hs", "anon")
    session.press("tap My next steps", "rs")
    return session.steps


def _shape(result: Result) -> tuple[object, ...]:
    """What a result shows, without the reasons and answers (which only fill in lines)."""
    sections = tuple((s.id, tuple(item.id for item in s.items)) for s in result.sections)
    steps = tuple(step.id for step in result.steps)
    stage = result.readiness.id if result.readiness else None
    return (sections, steps, stage, result.urgent, result.handover, result.org_type)


def result_problems(
    content: Content,
    engine: Engine,
    profile: Profile,
    first: Iterable[Reply],
    done: Conversation,
    seen: set[object] | None = None,
) -> list[Problem]:
    """Problems with one profile's result: contradictions, length and reading grade.

    With ``seen``, length and grade are checked once for each different result.
    """
    who = profile.name
    result = engine.result(done)
    problems = _contradictions(content, profile, done)
    if seen is not None:
        key = ("words", replace(result, answers=(), texts=()))
        if key in seen:
            return problems
        seen.add(key)
    shown = [r for r in first if r.text and r.audience == "person"]
    if not result.steps:
        problems.append(
            Problem(
                "content/next_steps.yaml",
                None,
                f"{who} gets no next step in the first message",
                "add a tier or candidate that covers these answers",
            )
        )
    if shown:
        length = telegram_length(shown[-1].text)
        if length > FIRST_MESSAGE_LIMIT:
            problems.append(
                Problem(
                    "templates/result.j2",
                    None,
                    f"{who}: the first message is {length:,} characters; at most "
                    f"{FIRST_MESSAGE_LIMIT:,} fit a phone screen or two",
                    "shorten the `step:` texts of its next steps, or the template",
                )
            )
    caption = telegram_length(content.render("plan_caption.j2", result=result))
    if caption > CAPTION_LIMIT:
        problems.append(
            Problem(
                "templates/plan_caption.j2",
                None,
                f"{who}: the plan file's caption is {caption:,} characters; Telegram allows "
                f"{CAPTION_LIMIT:,}",
                "shorten it",
            )
        )
    total = sum(telegram_length(r.text) for r in shown)
    if total > DEFAULT_LIMIT:
        problems.append(
            Problem(
                "templates/result.j2",
                None,
                f"{who}: {total:,} characters are shown before any tap (at most {DEFAULT_LIMIT:,})",
                "move the rest behind a section button",
            )
        )
    texts = [("the first message", "templates/result.j2", shown[-1].text)] if shown else []
    for section in result.sections:
        text = content.render("section.j2", result=result, section=section)
        ids = ", ".join(item.id for item in section.items)
        texts.append((f"the '{section.title}' section ({ids})", "content/signposts.yaml", text))
    for what, file, text in texts:
        level = grade(text)
        if level > GRADE_LIMIT:
            problems.append(
                Problem(
                    file,
                    None,
                    f"{who}: {what} reads at grade {level:.1f}; the limit is {GRADE_LIMIT:.0f}",
                    "use shorter sentences and shorter words",
                )
            )
        for sentence in long_sentences(text):
            problems.append(
                Problem(
                    file,
                    None,
                    f"{who}: {what} has a sentence of {word_count(sentence)} words (at most "
                    f'{SENTENCE_LIMIT}): "{_clip(sentence)}"',
                    "split it in two",
                )
            )
    return problems


def _contradictions(content: Content, profile: Profile, done: Conversation) -> list[Problem]:
    """A stage, section or signpost shown although the person's answers say otherwise."""
    flow, catalogue = content.flow, content.catalogue
    facts, _ = catalogue.facts(flow, done.answers)
    every = {q.id for q in flow.questions} | {READINESS}
    problems: list[Problem] = []

    def contradicts(assumes: Condition | None) -> bool:
        # Questions not asked of this person count as unknown, never as a contradiction.
        return assumes is not None and assumes.evaluate(facts, every, flow.exclusive) is False

    answers = _brief(profile)
    assessed = catalogue.readiness.assess(flow, done.answers)
    if assessed is not None and contradicts(assessed.stage.assumes):
        stages = catalogue.readiness.spec.stages
        index = next(i for i, s in enumerate(stages) if s.id == assessed.stage.id)
        problems.append(
            _doc(content, "content/readiness.yaml").problem(
                ["stages", index, "assumes"],
                f"stage contradicts an answer: {profile.name} reaches '{assessed.stage.title}', "
                f"which assumes {_describe(assessed.stage.assumes)} (answers: {answers})",
                "add a cap, change the points, or reword the stage",
            )
        )
    recs = catalogue.recommend(flow, done.answers, content.words)
    shown_sections = {r.section.id: r.section for r in recs}
    rules_doc = _doc(content, "content/rules.yaml")
    for i, section in enumerate(catalogue.sections):
        if section.id in shown_sections and contradicts(section.assumes):
            problems.append(
                rules_doc.problem(
                    ["sections", i, "assumes"],
                    f"section contradicts an answer: {profile.name} sees '{section.title}', "
                    f"which assumes {_describe(section.assumes)} (answers: {answers})",
                    "tighten the rules that put signposts in it",
                )
            )
    ranked = [r.signpost for r in catalogue.rank(flow, done.answers, content.words)]
    seen: set[str] = set()
    sp_doc = _doc(content, "content/signposts.yaml")
    order = list(catalogue.signposts)
    for signpost in [*(r.signpost for r in recs), *ranked]:
        if signpost.id in seen or not contradicts(signpost.assumes):
            continue
        seen.add(signpost.id)
        kind = "route" if signpost.kind == "route" else signpost.kind.replace("_", " ")
        problems.append(
            sp_doc.problem(
                ["signposts", order.index(signpost.id), "assumes"],
                f"{kind} contradicts an answer: {profile.name} is shown {signpost.id}, which "
                f"assumes {_describe(signpost.assumes)} (answers: {answers})",
                "tighten its rule in content/rules.yaml (or content/next_steps.yaml)",
            )
        )
    return problems


def _describe(condition: Condition | None) -> str:
    return condition.describe() if condition else "nothing"


def _brief(profile: Profile) -> str:
    parts = []
    for qid, value in profile.answers.items():
        if value:
            parts.append(f"{qid}={'+'.join(value) if isinstance(value, list) else value}")
    text = ", ".join(parts)
    return text if len(text) < 300 else text[:297] + "..."


def _warn(problem: Problem) -> Problem:
    return Problem(problem.file, problem.line, problem.message, problem.hint, warning=True)
