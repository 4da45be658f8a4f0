"""``backup``: a consistent copy of the database, taken while the bot runs, and checked.

SQLite's online backup API copies the database as one snapshot: in WAL mode the bot keeps
writing meanwhile, and the copy holds every transaction committed before it started and none
after. The copy is written beside the destination under a temporary name, switched to a
single self-contained file (no -wal), checked with ``PRAGMA integrity_check``, synced, and only
then renamed into place, so a failed backup never replaces a good one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from bot.store import Store, StoreError, access_advice, explain


class BackupError(Exception):
    """The backup could not be made; ``str()`` is one line saying why and what to do."""


@dataclass(frozen=True)
class Backup:
    """What a finished backup holds."""

    path: Path
    size: int
    schema: int
    responses: int
    seconds: float


def check_destination(out: Path, source: Path, replace: bool) -> None:
    """Raise BackupError if the copy cannot be written to ``out``."""
    if out.resolve() == source.resolve():
        raise BackupError(f"--out {out} is the database itself: give another file")
    if out.is_dir():
        raise BackupError(f"--out {out} is a folder: give a file, for example {out / 'triage.db'}")
    if not out.parent.is_dir():
        raise BackupError(
            f"--out {out}: the folder {out.parent} does not exist: create it "
            f"(mkdir -p {out.parent}) first"
        )
    if out.exists() and not replace:
        raise BackupError(f"{out} exists already: give another file, or add --force to replace it")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise BackupError(
            f"--out {out}: the folder {out.parent} is not writable: {access_advice(out.parent)}"
        )


def backup(store: Store, out: Path, replace: bool = False) -> Backup:
    """Copy the open database to ``out`` consistently, check the copy, then move it into place."""
    started = time.perf_counter()
    check_destination(out, store.path, replace)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            # One step (pages=-1): a single read snapshot, so the copy is consistent even
            # while the bot writes; WAL mode lets those writes go on meanwhile.
            store.conn.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, nothing beside it
            problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
            schema = copy.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in copy.execute("SELECT name FROM sqlite_master")}
            responses = (
                copy.execute("SELECT count(*) FROM responses").fetchone()[0]
                if "responses" in tables
                else 0
            )
        finally:
            copy.close()
        if problems != ["ok"]:
            raise BackupError(
                f"the copy failed SQLite's integrity check ({problems[0]}), so {out} was not "
                f"written: {store.path} itself may be damaged; keep your earlier backups"
            )
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        partial.replace(out)
        _sync_folder(out.parent)
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        # A damaged source is the database's problem; anything else is the copy's.
        damaged = code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
        where = store.path if damaged else out
        raise explain(exc, where, writing=True) or StoreError(f"{where}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"{out} could not be written: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return Backup(out, out.stat().st_size, schema, responses, time.perf_counter() - started)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable too (where the system allows opening a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
