"""Loading everything an editor owns (flow, templates, UI words, signposting) as one bundle."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from jinja2 import Environment, Template, TemplateError
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.conversation.conditions import Condition
from bot.conversation.facts import Fact, FactsFile, fill, used_in
from bot.conversation.flow import Flow, Option, Question, load_flow
from bot.conversation.render import make_environment, render
from bot.conversation.signposts import (
    READINESS,
    Catalogue,
    GlossaryFile,
    NextStepsFile,
    ProgrammeFile,
    ReadinessFile,
    ReadinessScale,
    ResourcesFile,
    RulesFile,
    SignpostFile,
    Term,
)
from bot.conversation.yamlfile import ContentError, Problem, YamlDoc

FLOW_FILE = "flows/triage.yaml"
FACTS_FILE = "content/facts.yaml"
CONTENT_GLOBS = ("flows/*.yaml", "templates/*.j2", "templates/web/*.j2", "content/*.yaml")


@dataclass(frozen=True)
class TemplateSpec:
    """What a template is for and every variable the code passes to it."""

    purpose: str
    variables: dict[str, str]


CONTACT_HELP = (
    "the programme: contact.name (from content/programme.yaml) and, where the deployment sets "
    "them, contact.email, contact.phone, contact.website and contact.hours (each may be none: "
    "then say it in plain words); contact.reachable is true if any way to reach the team is set"
)
RESULT_HELP = (
    "the result (bot/conversation/result.py): result.code; result.urgent (true for an urgent live "
    "bid); result.org_type; result.readiness (none, or title, line, meaning, score, out_of and "
    "based_on, the labels of the questions scored); result.steps (the ranked next steps: rank, "
    "title, text, reasons, section); result.sections (id, title, button, intro, items); "
    "result.contact (as `contact` in welcome.j2); result.handover (offered, asked or off); "
    "result.answers (label, answer)"
)

# Given to every chat template besides its own variables: the channel's words for answering.
COMMON_VARIABLES = ("say",)

# The contract between code and templates. Rendering checks that the code passes exactly
# these variables, and content/README.md's variable list is generated from here.
TEMPLATES: dict[str, TemplateSpec] = {
    "welcome.j2": TemplateSpec(
        "First message: what this is, how answers are used; Start / Privacy / Not now.",
        {
            "returning": "true if the person has been here before and went back to the start",
            "contact": CONTACT_HELP,
            "channel": "where this chat runs: telegram or terminal (the web page has its own "
            "templates in templates/web/)",
        },
    ),
    "privacy.j2": TemplateSpec(
        "The privacy notice (/privacy).",
        {
            "channel": "where this chat runs: telegram or terminal (the web page has its own "
            "templates in templates/web/)",
            "retention_days": "days completed answers' free text is kept",
            "idle_days": "days an unfinished conversation is kept",
            "contact": CONTACT_HELP,
            "reminders": "true where the bot can send a reminder later (Telegram only)",
            "reminder_after": "how long after someone stops the reminder comes, in words "
            "(content/reminders.yaml), e.g. '2 days'",
            "follow_up": "the follow-up interval in words (e.g. '3 months') where a follow-up "
            "check is offered (Telegram, TRIAGE_FOLLOWUP_MONTHS above 0); otherwise none",
        },
    ),
    "help.j2": TemplateSpec(
        "Help (/help): the commands and what they do.",
        {"in_progress": "true if the person is part-way through"},
    ),
    "question.j2": TemplateSpec(
        "Frame around every question: progress, the question's own text, a hint.",
        {
            "body": "the question's text (from flows/triage.yaml), already rendered",
            "number": "this question's number on the person's path",
            "total": "how many questions their path has",
            "kind": "single, multi, scale or text",
            "scale": "for a scale: min, max, low and high; otherwise none",
            "optional": "true if the question can be skipped",
            "max_length": "longest typed answer accepted, in characters",
            "earlier": "true in a follow-up check when the answer given last time is shown ticked",
            "options": "how many options the question has (0 for a typed answer)",
        },
    ),
    "answered.j2": TemplateSpec(
        "What a question message turns into once answered (its buttons removed).",
        {"body": "the question's text", "answer": "the answer in words"},
    ),
    "resume.j2": TemplateSpec(
        "Shown on /start to someone part-way through: continue or start again.",
        {
            "number": "the question they are on",
            "total": "questions on their path",
            "label": "the short label of the question they are on",
        },
    ),
    "summary.j2": TemplateSpec(
        "The summary of answers before confirming.",
        {
            "items": "list of {number, label, answer}, one per question asked",
            "removed": "what was taken out of typed answers, in words from removed_said in "
            "content/ui.yaml (e.g. ['a name', 'a phone number']); empty if nothing was",
        },
    ),
    "result.j2": TemplateSpec(
        "The first message of the result: stage, ranked next steps, code, how to reach the "
        "team. Keep it under 1,200 characters; the rest is behind buttons.",
        {"result": RESULT_HELP},
    ),
    "section.j2": TemplateSpec(
        "One section of the result, opened by its button. Put {{ BREAK }} where a new "
        "message may start.",
        {
            "result": "the whole result (as in result.j2)",
            "section": "the section to show: id, title, button, intro and items (each with "
            "id, kind, title, summary, details, pros, cons, fits, action, links and reasons)",
        },
    ),
    "plan.html.j2": TemplateSpec(
        "The full plan, sent as a file (a self-contained web page) to forward to colleagues.",
        {"result": "the whole result (as in result.j2)", "date": "the date it was made, in words"},
    ),
    "plan_caption.j2": TemplateSpec(
        "The short message sent with the plan file.", {"result": "the whole result"}
    ),
    "handover_ask.j2": TemplateSpec(
        "After 'Ask the team to contact me': exactly what would be shared, and the choice.",
        {"result": "the whole result; result.answers is what the team would see"},
    ),
    "handover_sent.j2": TemplateSpec(
        "Confirmation to the person once the request is posted to the team.",
        {"result": "the whole result", "named": "true if they agreed to share their name"},
    ),
    "handover_team.j2": TemplateSpec(
        "The post in the programme team's Telegram chat. The bot adds the person's Telegram "
        "name at the end only if they agreed.",
        {
            "result": "the whole result",
            "named": "true if their name is added",
            "date": "today, in words",
        },
    ),
    # ---- coming back (issue 9): sent later, on Telegram only ----
    "reminder.j2": TemplateSpec(
        "The one reminder, sent some days (content/reminders.yaml) after someone stops "
        "part-way, never at night. Its buttons: Carry on, Stop reminders.",
        {
            "number": "the question they stopped at (none if they stopped at the summary)",
            "total": "questions on their path (none at the summary)",
            "label": "the short label of that question (none at the summary)",
            "idle_days": "days an unfinished conversation is kept",
        },
    ),
    "reminders_stopped.j2": TemplateSpec(
        "After 'Stop reminders'.", {"idle_days": "days an unfinished conversation is kept"}
    ),
    "follow_up_booked.j2": TemplateSpec(
        "After 'Remind me in ... to check again' on the result (whose button then turns into "
        "'Don't remind me').",
        {
            "date": "roughly when the follow-up will come, in words",
            "interval": "the follow-up interval in words, e.g. '3 months'",
        },
    ),
    "follow_up_off.j2": TemplateSpec("After cancelling the follow-up.", {}),
    "follow_up.j2": TemplateSpec(
        "The follow-up message, sent after the interval; its button starts a new check with "
        "the earlier answers already ticked.",
        {
            "asked_on": "the date they asked for it, in words",
            "interval": "the follow-up interval in words, e.g. '3 months'",
        },
    ),
    "done.j2": TemplateSpec(
        "Shown to someone who has finished, when they come back.",
        {"code": "their reference code"},
    ),
    "reask.j2": TemplateSpec(
        "A friendly nudge before re-showing the current question.",
        {
            "reason": "text (typed where a button was expected), media (a photo, sticker...), "
            "command (an unknown /command), too_long, empty, stale, unknown",
            "expects": "what the current step takes: buttons, multi, text or start",
            "limit": "the longest typed answer accepted (for too_long)",
            "length": "how long the typed answer was (for too_long)",
            "options": "how many options there are to choose from now (a question's options, "
            "or every button under the summary or the result)",
        },
    ),
    "cancelled.j2": TemplateSpec(
        "After /cancel.",
        {"had_conversation": "true if there was something to cancel"},
    ),
    "not_now.j2": TemplateSpec("After 'Not now' on the welcome.", {}),
    "forget_ask.j2": TemplateSpec(
        "/forget asks once before deleting anything; its buttons: Delete, Keep.", {}
    ),
    "forgotten.j2": TemplateSpec("After /forget's Delete has deleted the person's data.", {}),
    "private_only.j2": TemplateSpec("Reply in a group chat: the bot works one-to-one.", {}),
    "stats.j2": TemplateSpec(
        "/stats for programme admins: headline figures, with disclosure control applied.",
        {
            "finished": "finished checks (text: a rounded count, or the suppression mark)",
            "recent": "finished in the last 30 days (text, as above)",
            "started": "conversations started (text, as above)",
            "completion_rate": "percent of started conversations finished, or none",
            "needs": "up to three most wanted kinds of support: list of {label, percent}",
            "barriers": "up to three most cited barriers: list of {label, percent}",
            "urgent": "bids due within a month (text, as above)",
            "handovers": "people who asked the team to contact them (text, as above)",
            "note": "the sentence explaining the disclosure control applied",
        },
    ),
}


class Buttons(BaseModel):
    """Button labels (plain text, not HTML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str
    privacy: str
    not_now: str
    resume: str
    start_again: str
    back: str
    done: str
    skip: str
    change: str = Field(description="'{label}' is replaced by the question's short label")
    confirm: str
    results_again: str
    new_triage: str
    contact: str
    next_steps: str = Field(description="on a section: back to the first message")
    plan: str = Field(description="sends the full plan as a file")
    handover: str = Field(description="'Ask the team to contact me'")
    handover_named: str
    handover_anonymous: str
    handover_cancel: str
    stop_reminders: str = Field(description="on the reminder (its other button is `resume`)")
    follow_up: str = Field(
        description="on the result: '{interval}' is replaced by the interval, e.g. 3 months"
    )
    follow_up_off: str = Field(description="cancels the follow-up asked for")
    check_again: str = Field(description="on the follow-up message: starts the new check")
    forget_delete: str = Field(description="/forget's confirmation: deletes everything")
    forget_keep: str = Field(description="/forget's confirmation: deletes nothing")


class Marks(BaseModel):
    """Ticks shown on options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    selected: str
    unselected: str


class Notices(BaseModel):
    """Short pop-up notes shown when a button is pressed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stale: str
    pick_one: str
    unknown: str
    expired: str
    handover_cancelled: str
    handover_already: str
    follow_up_already: str
    follow_up_gone: str = Field(description="a check-again button whose follow-up has ended")


Channel = Literal["telegram", "terminal"]
_V = TypeVar("_V")


def _every_key(keys: Any, value: dict[str, _V], ask: str) -> dict[str, _V]:
    """``value`` if it has every key the Literal ``keys`` allows; otherwise what to add."""
    missing = set(get_args(keys)) - set(value)
    if missing:
        raise ValueError(f"{ask} {', '.join(sorted(missing))}")
    return value


class ChannelWords(BaseModel):
    """How to answer, in one chat channel's words (``say`` in every chat template)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tap: str = Field(description="before a button's name: 'then tap Done'")
    Tap: str = Field(description="the same at the start of a sentence")
    tapping: str = Field(description="'In about five minutes of tapping buttons'")
    keep: str = Field(description="the answer given last time is ticked: 'tap it to keep it'")
    tick: str = Field(description="how to answer a multi-select, before ', then tap Done'")
    type_it: str = Field(description="how to answer a typed question")
    how: str = Field(description="under each single-choice and scale question; {n} options")
    typed: str = Field(description="text typed where an option is expected")
    pick: str = Field(description="then what to do instead; {n} is how many options")
    answer: str = Field(description="/help's first words")
    quit: str = Field(description="/quit's line in /help where there is a /quit, else empty")


class Durations(BaseModel):
    """How lengths of time read; ``{n}`` is replaced by the number."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    day: str
    days: str
    month: str
    months: str


class Removed(BaseModel):
    """What replaces personal details removed from typed answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    address: str
    email: str
    link: str
    handle: str
    phone: str
    postcode: str


class Counted(BaseModel):
    """Words for one thing and for several (``{n}`` is replaced by how many)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    one: str
    many: str = Field(description="'{n}' is replaced by how many")

    def said(self, n: int) -> str:
        """The words for ``n`` of them."""
        return self.one if n == 1 else self.many.format(n=n)


class RemovedSaid(BaseModel):
    """How the summary names what was taken out of a typed answer, kind by kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Counted
    address: Counted
    email: Counted
    link: Counted
    handle: Counted
    phone: Counted
    postcode: Counted


class UiText(BaseModel):
    """``content/ui.yaml``: the short words around the conversation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    buttons: Buttons
    marks: Marks
    notices: Notices
    scale_answer: str = Field(description="'{value}' and '{max}' are replaced")
    durations: Durations
    skipped_answer: str
    removed: Removed
    removed_said: RemovedSaid
    channels: dict[Channel, ChannelWords] = Field(
        description="each chat channel's words for answering: telegram and terminal"
    )
    commands: dict[str, str] = Field(description="command -> description for Telegram's menu")
    plan_filename: str = Field(description="the plan file's name; '{code}' is replaced")
    name_label: str = Field(
        description="words before the person's Telegram name in the team's post (added only "
        "with their consent)"
    )

    @field_validator("channels")
    @classmethod
    def _every_channel(cls, value: dict[str, ChannelWords]) -> dict[str, ChannelWords]:
        return _every_key(Channel, value, "add the words for")

    @model_validator(mode="after")
    def _notices_fill_in(self) -> UiText:
        for channel in self.channels:
            try:
                self.notices_for(channel)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"notices: {{{exc.args[0]}}} is not one of the words in channels "
                    "(use {tap} or {Tap})"
                ) from None
        return self

    def notices_for(self, channel: Channel) -> Notices:
        """The notices with the channel's {tap} and {Tap} filled in."""
        say = self.channels[channel].model_dump()
        return Notices(**{k: v.format(**say) for k, v in self.notices.model_dump().items()})


