"""Transport-neutral orchestration: one event, one transaction, then the replies.

Both adapters call :meth:`Triage.handle`. It loads the person's conversation, asks the engine
what happens, and commits the result (and, for Telegram, the update id) in one transaction
before anything is shown to the person.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from .disclosure import Rules
from .engine import Context, Conversation, Engine, Event, Outcome, Resume, Stats
from .privacy import new_reference_code, new_run_id
from .store import CodeTaken, Store

log = logging.getLogger(__name__)


def utcnow() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


class Triage:
    """The engine plus the store. Call from one thread (the store's)."""

    def __init__(
        self,
        store: Store,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        new_code: Callable[[], str] = new_reference_code,
        rules: Rules | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.clock = clock
        self.new_code = new_code
        self.rules = rules or Rules()

    def handle(self, subject: str, event: Event, update_id: int | None = None) -> Outcome | None:
        """Apply one event for one pseudonym; None if this update was already answered."""
        for _attempt in range(10):
            try:
                return self._handle_once(subject, event, update_id)
            except CodeTaken:
                log.warning("reference code collision; drawing another")
        raise RuntimeError("could not draw an unused reference code")

    def _handle_once(self, subject: str, event: Event, update_id: int | None) -> Outcome | None:
        now = self.clock()
        ctx = Context(now=now, new_code=self.new_code, new_run=new_run_id)
        with self.store.transaction():
            if update_id is not None:
                seen = self.store.seen(update_id)
                if seen.handled:
                    if seen.replied:
                        return None
                    # Handled, but the replies may never have arrived: show where they are.
                    return self.engine.handle(self.store.load(subject), Resume(), ctx)
                self.store.record_update(update_id, now)
            conv = self.store.load(subject)
            if isinstance(event, Stats) and event.figures is None:
                event = Stats(self.stats_figures(now))
            outcome = self.engine.handle(conv, event, ctx)
            self._apply(subject, conv, outcome, now)
        return outcome

    def _apply(
        self, subject: str, before: Conversation | None, outcome: Outcome, now: dt.datetime
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
            self.store.add_response(subject, outcome.completion)
        if outcome.handover and after is not None and after.code is not None:
            self.store.record_handover(after.code, now)
        if outcome.reached is not None and after is not None:
            self.store.reached(after.run, outcome.reached, now)

    def stats_figures(self, now: dt.datetime) -> dict[str, object]:
        """Headline figures for /stats, with disclosure control applied."""
        from .analytics import Analysis, load_responses
        from .reporting import stats_figures

        content = self.engine.content
        analysis = Analysis(content, self.rules)
        headline = analysis.headline(self.store, load_responses(self.store), now.date())
        return stats_figures(content, self.rules, headline)

    def mark_replied(self, update_id: int) -> None:
        """Record that the replies to an update were delivered."""
        self.store.mark_replied(update_id)
