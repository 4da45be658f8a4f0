"""The command line itself: what `run` and `web` import, the shape of every --help, and the
options and messages of `run`, `web` and `review` (issues 18.11, 20.5 and 20.6)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import app

from .conftest import ROOT

runner = CliRunner()

# What the team's and editors' tools bring, and `run` and `web` never use.
HEAVY = (
    "rich",
    "pygments",
    "datasette",
    "textstat",
    "graphviz",
    "markdown_it",
    "prometheus_client",
)
TOOLS = ("bot.cli.team", "bot.cli.editors", "bot.cli.ops", "bot.editors.checker", "bot.team.review")


def imported_after(code: str) -> set[str]:
    """The modules a fresh interpreter has imported after running ``code``."""
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return set(result.stdout.split())


def test_the_command_line_imports_no_tools_for_run_and_web() -> None:
    modules = imported_after("import bot.cli")
    top = {name.split(".")[0] for name in modules}
    assert not top & set(HEAVY), sorted(top & set(HEAVY))
    assert not modules & set(TOOLS), sorted(modules & set(TOOLS))


def test_the_telegram_bot_and_the_web_page_import_no_tools() -> None:
    """What `run` imports on its way to the first getUpdates, and what `web` imports."""
    modules = imported_after(
        "import bot.cli\nimport bot.channels.telegram\nimport bot.channels.web.app"
    )
    top = {name.split(".")[0] for name in modules}
    assert "aiohttp" in top and "bot.channels.telegram.sender" in modules  # the probe did
    # The Bot API is called through aiohttp alone: no second HTTP client, no library of
    # Telegram's types (issue 20.5: together 13 MB of the running bot).
    assert not top & {"telegram", "httpx", "httpcore"}, sorted(top & {"telegram", "httpx"})
    assert not top & set(HEAVY), sorted(top & set(HEAVY))
    assert not modules & set(TOOLS), sorted(modules & set(TOOLS))


def test_polling_loads_no_http_server() -> None:
    """`run` without --webhook or metrics: aiohttp's server stays unloaded (2.2 MB)."""
    modules = imported_after("import bot.cli\nimport bot.channels.telegram.app")
    assert "bot.channels.telegram.sender" in modules  # the probe did import the transport
    assert not {m for m in modules if m.startswith("aiohttp.web")}
    assert "bot.channels.telegram.webhook" not in modules


def every_command() -> list[list[str]]:
    """Every command's words, sub-commands included, from the command line's own list."""
    group = app
    ctx = group.make_context("python -m bot", [], resilient_parsing=True)
    found: list[list[str]] = [[]]

    def walk(command: object, words: list[str], ctx: object) -> None:
        for name in command.list_commands(ctx):  # type: ignore[attr-defined]
            sub = command.get_command(ctx, name)  # type: ignore[attr-defined]
            found.append([*words, name])
            if hasattr(sub, "list_commands"):
                walk(sub, [*words, name], sub.make_context(name, [], resilient_parsing=True))

    walk(group, [], ctx)
    return found


COMMANDS = every_command()


def test_every_command_is_listed() -> None:
    names = {" ".join(words) for words in COMMANDS}
    assert {"run", "web", "chat", "report", "review", "content check", "flow diagram"} <= names


