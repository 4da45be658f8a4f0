"""The handover: a person asks the programme team to contact them (issue 8).

Offered on the result when a team chat is set. The person chooses to send their Telegram name
or not (the adapter adds the name; the engine never sees it); the post goes to the team's
chat as a reply with ``audience="team"``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.conversation.engine.base import EngineBase
from bot.conversation.engine.events import (
    NAMED_HANDOVER,
    Button,
    Context,
    Conversation,
    Outcome,
    Reply,
    long_date,
)
from bot.conversation.flow import DONE


class Handover(EngineBase):
    """Asking the programme team to get in touch."""

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
