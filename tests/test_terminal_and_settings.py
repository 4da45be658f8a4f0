"""The terminal chat driven through its input and output, and settings validation."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.channels.service import Triage
from bot.channels.terminal import Screen, TerminalChat, html_to_rich, lines_reader
from bot.conversation.engine import Engine
from bot.settings import SettingsError, load_settings
from bot.store import Store

from .conftest import ROOT


def run_chat(content, db: Path, lines: list[str]) -> str:
    out = io.StringIO()
    console = Screen(out, width=100)
    store = Store(db)
    try:
        chat = TerminalChat(
            Triage(store, Engine(content, channel="terminal")),
            "t" * 64,
            console,
            lines_reader(iter(lines)),
        )
        chat.run()
    finally:
        store.close()
    return out.getvalue()


def test_terminal_walk_through_to_results(content, tmp_path: Path) -> None:
    lines = [
        "1",  # Start
        "1",  # A Public Service Mutual
        "hello",  # typed where a button is expected
        "1",  # Leadership team
        "3",  # Children and young people
        "9",  # South West
        "2",  # 11 to 50
        "1",  # Under £1m
        "2",  # 1 to 3 years
        "2",  # confidence 2
        "1",
        "9",  # tick None yet, Done (8 is Back)
        "2",  # We might
        "1",
        "9",  # Bid for larger contracts, Done
        "3",
        "7",
        "14",  # capacity, no partners, Done
        "1",  # biggest: capacity
        "12",
        "15",  # placements, Done
        "3",  # no live bid
        "2",  # reserved contract: main service not on the list (asked: larger contracts)
        "Our number is 01632 960 123",
        "19",  # Confirm: after 17 change buttons and Back
    ]
    output = run_chat(content, tmp_path / "t.db", lines)
    assert "Question 1 of 21" in output
    assert "That isn't one of the numbers here.\nPlease type a number from 1 to 7." in output
    assert "Please check your answers" in output
    assert "[phone removed]" in output
    assert "Your next steps" in output
    assert "Staff placements and shadowing" in output
    assert "Your route: start with something light" in output
    store = Store(tmp_path / "t.db")
    assert store.db["responses"].count == 1
    store.close()


def test_terminal_resumes_where_the_person_left_off(content, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    run_chat(content, db, ["1", "1", "1"])  # Start, Mutual, Leadership; then end of input
    output = run_chat(content, db, ["1"])  # new session: continue
    assert "Welcome back" in output and "question 3 of 21" in output
    assert output.rstrip().endswith("Back") or "Which service area" in output


def test_terminal_renders_html_as_plain_styles() -> None:
    assert html_to_rich("<b>Hi</b> &amp; [x]") == "[bold]Hi[/bold] & \\[x]"
    assert (
        html_to_rich('<a href="https://e.org">site</a>') == "[underline]site[/underline] "
        "(https://e.org)"
    )


def test_settings_errors_are_one_line_and_name_the_setting(tmp_path: Path) -> None:
    cases = {
        "TRIAGE_SECRET": ({"TRIAGE_SECRET": "short"}, "TRIAGE_SECRET is too short"),
        "TELEGRAM_API_URL": ({"TELEGRAM_API_URL": "ftp://x"}, "TELEGRAM_API_URL="),
        "TELEGRAM_BOT_TOKEN": ({"TELEGRAM_BOT_TOKEN": "nocolon"}, "TELEGRAM_BOT_TOKEN"),
        "TRIAGE_ADMINS": ({"TRIAGE_ADMINS": "12,abc"}, "TRIAGE_ADMINS"),
        "TRIAGE_RETENTION_DAYS": ({"TRIAGE_RETENTION_DAYS": "0"}, "TRIAGE_RETENTION_DAYS=0"),
        "TRIAGE_CONTENT_DIR": ({"TRIAGE_CONTENT_DIR": str(tmp_path)}, "TRIAGE_CONTENT_DIR="),
        "TRIAGE_IDLE_DAYS": ({"TRIAGE_IDLE_DAYS": "3000000"}, "must be at most 3650"),
        "TRIAGE_SEND_RATE": ({"TRIAGE_SEND_RATE": "nan"}, "TRIAGE_SEND_RATE='nan' is not"),
        "TRIAGE_WEBHOOK_URL": ({"TRIAGE_WEBHOOK_URL": "http://x.org/h"}, "must be an https://"),
        "TRIAGE_WEBHOOK_SECRET": ({"TRIAGE_WEBHOOK_SECRET": "s3cr!t"}, "TRIAGE_WEBHOOK_SECRET"),
        "TRIAGE_WEBHOOK_PORT": ({"TRIAGE_WEBHOOK_PORT": "70000"}, "at most 65535"),
    }
    for env, expected in cases.values():
        with pytest.raises(SettingsError) as info:
            load_settings(env)
        assert expected in str(info.value)
        assert "\n" not in str(info.value)
        assert "s3cr!t" not in str(info.value)  # a secret is never echoed
    settings = load_settings(
        {
            "TELEGRAM_API_URL": "http://localhost:8081/",
            "TRIAGE_ADMINS": "1, 2",
            "TELEGRAM_BOT_TOKEN": "1:abc",
        }
    )
    assert settings.base_url == "http://localhost:8081/bot"
    assert settings.admins == frozenset({1, 2})


def test_chat_keeps_a_local_secret_beside_the_database(tmp_path: Path) -> None:
    settings = load_settings({"TRIAGE_DB": str(tmp_path / "t.db")})
    first = settings.with_local_secret()
    again = settings.with_local_secret()
    assert first.secret == again.secret and len(first.secret) == 64
    assert (tmp_path / "t.db.secret").stat().st_mode & 0o077 == 0


def cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        text=True,
        capture_output=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_run_without_secret_or_token_fails_with_one_line(tmp_path: Path) -> None:
    env = {"TRIAGE_DB": str(tmp_path / "t.db"), "TELEGRAM_BOT_TOKEN": "", "TRIAGE_SECRET": ""}
    result = cli("run", env=env)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr
    result = cli("run", env={**env, "TELEGRAM_BOT_TOKEN": "1:abc"})
    assert result.returncode == 2 and "TRIAGE_SECRET is not set" in result.stderr
    result = cli("chat", env={**env, "TRIAGE_SECRET": "x"})
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_main_job_without_token_is_the_terminal_chat(tmp_path: Path) -> None:
    env = {"TRIAGE_DB": str(tmp_path / "t.db"), "TELEGRAM_BOT_TOKEN": "", "TRIAGE_SECRET": ""}
    result = cli(env=env, stdin="1\n1\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Question 1 of 21" in result.stdout
    assert "What is your role?" in result.stdout


def test_contacts_and_team_chat_are_settings_and_placeholders_are_refused(caplog) -> None:
    import logging

    from bot.cli import log_missing_contacts

    cases = {
        "TRIAGE_CONTACT_EMAIL": ("mpsp@example.org", "placeholder"),
        "TRIAGE_CONTACT_PHONE": ("020 0000 0000", "placeholder"),
        "TRIAGE_CONTACT_WEBSITE": ("www.mutuals.org.uk", "web address"),
        "TRIAGE_TEAM_CHAT_ID": ("mutuals-team", "numeric id"),
    }
    for name, (value, expected) in cases.items():
        with pytest.raises(SettingsError) as info:
            load_settings({name: value})
        assert name in str(info.value) and expected in str(info.value)
        assert "\n" not in str(info.value)
    for value in ("0", str(2**60)):
        with pytest.raises(SettingsError, match="TRIAGE_TEAM_CHAT_ID is out of range") as info:
            load_settings({"TRIAGE_TEAM_CHAT_ID": value})
        assert value not in str(info.value)  # an id is never echoed
    settings = load_settings(
        {
            "TRIAGE_CONTACT_EMAIL": " partnerships@mutuals.org.uk ",
            "TRIAGE_CONTACT_HOURS": "Monday to Friday,  9am to 5pm",
            "TRIAGE_TEAM_CHAT_ID": "-1001234567890",
        }
    )
    assert settings.contact.email == "partnerships@mutuals.org.uk"
    assert settings.contact.hours == "Monday to Friday, 9am to 5pm"
    assert settings.team_chat_id == -1001234567890
    caplog.set_level(logging.INFO)
    log_missing_contacts(settings, logging.getLogger("bot"))
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("programme contacts not set: TRIAGE_CONTACT_PHONE, ")
    assert "TRIAGE_CONTACT_WEBSITE" in line and "EMAIL" not in line and "-100" not in line
    caplog.clear()
    log_missing_contacts(load_settings({}), logging.getLogger("bot"))
    assert "TRIAGE_TEAM_CHAT_ID" in caplog.text and "no 'ask the team" in caplog.text


WRAPPING = [
    "A sentence that is long enough to need breaking at least once or twice here.",
    "Averyveryverylongwordwithoutanyspacesthatmustbechoppedintopieces and then more.",
    "Wide 日本語のテキストと漢字 characters take two columns each, 한국어 too.",
    "Emoji 👩‍👩‍👧 joined, 👍🏽 toned, ✔️ presented as emoji, then words after them.",
    "Trailing spaces    \nand\ttabs\tin\ta line, and a blank line:\n\nthen the end.",
    "   Leading spaces, then • bullets • and — dashes — to the end of the line.",
]


@pytest.mark.parametrize("width", [7, 12, 20, 33, 80])
def test_the_chat_wraps_as_it_always_did(width: int) -> None:
    """The chat's own wrapping gives, line for line, what rich printed before it was dropped."""
    rich = pytest.importorskip("rich.console")
    for text in WRAPPING:
        before = io.StringIO()
        console = rich.Console(
            file=before, width=width, color_system=None, highlight=False, markup=False, emoji=False
        )
        console.print(text)
        after = io.StringIO()
        Screen(after, width=width, color=False).print(text)
        assert after.getvalue() == before.getvalue(), (width, text)
        assert all(len(line) <= width for line in after.getvalue().splitlines() if line.isascii())


def test_the_chat_styles_only_on_a_terminal() -> None:
    plain, styled = io.StringIO(), io.StringIO()
    Screen(plain, width=40, color=False).print("Question 1 of 21", {"bold": True})
    Screen(styled, width=40, color=True).print("Question 1 of 21", {"bold": True})
    assert plain.getvalue() == "Question 1 of 21\n"
    assert styled.getvalue() == "\x1b[1mQuestion 1 of 21\x1b[0m\n"
