"""The Telegram side: the real transport (inbox, worker, outbox, sender) against a fake Bot API."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.cli import configure_logging

from .conftest import MUTUAL_ANSWERS
from .fake_telegram import FakeTelegram, Person
from .telegram_harness import TOKEN, RunningBot

ALICE = Person(user_id=424242001, first_name="Alice", username="alice_example")
BOB = Person(
    user_id=424242002, first_name="Bobbington", username="bob_mutual_lead", last_name="Quartermaine"
)


@pytest.fixture
def telegram() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture
async def bot(telegram: FakeTelegram, tmp_path: Path, content):
    running = await RunningBot(telegram, tmp_path / "triage.db", content).start()
    yield running
    await running.close()
    assert not telegram.unexpected, telegram.unexpected


async def walk(telegram: FakeTelegram, bot: RunningBot, person: Person, steps) -> None:
    """Answer scripted steps as a person would: tap, tick then Done, or type."""
    for kind, *args in steps:
        if kind == "tap":
            telegram.tap(person, args[0])
        elif kind == "tick":
            for label in args:
                telegram.tap(person, label)
                await bot.settle()
            telegram.tap(person, "Done")
        elif kind == "type":
            telegram.send_text(person, args[0])
        elif kind == "skip":
            telegram.tap(person, "Skip")
        await bot.settle()


async def begin(telegram: FakeTelegram, bot: RunningBot, person: Person) -> None:
    telegram.send_text(person, "/start")
    await bot.settle()
    telegram.tap(person, "Start")
    await bot.settle()


async def test_complete_triage_on_telegram(telegram: FakeTelegram, bot: RunningBot) -> None:
    await begin(telegram, bot, ALICE)
    await walk(telegram, bot, ALICE, MUTUAL_ANSWERS)
    assert "Please check your answers" in telegram.latest(ALICE).text
    telegram.tap(ALICE, "Confirm")
    await bot.settle()
    transcript = telegram.transcript(ALICE)
    assert "Your next steps" in transcript
    (row,) = bot.store.db["responses"].rows
    assert row["code"] in transcript
    # Every call was a Bot API method the bot is meant to use, and every message was HTML.
    sends = [p for m, p in telegram.calls if m == "sendMessage"]
    assert sends and all(p.get("parse_mode") == "HTML" for p in sends)
    assert {
        "getMe",
        "deleteWebhook",
        "setMyCommands",
        "getUpdates",
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "answerCallbackQuery",
    } <= set(telegram.methods())


async def test_answered_questions_keep_the_answer_and_lose_their_buttons(
    telegram: FakeTelegram, bot: RunningBot
) -> None:
    await begin(telegram, bot, ALICE)
    question = telegram.latest_with_buttons(ALICE)
    telegram.tap(ALICE, "A Public Service Mutual")
    await bot.settle()
    assert "✔️ <b>A Public Service Mutual</b>" in question.text
    assert question.keyboard == []
    assert "What is your role?" in telegram.latest(ALICE).text


async def test_multi_select_ticks_in_place(telegram: FakeTelegram, bot: RunningBot) -> None:
    await begin(telegram, bot, ALICE)
    await walk(telegram, bot, ALICE, MUTUAL_ANSWERS[:8])
    question = telegram.latest_with_buttons(ALICE)
    count = len(telegram.messages(ALICE))
    telegram.tap(ALICE, "Informal")
    await bot.settle()
    assert len(telegram.messages(ALICE)) == count  # edited, not re-sent
    assert "✅ Informal: agreement or network" in question.labels()
    telegram.tap(ALICE, "Done")
    await bot.settle()
    assert "How well it went" not in telegram.latest(ALICE).text
    assert "Overall, how successful" in telegram.latest(ALICE).text


async def test_done_with_nothing_ticked_pops_up_a_note(telegram, bot) -> None:
    await begin(telegram, bot, ALICE)
    await walk(telegram, bot, ALICE, MUTUAL_ANSWERS[:8])
    telegram.tap(ALICE, "Done")
    await bot.settle()
    answers = [p for m, p in telegram.calls if m == "answerCallbackQuery"]
    assert answers[-1]["text"] == "Tick at least one option first, then tap Done."


def conversation_row(bot: RunningBot) -> dict:
    (row,) = bot.store.db["conversations"].rows
    return row


async def test_duplicate_update_changes_nothing(telegram, tmp_path, content) -> None:
    bot = await RunningBot(telegram, tmp_path / "t.db", content).start(poll=False)
    try:
        await bot.deliver(telegram.send_text(ALICE, "/start"))
        await bot.deliver(telegram.tap(ALICE, "Start"))
        toggle = telegram.tap(ALICE, "A Public Service Mutual")
        await bot.deliver(toggle)
        before, calls = conversation_row(bot), len(telegram.calls)
        await bot.deliver(toggle)  # Telegram sends the same update again
        assert conversation_row(bot) == before
        assert len(telegram.calls) == calls  # and the person sees nothing new
    finally:
        await bot.close()


async def test_reply_lost_on_the_network_is_given_up_and_the_question_reshown(
    telegram, tmp_path, content
) -> None:
    bot = await RunningBot(
        telegram, tmp_path / "t.db", content, sender_options={"attempts": 3}
    ).start(poll=False)
    try:
        await bot.deliver(telegram.send_text(ALICE, "/start"))
        await bot.deliver(telegram.tap(ALICE, "Start"))
        press = telegram.tap(ALICE, "A Public Service Mutual")
        telegram.fail_next["sendMessage"] = 3  # the network drops every try
        await bot.deliver(press)
        assert conversation_row(bot)["state"] == "role"  # committed before sending
        assert "What is your role?" not in telegram.transcript(ALICE)
        (dropped,) = bot.store.db.execute(
            "SELECT method, address, params, error FROM outbox WHERE status = 'failed'"
        ).fetchall()
        assert dropped[0] == "sendMessage" and dropped[1] is None and dropped[2] == "{}"
        assert "gave up after 3 tries" in dropped[3]
        before = conversation_row(bot)
        await bot.deliver(press)  # Telegram sends it again: not applied twice
        assert conversation_row(bot) == before
        assert bot.store.db["reshow"].count == 1  # shown where they are when they next write
        await bot.deliver(telegram.send_photo(ALICE))
        assert "What is your role?" in telegram.latest(ALICE).text
        assert bot.store.db["reshow"].count == 0
    finally:
        await bot.close()


async def test_stale_and_forged_presses_reshow_the_current_question(telegram, bot) -> None:
    await begin(telegram, bot, ALICE)
    first = telegram.latest_with_buttons(ALICE)
    old_data = first.button("Planning to spin out")["callback_data"]
    telegram.tap(ALICE, "A Public Service Mutual")
    await bot.settle()
    shown = len(telegram.messages(ALICE))
    telegram.press_data(ALICE, first.message_id, old_data)
    telegram.press_data(ALICE, first.message_id, "a|2|" + "z" * 60)
    telegram.press_data(ALICE, 999999, "nonsense")
    await bot.settle()
    notes = [p.get("text") for m, p in telegram.calls if m == "answerCallbackQuery"][-3:]
    assert notes[0].startswith("That button is from an earlier message")
    assert all(notes)
    # The first message's button was handled already: its repeats only answer the spinner.
    # A button on a message never pressed before shows the current question again.
    (again,) = telegram.messages(ALICE)[shown:]
    assert "What is your role?" in again.text
    row = conversation_row(bot)
    assert row["state"] == "role" and row["answers"] == '{"org_type": "psm"}'


async def test_photos_stickers_and_text_get_a_friendly_reask(telegram, bot) -> None:
    await begin(telegram, bot, ALICE)
    telegram.send_photo(ALICE)
    await bot.settle()
    assert "only read button taps" in telegram.latest(ALICE).text
    telegram.send_sticker(ALICE)
    await bot.settle()
    assert "only read button taps" in telegram.latest(ALICE).text
    telegram.send_text(ALICE, "We're a Mutual")
    await bot.settle()
    latest = telegram.latest(ALICE)
    assert "can't read a typed answer" in latest.text
    assert "A Public Service Mutual" in latest.labels()


async def test_group_chats_are_told_to_talk_privately(telegram, bot) -> None:
    telegram.group_command(ALICE, "/start@mpsp_triage_bot")
    await bot.settle()
    (sent,) = [p for m, p in telegram.calls if m == "sendMessage"]
    assert "private chat" in sent["text"]
    assert bot.store.db["conversations"].count == 0


async def test_people_are_handled_concurrently_and_each_in_order(tmp_path, content) -> None:
    telegram = FakeTelegram(latency=0.05)
    bot = await RunningBot(telegram, tmp_path / "t.db", content).start()
    try:
        people = [Person(user_id=5000 + i, first_name=f"P{i}", username=f"p{i}") for i in range(20)]
        for person in people:
            telegram.send_text(person, "/start")
        await bot.settle()
        for person in people:
            telegram.tap(person, "Start")
        await bot.settle()
        # Each person taps twice in a row before the bot answers: order must hold.
        for person in people:
            telegram.tap(person, "A Public Service Mutual")
            message = telegram.latest_with_buttons(person)
            telegram.press_data(person, message.message_id, "b|3")  # Back, once answered
        started = asyncio.get_running_loop().time()
        await bot.settle()
        elapsed = asyncio.get_running_loop().time() - started
        for person in people:
            assert "Which of these best describes" in telegram.latest(person).text
        # 40 updates at 50 ms per API call: concurrent handling is far faster than serial.
        assert elapsed < 2.0
    finally:
        await bot.close()


async def test_kill_and_resume_on_the_same_database(telegram, tmp_path, content) -> None:
    db = tmp_path / "triage.db"
    first = await RunningBot(telegram, db, content).start()
    await begin(telegram, first, ALICE)
    await walk(telegram, first, ALICE, MUTUAL_ANSWERS[:5])
    on_screen = telegram.latest_with_buttons(ALICE)  # the turnover question
    await first.kill()

    # The person taps while the bot is down; a new process picks it up.
    telegram.tap(ALICE, "£1m to £5m", on_screen.message_id)
    second = await RunningBot(telegram, db, content).start()
    try:
        await second.settle()
        assert "How long ago did you spin out" in telegram.latest(ALICE).text
        await walk(telegram, second, ALICE, MUTUAL_ANSWERS[6:])
        telegram.tap(ALICE, "Confirm")
        await second.settle()
        assert "Your next steps" in telegram.transcript(ALICE)
        assert second.store.db["responses"].count == 1
    finally:
        await second.close()


async def test_update_is_not_confirmed_until_committed(
    telegram, tmp_path, content, monkeypatch
) -> None:
    import sqlite3

    bot = RunningBot(telegram, tmp_path / "t.db", content)
    real = bot.store.inbox_add
    failures = {"left": 3}

    def flaky(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise sqlite3.OperationalError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(bot.store, "inbox_add", flaky)
    monkeypatch.setattr("bot.channels.telegram.poller.Backoff", lambda **kw: _Quick())
    uid = telegram.send_text(ALICE, "/start")
    await bot.start()
    try:
        await asyncio.sleep(0.05)
        assert telegram.confirmed_below <= uid  # not confirmed while it cannot be stored
        await bot.settle()
        assert failures["left"] == 0
        assert "partnerships check" in telegram.latest(ALICE).text
        assert telegram.confirmed_below > uid
    finally:
        await bot.close()


class _Quick:
    tries = 0

    def next(self) -> float:
        self.tries += 1
        return 0.02

    def reset(self) -> bool:
        return False


async def test_database_and_logs_hold_no_identifiers(
    telegram, tmp_path, content, caplog, safe_logging
) -> None:
    caplog.set_level(logging.DEBUG)
    configure_logging("DEBUG")  # the bot's own policy, at its most talkative
    db = tmp_path / "triage.db"
    bot = await RunningBot(telegram, db, content).start()
    try:
        for person in (ALICE, BOB):
            await begin(telegram, bot, person)
            await walk(telegram, bot, person, MUTUAL_ANSWERS)
            telegram.tap(person, "Confirm")
            await bot.settle()
        telegram.send_text(BOB, "/start")
        telegram.tap(BOB, "Start a new check")
        await bot.settle()
    finally:
        await bot.close()
    blobs = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("triage"))
    for person in (ALICE, BOB):
        for needle in (str(person.user_id), person.first_name, person.username, person.last_name):
            assert needle.encode() not in blobs, needle
            assert needle not in caplog.text, needle
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text


async def test_sections_open_one_at_a_time_and_the_plan_arrives_as_a_file(
    telegram: FakeTelegram, bot: RunningBot
) -> None:
    await begin(telegram, bot, ALICE)
    await walk(telegram, bot, ALICE, MUTUAL_ANSWERS)
    telegram.tap(ALICE, "Confirm")
    await bot.settle()
    first = telegram.latest_with_buttons(ALICE)
    assert "Your next steps" in first.text and len(first.text) <= 1_200
    count = len(telegram.messages(ALICE))
    telegram.tap(ALICE, "Support on offer")
    await bot.settle()
    section = telegram.latest(ALICE)
    assert len(telegram.messages(ALICE)) == count + 1  # a new message, the first one stays
    assert "Support the programme can offer" in section.text
    assert "Commercial advice" in section.text
    assert "🤝 Support on offer" not in section.labels()  # the other sections, one tap away
    assert "🧭 Your route" in section.labels() and "⬅️ My next steps" in section.labels()
    telegram.tap(ALICE, "Full plan", section.message_id)
    await bot.settle()
    sent = telegram.latest(ALICE)
    assert sent.document is not None
    name, data = sent.document
    (row,) = bot.store.db["responses"].rows
    assert name == f"partnership-plan-{row['code']}.html"
    page = data.decode("utf-8")
    assert page.startswith("<!doctype html>") and row["code"] in page
    assert (
        'name="viewport"' in page
        and "<script" not in page
        and "http" not in page.split("<main>")[0]
    )  # no outside assets
    for needle in (ALICE.first_name, ALICE.username, str(ALICE.user_id)):
        assert needle not in page
    sends = [p for m, p in telegram.calls if m == "sendDocument"]
    assert sends and sends[0].get("parse_mode") == "HTML"


@pytest.fixture
async def team_bot(telegram: FakeTelegram, tmp_path: Path, content):
    running = await RunningBot(
        telegram, tmp_path / "triage.db", content, team_chat_id=TEAM_CHAT
    ).start()
    yield running
    await running.close()
    assert not telegram.unexpected, telegram.unexpected


TEAM_CHAT = -100777


async def test_handover_posts_to_the_team_with_the_name_only_if_agreed(
    telegram: FakeTelegram, team_bot: RunningBot, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    configure_logging("DEBUG")  # the bot's own policy, at its most talkative
    for person, choice in ((ALICE, "Send, with my Telegram name"), (BOB, "Send without")):
        await begin(telegram, team_bot, person)
        await walk(telegram, team_bot, person, MUTUAL_ANSWERS)
        telegram.tap(person, "Confirm")
        await team_bot.settle()
        first = telegram.latest_with_buttons(person)
        # A bid due within a month: a person first.
        assert first.labels()[0] == "🙋 Ask the team to contact me"
        telegram.tap(person, "Ask the team to contact me")
        await team_bot.settle()
        ask = telegram.latest(person)
        assert "private Telegram chat" in ask.text and "Region: London" in ask.text
        telegram.tap(person, choice)
        await team_bot.settle()
        assert "Sent" in ask.text and ask.keyboard == []  # the choice is replaced by the outcome
    posts = [m for m in telegram.shown.values() if m.chat_id == TEAM_CHAT]
    assert len(posts) == 2
    alice_post, bob_post = posts
    codes = [r["code"] for r in team_bot.store.db["responses"].rows]
    assert codes[0] in alice_post.text and codes[1] in bob_post.text
    assert "Urgent: a bid due within a month" in alice_post.text
    assert (
        f'Telegram name: <a href="tg://user?id={ALICE.user_id}">Alice Applebaum</a> '
        "(@alice_example)" in alice_post.text
    )
    for needle in (BOB.first_name, BOB.username, str(BOB.user_id)):
        assert needle not in bob_post.text
    assert "chose not to share their Telegram name" in bob_post.text
    # The store keeps only that they asked: countable, never who.
    asked = team_bot.store.conn.execute(
        "SELECT COUNT(*) FROM responses WHERE handover IS NOT NULL"
    ).fetchone()[0]
    assert asked == 2
    blobs = b"".join(
        p.read_bytes() for p in team_bot.store.path.parent.iterdir() if p.name.startswith("triage")
    )
    for person in (ALICE, BOB):
        for needle in (str(person.user_id), person.first_name, person.username):
            assert needle.encode() not in blobs
            assert needle not in caplog.text
    # Asking again posts nothing more.
    result = telegram.latest_with_buttons(ALICE)
    telegram.tap(ALICE, "Ask the team to contact me", result.message_id)
    await team_bot.settle()
    assert len([m for m in telegram.shown.values() if m.chat_id == TEAM_CHAT]) == 2


async def test_the_plan_file_and_the_team_post_keep_to_the_send_limits(
    telegram: FakeTelegram, tmp_path: Path, content
) -> None:
    bot = await RunningBot(
        telegram, tmp_path / "triage.db", content, team_chat_id=TEAM_CHAT, send_rate=30.0
    ).start()
    try:
        await begin(telegram, bot, ALICE)
        await walk(telegram, bot, ALICE, MUTUAL_ANSWERS)
        telegram.tap(ALICE, "Confirm")
        await bot.settle()
        # From here on, Telegram's limits are enforced (429 beyond), and the bot's own are on.
        bot.sender.chat_interval = 1.0
        await asyncio.sleep(1.0)  # the per-chat interval since the result, as if kept all along
        telegram.limits = (30, 1.0)
        result = telegram.latest_with_buttons(ALICE)
        telegram.tap(ALICE, "Ask the team to contact me", result.message_id)
        await bot.settle()
        ask = telegram.latest_with_buttons(ALICE)
        telegram.tap(ALICE, "Full plan", result.message_id)
        telegram.tap(ALICE, "Send, with my Telegram name", ask.message_id)
        await bot.settle()
    finally:
        await bot.close()
    assert telegram.too_many == 0
    assert [m for m in telegram.messages(ALICE) if m.document]  # the file, sent as a message
    (post,) = telegram.by_chat[TEAM_CHAT]
    assert "tg://user?id=" in post.text
    assert "Sent" in ask.text
