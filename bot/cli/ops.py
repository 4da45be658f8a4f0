"""Operating the bot: ``python -m bot health`` (the container's HEALTHCHECK runs it)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import click

from bot.cli.common import command, db_option, settings_from
from bot.ops.health import Thresholds, judge
from bot.store import MIGRATIONS, Store, explain


@click.pass_context
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON, as /healthz does.")
def health(ctx: click.Context, db: Path | None, as_json: bool) -> None:
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
    click.echo(json.dumps(verdict.as_dict()) if as_json else verdict.line())
    raise click.exceptions.Exit(0 if verdict.ok else 1)


def _unwell(reason: str, as_json: bool) -> None:
    """One line (or JSON), exit 1: a HEALTHCHECK reads exit 1 as unhealthy (2 is reserved)."""
    text = " ".join(reason.split())
    if as_json:
        click.echo(json.dumps({"status": "unhealthy", "problems": [text]}))
    else:
        click.echo(f"unhealthy: {text}")
    raise click.exceptions.Exit(1)


def register(app: click.Group) -> None:
    """Add the operators' commands to the main CLI."""
    command(app)(health)
