"""The Telegram adapter and its own polling loop.

python-telegram-bot's stock Updater confirms updates to Telegram before handlers run, so a
crash could lose a person's answer. Instead the :class:`Poller` here asks ``getUpdates`` for
updates from the lowest one not yet committed: an update is confirmed only when it, and every
update before it, has been committed. Different people's updates run concurrently; one
person's run strictly in order.

Telegram ids live only in memory here, long enough to address the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults
from telegram.request import BaseRequest

from .engine import Button, Command, Event, NotPrivate, Press, Reply, Stats, Text, Unsupported
from .privacy import pseudonym
from .service import Triage
from .settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

ALLOWED_UPDATES = ["message", "callback_query"]
SEND_ATTEMPTS = 3


class StoreThread:
    """Runs every database call on one thread: SQLite has one writer, and so do we."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the store thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        """Finish queued calls and stop the thread."""
        self._pool.shutdown(wait=True)


@dataclass(frozen=True)
class Incoming:
    """What an update means, with the ids needed to answer it (memory only)."""

    user_id: int
    chat_id: int
    event: Event
    callback_id: str | None = None
    message_id: int | None = None
    # The person's Telegram name, only ever added to a post to the team they agreed to.
    name: str = ""
    username: str | None = None


def to_incoming(update: Update, admins: frozenset[int] = frozenset()) -> Incoming | None:
    """Turn a Telegram update into an engine event; None for updates we do not answer.

    /stats becomes a Stats event only for programme admins in a private chat; for anyone
    else it stays an ordinary command (and gets the help text).
    """
    query = update.callback_query
    if query is not None:
        if query.message is None:
            return None
        chat = query.message.chat
        event: Event = NotPrivate() if chat.type != ChatType.PRIVATE else Press(query.data or "")
        user = query.from_user
        return Incoming(
            user.id,
            chat.id,
            event,
            query.id,
            query.message.message_id,
            name=user.full_name,
            username=user.username,
        )
    message = update.message
    if message is None or message.from_user is None:
        return None
    if message.chat.type != ChatType.PRIVATE:
        # In groups, only answer commands (the bot cannot see other chatter by default).
        if message.text and message.text.startswith("/"):
            return Incoming(message.from_user.id, message.chat.id, NotPrivate())
        return None
    event = message_event(message)
    if event == Command("stats") and message.from_user.id in admins:
        event = Stats()
    return Incoming(message.from_user.id, message.chat.id, event)


def message_event(message: Message) -> Event:
    """A private message as an engine event."""
    text = message.text
    if text is not None:
        if text.startswith("/"):
            name = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else ""
            return Command(name)
        return Text(text)
    attachment = message.effective_attachment
    kind = type(attachment).__name__.lower() if attachment is not None else "other"
    return Unsupported(kind)


def keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    """Engine buttons as an inline keyboard."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(b.label, callback_data=b.data)
                for b in row
            ]
            for row in rows
        ]
    )


class TelegramAdapter:
    """Applies an update through the triage service, then shows the replies."""

    def __init__(
        self,
        app: Application,
        triage: Triage,
        store_thread: StoreThread,
        secret: str,
        admins: frozenset[int] = frozenset(),
        team_chat: int | None = None,
    ) -> None:
        self.app = app
        self.triage = triage
        self.store_thread = store_thread
        self.secret = secret
        self.admins = admins
        self.team_chat = team_chat

    async def handle(self, update: Update) -> None:
        """Handle one update. Raises if its effect could not be committed or delivered."""
        incoming = to_incoming(update, self.admins)
        if incoming is None:
            return
        subject = pseudonym(self.secret, incoming.user_id)
        outcome = await self.store_thread.call(
            self.triage.handle, subject, incoming.event, update.update_id
        )
        if outcome is None:
            return  # seen and answered before
        await self.deliver(incoming, outcome.replies, outcome.notice)
        await self.store_thread.call(self.triage.mark_replied, update.update_id)

    async def deliver(self, incoming: Incoming, replies: list[Reply], notice: str | None) -> None:
        """Show replies: edits of the pressed message alongside, new messages in order."""
        bot = self.app.bot
        jobs: list[Awaitable[Any]] = []
        if incoming.callback_id is not None:
            jobs.append(_quietly(bot.answer_callback_query(incoming.callback_id, text=notice)))
        sends = []
        for reply in replies:
            if reply.audience == "team":
                await self._post_to_team(incoming, reply)  # before telling the person it went
            elif reply.edit and incoming.message_id is not None:
                jobs.append(self._edit(incoming, reply))
            elif reply.text or reply.document is not None:
                sends.append(reply)
        jobs.append(self._send_all(incoming.chat_id, sends))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _send_all(self, chat_id: int, replies: list[Reply]) -> None:
        for reply in replies:
            ok = await _retrying(lambda r=reply: self._send_one(chat_id, r))
            if not ok:
                return  # the person blocked the bot: nothing more to say

    async def _send_one(self, chat_id: int, reply: Reply) -> Any:
        if reply.document is not None:
            # A file with a caption (the full plan): issue 8. Moves to the outbox with issue 7.
            return await self.app.bot.send_document(
                chat_id,
                reply.document.data,
                filename=reply.document.filename,
                caption=reply.text or None,
                reply_markup=keyboard(reply.buttons),
            )
        return await self.app.bot.send_message(
            chat_id, reply.text, reply_markup=keyboard(reply.buttons)
        )

    async def _post_to_team(self, incoming: Incoming, reply: Reply) -> None:
        """Post a request to be contacted in the team's chat, adding the name only if agreed."""
        if self.team_chat is None:
            log.error("a post for the team was dropped: TRIAGE_TEAM_CHAT_ID is not set")
            return
        text = reply.text
        if reply.name_label is not None:
            who = f'<a href="tg://user?id={incoming.user_id}">{html.escape(incoming.name)}</a>'
            if incoming.username:
                who += f" (@{html.escape(incoming.username)})"
            text = f"{text}\n\n{html.escape(reply.name_label)}: {who}"
        try:
            posted = await _retrying(lambda: self.app.bot.send_message(self.team_chat, text))
        except BadRequest as exc:
            # A wrong chat id or a bot not in the chat: the operator must fix the setting.
            log.error("could not post to the team's chat (TRIAGE_TEAM_CHAT_ID): %s", exc.message)
            return
        if not posted:
            log.error(
                "could not post to the team's chat (TRIAGE_TEAM_CHAT_ID): the bot was removed"
            )

    async def _edit(self, incoming: Incoming, reply: Reply) -> None:
        bot = self.app.bot
        assert incoming.message_id is not None
        try:
            if reply.text:
                await _retrying(
                    lambda: bot.edit_message_text(
                        reply.text,
                        incoming.chat_id,
                        incoming.message_id,
                        reply_markup=keyboard(reply.buttons),
                    )
                )
            else:
                await _retrying(
                    lambda: bot.edit_message_reply_markup(
                        incoming.chat_id,
                        incoming.message_id,
                        reply_markup=None,
                    )
                )
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            # Too old or gone: a changed keyboard still has to reach the person.
            if reply.text and reply.buttons:
                await self._send_all(incoming.chat_id, [Reply(reply.text, reply.buttons)])


