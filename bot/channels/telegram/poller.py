"""The poller: fetch updates, commit them to the inbox, then confirm them. Nothing else.

Each ``getUpdates`` batch is read as raw JSON and each update parsed on its own, so one
unreadable update never stops the rest. The batch is committed to the inbox in one
transaction; only then does the next ``getUpdates`` carry ``offset = last id + 1``, which
tells Telegram the batch was received. A crash before that commit means Telegram sends the
batch again; a crash after it means the inbox ignores the ids it already holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from bot.channels.telegram.api import BotApi, reason
from bot.channels.telegram.backoff import Backoff, sleep_unless_stopped
from bot.channels.telegram.convert import ALLOWED_UPDATES, Reader
from bot.channels.telegram.errors import Conflict, InvalidToken, RetryAfter, TelegramError, TimedOut
from bot.channels.telegram.inbox import InboxWriter
from bot.store import describe

log = logging.getLogger(__name__)

UPDATES_PER_POLL = 100  # the most getUpdates returns at once
# Confirming at shutdown is a courtesy (the inbox ignores a batch sent again): keep it short.
CONFIRM_WITHIN = 1.0


class TokenRejected(Exception):
    """Telegram refused the bot token (401 or 404): retrying will not help."""


class Poller:
    """Long-polls ``getUpdates`` into the inbox."""

    def __init__(
        self,
        api: BotApi,
        reader: Reader,
        inbox: InboxWriter,
        *,
        poll_timeout: int = 30,
    ) -> None:
        self.api = api
        self.reader = reader
        self.inbox = inbox
        self.poll_timeout = poll_timeout
        self.backoff = Backoff(first=1.0, factor=1.5, cap=30.0)
        self.offset: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set, then confirm what was committed."""
        while not stop.is_set():
            try:
                updates = await _unless_stopped(self._fetch(), stop)
            except _Stopped:
                break
            except TimedOut:
                continue  # an idle long poll, or a slow network: ask again at once
            except InvalidToken as exc:
                raise TokenRejected(str(exc)) from None
            except Conflict:
                log.error("another bot instance or a webhook is using this token; retrying in 10s")
                await sleep_unless_stopped(stop, 10)
                continue
            except RetryAfter as exc:
                await sleep_unless_stopped(stop, exc.retry_after)
                continue
            except TelegramError as exc:
                delay = self.backoff.next()
                log.warning(
                    "getUpdates failed (%s); retry %d in %.1fs",
                    reason(exc),
                    self.backoff.tries,
                    delay,
                )
                await sleep_unless_stopped(stop, delay)
                continue
            if self.backoff.reset():
                log.info("getUpdates works again")
            if updates:
                await self._store(updates, stop)
        await self.confirm(CONFIRM_WITHIN)

    async def _fetch(self) -> list[Any]:
        result = await self.api.call(
            "getUpdates",
            {
                "offset": self.offset,
                "timeout": self.poll_timeout,
                "limit": UPDATES_PER_POLL,
                "allowed_updates": ALLOWED_UPDATES,
            },
            read_timeout=self.poll_timeout + 10,
        )
        if not isinstance(result, list):
            raise TelegramError("getUpdates did not return a list")
        return result

    async def _store(self, updates: list[Any], stop: asyncio.Event) -> None:
        """Commit a batch to the inbox (retrying until it works), then move the offset on."""
        entries = [e for e in map(self.reader.entry, updates) if e is not None]
        ids = [
            u["update_id"]
            for u in updates
            if isinstance(u, dict) and isinstance(u.get("update_id"), int)
        ]
        backoff = Backoff(first=0.5, cap=10)
        while True:
            try:
                await self.inbox.add(entries)
                break
            except Exception as exc:
                if stop.is_set():
                    return  # not confirmed: Telegram sends the batch again after a restart
                delay = backoff.next()
                log.warning(
                    "could not store %d fetched update(s) (%s); retrying in %.1fs",
                    len(entries),
                    describe(exc, self.inbox.store.path),
                    delay,
                )
                await sleep_unless_stopped(stop, delay)
        if ids:
            self.offset = max(ids) + 1

    async def confirm(self, within: float = 10.0) -> None:
        """Tell Telegram everything committed so far was received (best effort, at shutdown).

        Gives up after ``within`` seconds: Telegram then sends the batch again after the
        restart, and the inbox ignores the ids it already holds.
        """
        if self.offset is None:
            return
        with contextlib.suppress(TelegramError, OSError, TimeoutError):
            await asyncio.wait_for(
                self.api.call(
                    "getUpdates",
                    {
                        "offset": self.offset,
                        "timeout": 0,
                        "limit": 1,
                        "allowed_updates": ALLOWED_UPDATES,
                    },
                    read_timeout=within,
                ),
                within,
            )


class _Stopped(Exception):
    pass


async def _unless_stopped(call: Any, stop: asyncio.Event) -> Any:
    """Await ``call``, cancelling it if ``stop`` is set first."""
    task = asyncio.ensure_future(call)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise _Stopped
    return task.result()
