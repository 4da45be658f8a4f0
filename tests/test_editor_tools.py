"""Editors' tools: preview, diagram, the generated guide, safe reloading, edited content."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.channels.service import Triage
from bot.cli import app, reload_content
from bot.conversation.content import load_content
from bot.conversation.engine import Engine
from bot.editors.diagram import forward_edges, mermaid
from bot.editors.docs import update_readme
from bot.settings import load_settings
from bot.store import Store

from .conftest import ROOT
from .test_content_check import edit

runner = CliRunner()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("flows", "templates", "content"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(
        app,
        list(args),
        env={"TRIAGE_CONTENT_DIR": str(ROOT), **(env or {})},
        catch_exceptions=False,
    )


def test_preview_shows_every_message_and_button_of_a_sample() -> None:
    result = invoke("content", "preview", "--sample", "small-new-mutual")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "you ▸ tap Start" in text
    assert "Which of these best describes your organisation?" in text
    assert "[ A Public Service Mutual ]" in text
    assert "you ▸ tick Legal arrangements are complex" in text
    assert "Please check your answers" in text
    assert "Your next steps" in text
    assert "Your stage: Getting started" in text
    assert "Partner workshops with a facilitator" in text  # behind "Support on offer"
    assert text.index("you ▸ tap Confirm") < text.index("Your next steps")
    assert text.index("Your next steps") < text.index("you ▸ tap 🤝 Support on offer")


def test_preview_result_only_and_listing() -> None:
    listing = invoke("content", "preview")
    assert "commissioner" in listing.output and "spin-out" in listing.output
    result = invoke("content", "preview", "--sample", "commissioner", "--result-only")
    assert "Running a pilot" in result.output or "Pilots" in result.output
    assert "you ▸" not in result.output


def test_preview_of_an_answers_file_with_a_mistake_names_the_line(tmp_path: Path) -> None:
    answers = tmp_path / "mine.yaml"
    answers.write_text("answers:\n  org_type: psm\n  role: chief\n", encoding="utf-8")
    result = invoke("content", "preview", str(answers))
    assert result.exit_code == 1
    assert f"{answers}:3: role: 'chief' is not a valid answer" in result.output
    assert "no answer for service" in result.output


def test_check_command_exit_status(copy: Path) -> None:
    ok = invoke("content", "check", "--quick", "--content", str(copy))
    assert ok.exit_code == 0, ok.output
    assert "No errors;" in ok.output and "Checked" in ok.output
    strict = invoke("content", "check", "--quick", "--strict", "--content", str(copy))
    assert strict.exit_code == 1  # the example contact details
    edit(
        copy, "content/rules.yaml", lambda t: t.replace("section: support,", "section: suport,", 1)
    )
    broken = invoke("content", "check", "--quick", "--content", str(copy))
    assert broken.exit_code == 1
    assert "error content/rules.yaml:" in broken.output and "'suport'" in broken.output


def test_diagram_is_drawn_from_the_machine(tmp_path: Path) -> None:
    content = load_content(ROOT)
    edges = forward_edges(content.flow)
    engine = Engine(content)
    # Every edge drawn is a move the bot's own machine makes.
    for source, dest in edges:
        trigger = "confirm" if source == "summary" else "advance"
        assert any(
            t["source"] == source and t["dest"] == dest and t["trigger"] == trigger
            for t in content.flow.transitions(lambda *_: None)
        ), (source, dest)
    assert engine.machine.get_transitions("advance", "org_type", "role")
    text = mermaid(content.flow)
    assert "stateDiagram-v2" in text
    assert "org_type --> role: advance [org_type in psm]" in text
    assert "experience --> success: advance [experience not none]" in text
    result = invoke("flow", "diagram", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "flow.mmd").read_text(encoding="utf-8") == text
    if shutil.which("dot"):
        svg = (tmp_path / "flow.svg").read_text(encoding="utf-8")
        assert svg.lstrip().startswith("<?xml") and "top_barrier" in svg


def test_editor_guide_lists_every_template_variable() -> None:
    assert update_readme(ROOT / "content" / "README.md", write=False) is False, (
        "content/README.md is out of date: run `python -m bot content docs`"
    )
    guide = (ROOT / "content" / "README.md").read_text(encoding="utf-8")
    from bot.conversation.content import TEMPLATES

    for name, spec in TEMPLATES.items():
        assert f"`templates/{name}`" in guide
        for var in spec.variables:
            assert f"`{var}`:" in guide


def test_template_contract_matches_what_the_code_passes() -> None:
    """Rendering with the wrong variables fails loudly, so the generated list stays true."""
    content = load_content(ROOT)
    with pytest.raises(TypeError, match="unexpected"):
        content.render("done.j2", code="x", extra=1)


def test_bot_uses_edited_content_without_code_changes(copy: Path, tmp_path: Path) -> None:
    edit(
        copy,
        "flows/triage.yaml",
        lambda t: t.replace(
            "text: What is your role?", "text: What do you do in your organisation?"
        ),
    )
    result = runner.invoke(
        app,
        ["chat", "--db", str(tmp_path / "t.db")],
        input="1\n1\n/quit\n",
        env={"TRIAGE_CONTENT_DIR": str(copy)},
        catch_exceptions=False,
    )
    assert "What do you do in your organisation?" in result.output


def test_responses_record_the_content_version(copy: Path, tmp_path: Path) -> None:
    from .conftest import MUTUAL_ANSWERS, Walker, answer_all

    edit(copy, "templates/done.j2", lambda t: t + "\nThank you!\n")
    content = load_content(copy)
    assert content.digest != load_content(ROOT).digest
    store = Store(tmp_path / "t.db")
    walker = Walker(Triage(store, Engine(content)))
    walker.command("start")
    walker.tap("Start")
    answer_all(walker, MUTUAL_ANSWERS)
    walker.tap("Confirm")
    (row,) = store.db["responses"].rows
    assert row["content_version"] == content.digest
    store.close()


class _Inline:
    """Stand-in for the store thread: runs calls directly."""

    async def call(self, fn, *args):
        return fn(*args)


def test_reload_switches_only_to_content_that_passes_the_check(
    copy: Path, tmp_path: Path, caplog
) -> None:
    caplog.set_level(logging.INFO)
    settings = load_settings({"TRIAGE_CONTENT_DIR": str(copy), "TRIAGE_DB": str(tmp_path / "t.db")})
    store = Store(settings.db_path)
    triage = Triage(store, Engine(load_content(copy)))
    old = triage.engine
    log = logging.getLogger("bot")

    edit(copy, "templates/help.j2", lambda t: t.replace("{% if in_progress %}", "{% if %}"))
    assert asyncio.run(reload_content(settings, triage, _Inline(), log)) is False
    assert triage.engine is old
    assert "content reload refused" in caplog.text and "templates/help.j2" in caplog.text

    edit(
        copy,
        "templates/help.j2",
        lambda t: t.replace("{% if %}", "{% if in_progress %}").replace(
            "How this works", "How this bot works"
        ),
    )
    assert asyncio.run(reload_content(settings, triage, _Inline(), log)) is True
    assert triage.engine is not old
    assert "How this bot works" in triage.engine.content.render("help.j2", in_progress=False)
    store.close()


# ---- which content is live ----------------------------------------------------------------------


def test_every_command_that_loads_content_names_its_folder(copy: Path, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    line = f"Content from {copy} (set by TRIAGE_CONTENT_DIR or --content; version "
    env = {"TRIAGE_CONTENT_DIR": str(copy), "TRIAGE_DB": str(db)}
    commands = [
        ["demo-data", "--n", "20", "--db", str(db)],  # it never takes TRIAGE_DB unnamed
        ["report"],
        ["lookup", "MPSP-2222-2222"],
        ["export"],
        ["chat"],
        ["content", "check", "--quick"],
        ["content", "preview", "--sample", "not-now"],
        ["content", "docs", "--check"],
        ["flow", "diagram", "--out", str(tmp_path / "out")],
    ]
    for args in commands:
        result = runner.invoke(app, args, env=env, input="/quit\n", catch_exceptions=False)
        assert result.stderr.count(line) == 1, (args, result.output)
        assert line not in result.stdout, args  # never mixed into CSV, JSON or tables
        assert "differs from the installed copy" not in result.stderr


def _installed_and_repository(tmp_path: Path) -> tuple[Path, Path]:
    """An installed copy of the content, and a repository where a question was then edited."""
    installed = tmp_path / "site-packages" / "bot" / "_content"
    repo = tmp_path / "repo"
    for name in ("flows", "templates", "content"):
        shutil.copytree(ROOT / name, installed / name)
        shutil.copytree(ROOT / name, repo / name)
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    return installed, repo


def test_the_installed_copy_warns_when_the_repository_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import settings as settings_module
    from bot.cli import source as source_module
    from bot.cli.source import content_source

    installed, repo = _installed_and_repository(tmp_path)
    same = content_source(installed, bundled=installed, near=[repo / "flows", repo])
    assert same.kind == "installed" and same.warning() is None
    edit(repo, "flows/triage.yaml", lambda t: t.replace("What is your role?", "Your job?"))
    found = content_source(installed, bundled=installed, near=[repo / "flows", repo])
    assert found.repository == repo
    assert f"set TRIAGE_CONTENT_DIR={repo}" in (found.warning() or "")
    assert f"pip install -e {repo}" in (found.warning() or "")
    # Chosen on purpose, or this very checkout: nothing to warn about.
    assert content_source(repo, bundled=installed, near=[repo]).warning() is None
    assert content_source(repo, bundled=repo, near=[repo]).kind == "checkout"

    # As a new user meets it: `pip install .`, then run from inside the edited repository.
    monkeypatch.setattr(settings_module, "bundled_content_dir", lambda: installed)
    monkeypatch.setattr(source_module, "bundled_content_dir", lambda: installed)
    monkeypatch.chdir(repo / "content")
    result = runner.invoke(
        app,
        ["content", "preview", "--sample", "small-new-mutual"],
        env={"TRIAGE_CONTENT_DIR": "", "TRIAGE_DB": str(tmp_path / "t.db")},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"Content from {installed} (the copy installed with the bot" in result.stderr
    assert f"warning: the content in {repo} (version " in result.stderr
    assert "What is your role?" in result.stdout  # the installed copy is what ran
