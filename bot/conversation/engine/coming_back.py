"""Coming back: one reminder, a follow-up check (issue 9).

The engine says what to send later (:attr:`Outcome.later`) and what the person chose; when it
goes is the service's (settings and clock), and only the Telegram transport sends it. A
follow-up check starts with last time's answers ticked where they still fit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from bot.conversation.conditions import Answer
from bot.conversation.engine.base import EngineBase
from bot.conversation.engine.events import (
    Button,
    Context,
    Conversation,
    FollowUpStart,
    Later,
    Outcome,
    Reply,
    long_date,
)
from bot.conversation.flow import DONE, SUMMARY, WELCOME, Question
from bot.later import FOLLOW_UP, add_months


class ComingBack(EngineBase):
    """Reminders for a check left part-way, and follow-up checks."""

    # ---- one reminder, for a check left part-way ---------------------------------------------

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

    # ---- a follow-up check, some months after the result -------------------------------------

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
