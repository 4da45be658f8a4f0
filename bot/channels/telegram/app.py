"""Wiring: update -> inbox -> engine -> store -> outbox -> Telegram, started and stopped in order.

:class:`TelegramBot` builds the pieces (one HTTP client for replies and one for long polls,
the inbox writer, the worker, the sender, and the poller or the webhook), checks the token
with ``getMe`` (a rejected token stops at once; an unreachable Bot API is retried with a
growing wait, one log line per attempt), sets or deletes the webhook for the chosen mode,
and shuts everything down in order, within :data:`STOP_WITHIN` seconds whatever the Bot API
does (answers, answers slowly, accepts and never answers): stop taking updates (the long
poll is cancelled at once; nothing confirmed is lost, as the inbox is committed before the
offset moves), finish the pass under way, give the sender a bounded grace, record what went
out, and log one line saying what is left for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from bot.channels.service import Triage
from bot.channels.telegram.api import BotApi, reason
from bot.channels.telegram.backoff import Backoff, sleep_unless_stopped
from bot.channels.telegram.convert import ALLOWED_UPDATES, Composer, Reader
from bot.channels.telegram.errors import BadRequest, InvalidToken, TelegramError
from bot.channels.telegram.inbox import InboxWriter
from bot.channels.telegram.poller import Poller, TokenRejected
from bot.channels.telegram.request import AiohttpRequest, BaseRequest
from bot.channels.telegram.sender import Sender
from bot.channels.telegram.worker import Worker
from bot.ops.health import purge_once, queue_figures, read_verdict
from bot.ops.metrics import Metrics, listening_port
from bot.sealing import Sealer
from bot.settings import Settings
from bot.store import StoreThread

if TYPE_CHECKING:
    # Served only in webhook mode: polling never loads aiohttp's server.
    from aiohttp import web

    from bot.channels.telegram.webhook import Webhook

log = logging.getLogger(__name__)
T = TypeVar("T")

PURGE_EVERY = 6 * 3600
SCHEDULED_EVERY = 30.0
SHUTDOWN_GRACE = 5.0
# From SIGTERM to exit, whatever the Bot API does (Docker sends SIGKILL after 10 s).
STOP_WITHIN = 6.0
# The webhook server's wait for requests under way (each only commits to the inbox).
WEBHOOK_SHUTDOWN = 2.0


class StartupError(Exception):
    """The bot cannot start; the message is one line, without the token."""


class TelegramBot:
    """The running Telegram transport for one bot token."""

    def __init__(
        self,
        settings: Settings,
        triage: Triage,
        *,
        webhook: bool = False,
        request: BaseRequest | None = None,
        updates_request: BaseRequest | None = None,
        poll_timeout: int = 30,
        sender_options: dict[str, Any] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        secret = settings.require_secret()
        self.metrics = metrics
        if metrics is not None:
            triage.on_check = metrics.check
        self.settings = settings
        self.triage = triage
        self.store = triage.store
        self.store_thread = StoreThread(self.store)
        self.api = BotApi(
            settings.require_token(),
            settings.api_url,
            request or AiohttpRequest(),
            updates_request or AiohttpRequest(pool_size=2, read_timeout=poll_timeout + 10),
        )
        self.sealer = Sealer(secret)
        self.reader = Reader(secret, self.sealer, settings.admins)
        self.stop = asyncio.Event()
        self.fatal: str | None = None
        self.sender = Sender(
            self.api,
            self.store,
            self.store_thread,
            self.sealer,
            rate=settings.send_rate,
            chat_interval=settings.chat_interval,
            on_fatal=self._on_fatal,
            metrics=metrics,
            # Issue 9: reminders and follow-ups keep out of the night, by the service's clock.
            quiet=settings.quiet_hours,
            wall=lambda: triage.clock().timestamp(),
            **(sender_options or {}),
        )
        # Replies to outbox rows; posts for the team go to its chat, sealed (issue 8).
        self.composer = Composer(self.sealer, secret, settings.team_chat_id)
        self.worker = Worker(
            triage,
            self.store_thread,
            self.sender,
            compose=self.composer,
            metrics=metrics,
            unseal=self.sealer.open_text,
        )
        self.inbox = InboxWriter(self.store, self.store_thread, self.worker.poke)
        self.webhook: Webhook | None = None
        self.poller: Poller | None = None
        # The public URL and secret token start() gives setWebhook (webhook mode only).
        self._webhook_setting: tuple[str, str] | None = None
        if webhook:
            url, token = settings.require_webhook()
            self._webhook_setting = (url, token)
            path = urlparse(url).path or "/"
            from bot.channels.telegram.webhook import Webhook

            self.webhook = Webhook(self.reader, self.inbox, token, path, self.health)
        else:
            self.poller = Poller(self.api, self.reader, self.inbox, poll_timeout=poll_timeout)
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._metrics_runner: web.AppRunner | None = None

    # ---- starting ------------------------------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        """``getMe`` until the Bot API answers; a refused token raises :class:`StartupError`."""
        backoff = Backoff(first=1.0, factor=2.0, cap=60.0)
        while True:
            try:
                return dict(await self.api.call("getMe"))
            except InvalidToken as exc:
                raise StartupError(
                    f"Telegram rejected TELEGRAM_BOT_TOKEN ({exc}): check the token with "
                    "@BotFather (and TELEGRAM_API_URL, if you set it)"
                ) from None
            except TelegramError as exc:
                delay = backoff.next()
                log.warning(
                    "cannot reach the Bot API at %s (%s); attempt %d failed, trying again in %.0fs",
                    self.settings.api_url,
                    reason(exc),
                    backoff.tries,
                    delay,
                )
                await sleep_unless_stopped(self.stop, delay)
                if self.stop.is_set():
                    raise _Stopped from None

    async def start(self, commands: dict[str, str] | None = None) -> None:
        """Check the token, choose the mode, publish the commands, start every piece."""
        await self.api.initialize()
        me = await self.connect()
        self.reader.username = (me.get("username") or "").lower() or None
        if self._webhook_setting is not None:
            url, token = self._webhook_setting
            try:
                await self.api.call(
                    "setWebhook",
                    {
                        "url": url,
                        "secret_token": token,
                        "allowed_updates": ALLOWED_UPDATES,
                        "drop_pending_updates": False,
                    },
                )
            except BadRequest as exc:
                raise StartupError(f"Telegram refused TRIAGE_WEBHOOK_URL: {exc}") from None
        else:
            # Take over from any webhook; keep the updates waiting there.
            await self.api.call("deleteWebhook", {"drop_pending_updates": False})
        if commands:
            try:
                await self.api.call(
                    "setMyCommands",
                    {"commands": [{"command": k, "description": v} for k, v in commands.items()]},
                )
            except TelegramError as exc:
                log.warning("could not set the command menu (%s)", type(exc).__name__)
        await self._serve_metrics()
        await self.sender.start()
        self._spawn(self.worker.run(self.stop), "worker")
        if self.poller is not None:
            self._spawn(self.poller.run(self.stop), "poller")
        if self.webhook is not None:
            await self._serve_webhook()
        self._spawn(self._housekeeping(), "housekeeping")
        log.info(
            "bot started (%s); send limit %s",
            "webhook" if self.webhook else "polling",
            f"{self.settings.send_rate:g}/s" if self.settings.send_rate else "off",
        )

    async def _serve_webhook(self) -> None:
        from aiohttp import web

        assert self.webhook is not None
        # No access log: it would write each caller's address and user agent.
        self._runner = web.AppRunner(
            self.webhook.app(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=WEBHOOK_SHUTDOWN,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.webhook_listen, self.settings.webhook_port)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {self.settings.webhook_listen}:{self.settings.webhook_port} "
                f"({exc.strerror or type(exc).__name__}): check TRIAGE_WEBHOOK_LISTEN and "
                "TRIAGE_WEBHOOK_PORT"
            ) from None

    async def _serve_metrics(self) -> None:
        """/metrics on TRIAGE_METRICS_PORT, if set (its own port, never the webhook's)."""
        if self.metrics is None or self.settings.metrics_port is None:
            return

        figures = queue_figures(self.store_thread.call, self.store)
        listen, port = self.settings.metrics_listen, self.settings.metrics_port
        try:
            self._metrics_runner = await self.metrics.serve(figures, listen, port)
        except OSError as exc:
            raise StartupError(
                f"cannot serve metrics on {listen}:{port} ({exc.strerror or type(exc).__name__}): "
                "check TRIAGE_METRICS_LISTEN and TRIAGE_METRICS_PORT"
            ) from None

    @property
    def metrics_port(self) -> int | None:
        """The port /metrics is served on, if it is."""
        return None if self._metrics_runner is None else listening_port(self._metrics_runner)

    @property
    def webhook_port(self) -> int | None:
        """The port the webhook server listens on (useful when the setting is 0)."""
        return None if self._runner is None else listening_port(self._runner)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except TokenRejected as exc:
                self._on_fatal(f"Telegram rejected the bot token ({exc})")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug: stop rather than limp on
                self._on_fatal(f"the {name} stopped unexpectedly ({type(exc).__name__}: {exc})")

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    def _on_fatal(self, reason: str) -> None:
        if self.fatal is None:
            self.fatal = reason
            log.error("stopping: %s", reason)
        self.stop.set()

    async def _housekeeping(self) -> None:
        """Retention purge at start and every six hours; due scheduled messages every 30 s."""
        last_purge = -PURGE_EVERY
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            if loop.time() - last_purge >= PURGE_EVERY:
                last_purge = loop.time()
                await self.purge()
            try:
                await self.sender.load_scheduled()
            except Exception as exc:
                log.warning("could not look for scheduled messages (%s)", type(exc).__name__)
            await sleep_unless_stopped(self.stop, SCHEDULED_EVERY)

    async def purge(self) -> dict[str, int] | None:
        """Apply the retention rules; a failure is logged, and tried again next time."""
        return await purge_once(self.store_thread.call, self.store, self.settings, log)

    async def health(self) -> dict[str, Any]:
        """The health verdict and figures (as `health` prints them), plus this process's sender.

        ``status`` is "ok" or "unhealthy"; ``/health`` and ``/healthz`` answer 503 unless ok.
        """
        extra = {
            "mode": "webhook" if self.webhook else "polling",
            "sending_paused": self.sender.paused,
        }
        return await read_verdict(self.store_thread.call, self.store, self.settings, extra)

    # ---- running and stopping ------------------------------------------------------------

    async def run(self, commands: dict[str, str] | None = None) -> None:
        """Start, run until :attr:`stop` is set, then shut down in order."""
        try:
            # Starting waits on the Bot API too: a stop request ends it at once.
            starting = asyncio.ensure_future(self.start(commands))
            stopping = asyncio.ensure_future(self.stop.wait())
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, _Stopped):
                await starting
            await stopping
        finally:
            await self.close()

    async def close(self, within: float = STOP_WITHIN) -> None:
        """Stop taking updates, finish the work under way, record what went out.

        Takes at most about ``within`` seconds whatever the Bot API does: what is not sent by
        then stays in the outbox (and what is not handled, in the inbox) for the next start.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        self.stop.set()
        if self._runner is not None:
            await _bounded(self._runner.cleanup(), WEBHOOK_SHUTDOWN + 0.5)
        if self._metrics_runner is not None:
            await _bounded(self._metrics_runner.cleanup(), 1.0)
        if self._tasks:
            # The poller cancels its long poll at once; the worker finishes its pass.
            await asyncio.wait(self._tasks, timeout=max(0.5, (deadline - loop.time()) / 3))
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=0.5)
        # The sender's grace: what is left, less a little for recording and closing.
        await self.sender.close(max(0.0, min(SHUTDOWN_GRACE, deadline - loop.time() - 1.5)))
        await _bounded(self.api.shutdown(), 0.5)
        left = await _bounded(self.store_thread.call(self.store.waiting), 1.0)
        self.store_thread.close()
        inbox, outbox = left if left is not None else ("?", "?")
        log.info(
            "bot stopped after handling %d update(s) and sending %d message(s); left for the "
            "next start: %s update(s) in the inbox, %s message(s) in the outbox",
            self.worker.handled,
            self.sender.stats.sent,
            inbox,
            outbox,
        )


async def _bounded(work: Awaitable[T], seconds: float) -> T | None:
    """Await ``work`` for at most ``seconds``; None (and ``work`` cancelled) if it takes longer."""
    try:
        return await asyncio.wait_for(work, seconds)
    except TimeoutError:
        return None
    except Exception as exc:  # closing: note it, and go on closing the rest
        log.debug("while stopping: %s", type(exc).__name__)
        return None


class _Stopped(Exception):
    """Asked to stop while still starting."""


def run_bot(
    settings: Settings,
    triage: Triage,
    *,
    webhook: bool = False,
    commands: dict[str, str] | None = None,
    on_reload: Callable[[TelegramBot], Awaitable[object]] | None = None,
    metrics: Metrics | None = None,
) -> int:
    """Run the bot until SIGINT/SIGTERM (SIGHUP calls ``on_reload``); return the exit code.

    Raises :class:`StartupError` (one line) if it cannot start.
    """

    async def main() -> int:
        bot = TelegramBot(settings, triage, webhook=webhook, metrics=metrics)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, bot.stop.set)
        reloading: set[asyncio.Task[object]] = set()

        def reload() -> None:
            if on_reload is None:
                return
            if reloading:
                log.info("a content reload is already under way")
                return
            task: asyncio.Task[object] = loop.create_task(on_reload(bot))  # type: ignore[arg-type]
            reloading.add(task)
            task.add_done_callback(reloading.discard)

        with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, reload)
        await bot.run(commands)
        return 2 if bot.fatal else 0

    return asyncio.run(main())
