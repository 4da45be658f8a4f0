"""Pieces every command shares: consoles, options, errors, settings and content loading."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .content import Content, load_content
from .settings import Settings, SettingsError, load_settings
from .yamlfile import ContentError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

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


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error and return the exit to raise."""
    err.print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


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


def content_or_exit(settings: Settings) -> Content:
    """Load content, or print every problem (file:line) and exit."""
    try:
        return load_content(settings.content_dir)
    except ContentError as exc:
        err.print("[bold red]The content has problems; fix them and try again:[/bold red]")
        for problem in exc.problems:
            err.print(f"  {escape(str(problem))}", soft_wrap=True)
        raise typer.Exit(1) from None


def progress_bar(label: str, console: Console) -> Progress:
    """The progress bar long commands show (it disappears when done)."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
