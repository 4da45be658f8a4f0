"""What the privacy notices say is true for the channel they are shown on (issue 17, 6-8).

Answers are pseudonymous, never "anonymous"; no notice says the chat is never kept; each
channel's notice describes that channel; the web page has an accessibility statement.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli.team import export
from bot.contacts import Contact
from bot.conversation.engine import Command, Context, Engine, Press
from bot.conversation.render import plain_text

from .conftest import ROOT
from .web_harness import running

# "anonymous"/"anonymised" (any spelling), except in "not anonymous".
ANONYMOUS = re.compile(r"(?<!not )\banonymi?[sz]?(?:ed|ous|ously|ity)\b", re.IGNORECASE)
# A sentence that says something is never (or not) kept, about the chat or the account.
NEVER_KEPT = re.compile(r"\b(?:never|not|don't|do not)\b[^.]*\b(?:keep|kept|store|stored)\b", re.I)
CHAT = re.compile(r"\b(?:chat|Telegram account)\b", re.IGNORECASE)
CTX = Context(
    now=dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC),
    new_code=lambda: "MPSP-7KQ3-X9TD",
    new_run=lambda: "run1",
)


def _strings(node: Any) -> list[str]:
    """Every string value in a YAML document (keys are names, not words people read)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def _people_read() -> dict[str, str]:
    """Every template and content string people read, by where it is."""
    texts: dict[str, str] = {}
    for path in sorted((ROOT / "templates").rglob("*.j2")):
        source = path.read_text(encoding="utf-8")
        texts[str(path.relative_to(ROOT))] = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    for path in sorted((ROOT / "content").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        texts[str(path.relative_to(ROOT))] = "\n".join(_strings(data))
    texts["README.md"] = (ROOT / "README.md").read_text(encoding="utf-8")
    texts["export --help"] = export.__doc__ or ""
    return texts


def test_no_string_people_read_says_anonymous() -> None:
    found = {where: ANONYMOUS.findall(text) for where, text in _people_read().items()}
    assert {where: words for where, words in found.items() if words} == {}
    # The pattern itself: it catches the old words and lets "not anonymous" through.
    assert ANONYMOUS.search("remain only as anonymous figures")
    assert ANONYMOUS.search("CONFIDENTIAL: anonymised answers")
    assert not ANONYMOUS.search("they are pseudonymous, not anonymous")


def _notices(content, channel: str) -> dict[str, str]:
    """The welcome and the privacy notice, as that chat channel's engine shows them."""
    telegram = channel == "telegram"
    engine = Engine(
        content,
        channel=channel,
        reminders=telegram,
        handover=telegram,
        follow_up_months=3 if telegram else 0,
    )
    out = engine.handle(None, Command("privacy"), CTX)
    privacy, welcome = (plain_text(r.text) for r in out.replies)
    return {"privacy": privacy, "welcome": welcome}


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.replace("\n", " ")) if s]


@pytest.mark.parametrize("channel", ["telegram", "terminal"])
def test_no_chat_notice_says_the_chat_is_never_kept(content, channel: str) -> None:
    for name, text in _notices(content, channel).items():
        wrong = [s for s in _sentences(text) if NEVER_KEPT.search(s) and CHAT.search(s)]
        assert wrong == [], (channel, name)
        assert not ANONYMOUS.search(text), (channel, name)
        assert "pseudonymous" in text and "not anonymous" in text.lower(), (channel, name)
    # The old welcome's sentence is one the check catches.
    old = "We never store your name, username or Telegram account, and nothing is kept."
    assert any(NEVER_KEPT.search(s) and CHAT.search(s) for s in _sentences(old))


def test_telegram_notices_say_exactly_when_the_chat_and_a_name_are_kept(content) -> None:
    notices = _notices(content, "telegram")
    for name, text in notices.items():
        assert "encrypted" in text and "waits to be sent" in text.replace("is waiting", "waits")
        assert "check-again message" in text, name  # the booked follow-up
        assert "encrypted only until that post is sent" in text, name  # a consented name
    assert "personal data under UK GDPR" in notices["privacy"]
    # The typo of issue 18.7: a sentence no longer starts with the programme's own "the".
    assert "Why. the" not in notices["privacy"]
    assert "Why. We count the answers" in notices["privacy"]


