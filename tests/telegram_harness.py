"""The real Telegram transport (poller, inbox, worker, outbox, sender) against FakeTelegram."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.channels.service import Triage
from bot.channels.telegram import TelegramBot
from bot.clock import utcnow
from bot.conversation.content import Content
from bot.conversation.engine import Engine
from bot.settings import Settings
from bot.store import Store
from bot.team.stats import stats_source

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
        sender_options: dict[str, Any] | None = None,
        metrics: Any = None,
        clock: Callable[[], dt.datetime] | None = None,
        reminders: bool = True,
        **settings: Any,
    ) -> None:
        self.telegram = telegram
        # Limits off unless a test turns them on: the fake does not enforce them by default.
        settings = {"send_rate": 0.0, "chat_interval": 0.0, **settings}
        self.settings = Settings(token=TOKEN, secret=SECRET, db_path=db_path, **settings)
        self.store = Store(db_path)
        handover = self.settings.team_chat_id is not None
        # As `python -m bot run` builds it when ``reminders`` is on (issue 9).
        engine = Engine(
            content,
            handover=handover,
            reminders=reminders,
            follow_up_months=self.settings.follow_up_months,
        )
        self.triage = Triage(
            self.store,
            engine,
            clock=clock or utcnow,
            quiet=self.settings.quiet_hours,
            stats=stats_source(content, self.settings.rules),  # as bot.cli.make_triage
        )
        options = {"backoff": 0.01, "flush_every": 0.005, **(sender_options or {})}
        self.bot = TelegramBot(
            self.settings,
            self.triage,
            webhook=bool(self.settings.webhook_url),
            request=telegram.request(),
            updates_request=telegram.request(),
            poll_timeout=poll_timeout,
            sender_options=options,
            metrics=metrics,
        )
        self.polling = False

    @property
    def sender(self):
        return self.bot.sender

    async def start(self, poll: bool = True) -> RunningBot:
        if not poll:
            self.bot.poller = None  # updates are handed in with deliver()
        self.polling = self.bot.poller is not None
        await self.bot.start(self.triage.engine.content.ui.commands)
        return self

    async def deliver(self, update_id: int) -> None:
        """Hand one update (as Telegram sent it) to the inbox, and wait for its replies."""
        entry = self.bot.reader.entry(self.telegram.history[update_id])
        assert entry is not None
        await self.bot.inbox.add([entry])
        await self.settle()

    async def waiting(self) -> int:
        return await self.bot.store_thread.call(
            lambda: self.store.conn.execute(
                "SELECT count(*) FROM inbox WHERE status = 'todo'"
            ).fetchone()[0]
        )

    async def settle(self, timeout: float = 10) -> None:
        """Wait until every queued update is committed, handled, sent and recorded."""
        deadline = time.monotonic() + timeout
        calm = 0
        while time.monotonic() < deadline:
            confirmed = not self.polling or self.telegram.all_confirmed
            if (
                confirmed
                and not self.bot.worker.busy
                and not self.sender.busy
                and await self.waiting() == 0
            ):
                calm += 1
                if calm >= 2:
                    return
            else:
                calm = 0
            await asyncio.sleep(0.01)
        raise AssertionError(
            f"not settled: confirmed={self.telegram.all_confirmed} waiting={await self.waiting()} "
            f"lanes={len(self.sender.lanes)}"
        )

    async def close(self) -> None:
        """A clean shutdown."""
        await self.bot.close()
        self.store.close()

    async def kill(self) -> None:
        """Stop abruptly: nothing drained, flushed or confirmed (like kill -9 between awaits)."""
        tasks = [*self.bot._tasks]
        tasks += [lane.task for lane in self.sender.lanes.values() if lane.task is not None]
        if self.sender._flusher is not None:
            tasks.append(self.sender._flusher)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.bot.store_thread.close()
        self.store.close()
