"""Bot API calls as raw JSON: a method name and parameters in, the ``result`` out.

No objects are built for Telegram's types: parameters are plain JSON values, sent by a
``BaseRequest`` (ours, or a test's recording one), whose ``post`` maps Telegram's answers to
the exceptions in :mod:`bot.channels.telegram.errors` (``Forbidden``, ``BadRequest``,
``RetryAfter``, ``InvalidToken``, ``NetworkError``...). Long polls use their own request
object, so they never hold a connection a reply needs.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from bot.channels.telegram.errors import TelegramError
from bot.channels.telegram.request import BaseRequest, RequestData


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
        read_timeout: float | None = None,
    ) -> Any:
        """Call ``method`` and return its ``result``; raise what a refusal means (``errors``).

        ``file`` is (parameter, file name, bytes) for methods that upload one, such as
        ``sendDocument``; the call is then sent as multipart form data. ``read_timeout``: None
        means the request's default.
        """
        parameters = {name: value for name, value in (params or {}).items() if value is not None}
        files: dict[str, tuple[str, bytes, str]] = {}
        if file is not None:
            field, filename, content = file
            mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            files[field] = (filename, content, mimetype)
        request = self.updates_request if method == "getUpdates" else self.request
        return await request.post(
            self._base + method,
            RequestData(parameters, files) if parameters or files else None,
            read_timeout=read_timeout,
        )


def reason(exc: TelegramError) -> str:
    """A failed call as one short log phrase: the error's type and the start of its message."""
    return f"{type(exc).__name__}: {str(exc)[:120]}"
