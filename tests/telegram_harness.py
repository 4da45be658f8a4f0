"""A real python-telegram-bot Application, our adapter and poller, against FakeTelegram."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from bot.content import Content
from bot.engine import Engine
from bot.service import Triage
from bot.settings import Settings
from bot.store import Store
from bot.telegram_bot import (
    Poller,
    StoreThread,
    TelegramAdapter,
    build_application,
    prepare,
)

from .fake_telegram import FakeTelegram

TOKEN = "123456:TEST-token-for-the-fake-only"
SECRET = "s" * 64


class RunningBot:
    """One bot process's worth of objects, sharing a database file with any other."""

    def __init__(
        self,
        telegram: FakeTelegram,
        db_path: Path,
        content: Content,
        poll_timeout: int = 1,
        backoff: float = 0.01,
        **settings: object,
    ) -> None:
        self.telegram = telegram
        self.settings = Settings(token=TOKEN, secret=SECRET, db_path=db_path, **settings)
        self.store = Store(db_path)
        handover = self.settings.team_chat_id is not None
        self.triage = Triage(self.store, Engine(content, handover=handover))
        self.app = build_application(
            self.settings, request=telegram.request(), updates_request=telegram.request()
        )
        self.store_thread = StoreThread()
        self.adapter = TelegramAdapter(
            self.app,
            self.triage,
            self.store_thread,
            SECRET,
            self.settings.admins,
            self.settings.team_chat_id,
        )
        self.poller = Poller(
            self.app, self.adapter.handle, poll_timeout=poll_timeout, backoff=backoff
        )
        self.stop = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def start(self, poll: bool = True) -> RunningBot:
        await self.app.initialize()
        await prepare(self.app, self.triage.engine.content.ui.commands)
        if poll:
            self.task = asyncio.create_task(self.poller.run(self.stop))
        return self

    async def deliver(self, update_id: int) -> None:
        """Hand one update (as Telegram sent it) straight to the adapter."""
        from telegram import Update

        await self.adapter.handle(Update.de_json(self.telegram.history[update_id], self.app.bot))

    async def settle(self, timeout: float = 10) -> None:
        """Wait until every queued update is handled and confirmed to Telegram."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.task is None:
                return
            if self.telegram.all_confirmed and not self.poller.unfinished:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"updates not settled: unfinished={self.poller.unfinished}")

    async def close(self) -> None:
        """A clean shutdown."""
        self.stop.set()
        if self.task is not None:
            await self.task
        await self.app.shutdown()
        self.store_thread.close()
        self.store.close()

    async def kill(self) -> None:
        """Stop abruptly: no draining, no final confirmation (like kill -9 between awaits)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        for task in list(self.poller.running.values()):
            task.cancel()
        self.store_thread.close()
        self.store.close()
