"""The terminal adapter: the same conversation, engine and store, typed at a console.

Buttons are numbered; type a number to press one, type text to answer a text question, and
use the same /commands as on Telegram (plus /quit).

It prints with click alone (``Screen``): the chat is what ``python -m bot`` runs, and rich,
which the editors' tools draw with, is not installed with the bot.
"""

from __future__ import annotations

import html
import itertools
import os
import re
import shutil
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from bot.channels.service import Triage
from bot.conversation.engine import Button, Command, Document, Event, Outcome, Press, Reply, Text

_TAG = re.compile(r"<(/?)([a-zA-Z-]+)([^>]*)>")
_STYLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strike",
    "strike": "strike",
    "del": "strike",
    "code": "cyan",
    "pre": "cyan",
    "blockquote": "dim",
    "tg-spoiler": "reverse",
    "span": "reverse",
}
# Each style above as click.style's keyword arguments.
_CLICK_STYLE: dict[str, dict[str, Any]] = {
    "bold": {"bold": True},
    "italic": {"italic": True},
    "underline": {"underline": True},
    "strike": {"strikethrough": True},
    "cyan": {"fg": "cyan"},
    "dim": {"dim": True},
    "reverse": {"reverse": True},
}
TERMINAL_SUBJECT_ID = "terminal"

Style = Mapping[str, Any]
"""click.style's keyword arguments: ``{"bold": True, "fg": "cyan"}``."""
Span = tuple[str, Style]
"""A piece of text and its style."""

PLAIN: Style = {}


