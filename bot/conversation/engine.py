"""The conversation engine: pure, transport-neutral and free of I/O.

Given a conversation's stored state and one event, :meth:`Engine.handle` returns the new state
and the replies (text plus buttons) to show. Navigation goes through the one ``transitions``
machine built from the flow; the engine re-hydrates a throw-away model per event, so the
machine itself holds no one's state.

Callback data is ``verb|step|arg``. ``step`` counts the conversation's moves; a press carrying
an old step is from an earlier message and only re-shows where the person is now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any, Literal, get_args

from transitions import MachineError

from bot.contacts import Contact
from bot.conversation.conditions import Answer, Frozen, freeze, thaw
from bot.conversation.content import Channel, Content
from bot.conversation.flow import DONE, SUMMARY, WELCOME, Question, build_machine
from bot.conversation.render import BREAK, pack
from bot.conversation.result import HandoverState, Result, build_result
from bot.later import FOLLOW_UP, REMINDER, add_months
from bot.privacy import new_link_id, scrub

# ---- values passed in and out -------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    """One person's conversation as stored (keyed elsewhere by their pseudonym)."""

    state: str
    answers: dict[str, Answer]
    run: str
    started: str
    step: int = 1
    reviewing: bool = False
    draft: tuple[str, ...] | None = None
    code: str | None = None
    handover: bool = False  # they asked the programme team to contact them
    # ---- coming back (issue 9) ----
    reminded: bool = False  # the one reminder went, or they stopped reminders: no more
    follow_up: bool = False  # (finished) they asked to be reminded to check again
    link: str | None = None  # a follow-up check: the random id joining it to the earlier one
    defaults: dict[str, Answer] | None = None  # a follow-up check: earlier answers, pre-ticked


@dataclass(frozen=True)
class Command:
    """A /command. ``name`` is lower-case, without the slash."""

    name: str


@dataclass(frozen=True)
class Press:
    """A button press carrying callback data."""

    data: str


@dataclass(frozen=True)
class Text:
    """A typed message."""

    text: str


@dataclass(frozen=True)
class Unsupported:
    """Anything else a person can send: a photo, sticker, voice note, location..."""

    what: str


@dataclass(frozen=True)
class Resume:
    """Show the person where they are (used when a reply may have been lost)."""


@dataclass(frozen=True)
class NotPrivate:
    """A message in a group: the bot only talks one-to-one."""


@dataclass(frozen=True)
class Stats:
    """/stats from a programme admin; ``figures`` are filled in (protected) by the service."""

    figures: dict[str, Any] | None = None


@dataclass(frozen=True)
class Submit:
    """A whole answer to one question at once, as a web form posts it.

    ``step`` and ``question`` say which page the form was on (an old or forged form only
    re-shows the current question); ``codes`` are the chosen option codes (one for a single
    choice or scale, any number for a multi-select); ``text`` is a typed answer.
    """

    step: int
    question: str
    codes: tuple[str, ...] = ()
    text: str | None = None


@dataclass(frozen=True)
class FollowUpStart:
    """A tap on "Check again" in a follow-up message (callback data ``fu|step|link``).

    The service fills in ``earlier``, the earlier response's answers as option codes by
    question, if that follow-up is this person's and still open; None means it has ended
    (forgotten, finished, cancelled or expired). See :func:`follow_up_press`.
    """

    link: str
    step: int = 0
    earlier: dict[str, list[str]] | None = None


Event = Command | Press | Text | Unsupported | Resume | NotPrivate | Stats | Submit | FollowUpStart


@dataclass(frozen=True)
class Button:
    """An inline button: either callback ``data`` or a ``url``."""

    label: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Document:
    """A file to send: the full plan, for example."""

    filename: str
    data: bytes
    mime: str


@dataclass(frozen=True)
class Reply:
    """A message to show. ``edit`` replaces the message whose button was pressed.

    With a ``document``, ``text`` is the file's caption. With ``audience="team"`` the message
    goes to the programme team's chat, not to the person; ``name_label`` is then set only if
    the person agreed to share their Telegram name, and holds the words to put before it
    (the adapter adds the name itself: the engine never sees it; see :func:`shares_name`).
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit: bool = False
    source: str = ""  # the template it came from, for content check messages
    document: Document | None = None
    audience: str = "person"
    name_label: str | None = None


@dataclass(frozen=True)
class Later:
    """A message to send some time after this event: what it is, never when (issue 9).

    ``kind`` is "reminder" (for a conversation left part-way) or "follow_up" (asked for on
    the result; ``link`` is the random id that will join the two responses). The service sets
    ``at`` (unix time) from the settings and the clock; only the Telegram transport sends them.
    """

    kind: str
    reply: Reply
    link: str | None = None
    at: float | None = None


@dataclass(frozen=True)
class Completion:
    """A finished triage, ready to be stored as a pseudonymous response (under its code)."""

    code: str
    run: str
    started: str
    completed: str
    flow_id: str
    content_version: str
    rows: tuple[tuple[str, str, int | None], ...]
    texts: dict[str, str]
    recommendations: tuple[tuple[str, str, str], ...]
    readiness: str | None = None
    follows: str | None = None  # a follow-up check: the link id of the check it follows


@dataclass
class Outcome:
    """What handling one event produced."""

    conversation: Conversation | None
    replies: list[Reply] = field(default_factory=list)
    notice: str | None = None
    completion: Completion | None = None
    reached: str | None = None
    forget: bool = False
    # Why a submitted answer was refused (see Submit): "required", "exclusive", "too_long".
    invalid: str | None = None
    handover: bool = False  # a request to be contacted was posted: the store counts it
    # Messages to send later (Telegram only). Every event from the person ends a reminder
    # still waiting; one here takes its place.
    later: list[Later] = field(default_factory=list)
    follow_up_off: bool = False  # the person cancelled the follow-up they had asked for
    # A button from an earlier screen was pressed: nothing changed, the current screen is
    # shown again (a transport may skip that if the same message's button was just handled).
    stale: bool = False


@dataclass(frozen=True)
class Context:
    """The only non-pure inputs: the time and fresh random identifiers."""

    now: dt.datetime
    new_code: Callable[[], str]
    new_run: Callable[[], str]
    new_link: Callable[[], str] = new_link_id


def long_date(day: dt.date) -> str:
    """A date as people write it: 1 December 2026."""
    return f"{day.day} {day:%B %Y}"


# ---- the current screen as typed data ------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One option of the current question, as the person sees it now."""

    code: str
    label: str
    exclusive: bool = False
    chosen: bool = False