async def _quietly(call: Awaitable[Any]) -> None:
    """Answer a button press; if that fails (too late, say), the replies still matter more."""
    try:
        await call
    except (BadRequest, Forbidden, NetworkError) as exc:
        log.debug("could not answer a button press: %s", type(exc).__name__)


async def _retrying(call: Callable[[], Awaitable[Any]]) -> bool:
    """Make a Bot API call, retrying network trouble; False if the person blocked the bot.

    Flood limits (429) are waited out by the rate limiter before this sees them.
    """
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            await call()
            return True
        except Forbidden:
            return False
        except BadRequest:
            raise
        except (TimedOut, NetworkError):
            if attempt == SEND_ATTEMPTS:
                raise
            await asyncio.sleep(0.5 * attempt)
    return True


class Poller:
    """Long-polls getUpdates, confirming an update only after it is committed."""

    def __init__(
        self,
        app: Application,
        handle: Callable[[Update], Awaitable[None]],
        *,
        poll_timeout: int = 30,
        limit: int = 100,
        max_attempts: int = 5,
        backoff: float = 1.0,
    ) -> None:
        self.app = app
        self.backoff = backoff
        self.handle = handle
        self.poll_timeout = poll_timeout
        self.limit = limit
        self.max_attempts = max_attempts
        self.running: dict[int, asyncio.Task[None]] = {}
        self.unfinished: set[int] = set()
        self.attempts: dict[int, int] = {}
        self.retry_at: dict[int, float] = {}
        self.tails: dict[Any, asyncio.Task[None]] = {}
        self.next_offset: int | None = None
        self.changed = asyncio.Event()
        self.handled = 0

    @property
    def offset(self) -> int | None:
        """The id to poll from: the lowest update not yet committed."""
        if self.unfinished:
            return min(self.unfinished)
        return self.next_offset

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set, then finish what is running and confirm it."""
        backoff = 1.0
        while not stop.is_set():
            timeout = 0 if self.unfinished else self.poll_timeout
            poll = asyncio.ensure_future(
                self.app.bot.get_updates(
                    offset=self.offset,
                    timeout=timeout,
                    limit=self.limit,
                    allowed_updates=ALLOWED_UPDATES,
                    read_timeout=timeout + 10,
                )
            )
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({poll, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not poll.done():
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await poll
                break
            try:
                updates = poll.result()
                backoff = 1.0
            except Conflict:
                log.error("another bot instance or a webhook is using this token; retrying")
                await self._pause(stop, 10)
                continue
            except (NetworkError, TimedOut) as exc:
                log.warning(
                    "getUpdates failed (%s); retrying in %.0fs", type(exc).__name__, backoff
                )
                await self._pause(stop, backoff)
                backoff = min(backoff * 2, 60)
                continue
            started = self._dispatch(updates)
            if not started and self.unfinished:
                # Everything returned is already in hand: wait for progress, not a busy loop.
                self.changed.clear()
                await self._pause(stop, 0.5, self.changed)
        await self.drain()

    async def drain(self, timeout: float = 20) -> None:
        """Let running updates finish, then confirm everything committed to Telegram."""
        if self.running:
            await asyncio.wait(list(self.running.values()), timeout=timeout)
        if self.offset is not None:
            with contextlib.suppress(Exception):
                await self.app.bot.get_updates(
                    offset=self.offset, timeout=0, limit=1, allowed_updates=ALLOWED_UPDATES
                )

    async def _pause(
        self, stop: asyncio.Event, seconds: float, also: asyncio.Event | None = None
    ) -> None:
        waits = [asyncio.ensure_future(stop.wait())]
        if also is not None:
            waits.append(asyncio.ensure_future(also.wait()))
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()

    def _dispatch(self, updates: list[Update]) -> int:
        started = 0
        now = time.monotonic()
        for update in updates:
            uid = update.update_id
            # Seen before and not waiting for a retry: running now, or committed already.
            seen = self.next_offset is not None and uid < self.next_offset
            if uid in self.running or (seen and uid not in self.unfinished):
                continue
            if self.retry_at.get(uid, 0) > now:
                continue
            self._start(update)
            started += 1
        return started

    def _start(self, update: Update) -> None:
        uid = update.update_id
        key = _order_key(update)
        previous = self.tails.get(key)
        task = asyncio.ensure_future(self._process(update, previous))
        self.running[uid] = task
        self.unfinished.add(uid)
        self.tails[key] = task
        self.next_offset = max(self.next_offset or 0, uid + 1)
        task.add_done_callback(lambda t: self._finish(uid, key, t))

    async def _process(self, update: Update, previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        await self.handle(update)

    def _finish(self, uid: int, key: Any, task: asyncio.Task[None]) -> None:
        self.running.pop(uid, None)
        if self.tails.get(key) is task:
            del self.tails[key]
        if task.cancelled():
            # Shutting down mid-update: leave it unconfirmed, so Telegram sends it again.
            self.changed.set()
            return
        error = task.exception()
        if error is None:
            self._complete(uid)
        else:
            attempts = self.attempts.get(uid, 0) + 1
            self.attempts[uid] = attempts
            transient = isinstance(error, OSError | NetworkError | TimedOut | sqlite3.Error)
            if transient or attempts < self.max_attempts:
                delay = min(self.backoff * 2.0**attempts, 60.0)
                self.retry_at[uid] = time.monotonic() + delay
                log.warning(
                    "update %d failed (%s: %s); retry %d in %.0fs",
                    uid,
                    type(error).__name__,
                    error,
                    attempts,
                    delay,
                )
            else:
                log.error("update %d failed %d times; skipping it", uid, attempts, exc_info=error)
                self._complete(uid)
        self.changed.set()

    def _complete(self, uid: int) -> None:
        self.handled += 1
        self.unfinished.discard(uid)
        self.attempts.pop(uid, None)
        self.retry_at.pop(uid, None)


def _order_key(update: Update) -> Any:
    user = update.effective_user
    return ("user", user.id) if user is not None else ("update", update.update_id)


def rate_limiter(settings: Settings) -> AIORateLimiter:
    """Honour Telegram's flood limits: wait out every 429 ``retry_after`` before retrying.

    Replies to people are not throttled in advance unless TRIAGE_SEND_RATE is set: then at
    most TRIAGE_SEND_BURST messages go out in any BURST/RATE seconds.
    """
    if settings.send_rate > 0:
        return AIORateLimiter(
            overall_max_rate=settings.send_burst,
            overall_time_period=settings.send_burst / settings.send_rate,
            max_retries=3,
        )
    return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)


def build_application(
    settings: Settings,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
) -> Application:
    """The PTB Application: our own poller replaces its Updater."""
    builder = (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.base_url)
        .base_file_url(f"{settings.api_url}/file/bot")
        .updater(None)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            )
        )
        .rate_limiter(rate_limiter(settings))
    )
    if request is not None:
        builder = builder.request(request)
    if updates_request is not None:
        builder = builder.get_updates_request(updates_request)
    return builder.build()


async def prepare(app: Application, commands: dict[str, str]) -> None:
    """Take over updates from any webhook, and publish the command menu (best effort)."""
    await app.bot.delete_webhook(drop_pending_updates=False)
    try:
        await app.bot.set_my_commands([BotCommand(k, v) for k, v in commands.items()])
    except (NetworkError, BadRequest) as exc:
        log.warning("could not set the command menu: %s", type(exc).__name__)


async def serve(
    app: Application,
    adapter: TelegramAdapter,
    commands: dict[str, str],
    stop: asyncio.Event,
    on_reload: Callable[[], None] | None = None,
) -> Poller:
    """Run the bot until ``stop`` is set (or SIGINT/SIGTERM); SIGHUP calls ``on_reload``."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if on_reload is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, on_reload)
    poller = Poller(app, adapter.handle)
    await app.initialize()
    try:
        await prepare(app, commands)
        log.info("bot started; polling for updates")
        await poller.run(stop)
    finally:
        await app.shutdown()
        log.info("bot stopped after handling %d updates", poller.handled)
    return poller
