"""The conversation engine: pure, transport-neutral and free of I/O.

Given a conversation's stored state and one event, :meth:`Engine.handle` returns the new state
and the replies (text plus buttons) to show. Navigation goes through the one ``transitions``
machine built from the flow; the engine re-hydrates a throw-away model per event, so the
machine itself holds no one's state.

:class:`Engine` is the one public class. It is put together here from one mixin per feature,
each in its own module over :class:`~bot.conversation.engine.base.EngineBase`:

- ``events.py``: the values in and out (events, replies, the outcome, the screen, the context)
  and small pure helpers on callback data;
- ``base.py``: the constructor's settings, the flow's machine, rendering a reply;
- ``presses.py``: the one table from a button's verb to its handler (``PRESSES``);
- ``walk.py``: the walk through the questions (answer, tick, Done, Skip, Back, Change,
  Confirm, a web form's answer, an earlier question shown again, repair after a content change);
- ``views.py``: where a person is, as a message or as a :class:`Screen` (question, summary);
- ``result.py``: the result, its sections and the plan file;
- ``handover.py``: asking the programme team to get in touch;
- ``coming_back.py``: the one reminder and the follow-up check;
- ``privacy.py``: the privacy notice, /forget and its Delete or Keep question;
- ``commands.py``: commands, typed text, and re-asking after something unexpected.

What it may import: the standard library, ``transitions``, the rest of ``bot.conversation``
(content, flow, conditions, render, result) and the pure shared modules ``bot.contacts``,
``bot.later`` and ``bot.privacy``. Never telegram or aiohttp, the store, a channel, a tool
(team, editors, ops, cli) or anything else that does I/O: the time and random ids come in
through :class:`Context`, and what happens next is for the caller to do with the
:class:`Outcome`.
"""

from __future__ import annotations

from bot.conversation.engine.coming_back import ComingBack
from bot.conversation.engine.commands import Commands
from bot.conversation.engine.events import (
    CHAT_CHANNELS,
    COMMANDS,
    NAMED_HANDOVER,
    Button,
    Choice,
    Command,
    Completion,
    Context,
    Conversation,
    Document,
    Event,
    FollowUpStart,
    Later,
    NotPrivate,
    Outcome,
    Press,
    Reply,
    Resume,
    Screen,
    Stats,
    Submit,
    SummaryItem,
    Text,
    Unsupported,
    follow_up_press,
    long_date,
    shares_name,
)
from bot.conversation.engine.handover import Handover
from bot.conversation.engine.presses import Presses
from bot.conversation.engine.privacy import Privacy
from bot.conversation.engine.result import Results
from bot.conversation.engine.views import Views
from bot.conversation.engine.walk import Walk
from bot.later import REMINDER

__all__ = [
    "CHAT_CHANNELS",
    "COMMANDS",
    "NAMED_HANDOVER",
    "Button",
    "Choice",
    "Command",
    "Completion",
    "Context",
    "Conversation",
    "Document",
    "Engine",
    "Event",
    "FollowUpStart",
    "Later",
    "NotPrivate",
    "Outcome",
    "Press",
    "Reply",
    "Resume",
    "Screen",
    "Stats",
    "Submit",
    "SummaryItem",
    "Text",
    "Unsupported",
    "follow_up_press",
    "long_date",
    "shares_name",
]


class Engine(Presses, Commands, Walk, Views, Results, Handover, ComingBack, Privacy):
    """Turns (stored state, event) into (new state, replies). One per content bundle.

    Built with the constructor of :class:`~bot.conversation.engine.base.EngineBase`; each
    feature's methods come from its mixin (see this package's docstring).
    """

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
