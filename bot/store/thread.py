"""The one write thread: every store call of the Telegram bot and the web page, one at a time.

SQLite has one writer, and so do we. A running bot or web page owns one :class:`StoreThread`,
and its coroutines hand it every call that touches the store, in one queue, in order. There
are two ways in, one discipline:

- :meth:`StoreThread.commit` is group commit. Jobs that are waiting together run in one
  transaction, each in a savepoint of its own (a job that fails is undone alone; the others
  go on), and the group is committed with one sync. Only then is any of them answered, so
  whatever a coroutine was told is already durable, and a crowd costs one sync per group
  rather than one per job. The web page sends every answer this way (and its health check,
  metrics and purge), and is told after each group whether it was kept (``committed``).
- :meth:`StoreThread.call` runs one job alone, between groups and outside any transaction:
  for callers that make their own transactions. The Telegram worker's pass is one
  transaction with a savepoint per update (the same group commit, over the inbox), the
  inbox writer and the sender commit their own batches, and reads, checkpoints and the
  content swap need no transaction at all.

The terminal chat and the command line are synchronous: they use the store directly on their
one thread, with no store thread (one writer at a time either way).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from bot.store.base import StoreBase

T = TypeVar("T")

# Jobs per group: enough to share a sync among a crowd, few enough that the first of them is
# answered soon.
MAX_GROUP = 16

# A job: the function and its arguments, the future its caller awaits and that caller's loop,
# and whether it goes in a group (commit) or alone (call). Plain tuples: there is one per
# answer, and they are made and taken apart in the hot path.
_Job = tuple[
    Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]", asyncio.AbstractEventLoop, bool
]


class StoreThread:
    """Runs every store call on one thread: alone (``call``) or committed in groups (``commit``)."""

    def __init__(
        self,
        store: StoreBase,
        max_group: int = MAX_GROUP,
        committed: Callable[[bool], None] | None = None,
    ) -> None:
        """``committed`` is told after each group: True if it committed, False if rolled back."""
        self.store = store
        self.max_group = max_group
        self.committed = committed
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="store", daemon=True)
        self._thread.start()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` alone on the store thread (it makes its own transactions, if any)."""
        return await self._put(fn, args, grouped=False)

    async def commit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a savepoint of the next group; return once the group committed.

        If ``fn`` raises, its changes alone are undone and the error is raised here; if the
        group cannot commit, nothing of it is kept and every job in it raises the error.
        """
        return await self._put(fn, args, grouped=True)

    def close(self) -> None:
        """Finish the queued calls and stop the thread."""
        if not self._closed:
            self._closed = True
            self._jobs.put(None)
        self._thread.join()

    def _put(self, fn: Callable[..., T], args: tuple[Any, ...], grouped: bool) -> asyncio.Future[T]:
        if self._closed:
            raise RuntimeError("the store thread is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, args, future, loop, grouped))
        # A caller who stops waiting cancels the future: a job not started yet is then skipped.
        return future

    # ---- on the store thread --------------------------------------------------------------

    def _serve(self) -> None:
        carried: list[_Job | None] = []  # taken while gathering a group, for right after it
        while True:
            job = carried.pop() if carried else self._jobs.get()
            if job is None:
                return
            if not job[4]:
                self._alone(job)
                continue
            group = [job]
            while len(group) < self.max_group:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None or not job[4]:
                    carried.append(job)  # calls keep their place in the queue
                    break
                group.append(job)
            self._group(group)

    def _alone(self, job: _Job) -> None:
        fn, args, future, loop, _grouped = job
        if future.cancelled():
            return
        try:
            result = fn(*args)
        except BaseException as exc:
            _answer(loop, future, False, exc)
        else:
            _answer(loop, future, True, result)

    def _group(self, jobs: list[_Job]) -> None:
        group = [job for job in jobs if not job[2].cancelled()]
        if not group:
            return
        results: list[tuple[bool, Any]] = []
        try:
            with self.store.transaction():
                for fn, args, _future, _loop, _grouped in group:
                    try:
                        with self.store.transaction():  # a savepoint of its own
                            results.append((True, fn(*args)))
                    except Exception as exc:  # undone alone; the others go on
                        if not self.store.conn.in_transaction:
                            raise  # SQLite undid the whole group (a full disk...)
                        results.append((False, exc))
            kept = True
        except BaseException as exc:  # the commit failed: nothing in the group was kept
            results = [(False, exc)] * len(group)
            kept = False
        if self.committed is not None:
            self.committed(kept)
        for (_fn, _args, future, loop, _grouped), (ok, value) in zip(group, results, strict=True):
            _answer(loop, future, ok, value)


def _answer(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], ok: bool, value: Any
) -> None:
    """Hand a job's result (or error) to the coroutine awaiting it, on that coroutine's loop."""
    # A closed loop has no one left waiting.
    with suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, ok, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
