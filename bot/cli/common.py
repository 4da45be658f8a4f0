"""Pieces every command shares: options, help, errors, settings and content loading.

The command line is click alone: ``run``, ``web``, ``chat`` and the operators' commands never
import rich (which the team's and editors' tools draw with, and which the image leaves out
unless it is built with those tools).
"""

from __future__ import annotations

import enum
import logging
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bot.channels.terminal import PLAIN, Screen, Style
from bot.cli.source import content_source
from bot.conversation.content import Content, load_content
from bot.conversation.yamlfile import ContentError
from bot.settings import Settings, SettingsError, load_settings
from bot.store import Store, StoreError, check_database_path, explain

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

F = TypeVar("F", bound=Callable[..., Any])

# The optional libraries of the team's and editors' tools (the `tools` extra).
TOOL_LIBRARIES = frozenset({"rich", "textstat", "graphviz", "datasette"})


def rich_console(stderr: bool = False) -> Console:
    """The tools' rich console on standard output (or error), made on first use.

    rich is an optional extra: only the team's and editors' tools print with it.
    """
    name = "err" if stderr else "out"
    console = _CONSOLES.get(name)
    if console is None:
        from rich.console import Console

        console = _CONSOLES[name] = Console(stderr=stderr, highlight=False)
    return console


_CONSOLES: dict[str, Console] = {}


def say(text: str, style: Style = PLAIN) -> None:
    """Print a paragraph on standard output, word-wrapped to the terminal, as rich did."""
    Screen().print(text, style)


# ---- help: click's own layout, with arguments listed and commands' lines whole ------------------


class HelpFormatter(click.HelpFormatter):
    """click's help layout with a first column up to 40 wide.

    So ``--by [sector|size|region|readiness]`` and its description fit on one line.
    """

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        """A definition list (options, commands) whose first column may be 40 wide."""
        super().write_dl(rows, col_max=max(col_max, 40), col_spacing=col_spacing)


class HelpContext(click.Context):
    """The context of every command: its help uses :class:`HelpFormatter`."""

    formatter_class = HelpFormatter


class HelpArgument(click.Argument):
    """An argument with a line of help, listed under "Arguments:" in the command's help."""

    def __init__(self, param_decls: Sequence[str], help: str | None = None, **attrs: Any) -> None:
        super().__init__(param_decls, **attrs)
        self.help = help


def _short_help(command: click.Command) -> str:
    """A command's line in a list of commands: the first paragraph of its help, whole."""
    if command.short_help:
        return command.short_help
    first = (command.help or "").strip().split("\n\n")[0]
    return " ".join(first.split())


def _format_arguments(command: click.Command, ctx: click.Context, formatter: Any) -> None:
    rows = []
    for param in command.get_params(ctx):
        if isinstance(param, HelpArgument) and param.help:
            extra = "  [required]" if param.required else ""
            rows.append((param.metavar or (param.name or "value").upper(), param.help + extra))
    if rows:
        with formatter.section("Arguments"):
            formatter.write_dl(rows)


class TriageCommand(click.Command):
    """A command: arguments listed with their help, and remembered for the one-line errors."""

    context_class = HelpContext

    def get_short_help_str(self, limit: int = 45) -> str:
        """The first paragraph of the help, never cut short with "..."."""
        return _short_help(self)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Usage, help, "Arguments:" (each with its help), "Options:", as the help always read."""
        self.format_usage(ctx, formatter)
        self.format_help_text(ctx, formatter)
        _format_arguments(self, ctx, formatter)
        self.format_options(ctx, formatter)
        self.format_epilog(ctx, formatter)

    def format_arguments(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Nothing: the arguments are listed by :meth:`format_help`, under "Arguments:"."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse, saying "extra argument(s)" whatever their number, as the command line did."""
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if exc.message.startswith("Got unexpected extra argument"):
                exc.message = "Got unexpected extra argument(s) " + exc.message.split(" ", 4)[4]
            raise

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, noting its name for a one-line error about missing tools."""
        ctx.meta[_COMMAND_KEY] = _command_name(ctx)
        return super().invoke(ctx)


class TriageSubgroup(click.Group):
    """A group of commands (``content``, ``flow``): listed in the order they were added."""

    context_class = HelpContext
    command_class = TriageCommand

    def get_short_help_str(self, limit: int = 45) -> str:
        """The first paragraph of the help, never cut short with "..."."""
        return _short_help(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands in the order they were added, as the help lists them."""
        return list(self.commands)


TriageSubgroup.group_class = TriageSubgroup