@pytest.mark.parametrize("words", COMMANDS, ids=lambda words: " ".join(words) or "(root)")
def test_help_reads_like_clicks_own(words: list[str]) -> None:
    """Options with click's metavars (flags bare), one line each, nothing cut with "..."."""
    result = runner.invoke(app, [*words, "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("Usage: "), text
    # typer's own types and rich's boxes.
    assert not re.search(r"<(int|str|bool|path|float|list\[)", text), text
    assert not set("╭│╰─") & set(text), text
    sections = re.split(r"\n(?=[A-Z][a-z]+:\n)", text)
    for section in sections:
        heading, _, body = section.partition("\n")
        if heading not in ("Options:", "Commands:", "Arguments:"):
            continue
        entries = [line for line in body.splitlines() if re.match(r"  \S", line)]
        assert entries, section
        for line in entries:
            name, gap, description = line.strip().partition("  ")
            # Each option, argument or command has its description on its own first line.
            assert gap and description.strip(), f"{heading} {line!r}"
            assert not description.rstrip().endswith("..."), line
            if heading == "Options:":
                tokens = name.replace(",", " ").replace(" / ", " ").split()
                metavars = [t for t in tokens if not t.startswith("-")]
                assert tokens[0].startswith("-") and len(metavars) <= 1, line
                # click's own: INTEGER, TEXT, PATH or [a|b]; a flag shows nothing.
                assert all(re.fullmatch(r"[A-Z]+|\[[a-z0-9_|-]+\]", m) for m in metavars), line
    # No line is wider than the terminal.
    assert all(len(line) <= 120 for line in text.splitlines())


def test_flags_and_lists_read_as_click_shows_them() -> None:
    review = runner.invoke(app, ["review", "--help"], terminal_width=120).output
    (protected,) = [line for line in review.splitlines() if line.startswith("  --protected ")]
    assert protected.split()[1] == "Serve"  # no type after a flag
    report = runner.invoke(app, ["report", "--help"], terminal_width=120).output
    (by,) = [line for line in report.splitlines() if line.startswith("  --by ")]
    assert by.split()[:3] == ["--by", "[sector|size|region|readiness]", "Split"]
    listing = runner.invoke(app, ["--help"], terminal_width=120).output
    assert (
        "web        Serve the check as a web page (needs TRIAGE_SECRET; see README for HTTPS "
        in (listing)
    )


def test_run_accepts_db(tmp_path: Path) -> None:
    """`run --db FILE` uses that file (here a demo database, which run refuses by name)."""
    demo = tmp_path / "demo.db"
    made = runner.invoke(app, ["demo-data", "--n", "1", "--db", str(demo)])
    assert made.exit_code == 0, made.output
    env = {"TELEGRAM_BOT_TOKEN": "4242:not-a-real-token", "TRIAGE_SECRET": "b" * 64}
    result = runner.invoke(app, ["run", "--db", str(demo)], env=env)
    assert result.exit_code == 2, result.output
    assert "No such option" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert f"{demo} holds synthetic demo data" in line and "`run`" in line


def test_web_without_a_secret_says_what_the_web_page_needs(tmp_path: Path) -> None:
    env = {"TRIAGE_SECRET": "", "TRIAGE_DB": str(tmp_path / "triage.db")}
    result = runner.invoke(app, ["web"], env=env)
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith("error: TRIAGE_SECRET is not set: the web page needs it"), line
    assert "Telegram" not in line and "secrets.token_hex(32)" in line
    run = runner.invoke(app, ["run"], env={**env, "TELEGRAM_BOT_TOKEN": "4242:x"})
    assert "the Telegram bot needs it" in run.output


# The tools' optional libraries (the `tools` extra), and typer, which nothing may import.
OPTIONAL = ("rich", "typer", "textstat", "graphviz", "datasette")
NEEDS_TOOLS = (
    "error: {} needs the team's and editors' tools: pip install '.[tools]' in the bot's folder "
    "(in a container, build the image's tools target)"
)


def blocked(
    args: list[str], cwd: Path, *, block: tuple[str, ...] = OPTIONAL, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` in a fresh interpreter where ``block`` cannot be imported.

    As if they were not installed; it fails too if any of them was imported anyway.
    """
    code = (
        "import runpy, sys\n"
        f"blocked = {block!r}\n"
        "for name in blocked:\n"
        "    sys.modules[name] = None\n"
        "sys.argv = ['python -m bot', *sys.argv[1:]]\n"
        "try:\n"
        "    runpy.run_module('bot', run_name='__main__', alter_sys=True)\n"
        "finally:\n"
        "    assert not [n for n in blocked if sys.modules.get(n) is not None]\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRIAGE_DB": str(cwd / "triage.db")}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_review_without_datasette_says_how_to_install_it(tmp_path: Path) -> None:
    result = blocked(["review", "--db", str(tmp_path / "x.db")], tmp_path, block=("datasette",))
    assert result.returncode == 2 and not result.stdout
    (line,) = result.stderr.splitlines()
    assert line == NEEDS_TOOLS.format("review")


def test_the_bots_own_commands_need_none_of_the_tools(tmp_path: Path) -> None:
    """The default install has no rich, typer, textstat, Graphviz or Datasette."""
    listing = blocked(["--help"], tmp_path)
    assert listing.returncode == 0, listing.stderr
    for name in ("chat", "run", "web", "report", "review", "demo-data", "content", "flow"):
        assert f"\n  {name} " in listing.stdout, name  # every command is listed all the same
    assert "Traceback" not in listing.stderr
    # The terminal chat: start, an answer, /help, a typed line, then /quit.
    chat = blocked(["chat"], tmp_path, stdin="1\n1\n/help\nhello\n/quit\n")
    assert chat.returncode == 0, chat.stderr
    assert "Question 1 of 21" in chat.stdout and "What is your role?" in chat.stdout
    assert "/quit" in chat.stdout and "Traceback" not in chat.stderr
    health = blocked(["health", "--json", "--db", str(tmp_path / "new.db")], tmp_path)
    assert health.returncode == 1 and json.loads(health.stdout)["status"] == "unhealthy"
    assert not health.stderr
    docs = blocked(["content", "docs", "--check"], tmp_path)
    assert docs.returncode == 0, docs.stderr
    assert docs.stdout == "content/README.md is up to date.\n"
    backup = blocked(["backup", "--out", "b.db"], tmp_path)  # the database the chat made
    assert backup.returncode == 0 and backup.stdout.startswith("Backed up "), backup.stderr
    purge = blocked(["purge"], tmp_path)
    assert purge.returncode == 0 and "conversations: 0 removed" in purge.stdout, purge.stderr


def test_content_check_needs_none_of_the_tools_but_textstat(tmp_path: Path) -> None:
    without_textstat = tuple(name for name in OPTIONAL if name != "textstat")
    result = blocked(["content", "check", "--quick"], tmp_path, block=without_textstat)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\nNo errors" in result.stdout and "Traceback" not in result.stderr


def test_content_check_runs_without_any_of_the_tools(tmp_path: Path) -> None:
    """As in the bot's own image: the reading grades are skipped, with a warning saying so."""
    result = blocked(["content", "check", "--quick"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "needs the team's" not in result.stderr
    assert "reading grades not checked: textstat is not installed here" in result.stdout
    assert "\nNo errors" in result.stdout


@pytest.mark.parametrize(
    ("args", "library"),
    [
        (["report"], "rich"),
        (["lookup", "MPSP-2222-2222"], "rich"),
        (["export"], "rich"),
        (["demo-data", "--n", "1", "--db", "demo.db"], "rich"),
        (["content", "preview", "--sample", "spin-out"], "rich"),
        (["flow", "diagram", "--out", "diagram"], "graphviz"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_a_tool_without_its_library_says_so_in_one_line(
    args: list[str], library: str, tmp_path: Path
) -> None:
    # A database for the commands that read one (made without the tools: it is the bot's).
    made = blocked(["chat"], tmp_path, stdin="/quit\n")
    assert made.returncode == 0, made.stderr
    result = blocked(args, tmp_path, block=(library,))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    words = [a for a in args[:2] if not a.startswith(("-", "MPSP"))]
    lines = [x for x in result.stderr.splitlines() if not x.startswith("Content from ")]
    assert lines == [NEEDS_TOOLS.format(" ".join(words))], result.stderr
    # Its help is still there.
    helped = blocked([*words, "--help"], tmp_path, block=(library,))
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: "), helped.stderr
