"""The figures: what health, metrics, the review tools and the reports read, and the counters.

Health (``health``, ``/healthz``, the metrics) reads how far behind the inbox and outbox are;
the review tools read how many reminders and follow-ups wait and went, and a response's
chosen options; everyone may ask whether ``demo-data`` made the database. The transport's
counters (429 pauses, messages sent later, health probes) are kept across processes here.
Nothing here changes what anyone answered.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.later import FOLLOW_UP, REMINDER
from bot.store.base import StoreBase, utc
from bot.store.schema import has_marker


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


class Reads(StoreBase):
    """Health, counters, counts for review, and the demo-data fence."""

    # ---- counters and health -----------------------------------------------------------------

    def count(self, name: str, now: dt.datetime) -> None:
        """Add one to a transport counter (its own transaction)."""
        with self.transaction():
            self._bump(name, 1, now)

    def _bump(self, name: str, n: int, now: dt.datetime) -> None:
        self.conn.execute(
            "INSERT INTO transport_counters (name, value, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value, "
            "updated = excluded.updated",
            (name, n, utc(now)),
        )

    def add_sent(self, counted: Mapping[str, int], now: dt.datetime) -> None:
        """Add delivered reminders and follow-ups (by purpose) to the counters."""
        for purpose, n in counted.items():
            self._bump(f"sent_{purpose}", n, now)

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

    # ---- counts for review, and what is left at a stop --------------------------------------

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

    def waiting(self) -> tuple[int, int]:
        """Inbox rows still to handle and outbox rows still to send now (not those for later)."""
        inbox = self.conn.execute("SELECT count(*) FROM inbox WHERE status = 'todo'").fetchone()
        outbox = self.conn.execute(
            "SELECT count(*) FROM outbox WHERE status = 'todo' AND not_before = 0"
        ).fetchone()
        return int(inbox[0]), int(outbox[0])

    def response_options(self, response_id: int) -> dict[str, list[str]]:
        """A finished response's chosen options (codes) by question, in the order stored."""
        chosen: dict[str, list[str]] = {}
        for question, option in self.conn.execute(
            "SELECT question, option FROM answers WHERE response_id = ? ORDER BY rowid",
            (response_id,),
        ):
            chosen.setdefault(question, []).append(option)
        return chosen

    # ---- the demo-data fence ---------------------------------------------------------------

    def mark_synthetic(self, now: dt.datetime, seed: int) -> None:
        """Record that this database holds made-up data (inside demo-data's first transaction)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO synthetic (id, made, seed) VALUES (1, ?, ?)", (utc(now), seed)
        )

    @property
    def synthetic(self) -> bool:
        """Whether ``demo-data`` made this database (its answers are made up)."""
        return has_marker(self.conn)
