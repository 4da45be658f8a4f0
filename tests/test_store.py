"""The store: durability settings, migrations, de-duplication, erasure and retention."""

from __future__ import annotations

import datetime as dt

from bot.conversation.engine import Command, Press
from bot.privacy import CODE_RE, new_reference_code, normalise_code, pseudonym, scrub
from bot.store import MIGRATIONS, Store

from .conftest import MUTUAL_ANSWERS, Walker, answer_all


def test_durability_pragmas_and_schema_version(store: Store) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert store.schema_version == len(MIGRATIONS)
    store.migrate()  # idempotent
    assert store.schema_version == len(MIGRATIONS)


def test_inbox_applies_each_update_once_and_commits_replies_with_the_state(triage) -> None:
    from bot.channels.service import encode_event
    from bot.sealing import Address, Sealer
    from bot.store import InboxEntry, Outgoing

    store, sealer = triage.store, Sealer("k" * 64)
    subject = "b" * 64
    address = sealer.seal(Address(4242))

    def entry(update_id: int, event) -> InboxEntry:
        return InboxEntry(
            update_id,
            "message",
            subject=subject,
            lane=subject,
            event=encode_event(event),
            address=address,
        )

    def compose(item, outcome) -> list[Outgoing]:
        return [
            Outgoing(item.lane, "sendMessage", {"text": r.text}, item.address, subject=item.subject)
            for r in outcome.replies
            if r.text
        ]

    now = triage.clock()
    assert store.inbox_add([entry(10, Command("start"))], now) == 1
    assert store.inbox_add([entry(10, Command("start"))], now) == 0  # fetched twice
    worked = triage.work(compose)
    assert worked.handled == 1 and len(worked.outgoing) == 1
    (row,) = store.outbox_pending()
    assert row.address == address and "4242" not in row.params["text"]
    assert sealer.open(row.address).chat_id == 4242
    done = store.db.execute("SELECT status, subject, event, address FROM inbox").fetchone()
    assert tuple(done) == ("done", None, None, None)  # nothing kept once handled
    assert store.inbox_add([entry(10, Press("go|0"))], now) == 0  # a repeated update
    assert triage.work(compose).handled == 0 and store.load(subject) is None
    store.outbox_finish([row.id])
    assert store.outbox_pending() == []


def test_forget_removes_only_that_person(triage) -> None:
    alice, bob = Walker(triage, "a" * 64), Walker(triage, "b" * 64)
    for w in (alice, bob):
        w.command("start")
        w.tap("Start")
        answer_all(w, MUTUAL_ANSWERS)
        w.tap("Confirm")
    assert triage.store.forget("a" * 64) == 1
    assert triage.store.db["responses"].count == 1
    (owner,) = triage.store.db["response_owners"].rows
    assert owner["subject"] == "b" * 64


def test_retention_purge(triage) -> None:
    w = Walker(triage)
    w.command("start")
    w.tap("Start")
    answer_all(w, MUTUAL_ANSWERS)
    w.tap("Confirm")
    idle = Walker(triage, "c" * 64)
    idle.command("start")
    idle.tap("Start")
    store = triage.store
    soon = triage.clock() + dt.timedelta(days=5)
    assert store.purge(soon, idle_days=30, retention_days=90) == {
        "conversations": 0,
        "free_text": 0,
        "owner_links": 0,
        "update_ids": 0,
        "follow_ups": 0,
    }
    later = triage.clock() + dt.timedelta(days=100)
    counts = store.purge(later, idle_days=30, retention_days=90)
    assert counts["conversations"] == 2 and counts["free_text"] == 1
    assert counts["owner_links"] == 1
    assert store.db["responses"].count == 1  # the answers stay, under their code
    assert store.db["answers"].count > 10


