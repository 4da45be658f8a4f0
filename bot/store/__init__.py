"""The triage database: the only code that writes SQL.

SQLite in WAL mode with ``synchronous=FULL``: a step is durable once :meth:`Store.transaction`
returns. The store never sees a Telegram id, chat id, name or username: conversations are
keyed by a pseudonym (HMAC of the user id) and completed responses by a random code. The one
exception is the chat a pending message goes to, which the store holds only sealed
(:mod:`bot.sealing`) and deletes once the message is delivered or dropped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from bot.conversation.engine import Completion, Conversation
from bot.later import FOLLOW_UP, LATER, REMINDER, QuietHours

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
# Telegram keeps an unconfirmed update for 24 hours; remember ids a little longer.
UPDATE_MEMORY = dt.timedelta(hours=48)


class CodeTaken(Exception):
    """The random reference code already exists; draw another."""


# ---- database file errors ---------------------------------------------------------------------
# Everything that can be wrong with the database file itself becomes one StoreError whose text
# is a single line naming the path and saying what to do. The command line prints it as is.


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


def _refuse_newer(path: Path, version: int) -> None:
    if version > len(MIGRATIONS):
        raise StoreError(
            f"{path} was written by a newer version of the bot (database schema "
            f"{version}; this version knows up to {len(MIGRATIONS)}): upgrade the bot "
            "to use it. The database was left untouched"
        )


# ---- synthetic (demo) databases ---------------------------------------------------------------


def synthetic_file(path: Path) -> bool | None:
    """Whether an existing database file was made by ``demo-data``; None if there is no file.

    Reads only (the file is never migrated, switched to WAL or otherwise changed): demo-data
    asks this before it touches anything. A file that cannot be used raises StoreError.
    """
    check_database_path(path)
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise explain(exc, path) or exc from None
    try:
        _refuse_newer(path, int(conn.execute("PRAGMA user_version").fetchone()[0]))
        return _has_marker(conn)
    except sqlite3.Error as exc:
        raise explain(exc, path) or exc from None
    finally:
        conn.close()


def _has_marker(conn: sqlite3.Connection) -> bool:
    table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'synthetic'"
    ).fetchone()
    return bool(table and conn.execute("SELECT 1 FROM synthetic").fetchone())


def _utc(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


# An inbox row that is finished keeps only its id, kind, status, times and error: whose it was
# and what it said are cleared, done or failed.
_INBOX_CLEARED = (
    "subject = NULL, lane = NULL, event = NULL, callback_id = NULL, message_id = NULL, "
    "address = NULL"
)


def _migration_1(db: sqlite_utils.Database) -> None:
    db["conversations"].create(
        {
            "subject": str,
            "state": str,
            "answers": str,
            "draft": str,
            "step": int,
            "reviewing": int,
            "run": str,
            "started": str,
            "updated": str,
            "code": str,
        },
        pk="subject",
        not_null={"state", "answers", "step", "run", "started", "updated"},
    )
    db["updates"].create(
        {"update_id": int, "received": str, "replied": int},
        pk="update_id",
        not_null={"received"},
        defaults={"replied": 0},
    )
    db["responses"].create(
        {
            "id": int,
            "code": str,
            "run": str,
            "started": str,
            "completed": str,
            "flow": str,
            "content_version": str,
        },
        pk="id",
        not_null={"code", "run", "started", "completed", "flow", "content_version"},
    )
    db["responses"].create_index(["code"], unique=True)
    db["responses"].create_index(["completed"])
    db["answers"].create(
        {"response_id": int, "question": str, "option": str, "value": int},
        foreign_keys=[("response_id", "responses", "id")],
        not_null={"response_id", "question", "option"},
    )
    db["answers"].create_index(["response_id"])
    db["answers"].create_index(["question", "option"])
    db["response_text"].create(
        {"response_id": int, "question": str, "text": str},
        foreign_keys=[("response_id", "responses", "id")],
        not_null={"response_id", "question", "text"},
    )
    db["recommendations"].create(
        {"response_id": int, "position": int, "signpost": str, "section": str, "reasons": str},
        foreign_keys=[("response_id", "responses", "id")],
        not_null={"response_id", "position", "signpost", "section"},
    )
    db["recommendations"].create_index(["response_id"])
    # The only link from a response back to a person: kept apart so it can be purged and
    # never exported or shown in the review tools.
    db["response_owners"].create(
        {"response_id": int, "subject": str, "completed": str},
        pk="response_id",
        foreign_keys=[("response_id", "responses", "id")],
        not_null={"subject", "completed"},
    )
    db["response_owners"].create_index(["subject"])
    # Which steps each run reached, for drop-off counts; runs are random ids.
    db["progress"].create(
        {"run": str, "state": str, "reached": str}, pk=("run", "state"), not_null={"reached"}
    )
    db["progress"].create_index(["state"])


def _migration_2(db: sqlite_utils.Database) -> None:
    # Readiness stage of each response (content/readiness.yaml), for breakdowns.
    db["responses"].add_column("readiness", str)
    db["responses"].create_index(["readiness"])


def _migration_handover(db: sqlite_utils.Database) -> None:
    # Whether a person asked the programme team to contact them (issue 8): on the live
    # conversation, so the result stops offering it, and on the response, as the UTC time it
    # was asked, so reports can count it. Never a name, username or chat id.
    db["conversations"].add_column("handover", int, not_null_default=0)
    db["responses"].add_column("handover", str)


def _migration_channel(db: sqlite_utils.Database) -> None:
    # Where each response was given ("telegram" or "web"): a coarse field, counted in reports.
    db["responses"].add_column("channel", str, not_null_default="telegram")


def _migration_transport(db: sqlite_utils.Database) -> None:
    # The inbox: updates committed before they are confirmed to Telegram, then worked through.
    # It holds what the engine needs, never the raw update; the chat a reply goes to is sealed
    # (with the person's name, for a "send with my name" tap only), and subject, event and
    # address are cleared once done.
    db.execute(
        """
        CREATE TABLE inbox (
            update_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('todo', 'done', 'failed')),
            subject TEXT,
            lane TEXT,
            event TEXT,
            callback_id TEXT,
            message_id INTEGER,
            address BLOB,
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before REAL NOT NULL DEFAULT 0,
            received TEXT NOT NULL,
            finished TEXT,
            error TEXT
        )
        """
    )
    # Waiting rows in order, and each person's waiting rows: done rows stay for two days.
    db.execute("CREATE INDEX inbox_due ON inbox (update_id) WHERE status = 'todo'")
    db.execute("CREATE INDEX inbox_todo ON inbox (subject, update_id) WHERE status = 'todo'")
    db.execute("CREATE INDEX inbox_received ON inbox (received)")
    # The outbox: Bot API calls committed with the state change that produced them. ``lane`` is
    # a pseudonym of the chat (order and per-chat limit); ``subject`` and ``purpose`` let later
    # work keep one pending row per person; ``not_before`` holds rows for later.
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            lane TEXT NOT NULL,
            subject TEXT,
            purpose TEXT NOT NULL DEFAULT 'reply',
            method TEXT NOT NULL,
            params TEXT NOT NULL,
            options TEXT,
            merge_key TEXT,
            file BLOB,
            address BLOB,
            status TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before REAL NOT NULL DEFAULT 0,
            created TEXT NOT NULL,
            finished TEXT,
            error TEXT
        )
        """
    )
    db.execute("CREATE INDEX outbox_todo ON outbox (not_before, id) WHERE status = 'todo'")
    db.execute("CREATE INDEX outbox_subject ON outbox (subject, purpose) WHERE status = 'todo'")
    db.execute("CREATE INDEX outbox_finished ON outbox (finished) WHERE status = 'failed'")
    # People whose update or reply was lost: shown their current question when they next write.
    db.execute("CREATE TABLE reshow (subject TEXT PRIMARY KEY, since TEXT NOT NULL)")
    # Transport events worth counting across processes (429 pauses), for health checks.
    db.execute(
        "CREATE TABLE transport_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL, "
        "updated TEXT NOT NULL)"
    )
    # Update ids now live in the inbox.
    db.execute("DROP TABLE IF EXISTS updates")


