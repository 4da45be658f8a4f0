"""Is the bot well? One verdict from the store's figures, for `health`, `/healthz` and metrics.

The figures come from :meth:`bot.store.Store.health`: whether the database takes writes, and
how many updates (inbox) and messages (outbox) wait and since when. The verdict compares the
ages with the thresholds in the settings: an inbox row waits for the engine, which takes
milliseconds, so a minute means the worker is stuck; an outbox row waits for Telegram's
limits and any 429 pause, so it is given longer. Failed rows (a person who blocked the bot,
an update nobody could read) are counted, never a reason to call the bot unwell: they are
history, and an unhealthy container would be restarted for nothing.

The Telegram bot and the web page share the upkeep around the store here: the /healthz
answer, the figures /metrics reads, and the retention purge they run every six hours.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.clock import utcnow
from bot.settings import Settings
from bot.store import Health, Store, describe

# How to run ``fn(*args)`` on the store thread: the Telegram bot's ``StoreThread.call`` (alone),
# or the web page's ``StoreThread.commit`` (in a group).
StoreCall = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Thresholds:
    """How long (seconds) a row may wait before the bot counts as behind."""

    inbox_age: float = 60.0
    outbox_age: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        """TRIAGE_HEALTH_INBOX_AGE and TRIAGE_HEALTH_OUTBOX_AGE."""
        return cls(settings.health_inbox_age, settings.health_outbox_age)


@dataclass(frozen=True)
class Verdict:
    """The figures, the thresholds and what is wrong (nothing, when healthy)."""

    figures: Health
    thresholds: Thresholds
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems

    def line(self) -> str:
        """One line for people and logs: the verdict, then every figure."""
        f, t = self.figures, self.thresholds
        head = "healthy" if self.ok else f"unhealthy ({'; '.join(self.problems)})"
        return (
            f"{head}: database {'writable' if f.writable else 'NOT writable'}; "
            f"inbox {f.inbox_depth} waiting, oldest {_age(f.inbox_oldest_s)} "
            f"(limit {t.inbox_age:g}s); outbox {f.outbox_depth} waiting, oldest "
            f"{_age(f.outbox_oldest_s)} (limit {t.outbox_age:g}s), {f.outbox_scheduled} "
            f"scheduled; failed in the last 48 h: {f.inbox_failed} updates, "
            f"{f.outbox_failed} messages; 429 pauses: {f.pauses_429}"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON for /healthz: status, problems, the figures and the thresholds."""
        return {
            "status": "ok" if self.ok else "unhealthy",
            "problems": list(self.problems),
            **self.figures.as_dict(),
            "inbox_age_limit_s": self.thresholds.inbox_age,
            "outbox_age_limit_s": self.thresholds.outbox_age,
        }


def judge(figures: Health, thresholds: Thresholds) -> Verdict:
    """What is wrong with these figures, if anything."""
    problems = []
    if not figures.writable:
        problems.append("the database does not take writes")
    if figures.inbox_oldest_s is not None and figures.inbox_oldest_s > thresholds.inbox_age:
        problems.append(
            f"an update has waited {_age(figures.inbox_oldest_s)} to be handled "
            f"(limit {thresholds.inbox_age:g}s)"
        )
    if figures.outbox_oldest_s is not None and figures.outbox_oldest_s > thresholds.outbox_age:
        problems.append(
            f"a message has waited {_age(figures.outbox_oldest_s)} to be sent "
            f"(limit {thresholds.outbox_age:g}s)"
        )
    return Verdict(figures, thresholds, tuple(problems))


async def read_verdict(
    call: StoreCall, store: Store, settings: Settings, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON /healthz answers: the verdict on the store's figures, then ``extra``.

    If the store cannot give its figures, "unhealthy" with the error's type (no ``extra``).
    """
    try:
        figures = await call(store.health)
    except Exception as exc:  # the store itself failed: say so, never a traceback
        return {"status": "unhealthy", "problems": [f"database: {type(exc).__name__}"]}
    return {**judge(figures, Thresholds.from_settings(settings)).as_dict(), **(extra or {})}


def queue_figures(call: StoreCall, store: Store) -> Callable[[], Awaitable[Health]]:
    """What /metrics reads at each scrape: the store's figures, without the write test."""

    async def figures() -> Health:
        return await call(partial(store.health, probe=False))

    return figures


async def purge_once(
    call: StoreCall, store: Store, settings: Settings, log: logging.Logger
) -> dict[str, int] | None:
    """Apply the retention rules; a failure is logged on ``log`` (None), to be tried again."""
    try:
        counts = await call(store.purge, utcnow(), settings.idle_days, settings.retention_days)
    except Exception as exc:  # a full disk, say: say so, and try again next time
        log.error("retention purge failed (%s); will try again", describe(exc, store.path))
        return None
    if any(counts.values()):
        log.info("retention purge: %s", counts)
    return counts


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.0f}s"
