"""What every part of the engine shares: its settings, the flow's machine, replies.

:class:`EngineBase` holds what the engine is built with (its constructor is the
:class:`~bot.conversation.engine.Engine`'s) and the few helpers every feature uses. Each
feature module adds one mixin over it; features call each other's methods through ``self``,
as the composed :class:`~bot.conversation.engine.Engine` has them all.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property, lru_cache
from typing import Any

from transitions import MachineError

from bot.contacts import Contact
from bot.conversation.conditions import Answer
from bot.conversation.content import Channel, Content
from bot.conversation.engine.events import (
    CHAT_CHANNELS,
    Button,
    Conversation,
    Outcome,
    Reply,
)
from bot.conversation.flow import WELCOME, Question, build_machine


class _Model:
    """The throw-away object the machine moves between states for one event."""

    def __init__(self, engine: EngineBase, answers: dict[str, Answer], reviewing: bool) -> None:
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


class EngineBase:
    """The settings and shared helpers of the engine (see :class:`Engine`)."""

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
        # result's messages needs it again). lru_cache is safe across threads. The cached
        # methods are the features' (result.py, coming_back.py).
        self._build = lru_cache(maxsize=256)(self._build_result)
        self._pieces = lru_cache(maxsize=64)(self._render_pieces)
        self._reminder_text = lru_cache(maxsize=256)(self._render_reminder)

    # ---- the flow's machine ------------------------------------------------------------------

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

    def _question(self, conv: Conversation | None) -> Question | None:
        return self.flow.by_id.get(conv.state) if conv is not None else None

    # ---- replies -----------------------------------------------------------------------------

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

    def _stale(self, conv: Conversation | None, notice: str) -> Outcome:
        return Outcome(conv, [self._view(conv)], notice=notice, stale=True)