def test_pseudonyms_codes_and_scrubbing() -> None:
    assert pseudonym("k" * 32, 123) == pseudonym("k" * 32, "123")
    assert pseudonym("k" * 32, 123) != pseudonym("j" * 32, 123)
    assert "123" not in pseudonym("k" * 32, 123)
    codes = {new_reference_code() for _ in range(2000)}
    assert len(codes) == 2000 and all(CODE_RE.match(c) for c in codes)
    code = next(iter(codes))
    assert normalise_code(code.lower().replace("-", " ")) == code
    assert normalise_code("MPSP-0000-0000") is None
    from bot.conversation.content import load_content

    from .conftest import ROOT

    marks = load_content(ROOT).ui.removed.model_dump()
    cleaned = scrub(
        "Mail a.b@c.co.uk, ring +44 (0)20 7946 0958 or 07700900123, "
        "see www.x.org, @someone, EX4 4QJ; we had 250 staff in 2019 and £1,000,000",
        marks,
    )
    for gone in ("a.b@c", "7946", "07700900123", "www.x.org", "@someone", "EX4 4QJ"):
        assert gone not in cleaned
    assert "250 staff in 2019" in cleaned and "£1,000,000" in cleaned


def test_nested_transactions_are_savepoints_committed_together(store: Store) -> None:
    from bot.conversation.engine import Conversation

    conv = Conversation(state="role", answers={"org_type": "psm"}, run="r1", started="s")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with store.transaction():
        with store.transaction():
            store.save("kept", conv, now)
        try:
            with store.transaction():
                store.save("undone", conv, now)
                raise RuntimeError("this one fails")
        except RuntimeError:
            pass
        assert store.conn.in_transaction  # nothing is committed until the outer block ends
    assert store.load("kept") == conv and store.load("undone") is None
    assert not store.conn.in_transaction


def test_old_responses_count_as_telegram(tmp_path) -> None:
    import sqlite3

    import sqlite_utils

    from bot.store import _migration_channel

    # A database as it was before the channel migration, holding one response.
    path = tmp_path / "old.db"
    before = MIGRATIONS.index(_migration_channel)
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for migration in MIGRATIONS[:before]:
        migration(db)
    conn.execute(f"PRAGMA user_version={before}")
    conn.execute(
        "INSERT INTO responses (code, run, started, completed, flow, content_version) "
        "VALUES ('MPSP-AAAA-BBBB', 'r', 's', 'c', 'triage', 'v')"
    )
    conn.close()
    store = Store(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
        (row,) = store.db["responses"].rows
        assert row["channel"] == "telegram"
    finally:
        store.close()


def test_a_reference_code_already_taken_is_drawn_again_on_both_paths(store, content) -> None:
    """A clash rolls the attempt back (nothing of it told or stored) and draws a new code."""
    from bot.channels.service import Triage, encode_event
    from bot.conversation.engine import Engine
    from bot.store import InboxEntry

    from .conftest import Clock

    taken = ["MPSP-AAAA-AAAA", "MPSP-BBBB-BBBB"]
    draws = iter([taken[0], taken[0], taken[1], taken[1], "MPSP-CCCC-CCCC"])
    told: list[tuple[str, str]] = []
    triage = Triage(
        store,
        Engine(content),
        clock=Clock(),
        new_code=lambda: next(draws),
        on_check=lambda event, channel: told.append((event, channel)),
    )
    first, second, third = (Walker(triage, c * 64) for c in "abc")
    for w in (first, second, third):
        w.command("start")
        w.tap("Start")
        answer_all(w, MUTUAL_ANSWERS)
    first.tap("Confirm")
    second.tap("Confirm")  # the direct path (terminal, web): AAAA is taken
    confirm = third.button("Confirm").data
    entry = InboxEntry(
        7, "callback_query", subject="c" * 64, lane="c" * 64, event=encode_event(Press(confirm))
    )
    store.inbox_add([entry], triage.clock())
    assert triage.work(lambda item, outcome: []).handled == 1  # the inbox path: BBBB is taken
    codes = [r["code"] for r in store.db.execute("SELECT code FROM responses ORDER BY id")]
    assert codes == ["MPSP-AAAA-AAAA", "MPSP-BBBB-BBBB", "MPSP-CCCC-CCCC"]
    assert told.count(("finished", "telegram")) == 3  # each told once, clashes not at all
