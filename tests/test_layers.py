"""The package layers (issue 19): each part of ``bot/`` imports only the parts below it.

Bottom to top: the shared modules at the top of ``bot/``; ``bot.conversation``; ``bot.store``;
``bot.ops``; then ``bot.channels``, ``bot.team`` and ``bot.editors`` side by side; and
``bot.cli``, which wires everything. Every ``import`` in every module is read with ``ast``
(nothing is imported), relative ones resolved, those inside functions included.
CONTRIBUTING.md says why each rule is there; change a rule here and there together.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator

from .conftest import ROOT

# The modules at the top of bot/ that every layer may use; they import only each other.
SHARED = frozenset(
    {"settings", "privacy", "disclosure", "sealing", "later", "contacts", "logsafe", "clock"}
)
# What each layer may import (itself included): the layers listed before it, except that the
# channels, the team's tools and the editors' tools sit side by side and do not import each
# other. The command line may import anything.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "shared": frozenset({"shared"}),
    "conversation": frozenset({"conversation", "shared"}),
    "store": frozenset({"store", "conversation", "shared"}),
    "ops": frozenset({"ops", "store", "conversation", "shared"}),
    "channels": frozenset({"channels", "ops", "store", "conversation", "shared"}),
    "team": frozenset({"team", "ops", "store", "conversation", "shared"}),
    "editors": frozenset({"editors", "ops", "store", "conversation", "shared"}),
    "cli": frozenset(
        {"cli", "channels", "team", "editors", "ops", "store", "conversation", "shared"}
    ),
    "main": frozenset({"cli"}),  # bot/__main__.py: `python -m bot`
}
# The few modules above them that the editors may import, to check what they render: the web
# pages (and the result they draw) and the team's report (and the tables it draws).
EDITORS_CHECK = frozenset(
    {
        "bot.channels.web.pages",
        "bot.channels.web.result",
        "bot.team.reporting",
        "bot.team.analytics",
    }
)
# Inside bot.channels: each channel imports only itself and the service they share, and the
# service imports no channel.
CHANNELS = frozenset({"telegram", "web", "terminal"})


def module_name(path: str) -> str:
    """``bot/channels/web/__init__.py`` -> ``bot.channels.web``."""
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str | None:
    """The layer a module of ``bot`` belongs to (None: it is in none)."""
    parts = module.split(".")
    if parts == ["bot"]:
        return "shared"  # the package itself: its version, nothing more
    if parts[1] == "__main__":
        return "main"
    if parts[1] in SHARED:
        return "shared" if len(parts) == 2 else None
    return parts[1] if parts[1] in MAY_IMPORT and parts[1] not in ("shared", "main") else None


def channel(module: str) -> str | None:
    """Which part of bot.channels a module is: telegram, web, terminal, service (or None)."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "channels" else None


