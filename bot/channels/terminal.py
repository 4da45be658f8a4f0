"""The terminal adapter: the same conversation, engine and store, typed at a console.

Buttons are numbered; type a number to press one, type text to answer a text question, and
use the same /commands as on Telegram (plus /quit).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape

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
TERMINAL_SUBJECT_ID = "terminal"


def html_to_rich(text: str) -> str:
    """Telegram HTML as Rich console markup."""
    out: list[str] = []
    links: list[str] = []
    pos = 0
    for match in _TAG.finditer(text):
        out.append(escape(html.unescape(text[pos : match.start()])))
        closing, name, attrs = match.groups()
        name = name.lower()
        if name == "a":
            if closing:
                href = links.pop() if links else ""
                out.append(f"[/underline] ({escape(href)})" if href else "[/underline]")
            else:
                href = re.search(r'href="([^"]*)"', attrs)
                links.append(html.unescape(href.group(1)) if href else "")
                out.append("[underline]")
        elif name in _STYLE:
            out.append(f"[/{_STYLE[name]}]" if closing else f"[{_STYLE[name]}]")
        pos = match.end()
    out.append(escape(html.unescape(text[pos:])))
    return "".join(out)


class TerminalChat:
    """Drives one conversation from console input."""

    def __init__(
        self,
        triage: Triage,
        subject: str,
        console: Console,
        read: Callable[[], str],
        plans_dir: Path = Path("plans"),
    ) -> None:
        self.triage = triage
        self.subject = subject
        self.console = console
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
                self.console.print()
                return
            if line.strip().lower() in ("/quit", "/exit", "/q"):
                return
            button = self.button_for(line)
            if button is not None and button.url:
                self.console.print(f"  {escape(button.url)}")
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
            self.console.print(f"[yellow]» {escape(outcome.notice)}[/yellow]")
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
        self.console.print(f"\n[green]Saved: {escape(str(path.resolve()))}[/green]")
        return path

    def print_reply(self, reply: Reply) -> None:
        """One message, with its buttons numbered."""
        self.console.print()
        self.console.print(html_to_rich(reply.text))
        if not reply.buttons:
            return
        self.buttons = [b for row in reply.buttons for b in row]
        for number, button in enumerate(self.buttons, start=1):
            self.console.print(f"  [bold cyan]{number:>2}[/bold cyan]  {escape(button.label)}")


def console_reader(console: Console) -> Callable[[], str]:
    """Read a line from the console with a prompt."""

    def read() -> str:
        return console.input("[bold]> [/bold]")

    return read


def lines_reader(lines: Iterator[str]) -> Callable[[], str]:
    """Read from an iterator of lines (tests, scripted demos); EOF at the end."""

    def read() -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    return read
