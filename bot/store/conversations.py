"""A person's conversation, their finished responses with their reference codes, and forgetting.

The live conversation is keyed by a pseudonym (an HMAC of the user id), never an id or a
name; a finished response is kept as countable rows under a random code, linked back to the
person only through ``response_owners``, which retention removes. ``forget`` deletes all of
it for one person (with whatever waits to be sent to them later); ``purge`` applies the
retention rules to everyone.
"""

from __future__ import annotations

import datetime as dt
import json

from bot.conversation.engine import Completion, Conversation
from bot.store.base import utc
from bot.store.inbox import UPDATE_MEMORY
from bot.store.outbox import Outbox


class CodeTaken(Exception):
    """The random reference code already exists; draw another."""


class Conversations(Outbox):
    """Conversations, responses, erasure and retention.

    Forgetting a person and purging also end what waits for them in the outbox.
    """

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
                utc(now),
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
                (run, state, utc(now)),
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
            (utc(now), code),
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
        idle = utc(now - dt.timedelta(days=idle_days))
        old = utc(now - dt.timedelta(days=retention_days))
        updates = utc(now - UPDATE_MEMORY)
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
