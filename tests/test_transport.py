"""Fault tests for the transport: odd updates, failing chats, 429s, merges, privacy of the outbox.

The real poller, inbox, worker, outbox and sender run against FakeTelegram (no network).
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.cli import configure_logging
from bot.privacy import pseudonym

from .fake_telegram import FakeTelegram, Person
from .telegram_harness import SECRET, TOKEN, RunningBot

ALICE = Person(user_id=424242101, first_name="Alisande", username="alisande_quill")
BOB = Person(user_id=424242102, first_name="Bartholomew", username="bart_mutual")
CARA = Person(user_id=424242103, first_name="Caradoc", username="caradoc_ops")


@pytest.fixture
def telegram() -> FakeTelegram:
    return FakeTelegram()


async def started(telegram, tmp_path, content, **kwargs) -> RunningBot:
    return await RunningBot(telegram, tmp_path / "triage.db", content, **kwargs).start()


def identifiers(*people: Person) -> list[str]:
    return [
        str(value) for p in people for value in (p.user_id, p.first_name, p.username, p.last_name)
    ] + [TOKEN, TOKEN.split(":")[1]]


async def test_odd_updates_among_good_ones_are_recorded_by_kind_and_others_served(
    telegram, tmp_path, content, capsys, safe_logging
) -> None:
    configure_logging("DEBUG", (TOKEN, SECRET))
    bot = await started(telegram, tmp_path, content)
    try:
        telegram.send_text(ALICE, "/start")
        # (Bob's /start first: a newer screen would take the place of the answer to his poll.)
        telegram.send_text(BOB, "/start")
        poll = telegram.send_old_poll(BOB)  # python-telegram-bot rejects this whole batch
        broken = telegram.send_raw(
            {"message": {"message_id": 9, "from": CARA.user(), "chat": "not an object"}}
        )
        # Library loggers may dump raw data: python-telegram-bot does so at CRITICAL.
        logging.getLogger("telegram.ext.Updater").critical(
            "Error while parsing updates! Received data was %r", telegram.history[broken]
        )
        await bot.settle()
        assert "partnerships check" in telegram.latest(ALICE).text
        assert "partnerships check" in telegram.latest(BOB).text
        assert "only read button taps" in telegram.transcript(BOB)  # the poll got an answer
        rows = bot.store.db.execute(
            "SELECT update_id, kind, status, subject, event, address, error FROM inbox "
            "WHERE status = 'failed'"
        ).fetchall()
        assert [tuple(r) for r in rows] == [
            (broken, "message", "failed", None, None, None, "unreadable (TypeError)")
        ]
        assert poll < broken and telegram.all_confirmed
        assert not bot.bot.stop.is_set()  # still running
        # Cara could not be read; when she next writes, she is shown where she is.
        telegram.send_text(CARA, "/help")
        await bot.settle()
        assert "partnerships check" in telegram.transcript(CARA)
    finally:
        await bot.close()
    err = capsys.readouterr().err
    assert "Error while parsing updates" in err  # the template, without the data
    for needle in identifiers(ALICE, BOB, CARA):
        assert needle not in err, needle


async def test_one_chat_failing_every_send_does_not_hold_back_150_others(
    telegram, tmp_path, content
) -> None:
    bot = await started(telegram, tmp_path, content, sender_options={"attempts": 4, "backoff": 0.2})
    crowd = [
        Person(user_id=7_000_000 + i, first_name=f"P{i}", username=f"p{i}") for i in range(150)
    ]
    broken = Person(user_id=6_999_999, first_name="Stuck", username="stuck")
    telegram.fail_chats[broken.chat_id] = 500
    try:
        telegram.send_text(broken, "/start")
        telegram.send_text(broken, "/help")
        started_at = time.monotonic()
        for person in crowd:
            telegram.send_text(person, "/start")
        while not all(telegram.messages(p) for p in crowd):
            assert time.monotonic() - started_at < 10, "others were held back"
            await asyncio.sleep(0.02)
        await bot.settle(20)
        failed = bot.store.db.execute(
            "SELECT count(*), max(address IS NOT NULL), min(error) FROM outbox "
            "WHERE status = 'failed'"
        ).fetchone()
        assert failed[0] >= 2 and failed[1] == 0 and "gave up after 4 tries" in failed[2]
        assert bot.store.db["outbox"].count == failed[0]  # everything else was delivered
    finally:
        await bot.close()


async def test_a_429_pauses_all_sending(telegram, tmp_path, content) -> None:
    bot = await started(telegram, tmp_path, content)
    people = [Person(user_id=8_000_000 + i, first_name=f"Q{i}", username=f"q{i}") for i in range(8)]
    try:
        telegram.limits = (3, 0)  # three messages a second, then 429 retry_after 1
        for person in people:
            telegram.send_text(person, "/start")
        await bot.settle(15)
        assert all("partnerships check" in telegram.latest(p).text for p in people)
        assert telegram.too_many >= 1 and bot.sender.stats.pauses >= 1
        # After a refusal nothing at all went out until the pause (retry_after 1) was over.
        times = telegram.message_times
        assert times[3] - times[2] >= 1.0
        health = await bot.bot.health()
        assert health["pauses_429"] >= 1 and health["outbox_depth"] == 0
    finally:
        await bot.close()


async def test_default_limits_keep_to_telegrams_without_a_single_429(
    telegram, tmp_path, content
) -> None:
    telegram.limits = (10, 1.0)  # a stricter Telegram: 10/s overall, 1/s per chat
    bot = await started(telegram, tmp_path, content, send_rate=10.0, chat_interval=1.0)
    people = [
        Person(user_id=8_100_000 + i, first_name=f"R{i}", username=f"r{i}") for i in range(15)
    ]
    try:
        for person in people:
            telegram.send_text(person, "/start")
        await bot.settle(15)
        for person in people[:3]:
            telegram.tap(person, "Start")  # an edit and a new message to one chat
        await bot.settle(15)
        for person in people[:3]:  # and straight away the next answer
            telegram.tap(person, "A Public Service Mutual")
        await bot.settle(15)
        assert telegram.too_many == 0
        assert all("What is your role?" in telegram.latest(p).text for p in people[:3])
        assert len(telegram.message_times) == 15 + 6 + 6
    finally:
        await bot.close()


async def test_waiting_edits_of_one_message_are_merged(telegram, tmp_path, content) -> None:
    from .conftest import MUTUAL_ANSWERS
    from .test_telegram import begin, walk

    bot = await started(telegram, tmp_path, content)
    try:
        await begin(telegram, bot, ALICE)
        await walk(telegram, bot, ALICE, MUTUAL_ANSWERS[:8])
        question = telegram.latest_with_buttons(ALICE)
        edits_before = question.edits
        bot.sender._paused_until = time.monotonic() + 0.5  # hold sending for a moment
        for label in ("Informal", "Subcontracting as the lead", "Informal"):
            telegram.tap(ALICE, label, question.message_id)
        await bot.settle()
        assert question.edits == edits_before + 1  # three ticks, one edit
        assert bot.sender.stats.merged == 2
        assert "✅ Subcontracting as the lead" in " ".join(question.labels())
        assert "✅ Informal" not in " ".join(question.labels())
        # Merged rows are deleted with the edit; only the reminder waits, for later.
        assert _outbox(bot) == [("reminder", "todo")]
    finally:
        await bot.close()


async def test_a_blocked_chat_drops_its_queue_and_not_modified_counts_as_sent(
    telegram, tmp_path, content
) -> None:
    from bot.store import Outgoing

    bot = await started(telegram, tmp_path, content)
    try:
        telegram.send_text(ALICE, "/start")
        await bot.settle()
        welcome = telegram.latest(ALICE)
        telegram.tap(ALICE, "Start")  # takes the buttons off the welcome
        await bot.settle()
        # The same edit again: Telegram answers "message is not modified".
        lane = pseudonym(SECRET, ALICE.chat_id)
        (address,) = bot.store.db.execute("SELECT ?", [bot.bot.sealer.seal(_address(ALICE))])
        again = Outgoing(
            lane, "editMessageReplyMarkup", {"message_id": welcome.message_id}, address[0]
        )
        rows = await bot.bot.store_thread.call(lambda: _committed(bot.store, [again]))
        bot.sender.enqueue(rows)
        await bot.settle()
        assert _outbox(bot) == [("reminder", "todo")] and bot.sender.stats.dropped == 0
        telegram.blocked.add(ALICE.chat_id)
        calls_before = len(telegram.calls)
        telegram.send_text(ALICE, "/help")  # help and where they are: two messages
        await bot.settle()
        rows = bot.store.db.execute(
            "SELECT error, address, params FROM outbox WHERE status = 'failed'"
        ).fetchall()
        assert len(rows) == 2
        assert all("blocked" in r[0] and r[1] is None and r[2] == "{}" for r in rows)
        assert bot.sender.stats.retried == 0
        tried = [m for m, _ in telegram.calls[calls_before:] if m == "sendMessage"]
        assert tried == ["sendMessage"]  # one refusal dropped the whole queue
        # Nothing waits to be sent to them later either (issue 9: a 403 ends the reminder).
        assert [p for p, status in _outbox(bot) if status == "todo"] == []
    finally:
        await bot.close()


def _outbox(bot) -> list[tuple[str, str]]:
    return [tuple(r) for r in bot.store.conn.execute("SELECT purpose, status FROM outbox")]


def _address(person: Person):
    from bot.sealing import Address

    return Address(person.chat_id)


def _committed(store, rows):
    import datetime as dt

    with store.transaction():
        return store.outbox_add(rows, dt.datetime.now(dt.UTC))


async def test_group_commands_for_another_bot_are_ignored(telegram, tmp_path, content) -> None:
    bot = await started(telegram, tmp_path, content)
    try:
        telegram.group_command(ALICE, "/help@other_bot")
        telegram.group_command(ALICE, "/help@MPSP_triage_bot")
        telegram.group_command(BOB, "/start")
        await bot.settle()
        sends = [p for m, p in telegram.calls if m == "sendMessage"]
        assert len(sends) == 2 and all("private chat" in p["text"] for p in sends)
    finally:
        await bot.close()


async def test_text_with_invalid_unicode_is_answered_not_retried(
    telegram, tmp_path, content
) -> None:
    bot = await started(telegram, tmp_path, content)
    try:
        telegram.send_text(ALICE, "/start")
        await bot.settle()
        telegram.send_text(ALICE, "We are \ud800 a mutual")
        await bot.settle()
        assert "can't read a typed answer" in telegram.latest(ALICE).text
        attempts = bot.store.db.execute("SELECT max(attempts) FROM inbox").fetchone()[0]
        assert attempts == 0
    finally:
        await bot.close()


async def test_reply_address_is_sealed_until_sent_and_forget_leaves_no_trace(
    telegram, tmp_path, content
) -> None:
    from .conftest import MUTUAL_ANSWERS
    from .test_telegram import begin, walk

    db = tmp_path / "triage.db"
    bot = await started(telegram, tmp_path, content)
    subject = pseudonym(SECRET, ALICE.user_id)
    secret_words = "Zanzibar quokka cooperative"
    try:
        await begin(telegram, bot, ALICE)
        steps = [s if s[0] != "type" else ("type", secret_words) for s in MUTUAL_ANSWERS]
        await walk(telegram, bot, ALICE, steps)
        telegram.hang_sends = True  # replies are committed but not delivered
        telegram.tap(ALICE, "Confirm")
        while bot.store.db["outbox"].count == 0:
            await asyncio.sleep(0.01)
        raw = db.read_bytes() + db.with_name("triage.db-wal").read_bytes()
        assert str(ALICE.chat_id).encode() not in raw  # the address is sealed
        (row,) = bot.store.db.execute("SELECT address FROM outbox LIMIT 1").fetchall()
        assert row[0] and str(ALICE.chat_id).encode() not in row[0]
        telegram.hang_sends = False
        await bot.close()

        bot = await started(telegram, tmp_path, content)
        await bot.settle()  # the held replies go out after the restart
        assert "Your next steps" in telegram.transcript(ALICE)
        assert bot.store.db["outbox"].count == 0
        telegram.send_text(ALICE, "/forget")
        await bot.settle()
        telegram.tap(ALICE, "Delete")  # /forget asks first
        await bot.settle()
        assert "deleted" in telegram.latest(ALICE).text.lower()  # templates/forgotten.j2
    finally:
        await bot.close()
    for suffix in ("", "-wal"):
        path = db.with_name("triage.db" + suffix)
        blob = path.read_bytes() if path.exists() else b""
        for needle in (secret_words, "Zanzibar", subject, str(ALICE.chat_id)):
            assert needle.encode() not in blob, (suffix, needle)


async def test_kill_after_commit_before_send_sends_the_reply_on_restart(
    telegram, tmp_path, content
) -> None:
    db = tmp_path / "triage.db"
    first = await started(telegram, tmp_path, content)
    telegram.hang_sends = True
    telegram.send_text(ALICE, "/start")
    while first.store.db["outbox"].count == 0:
        await asyncio.sleep(0.01)
    await first.kill()
    assert telegram.messages(ALICE) == []
    telegram.hang_sends = False
    second = await RunningBot(telegram, db, content).start()
    try:
        await second.settle()
        (welcome,) = telegram.messages(ALICE)
        assert "partnerships check" in welcome.text
    finally:
        await second.close()


async def test_a_failing_retention_purge_is_logged_not_silent(
    telegram, tmp_path, content, monkeypatch, caplog
) -> None:
    import sqlite3

    bot = await started(telegram, tmp_path, content)
    try:

        def broken(*args):
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(bot.store, "purge", broken)
        with caplog.at_level(logging.ERROR, logger="bot"):
            assert await bot.bot.purge() is None
        assert "retention purge failed (OperationalError: database or disk is full)" in caplog.text
        assert not bot.bot.stop.is_set()  # the bot carries on, and tries again later
    finally:
        await bot.close()


async def test_waiting_new_messages_go_before_waiting_edits() -> None:
    from bot.channels.telegram.sender import _Slots

    slots = _Slots(1)
    await slots.acquire()
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        await slots.acquire(urgent=urgent)
        order.append(name)
        slots.release()

    waiting = [
        asyncio.create_task(take("edit", False)),
        asyncio.create_task(take("question", True)),
    ]
    await asyncio.sleep(0)
    slots.release()
    await asyncio.gather(*waiting)
    assert order == ["question", "edit"]


def test_a_name_is_read_only_from_the_send_with_my_name_tap() -> None:
    from bot.channels.telegram.convert import Reader
    from bot.sealing import Sealer

    sealer = Sealer(SECRET)
    reader = Reader(SECRET, sealer)
    telegram = FakeTelegram()
    message = 77
    presses = {
        "a|4|yes": None,
        "hs|9|anon": None,
        "hs|9|name": f"{ALICE.first_name} {ALICE.last_name}",
    }
    for data, name in presses.items():
        entry = reader.entry(telegram.history[telegram.press_data(ALICE, message, data)])
        assert entry is not None and entry.address is not None
        address = sealer.open(entry.address)
        assert address.chat_id == ALICE.chat_id and address.params == {}
        if name is None:
            assert address.who is None, data
        else:
            assert address.who is not None
            assert (address.who.user_id, address.who.name, address.who.username) == (
                ALICE.user_id,
                name,
                ALICE.username,
            )
        assert ALICE.first_name.encode() not in entry.address


def test_the_name_goes_only_in_the_team_post_and_a_lost_reply_is_still_reshown(
    store, content
) -> None:
    from bot.channels.service import Triage, encode_event
    from bot.channels.telegram.convert import TEAM_POST, Composer
    from bot.conversation.engine import Engine, Press
    from bot.sealing import Address, Sealer, Who
    from bot.store import InboxEntry

    from .conftest import MUTUAL_ANSWERS, Clock, Walker, answer_all, codes

    team_chat = -100999888
    seq = codes()
    engine = Engine(content, handover=True)
    triage = Triage(store, engine, clock=Clock(), new_code=lambda: next(seq))
    subject = pseudonym(SECRET, ALICE.user_id)
    walker = Walker(triage, subject)
    walker.command("start")
    walker.tap("Start")
    answer_all(walker, MUTUAL_ANSWERS)
    walker.tap("Confirm")
    walker.tap("Ask the team to contact me")
    data = walker.button("Send, with my Telegram name").data
    assert data is not None
    sealer = Sealer(SECRET)
    now = triage.clock()
    store.reshow_flag(subject, now)  # a reply of theirs was lost earlier
    who = Who(ALICE.user_id, "Alisande Applebaum", ALICE.username)
    entry = InboxEntry(
        1,
        "callback_query",
        subject=subject,
        lane=subject,
        event=encode_event(Press(data)),
        callback_id="c1",
        message_id=5,
        address=sealer.seal(Address(ALICE.chat_id, who=who)),
    )
    store.inbox_add([entry], now)
    worked = triage.work(Composer(sealer, SECRET, team_chat))
    (post,) = [r for r in worked.outgoing if r.purpose == TEAM_POST]
    mine = [r for r in worked.outgoing if r.purpose != TEAM_POST]
    sealed = sealer.open(post.address or b"")
    assert sealed.chat_id == team_chat and post.lane == pseudonym(SECRET, team_chat)
    assert f'<a href="tg://user?id={ALICE.user_id}">Alisande Applebaum</a>' in sealed.params["text"]
    assert "text" not in post.params and post.subject is None
    assert [r.method for r in mine] == ["editMessageText", "sendMessage"]  # "Sent", then re-shown
    for row in mine:
        assert sealer.open(row.address or b"") == Address(ALICE.chat_id)  # no name with them
    assert store.db["responses"].count == 1
    (asked,) = store.conn.execute("SELECT handover FROM responses").fetchone()
    assert asked is not None