def _migration_synthetic(db: sqlite_utils.Database) -> None:
    # The demo-data fence (issue 13): one row, written by `demo-data` in the same transaction
    # as its first answers, so a database holding made-up people always says so. A real
    # database has the table and never a row in it.
    db.execute(
        "CREATE TABLE synthetic (id INTEGER PRIMARY KEY CHECK (id = 1), made TEXT NOT NULL, "
        "seed INTEGER NOT NULL)"
    )


def _migration_later(db: sqlite_utils.Database) -> None:
    # Coming back (issue 9). On the live conversation: whether its one reminder went (or was
    # stopped), whether a finished one asked for a follow-up, and for a follow-up check the
    # link id and the earlier answers shown ticked (deleted with the conversation).
    db["conversations"].add_column("reminded", int, not_null_default=0)
    db["conversations"].add_column("follow_up", int, not_null_default=0)
    db["conversations"].add_column("link", str)
    db["conversations"].add_column("defaults", str)
    # A random link id on both responses of a pair: the earlier one (followup_link) and the
    # follow-up check (follows_link). Never anything about the person.
    db["responses"].add_column("followup_link", str)
    db["responses"].add_column("follows_link", str)
    db.execute(
        "CREATE UNIQUE INDEX responses_followup_link ON responses (followup_link) "
        "WHERE followup_link IS NOT NULL"
    )
    db.execute(
        "CREATE UNIQUE INDEX responses_follows_link ON responses (follows_link) "
        "WHERE follows_link IS NOT NULL"
    )
    # The follow-up a person asked for, by pseudonym, until its check is finished (or it is
    # cancelled, forgotten, refused by Telegram, or left unused past the idle period): what
    # lets /forget find the link. One per person.
    db.execute(
        "CREATE TABLE follow_ups (link TEXT PRIMARY KEY, subject TEXT NOT NULL UNIQUE, "
        "due TEXT NOT NULL, created TEXT NOT NULL, sent TEXT)"
    )
    # A message sent later is claimed (committed) just before it goes: after a crash a claimed
    # row is never sent again. One of each kind may wait per person.
    db.execute("ALTER TABLE outbox ADD COLUMN claimed TEXT")
    db.execute(
        "CREATE UNIQUE INDEX outbox_one_later ON outbox (subject, purpose) "
        "WHERE status = 'todo' AND purpose IN ('reminder', 'follow_up')"
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migration_1,
    _migration_2,
    _migration_handover,
    _migration_channel,
    _migration_transport,
    _migration_synthetic,
    _migration_later,
]