@dataclass(frozen=True)
class SummaryItem:
    """One answered question on the summary; ``question`` is its Change target."""

    question: str
    number: int
    label: str
    answer: str


@dataclass(frozen=True)
class Screen:
    """Where a person is, as data every adapter renders from (see :meth:`Engine.screen`).

    ``page`` is "welcome", "question", "summary" or "done". ``step`` must come back with the
    next event (old pages are then recognised). ``back`` is the state Back leads to (None
    where there is no Back). For a question: its id, ``kind``, rendered ``body`` (HTML),
    position ``number`` of ``total``, ``choices`` in order (the exclusive ones flagged; a
    multi-select's ticks are its draft), ``scale`` words, ``optional``, ``max_length`` and
    any typed ``text`` already given. For the summary: ``items``, and ``removed``, what was
    taken out of typed answers in words ("a name", "2 phone numbers"). When done: ``code``.
    ``error`` is the question's own error text from the flow, if written (see Question.error).
    ``revisit`` marks an earlier question shown again where the person is (see
    :meth:`Engine.revisit`): its ``back`` is the question before it, reached the same way.
    """

    page: str
    step: int
    back: str | None = None
    question: str | None = None
    kind: str | None = None
    label: str | None = None
    body: str = ""
    number: int = 0
    total: int = 0
    choices: tuple[Choice, ...] = ()
    scale: dict[str, Any] | None = None
    optional: bool = False
    max_length: int = 0
    text: str | None = None
    items: tuple[SummaryItem, ...] = ()
    removed: tuple[str, ...] = ()
    code: str | None = None
    revisit: bool = False
    error: str | None = None

    @property
    def exclusive(self) -> tuple[Choice, ...]:
        """The options that clear every other choice ("None yet", "Nothing right now")."""
        return tuple(c for c in self.choices if c.exclusive)

    @property
    def chosen(self) -> tuple[str, ...]:
        """Codes of the options chosen now."""
        return tuple(c.code for c in self.choices if c.chosen)


# Where a chat runs; the web page has its own templates (bot/channels/web/).
CHAT_CHANNELS: tuple[Channel, ...] = get_args(Channel)
COMMANDS = frozenset({"start", "restart", "cancel", "help", "privacy", "forget", "stats"})
# The handover's "send, with my Telegram name" button: verb and argument of its callback data.
NAMED_HANDOVER = ("hs", "name")


def follow_up_press(data: str) -> tuple[int, str] | None:
    """(step, link) of a "Check again" press (``fu|step|link``); None for any other press."""
    verb, _, rest = data.partition("|")
    step, _, link = rest.partition("|")
    if verb != "fu" or not link:
        return None
    try:
        return int(step), link
    except ValueError:
        return None


def shares_name(data: str) -> bool:
    """Whether a press's callback data is the person agreeing to share their Telegram name.

    The engine never sees the name; an adapter reads it from that one update only, and adds
    it to the team post the engine then asks for (``Reply.name_label``).
    """
    verb, _, rest = data.partition("|")
    return verb == NAMED_HANDOVER[0] and rest.rpartition("|")[2] == NAMED_HANDOVER[1]


# ---- the engine ---------------------------------------------------------------------------


class _Model:
    """The throw-away object the machine moves between states for one event."""

    def __init__(self, engine: Engine, answers: dict[str, Answer], reviewing: bool) -> None:
        self.flow = engine.content.flow
        self.answers = answers
        self.reviewing = reviewing
        self.state = WELCOME

    @cached_property
    def path_ids(self) -> frozenset[str]:
        return frozenset(q.id for q in self.flow.path(self.answers))

    @cached_property
    def unanswered_ids(self) -> frozenset[str]:
        return frozenset(q.id for q in self.flow.unanswered(self.answers))


