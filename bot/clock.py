"""The wall clock, in one place low enough for every layer to read it.

Code that must be testable takes a clock as a parameter and defaults to :func:`utcnow`.
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)