def test_terminal_notices_describe_the_terminal_not_telegram(content, tmp_path: Path) -> None:
    """As `python -m bot chat` builds it: no Telegram account, the plan file on disk."""
    env = {
        **os.environ,
        "TRIAGE_DB": str(tmp_path / "t.db"),
        "TELEGRAM_BOT_TOKEN": "",
        "TRIAGE_SECRET": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="/privacy\n/quit\n",
        text=True,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # as read, whatever the console's width
    notice = out[out.index("Privacy notice") :]
    assert "Telegram" not in notice.replace("the Telegram bot or web page using it", "")
    assert "database on this computer" in notice
    assert "plans folder" in notice
    assert "pseudonymous" in notice and "personal data under UK GDPR" in notice


def test_terminal_forget_asks_first_and_keep_loses_nothing(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TRIAGE_DB": str(tmp_path / "t.db"),
        "TELEGRAM_BOT_TOKEN": "",
        "TRIAGE_SECRET": "",
    }

    def chat(lines: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "chat"],
            input=lines,
            text=True,
            capture_output=True,
            env=env,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return " ".join(result.stdout.split())  # as read, whatever the console's width

    # Start, answer question 1, /forget, Keep (button 2).
    out = chat("1\n1\n/forget\n2\n/quit\n")
    asked = out[out.rindex("Delete your answers?") :]
    assert "This cannot be undone." in asked and "Delete" in asked and "Keep" in asked
    assert "Question 2 of" in asked  # Keep: back where they were
    out = chat("/quit\n")
    assert "You had reached question 2 of" in out  # still there next time: nothing lost
    out = chat("/forget\n1\n/quit\n")  # Delete
    assert "have been deleted" in out
    assert "You had reached question" not in chat("/quit\n")


# ---- the web page -----------------------------------------------------------------------


CONTACT = Contact(
    email="partnerships@mutuals-programme.invalid",
    phone="+44 161 496 0999",
    hours="Monday to Friday, 9am to 5pm",
)


async def test_web_privacy_notice_says_the_pseudonym_is_personal_data(content, tmp_path) -> None:
    site = await running(content, tmp_path)
    browser = site.browser()
    try:
        page = await browser.get("/privacy")
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
        assert re.search(r"pseudonymous[^.]*\. That code still counts as personal data", text)
        assert "Telegram account" not in text
        assert not ANONYMOUS.search(text)
        start = await browser.get("/")
        assert not ANONYMOUS.search(start) and "pseudonymous, not anonymous" in start
    finally:
        await browser.close()
        await site.close()


async def test_accessibility_statement_is_in_every_footer_with_and_without_contacts(
    content, tmp_path
) -> None:
    from .test_web import walk

    for contact in (CONTACT, None):
        engine = {"contact": contact} if contact else None
        folder = tmp_path / ("set" if contact else "unset")
        folder.mkdir()
        site = await running(content, folder, engine=engine)
        browser = site.browser()
        try:
            pages = [await browser.get("/"), await browser.get("/accessibility")]
            await walk(browser)
            pages.append(browser.page)  # check your answers
            pages.append(await browser.confirm())  # the result
            for url in ("/privacy", "/forget", "/no-such-page"):
                pages.append(await browser.get(url))
            for page in pages:
                footer = page[page.index('<footer class="triage-footer">') :]
                assert 'href="/accessibility">Accessibility statement</a>' in footer
            statement = await browser.get("/accessibility")
            assert browser.status == 200
            assert browser.title.startswith("Accessibility statement")
            for heading in (
                "How accessible this website is",
                "Feedback and contact information",
                "Reporting accessibility problems with this website",
                "Enforcement procedure",
                "Compliance status",
                "Non-accessible content",
                "Preparation of this accessibility statement",
            ):
                assert heading in statement
            for tested in ("axe-core", "keyboard", "320 pixels", "JavaScript turned off"):
                assert tested in statement
            if contact:
                assert "mailto:partnerships@mutuals-programme.invalid" in statement
                assert "+44 161 496 0999" in statement
            else:
                assert "mailto:" not in statement and "have not been set up yet" in statement
        finally:
            await browser.close()
            await site.close()


def test_chat_delete_press_forgets_only_with_the_run_it_was_asked_for(content) -> None:
    """The engine's Delete is bound to the check it was asked in (no store needed)."""
    engine = Engine(content)
    started = engine.handle(None, Press("go|0"), CTX).conversation
    assert started is not None
    asked = engine.handle(started, Command("forget"), CTX)
    assert asked.forget is False and asked.conversation == started
    (delete, keep) = asked.replies[0].buttons[0]
    assert (delete.label, keep.label) == ("Delete", "Keep")
    other = engine.handle(started, Press(f"fg|{started.step}|another-run"), CTX)
    assert other.forget is False and other.conversation == started
    done = engine.handle(started, Press(delete.data or ""), CTX)
    assert done.forget is True and done.conversation is None
