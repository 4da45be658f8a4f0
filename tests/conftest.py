from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.channels.service import Triage
from bot.conversation.content import Content, load_content
from bot.conversation.engine import Button, Command, Engine, Event, Outcome, Press, Reply, Text
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s" * 64


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content(ROOT)


class Clock:
    """A controllable clock for tests."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=5)
        return self.now


def codes() -> Iterator[str]:
    for n in itertools.count(1):
        yield f"MPSP-TEST-{n:04d}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "triage.db")
    yield s
    s.close()


@pytest.fixture
def triage(store: Store, content: Content) -> Triage:
    seq = codes()
    return Triage(store, Engine(content), clock=Clock(), new_code=lambda: next(seq))


class Walker:
    """A person using the engine through the service, pressing buttons by label."""

    def __init__(self, triage: Triage, subject: str = "a" * 64) -> None:
        self.triage = triage
        self.subject = subject
        self.outcomes: list[Outcome] = []
        self.screen: Reply | None = None  # newest message that has callback buttons

    def send(self, event: Event) -> Outcome:
        outcome = self.triage.handle(self.subject, event)
        assert outcome is not None
        self.outcomes.append(outcome)
        for reply in outcome.replies:
            if any(b.data for row in reply.buttons for b in row):
                self.screen = reply
        return outcome

    def command(self, name: str) -> Outcome:
        return self.send(Command(name))

    def type(self, text: str) -> Outcome:
        return self.send(Text(text))

    def buttons(self) -> list[Button]:
        assert self.screen is not None
        return [b for row in self.screen.buttons for b in row]

    def button(self, label: str) -> Button:
        matches = [b for b in self.buttons() if b.label == label] or [
            b for b in self.buttons() if label in b.label
        ]
        assert matches, f"no button {label!r}; have {[b.label for b in self.buttons()]}"
        return matches[0]

    def tap(self, label: str) -> Outcome:
        return self.send(Press(self.button(label).data or ""))

    def tick(self, *labels: str) -> Outcome:
        out = None
        for label in labels:
            out = self.tap(label)
        assert out is not None
        return out

    @property
    def text(self) -> str:
        assert self.screen is not None
        return self.screen.text

    def last_texts(self) -> list[str]:
        return [r.text for r in self.outcomes[-1].replies if r.text]

    def state(self) -> str | None:
        conv = self.triage.store.load(self.subject)
        return conv.state if conv else None


@pytest.fixture
def walker(triage: Triage) -> Walker:
    return Walker(triage)


MUTUAL_ANSWERS = [
    ("tap", "A Public Service Mutual"),
    ("tap", "Leadership team"),
    ("tap", "Health"),
    ("tap", "London"),
    ("tap", "51 to 250"),
    ("tap", "£5m to £20m"),
    ("tap", "Over 5, up to 10 years"),
    ("tap", "3"),
    ("tick", "Informal: agreement", "Subcontracting as the lead"),
    ("tap", "4"),
    ("tap", "Yes, definitely"),
    ("tick", "Bid for larger contracts", "Share back-office costs"),
    ("tick", "Legal arrangements are complex", "Not enough time or capacity"),
    ("tap", "Legal arrangements are complex"),
    ("tick", "Commercial advice", "Legal advice", "Financial modelling"),
    ("tap", "due within a month"),
    # The reserved contract's tests (a live bid shows an interest in public contracts).
    ("tap", "Yes"),
    ("tap", "Yes"),
    ("tap", "Yes"),
    ("tap", "No"),
    ("type", "We would like to hear about partners near us."),
]


def answer_all(walker: Walker, steps: list[tuple[str, ...]]) -> None:
    """Apply scripted steps; multi-select steps tick then press Done."""
    for kind, *args in steps:
        if kind == "tap":
            walker.tap(args[0])
        elif kind == "tick":
            walker.tick(*args)
            walker.tap("Done")
        elif kind == "type":
            walker.type(args[0])
        elif kind == "skip":
            walker.tap("Skip")
        else:
            raise ValueError(kind)


@pytest.fixture
def safe_logging() -> Iterator[None]:
    """The bot's own logging set-up for one test, undone afterwards."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
