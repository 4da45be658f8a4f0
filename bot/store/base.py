"""The one connection every table family shares: opening, migrating, transactions.

Each family of tables (:mod:`.conversations`, :mod:`.inbox`, :mod:`.outbox`, :mod:`.reads`)
is a mixin on :class:`StoreBase`, so :class:`bot.store.Store` is one object with one
connection and one transaction discipline: :meth:`StoreBase.transaction` is the only place a
transaction begins, commits or rolls back, and inside another one it is a savepoint.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from bot.store.errors import explain
from bot.store.schema import MIGRATIONS, open_database, refuse_newer, schema_version


def utc(now: dt.datetime) -> str:
    """A time as the store keeps it: UTC, ISO 8601, to the second."""
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


class StoreBase:
    """A connection to the triage database. Use from one thread at a time."""

    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        """Open (or create) the database; raise StoreError if the file cannot be used.

        With ``migrate=False`` an older schema is left as it is (a backup copies the database
        as it was); a newer one is always refused.
        """
        self.path = Path(path)
        self.db = open_database(self.path)
        self.conn = self.db.conn
        self._savepoints = 0
        self._checkpoint_due = False
        if migrate:
            try:
                self.migrate()
            except sqlite3.Error as exc:
                self.conn.close()
                raise explain(exc, self.path) or exc from None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def migrate(self) -> None:
        """Bring the schema up to date (each migration in its own transaction)."""
        refuse_newer(self.path, self.schema_version)
        version = self.schema_version
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                migration(self.db)
                self.conn.execute(f"PRAGMA user_version={number}")

    @property
    def schema_version(self) -> int:
        """The applied migration number."""
        return schema_version(self.conn)

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
