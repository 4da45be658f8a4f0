"""What can be wrong with the database file itself, said in one line with what to do.

Everything that can go wrong with the file (missing folder, read-only, full disk, not a
database, damaged, locked) becomes one :class:`StoreError` whose text names the path and the
fix; the command line prints it as is, and the long-running bot and web page log it. Errors
about the data or the code (a constraint, a bad query) are not the file's fault and are left
alone.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000


class StoreError(sqlite3.OperationalError):
    """The database file cannot be used. ``str()`` is one line: the path, the cause, the fix.

    It stays an ``sqlite3.Error``, so code that retries database errors (a full disk may be
    freed) keeps doing so.
    """


def access_advice(target: Path) -> str:
    """What to do about a file or folder this process may not write."""
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if uid is None:
        return f"give the user running the bot read and write access to {target}"
    if uid == 0:
        return f"{target} is probably on a read-only file system: use a writable location"
    if in_container():
        # The folder is the host's (a bind mount) or a volume: chown inside would not do.
        return (
            f"give uid {uid} (the user the container runs as) read and write access to "
            f"{target}: on the host, chown {uid} the folder mounted there (for example "
            f"chown -R {uid} ./data), or mount a named volume instead"
        )
    # Name the uid: in the Docker image the bot runs as uid 10001, not as the host's user.
    return (
        f"give uid {uid} (the user this runs as) read and write access to {target}, "
        f"for example: chown {uid} {target}"
    )


# The project's image writes this file (see Dockerfile): advice about the data folder is then
# for the host's operator. (Not Docker's or Podman's own markers: developers' machines can be
# containers too, where the folder is their own to chown.)
IMAGE_MARKER = Path("/etc/mpsp-triage-image")


def in_container() -> bool:
    """Whether this runs in the project's container image."""
    return IMAGE_MARKER.exists()


def check_database_path(path: Path) -> None:
    """Raise StoreError if ``path`` cannot hold a writable SQLite database, before opening it."""
    folder = path.parent
    if not folder.exists():
        raise StoreError(
            f"{path}: the folder {folder} does not exist: create it (mkdir -p {folder}), "
            "or set TRIAGE_DB or --db to a file in an existing folder"
        )
    if path.is_dir():
        raise StoreError(
            f"{path} is a folder, not a database file: set TRIAGE_DB or --db to a file path, "
            f"for example {path / 'triage.db'}"
        )
    if path.exists() and not os.access(path, os.R_OK):
        raise StoreError(f"{path} cannot be read: {access_advice(path)}")
    if path.exists() and not os.access(path, os.W_OK):
        raise StoreError(f"{path} is read-only: {access_advice(path)}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(
            f"{path}: the folder {folder} is not writable, and SQLite keeps its journal files "
            f"(-wal, -shm) beside the database: {access_advice(folder)}"
        )


def explain(exc: sqlite3.Error, path: Path, writing: bool = False) -> StoreError | None:
    """The one-line StoreError for an SQLite error about the file itself; None for others.

    Errors that are about the data or the code (a constraint, a bad query) are not the
    file's fault and are left alone.
    """
    if isinstance(exc, StoreError):
        return exc
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    lost = "; nothing from the change that failed was saved" if writing else ""
    if primary == sqlite3.SQLITE_FULL:
        return StoreError(
            f"{path}: the disk is full (SQLite could not write{lost}): free some space "
            f"on the disk holding {path.parent}, then try again"
        )
    if primary == sqlite3.SQLITE_NOTADB:
        return StoreError(
            f"{path} is not an SQLite database (another kind of file, or damaged): "
            "set TRIAGE_DB or --db to the triage database, or restore it from a backup"
        )
    if primary == sqlite3.SQLITE_CORRUPT:
        return StoreError(
            f"{path} is damaged (SQLite: {exc}): restore it from a backup (README, Backups)"
        )
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
        return StoreError(f"{path} cannot be written (SQLite: {exc}){lost}: {access_advice(path)}")
    if primary == sqlite3.SQLITE_CANTOPEN:
        return StoreError(
            f"{path} cannot be opened (SQLite: {exc}): check the path, and "
            f"{access_advice(path.parent)}"
        )
    if primary == sqlite3.SQLITE_IOERR:
        return StoreError(
            f"{path}: the disk reported an error (SQLite: {exc}{lost}): check the disk, "
            "then try again"
        )
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreError(
            f"{path} was locked by another program for more than "
            f"{BUSY_TIMEOUT_MS // 1000} seconds{lost}: try again"
        )
    return None


def describe(exc: BaseException, path: Path) -> str:
    """An error for a log line: the one-line file problem (full, read-only...), else its type.

    For the long-running bot and web page, whose database can fill up or be remounted
    read-only while they run: the operator reads what to do, not just "StoreError".
    """
    if isinstance(exc, sqlite3.Error):
        problem = explain(exc, path)
        if problem is not None:
            return str(problem)
        # SQLite's own messages name no person; other errors may carry data, so not theirs.
        first = str(exc).splitlines()[0] if str(exc) else ""
        return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return type(exc).__name__
