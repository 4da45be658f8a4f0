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

Every problem names its place (file, line, and the question, signpost, stage or section in
``item``), never the answer path: the checker sets ``path``, and bot.editors.findings reports each
problem once with how many paths it breaks. A long sentence in a rendered result is placed
where its words are written, so it is the same problem as the one found reading that file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from bot.contacts import Contact, placeholder
from bot.conversation.conditions import Condition
from bot.conversation.content import FLOW_FILE, Content, content_files
from bot.conversation.engine import Conversation, Engine, Reply
from bot.conversation.render import telegram_length
from bot.conversation.result import Result
from bot.conversation.signposts import READINESS, Signpost
from bot.conversation.yamlfile import Problem, YamlDoc
from bot.editors.readability import (
    GRADE_LIMIT,
    SENTENCE_LIMIT,
    can_grade,
    grade,
    long_sentences,
    prose,
    sentences,
    word_count,
)
from bot.editors.simulate import Session, Step

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
RESULT_TEMPLATES = ("result.j2", "section.j2", "plan.html.j2", "web/result.j2", "web/section.j2")
# Messages sent later (issue 9), whose own words are checked the same way.
LATER_TEMPLATES = (
    "reminder.j2",
    "reminders_stopped.j2",
    "follow_up_booked.j2",
    "follow_up_off.j2",
    "follow_up.j2",
)
# The follow-up interval `content check` renders with (the setting's default).
CHECK_FOLLOW_UP_MONTHS = 3
_TEMPLATE_SYNTAX = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)
_WORDS = re.compile(r"[A-Za-z]{2}")


def check_engine(content: Content, reminders: bool = True) -> Engine:
    """The engine `content check` walks: contacts set, the handover, reminders and follow-ups.

    So every message is rendered, and the first message at its longest. With ``reminders``
    every step also renders the reminder it would leave (the checker does that on the
    flow's routes, which between them ask every question, and leaves it out of the many
    pairwise profiles, where it would add nothing new).
    """
    return Engine(
        content,
        contact=CHECK_CONTACT,
        handover=True,
        reminders=reminders,
        follow_up_months=CHECK_FOLLOW_UP_MONTHS,
    )


# ---- the editors' files, once ---------------------------------------------------------------


def static_problems(content: Content, today: dt.date) -> list[Problem]:
    """Problems found in the files themselves, whatever anyone answers."""
    problems: list[Problem] = []
    problems.extend(_unused_questions(content))
    # The editors' texts, read from their files once for both checks of their words.
    units = [*_units(content), *_template_units(content)]
    problems.extend(_plain_english(units))
    problems.extend(_jargon(content, units))
    problems.extend(_resources(content, today))
    problems.extend(_fact_reviews(content, today))
    problems.extend(_placeholders(content))
    return problems


def editor_doc(content: Content, name: str) -> YamlDoc:
    """An editor's file parsed once per content version, for looking up lines."""
    return _parsed(content.root, name, content.digest)


@lru_cache(maxsize=16)
def _parsed(root: Path, name: str, digest: str) -> YamlDoc:
    # The digest is part of the key so that an edited file is read again.
    return YamlDoc(root / name, name)


def as_warning(problem: Problem) -> Problem:
    """The same problem, reported as a warning rather than an error."""
    return replace(problem, warning=True)


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
    doc = editor_doc(content, FLOW_FILE)
    return [
        doc.problem(
            ["questions", i, "id"],
            "asked, but nothing in the result uses the answer and it has no `purpose:`",
            "use it in a rule (content/rules.yaml, next_steps.yaml or readiness.yaml), or "
            "say in `purpose:` why it is asked, or stop asking it",
            item=q.id,
        )
        for i, q in enumerate(flow.questions)
        if q.id not in used and not q.purpose
    ]


@dataclass(frozen=True)
class _Unit:
    """A piece of editors' text read on its own, and where it is written."""

    file: str
    line: int | None
    item: str  # the signpost, stage or section id ("" for a template's own words)
    text: str
    what: str = ""  # which of the item's texts, when it has more than one ("its step")


