"""The engine package: one public Engine put together by feature, one table for presses, pure."""

from __future__ import annotations

import datetime as dt
import inspect
import subprocess
import sys

import pytest

from bot.conversation.engine import Engine, Press
from bot.conversation.engine.base import EngineBase
from bot.conversation.engine.events import Context
from bot.conversation.engine.presses import BEFORE_START, PRESSES

CTX = Context(
    now=dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC),
    new_code=lambda: "MPSP-7KQ3-X9TD",
    new_run=lambda: "run1",
)

# Every verb a button carries today (a follow-up's "fu" is an event of its own).
VERBS = {
    "go", "pv", "ct", "ag", "a", "t", "d", "s", "b", "c", "ok", "rs", "nt", "nn",
    "sec", "pl", "ho", "hs", "hx", "rm", "fw", "fx", "fg", "fk",
}  # fmt: skip


def test_the_press_table_lists_every_verb_once_each_handled_by_the_engine() -> None:
    assert set(PRESSES) == VERBS
    assert BEFORE_START.issubset(PRESSES)
    for verb, handler in PRESSES.items():
        # The handler is the Engine's own method of that name (nothing shadows it).
        assert getattr(Engine, handler.__name__) is handler, verb


def test_no_method_is_defined_by_two_features() -> None:
    features = [c for c in Engine.__mro__ if issubclass(c, EngineBase) and c is not Engine]
    seen: dict[str, str] = {}
    for feature in features:
        for name, value in vars(feature).items():
            if inspect.isfunction(value) and not name.startswith("__"):
                assert name not in seen, f"{name} in {seen.get(name)} and {feature.__name__}"
                seen[name] = feature.__name__


def test_unknown_and_old_presses(content) -> None:
    """An unknown verb re-shows where the person is; an old step wins over an unknown verb."""
    engine = Engine(content)
    notices = engine.notices
    assert engine.handle(None, Press("zz|0"), CTX).notice == notices.expired
    assert engine.handle(None, Press("ct|0"), CTX).notice == notices.expired  # needs a check
    assert engine.handle(None, Press("fg|0|run1"), CTX).notice == notices.expired
    assert engine.handle(None, Press("go|x"), CTX).notice == notices.unknown
    started = engine.handle(None, Press("go|0"), CTX).conversation
    assert started is not None
    unknown = engine.handle(started, Press(f"zz|{started.step}"), CTX)
    assert (unknown.notice, unknown.stale, unknown.conversation) == (notices.unknown, True, started)
    old = engine.handle(started, Press(f"zz|{started.step - 1}"), CTX)
    assert (old.notice, old.stale) == (notices.stale, True)


@pytest.fixture(scope="module")
def loaded() -> list[str]:
    """The modules importing the engine loads, in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", "import sys, bot.conversation.engine; print(*sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


@pytest.mark.parametrize(
    "forbidden",
    ["telegram", "aiohttp", "sqlite3", "sqlite_utils", "bot.store", "bot.channels", "bot.team",
     "bot.editors", "bot.ops", "bot.cli", "bot.settings"],
)  # fmt: skip
def test_the_engine_imports_no_transport_store_or_tool(loaded: list[str], forbidden: str) -> None:
    assert [m for m in loaded if m == forbidden or m.startswith(forbidden + ".")] == []
