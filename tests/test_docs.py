"""The README stays true: its test command is what CI runs, and every setting is documented."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .conftest import ROOT


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    main_command = blocks[0]
    assert main_command.endswith("python -m bot") and "pip install ." in main_command


class _Reading(Mapping[str, str]):
    """An empty environment that remembers every name asked of it."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        self.asked.add(name)
        return default

    def __contains__(self, name: object) -> bool:
        self.asked.add(str(name))
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _settings_table(readme: str) -> list[str]:
    """The variable of each row of the README's settings table, in order."""
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [re.match(r"\| `([A-Z_]+)` \|", row).group(1) for row in rows]  # type: ignore[union-attr]


def test_the_settings_table_is_every_setting_once() -> None:
    """Both ways: every variable Settings reads is in the table, and every row is one it reads."""
    from bot.settings import load_settings

    environment = _Reading()
    load_settings(environment)
    read = {name for name in environment.asked if name.startswith(("TRIAGE_", "TELEGRAM_"))}
    assert len(read) >= 30
    documented = _settings_table((ROOT / "README.md").read_text(encoding="utf-8"))
    assert sorted(read - set(documented)) == [], "read by Settings, not in the table"
    assert sorted(set(documented) - read) == [], "in the table, not a setting"
    assert len(documented) == len(set(documented)), "a setting in the table twice"


def test_every_command_is_documented() -> None:
    from bot.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # Every command the command line lists, the lazily loaded ones included.
    names = app.list_commands(app.make_context("python -m bot", [], resilient_parsing=True))
    for name in names:
        assert f"`python -m bot {name}" in readme, name


def test_the_readme_team_examples_run_as_written(tmp_path, monkeypatch) -> None:
    """Every command in the team's example block works, in a fresh folder, with no traceback."""
    import shlex

    from click.testing import CliRunner

    from bot.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```sh\n(.*?)\n```", readme, re.S) if "demo-data" in b)
    commands = [line.split("#")[0].split() for line in block.splitlines()]
    names = {words[3] for words in commands}
    assert {"demo-data", "report", "review", "lookup", "export", "backup"} <= names
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for words in commands:
        assert words[:3] == [".venv/bin/python", "-m", "bot"], words
        args = [("300" if w == "2000" else w) for w in words[3:]]  # fewer demo rows: faster
        if args[0] == "review":
            continue  # a server; its own tests start it on a free port
        result = runner.invoke(app, args, env={"TRIAGE_CONTENT_DIR": str(ROOT)})
        text = shlex.join(words)
        assert result.exception is None or isinstance(result.exception, SystemExit), text
        assert "Traceback" not in result.output, text
        if args[0] == "lookup":  # an example code: nobody has it, and it says so in one line
            assert result.exit_code == 1 and "no response has the code" in result.output
        else:
            assert result.exit_code == 0, (text, result.output)
    assert (tmp_path / "report.html").exists() and (tmp_path / "demo-backup.db").exists()
    # A demo database: every row says so first.
    answers = (tmp_path / "answers.csv").read_text(encoding="utf-8")
    assert answers.startswith("dataset,response,")


def test_readme_mentions_what_the_tests_need_and_the_guide_points_inside_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Graphviz" in readme and "Chromium" in readme
    guide = (ROOT / "content" / "README.md").read_text(encoding="utf-8")
    # Every file an editor owns is in the guide's table.
    for path in sorted((ROOT / "content").glob("*.yaml")):
        assert f"`content/{path.name}`" in guide, path.name
    assert "`templates/report/report.html.j2`" in guide
    # Links and paths it gives exist in a clone.
    for target in re.findall(r"\]\(([^)#]+)\)|`(\.\./[^`]+)`", guide):
        relative = next(t for t in target if t)
        if "://" not in relative:
            assert (ROOT / "content" / relative).resolve().exists(), relative


def test_readme_describes_webhook_mode_the_sealed_address_and_the_benchmark() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python -m bot run --webhook" in readme
    privacy = readme.split("## Privacy by construction", 1)[1].split("\n## ", 1)[0]
    assert "encrypted" in privacy
    assert "deleted as soon as the message is delivered or dropped" in privacy
    modules = re.findall(r"python -m (bench\.\w+)", readme)
    assert "bench.transport" in modules
    for module in modules:
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module
    assert "telegram_bot.py" not in readme  # the transport moved to bot/channels/telegram/
