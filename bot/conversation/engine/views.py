"""The current screen: where the person is, as a message (chat) or as typed data (web).

:meth:`Views.screen` describes the welcome, a question, the summary or the end as a
:class:`Screen`; the chat's messages (:meth:`Views._view`: the question with its buttons, the
summary with its Change buttons) are drawn from that same description.
"""

from __future__ import annotations

from dataclasses import replace

from bot.conversation.conditions import Answer
from bot.conversation.engine.base import EngineBase
from bot.conversation.engine.events import (
    Button,
    Choice,
    Conversation,
    Reply,
    Screen,
    SummaryItem,
)
from bot.conversation.flow import DONE, SUMMARY, WELCOME, Question


class Views(EngineBase):
    """Showing where a person is now."""

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
