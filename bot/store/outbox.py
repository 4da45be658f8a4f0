"""The outbox, and the messages sent later (reminders and follow-ups, issue 9).

A Bot API call is an outbox row committed in the same transaction as the state change that
produced it; the sender delivers it once committed and records what happened (delivered rows
are deleted, dropped ones keep only their method and error). Nothing identifying is in a
row's parameters: the chat is in its sealed ``address``, its ``lane`` is a pseudonym.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.later import FOLLOW_UP, LATER, REMINDER, QuietHours
from bot.store.base import utc
from bot.store.inbox import Inbox
from bot.store.reads import Reads


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


class Outbox(Inbox, Reads):
    """The outbox's rows, and the reminders and follow-ups waiting in it.

    Delivering records the people who lost a reply (:class:`Inbox`) and counts reminders and
    follow-ups sent (:class:`Reads`).
    """

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
        created = utc(now)
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
        finished = utc(now)
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
                    utc(now),
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
            (link, subject, utc(due), utc(now)),
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
                    (utc(now), subject),
                )
            self.conn.execute("UPDATE outbox SET claimed = ? WHERE id = ?", (utc(now), row_id))
            return "send"

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
