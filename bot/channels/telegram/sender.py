"""The outbox sender: delivers committed replies, and is the only keeper of Telegram's limits.

Rows come from the worker right after the commit that made them (and from the outbox at
start). Each chat (lane) is served in order, one message at a time; different chats go out
concurrently. Limits, all enforced here:

- at most ``rate`` messages a second across all chats: a send holds one of ``rate`` slots
  until a second after its answer came back, so no one-second window at Telegram's end can
  see more than ``rate`` of them whatever the network delay;
- at least ``chat_interval`` seconds between two messages to one chat, counted from the
  answer to the first; a chat's new messages go in order, and ahead of edits to messages
  already on screen, so the next question is not held back by a tick mark;
- a 429 ``retry_after`` pauses all sending for that long;
- edits of one message that have not gone out yet are merged into one;
- a chat has at most one waiting *screen* (the message or edit showing where the person is
  now, ``options["screen"]``): a newer one replaces it, so impatient taps cannot build a queue;
- an edit waits behind new messages for at most ``edit_wait`` seconds, then goes first.

Outcomes: delivered (or "message is not modified") deletes the row, committed at once (whatever
arrives during one commit goes in the next: the fewer sent-but-unrecorded rows a kill -9 can
leave, the fewer duplicates after the restart); 403 drops the chat's
whole queue; a message too old to edit is sent anew if it carries buttons; other 400s drop
the row; 5xx, timeouts and network errors back off and give up after a bounded number of
tries. A timed-out send may still have arrived, so a rare duplicate is accepted. Dropped
rows lose their sealed address and text at once. Nothing identifying is logged.

Messages sent later (a reminder, a follow-up: issue 9) are claimed in the store just before
their first try: one cancelled meanwhile is not sent, one falling in the quiet hours waits for
the morning, and one claimed before a crash is never sent again, so it arrives at most once.
A 403 also cancels whatever else waits for that person.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bot.channels.telegram.api import BotApi, reason
from bot.channels.telegram.backoff import Backoff
from bot.channels.telegram.convert import TEAM_POST
from bot.channels.telegram.errors import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from bot.later import LATER, QuietHours
from bot.ops.metrics import Metrics
from bot.sealing import Address, Sealer, SealError
from bot.store import Outgoing, Store, StoreThread, describe

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 8
BACKOFF = 0.5
MAX_BACKOFF = 30.0
PAUSE_SLACK = 0.25
# At shutdown, how long button answers still under way get (all together).
ANSWERS_WITHIN = 0.5
# The longest an edit (a tick, buttons taken off) waits behind new messages.
EDIT_WAIT = 2.0
# Bot API answers meaning the message to edit cannot be edited (gone, or too old).
_UNEDITABLE = ("message to edit not found", "message can't be edited", "message_id_invalid")


@dataclass
class _Lane:
    """One chat's queue: sent strictly in order, one at a time."""

    key: str
    queue: deque[Outgoing] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


@dataclass
class SenderStats:
    """Counts since start, for logs, tests and benchmarks."""

    sent: int = 0
    dropped: int = 0
    retried: int = 0
    pauses: int = 0
    merged: int = 0
    replaced: int = 0


