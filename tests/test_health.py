"""`python -m bot health` and /healthz: exit 0 or 1, one line, the same figures as JSON."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import app
from bot.ops.health import Thresholds, judge
from bot.store import InboxEntry, Outgoing, Store

from .conftest import ROOT
from .test_store_errors import as_another_user, shared_folder  # noqa: F401 (a fixture)
from .web_harness import running

runner = CliRunner()


def health(db: Path, *args: str, **env: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        ["health", "--db", str(db), *args],
        env={"TRIAGE_CONTENT_DIR": str(ROOT), **env},
        catch_exceptions=False,
    )
    return result.exit_code, result.output


def outgoing(lane: str = "lane", not_before: float = 0.0) -> Outgoing:
    return Outgoing(lane, "sendMessage", {"text": "hi"}, b"sealed", not_before=not_before)


def test_healthy_then_an_outbox_stuck_past_its_threshold(tmp_path: Path) -> None:
    db = tmp_path / "triage.db"
    store = Store(db)
    code, out = health(db)
    assert code == 0 and out.count("\n") == 1 and out.startswith("healthy: database writable")
    now = dt.datetime.now(dt.UTC)
    with store.transaction():
        # A reminder held for tomorrow is neither behind nor stuck.
        store.outbox_add([outgoing(not_before=time.time() + 86400)], now)
    code, out = health(db)
    assert code == 0 and "outbox 0 waiting" in out and "1 scheduled" in out
    with store.transaction():
        store.outbox_add([outgoing()], now - dt.timedelta(minutes=10))
    code, out = health(db)
    assert code == 1 and out.count("\n") == 1, out
    # (Ages are whole seconds, and a second may pass while the test runs.)
    assert re.match(r"unhealthy \(a message has waited 60\ds to be sent \(limit 300s\)\): ", out)
    assert re.search(r"outbox 1 waiting, oldest 60\ds", out)
    # The threshold is a setting.
    assert health(db, TRIAGE_HEALTH_OUTBOX_AGE="900")[0] == 0
    data = json.loads(health(db, "--json")[1])
    assert data["status"] == "unhealthy" and data["outbox_depth"] == 1
    assert data["outbox_age_limit_s"] == 300 and data["outbox_scheduled"] == 1
    store.close()


def test_an_inbox_that_is_not_worked_through(tmp_path: Path) -> None:
    db = tmp_path / "triage.db"
    store = Store(db)
    store.inbox_add(
        [InboxEntry(1, "message", subject="s", lane="l", event='{"t":"resume"}')],
        dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2),
    )
    code, out = health(db)
    assert code == 1 and re.search(r"an update has waited 12\ds to be handled \(limit 60s\)", out)
    store.close()


def test_a_database_that_does_not_take_writes(tmp_path: Path) -> None:
    store = Store(tmp_path / "triage.db")
    store.conn.execute("PRAGMA query_only=1")  # as a read-only file or mount behaves
    verdict = judge(store.health(), Thresholds())
    assert not verdict.ok and verdict.problems == ("the database does not take writes",)
    assert "database NOT writable" in verdict.line()
    store.close()


def test_no_database_or_an_older_one_is_unhealthy_and_left_alone(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    code, out = health(missing)
    assert (
        code == 1
        and out
        == f"unhealthy: there is no database at {missing} yet (the bot makes it when it starts)\n"
    )
    assert not missing.exists()
    notdb = tmp_path / "notes.db"
    notdb.write_text("not a database\n" * 100)
    code, out = health(notdb)
    assert code == 1 and out.count("\n") == 1 and "is not an SQLite database" in out


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="needs POSIX users")
def test_health_exits_1_on_a_read_only_database(shared_folder: Path) -> None:  # noqa: F811
    db = shared_folder / "triage.db"
    Store(db).close()
    db.chmod(0o444)
    result = as_another_user(["health"], db)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout.startswith("unhealthy: ") and result.stdout.count("\n") == 1
    assert f"{db} is read-only" in result.stdout and "Traceback" not in result.stderr


async def test_healthz_on_the_web_page(content, tmp_path: Path) -> None:
    site = await running(content, tmp_path)
    browser = site.browser()
    try:
        resp = await browser.client.get("/healthz")
        data = await resp.json()
        assert resp.status == 200 and data["status"] == "ok" and data["writable"] is True
        assert "Set-Cookie" not in resp.headers  # no session for a monitor
        with site.store.transaction():
            site.store.outbox_add([outgoing()], dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        resp = await browser.client.get("/healthz")
        data = await resp.json()
        assert resp.status == 503 and data["status"] == "unhealthy"
        (problem,) = data["problems"]
        assert re.fullmatch(r"a message has waited 360\ds to be sent \(limit 300s\)", problem)
    finally:
        await browser.close()
        await site.close()
