"""A fake Bot API with a crowd of people in it, as its own process, for ``bench.transport``.

    python -m bench.fake_api        # prints "port N", serves until SIGTERM or SIGINT

The Bot API side is ``tests/fake_telegram.py`` (optionally with latency and Telegram's flood
limits) served over HTTP on 127.0.0.1. The crowd lives here too, so a person taps the moment
their next question arrives, with no extra hop: each person sends /start, then, whenever a
message with buttons arrives for them, taps one (the same choices for any bot: see
:func:`choose`). Control calls are JSON POSTs to ``/control/<verb>``; times are measured here,
on one clock.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.conversation.content import load_content  # noqa: E402
from tests.fake_server import bot_api_app  # noqa: E402
from tests.fake_telegram import FakeTelegram, Person, Shown  # noqa: E402


@dataclass
class Labels:
    """The button words the crowd looks for (from the content both bots show)."""

    done: str
    confirm: str
    skip: str
    start: str
    new_triage: str
    avoid: frozenset[str]
    selected: str
    unselected: str


def labels() -> Labels:
    """Button words from content/ui.yaml."""
    ui = load_content(ROOT).ui
    b = ui.buttons
    return Labels(
        done=b.done,
        confirm=b.confirm,
        skip=b.skip,
        start=b.start,
        new_triage=b.new_triage,
        avoid=frozenset({b.back, b.privacy, b.not_now, b.results_again, b.start_again}),
        selected=ui.marks.selected,
        unselected=ui.marks.unselected,
    )


def choose(keyboard: list[list[dict[str, Any]]], words: Labels) -> dict[str, Any] | None:
    """The button a person in the crowd taps: the first answer, ticking one option before Done."""
    buttons = [b for row in keyboard for b in row if b.get("callback_data")]
    by_label = {b["text"]: b for b in buttons}
    if words.done in by_label:
        if any(b["text"].startswith(words.selected) for b in buttons):
            return by_label[words.done]
        ticks = [b for b in buttons if b["text"].startswith(words.unselected)]
        return ticks[0] if ticks else by_label[words.done]
    for preferred in (words.confirm, words.skip, words.start, words.new_triage):
        if preferred in by_label:
            return by_label[preferred]
    rest = [b for b in buttons if b["text"] not in words.avoid]
    return rest[0] if rest else None


@dataclass
class Member:
    """One person in the crowd."""

    person: Person
    taps_left: int | None
    acted_at: float | None = None  # when they last wrote or tapped, while waiting for an answer
    latest: Shown | None = None


class Crowd:
    """People who act as soon as the bot answers them."""

    def __init__(self, telegram: FakeTelegram, words: Labels) -> None:
        self.telegram = telegram
        self.words = words
        self.members: dict[int, Member] = {}
        self.answered = 0
        self.latencies: list[float] = []
        self.first_update: float | None = None
        self.running = True
        telegram.listeners.append(self.on_message)

    def add(self, first_id: int, people: int, taps: int | None) -> None:
        """Add ``people`` people (they have not written yet)."""
        for i in range(people):
            person = Person(user_id=first_id + i, first_name=f"P{i}", username=f"p{first_id + i}")
            self.members[person.chat_id] = Member(person, taps)

    def start_all(self) -> None:
        """Everyone sends /start now."""
        now = time.monotonic()
        self.first_update = self.first_update or now
        for member in self.members.values():
            member.acted_at = now
            self.telegram.send_text(member.person, "/start")

    async def start_spread(self, seconds: float) -> None:
        """Everyone sends /start, evenly spread over ``seconds``."""
        members = list(self.members.values())
        begin = time.monotonic()
        self.first_update = self.first_update or begin
        for i, member in enumerate(members):
            due = begin + seconds * i / len(members)
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            member.acted_at = time.monotonic()
            self.telegram.send_text(member.person, "/start")

    def tap_all(self, taps: int) -> None:
        """Everyone taps at the same moment (and then ``taps - 1`` more times as answered)."""
        self.latencies.clear()
        self.first_update = time.monotonic()
        for member in self.members.values():
            member.taps_left = taps
            self.tap(member)

    def on_message(self, shown: Shown, new: bool) -> None:
        member = self.members.get(shown.chat_id)
        if member is None or member.acted_at is None:
            return
        if not any(b.get("callback_data") for row in shown.keyboard for b in row):
            return  # an answered question losing its buttons, not the next question
        self.latencies.append(time.monotonic() - member.acted_at)
        self.answered += 1
        member.acted_at = None
        member.latest = shown
        if self.running and (member.taps_left is None or member.taps_left > 0):
            asyncio.get_running_loop().call_soon(self.tap, member)

    def tap(self, member: Member) -> None:
        if member.latest is None or not self.running:
            return
        button = choose(member.latest.keyboard, self.words)
        if button is None:
            return
        if member.taps_left is not None:
            member.taps_left -= 1
        member.acted_at = time.monotonic()
        self.telegram.press_data(member.person, member.latest.message_id, button["callback_data"])


class Control:
    """The fake Telegram, its crowd, and the control routes."""

    def __init__(self) -> None:
        self.words = labels()
        self.telegram = FakeTelegram(record=False)
        self.crowd = Crowd(self.telegram, self.words)
        self.polls = 0

    async def handle(self, request: web.Request) -> web.Response:
        verb = request.match_info["verb"]
        args = await request.json() if request.can_read_body else {}
        result = await getattr(self, "do_" + verb)(**args)
        return web.json_response(result or {})

    async def do_reset(self, latency: float = 0.0, limits: list[float] | None = None) -> None:
        self.telegram = FakeTelegram(latency=latency, record=False)
        self.telegram.limits = (limits[0], limits[1]) if limits else None
        self.crowd = Crowd(self.telegram, self.words)

    async def do_set(self, latency: float | None = None) -> None:
        if latency is not None:
            self.telegram.latency = latency

    async def do_crowd(
        self, people: int, first_id: int = 10_000_000, taps: int | None = None, spread: float = 0
    ) -> None:
        self.crowd.add(first_id, people, taps)
        if spread:
            task = asyncio.create_task(self.crowd.start_spread(spread))
            self._keep = task
        else:
            self.crowd.start_all()

    async def do_tap_all(self, taps: int = 1) -> None:
        self.crowd.tap_all(taps)

    async def do_stop(self) -> None:
        self.crowd.running = False

    async def do_state(self, latencies: bool = False) -> dict[str, Any]:
        t = self.telegram
        crowd = self.crowd
        times = t.message_times
        state = {
            "now": time.monotonic(),
            "polls": t.polls,
            "answered": crowd.answered,
            "waiting": sum(1 for m in crowd.members.values() if m.acted_at is not None),
            "people": len(crowd.members),
            "too_many": t.too_many,
            "messages": len(times),
            "first_update": crowd.first_update,
            "first_message": times[0] if times else None,
            "last_message": times[-1] if times else None,
            "pending_updates": len(t.pending),
        }
        if latencies:
            state["latencies"] = crowd.latencies
        return state


async def main() -> None:
    # A bot that stops mid-request is normal here; aiohttp would print a traceback for it.
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    control = Control()
    app = bot_api_app(lambda: control.telegram)
    app.router.add_post("/control/{verb}", control.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"port {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