class Sender:
    """Sends outbox rows through a :class:`BotApi` within Telegram's limits."""

    def __init__(
        self,
        api: BotApi,
        store: Store,
        store_thread: StoreThread,
        sealer: Sealer,
        *,
        rate: float = 30.0,
        chat_interval: float = 1.0,
        max_in_flight: int = 96,
        attempts: int = SEND_ATTEMPTS,
        backoff: float = BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        flush_every: float = 0.0,
        edit_wait: float = EDIT_WAIT,
        on_fatal: Callable[[str], None] | None = None,
        metrics: Metrics | None = None,
        quiet: QuietHours | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """Set up the sender; nothing is sent before :meth:`start`.

        ``quiet`` holds messages sent later out of the night; ``wall`` is unix time (the
        service's clock, so tests can move it).
        """
        self.api = api
        self.store = store
        self.store_thread = store_thread
        self.sealer = sealer
        self.chat_interval = chat_interval
        if rate > 0:
            slots = max(1, round(rate))
            self._hold = slots / rate
        else:
            slots = max_in_flight
            self._hold = 0.0
        self._slots = _Slots(slots, edit_wait)
        self.edit_wait = edit_wait
        self.attempts = attempts
        # Each row counts its own tries (in the outbox), so the delays are worked out per row.
        self._retry_delays = Backoff(first=backoff, factor=2, cap=max_backoff, jitter=0.2)
        self.flush_every = flush_every
        self.on_fatal = on_fatal
        self.metrics = metrics
        self.quiet = quiet if quiet is not None else QuietHours(None, None)
        self.wall = wall
        self._claimed: set[int] = set()
        self._later_sent: Counter[str] = Counter()
        self._blocked: set[str] = set()
        self.lanes: dict[str, _Lane] = {}
        self.stats = SenderStats()
        self._known: set[int] = set()
        self._retry_at: dict[int, float] = {}
        self._opened: dict[bytes, Address] = {}
        # When each chat may next get a message; kept after its queue empties.
        self._chat_free: dict[str, float] = {}
        self._absorbed: dict[int, list[int]] = {}
        # When each queued row was taken in (monotonic), for the edits' bounded wait.
        self._queued: dict[int, float] = {}
        self._paused_until = 0.0
        self._sent: list[int] = []
        self._failed: list[tuple[int, str]] = []
        self._tries: dict[int, int] = {}
        self._lost: set[str] = set()
        self._wipe = False
        self._dirty = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._recording = 0
        self._flusher: asyncio.Task[None] | None = None
        self._answering: set[asyncio.Task[None]] = set()
        self._answer_slots = asyncio.Semaphore(32)

    # ---- taking rows in ------------------------------------------------------------------

    async def start(self) -> None:
        """Load what the outbox still holds (a reply committed before a crash goes out now)."""
        self._flusher = asyncio.create_task(self._flush_loop())
        self.enqueue(await self.store_thread.call(self.store.outbox_pending, self.wall()))

    async def load_scheduled(self) -> None:
        """Pick up rows held for later (``not_before``) that are now due."""
        rows = await self.store_thread.call(self.store.outbox_pending, self.wall(), True)
        self.enqueue(rows)

    def enqueue(self, rows: list[Outgoing]) -> None:
        """Queue committed rows for sending (rows already known are ignored).

        Rows held for later (a reminder, a follow-up) stay in the outbox until they are due:
        :meth:`load_scheduled` picks them up then.
        """
        now = self.wall()
        for row in rows:
            if row.id in self._known or row.not_before > now:
                continue
            self._known.add(row.id)
            lane = self.lanes.get(row.lane)
            if lane is None:
                lane = self.lanes[row.lane] = _Lane(row.lane)
            if row.merge_key is not None and self._merge(lane, row):
                continue
            if row.options.get("screen"):
                self._replace_screen(lane, row)
            self._queued[row.id] = time.monotonic()
            lane.queue.append(row)
            if lane.task is None:
                self._idle.clear()
                lane.task = asyncio.create_task(self._run(lane))

    def _merge(self, lane: _Lane, row: Outgoing) -> bool:
        """Fold an edit into a waiting edit of the same message; True if folded."""
        for i in range(len(lane.queue) - 1, -1, -1):
            old = lane.queue[i]
            if old.merge_key != row.merge_key:
                continue
            merged = row
            if row.method == "editMessageReplyMarkup" and old.method == "editMessageText":
                # Keep the waiting text change; take the newer keyboard.
                params = {k: v for k, v in old.params.items() if k != "reply_markup"}
                if "reply_markup" in row.params:
                    params["reply_markup"] = row.params["reply_markup"]
                merged = replace(row, method=old.method, params=params)
            merged.options = {**old.options, **row.options}
            if not row.options.get("screen"):
                merged.options.pop("screen", None)  # no longer the newest screen
            self._absorbed[merged.id] = [*self._absorbed.pop(old.id, []), old.id]
            self._queued[merged.id] = self._queued.pop(old.id, time.monotonic())
            lane.queue[i] = merged
            self.stats.merged += 1
            if merged.options.get("screen"):
                self._replace_screen(lane, merged)
            return True
        return False

    def _replace_screen(self, lane: _Lane, row: Outgoing) -> None:
        """Take a chat's waiting screen out of its queue: ``row`` shows a newer one.

        A waiting message is never sent; a waiting edit that redraws live buttons would only
        make an older message look current. Either is deleted from the outbox at once: the
        newer screen is committed already, so nothing the person needs is lost.
        """
        for old in [each for each in lane.queue if each.options.get("screen") and each is not row]:
            lane.queue.remove(old)
            self._queued.pop(old.id, None)
            self._retry_at.pop(old.id, None)
            self._sent.extend([*self._absorbed.pop(old.id, []), old.id])
            if old.options.get("wipe"):
                row.options["wipe"] = True  # a /forget reply's log wipe waits for the newer
            self.stats.replaced += 1
            self._dirty.set()

    # ---- sending -------------------------------------------------------------------------

    async def _run(self, lane: _Lane) -> None:
        try:
            while lane.queue:
                head = self._next(lane.queue)
                unclaimed = head.purpose in LATER and head.id not in self._claimed
                if unclaimed and not await self._claim(lane, head):
                    continue
                free = self._chat_free.get(lane.key, 0.0)
                wait = max(free, self._retry_at.get(head.id, 0.0)) - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._unpaused()
                await self._slots.acquire(urgent=not head.method.startswith("edit"))
                try:
                    await self._unpaused()
                    if not lane.queue:
                        break
                    row = self._next(lane.queue)  # the queue may have changed while we waited
                    lane.queue.remove(row)
                    self._queued.pop(row.id, None)
                    result = await self._deliver(row)
                finally:
                    self._release_slot()
                if self.chat_interval:
                    self._chat_free[lane.key] = time.monotonic() + self.chat_interval
                self._settle(lane, row, result)
        finally:
            lane.task = None
            if not lane.queue and self.lanes.get(lane.key) is lane:
                del self.lanes[lane.key]
            if not self.lanes:
                self._check_idle()

    def _next(self, queue: deque[Outgoing]) -> Outgoing:
        """The row a chat gets next: its oldest new message, else its oldest edit.

        New messages keep their order; an edit (a tick, or buttons taken off an answered
        question) changes a message already on screen, so it may follow the next question
        instead of delaying it by the per-chat interval, but never by more than
        ``edit_wait`` seconds.
        """
        first_edit = None
        for row in queue:
            if not row.method.startswith("edit"):
                if first_edit is not None:
                    since = self._queued.get(first_edit.id)
                    if since is not None and time.monotonic() - since >= self.edit_wait:
                        return first_edit
                return row
            if first_edit is None:
                first_edit = row
        return queue[0]

    async def _claim(self, lane: _Lane, row: Outgoing) -> bool:
        """Claim a message sent later just before its first try; False if it is not to go now."""
        now = dt.datetime.fromtimestamp(self.wall(), dt.UTC)
        try:
            verdict = await self.store_thread.call(self.store.later_claim, row.id, now, self.quiet)
        except Exception as exc:  # the database is busy or full: the next look tries again
            log.warning("could not claim a %s to send (%s)", row.purpose, type(exc).__name__)
            verdict = "error"
        if verdict == "send":
            self._claimed.add(row.id)
            return True
        with contextlib.suppress(ValueError):
            lane.queue.remove(row)
        self._known.discard(row.id)  # "later": looked at again once due
        if verdict == "later":
            log.info("a %s fell due in the quiet hours; it goes in the morning", row.purpose)
        return False

    def _release_slot(self) -> None:
        if self._hold:
            asyncio.get_running_loop().call_later(self._hold, self._slots.release)
        else:
            self._slots.release()

    async def _unpaused(self) -> None:
        while (wait := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    async def _deliver(self, row: Outgoing) -> tuple[str, Any]:
        """Make the call; return what happened as (kind, detail)."""
        address = self._opened.get(row.address or b"")
        if address is None:
            try:
                address = self.sealer.open(row.address or b"")
            except SealError:
                return "drop", "address cannot be opened (was TRIAGE_SECRET changed?)"
            # One update's replies share its sealed address: open it once (memory only).
            if len(self._opened) > 4096:
                self._opened.clear()
            self._opened[row.address or b""] = address
        params = {**row.params, "chat_id": address.chat_id, **address.params}
        file = None
        if row.file is not None:
            file = (
                row.options.get("file_field", "document"),
                row.options.get("file_name", "file"),
                row.file,
            )
        try:
            await self.api.call(row.method, params, file=file)
        except RetryAfter as exc:
            return "pause", exc.retry_after
        except Forbidden:
            return "blocked", None
        except BadRequest as exc:
            message = str(exc)
            lowered = message.lower()
            if "not modified" in lowered:
                return "sent", None
            if (
                row.method == "editMessageText"
                and "reply_markup" in row.params
                and any(phrase in lowered for phrase in _UNEDITABLE)
            ):
                # Too old or gone: a changed keyboard still has to reach the person.
                fresh = {k: v for k, v in row.params.items() if k != "message_id"}
                return "resend", replace(row, method="sendMessage", params=fresh, merge_key=None)
            return "drop", f"rejected: {message[:120]}"
        except ChatMigrated:
            return "drop", "the group became a supergroup"
        except InvalidToken:
            return "fatal", "Telegram rejected the bot token"
        except TelegramError as exc:
            return "retry", reason(exc)
        return "sent", None

    def _settle(self, lane: _Lane, row: Outgoing, result: tuple[str, Any]) -> None:
        kind, detail = result
        if self.metrics is not None:
            self._count(kind, row, lane, detail)
        if kind == "sent":
            self.stats.sent += 1
            self._sent.append(row.id)
            self._sent.extend(self._absorbed.pop(row.id, []))
            self._retry_at.pop(row.id, None)
            if row.options.get("wipe"):
                self._wipe = True
            if row.purpose in LATER:
                self._claimed.discard(row.id)
                self._later_sent[row.purpose] += 1
        elif kind == "resend":
            lane.queue.appendleft(detail)
            return
        elif kind == "pause":
            lane.queue.appendleft(row)
            self._pause(detail)
            return
        elif kind == "blocked":
            dropped = [row, *lane.queue]
            lane.queue.clear()
            for each in dropped:
                self._drop(each, "the person blocked the bot or left the chat", lost=False)
            if row.subject and row.purpose != TEAM_POST:
                self._blocked.add(row.subject)  # nothing more waits for them (issue 9)
            if row.purpose == TEAM_POST:
                # The operator must act: the bot is no longer in the team's chat.
                log.error(
                    "could not post to the team's chat (TRIAGE_TEAM_CHAT_ID): the bot was "
                    "removed or blocked (403); dropped %d waiting post(s)",
                    len(dropped),
                )
            else:
                log.info(
                    "a chat refused messages (403); dropped its %d waiting message(s)", len(dropped)
                )
        elif kind == "drop":
            self._drop(row, detail, lost=True)
            if row.purpose == TEAM_POST:
                # A wrong chat id, or a group that became a supergroup: fix the setting.
                log.error("could not post to the team's chat (TRIAGE_TEAM_CHAT_ID): %s", detail)
            else:
                log.warning("a %s was dropped: %s", row.method, detail)
        elif kind == "fatal":
            lane.queue.appendleft(row)
            self._paused_until = time.monotonic() + 3600
            if self.on_fatal is not None:
                self.on_fatal(detail)
            return
        else:  # retry
            tries = row.attempts + 1
            if tries >= self.attempts:
                self._drop(row, f"gave up after {tries} tries ({detail})", lost=True)
                log.log(
                    logging.ERROR if row.purpose == TEAM_POST else logging.WARNING,
                    "a %s was dropped after %d tries: %s",
                    "post to the team's chat" if row.purpose == TEAM_POST else row.method,
                    tries,
                    detail,
                )
            else:
                retried = replace(row, attempts=tries)
                delay = self._retry_delays.delay(tries - 1)
                self._retry_at[row.id] = time.monotonic() + delay
                self._tries[row.id] = tries
                lane.queue.appendleft(retried)
                self.stats.retried += 1
                log.info(
                    "a %s could not be delivered (%s); try %d in %.1fs",
                    row.method,
                    detail,
                    tries + 1,
                    delay,
                )
        self._dirty.set()

    def _count(self, kind: str, row: Outgoing, lane: _Lane, detail: Any) -> None:
        """Count an outcome for the metrics (by kind only: nothing about the chat)."""
        assert self.metrics is not None
        if kind == "sent":
            self.metrics.delivered(row.method)
        elif kind == "pause":
            self.metrics.pauses.inc()
        elif kind == "blocked":
            for _ in range(1 + len(lane.queue)):
                self.metrics.failure("blocked")
        elif kind == "drop":
            unopened = isinstance(detail, str) and detail.startswith("address cannot be opened")
            self.metrics.failure("unopenable" if unopened else "rejected")
        elif kind == "fatal":
            self.metrics.failure("token")
        elif kind == "retry":
            self.metrics.failure("gave_up" if row.attempts + 1 >= self.attempts else "retried")

    def _drop(self, row: Outgoing, reason: str, *, lost: bool) -> None:
        self.stats.dropped += 1
        self._queued.pop(row.id, None)
        self._retry_at.pop(row.id, None)
        self._claimed.discard(row.id)
        self._failed.append((row.id, reason))
        for absorbed in self._absorbed.pop(row.id, []):
            self._failed.append((absorbed, "merged into a dropped edit"))
        if lost and row.subject:
            self._lost.add(row.subject)

    def _pause(self, seconds: float) -> None:
        now = time.monotonic()
        until = now + seconds + PAUSE_SLACK
        if until > self._paused_until:
            if self.metrics is not None:
                self.metrics.paused.inc(until - max(self._paused_until, now))
            self._paused_until = until
            self.stats.pauses += 1
            log.warning(
                "Telegram asked the bot to slow down (429): all sending paused %.1fs", seconds
            )
            task = asyncio.create_task(
                self.store_thread.call(self.store.count, "pauses_429", dt.datetime.now(dt.UTC))
            )
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

    # ---- button-press answers (best effort, outside the outbox) ---------------------------

    def answer(self, callback_id: str, text: str | None) -> None:
        """Acknowledge a button press, with an optional pop-up note; never retried."""
        task = asyncio.create_task(self._answer(callback_id, text))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, callback_id: str, text: str | None) -> None:
        async with self._answer_slots:
            try:
                await self.api.call(
                    "answerCallbackQuery", {"callback_query_id": callback_id, "text": text}
                )
            except TelegramError as exc:
                log.debug("could not answer a button press: %s", type(exc).__name__)

    # ---- recording what happened ----------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            if self.flush_every:
                await asyncio.sleep(self.flush_every)  # gather a few results per transaction
            # Otherwise at once: results arriving meanwhile go in the next transaction.
            self._dirty.clear()
            await self.flush()
            self._check_idle()
            if len(self._chat_free) > 1000:
                now = time.monotonic()
                self._chat_free = {k: t for k, t in self._chat_free.items() if t > now}

    async def flush(self) -> None:
        """Record delivered and dropped rows in the store (one transaction)."""
        sent, failed, tries, lost, wipe = (
            self._sent,
            self._failed,
            self._tries,
            self._lost,
            self._wipe,
        )
        counted, blocked = self._later_sent, self._blocked
        if not (sent or failed or tries or lost or wipe or counted or blocked):
            return
        self._sent, self._failed, self._tries, self._lost, self._wipe = [], [], {}, set(), False
        self._later_sent, self._blocked = Counter(), set()
        self._recording += 1
        try:
            await self.store_thread.call(
                functools.partial(
                    self.store.outbox_finish,
                    sent,
                    failed,
                    list(tries.items()),
                    lost,
                    counted=dict(counted),
                    blocked=blocked,
                )
            )
            self._known.difference_update(sent)
            self._known.difference_update(i for i, _ in failed)
            if wipe:
                await self.store_thread.call(self.store.checkpoint)
        except Exception as exc:
            log.warning(
                "could not record sent messages (%s); will try again",
                describe(exc, self.store.path),
            )
            self._sent[:0] = sent
            self._failed[:0] = failed
            self._lost |= lost
            self._tries = {**tries, **self._tries}
            self._wipe = self._wipe or wipe
            self._later_sent.update(counted)
            self._blocked |= blocked
            self._dirty.set()
            return
        finally:
            self._recording -= 1

    def _check_idle(self) -> None:
        pending = self._sent or self._failed or self._tries or self._lost or self._wipe
        pending = pending or self._later_sent or self._blocked
        if not self.lanes and not pending and not self._recording:
            self._idle.set()

    @property
    def paused(self) -> bool:
        """Whether a 429 has paused all sending right now."""
        return self._paused_until > time.monotonic()

    @property
    def busy(self) -> bool:
        """Whether anything is queued, in flight or not yet recorded."""
        return not self._idle.is_set() or bool(self.lanes)

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until everything queued is sent and recorded; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 5.0) -> None:
        """Let queued sends finish for up to ``timeout`` seconds, then record and stop.

        What has not gone out by then stays in the outbox for the next start.
        """
        await self.wait_idle(timeout)
        lanes = [lane.task for lane in self.lanes.values() if lane.task is not None]
        for task in lanes:
            task.cancel()
        for task in lanes:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Button answers still out get one short wait together (they expire anyway).
        answering = list(self._answering)
        if answering:
            _, late = await asyncio.wait(answering, timeout=ANSWERS_WITHIN)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=0.5)
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()


