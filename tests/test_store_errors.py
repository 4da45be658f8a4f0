"""Database files that cannot be used: one line from every command, naming the path and the fix."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import store as store_module
from bot.cli import app
from bot.store import MIGRATIONS, Store, StoreError

from .conftest import ROOT, SECRET

runner = CliRunner()
TOKEN = "123456:" + "A" * 35

# Every command that opens the database, with what it needs besides the database.
COMMANDS: dict[str, list[str]] = {
    "(no command)": [],
    "run": ["run"],
    "chat": ["chat"],
    "purge": ["purge"],
    "report": ["report"],
    "lookup": ["lookup", "MPSP-2222-2222"],
    "review": ["review", "--port", "0"],
    "export": ["export"],
    # demo-data never uses TRIAGE_DB unless named: name it, to see the same errors.
    "demo-data": ["demo-data", "--n", "1", "--db", "{db}"],
    "backup": ["backup", "--out", "{tmp}/copy.db"],
}


def every_command(db: Path, tmp: Path, **env: str) -> dict[str, object]:
    """Run each command against ``db`` in-process; return the results by name."""
    results = {}
    base = {
        "TRIAGE_CONTENT_DIR": str(ROOT),
        "TRIAGE_DB": str(db),
        "TELEGRAM_BOT_TOKEN": "",
        "TRIAGE_SECRET": SECRET,
        **env,
    }
    for name, args in COMMANDS.items():
        args = [a.format(tmp=tmp, db=db) for a in args]
        extra = {"TELEGRAM_BOT_TOKEN": TOKEN} if name == "run" else {}
        results[name] = runner.invoke(
            app, args, env={**base, **extra}, input="/quit\n", catch_exceptions=False
        )
    return results


def assert_one_line(results: dict[str, object], *expected: str) -> None:
    for name, result in results.items():
        text = result.output
        assert result.exit_code == 2, (name, text)
        assert "Traceback" not in text and "│" not in text, (name, text)
        (line,) = [x for x in text.splitlines() if x.startswith("error:")]
        for part in expected:
            assert part in line, (name, line)
        assert text.count("error:") == 1, (name, text)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("shopping list: eggs, flour\n" * 200, encoding="utf-8")
    before = digest(bad)
    results = every_command(bad, tmp_path)
    assert_one_line(results, str(bad), "is not an SQLite database", "TRIAGE_DB or --db")
    assert digest(bad) == before


def test_a_missing_folder_and_a_folder_given_as_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "triage.db"
    assert_one_line(every_command(missing, tmp_path), str(missing), "does not exist", "mkdir -p")
    assert not (tmp_path / "nowhere").exists()
    folder = tmp_path / "data"
    folder.mkdir()
    assert_one_line(every_command(folder, tmp_path), "is a folder, not a database file")


def test_a_database_from_a_newer_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 3}")
    conn.close()
    before = digest(db)
    results = every_command(db, tmp_path)
    assert_one_line(results, str(db), "newer version of the bot", f"schema {len(MIGRATIONS) + 3}")
    assert digest(db) == before
    assert not Path(f"{db}-wal").exists()  # not even switched to WAL


def test_a_full_disk_during_a_write_rolls_back_and_says_so(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count={pages + 1}")
    with pytest.raises(StoreError) as info, store.transaction():
        store.conn.execute("INSERT INTO progress VALUES ('r', 'org_type', 'x')")
        store.conn.execute("INSERT INTO progress VALUES ('r2', ?, 'x')", ("x" * 200_000,))
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "t.db") in message
    assert "disk is full" in message and "nothing from the change that failed was saved" in message
    assert isinstance(info.value, sqlite3.Error)  # still retried as a database error by the bot
    # Nothing was kept, and once there is room the same store works again.
    assert store.db["progress"].count == 0
    store.conn.execute("PRAGMA max_page_count=1073741823")
    with store.transaction():
        store.conn.execute("INSERT INTO progress VALUES ('r', 'org_type', 'x')")
    assert store.db["progress"].count == 1
    store.close()


def test_a_full_disk_in_the_middle_of_a_command_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate = Store.migrate

    def then_fill_up(self: Store) -> None:
        migrate(self)
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        self.conn.execute(f"PRAGMA max_page_count={pages + 3}")

    monkeypatch.setattr(store_module.Store, "migrate", then_fill_up)
    db = tmp_path / "demo.db"
    result = runner.invoke(
        app,
        ["demo-data", "--n", "300", "--db", str(db)],
        env={"TRIAGE_CONTENT_DIR": str(ROOT)},
        catch_exceptions=False,
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert str(db) in line and "disk is full" in line


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder another uid can reach (pytest's own tmp folders are private to this user)."""
    folder = Path(tempfile.mkdtemp(prefix="mpsp-uid-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _runs_as(uid: int, command: list[str], env: dict[str, str]) -> bool:
    try:
        done = subprocess.run(
            [*command, "-c", "import bot.cli"],
            env=env,
            cwd="/",
            user=uid,
            group=uid,
            extra_groups=[],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0


def other_user() -> tuple[dict[str, object], list[str], dict[str, str]]:
    """How to run the bot as uid 10001 (the Docker image's user) when we are root.

    As another user we are ourselves. As root, the test interpreter may live in a folder
    only root can enter (pyenv under /root): then the system's Python of the same version
    runs the same code and libraries, found through PYTHONPATH.
    """
    if os.geteuid() != 0:
        return {}, [sys.executable], {}
    user: dict[str, object] = {"user": 10001, "group": 10001, "extra_groups": []}
    if _runs_as(10001, [sys.executable], dict(os.environ)):
        return user, [sys.executable], {}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/bin:/usr/local/bin")
    paths = [str(ROOT), *(p for p in sys.path if p.endswith("site-packages"))]
    extra = {"PYTHONPATH": os.pathsep.join(paths), "PYTHONNOUSERSITE": "1"}
    if system and _runs_as(10001, [system], {**os.environ, **extra}):
        return user, [system], extra
    pytest.skip("no Python interpreter that uid 10001 may run")


def as_another_user(args: list[str], db: Path) -> subprocess.CompletedProcess[str]:
    """Run a command as uid 10001 if we are root (root may write anything), else as ourselves."""
    user, python, extra = other_user()
    env = {
        **os.environ,
        **extra,
        "TRIAGE_CONTENT_DIR": str(ROOT),
        "TRIAGE_DB": str(db),
        "TRIAGE_SECRET": SECRET,
        "TELEGRAM_BOT_TOKEN": "",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(db.parent),
    }
    return subprocess.run(
        [*python, "-m", "bot", *args],
        env=env,
        cwd=db.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **user,
    )


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="needs POSIX users")
def test_read_only_file_and_folder_name_the_uid_that_needs_access(shared_folder: Path) -> None:
    db = shared_folder / "triage.db"
    Store(db).close()
    uid = 10001 if os.geteuid() == 0 else os.geteuid()
    db.chmod(0o444)
    for args in (["report"], ["lookup", "MPSP-2222-2222"], ["purge"]):
        result = as_another_user(args, db)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
        assert f"{db} is read-only" in result.stderr
        assert f"give uid {uid} (the user this runs as)" in result.stderr
    # A writable file in a folder the user cannot write: SQLite needs the folder for -wal/-shm.
    db.chmod(0o666)
    for leftover in shared_folder.glob("triage.db-*"):
        leftover.unlink()
    result = as_another_user(["export"], db)
    assert result.returncode == 2, result.stderr
    assert f"the folder {shared_folder} is not writable" in result.stderr
    assert f"chown {uid} {shared_folder}" in result.stderr


def test_unexpected_errors_are_one_line_without_the_token(tmp_path: Path, monkeypatch) -> None:
    # Something no command expects, with the token in its message (as a library might put a
    # request URL there): one line, exit 1, and the token blanked.
    import bot.cli.common

    def broken(_folder: Path) -> None:
        raise RuntimeError(f"GET https://api.telegram.org/bot{TOKEN}/getMe failed\nsecond line")

    monkeypatch.setattr(bot.cli.common, "load_content", broken)
    env = {
        "TRIAGE_CONTENT_DIR": str(ROOT),
        "TRIAGE_DB": str(tmp_path / "t.db"),
        "TRIAGE_SECRET": SECRET,
        "TELEGRAM_BOT_TOKEN": TOKEN,
    }
    result = CliRunner().invoke(app, ["content", "preview"], env=env)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert "RuntimeError" in errors[0] and "second line" in errors[0]
    assert TOKEN not in result.output and TOKEN.split(":")[1] not in result.output
