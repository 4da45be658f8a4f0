"""Impatient people: taps repeated while the reply waits for the chat's send interval.

The spinner on a button stops when the press is committed, but the reply may still wait for
the one-second interval between messages to a chat, so people tap again. Those taps must not
build a queue: a repeated tap on a message whose button was handled only answers its
spinner, a chat has at most one waiting screen, and edits do not wait behind new messages.
The real poller, inbox, worker, outbox and sender run against FakeTelegram (no network).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from bench.fake_api import choose, labels
from bot.channels.telegram.sender import Sender

from .fake_telegram import FakeTelegram, Person, Shown
from .telegram_harness import RunningBot

QUESTION_1 = "Which of these best describes"
RESULT = "Your next steps"


class SpinnerTelegram(FakeTelegram):
    """FakeTelegram that notes which button presses have had their spinner answered."""

    def __init__(self) -> None:
        super().__init__()
        self.answered: set[str] = set()

    async def answer(
        self, method: str, params: dict[str, Any], files: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        result = await super().answer(method, params, files)
        if method == "answerCallbackQuery":
            self.answered.add(str(params["callback_query_id"]))
        return result


def outbox_depth(bot: RunningBot) -> int:
    """Rows waiting to go now (a reminder waits for days, by design)."""
    return bot.store.conn.execute(
        "SELECT count(*) FROM outbox WHERE status = 'todo' AND not_before = 0"
    ).fetchone()[0]


async def test_ten_taps_in_three_seconds_on_an_old_start_button_give_one_message(
    tmp_path, content
) -> None:
    telegram = SpinnerTelegram()
    # Telegram's limits as the bot keeps them by default: one message a second to a chat.
    bot = await RunningBot(
        telegram, tmp_path / "triage.db", content, send_rate=30.0, chat_interval=1.0
    ).start()
    person = Person(user_id=515151, first_name="Hasty", username="hasty_h")
    try:
        telegram.send_text(person, "/start")
        await bot.settle()
        welcome = telegram.latest_with_buttons(person)
        start = welcome.button("Start")["callback_data"]
        before = len(telegram.messages(person))
        callbacks = []
        for _ in range(10):
            callbacks.append(telegram.press_data(person, welcome.message_id, start))
            await asyncio.sleep(0.3)
        await bot.settle(20)
        new = telegram.messages(person)[before:]
        assert [QUESTION_1 in m.text for m in new] == [True], [m.text[:40] for m in new]
        # Every spinner stopped (the repeats with a note that the button is old).
        ids = {telegram.history[u]["callback_query"]["id"] for u in callbacks}
        assert ids <= telegram.answered
        assert outbox_depth(bot) == 0
    finally:
        await bot.close()


class Walker:
    """Walks the check to its end, tapping again whenever the spinner stops and no reply came."""

    def __init__(self, telegram: SpinnerTelegram, person: Person) -> None:
        self.telegram = telegram
        self.person = person
        self.words = labels()
        self.taps = 0

    def screen(self) -> tuple[int, int, str] | None:
        try:
            shown = self.telegram.latest_with_buttons(self.person)
        except AssertionError:
            return None
        return shown.message_id, shown.edits, shown.text

    def finished(self) -> bool:
        return any(RESULT in m.text for m in self.telegram.messages(self.person))

    async def walk(self, deadline: float) -> None:
        self.telegram.send_text(self.person, "/start")
        seen: tuple[int, int, str] | None = None
        pressed: tuple[Shown, str] | None = None
        callback = ""
        last_tap = 0.0
        while not self.finished():
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.02)
            now = self.screen()
            if now is not None and now != seen:
                seen = now
                shown = self.telegram.latest_with_buttons(self.person)
                button = choose(shown.keyboard, self.words)
                assert button is not None, shown.text
                pressed = (shown, button["callback_data"])
            elif pressed is None or callback not in self.telegram.answered:
                continue  # nothing new to tap yet, or the spinner still turns
            elif time.monotonic() - last_tap < 0.2:
                continue  # a person taps at most about five times a second
            shown, data = pressed
            update = self.telegram.press_data(self.person, shown.message_id, data)
            callback = self.telegram.history[update]["callback_query"]["id"]
            last_tap = time.monotonic()
            self.taps += 1


async def test_fifty_impatient_walkers_all_finish_with_the_outbox_near_empty(
    tmp_path, content
) -> None:
    telegram = SpinnerTelegram()
    bot = await RunningBot(
        telegram, tmp_path / "triage.db", content, send_rate=0.0, chat_interval=0.25
    ).start()
    walkers = [
        Walker(telegram, Person(user_id=5_200_000 + i, first_name=f"W{i}", username=f"w{i}"))
        for i in range(50)
    ]
    deepest = 0

    async def watch() -> None:
        nonlocal deepest
        while True:
            deepest = max(deepest, await bot.bot.store_thread.call(outbox_depth, bot))
            await asyncio.sleep(0.25)

    watcher = asyncio.create_task(watch())
    try:
        deadline = time.monotonic() + 90
        await asyncio.gather(*(w.walk(deadline) for w in walkers))
        finished = sum(w.finished() for w in walkers)
        await bot.settle(20)
        left = outbox_depth(bot)
    finally:
        watcher.cancel()
        await bot.close()
    taps = sum(w.taps for w in walkers)
    # A screen sent again right after itself: what each impatient tap used to cost.
    last: dict[object, object] = {}
    repeats = 0
    for method, params in telegram.calls:
        if method == "sendMessage":
            chat, text = params.get("chat_id"), params.get("text")
            repeats += last.get(chat) == text
            last[chat] = text
    print(
        f"50 impatient walkers: {finished} finished, {taps} taps, outbox at most {deepest}, "
        f"{repeats} screens sent twice in a row"
    )
    assert finished == 50
    assert taps > 50 * 25  # they really were impatient
    assert repeats == 0
    # A screen and the edits still waiting a person, never a growing queue (generous: the
    # machine may be busy; the queue that grew without bound reached thousands).
    assert deepest <= 10 * 50
    assert left == 0


async def test_an_edit_waits_behind_new_messages_for_a_bounded_time() -> None:
    """Across chats (the send slots) and within one chat (its queue) an edit that has waited
    ``edit_wait`` goes before new messages, so no button is left looking live for minutes."""
    from bot.channels.telegram.sender import _Slots
    from bot.store import Outgoing

    slots = _Slots(1, edit_wait=0.2)
    await slots.acquire()
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        await slots.acquire(urgent=urgent)
        order.append(name)
        await asyncio.sleep(0.05)
        slots.release()

    waiting = [asyncio.create_task(take("edit", False))]
    await asyncio.sleep(0.25)  # the edit has waited longer than edit_wait
    waiting += [asyncio.create_task(take(f"question {i}", True)) for i in range(3)]
    await asyncio.sleep(0)
    slots.release()
    await asyncio.gather(*waiting)
    assert order[0] == "edit"

    sender = Sender.__new__(Sender)  # only the choice of the next row is tried here
    sender.edit_wait = 0.2
    edit = Outgoing("lane", "editMessageText", {}, None, id=1)
    question = Outgoing("lane", "sendMessage", {}, None, id=2)
    sender._queued = {1: time.monotonic(), 2: time.monotonic()}
    queue = deque([edit, question])
    assert sender._next(queue) is question  # a fresh edit lets the next question go first
    sender._queued[1] -= 0.25
    assert sender._next(queue) is edit