class ReminderTiming(BaseModel):
    """When the one reminder for a check left part-way comes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    after_days: int = Field(
        ge=1, le=14, description="days after someone's last tap or message (1 to 14)"
    )


class RemindersText(BaseModel):
    """``content/reminders.yaml``: the editors' part of messages sent later (issue 9)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reminder: ReminderTiming


class ReportLabels(BaseModel):
    """Column and row words used in reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    all: str
    total: str
    people_asked: str
    suppressed: str
    reached: str
    stopped: str
    finished: str
    continued: str = Field(description="after a table's title when it goes on in another part")
    handover: str = Field(description="the row of people who asked the team to contact them")
    synthetic: str = Field(
        description="each CSV row's first column, and JSON's dataset, from a demo database"
    )
    # The progress section (issue 9): first and follow-up checks of the same Mutuals.
    pairs: str = Field(description="the row of pairs (a first check and its follow-up)")
    moved_up: str
    same_stage: str
    moved_down: str
    named_first: str = Field(description="column: named in the first check")
    gone: str = Field(description="column: no longer named at the follow-up")
    reminders: str = Field(description="review's count of reminders (Telegram only)")
    follow_ups: str = Field(description="review's count of follow-up checks")


# The report's tables, each of which needs a title in content/report.yaml.
ReportTable = Literal[
    "over_time",
    "funnel",
    "biggest_barrier",
    "channel",
    "handover",
    "progress_stage",
    "progress_barriers",
    "progress_needs",
    "reserved_outcome",
]


class ReportText(BaseModel):
    """``content/report.yaml``: the words of the programme team's reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    confidential: str
    protected: str = Field(description="what `review --protected` says on every page")
    synthetic: str = Field(
        description="the banner of every team output from a database made by demo-data"
    )
    disclosure: str = Field(
        description="may use {min_count}, {round_to}, {min_denominator} and {suppressed}"
    )
    labels: ReportLabels
    dimensions: dict[Literal["sector", "size", "region", "readiness"], str]
    tables: dict[ReportTable, str]
    notes: dict[str, str]
    channels: dict[Literal["telegram", "web"], str] = Field(
        description="how each channel (where people answered) is named in reports"
    )
    reserved_outcomes: tuple[str, ...] = Field(
        (),
        description="the signposts that give the reserved contract's outcome, one row each "
        "in that table (issue 17)",
    )

    @field_validator("tables")
    @classmethod
    def _every_table(cls, value: dict[str, str]) -> dict[str, str]:
        return _every_key(ReportTable, value, "add a title for")


