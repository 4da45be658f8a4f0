"""The triage database: the only code that writes SQL.

SQLite in WAL mode with ``synchronous=FULL``: a step is durable once :meth:`Store.transaction`
returns. The store never sees a Telegram id, chat id, name or username: conversations are
keyed by a pseudonym (HMAC of the user id) and completed responses by a random code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from .engine import Completion, Conversation

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
    # Name the uid: in the Docker image the bot runs as uid 10001, not as the host's user.
    return (
        f"give uid {uid} (the user this runs as) read and write access to {target}, "
        f"for example: chown {uid} {target}"
    )


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


def _utc(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


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


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migration_1,
    _migration_2,
    _migration_handover,
    _migration_channel,
]


@dataclass(frozen=True)
class Seen:
    """Whether an update was handled before, and whether its reply went out."""

    handled: bool
    replied: bool


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
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        try:
            # Read the version first: a newer database is refused before anything is written.
            self._refuse_newer()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys=ON")
            if migrate:
                self.migrate()
        except sqlite3.Error as exc:
            conn.close()
            raise explain(exc, self.path) or exc from None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def _refuse_newer(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer version of the bot (database schema "
                f"{version}; this version knows up to {len(MIGRATIONS)}): upgrade the bot "
                "to use it. The database was left untouched"
            )

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
        except BaseException as exc:
            if self.conn.in_transaction:
                with suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise explain(exc, self.path, writing=True) or exc from None
            raise

    # ---- updates ---------------------------------------------------------------------------

    def seen(self, update_id: int) -> Seen:
        """Whether this Telegram update was handled already."""
        row = self.conn.execute(
            "SELECT replied FROM updates WHERE update_id = ?", (update_id,)
        ).fetchone()
        return Seen(handled=row is not None, replied=bool(row and row[0]))

    def record_update(self, update_id: int, now: dt.datetime) -> None:
        """Remember that an update's effect is part of this transaction."""
        self.conn.execute(
            "INSERT INTO updates (update_id, received, replied) VALUES (?, ?, 0)",
            (update_id, _utc(now)),
        )

    def mark_replied(self, update_id: int) -> None:
        """Note that every reply to this update was delivered."""
        with self.transaction():
            self.conn.execute("UPDATE updates SET replied = 1 WHERE update_id = ?", (update_id,))

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
        )

    def save(self, subject: str, conv: Conversation, now: dt.datetime) -> None:
        """Store a conversation's new state."""
        self.db["conversations"].upsert(
            {
                "subject": subject,
                "state": conv.state,
                "answers": json.dumps(conv.answers, ensure_ascii=False, sort_keys=True),
                "draft": json.dumps(list(conv.draft)) if conv.draft is not None else None,
                "step": conv.step,
                "reviewing": int(conv.reviewing),
                "run": conv.run,
                "started": conv.started,
                "updated": _utc(now),
                "code": conv.code,
                "handover": int(conv.handover),
            },
            pk="subject",
        )

    def delete(self, subject: str) -> None:
        """Remove a conversation (cancelled or erased)."""
        self.conn.execute("DELETE FROM conversations WHERE subject = ?", (subject,))

    def reached(self, run: str, state: str, now: dt.datetime) -> None:
        """Count that a run reached a step (first time only)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO progress (run, state, reached) VALUES (?, ?, ?)",
            (run, state, _utc(now)),
        )

    # ---- responses -------------------------------------------------------------------------

    def add_response(self, subject: str, done: Completion, channel: str = "telegram") -> int:
        """Store a completed triage as countable rows; raise CodeTaken on a code clash.

        ``channel`` is where it was given: "telegram" (also the terminal) or "web".
        """
        if self.conn.execute("SELECT 1 FROM responses WHERE code = ?", (done.code,)).fetchone():
            raise CodeTaken(done.code)
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
        return len(ids)

    def purge(self, now: dt.datetime, idle_days: int, retention_days: int) -> dict[str, int]:
        """Apply retention: idle conversations, old free text and owner links, old update ids."""
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
                    "DELETE FROM updates WHERE received < ?", (updates,)
                ).rowcount,
            }
        return counts
