"""Transport-neutral orchestration: one event, one transaction, then the replies.

Two paths lead through the engine:

- :meth:`Triage.handle` is the direct path (terminal chat, web page): it loads the person's
  conversation, asks the engine what happens and commits the result, returning the outcome
  for the caller to show. Nothing is shown before it is committed.
- :meth:`Triage.work` is the inbox path (Telegram): it takes due inbox rows and, for each,
  commits the state change, the outbox rows carrying the replies and "inbox row done"
  together. A repeated update finds its row done and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from bot.clock import utcnow
from bot.conversation.engine import (
    Command,
    Context,
    Conversation,
    Engine,
    Event,
    FollowUpStart,
    NotPrivate,
    Outcome,
    Press,
    Resume,
    Stats,
    Text,
    Unsupported,
    follow_up_press,
)
from bot.later import DEFAULT_QUIET, FOLLOW_UP, REMINDER, QuietHours, follow_up_at, reminder_at
from bot.privacy import new_reference_code, new_run_id
from bot.store import CodeTaken, InboxItem, Outgoing, Store, explain

log = logging.getLogger(__name__)
_T = TypeVar("_T")

CODE_DRAWS = 10
# An inbox row that keeps failing is retried this many times, waiting longer each time
# (0.5 s, 1 s, 2 s, 4 s), then recorded as failed by id and kind only.
WORK_ATTEMPTS = 5
WORK_BACKOFF = 0.5

Compose = Callable[[InboxItem, Outcome], list[Outgoing]]
# /stats: the protected headline figures from the store at a time (the team's tools make them;
# the command line passes them in, as a channel may not import the team's tools).
StatsSource = Callable[[Store, dt.datetime], dict[str, object]]


# ---- events as the inbox keeps them --------------------------------------------------------


def encode_event(event: Event) -> str:
    """An engine event as compact JSON for the inbox."""
    if isinstance(event, Command):
        return json.dumps({"t": "command", "v": event.name}, ensure_ascii=False)
    if isinstance(event, Press):
        return json.dumps({"t": "press", "v": event.data}, ensure_ascii=False)
    if isinstance(event, Text):
        return json.dumps({"t": "text", "v": event.text}, ensure_ascii=False)
    if isinstance(event, Unsupported):
        return json.dumps({"t": "unsupported", "v": event.what})
    if isinstance(event, NotPrivate):
        return '{"t":"not_private"}'
    if isinstance(event, Stats):
        return '{"t":"stats"}'
    return '{"t":"resume"}'


def decode_event(raw: str) -> Event:
    """The engine event an inbox row holds."""
    data = json.loads(raw)
    kind, value = data["t"], data.get("v", "")
    if kind == "command":
        return Command(value)
    if kind == "press":
        return Press(value)
    if kind == "text":
        return Text(value)
    if kind == "unsupported":
        return Unsupported(value)
    if kind == "not_private":
        return NotPrivate()
    if kind == "stats":
        return Stats()
    return Resume()


@dataclass
class Worked:
    """What one pass over the inbox did, for the transport to act on after the commit."""

    outgoing: list[Outgoing] = field(default_factory=list)
    # Button presses to acknowledge (callback id, pop-up note); best effort, not durable.
    answers: list[tuple[str, str | None]] = field(default_factory=list)
    handled: int = 0
    failed: int = 0
    more: bool = False
    forgot: bool = False
    # When (unix time) a row waiting for a retry falls due, if any waits.
    next_due: float | None = None


class Triage:
    """The engine plus the store. Call from one thread (the store's)."""

    def __init__(
        self,
        store: Store,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        new_code: Callable[[], str] = new_reference_code,
        stats: StatsSource | None = None,
        on_check: Callable[[str, str], None] | None = None,
        quiet: QuietHours | None = None,
    ) -> None:
        """``quiet``: the hours (UK time) in which nothing is sent later (issue 9).

        ``stats``: the figures /stats shows a programme admin; without it, /stats is not
        available and the engine answers it as it answers anyone else (with help).
        """
        self.store = store
        self.engine = engine
        self.clock = clock
        self.new_code = new_code
        self.stats = stats
        # Told ("started" or "finished", channel) once the change is committed (metrics).
        self.on_check = on_check
        self._checks: list[tuple[str, str]] = []
        self.quiet = quiet if quiet is not None else QuietHours.parse(DEFAULT_QUIET)

    # ---- the direct path ---------------------------------------------------------------------

    def handle(self, subject: str, event: Event, *, channel: str = "telegram") -> Outcome:
        """Apply one event for one pseudonym and commit it; return what to show.

        ``channel`` ("telegram" or "web") is recorded with a response the event completes.
        Nothing is ever sent later on this path (the terminal and the web page cannot reach
        anyone later): messages an outcome would send later are dropped here.
        """

        def attempt() -> Outcome:
            with self.store.transaction():
                return self._decide(subject, event, self.clock(), channel)

        told = len(self._checks)
        try:
            outcome = self._drawing_codes(attempt)
        except BaseException:
            del self._checks[told:]
            raise
        if not self.store.conn.in_transaction:
            # Committed. (Inside a web group's transaction, the group tells once it commits.)
            self.checks_committed()
        if outcome.forget:
            self.store.checkpoint()
        outcome.later = []
        return outcome

    def _drawing_codes(self, attempt: Callable[[], _T]) -> _T:
        """Run ``attempt`` (one transaction or savepoint) again while its new code is taken."""
        for _draw in range(CODE_DRAWS):
            told = len(self._checks)
            try:
                return attempt()
            except CodeTaken:
                del self._checks[told:]  # rolled back: nothing of it happened
                log.warning("reference code collision; drawing another")
        raise RuntimeError("could not draw an unused reference code")

    # ---- the inbox path ----------------------------------------------------------------------

    def work(
        self,
        compose: Compose,
        limit: int = 64,
        unseal: Callable[[str | bytes], str] | None = None,
    ) -> Worked:
        """Handle up to ``limit`` due inbox rows in one transaction, each in its own savepoint.

        For each row: the state change, the outbox rows ``compose`` makes from the outcome and
        "row done" commit together. A row that raises is rolled back alone and retried later
        (the person's later rows wait behind it); after :data:`WORK_ATTEMPTS` it is recorded as
        failed and the person is re-shown their question the next time they write.
        ``unseal`` opens a row's sealed event (memory only; the row keeps it sealed).
        """
        worked = Worked()
        now = self.clock()
        due = self.store.inbox_due(time.time(), limit)
        worked.more = len(due) == limit
        if not due:
            worked.next_due = self.store.inbox_next_due(time.time())
            return worked
        blocked: set[str] = set()
        done: list[int] = []
        self._checks.clear()
        try:
            self._work_all(due, worked, blocked, done, now, compose, unseal)
        except BaseException:
            self._checks.clear()
            raise
        self.checks_committed()
        worked.handled = len(done)
        if worked.forgot:
            self.store.checkpoint()
        if not worked.more:
            worked.next_due = self.store.inbox_next_due(time.time())
        return worked

    def _work_all(
        self,
        due: list[InboxItem],
        worked: Worked,
        blocked: set[str],
        done: list[int],
        now: dt.datetime,
        compose: Compose,
        unseal: Callable[[str | bytes], str] | None = None,
    ) -> None:
        with self.store.transaction():
            flagged = self.store.reshow_subjects()
            for item in due:
                if item.subject in blocked:
                    continue  # an earlier row of theirs failed just now: keep their order
                told = len(self._checks)
                try:
                    if unseal is not None:
                        item = replace(item, event=unseal(item.event))
                    outcome, rows = self._work_one(item, now, compose, item.subject in flagged)
                except Exception as exc:
                    del self._checks[told:]  # rolled back: nothing of it happened
                    if isinstance(exc, sqlite3.Error) and explain(exc, self.store.path):
                        # The file failed (full, read-only...), not this update: undo the
                        # pass, and let the worker retry it all without using up any tries.
                        raise
                    blocked.add(item.subject)
                    self._failed(item, exc, now)
                    worked.failed += 1
                    continue
                done.append(item.update_id)
                worked.outgoing.extend(rows)
                worked.forgot = worked.forgot or outcome.forget
                if item.callback_id is not None:
                    worked.answers.append((item.callback_id, outcome.notice))
            self.store.inbox_done(done, now)

    def _work_one(
        self, item: InboxItem, now: dt.datetime, compose: Compose, flagged: bool
    ) -> tuple[Outcome, list[Outgoing]]:
        """One row in its own savepoint: the state change and its outbox rows."""
        event = decode_event(item.event)  # type: ignore[arg-type]

        def attempt() -> tuple[Outcome, list[Outgoing]]:
            with self.store.savepoint():
                outcome = self._decide(item.subject, event, now)
                self._schedule(item.subject, outcome, now)
                lost = flagged and self.store.reshow_take(item.subject)
                if lost and not _shows_a_message(outcome):
                    # Something of theirs was lost: show where they are as well.
                    ctx = self._context(now)
                    resumed = self.engine.handle(outcome.conversation, Resume(), ctx)
                    outcome.replies.extend(resumed.replies)
                return outcome, self.store.outbox_add(compose(item, outcome), now)

        return self._drawing_codes(attempt)

    def _failed(self, item: InboxItem, exc: Exception, now: dt.datetime) -> None:
        attempts = item.attempts + 1
        kind = type(exc).__name__
        if attempts < WORK_ATTEMPTS:
            delay = WORK_BACKOFF * 2 ** (attempts - 1)
            self.store.inbox_retry(item.update_id, attempts, time.time() + delay, kind)
            log.warning(
                "a %s update could not be handled (%s); retry %d in %.1fs",
                item.kind,
                kind,
                attempts,
                delay,
            )
            return
        subject = self.store.inbox_fail(item.update_id, kind, now)
        if subject is not None:
            self.store.reshow_flag(subject, now)
        log.error(
            "a %s update failed %d times (%s); recorded as failed, others carry on",
            item.kind,
            attempts,
            kind,
        )

    # ---- messages sent later (issue 9): the engine says what, this says when ------------------

    def _schedule(self, subject: str, outcome: Outcome, now: dt.datetime) -> None:
        """Inside the event's savepoint: end the waiting reminder, time what the outcome asks.

        Any event from the person ends a reminder still waiting (it is replaced, in place, if
        the conversation still wants one, counted from now). A follow-up asked for replaces any
        earlier one, and puts its link on the finished response. The outbox rows themselves
        come from ``compose``, with the times set here, in the same transaction.
        """
        if outcome.forget:
            return  # Store.forget has cancelled everything
        if not any(later.kind == REMINDER for later in outcome.later):
            self.store.later_cancel(subject, REMINDER)  # else the new one replaces it
        if outcome.follow_up_off:
            self.store.follow_up_cancel(subject)
        timed = []
        for later in outcome.later:
            if later.kind == REMINDER:
                days = self.engine.content.reminders.reminder.after_days
                at = reminder_at(now, days, self.quiet)
            elif later.kind == FOLLOW_UP and later.link is not None:
                conv = outcome.conversation
                if conv is None or conv.code is None:
                    continue
                at = follow_up_at(now, self.engine.follow_up_months, self.quiet)
                self.store.follow_up_add(subject, conv.code, later.link, at, now)
            else:
                continue
            timed.append(replace(later, at=at.timestamp()))
        outcome.later = timed

    # ---- shared ------------------------------------------------------------------------------

    def _context(self, now: dt.datetime) -> Context:
        return Context(now=now, new_code=self.new_code, new_run=new_run_id)

    def _decide(
        self, subject: str, event: Event, now: dt.datetime, channel: str = "telegram"
    ) -> Outcome:
        """Inside a transaction: load, ask the engine, apply. Raises CodeTaken on a clash."""
        conv = self.store.load(subject)
        if isinstance(event, Stats) and event.figures is None and self.stats is not None:
            event = Stats(self.stats(self.store, now))
        if isinstance(event, Press) and (press := follow_up_press(event.data)) is not None:
            # "Check again": the earlier answers, if this person's follow-up is still open.
            step, link = press
            event = FollowUpStart(link, step, self.store.follow_up_answers(subject, link))
        outcome = self.engine.handle(conv, event, self._context(now))
        self._apply(subject, conv, outcome, now, channel)
        return outcome

    def _apply(
        self,
        subject: str,
        before: Conversation | None,
        outcome: Outcome,
        now: dt.datetime,
        channel: str = "telegram",
    ) -> None:
        after = outcome.conversation
        if outcome.forget:
            self.store.forget(subject)
            return
        if after is None:
            if before is not None:
                self.store.delete(subject)
        elif after != before:
            self.store.save(subject, after, now)
        if outcome.completion is not None:
            self.store.add_response(subject, outcome.completion, channel)
            self._checks.append(("finished", channel))
        if outcome.handover and after is not None and after.code is not None:
            self.store.record_handover(after.code, now)
        if outcome.reached is not None and after is not None:
            first = self.store.reached(after.run, outcome.reached, now)
            if first and outcome.reached == self.engine.content.flow.questions[0].id:
                self._checks.append(("started", channel))

    def checks_committed(self) -> None:
        """After a commit: report the checks it started and finished (then forget them)."""
        checks, self._checks = self._checks, []
        if self.on_check is not None:
            for event, channel in checks:
                self.on_check(event, channel)

    def checks_rolled_back(self) -> None:
        """After a rollback: forget the checks noted since the last commit."""
        self._checks.clear()


def _shows_a_message(outcome: Outcome) -> bool:
    """Whether the person gets a new message (not just edits, a pop-up note or a team post)."""
    return any(
        reply.text and not reply.edit and reply.audience != "team" for reply in outcome.replies
    )
