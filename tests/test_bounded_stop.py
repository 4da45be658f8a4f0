"""A bounded stop: SIGTERM ends the bot within 10 s whatever the Bot API does.

The bot runs as ``python -m bot run`` (polling, or webhook) against a fake Bot API over HTTP
that freezes mid-walk: it accepts every request and never answers. Six people have tapped;
their replies are committed to the outbox, their button answers and sends are in flight.
After SIGTERM the process must be gone within 10 s (Docker's SIGKILL comes then) and say
what it left; after a restart against a working Bot API every reply left in the outbox
arrives, once.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from .fake_server import FakeBotApiServer
from .fake_telegram import Person
from .test_kill_resume import BotProcess, outbox, wait_for

PEOPLE = [Person(user_id=77_100 + i, first_name=f"S{i}", username=f"s{i}_stop") for i in range(6)]
# Everything a person's tap makes the bot call, frozen first; then getUpdates too.
REPLIES = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "answerCallbackQuery"}
HOOK_SECRET = "stop-test-secret-0123456789"


def stop_seconds(bot: BotProcess) -> tuple[float, str]:
    """SIGTERM, then seconds until the process is gone (killed after 30), and its log."""
    assert bot.proc is not None
    began = time.monotonic()
    bot.proc.terminate()
    try:
        _, err = bot.proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        bot.proc.kill()
        _, err = bot.proc.communicate()
    return time.monotonic() - began, err


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_stop_within_ten_seconds_of_sigterm_against_a_frozen_bot_api(
    tmp_path: Path, mode: str
) -> None:
    server = FakeBotApiServer()
    db = tmp_path / "triage.db"
    extra = {"TRIAGE_LOG_LEVEL": "INFO"}
    url, port = "", 0
    if mode == "webhook":
        port = _free_port()
        url = f"http://127.0.0.1:{port}/telegram/hook"
        extra.update(
            TRIAGE_WEBHOOK_URL="https://bot.example.org/telegram/hook",
            TRIAGE_WEBHOOK_SECRET=HOOK_SECRET,
            TRIAGE_WEBHOOK_LISTEN="127.0.0.1",
            TRIAGE_WEBHOOK_PORT=str(port),
        )
    bot = BotProcess(server, db, **extra)

    def act(fn) -> None:
        update_id = server.call(fn)
        if mode == "webhook":
            update = server.call(lambda: server.telegram.history[update_id])
            status, _ = server.post_webhook(url, update, HOOK_SECRET)
            assert status == 200

    try:
        bot.start(*(["--webhook"] if mode == "webhook" else []))
        if mode == "webhook":
            _wait(lambda: _listening(port), "the webhook server")
        for person in PEOPLE:
            act(lambda person=person: server.telegram.send_text(person, "/start"))
        for person in PEOPLE:
            wait_for(server, "partnerships check", after=0, person=person)
        for person in PEOPLE:
            act(lambda person=person: server.telegram.tap(person, "Start"))
        for person in PEOPLE:
            wait_for(server, "Which of these best describes", after=0, person=person)
        shown = {
            p.user_id: len(server.call(lambda p=p: server.telegram.messages(p))) for p in PEOPLE
        }
        # Mid-walk the Bot API stops answering replies; each person taps once more.
        server.call(lambda: server.telegram.frozen.update(REPLIES))
        for person in PEOPLE:
            act(lambda person=person: server.telegram.tap(person, "A Public Service Mutual"))
        _wait(lambda: outbox(db, "status = 'todo' AND not_before = 0") >= 12, "replies committed")
        server.call(lambda: server.telegram.frozen.add("*"))  # now nothing is answered at all
        time.sleep(0.5)
        seconds, err = stop_seconds(bot)
        print(f"{mode}: stopped {seconds:.1f}s after SIGTERM against a frozen Bot API")
        assert seconds < 10, err
        assert bot.proc is not None and bot.proc.returncode == 0, err
        assert "Traceback" not in err, err
        (line,) = [x for x in err.splitlines() if "left for the next start" in x]
        left = outbox(db, "status = 'todo' AND not_before = 0")
        assert left >= 12 and f"{left} message(s) in the outbox" in line, line
        # A working Bot API again: everything left goes, once.
        server.call(lambda: server.telegram.frozen.clear())
        bot.start(*(["--webhook"] if mode == "webhook" else []))
        for person in PEOPLE:
            wait_for(server, "What is your role?", after=0, person=person)
        _wait(lambda: outbox(db, "status = 'todo' AND not_before = 0") == 0, "the outbox emptied")
        seconds, err = stop_seconds(bot)
        assert seconds < 10 and "Traceback" not in err, err
        for person in PEOPLE:
            texts = [m.text for m in server.call(lambda p=person: server.telegram.messages(p))]
            new = texts[shown[person.user_id] :]
            assert len(new) == 1 and "What is your role?" in new[0], new  # sent once
            # The answered question was edited (its buttons taken off), also once.
            first_q = next(
                m
                for m in server.call(lambda p=person: server.telegram.messages(p))
                if "Which of these best describes" in m.text
            )
            assert first_q.edits == 1 and not first_q.keyboard
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.kill()
        server.close()


def _wait(test, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_web_page_stops_within_ten_seconds_with_a_request_stuck_mid_body(
    tmp_path: Path,
) -> None:
    """A client that sent half a form and went quiet does not hold the web page's stop."""
    import socket

    from .browser import WebServer

    server = WebServer(tmp_path / "triage.db").start()
    stuck = socket.create_connection(("127.0.0.1", server.port))
    try:
        stuck.sendall(
            b"POST /start HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            b"csrf=half"
        )
        time.sleep(0.5)
        assert server.proc is not None
        began = time.monotonic()
        server.proc.terminate()
        try:
            server.proc.wait(timeout=30)
        finally:
            seconds = time.monotonic() - began
        print(f"web page: stopped {seconds:.1f}s after SIGTERM with a request stuck mid-body")
        assert seconds < 10
    finally:
        stuck.close()
        if server.proc is not None and server.proc.poll() is None:
            server.kill()
