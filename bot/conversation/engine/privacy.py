"""Privacy: the privacy notice, and /forget with its Delete or Keep question (issue 18)."""

from __future__ import annotations

from typing import Any

from bot.conversation.engine.base import EngineBase
from bot.conversation.engine.events import (
    Button,
    Context,
    Conversation,
    Outcome,
    Reply,
)


class Privacy(EngineBase):
    """The privacy notice and forgetting a person."""

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

    def _on_privacy(
        self, conv: Conversation | None, q: Any, arg: str, ctx: Context
    ) -> Outcome | None:
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

    def _on_forget(
        self, conv: Conversation | None, q: Any, arg: str, ctx: Context
    ) -> Outcome | None:
        # Delete carries the run the question was asked in ("" with nothing stored).
        if arg != (conv.run if conv is not None else ""):
            return None  # asked before this check began: delete nothing
        return self._forgotten()

    def _on_keep(self, conv: Conversation | None, q: Any, arg: str, ctx: Context) -> Outcome | None:
        # Nothing changes: back to where they were, as "Carry on" does.
        return Outcome(conv, [self._closed(), self._view(conv)])

    def _forgotten(self) -> Outcome:
        return Outcome(None, [self._closed(), self._msg("forgotten.j2")], forget=True)
