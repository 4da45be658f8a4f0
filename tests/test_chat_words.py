"""Each chat channel says how to answer in its own words; /help; the years bands (issue 18).

Item 5: the terminal numbers its buttons, so it says "type the number of", never "tap", and
a number that is not an option gets "type a number from 1 to 6". Item 7: /help in the
terminal lists /quit, and the "years since spinning out" bands no longer overlap while their
codes (kept in stored answers and the report) stay the same.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.channels.service import Triage
from bot.channels.terminal import Screen, TerminalChat, lines_reader
from bot.cli import app
from bot.conversation.content import ContentError, load_content
from bot.conversation.engine import Engine
from bot.store import Store

from .conftest import MUTUAL_ANSWERS, ROOT, answer_all

TAP = re.compile(r"\btap", re.IGNORECASE)


def terminal(content, db: Path, lines: list[str]) -> str:
    out = io.StringIO()
    console = Screen(out, width=200)
    store = Store(db)
    try:
        engine = Engine(content, channel="terminal")
        TerminalChat(Triage(store, engine), "t" * 64, console, lines_reader(iter(lines))).run()
    finally:
        store.close()
    return out.getvalue()


def test_a_number_that_is_not_an_option_is_answered_in_the_terminals_words(
    content, tmp_path
) -> None:
    # Start, a Public Service Mutual, Leadership team; the service question has six options.
    output = terminal(content, tmp_path / "t.db", ["1", "1", "1", "9"])
    after = output.split("Which service area", 1)[1]
    assert "That isn't one of the numbers here.\nPlease type a number from 1 to 6." in after
    assert "I can't read a typed answer here" not in output
    assert "Type a number from 1 to 6." in after  # said under the question itself too


def test_the_terminal_never_says_tap(content, tmp_path) -> None:
    """A whole walk, with every re-ask, help and the summary and result: 'type', not 'tap'."""
    lines = [
        "hello",  # typed on the welcome
        "1",  # Start
        "1",  # A Public Service Mutual
        "we are a mutual",  # typed where a number is expected
        "1",
        "3",
        "9",
        "2",
        "1",
        "2",
        "2",
        "1",
        "9",  # tick None yet, Done
        "2",
        "1",
        "9",  # Bid for larger contracts, Done
        "3",
        "7",
        "14",  # Done
        "1",
        "12",
        "15",  # Done
        "3",
        "2",  # reserved contract: main service not on the list (asked: larger contracts)
        "/help",
        "   ",  # empty
        "Ask Jane Smith on 01632 960 123",
        "/help",
        "19",  # Confirm: after 17 change buttons and Back
        "/cancel",
    ]
    output = terminal(content, tmp_path / "t.db", lines)
    assert "Please check your answers" in output and "Your next steps" in output
    assert "We took a name and a phone number out of your typed answer" in output
    assert not TAP.search(output), TAP.findall(output)
    assert "Type the number of each option that applies" in output
    assert "Type the number of Start whenever you would like to begin again." in output


def test_telegram_still_says_tap(walker) -> None:
    walker.command("start")
    walker.tap("Start")
    walker.tap("A Public Service Mutual")
    walker.type("we are a mutual")
    assert "I can't read a typed answer here.\nPlease tap one of the buttons." in walker.text
    assert "Type a number" not in walker.text
    answer_all(walker, MUTUAL_ANSWERS[1:])
    assert "Tap an answer below to change it, or tap Confirm" in walker.text


def test_help_lists_quit_in_the_terminal_only(content, tmp_path, walker) -> None:
    output = terminal(content, tmp_path / "t.db", ["/help"])
    assert "/quit: leave the chat (your answers so far stay saved)" in output
    walker.command("help")
    assert "/quit" not in "\n".join(walker.last_texts())


def test_the_chat_command_speaks_the_terminals_words(tmp_path) -> None:
    result = CliRunner().invoke(
        app,
        ["chat", "--db", str(tmp_path / "t.db")],
        input="1\n1\n1\n9\n/quit\n",
        env={"TRIAGE_CONTENT_DIR": str(ROOT), "TELEGRAM_BOT_TOKEN": ""},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "Please type a number from 1 to 6." in result.output
    shown = result.output.replace("until you tap Start", "")  # issue 17's sentence, as above
    assert not TAP.search(shown), TAP.findall(shown)


def test_a_notice_with_an_unknown_word_is_a_content_error(tmp_path) -> None:
    import shutil

    for folder in ("flows", "templates", "content"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    ui = tmp_path / "content" / "ui.yaml"
    ui.write_text(ui.read_text().replace("then {tap} Done", "then {tapp} Done"))
    with pytest.raises(ContentError, match="tapp"):
        load_content(tmp_path)


# ---- item 7: the years bands -----------------------------------------------------------------


def test_the_years_bands_meet_without_overlapping_and_keep_their_codes(content) -> None:
    years = content.flow.by_id["years"]
    assert [(o.code, o.label) for o in years.options] == [
        ("under_1", "Less than a year"),
        ("y1_3", "1 to 3 years"),
        ("y3_5", "Over 3, up to 5 years"),
        ("y5_10", "Over 5, up to 10 years"),
        ("over_10", "Over 10 years"),
    ]
    # Each band after the first starts where the one before it ends, and excludes that point.
    ends = [re.findall(r"\d+", o.label) for o in years.options[1:]]
    for before, after in zip(years.options[1:-1], years.options[2:], strict=True):
        assert re.findall(r"\d+", before.label)[-1] == re.findall(r"\d+", after.label)[0]
        assert after.label.startswith("Over")
    assert ends


def test_the_report_counts_stored_answers_under_the_new_words(tmp_path) -> None:
    """Stored answers keep their codes; the report (and its history) shows today's words."""
    db = tmp_path / "demo.db"
    env = {"TRIAGE_CONTENT_DIR": str(ROOT)}
    runner = CliRunner()
    made = runner.invoke(app, ["demo-data", "--n", "300", "--db", str(db)], env=env)
    assert made.exit_code == 0, made.output
    report = runner.invoke(app, ["report", "--db", str(db)], env=env)
    assert report.exit_code == 0, report.output
    table = report.output.split("Years since spinning out", 2)[2]
    for label in ("1 to 3 years", "Over 3, up to 5 years", "Over 5, up to 10 years"):
        assert re.search(rf"{re.escape(label)}\s+\d+ \(\d+%\)", table), label
    assert "3 to 5 years" not in report.output