@dataclass(frozen=True)
class Content:
    """Everything an editor owns, validated and compiled; one immutable bundle."""

    root: Path
    flow: Flow
    ui: UiText
    catalogue: Catalogue
    report: ReportText
    templates: dict[str, Template]
    question_templates: dict[str, Template]
    digest: str
    reminders: RemindersText
    glossary: tuple[Term, ...] = ()
    # The templates drawn so far: content check reports one it never drew.
    rendered: set[str] = field(default_factory=set, compare=False, repr=False)

    def render(self, name: str, *, channel: Channel = "telegram", **context: Any) -> str:
        """Render a named template, checking the code passes exactly its declared variables.

        Every chat template is also given ``say``: the channel's words for answering; one
        that declares ``channel`` (it says what that channel keeps) is given the channel too.
        """
        spec = TEMPLATES[name]
        if "channel" in spec.variables:
            context["channel"] = channel
        if set(context) != set(spec.variables):
            missing = set(spec.variables) - set(context)
            extra = set(context) - set(spec.variables)
            raise TypeError(f"{name}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        self.rendered.add(name)
        return render(self.templates[name], {**context, "say": self._say[channel]})

    @cached_property
    def _say(self) -> dict[str, dict[str, Markup]]:
        # Plain text made safe once: <, > and & escaped, quotes left as typed (they need no
        # escaping in Telegram's HTML, and a terminal shows them as they are).
        return {
            channel: {k: Markup(html.escape(v, quote=False)) for k, v in words}
            for channel, words in self.ui.channels.items()
        }

    def question_body(self, question: Question, said: dict[str, str]) -> Markup:
        """Render a question's own text (it may use ``said``, the answers so far in words).

        The result is already-escaped HTML, marked safe to place inside other templates.
        """
        return Markup(render(self.question_templates[question.id], {"said": said}))

    def option_labels(self) -> list[tuple[Question, Option, str]]:
        """Every choice question's every option with its words, in flow order."""
        out = []
        for question in self.flow.questions:
            if question.kind == "text":
                continue
            source = self.flow.source(question)
            options = self.flow.choices(source, {})
            words = self.words(source, [o.code for o in options])
            out.extend(
                (question, option, word) for option, word in zip(options, words, strict=True)
            )
        return out

    def duration(self, n: int, unit: Literal["day", "month"]) -> str:
        """A length of time in words, e.g. "2 days", "1 month" (content/ui.yaml)."""
        words = self.ui.durations
        if unit == "day":
            return words.day if n == 1 else words.days.format(n=n)
        return words.month if n == 1 else words.months.format(n=n)

    def words(self, question: Question, codes: list[str]) -> list[str]:
        """The words the person saw for these answer codes."""
        if question.scale is not None:
            return [
                self.ui.scale_answer.format(value=c.removeprefix("v"), max=question.scale.max)
                for c in codes
            ]
        labels = {o.code: o.label for o in self.flow.source(question).options}
        return [labels.get(c, c) for c in codes]


def content_files(root: Path) -> Iterator[Path]:
    """Every file whose text is part of the published content (and of its digest)."""
    for pattern in CONTENT_GLOBS:
        yield from sorted(root.glob(pattern))


def digest_of(root: Path) -> str:
    """A short fingerprint of the content, recorded with each completed response."""
    h = hashlib.sha256()
    for path in content_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def compile_templates(
    env: Environment, root: Path, folder: str, names: Iterable[str], problems: list[Problem]
) -> dict[str, Template]:
    """Compile the named templates of ``root/folder``; note each missing or broken one."""
    templates: dict[str, Template] = {}
    for name in names:
        display = f"{folder}/{name}"
        if not (root / folder / name).is_file():
            problems.append(
                Problem(display, None, "this template is missing", "restore it from the repository")
            )
            continue
        try:
            templates[name] = env.get_template(name)
        except TemplateError as exc:
            problems.append(
                Problem(display, getattr(exc, "lineno", None), f"template error: {exc}")
            )
    return templates


def load_content(root: Path) -> Content:
    """Load, validate and compile the content in ``root``; raise ContentError listing problems."""
    problems: list[Problem] = []

    def attempt(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except ContentError as exc:
            problems.extend(exc.problems)
            return None

    flow: Flow | None = attempt(load_flow, root / FLOW_FILE, FLOW_FILE)

    def validated(name: str, model: Any) -> tuple[YamlDoc | None, Any]:
        doc = attempt(YamlDoc, root / name, name)
        return doc, attempt(doc.validate, model) if doc else None

    _, ui = validated("content/ui.yaml", UiText)
    sp_doc, signposts = validated("content/signposts.yaml", SignpostFile)
    rules_doc, rules = validated("content/rules.yaml", RulesFile)
    _, programme = validated("content/programme.yaml", ProgrammeFile)
    ready_doc, readiness = validated("content/readiness.yaml", ReadinessFile)
    steps_doc, next_steps = validated("content/next_steps.yaml", NextStepsFile)
    res_doc, resources = validated("content/resources.yaml", ResourcesFile)
    _, glossary = validated("content/glossary.yaml", GlossaryFile)
    _, report = validated("content/report.yaml", ReportText)
    _, reminders = validated("content/reminders.yaml", RemindersText)
    facts_doc, facts_file = validated(FACTS_FILE, FactsFile)
    facts: dict[str, Fact] = {}
    if facts_doc is not None and facts_file is not None:
        facts, more = _facts_by_id(facts_file, facts_doc)
        problems.extend(more)
    uses: dict[str, tuple[str, ...]] = {}
    if signposts is not None and sp_doc is not None and facts_file is not None:
        signposts, uses, more = _fill_signposts(signposts, facts, sp_doc)
        problems.extend(more)
    if facts_file is not None:
        problems.extend(_fact_names_in_templates(root, facts))

    env = make_environment(root / "templates")
    # Templates and question texts may say {{ facts.NAME }}: the value, stated once.
    env.globals["facts"] = {fid: fact.value for fid, fact in facts.items()}
    templates = compile_templates(env, root, "templates", TEMPLATES, problems)

    question_templates: dict[str, Template] = {}
    if flow is not None:
        doc = YamlDoc(root / FLOW_FILE, FLOW_FILE)
        for i, question in enumerate(flow.questions):
            for name in used_in(question.text):
                if facts_file is not None and name not in facts:
                    problems.append(
                        doc.problem(
                            ["questions", i, "text"],
                            f"{question.id}: uses the fact {name!r}, which content/facts.yaml "
                            "does not define",
                            "add it to content/facts.yaml with its source, or fix the name",
                        )
                    )
            try:
                question_templates[question.id] = env.from_string(question.text)
            except TemplateError as exc:
                problems.append(
                    doc.problem(["questions", i, "text"], f"{question.id}: template error: {exc}")
                )

    catalogue = None
    docs = (rules_doc, sp_doc, ready_doc, steps_doc, res_doc)
    files = (signposts, rules, programme, readiness, next_steps, resources)
    if flow is not None and all(files) and all(docs):
        catalogue, more = _cross_check(flow, *files, *docs)  # type: ignore[arg-type]
        catalogue = replace(catalogue, legal_facts=facts, fact_uses=uses)
        problems.extend(more)

    if catalogue is not None and report is not None:
        for i, sid in enumerate(report.reserved_outcomes):
            if sid not in catalogue.signposts:
                problems.append(
                    Problem(
                        "content/report.yaml",
                        None,
                        f"reserved_outcomes item {i + 1} is {sid!r}, which is not in "
                        "content/signposts.yaml",
                        "check the spelling of the signpost id",
                    )
                )
    if problems:
        raise ContentError(problems)
    assert flow and ui and catalogue and report and glossary and reminders and facts_file
    return Content(
        reminders=reminders,
        glossary=glossary.terms,
        report=report,
        root=root,
        flow=flow,
        ui=ui,
        catalogue=catalogue,
        templates=templates,
        question_templates=question_templates,
        digest=digest_of(root),
    )


def _facts_by_id(facts_file: FactsFile, doc: YamlDoc) -> tuple[dict[str, Fact], list[Problem]]:
    facts: dict[str, Fact] = {}
    problems = []
    for i, fact in enumerate(facts_file.facts):
        if fact.id in facts:
            problems.append(doc.problem(["facts", i, "id"], f"fact id {fact.id!r} is used twice"))
        facts[fact.id] = fact
    # A fact's value may name another fact (one level): fill it in now, once.
    for i, fact in enumerate(facts_file.facts):
        for name in used_in(fact.value):
            if name not in facts or used_in(facts[name].value):
                problems.append(
                    doc.problem(
                        ["facts", i, "value"],
                        f"uses the fact {name!r}, which is not defined or itself uses a fact",
                        "name a fact whose value is plain words",
                        item=fact.id,
                    )
                )
    facts = {
        fid: fact.model_copy(update={"value": fill(fact.value, facts)})
        for fid, fact in facts.items()
    }
    return facts, problems


# A signpost's texts that may name facts, in the order a person reads them.
_SIGNPOST_TEXTS = ("title", "summary", "details", "pros", "cons", "fits", "action", "step")


def _fill_signposts(
    signposts: SignpostFile, facts: dict[str, Fact], doc: YamlDoc
) -> tuple[SignpostFile, dict[str, tuple[str, ...]], list[Problem]]:
    """Signposts with facts' values in place, which facts each uses, and unknown names."""
    filled = []
    uses: dict[str, tuple[str, ...]] = {}
    problems = []
    for i, sp in enumerate(signposts.signposts):
        update: dict[str, Any] = {}
        names: list[str] = []
        for key in _SIGNPOST_TEXTS:
            value = getattr(sp, key)
            if value is None:
                continue
            texts = [value] if isinstance(value, str) else list(value)
            for j, text in enumerate(texts):
                for name in used_in(text):
                    if name not in facts:
                        loc: list[str | int] = ["signposts", i, key]
                        problems.append(
                            doc.problem(
                                loc if isinstance(value, str) else [*loc, j],
                                f"uses the fact {name!r}, which content/facts.yaml does not define",
                                "add it to content/facts.yaml with its source, or fix the name",
                                item=sp.id,
                            )
                        )
                    elif name not in names:
                        names.append(name)
            new = [fill(t, facts) for t in texts]
            if new != texts:
                update[key] = new[0] if isinstance(value, str) else tuple(new)
        filled.append(sp.model_copy(update=update) if update else sp)
        if names:
            uses[sp.id] = tuple(names)
    return SignpostFile(signposts=tuple(filled)), uses, problems


def _fact_names_in_templates(root: Path, facts: dict[str, Fact]) -> list[Problem]:
    """Every template that names a fact content/facts.yaml does not define."""
    problems = []
    for path in sorted((root / "templates").rglob("*.j2")):
        display = path.relative_to(root).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for name in used_in(line):
                if name not in facts:
                    problems.append(
                        Problem(
                            display,
                            number,
                            f"uses the fact {name!r}, which content/facts.yaml does not define",
                            "add it to content/facts.yaml with its source, or fix the name",
                        )
                    )
    return problems


def _cross_check(
    flow: Flow,
    signposts: SignpostFile,
    rules: RulesFile,
    programme: ProgrammeFile,
    readiness: ReadinessFile,
    next_steps: NextStepsFile,
    resources: ResourcesFile,
    rules_doc: YamlDoc,
    sp_doc: YamlDoc,
    ready_doc: YamlDoc,
    steps_doc: YamlDoc,
    res_doc: YamlDoc,
) -> tuple[Catalogue, list[Problem]]:
    problems: list[Problem] = []
    scale = ReadinessScale(readiness)
    questions = {**flow.by_id, READINESS: scale.question}
    if READINESS in flow.by_id:
        problems.append(
            Problem(
                FLOW_FILE,
                None,
                f"the question id {READINESS!r} is reserved for the readiness stage",
                "rename the question",
            )
        )
    for qid, points in readiness.points.items():
        question = flow.by_id.get(qid)
        if question is None:
            problems.append(
                ready_doc.problem(
                    ["points", qid],
                    f"points for {qid!r}, which is not a question in flows/triage.yaml",
                )
            )
            continue
        known = _codes(flow, question)
        for code in points:
            if code not in known:
                problems.append(
                    ready_doc.problem(
                        ["points", qid, code],
                        f"points for option {code!r}, which {qid} does not have",
                        f"use one of: {', '.join(sorted(known))}",
                    )
                )
    for qid in readiness.combine:
        if qid not in readiness.points:
            problems.append(
                ready_doc.problem(["combine", qid], f"combine names {qid!r}, which has no points")
            )
    by_id = {}
    for i, sp in enumerate(signposts.signposts):
        if sp.id in by_id:
            problems.append(
                sp_doc.problem(["signposts", i, "id"], f"signpost id {sp.id!r} is used twice")
            )
        by_id[sp.id] = sp
    section_ids = {s.id for s in rules.sections}
    for i, rule in enumerate(rules.rules):
        loc: list[str | int] = ["rules", i]
        if rule.show not in by_id:
            problems.append(
                rules_doc.problem(
                    [*loc, "show"],
                    f"rule shows {rule.show!r}, which is not in content/signposts.yaml",
                    "check the spelling of the signpost id",
                )
            )
        if rule.section not in section_ids:
            problems.append(
                rules_doc.problem(
                    [*loc, "section"],
                    f"rule uses section {rule.section!r}, which is not listed under sections",
                    f"use one of: {', '.join(sorted(section_ids))}",
                )
            )
        problems.extend(_check_when(flow, questions, rules_doc, [*loc, "when"], rule.when))
    for i, group in enumerate(rules.conflicts):
        for sid in group:
            if sid not in by_id:
                problems.append(
                    rules_doc.problem(
                        ["conflicts", i],
                        f"conflicts names {sid!r}, which is not in content/signposts.yaml",
                    )
                )
    docs = (rules_doc, sp_doc, ready_doc, steps_doc, res_doc)
    problems.extend(
        _check_extras(
            flow, questions, signposts, rules, readiness, next_steps, resources, by_id, docs
        )
    )
    catalogue = Catalogue(
        signposts=by_id,
        sections=rules.sections,
        rules=rules.rules,
        programme=programme.name,
        readiness=scale,
        next_steps=next_steps,
        resources={r.id: r for r in resources.resources},
        conflicts=rules.conflicts,
    )
    return catalogue, problems


_WHAT = {
    "rules": "rule",
    "signposts": "assumes",
    "sections": "assumes",
    "stages": "assumes",
    "caps": "cap",
    "tiers": "next step",
    "urgent": "urgent",
}


def _check_when(
    flow: Flow,
    questions: dict[str, Question],
    doc: YamlDoc,
    loc: list[str | int],
    when: Condition | None,
) -> list[Problem]:
    """Problems with a condition: questions that do not exist, options they do not have."""
    problems = []
    what = _WHAT.get(str(loc[0]), str(loc[0]))
    for leaf in when.leaves() if when else ():
        question = questions.get(leaf.q or "")
        if question is None:
            problems.append(
                doc.problem(
                    loc,
                    f"{what} looks at {leaf.q!r}, which is not a question in "
                    f"flows/triage.yaml (nor {READINESS!r})",
                )
            )
            continue
        known = _codes(flow, question)
        for code in leaf.codes():
            if code not in known:
                problems.append(
                    doc.problem(
                        loc,
                        f"{what} names option {code!r}, which {question.id} does not have",
                        f"use one of: {', '.join(sorted(known))}",
                    )
                )
    return problems


def _check_extras(
    flow: Flow,
    questions: dict[str, Question],
    signposts: SignpostFile,
    rules: RulesFile,
    readiness: ReadinessFile,
    next_steps: NextStepsFile,
    resources: ResourcesFile,
    by_id: dict[str, Any],
    docs: tuple[YamlDoc, YamlDoc, YamlDoc, YamlDoc, YamlDoc],
) -> list[Problem]:
    """Cross-checks for the result's ranking, assumptions, caps and resources (issue 8)."""
    rules_doc, sp_doc, ready_doc, steps_doc, res_doc = docs
    problems: list[Problem] = []
    known_resources = {r.id for r in resources.resources}
    for i, sp in enumerate(signposts.signposts):
        problems.extend(
            _check_when(flow, questions, sp_doc, ["signposts", i, "assumes"], sp.assumes)
        )
        for rid in sp.see:
            if rid not in known_resources:
                problems.append(
                    sp_doc.problem(
                        ["signposts", i, "see"],
                        f"{sp.id} points to resource {rid!r}, which is not in "
                        "content/resources.yaml",
                    )
                )
    for i, section in enumerate(rules.sections):
        problems.extend(
            _check_when(flow, questions, rules_doc, ["sections", i, "assumes"], section.assumes)
        )
    for i, stage in enumerate(readiness.stages):
        problems.extend(
            _check_when(flow, questions, ready_doc, ["stages", i, "assumes"], stage.assumes)
        )
    for i, cap in enumerate(readiness.caps):
        problems.extend(_check_when(flow, questions, ready_doc, ["caps", i, "when"], cap.when))
    problems.extend(_check_when(flow, questions, steps_doc, ["urgent"], next_steps.urgent))
    for i, tier in enumerate(next_steps.tiers):
        for j, step in enumerate(tier.steps):
            loc: list[str | int] = ["tiers", i, "steps", j]
            if step.section is not None and step.section not in {s.id for s in rules.sections}:
                problems.append(
                    steps_doc.problem(
                        [*loc, "section"],
                        f"next step section {step.section!r} is not a section in "
                        "content/rules.yaml",
                    )
                )
            signpost = by_id.get(step.show) if step.show else None
            if step.show is not None and signpost is None:
                problems.append(
                    steps_doc.problem(
                        [*loc, "show"],
                        f"next step {step.show!r} is not in content/signposts.yaml",
                        "check the spelling of the signpost id",
                    )
                )
            elif signpost is not None and not signpost.step:
                problems.append(
                    steps_doc.problem(
                        [*loc, "show"],
                        f"{step.show} is ranked as a next step but has no `step:` text",
                        "add `step:` to it in content/signposts.yaml: what to do, in a sentence",
                    )
                )
            problems.extend(_check_when(flow, questions, steps_doc, [*loc, "when"], step.when))
    seen: set[str] = set()
    for i, resource in enumerate(resources.resources):
        if resource.id in seen:
            problems.append(
                res_doc.problem(
                    ["resources", i, "id"], f"resource id {resource.id!r} is used twice"
                )
            )
        seen.add(resource.id)
    return problems


def _codes(flow: Flow, question: Question) -> set[str]:
    """Every option code a question can have (for options_from, its source's)."""
    return {o.code for o in flow.choices(flow.source(question), {})}
