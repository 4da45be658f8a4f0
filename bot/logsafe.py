"""Logging that cannot leak: no Telegram id, name, username or token at any level.

The bot's own messages are written so they never hold an identifier; this module is the
guard for everything else. Library loggers (aiohttp, asyncio, transitions...)
can quote whole updates or URLs that contain the token, so their lines keep only the
logger, the level, the message *template* (never its arguments) and the exception's type.
Every line is one line, and the token and secrets are blanked out of it as a last resort.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

OWN = "bot"
# Held at WARNING whatever TRIAGE_LOG_LEVEL says: below that they only add noise.
# (httpx and the library's loggers: only the benchmark's client comparison uses them.)
LIBRARIES = ("aiohttp", "asyncio", "transitions", "httpx", "httpcore", "telegram")


class SafeFormatter(logging.Formatter):
    """One line per record; library details withheld; secrets blanked."""

    def __init__(self, secrets: Iterable[str] = (), fmt: str | None = None) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s: %(message)s")
        # The whole token and its secret half, longest first.
        parts: set[str] = set()
        for secret in secrets:
            if secret:
                parts.add(secret)
                if ":" in secret:
                    parts.add(secret.split(":", 1)[1])
        self._secrets = sorted((p for p in parts if len(p) >= 8), key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        """The record as one safe line."""
        if record.name == OWN or record.name.startswith(OWN + "."):
            line = super().format(record)
        else:
            line = self._library_line(record)
        for secret in self._secrets:
            line = line.replace(secret, "[secret]")
        return " | ".join(part for part in line.splitlines() if part.strip())

    def formatException(self, ei: object) -> str:
        """An exception as one line: its type and message, never a traceback."""
        exc_type, exc, _ = ei  # type: ignore[misc]
        return f"({exc_type.__name__}: {exc})" if exc_type else ""

    def formatStack(self, stack_info: str) -> str:
        """Stacks are left out: they are many lines."""
        return ""

    def _library_line(self, record: logging.LogRecord) -> str:
        template = str(record.msg) if record.args else "(message withheld)"
        if record.exc_info and record.exc_info[0] is not None:
            template += f" [{record.exc_info[0].__name__}]"
        return (
            f"{self.formatTime(record, self.datefmt)} {record.levelname} {record.name}: "
            f"{template} (details withheld: library logs can hold ids or the token)"
        )


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Log to stderr at ``level`` through :class:`SafeFormatter`; libraries at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
