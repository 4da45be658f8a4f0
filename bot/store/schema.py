"""The database's schema: every migration in order, and how the file is opened.

The schema is never created any other way than by running :data:`MIGRATIONS` in order, each
in its own transaction, recording how far it got in ``PRAGMA user_version``; an old database
is brought up to date when it is opened, one written by a newer version is refused before
anything is written. :func:`open_database` opens the file the one way the store uses it:
WAL with ``synchronous=FULL`` (a step is durable once its transaction commits), a busy
timeout, foreign keys, and deleted rows overwritten.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from bot.store.errors import BUSY_TIMEOUT_MS, StoreError, check_database_path, explain


def open_database(path: Path) -> sqlite_utils.Database:
    """Open (or create) the database file, set up; raise StoreError if it cannot be used.

    The schema is not migrated here (:meth:`bot.store.base.StoreBase.migrate` does that);
    a newer one is refused.
    """
    check_database_path(path)
    try:
        conn = sqlite3.connect(
            str(path),
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
    except sqlite3.Error as exc:
        raise explain(exc, path) or exc from None
    conn.row_factory = sqlite3.Row
    db = sqlite_utils.Database(conn, execute_plugins=False)
    try:
        # Read the version first: a newer database is refused before anything is written.
        refuse_newer(path, schema_version(conn))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        # Deleted rows are overwritten, so an erased answer leaves no readable trace.
        conn.execute("PRAGMA secure_delete=ON")
    except sqlite3.Error as exc:
        conn.close()
        raise explain(exc, path) or exc from None
    return db


def schema_version(conn: sqlite3.Connection) -> int:
    """The number of migrations applied to this database."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def refuse_newer(path: Path, version: int) -> None:
    """Raise StoreError if the database was written by a newer version of the bot."""
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
        refuse_newer(path, schema_version(conn))
        return has_marker(conn)
    except sqlite3.Error as exc:
        raise explain(exc, path) or exc from None
    finally:
        conn.close()


def has_marker(conn: sqlite3.Connection) -> bool:
    """Whether the demo-data fence holds its row (an older schema has no fence at all)."""
    table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'synthetic'"
    ).fetchone()
    return bool(table and conn.execute("SELECT 1 FROM synthetic").fetchone())


# ---- the migrations ------------------------------------------------------------------------------


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
