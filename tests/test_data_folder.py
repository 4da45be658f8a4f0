"""The data folder going wrong while the bot and the web page run: one line, nothing lost."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from bot.store import Store, access_advice
from bot.store import errors as store_errors

from .fake_telegram import FakeTelegram, Person
from .telegram_harness import RunningBot
from .web_harness import running

ALICE = Person(user_id=5_550_001_234, first_name="Imogen", username="imo_full_disk")


def fill_up(store: Store) -> None:
    """Make the database's disk full (SQLITE_FULL from SQLite itself, on the next write).

    No page is left; and as a row may still fit in a page with room, temporary triggers
    (on this connection only, never in the file) make each write the bot and the web page
    do need a new page.
    """
    conn = store.conn
    conn.execute("CREATE TABLE IF NOT EXISTS filler (b BLOB)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages + 2}")
    try:
        while True:
            conn.execute("INSERT INTO filler VALUES (zeroblob(512))")
    except sqlite3.OperationalError as exc:
        assert exc.sqlite_errorcode == sqlite3.SQLITE_FULL
    for table in ("inbox", "progress", "conversations"):
        for when in ("INSERT", "UPDATE"):
            conn.execute(
                f"CREATE TEMP TRIGGER full_{table}_{when.lower()} BEFORE {when} ON main.{table} "
                "BEGIN INSERT INTO filler VALUES (zeroblob(65536)); END"
            )


def make_room(store: Store) -> None:
    for (name,) in store.conn.execute(
        "SELECT name FROM sqlite_temp_master WHERE type = 'trigger'"
    ).fetchall():
        store.conn.execute(f"DROP TRIGGER temp.{name}")
    store.conn.execute("DROP TABLE filler")
    store.conn.execute("PRAGMA max_page_count=1073741823")


def one_line_errors(caplog: pytest.LogCaptureFixture, path: Path) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    for line in lines:
        assert "\n" not in line and "Traceback" not in line
    return [line for line in lines if f"{path}: the disk is full" in line]


async def test_a_full_disk_while_the_bot_runs_is_logged_in_one_line_and_loses_nothing(
    tmp_path: Path, content, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    telegram = FakeTelegram()
    db = tmp_path / "triage.db"
    bot = await RunningBot(telegram, db, content).start()
    try:
        await bot.bot.store_thread.call(fill_up, bot.store)
        telegram.send_text(ALICE, "/start")
        for _ in range(300):  # until the poller has tried (and failed) to store it
            if one_line_errors(caplog, db):
                break
            await asyncio.sleep(0.02)
        (first, *_) = one_line_errors(caplog, db)
        assert first.startswith("could not store 1 fetched update(s) (")
        assert "free some space on the disk holding" in first
        assert telegram.messages(ALICE) == []
        # Room again: the update was never confirmed to Telegram, so it is stored and answered.
        await bot.bot.store_thread.call(make_room, bot.store)
        await bot.settle()
        (welcome,) = telegram.messages(ALICE)
        assert "partnerships check" in welcome.text
    finally:
        await bot.close()


async def test_a_full_disk_on_the_web_page_says_try_again_and_logs_one_line(
    tmp_path: Path, content, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    site = await running(content, tmp_path)
    browser = site.browser()
    try:
        await browser.start()
        question = browser.url
        # Straight on the connection: the page's store thread would wrap it in a transaction.
        fill_up(site.store)
        await browser.answer("psm")
        assert browser.status == 503 and "could not be saved just now" in browser.page
        assert "earlier answers are safe" in browser.page
        (line,) = one_line_errors(caplog, tmp_path / "triage.db")
        assert line.startswith("web page could not save an answer: ")
        make_room(site.store)
        await browser.get(question)
        await browser.answer("psm")
        assert browser.status == 200 and browser.url != question  # the next question
    finally:
        await browser.close()
        await site.close()


def test_in_a_container_the_advice_is_for_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_errors.os, "geteuid", lambda: 10001)
    monkeypatch.setattr(store_errors, "in_container", lambda: True)
    advice = access_advice(Path("/data"))
    assert "give uid 10001 (the user the container runs as)" in advice
    assert "on the host, chown 10001 the folder mounted there" in advice
    monkeypatch.setattr(store_errors, "in_container", lambda: False)
    assert access_advice(Path("/data")).endswith("for example: chown 10001 /data")