@dataclass(frozen=True)
class InboxEntry:
    """An update as the inbox keeps it: what the engine needs, never the raw update.

    ``status`` is ``todo`` for work, ``done`` for an update that needs no answer and
    ``failed`` for one that could not be read (then only ``update_id``, ``kind`` and
    ``error`` are set).
    """

    update_id: int
    kind: str
    status: str = "todo"
    subject: str | None = None
    lane: str | None = None
    event: str | bytes | None = None  # sealed (bytes) by the Telegram transport
    callback_id: str | None = None
    message_id: int | None = None
    address: bytes | None = None
    error: str | None = None


@dataclass(frozen=True)
class InboxItem:
    """An inbox row that is due: one event for one person."""

    update_id: int
    kind: str
    subject: str
    lane: str
    event: str | bytes
    callback_id: str | None
    message_id: int | None
    address: bytes | None
    attempts: int


@dataclass
class Outgoing:
    """A Bot API call to make once committed: a method, JSON parameters and a sealed address.

    Everything identifying (the chat id, and any parameter that names the person) is in
    ``address``; ``params`` never holds it. ``options`` are for the sender (the name of an
    uploaded file's parameter, ``wipe`` to empty the log once a /forget reply is delivered).
    """

    lane: str
    method: str
    params: dict[str, Any]
    address: bytes | None
    subject: str | None = None
    purpose: str = "reply"
    not_before: float = 0.0
    merge_key: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    file: bytes | None = None
    id: int = 0
    attempts: int = 0


