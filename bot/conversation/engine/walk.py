"""The walk through the questions: start, answer, go back, change an answer, confirm.

Button presses on the welcome and on a question or the summary (answer, tick, Done, Skip, Back,
Change, Confirm), a web form's whole answer (:class:`Submit`) and an earlier question shown
again (:meth:`Walk.revisit`), and the moves they make on the flow's machine. Confirming
finishes the check: the :class:`Completion` to store (:meth:`Walk.completion`) and the
result's first message. :meth:`Walk._repair` fits a stored conversation to content that has
changed since.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.conversation.conditions import Answer
from bot.conversation.engine.base import EngineBase
from bot.conversation.engine.events import (
    Completion,
    Context,
    Conversation,
    Outcome,
    Reply,
    Screen,
    Submit,
)
from bot.conversation.flow import DONE, SUMMARY, WELCOME, Question


class Walk(EngineBase):
    """Moving a conversation through the flow's questions to its end."""

    # ---- the welcome's buttons, carrying on, starting again ----------------------------------

    def _on_go(
        self, conv: Conversation | None, q: Question | None, arg: str, ctx: Context
    ) -> Outcome | None:
        if conv is None:
            return self._begin(ctx, [self._closed()])  # Start: the first thing stored
        if conv.state != WELCOME:
            return None
        return self._move(conv, "advance", close=True)

    def _on_not_now(
        self, conv: Conversation | None, q: Any, arg: str, ctx: Context
    ) -> Outcome | None:
        return Outcome(conv, [self._msg("not_now.j2")])

    def _on_continue(self, conv: Conversation, q: Any, arg: str, ctx: Context) -> Outcome | None:
        return Outcome(conv, [self._closed(), self._view(conv)])

    def _on_again(self, conv: Conversation, q: Any, arg: str, ctx: Context) -> Outcome | None:
        return self._begin(ctx, [self._closed()], again=conv)

    # ---- answering the question shown --------------------------------------------------------

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

    # ---- the summary: change an answer, confirm ----------------------------------------------

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

    # ---- whole answers (web forms) and an earlier question shown again -----------------------

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

    # ---- moving ------------------------------------------------------------------------------

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