def _html_pieces(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Telegram HTML as pieces of plain text, each with the styles open over it (by name).

    A link's address follows its words. The chat and the editors' preview both read replies
    through this one walk: :func:`html_spans` for click, :func:`html_to_rich` for rich.
    """
    pieces: list[tuple[str, tuple[str, ...]]] = []
    open_styles: list[str] = []
    links: list[str] = []

    def add(piece: str) -> None:
        if piece:
            pieces.append((piece, tuple(open_styles)))

    pos = 0
    for match in _TAG.finditer(text):
        add(html.unescape(text[pos : match.start()]))
        closing, name, attrs = match.groups()
        name = name.lower()
        if name == "a":
            if closing:
                href = links.pop() if links else ""
                _close(open_styles, "underline")
                add(f" ({href})" if href else "")
            else:
                href = re.search(r'href="([^"]*)"', attrs)
                links.append(html.unescape(href.group(1)) if href else "")
                open_styles.append("underline")
        elif name in _STYLE:
            if closing:
                _close(open_styles, _STYLE[name])
            else:
                open_styles.append(_STYLE[name])
        pos = match.end()
    add(html.unescape(text[pos:]))
    return pieces


def html_spans(text: str) -> list[Span]:
    """Telegram HTML as styled pieces of text (click.style's arguments); links as above."""
    spans: list[Span] = []
    for piece, names in _html_pieces(text):
        style: dict[str, Any] = {}
        for name in names:
            style.update(_CLICK_STYLE[name])
        spans.append((piece, style))
    return spans


def _close(open_styles: list[str], name: str) -> None:
    """End the innermost open ``name`` (a closing tag with nothing open ends nothing)."""
    for index in range(len(open_styles) - 1, -1, -1):
        if open_styles[index] == name:
            del open_styles[index]
            return


def html_to_rich(text: str) -> str:
    """Telegram HTML as Rich console markup, for the editors' preview (which draws with rich)."""
    from rich.markup import escape  # only the editors' tools, which have rich, call this

    out: list[str] = []
    for piece, names in _html_pieces(text):
        styles = " ".join(dict.fromkeys(names))
        out.append(f"[{styles}]{escape(piece)}[/{styles}]" if styles else escape(piece))
    return "".join(out)


# ---- word wrapping, as the chat always wrapped ------------------------------------------------

# Bell, backspace, vertical tab, form feed and carriage return: typed text must not move the
# cursor or rewrite what the terminal shows.
_CONTROL = {7: None, 8: None, 11: None, 12: None, 13: None}
_WORD = re.compile(r"\s*\S+\s*")
_TRAILING_SPACE = re.compile(r"\s+$")


def cell_width(text: str) -> int:
    """How many terminal columns ``text`` takes: wide characters and emoji take two."""
    width = 0
    previous = ""
    for char in text:
        code = ord(char)
        if 32 <= code < 0x300:
            width += 1
        elif code < 32 or previous == "\u200d":
            pass  # a control character, or joined to the emoji before it
        elif char == "\ufe0f":
            if previous and _base_width(previous) == 1:
                width += 1  # shown as an emoji: two columns
        elif 0x1F3FB <= code <= 0x1F3FF and previous:
            pass  # a skin tone, part of the emoji before it
        else:
            width += _base_width(char)
        previous = char
    return width


def _base_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _clusters(text: str) -> list[str]:
    """``text`` as the characters people see: an emoji with its joiners and modifiers is one."""
    clusters: list[str] = []
    for char in text:
        joins = clusters and (
            clusters[-1].endswith("\u200d")
            or char in ("\u200d", "\ufe0f")
            or 0x1F3FB <= ord(char) <= 0x1F3FF
            or (ord(char) >= 0x300 and _base_width(char) == 0)
        )
        if joins:
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _chop(word: str, width: int) -> list[str]:
    """A word too long for a line, in pieces that each fit."""
    pieces: list[str] = []
    current, size = "", 0
    for cluster in _clusters(word):
        cells = cell_width(cluster)
        if size + cells > width:
            pieces.append(current)
            current, size = "", 0
        current += cluster
        size += cells
    if current:
        pieces.append(current)
    return pieces


def _breaks(line: str, width: int) -> list[int]:
    """Where to break one line so each part fits ``width``: between words, or inside a long one."""
    breaks: list[int] = []
    offset = 0
    for match in _WORD.finditer(line):
        start, word = match.start(), match.group(0)
        length = cell_width(word.rstrip())
        if width - offset >= length:
            offset += cell_width(word)
        elif length > width:
            pieces = _chop(word, width)
            for number, piece in enumerate(pieces):
                if start:
                    breaks.append(start)
                if number == len(pieces) - 1:
                    offset = cell_width(piece)
                else:
                    start += len(piece)
        elif offset and start:
            breaks.append(start)
            offset = cell_width(word)
    return breaks


def _crop(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns."""
    while text and cell_width(text) > width:
        text = text[:-1]
    return text


def _lines(spans: Sequence[Span]) -> list[list[Span]]:
    """Styled text split at its new lines (an empty line is an empty list)."""
    lines: list[list[Span]] = [[]]
    for text, style in spans:
        for number, part in enumerate(text.translate(_CONTROL).split("\n")):
            if number:
                lines.append([])
            if part:
                lines[-1].append((part, style))
    return lines


def wrap(spans: Sequence[Span], width: int) -> list[list[Span]]:
    """Styled text as lines at most ``width`` columns wide, broken between words.

    As the chat has always shown it: each line of the text on its own, a word longer than a
    line cut into pieces, spaces at a break kept only up to the width.
    """
    wrapped: list[list[Span]] = []
    for line in _lines(spans):
        plain = "".join(text for text, _ in line)
        if "\t" in plain:
            # Tab stops count from the start of the line; rare enough to drop the styles.
            plain = _expand_tabs(plain)
            line = [(plain, PLAIN)]
        cuts = [0, *_breaks(plain, width), len(plain)]
        for begin, end in itertools.pairwise(cuts):
            excess = (end - begin) - width
            if excess > 0 and (space := _TRAILING_SPACE.search(plain, begin, end)):
                end -= min(len(space.group(0)), excess)
            wrapped.append(_slice(line, begin, end, width))
    return wrapped


def _expand_tabs(line: str) -> str:
    """Tabs as spaces to the next column that is a multiple of 8."""
    out = ""
    for part in line.split("\t")[:-1]:
        out += part
        out += " " * (8 - cell_width(out) % 8)
    return out + line.split("\t")[-1]


def _slice(spans: Sequence[Span], begin: int, end: int, width: int) -> list[Span]:
    """The styled pieces between two offsets of the spans' joined text, cut to ``width``."""
    out: list[Span] = []
    pos = 0
    room = width
    for text, style in spans:
        lo, hi = max(begin, pos), min(end, pos + len(text))
        if lo < hi:
            piece = _crop(text[lo - pos : hi - pos], room)
            room -= cell_width(piece)
            out.append((piece, style))
        pos += len(text)
    return out


class Screen:
    """Where the chat prints: word-wrapped to the terminal's width, styled when it is one.

    ``file``: a text stream (default: standard output). ``width``: columns (default: the
    terminal's, or $COLUMNS, or 80). ``color``: force styles on or off (default: on a
    terminal only, and never with NO_COLOR set).
    """

    def __init__(
        self, file: TextIO | None = None, width: int | None = None, color: bool | None = None
    ) -> None:
        self.file = file
        self._width = width
        self.color = False if color is None and os.environ.get("NO_COLOR") else color

    @property
    def width(self) -> int:
        """Columns to wrap at."""
        return self._width or shutil.get_terminal_size().columns

    def print(self, text: str = "", style: Style = PLAIN) -> None:
        """One paragraph of text, in one style."""
        self.write([(text, style)])

    def write(self, spans: Sequence[Span]) -> None:
        """Styled text, wrapped, ending with a new line."""
        for line in wrap(spans, self.width):
            text = "".join(click.style(t, **s) if s else t for t, s in line)
            click.echo(text, file=self.file, color=self.color)

    def input(self, prompt: str, style: Style = PLAIN) -> str:
        """Show ``prompt``, then read a line (EOFError at the end of input)."""
        click.echo(click.style(prompt, **style), file=self.file, nl=False, color=self.color)
        return input()


class TerminalChat:
    """Drives one conversation from console input."""

    def __init__(
        self,
        triage: Triage,
        subject: str,
        screen: Screen,
        read: Callable[[], str],
        plans_dir: Path = Path("plans"),
    ) -> None:
        self.triage = triage
        self.subject = subject
        self.screen = screen
        self.read = read
        self.plans_dir = plans_dir  # where "Full plan as a file" writes the plan
        self.buttons: list[Button] = []

    def run(self) -> None:
        """Show where the person is, then read and answer lines until /quit or end of input."""
        self.show(self.triage.handle(self.subject, Command("start")))
        while True:
            try:
                line = self.read()
            except (EOFError, KeyboardInterrupt):
                self.screen.print()
                return
            if line.strip().lower() in ("/quit", "/exit", "/q"):
                return
            button = self.button_for(line)
            if button is not None and button.url:
                self.screen.print(f"  {button.url}")
                continue
            event = Press(button.data or "") if button is not None else self.parse(line)
            self.show(self.triage.handle(self.subject, event))

    def button_for(self, line: str) -> Button | None:
        """The button a typed number refers to, if it is one."""
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(self.buttons):
            return self.buttons[int(text) - 1]
        return None

    @staticmethod
    def parse(line: str) -> Event:
        """A typed line that is not a button number: a /command or text."""
        text = line.strip()
        if text.startswith("/"):
            return Command(text[1:].split(maxsplit=1)[0].lower() if len(text) > 1 else "")
        return Text(line)

    def show(self, outcome: Outcome) -> None:
        """Print replies; remember the numbered buttons of the last one that has any."""
        if outcome.notice:
            self.screen.print(f"» {outcome.notice}", {"fg": "yellow"})
        for reply in outcome.replies:
            if reply.audience != "person":
                continue  # posts for the team's Telegram chat are not shown here
            if reply.edit and not reply.buttons:
                continue  # the Telegram message loses its buttons: nothing to show here
            if reply.document is not None:
                self.save(reply.document)
            self.print_reply(reply)

    def save(self, document: Document) -> Path:
        """Write a file the bot sends (the plan) into the plans folder and say where."""
        self.plans_dir.mkdir(parents=True, exist_ok=True)
        path = self.plans_dir / Path(document.filename).name
        path.write_bytes(document.data)
        self.screen.print()
        self.screen.print(f"Saved: {path.resolve()}", {"fg": "green"})
        return path

    def print_reply(self, reply: Reply) -> None:
        """One message, with its buttons numbered."""
        self.screen.print()
        self.screen.write(html_spans(reply.text))
        if not reply.buttons:
            return
        self.buttons = [b for row in reply.buttons for b in row]
        for number, button in enumerate(self.buttons, start=1):
            self.screen.write(
                [
                    ("  ", PLAIN),
                    (f"{number:>2}", {"bold": True, "fg": "cyan"}),
                    (f"  {button.label}", PLAIN),
                ]
            )


def screen_reader(screen: Screen) -> Callable[[], str]:
    """Read a line from the terminal with a prompt."""

    def read() -> str:
        return screen.input("> ", {"bold": True})

    return read


def lines_reader(lines: Iterator[str]) -> Callable[[], str]:
    """Read from an iterator of lines (tests, scripted demos); EOF at the end."""

    def read() -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    return read
