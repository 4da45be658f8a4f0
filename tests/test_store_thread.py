"""The one write thread: group commit for the web page, calls alone for the Telegram bot."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

from bot.conversation.engine import Conversation
from bot.store import Store, StoreThread

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CONV = Conversation(state="role", answers={"org_type": "psm"}, run="r1", started="s")


@pytest.fixture
def groups(store: Store) -> Iterator[tuple[StoreThread, list[bool]]]:
    told: list[bool] = []
    thread = StoreThread(store, committed=told.append)
    yield thread, told
    thread.close()


async def queued_together(thread: StoreThread, *jobs: Coroutine[Any, Any, Any]) -> list[Any]:
    """Run ``jobs`` so that they wait in the queue together, as a crowd's would.

    The thread is held until every job is queued, then let go; each job's result or error.
    """
    gate = threading.Event()
    held = asyncio.ensure_future(thread.call(gate.wait))
    await asyncio.sleep(0.05)
    tasks = [asyncio.ensure_future(job) for job in jobs]
    await asyncio.sleep(0.01)  # every job is in the queue now
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await held
    return results


async def test_jobs_waiting_together_commit_together_and_a_failure_is_undone_alone(
    store: Store, groups: tuple[StoreThread, list[bool]]
) -> None:
    thread, told = groups

    def fails() -> None:
        store.save("undone", CONV, NOW)
        raise RuntimeError("this one fails")

    def in_a_transaction(name: str) -> bool:
        store.save(name, CONV, NOW)
        return store.conn.in_transaction

    first, failed, second = await queued_together(
        thread,
        thread.commit(in_a_transaction, "first"),
        thread.commit(fails),
        thread.commit(in_a_transaction, "second"),
    )
    assert first is True and second is True  # each ran inside the group's transaction
    assert isinstance(failed, RuntimeError)
    assert told == [True]  # one group, one commit
    assert store.load("first") == CONV and store.load("second") == CONV
    assert store.load("undone") is None
    assert not store.conn.in_transaction


async def test_a_job_is_answered_only_once_its_group_is_committed(
    store: Store, groups: tuple[StoreThread, list[bool]]
) -> None:
    thread, _told = groups
    reader = Store(store.path)
    try:
        await thread.commit(store.save, "kept", CONV, NOW)
        # Another connection sees it the moment the call returns: it is on disk.
        assert reader.load("kept") == CONV
    finally:
        reader.close()


async def test_a_group_that_cannot_commit_keeps_nothing_and_tells_everyone(
    store: Store, groups: tuple[StoreThread, list[bool]]
) -> None:
    thread, told = groups

    def breaks_the_commit() -> None:
        # A deferred foreign key: each savepoint succeeds, the COMMIT itself is refused.
        store.conn.execute("PRAGMA defer_foreign_keys = ON")
        store.conn.execute(
            "INSERT INTO answers (response_id, question, option) VALUES (999, 'q', 'o')"
        )

    results = await queued_together(
        thread, thread.commit(store.save, "lost", CONV, NOW), thread.commit(breaks_the_commit)
    )
    assert all(isinstance(r, Exception) for r in results)
    assert told == [False]
    assert store.load("lost") is None and not store.conn.in_transaction


async def test_calls_run_alone_in_their_place_in_the_queue(
    store: Store, groups: tuple[StoreThread, list[bool]]
) -> None:
    thread, told = groups
    order: list[str] = []

    def grouped(name: str) -> None:
        order.append(name)

    def alone() -> bool:
        order.append("alone")
        return store.conn.in_transaction

    _a, in_transaction, _b = await queued_together(
        thread, thread.commit(grouped, "a"), thread.call(alone), thread.commit(grouped, "b")
    )
    assert order == ["a", "alone", "b"]
    assert in_transaction is False  # a call makes its own transactions, if any
    assert told == [True, True]  # the call split the queue into two groups


async def test_a_call_given_up_before_it_starts_never_runs(
    store: Store, groups: tuple[StoreThread, list[bool]]
) -> None:
    thread, _told = groups
    gate = threading.Event()
    held = asyncio.ensure_future(thread.call(gate.wait))
    await asyncio.sleep(0.05)
    ran: list[str] = []
    given_up = asyncio.ensure_future(thread.call(ran.append, "call"))
    given_up_too = asyncio.ensure_future(thread.commit(ran.append, "commit"))
    await asyncio.sleep(0.01)
    given_up.cancel()
    given_up_too.cancel()
    await asyncio.sleep(0.01)
    gate.set()
    await held
    await thread.call(ran.append, "after")
    assert ran == ["after"]


async def test_a_closed_thread_finishes_its_queue_and_takes_no_more(store: Store) -> None:
    thread = StoreThread(store)
    pending = asyncio.ensure_future(thread.commit(store.save, "kept", CONV, NOW))
    await asyncio.sleep(0)
    thread.close()
    await pending
    assert store.load("kept") == CONV
    with pytest.raises(RuntimeError):
        await thread.call(store.waiting)