@dataclass(frozen=True)
class Health:
    """How the transport is doing, for the webhook's health endpoint and monitoring."""

    writable: bool
    inbox_depth: int
    inbox_oldest_s: float | None
    inbox_failed: int
    outbox_depth: int
    outbox_oldest_s: float | None
    outbox_failed: int
    pauses_429: int
    # Rows held for later (not_before in the future): neither behind nor stuck.
    outbox_scheduled: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready mapping."""
        return dict(self.__dict__)


class Store:
    """A connection to the triage database. Use from one thread at a time."""

    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        """Open (or create) the database; raise StoreError if the file cannot be used.

        With ``migrate=False`` an older schema is left as it is (a backup copies the database
        as it was); a newer one is always refused.
        """
        self.path = Path(path)
        check_database_path(self.path)
        try:
            conn = sqlite3.connect(
                str(self.path),
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as exc:
            raise explain(exc, self.path) or exc from None
        conn.row_factory = sqlite3.Row
        self.conn = conn
        self._savepoints = 0
        self._checkpoint_due = False
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        try:
            # Read the version first: a newer database is refused before anything is written.
            self._refuse_newer()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys=ON")
            # Deleted rows are overwritten, so an erased answer leaves no readable trace.
            conn.execute("PRAGMA secure_delete=ON")
            if migrate:
                self.migrate()
        except sqlite3.Error as exc:
            conn.close()
            raise explain(exc, self.path) or exc from None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def _refuse_newer(self) -> None:
        _refuse_newer(self.path, self.schema_version)

    def migrate(self) -> None:
        """Bring the schema up to date (each migration in its own transaction)."""
        self._refuse_newer()
        version = self.schema_version
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                migration(self.db)
                self.conn.execute(f"PRAGMA user_version={number}")

    @property
    def schema_version(self) -> int:
        """The applied migration number."""
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One durable transaction: committed (and synced) when the block ends.

        Inside another transaction it is a savepoint: its changes are undone alone if it
        fails, and made durable when the outer transaction commits (group commit: the web
        page commits many people's answers with one sync, before answering any of them).
        A problem with the file (a full disk, say) rolls back and raises StoreError.
        """
        if self.conn.in_transaction:
            self._savepoints += 1
            name = f"nested_{self._savepoints}"
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                # After some errors (a full disk, an I/O error) SQLite has already rolled the
                # whole transaction back: then there is no savepoint left to undo, and the
                # error itself goes up to whoever holds the outer transaction.
                if self.conn.in_transaction:
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                raise
            self.conn.execute(f"RELEASE {name}")
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise explain(exc, self.path, writing=True) or exc from None
        try:
            yield
            self.conn.execute("COMMIT")
            if self._checkpoint_due:
                self._checkpoint_due = False
                self.checkpoint()
        except BaseException as exc:
            if self.conn.in_transaction:
                with suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise explain(exc, self.path, writing=True) or exc from None
            raise

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: undo just this block's changes if it raises."""
        if not self.conn.in_transaction:
            raise RuntimeError("a savepoint belongs inside a transaction")
        with self.transaction():
            yield

    def checkpoint(self) -> bool:
        """Copy the write-ahead log into the database and empty it; False if readers held it.

        Inside a transaction (the web page commits several people's steps together) it cannot
        run yet: it runs as soon as that transaction commits, and this returns False.
        """
        if self.conn.in_transaction:
            self._checkpoint_due = True
            return False
        busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    # ---- inbox -------------------------------------------------------------------------------

    def inbox_add(self, entries: Iterable[InboxEntry], now: dt.datetime) -> int:
        """Commit fetched updates in one transaction, ignoring ids already known; count new."""
        received = _utc(now)
        finished_at = received
        entries = list(entries)
        rows = [
            (
                e.update_id,
                e.kind,
                e.status,
                e.subject if e.status == "todo" else None,
                e.lane if e.status == "todo" else None,
                e.event,
                e.callback_id,
                e.message_id,
                e.address,
                received,
                None if e.status == "todo" else finished_at,
                e.error,
            )
            for e in entries
        ]
        with self.transaction():
            before = self.conn.total_changes
            self.conn.executemany(
                "INSERT OR IGNORE INTO inbox (update_id, kind, status, subject, lane, event, "
                "callback_id, message_id, address, received, finished, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            added = self.conn.total_changes - before
            # An unreadable update keeps only its id and kind; if we could tell whose it was,
            # that person is shown their current question the next time they write.
            for e in entries:
                if e.status == "failed" and e.subject:
                    self.reshow_flag(e.subject, now)
            return added

    def inbox_due(self, now: float, limit: int) -> list[InboxItem]:
        """The next due rows in update order, skipping people whose earlier row is waiting.

        One person's rows are handled strictly in order: a row is due only if no earlier row
        for the same person is still waiting for a retry.
        """
        rows = self.conn.execute(
            "SELECT update_id, kind, subject, lane, event, callback_id, message_id, address, "
            "attempts FROM inbox AS i WHERE status = 'todo' AND not_before <= ? "
            "AND NOT EXISTS (SELECT 1 FROM inbox AS j WHERE j.status = 'todo' "
            "AND j.subject = i.subject AND j.update_id < i.update_id AND j.not_before > ?) "
            "ORDER BY update_id LIMIT ?",
            (now, now, limit),
        ).fetchall()
        return [InboxItem(*row) for row in rows]

    def inbox_next_due(self, now: float) -> float | None:
        """When (unix time) the next row waiting for a retry falls due, if any waits.

        Rows due already but held behind such a row are due when it is.
        """
        row = self.conn.execute(
            "SELECT min(not_before) FROM inbox WHERE status = 'todo' AND not_before > ?", (now,)
        ).fetchone()
        return row[0]

    def inbox_done(self, update_ids: list[int], now: dt.datetime) -> None:
        """Mark rows handled, clearing the people's events and addresses; only if todo."""
        finished = _utc(now)
        changed = self.conn.executemany(
            f"UPDATE inbox SET status = 'done', {_INBOX_CLEARED}, finished = ?, error = NULL "
            "WHERE update_id = ? AND status = 'todo'",
            [(finished, update_id) for update_id in update_ids],
        ).rowcount
        if changed != len(update_ids):
            raise RuntimeError("an inbox row marked done was not waiting")

    def inbox_retry(self, update_id: int, attempts: int, not_before: float, error: str) -> None:
        """Put a row back to wait until ``not_before`` (unix time) after a failed attempt."""
        self.conn.execute(
            "UPDATE inbox SET attempts = ?, not_before = ?, error = ? "
            "WHERE update_id = ? AND status = 'todo'",
            (attempts, not_before, error, update_id),
        )

    def inbox_fail(self, update_id: int, error: str, now: dt.datetime) -> str | None:
        """Give up on a row: keep only its id, kind and error. Return whose row it was."""
        row = self.conn.execute(
            "SELECT subject FROM inbox WHERE update_id = ? AND status = 'todo'", (update_id,)
        ).fetchone()
        self.conn.execute(
            f"UPDATE inbox SET status = 'failed', {_INBOX_CLEARED}, finished = ?, error = ? "
            "WHERE update_id = ? AND status = 'todo'",
            (_utc(now), error, update_id),
        )
        return row[0] if row else None

    # ---- outbox ------------------------------------------------------------------------------

    def outbox_add(self, rows: list[Outgoing], now: dt.datetime) -> list[Outgoing]:
        """Add Bot API calls to make (inside the caller's transaction); set and return ids.

        A reminder or follow-up takes the place of the one of its kind already waiting for
        that person, if any (issue 9).
        """
        given = rows
        later = [row for row in rows if row.purpose in LATER and row.subject is not None]
        if later:
            self._later_put(later, now)
            rows = [row for row in rows if row.purpose not in LATER or row.subject is None]
        if not rows:
            return given
        created = _utc(now)
        values: list[Any] = []
        for row in rows:
            values += (
                row.lane,
                row.subject,
                row.purpose,
                row.method,
                json.dumps(row.params, ensure_ascii=False, separators=(",", ":")),
                json.dumps(row.options, separators=(",", ":")) if row.options else None,
                row.merge_key,
                row.file,
                row.address,
                row.not_before,
                created,
            )
        # One statement for all rows. Ids only grow (AUTOINCREMENT), so in sorted order they
        # match the rows in the order given.
        ids = self.conn.execute(
            "INSERT INTO outbox (lane, subject, purpose, method, params, options, merge_key, "
            "file, address, not_before, created) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
            + " RETURNING id",
            values,
        ).fetchall()
        for row, new_id in zip(rows, sorted(r[0] for r in ids), strict=True):
            row.id = int(new_id)
        return given

    def waiting(self) -> tuple[int, int]:
        """Inbox rows still to handle and outbox rows still to send now (not those for later)."""
        inbox = self.conn.execute("SELECT count(*) FROM inbox WHERE status = 'todo'").fetchone()
        outbox = self.conn.execute(
            "SELECT count(*) FROM outbox WHERE status = 'todo' AND not_before = 0"
        ).fetchone()
        return int(inbox[0]), int(outbox[0])

    def reshow_subjects(self) -> set[str]:
        """Everyone waiting to be shown their question (usually no one)."""
        return {row[0] for row in self.conn.execute("SELECT subject FROM reshow")}

    def outbox_pending(
        self, due_by: float | None = None, scheduled_only: bool = False
    ) -> list[Outgoing]:
        """Rows still to send, oldest first: all of them, or those due by ``due_by``.

        ``scheduled_only`` leaves out rows that were due at once (the sender already has them).
        """
        where = ["status = 'todo'"]
        args: list[Any] = []
        if due_by is not None:
            where.append("not_before <= ?")
            args.append(due_by)
        if scheduled_only:
            where.append("not_before > 0")
        rows = self.conn.execute(
            "SELECT id, lane, subject, purpose, method, params, options, merge_key, file, "
            f"address, not_before, attempts FROM outbox WHERE {' AND '.join(where)} ORDER BY id",
            args,
        ).fetchall()
        return [
            Outgoing(
                lane=r["lane"],
                method=r["method"],
                params=json.loads(r["params"]),
                address=r["address"],
                subject=r["subject"],
                purpose=r["purpose"],
                not_before=r["not_before"],
                merge_key=r["merge_key"],
                options=json.loads(r["options"]) if r["options"] else {},
                file=r["file"],
                id=r["id"],
                attempts=r["attempts"],
            )
            for r in rows
        ]

    def outbox_finish(
        self,
        sent: Iterable[int],
        failed: Iterable[tuple[int, str]] = (),
        attempts: Iterable[tuple[int, int]] = (),
        lost: Iterable[str] = (),
        now: dt.datetime | None = None,
        counted: Mapping[str, int] | None = None,
        blocked: Iterable[str] = (),
    ) -> None:
        """Record what the sender did, in one transaction.

        Delivered rows are deleted; dropped rows keep only their method and error (address,
        parameters and file are deleted); ``attempts`` records tries of rows still pending;
        the people in ``lost`` missed a reply and are shown their question when they next write.
        ``counted`` adds delivered reminders and follow-ups (by purpose) to the counters; the
        people in ``blocked`` refused the bot (403): nothing more waits for them.
        """
        now = now or dt.datetime.now(dt.UTC)
        finished = _utc(now)
        with self.transaction():
            for subject in lost:
                self.reshow_flag(subject, now)
            self.add_sent(counted or {}, now)
            for subject in blocked:
                self.cancel_all_later(subject)
            self.conn.executemany(
                "DELETE FROM outbox WHERE id = ? AND status = 'todo'", [(i,) for i in sent]
            )
            self.conn.executemany(
                "UPDATE outbox SET status = 'failed', address = NULL, params = '{}', "
                "file = NULL, finished = ?, error = ? WHERE id = ? AND status = 'todo'",
                [(finished, error, i) for i, error in failed],
            )
            self.conn.executemany(
                "UPDATE outbox SET attempts = ? WHERE id = ? AND status = 'todo'",
                [(n, i) for i, n in attempts],
            )

    # ---- messages sent later (issue 9) --------------------------------------------------------
    # A reminder or a follow-up is an outbox row with a future ``not_before``, added and
    # cancelled in the same transaction as the state change that causes it. At most one of
    # each waits per person (a unique partial index). Just before it goes, the sender claims
    # it in its own transaction: a row cancelled meanwhile is not sent, and a claimed row left
    # by a crash is never sent again (so a reminder arrives at most once).

    def _later_put(self, rows: list[Outgoing], now: dt.datetime) -> None:
        # Nearly every event on Telegram moves a person's reminder on: rewrite it in place
        # (cheaper than deleting it and adding another; the unique index keeps it one).
        for row in rows:
            (row.id,) = self.conn.execute(
                "INSERT INTO outbox (lane, subject, purpose, method, params, merge_key, address, "
                "not_before, created) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?) "
                "ON CONFLICT (subject, purpose) WHERE status = 'todo' "
                "AND purpose IN ('reminder', 'follow_up') DO UPDATE SET lane = excluded.lane, "
                "method = excluded.method, params = excluded.params, address = excluded.address, "
                "not_before = excluded.not_before, created = excluded.created, claimed = NULL "
                "RETURNING id",
                (
                    row.lane,
                    row.subject,
                    row.purpose,
                    row.method,
                    json.dumps(row.params, ensure_ascii=False, separators=(",", ":")),
                    row.address,
                    row.not_before,
                    _utc(now),
                ),
            ).fetchone()

    def later_cancel(self, subject: str, purpose: str) -> int:
        """Cancel a person's waiting reminder (or follow-up message); return how many."""
        return self.conn.execute(
            "DELETE FROM outbox WHERE subject = ? AND purpose = ? AND status = 'todo'",
            (subject, purpose),
        ).rowcount

    def cancel_all_later(self, subject: str) -> None:
        """Cancel all that waits to be sent to a person later (on /forget, or a 403).

        That is the reminder, and the follow-up with the link it would make.
        """
        self.later_cancel(subject, REMINDER)
        self.follow_up_cancel(subject)

    def follow_up_add(
        self, subject: str, code: str, link: str, due: dt.datetime, now: dt.datetime
    ) -> None:
        """Record a follow-up asked for on the response ``code`` (any earlier one is replaced).

        The outbox row carrying the message is added by the caller, in the same transaction.
        """
        self.follow_up_cancel(subject)
        self.conn.execute("UPDATE responses SET followup_link = ? WHERE code = ?", (link, code))
        self.conn.execute(
            "INSERT INTO follow_ups (link, subject, due, created) VALUES (?, ?, ?, ?)",
            (link, subject, _utc(due), _utc(now)),
        )

    def follow_up_cancel(self, subject: str) -> int:
        """Cancel a person's follow-up: its waiting message, and the link it would have made."""
        links = [
            row[0]
            for row in self.conn.execute(
                "SELECT link FROM follow_ups WHERE subject = ?", (subject,)
            )
        ]
        self.conn.executemany(
            "UPDATE responses SET followup_link = NULL WHERE followup_link = ? "
            "AND NOT EXISTS (SELECT 1 FROM responses AS r WHERE r.follows_link = ?)",
            [(link, link) for link in links],
        )
        self.conn.execute("DELETE FROM follow_ups WHERE subject = ?", (subject,))
        self.later_cancel(subject, FOLLOW_UP)
        return len(links)

    def follow_up_answers(self, subject: str, link: str) -> dict[str, list[str]] | None:
        """The earlier answers (option codes) of this person's open follow-up; None if none.

        Read from the earlier response's countable rows: no other copy is kept while the
        follow-up waits.
        """
        if not self.conn.execute(
            "SELECT 1 FROM follow_ups WHERE link = ? AND subject = ?", (link, subject)
        ).fetchone():
            return None
        row = self.conn.execute(
            "SELECT id FROM responses WHERE followup_link = ?", (link,)
        ).fetchone()
        if row is None:
            return None
        return self.response_options(row[0])

    def response_options(self, response_id: int) -> dict[str, list[str]]:
        """A finished response's chosen options (codes) by question, in the order stored."""
        chosen: dict[str, list[str]] = {}
        for question, option in self.conn.execute(
            "SELECT question, option FROM answers WHERE response_id = ? ORDER BY rowid",
            (response_id,),
        ):
            chosen.setdefault(question, []).append(option)
        return chosen

    def later_claim(self, row_id: int, now: dt.datetime, quiet: QuietHours) -> str:
        """Claim a waiting reminder or follow-up message just before it is sent.

        Returns "send"; "gone" if it was cancelled, no longer applies, or was claimed before a
        crash (it may have gone out: never twice); or "later" if ``now`` is in the quiet hours
        (it then waits for the morning).
        """
        with self.transaction():
            row = self.conn.execute(
                "SELECT subject, purpose, claimed FROM outbox WHERE id = ? AND status = 'todo'",
                (row_id,),
            ).fetchone()
            if row is None:
                return "gone"
            subject, purpose = row["subject"], row["purpose"]
            if row["claimed"] is not None:
                self.conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                return "gone"
            if quiet.quiet(now):
                morning = quiet.next_allowed(now).timestamp()
                self.conn.execute(
                    "UPDATE outbox SET not_before = ? WHERE id = ?", (morning, row_id)
                )
                return "later"
            if purpose == REMINDER:
                changed = self.conn.execute(
                    "UPDATE conversations SET reminded = 1 WHERE subject = ? AND reminded = 0 "
                    "AND state NOT IN ('welcome', 'done')",
                    (subject,),
                ).rowcount
                if not changed:  # the conversation ended or moved on without cancelling it
                    self.conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                    return "gone"
            elif purpose == FOLLOW_UP:
                self.conn.execute(
                    "UPDATE follow_ups SET sent = ? WHERE subject = ? AND sent IS NULL",
                    (_utc(now), subject),
                )
            self.conn.execute("UPDATE outbox SET claimed = ? WHERE id = ?", (_utc(now), row_id))
            return "send"

    def add_sent(self, counted: Mapping[str, int], now: dt.datetime) -> None:
        """Add delivered reminders and follow-ups (by purpose) to the counters."""
        for purpose, n in counted.items():
            self._bump(f"sent_{purpose}", n, now)

    def later_counts(self) -> dict[str, int]:
        """How many reminders and follow-ups wait and went (counts only, for review)."""
        # A waiting follow-up is counted from follow_ups, which keeps it for its whole interval.
        (reminders_waiting,) = self.conn.execute(
            "SELECT count(*) FROM outbox WHERE status = 'todo' AND purpose = ?", (REMINDER,)
        ).fetchone()
        sent = dict(
            self.conn.execute(
                "SELECT name, value FROM transport_counters WHERE name LIKE 'sent_%'"
            ).fetchall()
        )
        return {
            "reminders_waiting": reminders_waiting,
            "reminders_sent": sent.get(f"sent_{REMINDER}", 0),
            "follow_ups_waiting": self.conn.execute(
                "SELECT count(*) FROM follow_ups WHERE sent IS NULL"
            ).fetchone()[0],
            "follow_ups_sent": sent.get(f"sent_{FOLLOW_UP}", 0),
        }

    def _purge_later(self, idle: str) -> dict[str, int]:
        """Reminders whose conversation is gone; follow-ups sent but unused past the idle time."""
        self.conn.execute(
            "DELETE FROM outbox WHERE purpose = ? AND status = 'todo' AND subject NOT IN "
            "(SELECT subject FROM conversations)",
            (REMINDER,),
        )
        stale = [
            row[0]
            for row in self.conn.execute(
                "SELECT subject FROM follow_ups WHERE sent IS NOT NULL AND sent < ?", (idle,)
            )
        ]
        for subject in stale:
            self.follow_up_cancel(subject)
        return {"follow_ups": len(stale)}

    # ---- people to re-show their question ------------------------------------------------

    def reshow_flag(self, subject: str, now: dt.datetime) -> None:
        """Remember that something sent by or to this person was lost."""
        self.conn.execute(
            "INSERT OR IGNORE INTO reshow (subject, since) VALUES (?, ?)", (subject, _utc(now))
        )

    def reshow_take(self, subject: str) -> bool:
        """Whether this person lost something since they last wrote (and forget it)."""
        return bool(self.conn.execute("DELETE FROM reshow WHERE subject = ?", (subject,)).rowcount)

    # ---- the demo-data fence ---------------------------------------------------------------

    def mark_synthetic(self, now: dt.datetime, seed: int) -> None:
        """Record that this database holds made-up data (inside demo-data's first transaction)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO synthetic (id, made, seed) VALUES (1, ?, ?)", (_utc(now), seed)
        )

    @property
    def synthetic(self) -> bool:
        """Whether ``demo-data`` made this database (its answers are made up)."""
        return _has_marker(self.conn)

    # ---- health ------------------------------------------------------------------------------

    def count(self, name: str, now: dt.datetime) -> None:
        """Add one to a transport counter (its own transaction)."""
        with self.transaction():
            self._bump(name, 1, now)

    def _bump(self, name: str, n: int, now: dt.datetime) -> None:
        self.conn.execute(
            "INSERT INTO transport_counters (name, value, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value, "
            "updated = excluded.updated",
            (name, n, _utc(now)),
        )

    def health(self, now: float | None = None, *, probe: bool = True) -> Health:
        """Whether the store takes writes, and how far behind the inbox and outbox are.

        ``now`` is unix time. Used by ``health``, ``/healthz`` and the metrics. Without
        ``probe`` nothing is written and ``writable`` is not tested (reported True): for
        metrics scraped every few seconds, which must not write each time.
        """
        now = time.time() if now is None else now
        writable = True
        if probe:
            try:
                self.count("health_checks", dt.datetime.fromtimestamp(now, dt.UTC))
            except sqlite3.Error:
                writable = False

        def failed(table: str) -> int:
            return int(
                self.conn.execute(
                    f"SELECT count(*) FROM {table} WHERE status = 'failed'"
                ).fetchone()[0]
            )

        def age(since: float | None) -> float | None:
            return None if since is None else max(now - since, 0.0)

        depth, first = self.conn.execute(
            "SELECT count(*), min(received) FROM inbox WHERE status = 'todo'"
        ).fetchone()
        inbox = (depth, age(dt.datetime.fromisoformat(first).timestamp() if first else None))
        # A message is behind from when it was due: when made, or when a held row fell due.
        depth, since = self.conn.execute(
            "SELECT count(*), min(max(CAST(strftime('%s', created) AS REAL), not_before)) "
            "FROM outbox WHERE status = 'todo' AND not_before <= ?",
            (now,),
        ).fetchone()
        outbox = (depth, age(since))
        (scheduled,) = self.conn.execute(
            "SELECT count(*) FROM outbox WHERE status = 'todo' AND not_before > ?", (now,)
        ).fetchone()
        pauses = self.conn.execute(
            "SELECT value FROM transport_counters WHERE name = 'pauses_429'"
        ).fetchone()
        return Health(
            writable=writable,
            inbox_depth=inbox[0],
            inbox_oldest_s=inbox[1],
            inbox_failed=failed("inbox"),
            outbox_depth=outbox[0],
            outbox_oldest_s=outbox[1],
            outbox_failed=failed("outbox"),
            pauses_429=pauses[0] if pauses else 0,
            outbox_scheduled=scheduled,
        )

    # ---- conversations ---------------------------------------------------------------------

    def load(self, subject: str) -> Conversation | None:
        """The stored conversation for a pseudonym, if any."""
        row = self.conn.execute(
            "SELECT * FROM conversations WHERE subject = ?", (subject,)
        ).fetchone()
        if row is None:
            return None
        return Conversation(
            state=row["state"],
            answers=json.loads(row["answers"]),
            run=row["run"],
            started=row["started"],
            step=row["step"],
            reviewing=bool(row["reviewing"]),
            draft=tuple(json.loads(row["draft"])) if row["draft"] is not None else None,
            code=row["code"],
            handover=bool(row["handover"]),
            reminded=bool(row["reminded"]),
            follow_up=bool(row["follow_up"]),
            link=row["link"],
            defaults=json.loads(row["defaults"]) if row["defaults"] else None,
        )

    def save(self, subject: str, conv: Conversation, now: dt.datetime) -> None:
        """Store a conversation's new state."""
        # Plain SQL: this runs for nearly every event, and sqlite-utils' upsert reads the
        # schema each time.
        self.conn.execute(
            "INSERT INTO conversations (subject, state, answers, draft, step, reviewing, run, "
            "started, updated, code, handover, reminded, follow_up, link, defaults) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (subject) DO UPDATE SET state = excluded.state, "
            "answers = excluded.answers, draft = excluded.draft, step = excluded.step, "
            "reviewing = excluded.reviewing, run = excluded.run, started = excluded.started, "
            "updated = excluded.updated, code = excluded.code, handover = excluded.handover, "
            "reminded = excluded.reminded, follow_up = excluded.follow_up, "
            "link = excluded.link, defaults = excluded.defaults",
            (
                subject,
                conv.state,
                json.dumps(conv.answers, ensure_ascii=False, sort_keys=True),
                json.dumps(list(conv.draft)) if conv.draft is not None else None,
                conv.step,
                int(conv.reviewing),
                conv.run,
                conv.started,
                _utc(now),
                conv.code,
                int(conv.handover),
                int(conv.reminded),
                int(conv.follow_up),
                conv.link,
                json.dumps(conv.defaults, ensure_ascii=False, sort_keys=True)
                if conv.defaults
                else None,
            ),
        )

    def delete(self, subject: str) -> None:
        """Remove a conversation (cancelled or erased)."""
        self.conn.execute("DELETE FROM conversations WHERE subject = ?", (subject,))

    def reached(self, run: str, state: str, now: dt.datetime) -> bool:
        """Count that a run reached a step (first time only); True if it was the first time."""
        return bool(
            self.conn.execute(
                "INSERT OR IGNORE INTO progress (run, state, reached) VALUES (?, ?, ?)",
                (run, state, _utc(now)),
            ).rowcount
        )

    # ---- responses -------------------------------------------------------------------------

    def add_response(self, subject: str, done: Completion, channel: str = "telegram") -> int:
        """Store a completed triage as countable rows; raise CodeTaken on a code clash.

        ``channel`` is where it was given: "telegram" (also the terminal) or "web".
        """
        if self.conn.execute("SELECT 1 FROM responses WHERE code = ?", (done.code,)).fetchone():
            raise CodeTaken(done.code)
        # A follow-up check is paired with the earlier one only while this person's follow-up
        # is still open; the pair needs nothing more about them, so it is closed now.
        follows = None
        if (
            done.follows is not None
            and self.conn.execute(
                "DELETE FROM follow_ups WHERE link = ? AND subject = ?", (done.follows, subject)
            ).rowcount
        ):
            follows = done.follows
        table = self.db["responses"]
        table.insert(
            {
                "code": done.code,
                "run": done.run,
                "started": done.started,
                "completed": done.completed,
                "flow": done.flow_id,
                "content_version": done.content_version,
                "readiness": done.readiness,
                "channel": channel,
                "follows_link": follows,
            }
        )
        response_id = int(table.last_pk)
        rows = [
            {"response_id": response_id, "question": q, "option": o, "value": v}
            for q, o, v in done.rows
        ]
        if rows:
            self.db["answers"].insert_all(rows)
        texts = [
            {"response_id": response_id, "question": q, "text": t} for q, t in done.texts.items()
        ]
        if texts:
            self.db["response_text"].insert_all(texts)
        recs = [
            {
                "response_id": response_id,
                "position": i,
                "signpost": sp,
                "section": section,
                "reasons": reasons,
            }
            for i, (sp, section, reasons) in enumerate(done.recommendations, start=1)
        ]
        if recs:
            self.db["recommendations"].insert_all(recs)
        self.db["response_owners"].insert(
            {"response_id": response_id, "subject": subject, "completed": done.completed}
        )
        return response_id

    def record_handover(self, code: str, now: dt.datetime) -> None:
        """Note that the person with this response asked the team to contact them (once)."""
        self.conn.execute(
            "UPDATE responses SET handover = ? WHERE code = ? AND handover IS NULL",
            (_utc(now), code),
        )

    # ---- erasure and retention -------------------------------------------------------------

    def forget(self, subject: str) -> int:
        """Delete a person's conversation and every response linked to them; return count."""
        ids = [
            r[0]
            for r in self.conn.execute(
                "SELECT response_id FROM response_owners WHERE subject = ?", (subject,)
            )
        ]
        for table in ("answers", "response_text", "recommendations", "response_owners"):
            self.conn.executemany(f"DELETE FROM {table} WHERE response_id = ?", [(i,) for i in ids])
        self.conn.executemany("DELETE FROM responses WHERE id = ?", [(i,) for i in ids])
        self.delete(subject)
        self.conn.execute("DELETE FROM reshow WHERE subject = ?", (subject,))
        self.cancel_all_later(subject)
        return len(ids)

    def purge(self, now: dt.datetime, idle_days: int, retention_days: int) -> dict[str, int]:
        """Apply retention: idle conversations, old free text and owner links, old update ids.

        Finished inbox rows (kept to recognise a repeated update) and the record of dropped
        messages go after two days.
        """
        idle = _utc(now - dt.timedelta(days=idle_days))
        old = _utc(now - dt.timedelta(days=retention_days))
        updates = _utc(now - UPDATE_MEMORY)
        with self.transaction():
            counts = {
                "conversations": self.conn.execute(
                    "DELETE FROM conversations WHERE updated < ?", (idle,)
                ).rowcount,
                "free_text": self.conn.execute(
                    "DELETE FROM response_text WHERE response_id IN "
                    "(SELECT id FROM responses WHERE completed < ?)",
                    (old,),
                ).rowcount,
                "owner_links": self.conn.execute(
                    "DELETE FROM response_owners WHERE completed < ?", (old,)
                ).rowcount,
                "update_ids": self.conn.execute(
                    "DELETE FROM inbox WHERE status != 'todo' AND received < ?", (updates,)
                ).rowcount,
            }
            self.conn.execute(
                "DELETE FROM outbox WHERE status = 'failed' AND finished < ?", (updates,)
            )
            counts.update(self._purge_later(idle))
        return counts


# ---- one writer thread ------------------------------------------------------------------------


class StoreThread:
    """Runs every database call on one thread: SQLite has one writer, and so do we."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the store thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        """Finish queued calls and stop the thread."""
        self._pool.shutdown(wait=True)
