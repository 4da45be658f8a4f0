"""The README stays true: its test command is what CI runs, and every setting is documented."""

from __future__ import annotations

import re

from .conftest import ROOT


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    main_command = blocks[0]
    assert main_command.endswith("python -m bot") and "pip install ." in main_command


def test_every_setting_is_documented() -> None:
    source = (ROOT / "bot" / "settings.py").read_text(encoding="utf-8")
    names = set(re.findall(r'"((?:TRIAGE|TELEGRAM)_[A-Z_]+)"', source))
    assert len(names) >= 14
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [n for n in sorted(names) if f"| `{n}` |" not in readme]
    assert missing == []


def test_every_command_is_documented() -> None:
    from bot.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    names += [g.name for g in app.registered_groups]
    for name in names:
        assert f"`python -m bot {name}" in readme, name


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
    assert "telegram_bot.py" not in readme  # the transport moved to bot/telegram/