def _units(content: Content) -> Iterator[_Unit]:
    """Signposts (body and step apart), stage texts, section titles and intros."""
    sp_doc = editor_doc(content, "content/signposts.yaml")
    for i, sp in enumerate(content.catalogue.signposts.values()):
        line = sp_doc.line_of(["signposts", i])
        yield _Unit("content/signposts.yaml", line, sp.id, _body(sp))
        if sp.step:
            step_line = sp_doc.line_of(["signposts", i, "step"])
            yield _Unit("content/signposts.yaml", step_line, sp.id, sp.step, "its step")
    ready_doc = editor_doc(content, "content/readiness.yaml")
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
    rules_doc = editor_doc(content, "content/rules.yaml")
    for i, section in enumerate(content.catalogue.sections):
        text = "\n".join(x for x in (section.title, section.intro) if x)
        yield _Unit("content/rules.yaml", rules_doc.line_of(["sections", i]), section.id, text)


def _body(sp: Signpost) -> str:
    """A signpost's words in the order a person reads them in its section."""
    parts = [sp.title, sp.summary, *sp.details, *sp.pros, *sp.cons, sp.fits, sp.action]
    return "\n".join(p for p in parts if p)


def _template_units(content: Content) -> Iterator[_Unit]:
    for name in (*RESULT_TEMPLATES, *LATER_TEMPLATES):
        path = content.root / "templates" / name
        source = path.read_text(encoding="utf-8")
        if name.endswith(".html.j2"):
            source = re.sub(r"<style>.*?</style>", "", source, flags=re.S)
        for number, line in enumerate(source.splitlines(), start=1):
            words = _TEMPLATE_SYNTAX.sub(" ", line)
            if re.search(r"[A-Za-z]{2}", re.sub(r"<[^>]+>", " ", words)):
                yield _Unit(f"templates/{name}", number, "", words)


def _plain_english(units: list[_Unit]) -> list[Problem]:
    """Every sentence within the limit, and the signposts together read at grade 8 or below."""
    problems = []
    texts = []
    for unit in units:
        if unit.file.startswith("content/signposts") and not unit.what:
            texts.append(unit.text)
        for sentence in long_sentences(unit.text):
            problems.append(_long_sentence(unit.file, unit.line, unit.item, sentence, unit.what))
    if not can_grade():
        problems.append(
            Problem(
                "content/signposts.yaml",
                None,
                "reading grades not checked: textstat is not installed here",
                "install the tools (pip install '.[tools]' in the bot's folder) and check again",
                warning=True,
            )
        )
        return problems
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


def _long_sentence(
    file: str, line: int | None, item: str, sentence: str, what: str = ""
) -> Problem:
    """A sentence over the limit, where its words are written.

    The same sentence found in a rendered result, at the same place, makes the same problem,
    so it is reported once, with the paths that show it.
    """
    where = f"{what} has a sentence" if what else "a sentence"
    return Problem(
        file,
        line,
        f'{where} of {word_count(sentence)} words (at most {SENTENCE_LIMIT}): "{_clip(sentence)}"',
        "split it in two",
        item=item,
    )


