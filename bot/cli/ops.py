"""Operating the bot: ``python -m bot health`` (the container's HEALTHCHECK runs it)."""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated

import typer

from bot.cli.common import DbOption, settings_from
from bot.ops.health import Thresholds, judge
from bot.store import MIGRATIONS, Store, explain


def health(
    ctx: typer.Context,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, as /healthz does.")] = False,
) -> None:
    """Check the bot is well: exit 0 if so, 1 if not, with one line saying why.

    The database must take writes, and no update (inbox) or message (outbox) may have
    waited longer than TRIAGE_HEALTH_INBOX_AGE or TRIAGE_HEALTH_OUTBOX_AGE seconds. The
    line also gives how many wait, and how many failed in the last 48 hours. It never
    creates or migrates the database.
    """
    settings = settings_from(ctx, db)
    path = settings.db_path
    thresholds = Thresholds.from_settings(settings)
    if not path.exists():
        _unwell(f"there is no database at {path} yet (the bot makes it when it starts)", as_json)
    try:
        store = Store(path, migrate=False)
    except sqlite3.Error as exc:
        _unwell(str(explain(exc, path) or exc), as_json)
    try:
        if store.schema_version < len(MIGRATIONS):
            _unwell(
                f"{path} has database schema {store.schema_version}, older than this version's "
                f"{len(MIGRATIONS)}: start the bot (it migrates the database at start)",
                as_json,
            )
        verdict = judge(store.health(), thresholds)
    except sqlite3.Error as exc:
        _unwell(str(explain(exc, path) or exc), as_json)
    finally:
        store.close()
    typer.echo(json.dumps(verdict.as_dict()) if as_json else verdict.line())
    raise typer.Exit(0 if verdict.ok else 1)


def _unwell(reason: str, as_json: bool) -> None:
    """One line (or JSON), exit 1: a HEALTHCHECK reads exit 1 as unhealthy (2 is reserved)."""
    text = " ".join(reason.split())
    if as_json:
        typer.echo(json.dumps({"status": "unhealthy", "problems": [text]}))
    else:
        typer.echo(f"unhealthy: {text}")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the operators' commands to the main CLI."""
    app.command()(health)
