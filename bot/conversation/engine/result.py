"""The result of a finished check, as the chat shows it (issue 8).

:meth:`Results.result` gives it as typed data (built by :mod:`bot.conversation.result`,
cached: it is a pure function of the answers). Here it becomes the first message with its
buttons, one message per section, and the plan file (:meth:`Results.plan`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from bot.conversation.conditions import Frozen, freeze, thaw
from bot.conversation.engine.base import EngineBase
from bot.conversation.engine.events import (
    Button,
    Context,
    Conversation,
    Document,
    Outcome,
    Reply,
    long_date,
)
from bot.conversation.flow import DONE
from bot.conversation.render import BREAK, pack
from bot.conversation.result import HandoverState, Result, build_result


class Results(EngineBase):
    """The result, its sections and the plan file."""

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

    # ---- its buttons -------------------------------------------------------------------------

    def _on_results(self, conv: Conversation, q: Any, arg: str, ctx: Any) -> Outcome | None:
        if conv.state != DONE:
            return None
        return Outcome(conv, self._result(conv))

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
