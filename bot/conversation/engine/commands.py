"""Commands (/start, /restart, /cancel, /help, /privacy, /forget, /stats) and typed text.

Typed text is an answer where a text question is asked; anywhere else, like a photo or an
unknown command, it gets the current screen again with a word on what is expected there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from bot.conversation.engine.base import EngineBase
from bot.conversation.engine.events import (
    Button,
    Context,
    Conversation,
    Outcome,
)
from bot.conversation.flow import DONE, WELCOME, Question
from bot.privacy import scrub


class Commands(EngineBase):
    """Commands, typed answers, and re-asking after something unexpected."""

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