def _clip(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _jargon(content: Content, units: list[_Unit]) -> list[Problem]:
    """A glossary term must be explained in brackets where each text first uses it."""
    problems = []
    for unit in units:
        for term in content.glossary:
            found = _first_use(term.term, unit.text)
            if found is None or _explained(unit.text, found):
                continue
            where = f"{unit.what}: " if unit.what else ""
            problems.append(
                Problem(
                    unit.file,
                    unit.line,
                    f"{where}'{term.term}' is used without saying what it means",
                    f"explain it in brackets where it is first used, for example "
                    f'"{term.term} ({term.means})", or use plainer words',
                    item=unit.item,
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
    doc = editor_doc(content, "content/resources.yaml")
    used = {rid for sp in content.catalogue.signposts.values() for rid in sp.see}
    for i, resource in enumerate(content.catalogue.resources.values()):
        if resource.review_by < today:
            problems.append(
                as_warning(
                    doc.problem(
                        ["resources", i, "review_by"],
                        f"was due for review on {resource.review_by.isoformat()} "
                        f"(owner: {resource.owner})",
                        "open the link, check it still says what the signposts rely on, then "
                        "move review_by on",
                        item=resource.id,
                    )
                )
            )
        if resource.id not in used:
            problems.append(
                as_warning(
                    doc.problem(
                        ["resources", i, "id"],
                        "never shown: no signpost has it under `see:`",
                        item=resource.id,
                    )
                )
            )
    return problems


# A legal fact's review is flagged this many days before it is due, so it is never late.
FACT_REVIEW_NOTICE = dt.timedelta(days=30)


def _fact_reviews(content: Content, today: dt.date) -> list[Problem]:
    """Warn on each legal fact whose review date has passed or is within 30 days."""
    problems = []
    doc = editor_doc(content, "content/facts.yaml")
    for i, fact in enumerate(content.catalogue.legal_facts.values()):
        due = fact.review_by
        if due - FACT_REVIEW_NOTICE > today:
            continue
        when = "was due" if due < today else "is due"
        problems.append(
            as_warning(
                doc.problem(
                    ["facts", i, "review_by"],
                    f"{when} for review on {due.isoformat()} (owner: {fact.owner})",
                    f"open {fact.source.url} ({fact.source.section}), check the value is still "
                    "right, then move review_by on",
                    item=fact.id,
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
#
# These return problems without an answer path: the checker notes each one on the path it
# walked (Problem.path), so that bot.editors.findings reports it once, with how many paths it
# breaks.
# Their messages name no path and no figure that differs from path to path: those go in
# ``detail``, shown as found on the example path.


def result_tour(
    content: Content,
    engine: Engine,
    done: Conversation,
    cache: dict[object, list[Step]] | None = None,
) -> list[Step]:
    """Open every section of a finished result, ask for the plan, and ask the team to call.

    With ``cache``, a result that shows the same things as one already toured (for another
    profile) is not toured again: the steps of the first are returned, so that the problems
    in its messages count for this profile's path too.
    """
    result = engine.result(done)
    key = _shape(result)
    if cache is not None and key in cache:
        return cache[key]
    session = Session(content, engine=engine)
    session.conv = done
    for section in result.sections:
        session.press(f"tap {section.button}", "sec", section.id)
    session.press("tap Full plan", "pl")
    if result.handover == "offered":
        session.press("tap Ask the team to contact me", "ho")
        session.press("tap Send, with my Telegram name", "hs", "name")
        session.press("tap Send again", "hs", "anon")
    if engine.follow_up_months:  # issue 9: the follow-up offered, asked for, cancelled
        session.press("tap Remind me to check again", "fw")
        session.press("tap Don't remind me", "fx")
    session.press("tap My next steps", "rs")
    if cache is not None:
        cache[key] = session.steps
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
    first: Iterable[Reply],
    done: Conversation,
    cache: dict[object, list[Problem]] | None = None,
) -> list[Problem]:
    """Problems with one finished result: contradictions, length and reading grade.

    ``first`` is what the person was sent on finishing. With ``cache``, length and grade are
    worked out once for each different result, and the same problems returned for every
    profile that gets it.
    """
    problems = _contradictions(content, done)
    result = engine.result(done)
    if cache is None:
        return problems + _size_and_words(content, result, first)
    key = replace(result, answers=(), texts=())
    found = cache.get(key)
    if found is None:
        found = cache[key] = _size_and_words(content, result, first)
    return problems + found


def _size_and_words(content: Content, result: Result, first: Iterable[Reply]) -> list[Problem]:
    problems = []
    example = "on the example path"
    shown = [r for r in first if r.text and r.audience == "person"]
    if not result.steps:
        problems.append(
            Problem(
                "content/next_steps.yaml",
                None,
                "these answers get no next step in the first message",
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
                    f"the first message is over {FIRST_MESSAGE_LIMIT:,} characters, more than "
                    "fits a phone screen or two",
                    "shorten the `step:` texts of its next steps, or the template",
                    detail=f"{length:,} {example}",
                )
            )
    caption = telegram_length(content.render("plan_caption.j2", result=result))
    if caption > CAPTION_LIMIT:
        problems.append(
            Problem(
                "templates/plan_caption.j2",
                None,
                f"the plan file's caption is over the {CAPTION_LIMIT:,} characters Telegram allows",
                "shorten it",
                detail=f"{caption:,} {example}",
            )
        )
    total = sum(telegram_length(r.text) for r in shown)
    if total > DEFAULT_LIMIT:
        problems.append(
            Problem(
                "templates/result.j2",
                None,
                f"more than {DEFAULT_LIMIT:,} characters are shown before any tap",
                "move the rest behind a section button",
                detail=f"{total:,} {example}",
            )
        )
    rules_doc = editor_doc(content, "content/rules.yaml")
    order = {s.id: i for i, s in enumerate(content.catalogue.sections)}
    if shown:
        text = shown[-1].text
        level = grade(text) if can_grade() else 0.0
        if level > GRADE_LIMIT:
            problems.append(
                Problem(
                    "templates/result.j2",
                    None,
                    f"the first message reads above grade {GRADE_LIMIT:.0f}",
                    "use shorter sentences and shorter words in the `step:` texts it shows",
                    detail=f"grade {level:.1f} {example}",
                )
            )
        for sentence in long_sentences(text):
            problems.append(_origin(content, result, sentence, "result.j2"))
    for section in result.sections:
        text = content.render("section.j2", result=result, section=section)
        level = grade(text) if can_grade() else 0.0
        if level > GRADE_LIMIT:
            ids = ", ".join(item.id for item in section.items)
            problem = rules_doc.problem(
                ["sections", order[section.id]],
                f"the '{section.title}' section reads above grade {GRADE_LIMIT:.0f}",
                "use shorter sentences and shorter words in the signposts it shows",
                item=section.id,
            )
            problems.append(replace(problem, detail=f"grade {level:.1f} {example}, showing {ids}"))
        for sentence in long_sentences(text):
            problems.append(_origin(content, result, sentence, "section.j2", section.id))
    return problems


def _origin(
    content: Content, result: Result, sentence: str, template: str, section: str = ""
) -> Problem:
    """A long sentence in a rendered result, at the place its words are written.

    Where the words are one signpost's, stage's or template line's, that is the place: if
    the same sentence is too long there on its own, it is the same problem as the one found
    by reading the files, now with the paths that show it. Otherwise (words put together by
    the template, such as a "Why:" line of many answers) it is the template's.
    """
    catalogue = content.catalogue
    sp_doc = editor_doc(content, "content/signposts.yaml")
    order = list(catalogue.signposts)
    ids = [step.id for step in result.steps]
    ids += [item.id for s in result.sections for item in s.items]
    for sid in dict.fromkeys(ids):
        sp = catalogue.signposts.get(sid)
        if sp is None:
            continue
        i = order.index(sid)
        places = [(sp_doc.line_of(["signposts", i]), _body(sp), "")]
        if sp.step:
            places.append((sp_doc.line_of(["signposts", i, "step"]), sp.step, "its step"))
        for line, text, what in places:
            if any(_within(part, sentence) for part in sentences(text)):
                return _long_sentence("content/signposts.yaml", line, sid, sentence, what)
    if result.readiness is not None:
        stages = catalogue.readiness.spec.stages
        index = next(i for i, s in enumerate(stages) if s.id == result.readiness.id)
        ready_doc = editor_doc(content, "content/readiness.yaml")
        for key in ("line", "meaning"):
            if any(_within(p, sentence) for p in sentences(getattr(stages[index], key))):
                line = ready_doc.line_of(["stages", index, key])
                return _long_sentence("content/readiness.yaml", line, result.readiness.id, sentence)
    file = f"templates/{template}"
    place: tuple[int, int] | None = None  # (line, length of the words it starts with)
    for number, literal, lead in _template_lines(content.root, template, content.digest):
        if sentence in literal:  # the template's own words: as found reading the file
            return _long_sentence(file, number, "", sentence)
        if lead and sentence.startswith(lead) and (place is None or len(lead) > place[1]):
            place = (number, len(lead))
    # Words the template puts together from the answers (a "Why:" line, say): one problem
    # for that line, however many different sentences the answers make there.
    return Problem(
        file,
        place[0] if place else None,
        f"a sentence made here from the answers can be over {SENTENCE_LIMIT} words",
        "put less on that line, or split it",
        item="" if place else section,
        detail=f'{word_count(sentence)} words on the example path: "{_clip(sentence)}"',
    )


@lru_cache(maxsize=16)
def _template_lines(root: Path, name: str, digest: str) -> list[tuple[int, list[str], str]]:
    """Each line of a template with words: its own sentences, and the words it starts with."""
    found = []
    source = (root / "templates" / name).read_text(encoding="utf-8")
    for number, line in enumerate(source.splitlines(), start=1):
        literal = sentences(_TEMPLATE_SYNTAX.sub(" ", line))
        lead = prose(_TEMPLATE_SYNTAX.split(line)[0]).rstrip(".")
        if literal or lead:
            found.append((number, literal, lead if _WORDS.search(lead) else ""))
    return found


def _within(part: str, sentence: str) -> bool:
    """Whether an editor's sentence (of a few words at least) is inside a rendered one."""
    return word_count(part) >= 5 and part.rstrip(".!?") in sentence


def _contradictions(content: Content, done: Conversation) -> list[Problem]:
    """A stage, section or signpost shown although the person's answers say otherwise."""
    flow, catalogue = content.flow, content.catalogue
    facts, _ = catalogue.facts(flow, done.answers)
    every = {q.id for q in flow.questions} | {READINESS}
    problems: list[Problem] = []

    def contradicts(assumes: Condition | None) -> bool:
        # Questions not asked of this person count as unknown, never as a contradiction.
        return assumes is not None and assumes.evaluate(facts, every, flow.exclusive) is False

    def clash(assumes: Condition | None) -> str:
        """The answers the assumption looks at, as codes: what contradicts it."""
        asked = _condition_questions(assumes)
        order = sorted(asked, key=lambda q: flow.order.get(q, len(flow.order)))
        parts = [f"{q}={_code(facts[q])}" for q in order if facts.get(q)]
        return "on the example path, " + (", ".join(parts) or "none of them answered")

    assessed = catalogue.readiness.assess(flow, done.answers)
    if assessed is not None and contradicts(assessed.stage.assumes):
        stage = assessed.stage
        stages = catalogue.readiness.spec.stages
        index = next(i for i, s in enumerate(stages) if s.id == stage.id)
        problem = editor_doc(content, "content/readiness.yaml").problem(
            ["stages", index, "assumes"],
            f"stage contradicts an answer: '{stage.title}' assumes {_describe(stage.assumes)}",
            "add a cap, change the points, or reword the stage",
            item=stage.id,
        )
        problems.append(replace(problem, detail=clash(stage.assumes)))
    recs = catalogue.recommend(flow, done.answers, content.words)
    shown_sections = {r.section.id: r.section for r in recs}
    rules_doc = editor_doc(content, "content/rules.yaml")
    for i, section in enumerate(catalogue.sections):
        if section.id in shown_sections and contradicts(section.assumes):
            problem = rules_doc.problem(
                ["sections", i, "assumes"],
                f"section contradicts an answer: '{section.title}' assumes "
                f"{_describe(section.assumes)}",
                "tighten the rules that put signposts in it",
                item=section.id,
            )
            problems.append(replace(problem, detail=clash(section.assumes)))
    ranked = [r.signpost for r in catalogue.rank(flow, done.answers, content.words, recs)]
    seen: set[str] = set()
    sp_doc = editor_doc(content, "content/signposts.yaml")
    order = list(catalogue.signposts)
    for signpost in [*(r.signpost for r in recs), *ranked]:
        if signpost.id in seen or not contradicts(signpost.assumes):
            continue
        seen.add(signpost.id)
        kind = "route" if signpost.kind == "route" else signpost.kind.replace("_", " ")
        problem = sp_doc.problem(
            ["signposts", order.index(signpost.id), "assumes"],
            f"{kind} contradicts an answer: it is shown, but assumes {_describe(signpost.assumes)}",
            "tighten its rule in content/rules.yaml (or content/next_steps.yaml)",
            item=signpost.id,
        )
        problems.append(replace(problem, detail=clash(signpost.assumes)))
    return problems


def _code(value: object) -> str:
    return "+".join(value) if isinstance(value, list | tuple) else str(value)


def _describe(condition: Condition | None) -> str:
    return condition.describe() if condition else "nothing"