class _Slots:
    """A semaphore whose waiters for new messages go before waiters for edits.

    Across all chats, the next question someone is waiting for goes out before tick marks
    and buttons taken off older messages, so a burst delays the edits, not the questions;
    an edit that has waited ``edit_wait`` seconds goes first all the same.
    """

    def __init__(self, value: int, edit_wait: float = EDIT_WAIT) -> None:
        self._free = value
        self.edit_wait = edit_wait
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._later: deque[asyncio.Future[None]] = deque()
        self._since: dict[asyncio.Future[None], float] = {}

    async def acquire(self, urgent: bool = True) -> None:
        """Take a slot, waiting if none is free."""
        if self._free > 0 and not self._urgent and not self._later:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if urgent:
            self._urgent.append(waiter)
        else:
            self._later.append(waiter)
            self._since[waiter] = time.monotonic()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as we were cancelled: pass it on
            raise
        finally:
            self._since.pop(waiter, None)

    def release(self) -> None:
        """Give a slot back: to the first urgent waiter, else the first other one.

        An edit that has waited ``edit_wait`` seconds counts as urgent.
        """
        while self._later and self._later[0].done():
            self._later.popleft()
        overdue = bool(self._later) and (
            time.monotonic() - self._since.get(self._later[0], time.monotonic()) >= self.edit_wait
        )
        for queue in (self._later, self._urgent) if overdue else (self._urgent, self._later):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1
