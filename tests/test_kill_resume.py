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
    ("More than 10 years", "How confident"),
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
    def __init__(self, server: FakeBotApiServer, db: Path) -> None:
        self.env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": "424242:kill-test-token",
            "TELEGRAM_API_URL": server.api_url,
            "TRIAGE_SECRET": "k" * 64,
            "TRIAGE_DB": str(db),
            "TRIAGE_LOG_LEVEL": "WARNING",
            # The fake enforces no flood limits; spacing replies would only slow the test.
            "TRIAGE_CHAT_INTERVAL": "0",
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
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


def wait_for(server: FakeBotApiServer, text: str, after: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = server.call(
            lambda: any(
                text in m.text or any(text in label for label in m.labels())
                for m in server.telegram.messages(PERSON)
                if m.message_id > after or m.edits
            )
        )
        if found:
            return
        time.sleep(0.02)
    raise AssertionError(
        f"never saw {text!r}:\n{server.call(lambda: server.telegram.transcript(PERSON))}"
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
        rows = store.db.execute(
            "SELECT question, option FROM answers WHERE response_id = ? ORDER BY rowid",
            [response["id"]],
        ).fetchall()
    finally:
        store.close()
    answers: dict[str, list[str]] = {}
    for question, option in rows:
        answers.setdefault(question, []).append(option)
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