def command(group: click.Group, name: str | None = None) -> Callable[[F], F]:
    """Add the decorated function to ``group`` as a command (its docstring is the help)."""

    def add(function: F) -> F:
        group.add_command(click.command(name, cls=TriageCommand)(function))
        return function

    return add


# ---- parameters, with the words the command line has always used ------------------------------


class Integer(click.IntRange):
    """A whole number (at least ``min``, if given), read as leniently as it always was."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The number, or a usage error in the command line's usual words."""
        if isinstance(value, int):
            number = value
        else:
            number = _whole(str(value))
            if number is None:
                self.fail(
                    "Input should be a valid integer, unable to parse string as an integer",
                    param,
                    ctx,
                )
        if self.min is not None and number < self.min:
            self.fail(f"Input should be greater than or equal to {self.min}", param, ctx)
        return number

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        """INTEGER, as for any whole number (the range is said after the help)."""
        return "INTEGER"

    def _describe_range(self) -> str:
        """The range after the help ("x>=1"), or nothing when any number will do."""
        if self.min is None and self.max is None:
            return ""
        return super()._describe_range()


def _whole(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        pass
    try:
        number = float(text.strip())  # "3.0" is 3, as it always was; "3.5" is not
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


class EnumChoice(click.Choice):  # type: ignore[type-arg]
    """One of an enum's values (exactly as written), given to the command as the enum."""

    def __init__(self, enum_type: type[enum.Enum]) -> None:
        super().__init__([str(member.value) for member in enum_type])
        self.enum_type = enum_type

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The enum member, or a usage error in the command line's usual words."""
        if isinstance(value, self.enum_type):
            return value
        for member in self.enum_type:
            if str(value) == str(member.value):
                return member
        listed = ", ".join(repr(str(member.value)) for member in self.enum_type)
        self.fail(f"Value error, {str(value)!r} is not one of {listed}.", param, ctx)


PATH = click.Path(path_type=Path)

db_option = click.option(
    "--db",
    type=PATH,
    default=None,
    help="SQLite database file (default: $TRIAGE_DB or ./triage.db).",
)
content_option = click.option(
    "--content",
    type=PATH,
    default=None,
    help="Folder holding flows/, templates/ and content/ "
    "(default: $TRIAGE_CONTENT_DIR or the copy shipped with the bot).",
)


def fail(message: str, code: int = 2) -> click.exceptions.Exit:
    """Print a one-line error and return the exit to raise."""
    click.echo(f"{click.style('error:', fg='red', bold=True)} {message}", err=True)
    return click.exceptions.Exit(code)


# ---- one line for every error ------------------------------------------------------------------

# Where ctx.meta (shared by every command's context) keeps the database a command opened, so an
# SQLite error raised later, outside the store, can still name the file; and the command run.
_DB_KEY = "triage.db_path"
_COMMAND_KEY = "triage.command"
_TOKEN_LIKE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
# Usage errors, --help and exits are the command line's own business: let them through.
_PASS_THROUGH = (click.exceptions.Exit, click.Abort, click.ClickException)


def _command_name(ctx: click.Context) -> str:
    """The words of the command being run, after ``python -m bot``: "report", "content check"."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


def missing_tool(exc: ImportError) -> bool:
    """Whether ``exc`` says one of the tools' optional libraries is not installed."""
    return (exc.name or "").split(".")[0] in TOOL_LIBRARIES


def needs_tools(command: str) -> click.exceptions.Exit:
    """The one line for a tools command run without the `tools` extra (and the exit, 2)."""
    return fail(
        f"{command} needs the team's and editors' tools: pip install '.[tools]' in the bot's "
        "folder (in a container, build the image's tools target)"
    )


class TriageGroup(TriageSubgroup):
    """The root command. Whatever a command forgets to catch is shown as one line.

    A problem with the database file (StoreError) is printed as it is; any other SQLite error
    is explained with the path of the database the command opened; a tools command run
    without its optional library says how to install it; anything unexpected is one line too
    (with TRIAGE_LOG_LEVEL=DEBUG, the traceback follows for developers).
    """

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, turning errors into one-line messages."""
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except StoreError as exc:
            raise fail(str(exc)) from None
        except sqlite3.Error as exc:
            path = ctx.meta.get(_DB_KEY)
            explained = explain(exc, path) if path is not None else None
            if explained is not None:
                raise fail(str(explained)) from None
            _unexpected(ctx, exc)
        except ImportError as exc:
            if missing_tool(exc):
                raise needs_tools(ctx.meta.get(_COMMAND_KEY) or "this command") from None
            _unexpected(ctx, exc)
        except Exception as exc:
            _unexpected(ctx, exc)


def _unexpected(ctx: click.Context, exc: Exception) -> None:
    settings = ctx.find_root().obj
    debug = isinstance(settings, Settings) and settings.log_level == "DEBUG"
    if debug:
        raise exc
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    token = settings.token if isinstance(settings, Settings) else None
    if token:
        text = text.replace(token, "<token>")
    text = _TOKEN_LIKE.sub("<token>", text)
    raise fail(f"{text} (set TRIAGE_LOG_LEVEL=DEBUG to see where it happened)", 1) from None


def open_store(
    ctx: click.Context, settings: Settings, *, existing: bool = False, migrate: bool = True
) -> Store:
    """Open the database named by the settings; StoreError (one line) if the file cannot be used.

    With ``existing``, refuse to create a database that is not there: the team's commands
    read one, and an empty new file would only hide a mistyped path.
    """
    path = settings.db_path
    ctx.meta[_DB_KEY] = path
    check_database_path(path)  # a missing folder is worth saying before a missing file
    if existing and not path.exists():
        raise fail(
            f"there is no database at {path}: set TRIAGE_DB (or --db), or make a "
            "demo one with `python -m bot demo-data --db demo.db`"
        )
    return Store(path, migrate=migrate)


def refuse_synthetic(store: Store, command: str) -> None:
    """Stop ``run`` and ``web`` on a database made by demo-data (closing it), in one line.

    Real people's answers would be stored beside made-up ones, and no report could tell
    them apart again.
    """
    if store.synthetic:
        store.close()
        raise fail(
            f"{store.path} holds synthetic demo data (made by demo-data), and `{command}` "
            "would mix real people's answers with made-up ones: set TRIAGE_DB (or --db) to "
            "the real database, or to a new file"
        )


def settings_from(
    ctx: click.Context, db: Path | None = None, content: Path | None = None
) -> Settings:
    """The settings built at start-up, with any command-line overrides applied (and checked)."""
    settings: Settings = ctx.obj
    overrides = {}
    if db is not None:
        overrides["TRIAGE_DB"] = str(db)
    if content is not None:
        overrides["TRIAGE_CONTENT_DIR"] = str(content)
    if overrides:
        try:
            settings = load_settings({**os.environ, **overrides})
        except SettingsError as exc:
            raise fail(str(exc)) from None
    return settings


def announce_content(folder: Path, log: logging.Logger | None = None) -> None:
    """Say which content folder is in use (one line), and warn if the repository's differs.

    Long-running services (``run``, ``web``) pass their logger, so the line goes where their
    other lines go and follows TRIAGE_LOG_LEVEL.
    """
    source = content_source(folder)
    if log is not None:
        log.info("%s", source.line())
        if warning := source.warning():
            log.warning("%s", warning)
        return
    click.echo(click.style(source.line(), dim=True), err=True)
    warning = source.warning()
    if warning:
        click.echo(f"{click.style('warning:', fg='yellow', bold=True)} {warning}", err=True)


def content_or_exit(settings: Settings, log: logging.Logger | None = None) -> Content:
    """Say which content is used, then load it, or print every problem (file:line) and exit."""
    announce_content(settings.content_dir, log)
    try:
        return load_content(settings.content_dir)
    except ContentError as exc:
        message = "The content has problems; fix them and try again:"
        click.echo(click.style(message, fg="red", bold=True), err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        raise click.exceptions.Exit(1) from None


def progress_bar(label: str, console: Console) -> Progress:
    """The rich progress bar the tools' long commands show (it disappears when done)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


class ProgressLine:
    """One line of progress on a terminal ("label  120/318  0:00:04"), gone when done.

    Without rich: ``content check`` runs where only the bot is installed. Nothing is shown
    when standard output is not a terminal, so piped output holds only the results.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.total: int | None = None
        self.shown = False
        self.started = 0.0
        self.live = sys.stdout.isatty()

    def start(self, total: int) -> None:
        """How many steps there are."""
        self.total = total
        self.update(0)

    def update(self, done: int) -> None:
        """Show ``done`` of the total."""
        if not self.live:
            return
        now = time.monotonic()
        if not self.started:
            self.started = now
        seconds = int(now - self.started)
        of = f"/{self.total}" if self.total is not None else ""
        elapsed = f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"
        click.echo(f"\r{self.label}  {done}{of}  {elapsed}\x1b[K", nl=False)
        self.shown = True

    def close(self) -> None:
        """Clear the line."""
        if self.shown:
            click.echo("\r\x1b[K", nl=False)
            self.shown = False


@contextmanager
def progress_line(label: str) -> Iterator[ProgressLine]:
    """A :class:`ProgressLine`, cleared at the end however the block ends."""
    line = ProgressLine(label)
    try:
        yield line
    finally:
        line.close()
