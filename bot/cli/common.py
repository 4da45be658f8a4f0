"""Pieces every command shares: consoles, options, errors, settings and content loading."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer
from typer.core import TyperGroup

from bot.cli.source import content_source
from bot.conversation.content import Content, load_content
from bot.conversation.yamlfile import ContentError
from bot.settings import Settings, SettingsError, load_settings
from bot.store import Store, StoreError, check_database_path, explain

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


def __getattr__(name: str) -> Console:
    """``out`` and ``err``, the tools' rich consoles, made on first use.

    rich is heavy to import, and ``run`` and ``web`` never print with it: they log.
    """
    if name not in ("out", "err"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    console = Console(stderr=name == "err", highlight=False)
    globals()[name] = console
    return console


DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="SQLite database file (default: $TRIAGE_DB or ./triage.db)."),
]
ContentOption = Annotated[
    Path | None,
    typer.Option(
        "--content",
        help="Folder holding flows/, templates/ and content/ "
        "(default: $TRIAGE_CONTENT_DIR or the copy shipped with the bot).",
    ),
]


class _HelpFormatter(typer.Context.formatter_class):  # type: ignore[name-defined,misc]
    """click's help layout with a first column up to 40 wide.

    So ``--by [sector|size|region|readiness]`` and its description fit on one line.
    """

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        """A definition list (options, commands) whose first column may be 40 wide."""
        super().write_dl(rows, col_max=max(col_max, 40), col_spacing=col_spacing)


class HelpContext(typer.Context):
    """The context of every command: its help uses :class:`_HelpFormatter`."""

    formatter_class = _HelpFormatter


def click_style_help(command: Any) -> Any:
    """Make a command's help read as click's own: ``--port INTEGER``, ``--by [a|b]``, flags bare.

    Typer shows ``<int>``, ``<bool>`` and ``<list[...]>``; and click cuts each command's line
    in a list of commands short with "...". Here every option gets click's own metavar, and
    each command's line is the first paragraph of its help, whole. Subcommands too.
    """
    if getattr(command, "_click_style", False):
        return command
    command._click_style = True
    command.context_class = HelpContext
    for param in command.params:
        if param.metavar is not None or getattr(param, "is_flag", False):
            continue  # flags show no type; a metavar chosen by hand stays
        if getattr(param, "param_type_name", "") == "argument":
            # click's own: CODE in the usage line and the list, with no type after it.
            name = (param.name or "value").upper()
            usage = (name if param.required else f"[{name}]") + ("..." if param.nargs != 1 else "")
            param.metavar = name
            param.display_type_rich = lambda ctx: None
            param._usage_display_name = lambda usage=usage: usage
        else:
            param.metavar = _click_metavar(param)
    if command.help and not command.short_help:
        first = command.help.strip().split("\n\n")[0]
        command.short_help = " ".join(first.split())
    for sub in getattr(command, "commands", {}).values():
        click_style_help(sub)
    return command


_METAVARS = {int: "INTEGER", float: "FLOAT", str: "TEXT", bool: "BOOLEAN"}


def _click_metavar(param: Any) -> str | None:
    """What click would show after an option: INTEGER, TEXT, PATH or [a|b|c]."""
    desc = getattr(param, "type_descriptor", None)  # typer's description of the parameter
    if desc is None:
        return None
    if desc.choices:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices) + "]"
    if desc.is_path:
        return "PATH"
    annotation = get_args(desc.annotation)[0] if desc.is_list else desc.annotation
    return _METAVARS.get(annotation, getattr(annotation, "__name__", "VALUE").upper())


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error and return the exit to raise."""
    typer.echo(f"{typer.style('error:', fg='red', bold=True)} {message}", err=True)
    return typer.Exit(code)


# ---- one line for every error ------------------------------------------------------------------

# Where ctx.meta (shared by every command's context) keeps the database a command opened, so an
# SQLite error raised later, outside the store, can still name the file.
_DB_KEY = "triage.db_path"
_TOKEN_LIKE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
# Usage errors, --help and typer.Exit are the command line's own business: let them through.
# (Typer may bundle its own copy of click, so find its ClickException through BadParameter.)
_CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_PASS_THROUGH = (typer.Exit, typer.Abort, _CLICK_ERROR)


class TriageGroup(TyperGroup):
    """The root command. Whatever a command forgets to catch is shown as one line.

    A problem with the database file (StoreError) is printed as it is; any other SQLite error
    is explained with the path of the database the command opened; anything unexpected is one
    line too (with TRIAGE_LOG_LEVEL=DEBUG, the traceback follows for developers).
    """

    context_class = HelpContext

    def invoke(self, ctx: typer.Context) -> Any:
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
        except Exception as exc:
            _unexpected(ctx, exc)


def _unexpected(ctx: typer.Context, exc: Exception) -> None:
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
    ctx: typer.Context, settings: Settings, *, existing: bool = False, migrate: bool = True
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
    ctx: typer.Context, db: Path | None = None, content: Path | None = None
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
    typer.echo(typer.style(source.line(), dim=True), err=True)
    warning = source.warning()
    if warning:
        typer.echo(f"{typer.style('warning:', fg='yellow', bold=True)} {warning}", err=True)


def content_or_exit(settings: Settings, log: logging.Logger | None = None) -> Content:
    """Say which content is used, then load it, or print every problem (file:line) and exit."""
    announce_content(settings.content_dir, log)
    try:
        return load_content(settings.content_dir)
    except ContentError as exc:
        message = "The content has problems; fix them and try again:"
        typer.echo(typer.style(message, fg="red", bold=True), err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None


def progress_bar(label: str, console: Console) -> Progress:
    """The progress bar long commands show (it disappears when done)."""
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
