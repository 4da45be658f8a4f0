"""Bot API calls as raw JSON: a method name and parameters in, the ``result`` out.

No python-telegram-bot objects are built on the hot path: parameters go through the
library's ``RequestData`` to a ``BaseRequest`` (ours, or any other), whose ``post`` maps
Telegram's answers to the library's exceptions (``Forbidden``, ``BadRequest``,
``RetryAfter``, ``InvalidToken``, ``NetworkError``...). Long polls use their own request
object, so they never hold a connection a reply needs.
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from typing import Any

# Ask python-telegram-bot for durations as timedelta now, rather than warn on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import InputFile
from telegram.error import RetryAfter, TelegramError
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter


class BotApi:
    """Calls Bot API methods for one bot token."""

    def __init__(
        self,
        token: str,
        api_url: str,
        request: BaseRequest,
        updates_request: BaseRequest | None = None,
    ) -> None:
        self._base = f"{api_url.rstrip('/')}/bot{token}/"
        self.request = request
        self.updates_request = updates_request or request

    async def initialize(self) -> None:
        """Open the HTTP sessions."""
        await self.request.initialize()
        if self.updates_request is not self.request:
            await self.updates_request.initialize()

    async def shutdown(self) -> None:
        """Close the HTTP sessions."""
        await self.request.shutdown()
        if self.updates_request is not self.request:
            await self.updates_request.shutdown()

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        file: tuple[str, str, bytes] | None = None,
        read_timeout: float | Any | None = BaseRequest.DEFAULT_NONE,
    ) -> Any:
        """Call ``method`` and return its ``result``; raise the library's exceptions.

        ``file`` is (parameter, file name, bytes) for methods that upload one, such as
        ``sendDocument``; the call is then sent as multipart form data.
        """
        # Parameters here are plain JSON values, so the library's conversion of its own
        # objects (``from_input``) is not needed on this path.
        parameters = [
            RequestParameter(name, value, None)
            for name, value in (params or {}).items()
            if value is not None
        ]
        if file is not None:
            field, filename, content = file
            parameters.append(
                RequestParameter.from_input(field, InputFile(content, filename=filename))
            )
        request = self.updates_request if method == "getUpdates" else self.request
        return await request.post(
            self._base + method,
            RequestData(parameters) if parameters else None,
            read_timeout=read_timeout,
        )


def retry_after(exc: RetryAfter) -> float:
    """Seconds a 429 asks us to wait (without the library's deprecation warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def reason(exc: TelegramError) -> str:
    """A failed call as one short log phrase: the error's type and the start of its message."""
    return f"{type(exc).__name__}: {str(exc)[:120]}"
