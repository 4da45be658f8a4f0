"""Waiting between retries: one jittered, capped, growing delay, reset on success."""

from __future__ import annotations

import asyncio
import contextlib
import random


class Backoff:
    """Delays of ``first``, then ``factor`` times longer each try, never over ``cap``.

    Jitter (±``jitter`` of each delay) spreads retries from many callers.

    >>> b = Backoff(first=1, factor=2, cap=5, jitter=0)
    >>> [b.next() for _ in range(4)]
    [1, 2, 4, 5]
    """

    def __init__(
        self, first: float = 1.0, factor: float = 1.5, cap: float = 30.0, jitter: float = 0.1
    ) -> None:
        self.first = first
        self.factor = factor
        self.cap = cap
        self.jitter = jitter
        self.tries = 0

    def next(self) -> float:
        """The delay before the next try (and count this try)."""
        delay = self.delay(self.tries)
        self.tries += 1
        return delay

    def delay(self, tries: int) -> float:
        """The delay after ``tries`` earlier delays (0: ``first``), for callers that count."""
        delay = min(self.first * self.factor**tries, self.cap)
        if self.jitter:
            delay *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return delay

    def reset(self) -> bool:
        """Start again from ``first``; True if there had been failures."""
        failed, self.tries = self.tries > 0, 0
        return failed


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
