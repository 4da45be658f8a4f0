"""``python -m bot run`` as a process: start-up errors are one line without the token, and
nothing identifying reaches the log at DEBUG, even with unreadable updates in the batch."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .conftest import ROOT
from .fake_server import FakeBotApiServer
from .fake_telegram import Person

TOKEN = "987654:start-up-test-token-do-not-log"
PEOPLE = [
    Person(user_id=55500011, first_name="Tamsin", username="tamsin_trelawny", last_name="Pengelly"),
    Person(user_id=55500012, first_name="Jago", username="jago_kernow", last_name="Penhallow"),
]


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TRIAGE_SECRET": "t" * 64,
        "TRIAGE_DB": str(tmp_path / "triage.db"),
        "TRIAGE_CHAT_INTERVAL": "0",
        # Every contact set, so the start-up line naming unset ones does not appear here.
        "TRIAGE_CONTACT_EMAIL": "partnerships-team@mutuals-programme.invalid",
        "TRIAGE_CONTACT_PHONE": "+44 161 496 0999",
        "TRIAGE_CONTACT_WEBSITE": "https://mutuals-programme.invalid/contact",
        "TRIAGE_CONTACT_HOURS": "Monday to Friday, 9am to 5pm",
        "TRIAGE_TEAM_CHAT_ID": "-100555000111",
        **extra,
    }


def run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", *args],
        env=env(tmp_path, **extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_clean(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert TOKEN not in stderr and TOKEN.split(":")[1] not in stderr


def test_settings_out_of_range_and_missing_webhook_settings_are_one_line(tmp_path) -> None:
    result = run(tmp_path, TRIAGE_IDLE_DAYS="3000000")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: TRIAGE_IDLE_DAYS=3000000 must be at most 3650"
    result = run(tmp_path, "--webhook")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "TRIAGE_WEBHOOK_URL is not set" in result.stderr
    result = run(tmp_path, "--webhook", TRIAGE_WEBHOOK_URL="https://bot.example.org/hook")
    assert result.returncode == 2 and "TRIAGE_WEBHOOK_SECRET is not set" in result.stderr
    assert_clean(result.stderr)


def test_a_rejected_token_stops_with_one_line(tmp_path) -> None:
    server = FakeBotApiServer()
    try:
        server.call(lambda: setattr(server.telegram, "reject_token", True))
        result = run(tmp_path, TELEGRAM_API_URL=server.api_url, TRIAGE_LOG_LEVEL="WARNING")
    finally:
        server.close()
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: Telegram rejected TELEGRAM_BOT_TOKEN (Unauthorized)")
    assert_clean(result.stderr)


def test_an_unreachable_bot_api_is_retried_one_line_per_attempt(tmp_path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env(tmp_path, TELEGRAM_API_URL=f"http://127.0.0.1:{port}"),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # attempts after about 0 s and 1 s
            line = proc.stderr.readline()
            lines.append(line)
            if sum("cannot reach" in x for x in lines) >= 2 or not line:
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(lines) + rest
    assert proc.returncode == 0
    attempts = [line for line in err.splitlines() if "cannot reach the Bot API" in line]
    assert len(attempts) >= 2, err
    assert all("Connection refused" in line and "trying again in" in line for line in attempts)
    assert_clean(err)


def test_a_running_bot_logs_nothing_identifying_at_debug(tmp_path) -> None:
    server = FakeBotApiServer()
    proc = None
    try:
        alice, bob = PEOPLE
        server.call(lambda: server.telegram.send_text(alice, "/start"))
        server.call(lambda: server.telegram.send_old_poll(bob))
        server.call(
            lambda: server.telegram.send_raw(
                {"message": {"message_id": 5, "from": bob.user(), "chat": None, "text": "x"}}
            )
        )
        server.call(lambda: server.telegram.send_text(bob, "/start"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env(tmp_path, TELEGRAM_API_URL=server.api_url, TRIAGE_LOG_LEVEL="DEBUG"),
            cwd=ROOT,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = server.call(
                lambda: (
                    all(
                        any("partnerships check" in m.text for m in server.telegram.messages(p))
                        for p in PEOPLE
                    )
                    and server.telegram.all_confirmed
                )
            )
            if done:
                break
            time.sleep(0.05)
        assert done, "the good updates were not all answered"
        assert proc.poll() is None  # the unreadable update did not stop the bot
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        server.close()
    assert proc.returncode == 0
    text = err.decode()
    assert "bot stopped after handling" in text  # it did log, at DEBUG
    for person in PEOPLE:
        for needle in (person.user_id, person.first_name, person.username, person.last_name):
            assert str(needle).encode() not in err, needle
    assert_clean(text)
