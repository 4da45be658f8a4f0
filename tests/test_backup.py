"""`backup` while the bot writes: a consistent, checked copy, and a restore that works."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from click.testing import CliRunner

from bot.cli import app
from bot.store import Store

from .conftest import ROOT

runner = CliRunner()
BATCH = 50  # responses per transaction in the writer below

# Another process writing as the bot does: one transaction per batch of finished checks.
WRITER = textwrap.dedent(
    f"""
    import sys, time
    from pathlib import Path
    from bot.conversation.content import load_content
    from bot.team.demo import generate
    from bot.store import Store

    store = Store(sys.argv[1])
    content = load_content(Path(sys.argv[2]))
    stop = Path(sys.argv[3])
    deadline = time.monotonic() + 90
    seed = 0
    while not stop.exists() and time.monotonic() < deadline:
        seed += 1
        generate(store, content, {BATCH}, seed=seed)
    store.close()
    """
)


def invoke(*args: str):
    return runner.invoke(
        app, list(args), env={"TRIAGE_CONTENT_DIR": str(ROOT)}, catch_exceptions=False
    )


def responses(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM responses").fetchone()[0]
    finally:
        conn.close()


def test_backup_while_the_bot_writes_then_restore(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    Store(live).close()
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(live), str(ROOT), str(stop)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    copies = []
    try:
        deadline = time.monotonic() + 60
        while responses(live) < BATCH:
            assert writer.poll() is None, writer.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for n in range(3):
            out = tmp_path / f"backup-{n}.db"
            result = invoke("backup", "--db", str(live), "--out", str(out))
            assert result.exit_code == 0, result.output
            # As printed, wrapped to the terminal's width wherever the (temporary) path ends.
            said = result.stdout.replace("\n", "")
            assert f"to {out}:" in said and "integrity ok" in said
            copies.append(out)
            time.sleep(0.2)
        assert writer.poll() is None  # it was writing all along
    finally:
        stop.touch()
        writer.wait(timeout=120)
    counts = []
    for copy in copies:
        assert not Path(f"{copy}-wal").exists()  # one self-contained file
        conn = sqlite3.connect(copy)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        count = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        # Whole transactions only: never half a batch, never an answer without its response.
        assert count % BATCH == 0, count
        assert not conn.execute(
            "SELECT 1 FROM answers WHERE response_id NOT IN (SELECT id FROM responses)"
        ).fetchall()
        conn.close()
        counts.append(count)
    assert counts == sorted(counts) and counts[-1] < responses(live)

    # Restore, as the README says: stop the bot, put the copy where TRIAGE_DB points, with
    # no -wal or -shm left beside it, start again.
    for leftover in (live, Path(f"{live}-wal"), Path(f"{live}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copy(copies[-1], live)
    assert responses(live) == counts[-1]
    conn = sqlite3.connect(live)
    code = conn.execute("SELECT code FROM responses ORDER BY id DESC LIMIT 1").fetchone()[0]
    conn.close()
    found = invoke("lookup", code, "--db", str(live), "--json")
    assert found.exit_code == 0 and code in found.stdout
    store = Store(live)  # the bot opens it as usual
    assert store.db["responses"].count == counts[-1]
    store.close()


def test_backup_refuses_what_it_cannot_do_in_one_line(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    Store(live).close()
    out = tmp_path / "copy.db"
    assert invoke("backup", "--db", str(live), "--out", str(out)).exit_code == 0
    again = invoke("backup", "--db", str(live), "--out", str(out))
    assert again.exit_code == 1 and "exists already" in again.output and "--force" in again.output
    assert invoke("backup", "--db", str(live), "--out", str(out), "--force").exit_code == 0
    itself = invoke("backup", "--db", str(live), "--out", str(live))
    assert itself.exit_code == 1 and "is the database itself" in itself.output
    nowhere = invoke("backup", "--db", str(live), "--out", str(tmp_path / "no" / "x.db"))
    assert nowhere.exit_code == 1 and "does not exist" in nowhere.output
    missing = invoke("backup", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "y.db"))
    assert missing.exit_code == 2 and "there is no database" in missing.output
    for result in (again, itself, nowhere, missing):
        assert "Traceback" not in result.output and result.output.count("error:") == 1
    assert not list(tmp_path.glob(".*partial*"))  # nothing half-written left behind
