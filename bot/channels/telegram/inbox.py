"""Committing updates to the inbox: the one step before Telegram may be told "received".

The poller and the webhook both hand updates here. Entries arriving while a commit is under
way are gathered into the next one (group commit), so a burst of webhook calls costs a few
transactions, not one each. ``add`` returns only once the entries are durable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.clock import utcnow
from bot.store import InboxEntry, Store, StoreThread


class InboxWriter:
    """Commits inbox entries on the store thread, then calls ``on_commit``."""

    def __init__(
        self, store: Store, store_thread: StoreThread, on_commit: Callable[[], None]
    ) -> None:
        self.store = store
        self.store_thread = store_thread
        self.on_commit = on_commit
        self._waiting: list[tuple[list[InboxEntry], asyncio.Future[None]]] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None

    async def add(self, entries: list[InboxEntry]) -> None:
        """Commit ``entries`` (ids already known are ignored); raise if the commit failed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((entries, future))
        if not self._flushing:
            self._flushing = True
            self._task = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                entries = [entry for group, _ in batch for entry in group]
                try:
                    await self.store_thread.call(self.store.inbox_add, entries, utcnow())
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
                self.on_commit()
        finally:
            self._flushing = False
