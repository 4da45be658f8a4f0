"""Contact details typed into the chat never reach the disk in the clear.

The inbox keeps an update's event until it is handled; the event is sealed before that
commit, so neither the database nor its write-ahead log (-wal) nor shared memory (-shm)
holds the typed text, while the bot runs, for polling and webhook alike. The engine then
removes the details from the answer it keeps.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from .fake_telegram import FakeTelegram, Person
from .telegram_harness import RunningBot
from .test_kill_resume import STEPS

PHONE = "07700 900461"
EMAIL = "quill.rostova@example.org"
TYPED = f"Please call me on {PHONE} or write to {EMAIL}"
NEEDLES = [PHONE, PHONE.replace(" ", ""), "900461", EMAIL, "quill.rostova"]
SECRET_TOKEN = "hook-secret-0123456789abcdef"


def found_on_disk(db: Path) -> list[str]:
    """Typed details readable in the database, its -wal or its -shm file, as bytes."""
    files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    data = b"".join(path.read_bytes() for path in files if path.exists())
    return [needle for needle in NEEDLES if needle.encode() in data]


async def test_typed_phone_and_email_never_reach_the_disk_when_polling(tmp_path, content) -> None:
    telegram = FakeTelegram()
    db = tmp_path / "triage.db"
    bot = await RunningBot(telegram, db, content).start()
    person = Person(user_id=616161, first_name="Quill", username="quill_r")
    try:
        telegram.send_text(person, "/start")
        await bot.settle()
        telegram.send_text(person, TYPED)  # at the welcome: re-asked, nothing kept
        await bot.settle()
        for label, expect in STEPS[:-2]:  # up to the free-text question
            telegram.tap(person, label)
            await bot.settle()
            latest = telegram.latest(person)
            assert expect in latest.text or any(expect in b for b in latest.labels())
        assert "anything else" in telegram.latest(person).text
        telegram.send_text(person, TYPED)  # the answer to a free-text question
        await bot.settle()
        assert "Please check your answers" in telegram.latest(person).text
        kept = bot.store.db.execute("SELECT answers FROM conversations").fetchone()[0]
        assert "Please call me on" in kept and PHONE not in kept and EMAIL not in kept
        assert found_on_disk(db) == []  # while the bot runs: nothing checkpointed or closed
    finally:
        await bot.close()
    assert found_on_disk(db) == []


async def test_typed_phone_and_email_never_reach_the_disk_through_the_webhook(
    tmp_path, content
) -> None:
    telegram = FakeTelegram()
    db = tmp_path / "triage.db"
    bot = RunningBot(
        telegram,
        db,
        content,
        webhook_url="https://bot.example.org/telegram/updates",
        webhook_secret=SECRET_TOKEN,
        webhook_listen="127.0.0.1",
        webhook_port=0,
    )
    await bot.start()
    person = Person(user_id=616162, first_name="Rostova", username="rostova_q")
    url = f"http://127.0.0.1:{bot.bot.webhook_port}/telegram/updates"
    try:
        async with aiohttp.ClientSession() as session:
            for text in ("/start", TYPED):
                update = telegram.history[telegram.send_text(person, text)]
                headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN}
                async with session.post(url, data=json.dumps(update), headers=headers) as resp:
                    assert resp.status == 200
                await bot.settle()
        assert "can't read a typed answer" in telegram.latest(person).text
        assert found_on_disk(db) == []
    finally:
        await bot.close()
    assert found_on_disk(db) == []