class Engine:
    """Turns (stored state, event) into (new state, replies). One per content bundle."""

    def __init__(
        self,
        content: Content,
        *,
        retention_days: int = 90,
        idle_days: int = 30,
        contact: Contact | None = None,
        handover: bool = False,
        reminders: bool = False,
        follow_up_months: int = 0,
        channel: Channel = "telegram",
    ) -> None:
        """Build the engine for one content bundle.

        ``contact`` holds the deployment's contact settings; ``handover`` is True when a
        programme team chat is set, so that "Ask the team to contact me" can be offered.
        ``reminders`` is True where the transport can write to people later (Telegram): a
        conversation left part-way then asks for one reminder. With ``follow_up_months``
        above 0 the result offers a follow-up check after that many months (give it only
        where messages can be sent later, as ``bot.cli.make_engine`` does). ``channel`` is
        where the chat runs, "telegram" (also the web page's engine) or "terminal": it picks
        the words for answering (content/ui.yaml, ``channels``), and the welcome and the
        privacy notice describe what that channel keeps.
        """
        if channel not in CHAT_CHANNELS:
            raise ValueError(f"unknown chat channel {channel!r}: one of {CHAT_CHANNELS}")
        self.content = content
        self.flow = content.flow
        self.ui = content.ui
        self.channel: Channel = channel
        self.notices = content.ui.notices_for(channel)
        # The words that stand where scrubbing took something out, kind by kind.
        self.marks: dict[str, str] = content.ui.removed.model_dump()
        self.machine = build_machine(self.flow)
        self.retention_days = retention_days
        self.idle_days = idle_days
        self.contact = replace(contact or Contact(), name=content.catalogue.programme)
        self.handover = handover
        self.reminders = reminders
        self.follow_up_months = follow_up_months
        # Results are pure functions of the answers: keep the last few (every button on a
        # result's messages needs it again). lru_cache is safe across threads.
        self._build = lru_cache(maxsize=256)(self._build_result)
        self._pieces = lru_cache(maxsize=64)(self._render_pieces)
        self._reminder_text = lru_cache(maxsize=256)(self._render_reminder)

    # ---- entry point ---------------------------------------------------------------------

    def handle(self, conv: Conversation | None, event: Event, ctx: Context) -> Outcome:
        """Handle one event. Never raises for anything a person can send.

        Where reminders are on, the outcome also says whether the conversation, as it now
        stands, wants its one reminder (:attr:`Outcome.later`).
        """
        outcome = self._handle(conv, event, ctx)
        if self.reminders and not outcome.forget:
            reminder = self._reminder_for(outcome.conversation)
            if reminder is not None:
                outcome.later.append(Later(REMINDER, reminder))
        return outcome

    def _handle(self, conv: Conversation | None, event: Event, ctx: Context) -> Outcome:
        if conv is not None:
            conv = self._repair(conv)
        if isinstance(event, Press) and (press := follow_up_press(event.data)) is not None:
            event = FollowUpStart(press[1], press[0])  # not looked up: treated as ended
        if isinstance(event, FollowUpStart):
            return self._follow_up_start(conv, event, ctx)
        if isinstance(event, Press):
            return self._press(conv, event.data, ctx)
        if isinstance(event, Command):
            return self._command(conv, event.name, ctx)
        if isinstance(event, Text):
            return self._text(conv, event.text)
        if isinstance(event, Submit):
            return self._submit(conv, event)
        if isinstance(event, Unsupported):
            return self._reask(conv, "media")
        if isinstance(event, NotPrivate):
            return Outcome(conv, [self._msg("private_only.j2")])
        if isinstance(event, Stats):
            if event.figures is None:
                return self._command(conv, "help", ctx)
            return Outcome(conv, [self._msg("stats.j2", **event.figures)])
        return Outcome(conv, [self._view(conv)])

    # ---- commands and text ---------------------------------------------------------------

    def _command(self, conv: Conversation | None, name: str, ctx: Context) -> Outcome:
        if name == "start":
            if conv is None or conv.state in (WELCOME, DONE):
                return Outcome(conv, [self._view(conv)])
            again = Button(self.ui.buttons.start_again, f"ag|{conv.step}")
            return Outcome(conv, [self._resume_prompt(conv, again)])
        if name == "restart":
            if conv is None:
                return Outcome(None, [self._view(None)])
            return self._begin(ctx, [], again=conv)
        if name == "cancel":
            kept = conv if conv is not None and conv.state == DONE else None
            cancelled = self._msg(
                "cancelled.j2",
                ((Button(self.ui.buttons.start, "go|0"),),),
                had_conversation=conv is not None and conv.state != DONE,
            )
            return Outcome(kept, [cancelled])
        if name == "help":
            in_progress = conv is not None and conv.state not in (WELCOME, DONE)
            return Outcome(conv, [self._msg("help.j2", in_progress=in_progress), self._view(conv)])
        if name == "privacy":
            return Outcome(conv, [self._privacy(), self._view(conv)])
        if name == "forget":
            return Outcome(conv, [self._forget_ask(conv)])
        if name == "stats":
            # Only programme admins get figures (the adapter sends them as Stats).
            return self._command(conv, "help", ctx)
        return self._reask(conv, "command")

    def _text(self, conv: Conversation | None, raw: str) -> Outcome:
        question = self._question(conv)
        if conv is None or question is None or question.kind != "text":
            return self._reask(conv, "text")
        text, problem = self._typed(question, raw)
        if problem == "empty":
            return self._reask(conv, "empty")
        if problem == "too_long":
            return self._reask(conv, "too_long", limit=question.max_length, length=len(text))
        return self._answer(conv, question, text, pressed=False)

    def _typed(
        self, question: Question, raw: str
    ) -> tuple[str, Literal["empty", "too_long"] | None]:
        """A typed answer as kept (stripped, personal details scrubbed) and what is wrong with it.

        The problem is None, "empty" or "too_long"; each caller turns it into its own outcome
        (a re-ask on Telegram, an invalid form on the web).
        """
        text = scrub(raw.strip(), self.marks)
        if not text:
            return text, "empty"
        if len(text) > question.max_length:
            return text, "too_long"
        return text, None

    def _reask(self, conv: Conversation | None, reason: str, **extra: Any) -> Outcome:
        question = self._question(conv)
        if conv is None or conv.state == WELCOME:
            expects = "start"
        elif question is None:
            expects = "buttons"
        else:
            expects = {"multi": "multi", "text": "text"}.get(question.kind, "buttons")
        view = self._view(conv)
        # A question's options (its Back is not an answer); elsewhere every button shown.
        options = len(
            self.flow.choices(question, conv.answers)
            if question is not None and conv is not None
            else [b for row in view.buttons for b in row]
        )
        note = self._render(
            "reask.j2",
            reason=reason,
            expects=expects,
            limit=extra.get("limit"),
            length=extra.get("length"),
            options=options,
        )
        text = f"{note}\n\n{view.text}"
        return Outcome(conv, [replace(view, text=text, source=f"reask.j2 + {view.source}")])

    # ---- whole answers (web forms) ---------------------------------------------------------

    def _submit(self, conv: Conversation | None, event: Submit) -> Outcome:
        if conv is None:
            return self._stale(None, self.notices.expired)
        if event.step != conv.step:
            return self._stale(conv, self.notices.stale)
        question = self._question(conv)
        # The answer goes in from where the person is, or, for an earlier question shown
        # again (Engine.revisit), as a Change of it. A refused answer changes nothing.
        at = conv
        if question is None or event.question != question.id:
            at = self._revisit(conv, event.question)
            if at is None:
                return self._stale(conv, self.notices.stale)
            question = self.flow.by_id[event.question]
        if question.kind == "text":
            text, problem = self._typed(question, event.text or "")
            if problem == "empty":
                if question.optional:
                    return self._answer(at, question, "", pressed=False)
                return Outcome(conv, invalid="required")
            if problem == "too_long":
                return Outcome(conv, invalid="too_long")
            return self._answer(at, question, text, pressed=False)
        options = self.flow.choices(question, at.answers)
        known = {o.code for o in options}
        if any(code not in known for code in event.codes):
            return self._stale(conv, self.notices.unknown)  # a forged or outdated option
        picked = set(event.codes)
        if not picked:
            return Outcome(conv, invalid="required")
        if question.kind != "multi":
            if len(picked) > 1:
                return self._stale(conv, self.notices.unknown)
            return self._answer(at, question, event.codes[0], pressed=False)
        if picked & question.exclusive_codes and len(picked) > 1:
            return Outcome(conv, invalid="exclusive")
        ordered = [o.code for o in options if o.code in picked]
        return self._answer(at, question, ordered, pressed=False)

    def revisit(self, conv: Conversation | None, question_id: str) -> Screen | None:
        """An earlier question on this person's path, shown again with its answer chosen.

        This is what the web page shows at an earlier question's address (the browser's own
        Back). Nothing moves: the screen carries the current step, so a form posted from it
        is a :class:`Submit` that goes in as a Change of that question (the questions it
        opens are asked, then the person returns to where they were, or to the summary).
        None if that question cannot be revisited from here: not on the path, not answered,
        not before where they are, or they have not started or have finished.
        """
        if conv is None:
            return None
        conv = self._repair(conv)
        at = self._revisit(conv, question_id)
        if at is None:
            return None
        back = self._fire(replace(at, reviewing=False, draft=None), "back", at.answers)
        screen = self._screen(replace(at, step=conv.step), with_back=False)
        return replace(screen, back=back, revisit=True)

    def _revisit(self, conv: Conversation, question_id: str) -> Conversation | None:
        """The conversation moved to an earlier, answered question, as a Change moves it.

        It is reviewing, so once it is answered, what is already answered is passed over.
        """
        question = self.flow.by_id.get(question_id)
        if question is None or conv.state in (WELCOME, DONE) or question_id == conv.state:
            return None
        if not self.flow.valid_answer(question, conv.answers.get(question_id), conv.answers):
            return None
        reviewing = replace(conv, reviewing=True, draft=None)
        if self._fire(reviewing, f"change_{question_id}", conv.answers) != question_id:
            return None  # not before where they are, or no longer on their path
        return replace(
            reviewing,
            state=question_id,
            step=conv.step + 1,
            draft=self._draft(reviewing, question_id),
        )

    # ---- button presses ------------------------------------------------------------------

    def _press(self, conv: Conversation | None, data: str, ctx: Context) -> Outcome:
        verb, _, rest = data.partition("|")
        step_text, _, arg = rest.partition("|")
        try:
            step = int(step_text)
        except ValueError:
            return self._stale(conv, self.notices.unknown)

        if conv is None:
            # Nothing is stored until the person taps Start.
            if verb == "go":
                return self._begin(ctx, [self._closed()])
            if verb == "pv":
                return Outcome(None, [self._privacy(), self._view(None)])
            if verb == "nn":
                return Outcome(None, [self._msg("not_now.j2")])
            if verb == "fg" and not arg:
                return self._forgotten()
            if verb == "fk":
                return Outcome(None, [self._closed(), self._view(None)])
            return self._stale(None, self.notices.expired)

        if step != conv.step:
            return self._stale(conv, self.notices.stale)
        question = self._question(conv)
        handler = {
            "go": self._on_go,
            "pv": self._on_privacy,
            "ct": self._on_continue,
            "ag": self._on_again,
            "a": self._on_answer,
            "t": self._on_toggle,
            "d": self._on_done,
            "s": self._on_skip,
            "b": self._on_back,
            "c": self._on_change,
            "ok": self._on_confirm,
            "rs": self._on_results,
            "nt": self._on_again,
            "nn": self._on_not_now,
            "sec": self._on_section,
            "pl": self._on_plan,
            "ho": self._on_handover,
            "hs": self._on_handover_send,
            "hx": self._on_handover_cancel,
            "rm": self._on_stop_reminders,
            "fw": self._on_follow_up,
            "fx": self._on_follow_up_off,
            "fg": self._on_forget,
            "fk": self._on_keep,
        }.get(verb)
        if handler is None:
            return self._stale(conv, self.notices.unknown)
        outcome = handler(conv, question, arg, ctx)
        return outcome if outcome is not None else self._stale(conv, self.notices.unknown)

    def _on_go(
        self, conv: Conversation, q: Question | None, arg: str, ctx: Context
    ) -> Outcome | None:
        if conv.state != WELCOME:
            return None
        return self._move(conv, "advance", close=True)

    def _on_privacy(self, conv: Conversation, q: Any, arg: str, ctx: Context) -> Outcome | None:
        return Outcome(conv, [self._privacy(), self._view(conv)])

    def _forget_ask(self, conv: Conversation | None) -> Reply:
        """Ask once before /forget deletes anything: Delete or Keep (issue 18).

        Delete carries the conversation's step and run, so a tap on an old question (or after
        a new check has started) is stale and deletes nothing.
        """
        b = self.ui.buttons
        step, run = (conv.step, conv.run) if conv is not None else (0, "")
        delete, keep = (
            Button(b.forget_delete, f"fg|{step}|{run}"),
            Button(b.forget_keep, f"fk|{step}"),
        )
        buttons = ((delete, keep),)
        return self._msg("forget_ask.j2", buttons)

    def _forgotten(self) -> Outcome:
        return Outcome(None, [self._closed(), self._msg("forgotten.j2")], forget=True)

    def _on_forget(self, conv: Conversation, q: Any, arg: str, ctx: Context) -> Outcome | None:
        if arg != conv.run:
            return None  # asked before this check began: delete nothing
        return self._forgotten()

    def _on_keep(self, conv: Conversation, q: Any, arg: str, ctx: Context) -> Outcome | None:
        # Nothing changes: back to where they were, as "Carry on" does.
        return Outcome(conv, [self._closed(), self._view(conv)])

    def _on_not_now(self, conv: Conversation, q: Any, arg: str, ctx: Context) -> Outcome | None:
        return Outcome(conv, [self._msg("not_now.j2")])

    def _on_continue(self, conv: Conversation, q: Any, arg: str, ctx: Context) -> Outcome | None:
        return Outcome(conv, [self._closed(), self._view(conv)])

    def _on_again(self, conv: Conversation, q: Any, arg: str, ctx: Context) -> Outcome | None:
        return self._begin(ctx, [self._closed()], again=conv)

    def _on_answer(
        self, conv: Conversation, q: Question | None, arg: str, ctx: Any
    ) -> Outcome | None:
        if q is None or q.kind not in ("single", "scale"):
            return None
        if arg not in {o.code for o in self.flow.choices(q, conv.answers)}:
            return None
        return self._answer(conv, q, arg, pressed=True)

    def _on_toggle(
        self, conv: Conversation, q: Question | None, arg: str, ctx: Any
    ) -> Outcome | None:
        if q is None or q.kind != "multi":
            return None
        options = self.flow.choices(q, conv.answers)
        if arg not in {o.code for o in options}:
            return None
        draft = set(conv.draft or ())
        if arg in draft:
            draft.discard(arg)
        elif arg in q.exclusive_codes:
            draft = {arg}
        else:
            draft = (draft - q.exclusive_codes) | {arg}
        ordered = tuple(o.code for o in options if o.code in draft)
        new = replace(conv, draft=ordered)
        view = self._view(new)
        return Outcome(new, [replace(view, edit=True)])

    def _on_done(
        self, conv: Conversation, q: Question | None, arg: str, ctx: Any
    ) -> Outcome | None:
        if q is None or q.kind != "multi":
            return None
        if not conv.draft:
            return Outcome(conv, notice=self.notices.pick_one)
        return self._answer(conv, q, list(conv.draft), pressed=True)

    def _on_skip(
        self, conv: Conversation, q: Question | None, arg: str, ctx: Any
    ) -> Outcome | None:
        if q is None or q.kind != "text" or not q.optional:
            return None
        return self._answer(conv, q, "", pressed=True)

    def _on_back(
        self, conv: Conversation, q: Question | None, arg: str, ctx: Any
    ) -> Outcome | None:
        if conv.state in (WELCOME, DONE):
            return None
        return self._move(replace(conv, draft=None), "back", close=True)

    def _on_change(self, conv: Conversation, q: Any, arg: str, ctx: Any) -> Outcome | None:
        if conv.state != SUMMARY or arg not in self.flow.by_id:
            return None
        return self._move(conv, f"change_{arg}", close=True)

    def _on_confirm(self, conv: Conversation, q: Any, arg: str, ctx: Context) -> Outcome | None:
        if conv.state != SUMMARY:
            return None
        state = self._fire(conv, "confirm", conv.answers)
        if state != DONE:
            # Something is unanswered (the content changed under them): go and ask it.
            missing = self.flow.unanswered(conv.answers)
            return self._move(conv, f"change_{missing[0].id}", close=True) if missing else None
        answers = self.flow.final_answers(conv.answers)
        code = ctx.new_code()
        completion = self.completion(
            answers,
            code=code,
            run=conv.run,
            started=conv.started,
            completed=ctx.now.isoformat(timespec="seconds"),
            follows=conv.link,
        )
        done = replace(
            conv,
            state=DONE,
            answers=answers,
            step=conv.step + 1,
            code=code,
            draft=None,
            defaults=None,  # a follow-up check's earlier answers are not kept once it is done
        )
        return Outcome(
            done, [self._closed(), *self._result(done)], completion=completion, reached=DONE
        )

    def completion(
        self,
        answers: dict[str, Answer],
        *,
        code: str,
        run: str,
        started: str,
        completed: str,
        follows: str | None = None,
    ) -> Completion:
        """A finished set of answers as a storable response, with its recommendations."""
        recs = self.content.catalogue.recommend(self.flow, answers, self.content.words)
        assessed = self.content.catalogue.readiness.assess(self.flow, answers)
        return Completion(
            code=code,
            run=run,
            started=started,
            completed=completed,
            flow_id=self.flow.spec.id,
            content_version=self.content.digest,
            rows=self._rows(answers),
            texts={
                q: v
                for q, v in answers.items()
                if self.flow.by_id[q].kind == "text" and isinstance(v, str) and v
            },
            recommendations=tuple(
                (r.signpost.id, r.section.id, " | ".join(r.reasons)) for r in recs
            ),
            readiness=assessed.stage.id if assessed else None,
            follows=follows,
        )

    def _rows(self, answers: dict[str, Answer]) -> tuple[tuple[str, str, int | None], ...]:
        """One countable row per chosen option; scales also carry their number."""
        rows: list[tuple[str, str, int | None]] = []
        for q in self.flow.path(answers):
            value = answers.get(q.id)
            if value is None or q.kind == "text":
                continue
            for code in [value] if isinstance(value, str) else value:
                number = int(code[1:]) if q.kind == "scale" else None
                rows.append((q.id, code, number))
        return tuple(rows)

    def _on_results(self, conv: Conversation, q: Any, arg: str, ctx: Any) -> Outcome | None:
        if conv.state != DONE:
            return None
        return Outcome(conv, self._result(conv))

    # ---- the result: first message, sections, the plan file, the handover (issue 8) ----------

    def result(self, conv: Conversation) -> Result:
        """A finished conversation's result as typed data, for any transport to render."""
        if conv.code is None:
            raise ValueError("the conversation has no result yet")
        handover: HandoverState = (
            "off" if not self.handover else "asked" if conv.handover else "offered"
        )
        return self._build(conv.code, handover, freeze(conv.answers))

    def _build_result(self, code: str, handover: HandoverState, answers: Frozen) -> Result:
        return build_result(
            self.content, thaw(answers), code=code, contact=self.contact, handover=handover
        )

    def plan(self, conv: Conversation, today: dt.date) -> Document:
        """The full plan as one self-contained web page (templates/plan.html.j2)."""
        return self._plan(self.result(conv), today)

    def _plan(self, result: Result, today: dt.date) -> Document:
        page = self._render("plan.html.j2", result=result, date=long_date(today))
        name = self.ui.plan_filename.format(code=result.code)
        return Document(filename=name, data=page.encode("utf-8"), mime="text/html")

    def result_pieces(self, conv: Conversation) -> list[str]:
        """Every part of the result, cut at its BREAK marks: the first message, then sections."""
        return list(self._pieces(self.result(conv)))

    def _render_pieces(self, result: Result) -> tuple[str, ...]:
        pieces = [self._render("result.j2", result=result)]
        for section in result.sections:
            text = self._render("section.j2", result=result, section=section)
            pieces.extend(piece.strip() for piece in text.split(BREAK) if piece.strip())
        return tuple(pieces)

    def _result(self, conv: Conversation) -> list[Reply]:
        """The first message: stage, ranked next steps, code and contact; the rest on buttons."""
        result = self.result(conv)
        text = self._render("result.j2", result=result)
        return [Reply(text, self._result_buttons(conv, result), source="result.j2")]

    def _result_buttons(
        self, conv: Conversation, result: Result, showing: str | None = None
    ) -> tuple[tuple[Button, ...], ...]:
        b, s = self.ui.buttons, conv.step
        rows: list[tuple[Button, ...]] = []
        handover = (Button(b.handover, f"ho|{s}"),) if result.handover == "offered" else ()
        if result.urgent and handover:
            rows.append(handover)  # an urgent bid: a person first
            handover = ()
        sections = [
            Button(sec.button, f"sec|{s}|{sec.id}") for sec in result.sections if sec.id != showing
        ]
        rows.extend(tuple(sections[i : i + 2]) for i in range(0, len(sections), 2))
        plan = Button(b.plan, f"pl|{s}")
        rows.append((Button(b.next_steps, f"rs|{s}"), plan) if showing else (plan,))
        if handover:
            rows.append(handover)
        if self.follow_up_months:
            # The section shown rides along, so the keyboard can be redrawn as it was.
            where = showing or ""
            if conv.follow_up:
                rows.append((Button(b.follow_up_off, f"fx|{s}|{where}"),))
            else:
                label = b.follow_up.format(interval=self._interval())
                rows.append((Button(label, f"fw|{s}|{where}"),))
        if self.contact.website:
            rows.append((Button(b.contact, url=self.contact.website),))
        rows.append((Button(b.new_triage, f"nt|{s}"),))
        return tuple(rows)

    def _on_section(self, conv: Conversation, q: Any, arg: str, ctx: Any) -> Outcome | None:
        if conv.state != DONE:
            return None
        result = self.result(conv)
        section = result.section(arg)
        if section is None:
            return None
        text = self._render("section.j2", result=result, section=section)
        messages = pack(piece for piece in text.split(BREAK))
        replies = [Reply(m, source="section.j2") for m in messages]
        buttons = self._result_buttons(conv, result, showing=section.id)
        replies[-1] = replace(replies[-1], buttons=buttons)
        return Outcome(conv, replies)

    def _on_plan(self, conv: Conversation, q: Any, arg: str, ctx: Context) -> Outcome | None:
        if conv.state != DONE:
            return None
        result = self.result(conv)
        caption = self._render("plan_caption.j2", result=result)
        document = self._plan(result, ctx.now.date())
        return Outcome(conv, [Reply(caption, document=document, source="plan_caption.j2")])

    def _on_handover(self, conv: Conversation, q: Any, arg: str, ctx: Any) -> Outcome | None:
        if conv.state != DONE or not self.handover:
            return None
        if conv.handover:
            return Outcome(conv, notice=self.notices.handover_already)
        b, s = self.ui.buttons, conv.step
        buttons = (
            (Button(b.handover_named, f"{NAMED_HANDOVER[0]}|{s}|{NAMED_HANDOVER[1]}"),),
            (Button(b.handover_anonymous, f"hs|{s}|anon"),),
            (Button(b.handover_cancel, f"hx|{s}"),),
        )
        return Outcome(conv, [self._msg("handover_ask.j2", buttons, result=self.result(conv))])

    def _on_handover_send(
        self, conv: Conversation, q: Any, arg: str, ctx: Context
    ) -> Outcome | None:
        if conv.state != DONE or not self.handover or arg not in ("name", "anon"):
            return None
        if conv.handover:
            return Outcome(conv, [self._closed()], notice=self.notices.handover_already)
        named = arg == "name"
        asked = replace(conv, handover=True)
        result = self.result(asked)
        post = self._render(
            "handover_team.j2", result=result, named=named, date=long_date(ctx.now.date())
        )
        team = Reply(
            post,
            audience="team",
            name_label=self.ui.name_label if named else None,
            source="handover_team.j2",
        )
        sent = self._msg("handover_sent.j2", edit=True, result=result, named=named)
        return Outcome(asked, [team, sent], handover=True)

    def _on_handover_cancel(self, conv: Conversation, q: Any, arg: str, ctx: Any) -> Outcome | None:
        if conv.state != DONE:
            return None
        return Outcome(conv, [self._closed()], notice=self.notices.handover_cancelled)

    # ---- coming back: one reminder, a follow-up check (issue 9) -------------------------------
    # The engine says what to send later (Outcome.later) and what the person chose; when it
    # goes is the service's (settings and clock), and only the Telegram transport sends it.

    def _reminder_for(self, conv: Conversation | None) -> Reply | None:
        """The reminder a conversation left as it now stands would get; None if none is due.

        Only for a check part-way (a question or the summary), and only once per conversation:
        after the reminder went, or after "Stop reminders", there is no other.
        """
        if conv is None or conv.reminded or conv.state in (WELCOME, DONE):
            return None
        return self.reminder(conv)

    def reminder(self, conv: Conversation) -> Reply:
        """The reminder message for a conversation part-way: where they stopped, two buttons.

        Its buttons carry the conversation's step, so once the person has done anything else
        they are stale like any old button.
        """
        b, s = self.ui.buttons, conv.step
        buttons = ((Button(b.resume, f"ct|{s}"),), (Button(b.stop_reminders, f"rm|{s}"),))
        return Reply(self._reminder_text(*self._where(conv)), buttons, source="reminder.j2")

    def _where(self, conv: Conversation) -> tuple[int | None, int | None, str | None]:
        """Where a check part-way stands: (question number, of how many, question label).

        All None at the summary, which has no number.
        """
        if conv.state == SUMMARY:
            return None, None, None
        pos = self.flow.position(conv.state, conv.answers)
        return pos.number, pos.total, self.flow.by_id[conv.state].label

    def _resume_prompt(self, conv: Conversation, other: Button) -> Reply:
        """Ask whether to carry on with the check part-way or do ``other`` instead (resume.j2)."""
        number, total, label = self._where(conv)
        buttons = ((Button(self.ui.buttons.resume, f"ct|{conv.step}"),), (other,))
        return self._msg("resume.j2", buttons, number=number, total=total, label=label)

    def _render_reminder(self, number: int | None, total: int | None, label: str | None) -> str:
        # Every event on Telegram asks for the reminder anew (only its buttons' step changes):
        # the words are rendered once per place in the flow (cached in __init__).
        return self._render(
            "reminder.j2", number=number, total=total, label=label, idle_days=self.idle_days
        )

    def _on_stop_reminders(self, conv: Conversation, q: Any, arg: str, ctx: Any) -> Outcome | None:
        if conv.state in (WELCOME, DONE):
            return None
        stopped = replace(conv, reminded=True)
        note = self._msg("reminders_stopped.j2", idle_days=self.idle_days)
        return Outcome(stopped, [self._closed(), note])

    def _interval(self) -> str:
        return self.content.duration(self.follow_up_months, "month")

    def follow_up_message(self, link: str, asked_on: dt.date) -> Reply:
        """The message sent after the interval, with the button that starts the new check."""
        button = Button(self.ui.buttons.check_again, f"fu|0|{link}")
        return self._msg(
            "follow_up.j2",
            ((button,),),
            asked_on=long_date(asked_on),
            interval=self._interval(),
        )

    def _redrawn(self, conv: Conversation, showing: str) -> Reply:
        """The pressed result message's keyboard again, as it now stands."""
        result = self.result(conv)
        shown = showing if result.section(showing) is not None else None
        return Reply("", self._result_buttons(conv, result, showing=shown), edit=True)

    def _on_follow_up(self, conv: Conversation, q: Any, arg: str, ctx: Context) -> Outcome | None:
        if conv.state != DONE or not self.follow_up_months or conv.code is None:
            return None
        if conv.follow_up:
            return Outcome(conv, [self._redrawn(conv, arg)], self.notices.follow_up_already)
        link = ctx.new_link()
        when = add_months(ctx.now, self.follow_up_months)
        booked = replace(conv, follow_up=True)
        note = self._msg(
            "follow_up_booked.j2", date=long_date(when.date()), interval=self._interval()
        )
        later = Later(FOLLOW_UP, self.follow_up_message(link, ctx.now.date()), link=link)
        return Outcome(booked, [self._redrawn(booked, arg), note], later=[later])

    def _on_follow_up_off(self, conv: Conversation, q: Any, arg: str, ctx: Any) -> Outcome | None:
        if conv.state != DONE or not self.follow_up_months:
            return None
        if not conv.follow_up:
            return Outcome(conv, [self._redrawn(conv, arg)])
        off = replace(conv, follow_up=False)
        note = self._msg("follow_up_off.j2")
        return Outcome(off, [self._redrawn(off, arg), note], follow_up_off=True)

    def _follow_up_start(
        self, conv: Conversation | None, event: FollowUpStart, ctx: Context
    ) -> Outcome:
        """Start the follow-up check, with the earlier answers ticked where they still fit."""
        if event.earlier is None:
            return self._stale(conv, self.notices.follow_up_gone)
        if conv is not None and conv.link == event.link and conv.state != DONE:
            return Outcome(conv, [self._closed(), self._view(conv)])  # already under way
        if conv is not None and conv.state not in (WELCOME, DONE) and event.step != conv.step:
            # Another check is part-way: carry on with it, or start the follow-up instead.
            follow_up = Button(self.ui.buttons.check_again, f"fu|{conv.step}|{event.link}")
            return Outcome(conv, [self._resume_prompt(conv, follow_up)])
        defaults = self._earlier(event.earlier)
        return self._begin(ctx, [self._closed()], link=event.link, defaults=defaults)

    def _earlier(self, earlier: dict[str, list[str]]) -> dict[str, Answer]:
        """Stored option codes as answers (typed text is never among them)."""
        answers: dict[str, Answer] = {}
        for question in self.flow.questions:
            codes = earlier.get(question.id)
            if not codes or question.kind == "text":
                continue
            answers[question.id] = list(codes) if question.kind == "multi" else codes[0]
        return self.flow.clean(answers)

    def _shows_earlier(self, conv: Conversation, question: Question) -> bool:
        """Whether a question is shown with last time's answer ticked, as it was then."""
        if not conv.defaults or question.id in conv.answers:
            return False
        default = self._default(conv, question)
        if question.kind == "multi":
            return default is not None and list(conv.draft or ()) == default
        return default is not None

    def _default(self, conv: Conversation, question: Question) -> Answer | None:
        """Last time's answer to a question, if it can still be given now."""
        value = (conv.defaults or {}).get(question.id)
        if value is None:
            return None
        codes = {o.code for o in self.flow.choices(question, conv.answers)}
        if isinstance(value, list):
            kept = [c for c in value if c in codes]
            return kept or None
        return value if value in codes else None

    # ---- moving ----------------------------------------------------------------------------

    def _begin(
        self,
        ctx: Context,
        before: list[Reply],
        again: Conversation | None = None,
        link: str | None = None,
        defaults: dict[str, Answer] | None = None,
    ) -> Outcome:
        if again is not None and again.link is not None and again.state != DONE:
            # Starting a follow-up check over: it is still the follow-up check.
            link, defaults = again.link, again.defaults
        conv = Conversation(
            state=WELCOME,
            answers={},
            run=ctx.new_run(),
            started=ctx.now.isoformat(timespec="seconds"),
            link=link,
            defaults=defaults,
        )
        out = self._move(conv, "advance", close=False)
        out.replies[:0] = before
        return out

    def _answer(self, conv: Conversation, q: Question, value: Answer, pressed: bool) -> Outcome:
        answers = {**conv.answers, q.id: value}
        # An answer can take questions off the path; their old answers no longer apply.
        on_path = {x.id for x in self.flow.path(answers)}
        answers = {k: v for k, v in answers.items() if k in on_path}
        said = self.content.words(q, [value] if isinstance(value, str) else value)
        if q.kind == "text":
            said = [value or self.ui.skipped_answer] if isinstance(value, str) else said
        before = []
        if pressed:
            body = self.content.question_body(q, self._said(conv.answers))
            before.append(self._msg("answered.j2", edit=True, body=body, answer=", ".join(said)))
        out = self._move(replace(conv, answers=answers, draft=None), "advance", close=False)
        out.replies[:0] = before
        return out

    def _move(self, conv: Conversation, trigger: str, close: bool) -> Outcome:
        state = self._fire(conv, trigger, conv.answers)
        if state is None:
            return Outcome(conv, [self._view(conv)])
        reviewing = conv.reviewing or state == SUMMARY
        draft = self._draft(conv, state)
        new = replace(conv, state=state, step=conv.step + 1, reviewing=reviewing, draft=draft)
        replies = [self._closed()] if close else []
        replies.append(self._view(new))
        return Outcome(new, replies, reached=state if state != WELCOME else None)

    def _draft(self, conv: Conversation, state: str) -> tuple[str, ...] | None:
        """A multi-select's ticks on arriving at it: its answer, or last time's, or none."""
        question = self.flow.by_id.get(state)
        if question is None or question.kind != "multi":
            return None
        current = conv.answers.get(state)
        if current is None and conv.defaults:
            current = self._default(conv, question)
        return tuple(current) if isinstance(current, list) else ()

    def _fire(self, conv: Conversation, trigger: str, answers: dict[str, Answer]) -> str | None:
        model = _Model(self, answers, conv.reviewing)
        self.machine.add_model(model, initial=conv.state)
        try:
            moved = model.trigger(trigger)  # type: ignore[attr-defined]
        except (MachineError, AttributeError):
            moved = False
        finally:
            self.machine.remove_model(model)
        return model.state if moved else None

    def _stale(self, conv: Conversation | None, notice: str) -> Outcome:
        return Outcome(conv, [self._view(conv)], notice=notice, stale=True)

    # ---- views -----------------------------------------------------------------------------

    def _question(self, conv: Conversation | None) -> Question | None:
        return self.flow.by_id.get(conv.state) if conv is not None else None

    def _said(self, answers: dict[str, Answer]) -> dict[str, str]:
        said = {}
        for q in self.flow.path(answers):
            value = answers.get(q.id)
            if value is None:
                continue
            if q.kind == "text":
                said[q.id] = value or self.ui.skipped_answer  # type: ignore[assignment]
            else:
                codes = [value] if isinstance(value, str) else value
                said[q.id] = ", ".join(self.content.words(q, codes))
        return said

    def _removed(self, answers: dict[str, Answer]) -> tuple[str, ...]:
        """What scrubbing took out of the typed answers, in words, kind by kind."""
        texts = [
            value
            for q in self.flow.path(answers)
            if q.kind == "text" and isinstance(value := answers.get(q.id), str)
        ]
        said = []
        for kind, mark in self.marks.items():
            n = sum(text.count(mark) for text in texts)
            if n:
                said.append(getattr(self.ui.removed_said, kind).said(n))
        return tuple(said)

    def _privacy(self) -> Reply:
        after = self.content.reminders.reminder.after_days
        return self._msg(
            "privacy.j2",
            retention_days=self.retention_days,
            idle_days=self.idle_days,
            contact=self.contact,
            reminders=self.reminders,
            reminder_after=self.content.duration(after, "day"),
            follow_up=self._interval() if self.follow_up_months else None,
        )

    def _render(self, name: str, **context: Any) -> str:
        """A template rendered in this engine's channel's words."""
        return self.content.render(name, channel=self.channel, **context)

    def _msg(
        self,
        name: str,
        buttons: tuple[tuple[Button, ...], ...] = (),
        edit: bool = False,
        **context: Any,
    ) -> Reply:
        """A message rendered from a named template."""
        return Reply(self._render(name, **context), buttons, edit=edit, source=name)

    def _closed(self) -> Reply:
        """Remove the buttons from the message that was pressed (its text stays)."""
        return Reply("", (), edit=True)

    def _view(self, conv: Conversation | None) -> Reply:
        """The message showing where the person is now."""
        b = self.ui.buttons
        if conv is None or conv.state == WELCOME:
            step = conv.step if conv is not None else 0
            buttons = (
                (Button(b.start, f"go|{step}"),),
                (Button(b.privacy, f"pv|{step}"), Button(b.not_now, f"nn|{step}")),
            )
            return self._msg(
                "welcome.j2",
                buttons,
                returning=conv is not None,
                contact=self.contact,
            )
        if conv.state == SUMMARY:
            return self._summary(conv)
        if conv.state == DONE:
            buttons = (
                (Button(b.results_again, f"rs|{conv.step}"),),
                (Button(b.new_triage, f"nt|{conv.step}"),),
            )
            return self._msg("done.j2", buttons, code=conv.code)
        question = self.flow.by_id[conv.state]
        return self._question_view(conv, question)

    def screen(self, conv: Conversation | None) -> Screen:
        """Where the person is now, as typed data (every adapter renders from this).

        ``conv`` is a stored conversation (it is first fitted to the current content) or None
        for someone who has not started.
        """
        return self._screen(conv, with_back=True)

    def _screen(self, conv: Conversation | None, with_back: bool) -> Screen:
        # The chat's own views skip working out Back's target: they never show it.
        if conv is None:
            return Screen(page=WELCOME, step=0)
        conv = self._repair(conv)
        if conv.state == WELCOME:
            return Screen(page=WELCOME, step=conv.step)
        if conv.state == DONE:
            return Screen(page=DONE, step=conv.step, code=conv.code)
        back = self._fire(replace(conv, draft=None), "back", conv.answers) if with_back else None
        said = self._said(conv.answers)
        if conv.state == SUMMARY:
            items = tuple(
                SummaryItem(q.id, i, q.label, said.get(q.id, ""))
                for i, q in enumerate(self.flow.path(conv.answers), start=1)
            )
            removed = self._removed(conv.answers)
            return Screen(page=SUMMARY, step=conv.step, back=back, items=items, removed=removed)
        q = self.flow.by_id[conv.state]
        pos = self.flow.position(q.id, conv.answers)
        current = conv.answers.get(q.id)
        if current is None and conv.defaults and q.kind != "multi":
            current = self._default(conv, q)  # a follow-up check: last time's answer, ticked
        chosen = set(conv.draft or ()) if q.kind == "multi" else {current}
        choices = tuple(
            Choice(o.code, o.label, o.exclusive, o.code in chosen)
            for o in self.flow.choices(q, conv.answers)
        )
        return Screen(
            page="question",
            step=conv.step,
            back=back,
            question=q.id,
            kind=q.kind,
            label=q.label,
            body=self.content.question_body(q, said),
            number=pos.number,
            total=pos.total,
            choices=choices,
            scale=q.scale.model_dump() if q.scale else None,
            optional=q.optional,
            max_length=q.max_length,
            text=current if q.kind == "text" and isinstance(current, str) else None,
            error=q.error,
        )

    def _question_view(self, conv: Conversation, q: Question) -> Reply:
        b, marks, s = self.ui.buttons, self.ui.marks, conv.step
        screen = self._screen(conv, with_back=False)
        text = self._render(
            "question.j2",
            body=screen.body,
            number=screen.number,
            total=screen.total,
            kind=screen.kind,
            scale=screen.scale,
            optional=screen.optional,
            max_length=screen.max_length,
            earlier=self._shows_earlier(conv, q),
            options=len(screen.choices),
        )
        buttons: list[Button] = []
        for choice in screen.choices:
            if q.kind == "multi":
                mark = marks.selected if choice.chosen else marks.unselected
                buttons.append(Button(f"{mark} {choice.label}", f"t|{s}|{choice.code}"))
            else:
                label = f"{marks.selected} {choice.label}" if choice.chosen else choice.label
                buttons.append(Button(label, f"a|{s}|{choice.code}"))
        per_row = len(buttons) if q.kind == "scale" else q.columns
        rows = [tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]
        nav = [Button(b.back, f"b|{s}")]
        if q.kind == "multi":
            nav.append(Button(b.done, f"d|{s}"))
        if q.kind == "text" and q.optional:
            nav.append(Button(b.skip, f"s|{s}"))
        rows.append(tuple(nav))
        return Reply(text, tuple(rows), source="question.j2")

    def _summary(self, conv: Conversation) -> Reply:
        b, s = self.ui.buttons, conv.step
        screen = self._screen(conv, with_back=False)
        items = [{"number": i.number, "label": i.label, "answer": i.answer} for i in screen.items]
        text = self._render("summary.j2", items=items, removed=list(screen.removed))
        changes = [
            Button(b.change.format(label=i.label), f"c|{s}|{i.question}") for i in screen.items
        ]
        rows = [tuple(changes[i : i + 2]) for i in range(0, len(changes), 2)]
        rows.append((Button(b.back, f"b|{s}"), Button(b.confirm, f"ok|{s}")))
        return Reply(text, tuple(rows), source="summary.j2")

    def _repair(self, conv: Conversation) -> Conversation:
        """Make a stored conversation fit the current content (which may have changed)."""
        answers = self.flow.clean(conv.answers)
        state = conv.state
        if state not in self.flow.states:
            unanswered = self.flow.unanswered(answers)
            state = unanswered[0].id if unanswered else SUMMARY
        draft = None
        question = self.flow.by_id.get(state)
        if question is not None and question.kind == "multi":
            codes = {o.code for o in self.flow.choices(question, answers)}
            kept = conv.draft if state == conv.state else None
            draft = tuple(c for c in kept or () if c in codes)
        return replace(conv, answers=answers, state=state, draft=draft)
