"""The worker: takes due inbox rows through the engine, then hands the replies to the sender.

Each pass runs :meth:`bot.channels.service.Triage.work` on the store thread: for every row,
the state change, the outbox rows and "inbox row done" commit together. Only then are the rows given
to the sender and the button presses acknowledged. One person's rows go strictly in order;
a row that fails waits for its retry without holding up anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from bot.channels.service import Compose, Triage
from bot.channels.telegram.backoff import Backoff
from bot.channels.telegram.sender import Sender
from bot.ops.metrics import Metrics
from bot.store import StoreThread, describe

log = logging.getLogger(__name__)

# Rows per transaction: enough to share a commit, few enough that the first replies of a
# burst go out while the rest are still being worked through.
BATCH = 32


class Worker:
    """Works through the inbox whenever it is poked (and when a retry falls due)."""

    def __init__(
        self,
        triage: Triage,
        store_thread: StoreThread,
        sender: Sender,
        compose: Compose,
        batch: int = BATCH,
        metrics: Metrics | None = None,
        unseal: Callable[[str | bytes], str] | None = None,
    ) -> None:
        self.triage = triage
        self.store_thread = store_thread
        self.sender = sender
        self.batch = batch
        self.compose = compose
        self.metrics = metrics
        self.unseal = unseal  # opens the inbox rows' sealed events
        self.handled = 0
        self.busy = False
        self._wake = asyncio.Event()
        self._backoff = Backoff(first=0.5, cap=30)

    def poke(self) -> None:
        """New rows were committed: look at the inbox soon."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set (a pass under way finishes first)."""
        self._wake.set()  # rows left from before a restart
        while not stop.is_set():
            timeout = await self._pass()
            if timeout is None or timeout > 0:
                await _first(stop, self._wake, timeout)

    async def _pass(self) -> float | None:
        """One pass; return how long to wait before the next (None: until poked)."""
        self._wake.clear()
        self.busy = True
        try:
            worked = await self.store_thread.call(
                self.triage.work, self.compose, self.batch, self.unseal
            )
        except Exception as exc:  # the transaction could not commit: disk full, locked...
            delay = self._backoff.next()
            log.warning(
                "could not work through the inbox (%s); trying again in %.1fs",
                describe(exc, self.triage.store.path),
                delay,
            )
            return delay
        finally:
            self.busy = False
        if self._backoff.reset():
            log.info("working through the inbox again")
        self.sender.enqueue(worked.outgoing)
        for callback_id, note in worked.answers:
            self.sender.answer(callback_id, note)
        self.handled += worked.handled
        if self.metrics is not None:
            self.metrics.handled(worked.handled, worked.failed)
        if worked.more:
            return 0
        if worked.next_due is None:
            return None
        return max(0.0, worked.next_due - time.time())


async def _first(stop: asyncio.Event, wake: asyncio.Event, timeout: float | None) -> None:
    """Wait until ``stop`` or ``wake`` is set, or ``timeout`` passes."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await w
