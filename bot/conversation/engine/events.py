"""The values passed into and out of the engine, and a few small pure helpers.

In: a stored :class:`Conversation`, one :data:`Event` (a command, a button press, typed text, a
web form's :class:`Submit`...) and a :class:`Context` (the time and fresh random ids). Out: an
:class:`Outcome` (the new state, :class:`Reply` messages with their :class:`Button` rows, a
notice, a :class:`Completion` to store, messages to send :class:`Later`), or a :class:`Screen`,
where the person is as typed data. Plain dataclasses: they carry data and do nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args

from bot.conversation.conditions import Answer
from bot.conversation.content import Channel
from bot.privacy import new_link_id

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
