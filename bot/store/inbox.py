"""The inbox: Telegram updates committed before they are confirmed, then worked through.

An update is committed here (what the engine needs, never the raw update; the chat a reply
goes to sealed) before Telegram is told it arrived, so a crash loses nothing. The worker takes
due rows strictly in order per person; a finished row keeps only its id, kind, status, times
and error, for two days, to recognise a repeated update. Also here: the people whose update
or reply was lost, who are shown their current question when they next write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from bot.store.base import StoreBase, utc

# Telegram keeps an unconfirmed update for 24 hours; remember ids a little longer.
UPDATE_MEMORY = dt.timedelta(hours=48)

# An inbox row that is finished keeps only its id, kind, status, times and error: whose it was
# and what it said are cleared, done or failed.
_INBOX_CLEARED = (
    "subject = NULL, lane = NULL, event = NULL, callback_id = NULL, message_id = NULL, "
    "address = NULL"
)


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


class Inbox(StoreBase):
    """The inbox's rows, and the people to re-show their question."""

    def inbox_add(self, entries: Iterable[InboxEntry], now: dt.datetime) -> int:
        """Commit fetched updates in one transaction, ignoring ids already known; count new."""
        received = utc(now)
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
        finished = utc(now)
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
            (utc(now), error, update_id),
        )
        return row[0] if row else None

    # ---- people to re-show their question ------------------------------------------------

    def reshow_flag(self, subject: str, now: dt.datetime) -> None:
        """Remember that something sent by or to this person was lost."""
        self.conn.execute(
            "INSERT OR IGNORE INTO reshow (subject, since) VALUES (?, ?)", (subject, utc(now))
        )

    def reshow_take(self, subject: str) -> bool:
        """Whether this person lost something since they last wrote (and forget it)."""
        return bool(self.conn.execute("DELETE FROM reshow WHERE subject = ?", (subject,)).rowcount)

    def reshow_subjects(self) -> set[str]:
        """Everyone waiting to be shown their question (usually no one)."""
        return {row[0] for row in self.conn.execute("SELECT subject FROM reshow")}
