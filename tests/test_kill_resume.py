"""kill -9 the real bot process at random moments: the person loses nothing and nothing doubles.

The bot runs as ``python -m bot run`` against a fake Bot API over HTTP (TELEGRAM_API_URL).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.store import Store

from .conftest import ROOT
from .fake_server import FakeBotApiServer
from .fake_telegram import Person

PERSON = Person(user_id=99887766, first_name="Kiri", username="kiri_k")

# (what to tap, text the next screen must contain)
STEPS = [
    ("Start", "Which of these best describes"),
    ("A Public Service Mutual", "What is your role?"),
    ("Finance", "Which service area"),
    ("Social care", "Where in England"),
    ("Yorkshire and the Humber", "how many staff"),
    ("251 to 1,000", "annual turnover"),
    ("Over £20m", "How long ago"),
    ("Over 10 years", "How confident"),
    ("4", "Which kinds of partnership"),
    ("Informal", "✅ Informal"),
    ("Contractual joint venture", "✅ Contractual joint venture"),
    ("Done", "how successful"),
    ("2", "Would you consider"),
    ("We might", "What would partnering help"),
    ("Work in new areas", "✅ Work in new areas"),
    ("Done", "What gets in the way"),
    ("Cost of setting one up", "✅ Cost"),
    ("No seed funding", "✅ No seed"),
    ("Done", "which one is the biggest"),
    ("No seed funding", "Which kinds of support"),
    ("Building an investment case", "✅ Building"),
    ("Done", "live opportunity"),
    ("Not at the moment", "anything else"),
    ("Skip", "Please check your answers"),
    ("Confirm", "Your next steps"),
]


class BotProcess:
    def __init__(self, server: FakeBotApiServer, db: Path, **extra: str) -> None:
        self.env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": "424242:kill-test-token",
            "TELEGRAM_API_URL": server.api_url,
            "TRIAGE_SECRET": "k" * 64,
            "TRIAGE_DB": str(db),
            "TRIAGE_LOG_LEVEL": "WARNING",
            # The fake enforces no flood limits; spacing replies would only slow the test.
            "TRIAGE_CHAT_INTERVAL": "0",
            **extra,
        }
        self.proc: subprocess.Popen | None = None

    def start(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> str:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        return err


def wait_for(
    server: FakeBotApiServer, text: str, after: int, timeout: float = 30, person: Person = PERSON
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = server.call(
            lambda: any(
                text in m.text or any(text in label for label in m.labels())
                for m in server.telegram.messages(person)
                if m.message_id > after or m.edits
            )
        )
        if found:
            return
        time.sleep(0.02)
    raise AssertionError(
        f"never saw {text!r}:\n{server.call(lambda: server.telegram.transcript(person))}"
    )


def outbox(db: Path, where: str = "1") -> int:
    """Rows waiting in the outbox, read as another process would (0 if not readable yet)."""
    import sqlite3

    if not db.exists():
        return 0
    with contextlib.suppress(sqlite3.Error):
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return int(conn.execute(f"SELECT count(*) FROM outbox WHERE {where}").fetchone()[0])
        finally:
            conn.close()
    return 0


def database_bytes(db: Path) -> bytes:
    """The database file and its write-ahead log, as anyone with the disk could read them."""
    return b"".join(
        path.read_bytes() for path in (db, db.with_name(db.name + "-wal")) if path.exists()
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_kill_minus_nine_at_random_steps_loses_nothing(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    server = FakeBotApiServer()
    db = tmp_path / "triage.db"
    bot = BotProcess(server, db)
    kills = 0
    try:
        server.call(lambda: server.telegram.send_text(PERSON, "/start"))
        bot.start()
        wait_for(server, "partnerships check", after=0)
        for label, expect in STEPS:
            last = server.call(lambda: max(server.telegram.shown, default=0))
            server.call(lambda label=label: server.telegram.tap(PERSON, label))
            if rng.random() < 0.35:
                time.sleep(rng.uniform(0, 0.15))  # sometimes before, sometimes after commit
                bot.kill()
                kills += 1
                bot.start()
            wait_for(server, expect, after=last)
        err = bot.stop()
        assert "Traceback" not in err, err
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.kill()
        server.close()
    assert kills >= 3
    store = Store(db)
    try:
        (response,) = store.db["responses"].rows
        answers = store.response_options(response["id"])
    finally:
        store.close()
    # Each toggle applied exactly once: a doubled toggle would have unticked it.
    assert answers["experience"] == ["informal", "jv_alliance"]
    assert answers["motivations"] == ["new_places"]
    assert answers["barriers"] == ["cost", "seed_funding"]
    assert answers["top_barrier"] == ["seed_funding"]
    assert answers["support"] == ["investment_case"]
    assert answers["confidence"] == ["v4"] and answers["success"] == ["v2"]


def test_kill_minus_nine_after_commit_before_send_sends_the_reply_after_restart(
    tmp_path: Path,
) -> None:
    import sqlite3

    server = FakeBotApiServer()
    db = tmp_path / "triage.db"
    bot = BotProcess(server, db)
    try:
        server.call(lambda: setattr(server.telegram, "hang_sends", True))  # sends never return
        server.call(lambda: server.telegram.send_text(PERSON, "/start"))
        bot.start()
        deadline = time.monotonic() + 30
        pending = 0
        while time.monotonic() < deadline and not pending:
            time.sleep(0.05)
            if db.exists():
                with contextlib.suppress(sqlite3.Error):
                    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                    try:
                        pending = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
                    finally:
                        conn.close()
        assert pending == 1, "the reply was never committed"
        bot.kill()  # committed, the send under way but not answered
        assert server.call(lambda: server.telegram.messages(PERSON)) == []
        server.call(lambda: setattr(server.telegram, "hang_sends", False))
        bot.start()
        wait_for(server, "partnerships check", after=0)
        err = bot.stop()
        assert "Traceback" not in err, err
        shown = server.call(lambda: [m.text for m in server.telegram.messages(PERSON)])
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.kill()
        server.close()
    (welcome,) = shown  # sent once, after the restart
    assert "partnerships check" in welcome


NAMED = Person(
    user_id=99887123, first_name="Wilhelmina", username="wilhelmina_qx", last_name="Quennell"
)
TEAM_CHAT = -100555444


def test_plan_file_and_team_post_survive_kill_minus_nine_and_leave_no_name(
    tmp_path: Path,
) -> None:
    """The plan file and a named handover post, committed but not sent when the process is
    killed, arrive after the restart; the name never reaches the database or its log."""
    server = FakeBotApiServer()
    db = tmp_path / "triage.db"
    bot = BotProcess(server, db, TRIAGE_TEAM_CHAT_ID=str(TEAM_CHAT))
    needles = [
        str(NAMED.user_id),
        NAMED.first_name,
        NAMED.last_name,
        NAMED.username,
        str(TEAM_CHAT),
    ]
    try:
        server.call(lambda: server.telegram.send_text(NAMED, "/start"))
        bot.start()
        wait_for(server, "partnerships check", after=0, person=NAMED)
        for label, expect in STEPS:
            last = server.call(lambda: max(server.telegram.shown, default=0))
            server.call(lambda label=label: server.telegram.tap(NAMED, label))
            wait_for(server, expect, after=last, person=NAMED)
        result = server.call(lambda: server.telegram.latest_with_buttons(NAMED).message_id)
        server.call(lambda: server.telegram.tap(NAMED, "Ask the team to contact me", result))
        wait_for(server, "Send, with my Telegram name", after=result, person=NAMED)
        ask = server.call(lambda: server.telegram.latest_with_buttons(NAMED).message_id)

        server.call(lambda: setattr(server.telegram, "hang_sends", True))  # sends never return
        server.call(lambda: server.telegram.tap(NAMED, "Full plan", result))
        server.call(lambda: server.telegram.tap(NAMED, "Send, with my Telegram name", ask))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            outbox(db, "method = 'sendDocument'") and outbox(db, "purpose = 'team'")
        ):
            time.sleep(0.05)
        assert outbox(db, "method = 'sendDocument'") == 1, "the plan was never committed"
        assert outbox(db, "purpose = 'team'") == 1, "the team post was never committed"
        bot.kill()  # committed, the sends under way but not answered
        raw = database_bytes(db)
        for needle in needles:  # the post waits with its chat and the name sealed
            assert raw.find(needle.encode()) < 0, needle
        assert server.call(lambda: server.telegram.by_chat.get(TEAM_CHAT)) is None
        assert not server.call(lambda: [m for m in server.telegram.messages(NAMED) if m.document])

        server.call(lambda: setattr(server.telegram, "hang_sends", False))
        bot.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and outbox(db):
            time.sleep(0.05)
        err = bot.stop()
        assert "Traceback" not in err, err
        posts = server.call(lambda: list(server.telegram.by_chat.get(TEAM_CHAT, [])))
        files = server.call(lambda: [m for m in server.telegram.messages(NAMED) if m.document])
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.kill()
        server.close()
    (post,) = posts  # once, after the restart
    assert (
        f'Telegram name: <a href="tg://user?id={NAMED.user_id}">Wilhelmina Quennell</a> '
        "(@wilhelmina_qx)" in post.text
    )
    (plan,) = files
    assert plan.document is not None and plan.document[0].startswith("partnership-plan-")
    assert plan.document[1].startswith(b"<!doctype html>")
    assert outbox(db) == 0
    store = Store(db)
    try:
        asked = store.conn.execute(
            "SELECT count(*) FROM responses WHERE handover IS NOT NULL"
        ).fetchone()[0]
    finally:
        store.close()
    assert asked == 1
    raw = database_bytes(db)
    for needle in needles:
        assert raw.find(needle.encode()) < 0, needle
    for needle in needles[:4]:
        assert needle not in err, needle


def test_kill_minus_nine_around_a_reminders_due_time_sends_it_exactly_once(
    tmp_path: Path,
) -> None:
    """Issue 9. Killed while the reminder waits: it goes after the restart. Killed after it
    reached the person but before the bot knew: it is not sent again. Carry on resumes where
    they stopped, and nothing more is ever sent."""
    import sqlite3

    server = FakeBotApiServer()
    db = tmp_path / "triage.db"
    # Quiet hours off: this test runs at any hour.
    bot = BotProcess(server, db, TRIAGE_QUIET_HOURS="off")

    def reminders_shown() -> list[str]:
        return server.call(
            lambda: [
                m.text
                for m in server.telegram.messages(PERSON)
                if "check is waiting for you" in m.text
            ]
        )

    def wait_until(test, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if test():
                return
            time.sleep(0.05)
        raise AssertionError(f"never: {what}")

    try:
        server.call(lambda: server.telegram.send_text(PERSON, "/start"))
        bot.start()
        wait_for(server, "partnerships check", after=0)
        for label, expect in STEPS[:6]:  # Start, then five answers: at question 6
            last = server.call(lambda: max(server.telegram.shown, default=0))
            server.call(lambda label=label: server.telegram.tap(PERSON, label))
            wait_for(server, expect, after=last)
        wait_until(
            lambda: outbox(db, "purpose = 'reminder'") == 1 and outbox(db) == 1,
            "every reply is sent and the reminder is scheduled",
        )
        bot.kill()  # while it waits (two days, in real life)
        # Two days pass: the reminder is due.
        conn = sqlite3.connect(db)
        with conn:
            conn.execute(
                "UPDATE outbox SET not_before = ? WHERE purpose = 'reminder'", (time.time() - 1,)
            )
        conn.close()
        server.call(lambda: setattr(server.telegram, "hang_after_delivery", True))
        bot.start()
        wait_until(lambda: len(reminders_shown()) == 1, "the reminder arrives after the restart")
        bot.kill()  # it reached the person; the bot never heard back
        server.call(lambda: setattr(server.telegram, "hang_after_delivery", False))
        bot.start()
        wait_until(lambda: outbox(db, "purpose = 'reminder'") == 0, "the claimed row is settled")
        time.sleep(0.5)
        assert len(reminders_shown()) == 1  # never twice
        assert "question 6 of 21 (Annual turnover)" in reminders_shown()[0]
        last = server.call(lambda: max(server.telegram.shown, default=0))
        server.call(lambda: server.telegram.tap(PERSON, "Carry on"))
        wait_for(server, "annual turnover", after=last)
        time.sleep(0.5)
        assert outbox(db, "purpose = 'reminder'") == 0  # and no other is ever scheduled
        err = bot.stop()
        assert "Traceback" not in err, err
        assert len(reminders_shown()) == 1
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.kill()
        server.close()