def imports(path: str, source: str, known: frozenset[str]) -> Iterator[tuple[int, str]]:
    """(line, module) for every ``bot`` module that ``source`` imports, wherever it does."""
    module = module_name(path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    for node in ast.walk(_parse(path, source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from bot.team import inline` imports the module bot.team.inline.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in dict.fromkeys(targets):  # each module once a line
            if target == "bot" or target.startswith("bot."):
                yield node.lineno, target


@functools.cache
def _parse(path: str, source: str) -> ast.Module:
    return ast.parse(source, path)


def broken_rule(importer: str, target: str) -> str | None:
    """The rule ``importer`` breaks by importing ``target``, in words (None: none)."""
    mine, theirs = layer(importer), layer(target)
    if mine is None:
        return f"{importer} is in no layer: add it to the rules in tests/test_layers.py"
    if theirs == "cli" and mine not in ("cli", "main"):
        return "nothing outside bot.cli (and bot/__main__.py) imports the command line"
    if theirs is None:
        return f"{target} is in no layer"
    if mine == "editors" and theirs not in MAY_IMPORT[mine]:
        if target in EDITORS_CHECK:
            return None
        allowed = ", ".join(sorted([*MAY_IMPORT[mine], *EDITORS_CHECK]))
        return f"{mine} may import only: {allowed}"
    if theirs not in MAY_IMPORT[mine]:
        return f"{mine} may import only: {', '.join(sorted(MAY_IMPORT[mine]))}"
    here, there = channel(importer), channel(target)
    if here in CHANNELS and there in CHANNELS and here != there:
        return f"the channels ({', '.join(sorted(CHANNELS))}) do not import each other"
    if here == "service" and there in CHANNELS:
        return "bot.channels.service is shared by the channels: it imports none of them"
    return None


def violations(files: Iterable[tuple[str, str]], known: frozenset[str]) -> list[str]:
    """One line per broken rule: ``file:line: importer imports target: the rule``."""
    found = []
    for path, source in files:
        importer = module_name(path)
        if layer(importer) is None:
            found.append(f"{path}:1: {broken_rule(importer, importer)}")
            continue
        for line, target in imports(path, source, known):
            rule = broken_rule(importer, target)
            if rule is not None:
                found.append(f"{path}:{line}: {importer} imports {target}: {rule}")
    return found


def bot_files() -> list[tuple[str, str]]:
    """(path from the repository root, source) of every module under bot/."""
    return [
        (path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "bot").rglob("*.py"))
    ]


FILES = bot_files()
KNOWN = frozenset(module_name(path) for path, _ in FILES)


def test_every_module_keeps_to_its_layer() -> None:
    found = violations(FILES, KNOWN)
    assert not found, "imports that break the layers (see CONTRIBUTING.md):\n" + "\n".join(found)


def test_the_check_reads_every_module() -> None:
    assert len(FILES) > 50 and "bot.conversation.flow" in KNOWN and "bot.cli" in KNOWN
    assert sum(1 for path, source in FILES for _ in imports(path, source, KNOWN)) > 200


def test_the_check_finds_a_planted_import_inside_a_function() -> None:
    planted = "def show():\n    from bot.channels.telegram import convert\n    return convert\n"
    assert violations([("bot/conversation/flow.py", planted)], KNOWN) == [
        "bot/conversation/flow.py:2: bot.conversation.flow imports"
        " bot.channels.telegram.convert: conversation may import only: conversation, shared"
    ]


def test_the_check_resolves_relative_imports() -> None:
    planted = {
        # Two dots from bot/conversation/ is bot/: this is bot.cli.
        "bot/conversation/engine.py": "from .. import cli\nfrom . import flow\n",
        "bot/channels/web/app.py": "from ..telegram import sender\nfrom . import pages\n",
        "bot/channels/service.py": "from .terminal import TerminalChat\n",
        "bot/store/__init__.py": "from .. import settings\nfrom ..ops import health\n",
    }
    assert violations(planted.items(), KNOWN) == [
        "bot/conversation/engine.py:1: bot.conversation.engine imports bot.cli:"
        " nothing outside bot.cli (and bot/__main__.py) imports the command line",
        "bot/channels/web/app.py:1: bot.channels.web.app imports bot.channels.telegram.sender:"
        " the channels (telegram, terminal, web) do not import each other",
        "bot/channels/service.py:1: bot.channels.service imports bot.channels.terminal:"
        " bot.channels.service is shared by the channels: it imports none of them",
        "bot/store/__init__.py:2: bot.store imports bot.ops.health:"
        " store may import only: conversation, shared, store",
    ]


def test_the_editors_may_import_only_the_rendering_they_check() -> None:
    planted = (
        "from bot.channels.web.pages import Pages\n"
        "from bot.team.reporting import html_report\n"
        "from bot.channels.web.app import serve\n"
        "import bot.team.demo\n"
    )
    found = violations([("bot/editors/checker.py", planted)], KNOWN)
    assert [line.split(" imports ")[1].split(":")[0] for line in found] == [
        "bot.channels.web.app",
        "bot.team.demo",
    ]


def test_a_new_top_level_module_must_be_given_a_layer() -> None:
    assert violations([("bot/helpers.py", "")], KNOWN) == [
        "bot/helpers.py:1: bot.helpers is in no layer: add it to the rules in tests/test_layers.py"
    ]
