"""The HTTP layer: how one Bot API call travels, and the aiohttp client that carries it.

:class:`BaseRequest` is the seam tests fake (a recording request that answers like Telegram):
subclasses implement only ``do_request``, one HTTP POST returning (status, body), and
``post`` turns Telegram's answer into the call's ``result`` or one of the exceptions in
:mod:`bot.channels.telegram.errors`, as python-telegram-bot's ``BaseRequest`` of the same name
does. :class:`AiohttpRequest` is the real client: one session made in ``initialize`` (inside
the running loop), a connection pool sized for the sender, and each call's total timeout
following from its own read timeout, so a 30-second long poll is not cut short. Calls carry a
JSON body, or multipart form data when they upload a file.

Errors raised here never carry the URL, which holds the bot token.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import aiohttp
import yarl

from bot.channels.telegram.errors import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

# The sender keeps at most 96 messages in flight and 32 button-press answers.
DEFAULT_POOL = 128
_JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class RequestData:
    """One call's parameters (plain JSON values) and the files it uploads.

    ``files`` maps a parameter to (file name, content, MIME type).
    """

    parameters: dict[str, Any]
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)

    def form_fields(self) -> dict[str, str]:
        """The parameters as multipart form fields take them: objects as JSON text."""
        return {
            name: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            for name, value in self.parameters.items()
        }


class BaseRequest:
    """How Bot API calls reach Telegram: subclasses implement ``do_request``."""

    USER_AGENT = "mpsp-triage (aiohttp)"

    @property
    def read_timeout(self) -> float | None:
        """Seconds to wait for an answer when a call does not give its own."""
        return None

    async def initialize(self) -> None:
        """Get ready to make calls (open sessions)."""

    async def shutdown(self) -> None:
        """Release what ``initialize`` opened."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | None = None,
    ) -> tuple[int, bytes]:
        """Make one HTTP request; return (status, body) for any HTTP answer."""
        raise NotImplementedError

    async def post(
        self, url: str, request_data: RequestData | None = None, read_timeout: float | None = None
    ) -> Any:
        """POST one call; return its ``result``, or raise what Telegram's answer means.

        ``read_timeout``: seconds to wait for the answer; None means this request's default
        (:attr:`read_timeout`), not "wait for ever".
        """
        try:
            code, payload = await self.do_request(url, "POST", request_data, read_timeout)
        except TelegramError:
            raise
        except Exception as exc:
            # The type only: an exception's text may quote the URL, which holds the token.
            raise NetworkError(
                f"Unknown error in HTTP implementation ({type(exc).__name__})"
            ) from None
        if HTTPStatus.OK <= code <= 299:
            answer = self.parse_json_payload(payload)
            if not isinstance(answer, dict) or "result" not in answer:
                # A proxy or a wrong TELEGRAM_API_URL, not Telegram: worth trying again.
                raise NetworkError(f"the Bot API's answer has no result ({code})")
            return answer["result"]
        raise _failure(code, payload)

    @staticmethod
    def parse_json_payload(payload: bytes) -> Any:
        """Parse a Bot API answer (never logged: it holds ids)."""
        try:
            return json.loads(payload.decode("utf-8", "replace"))
        except ValueError:
            raise TelegramError("the Bot API sent something that is not JSON") from None


def _failure(code: int, payload: bytes) -> TelegramError:
    """The exception for a Bot API answer with status ``code`` (not 2xx)."""
    try:
        message = f"{HTTPStatus(code).phrase} ({code})"
    except ValueError:
        message = f"Unknown HTTPError ({code})"
    try:
        answer = BaseRequest.parse_json_payload(payload)
    except TelegramError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    message = str(answer.get("description") or message)
    parameters = answer.get("parameters")
    if isinstance(parameters, dict):
        if migrated := parameters.get("migrate_to_chat_id"):
            return ChatMigrated(migrated)
        if retry_after := parameters.get("retry_after"):
            return RetryAfter(retry_after)
    if code == HTTPStatus.FORBIDDEN:
        return Forbidden(message)
    if code in (HTTPStatus.NOT_FOUND, HTTPStatus.UNAUTHORIZED):
        # 404 for a malformed token, 401 for a well-formed one Telegram does not know.
        return InvalidToken(message)
    if code == HTTPStatus.BAD_REQUEST:
        return BadRequest(message)
    if code == HTTPStatus.CONFLICT:
        return Conflict(message)
    return NetworkError(message)


class AiohttpRequest(BaseRequest):
    """One aiohttp ``ClientSession`` for Bot API calls; use a second one for ``getUpdates``."""

    def __init__(
        self,
        pool_size: int = DEFAULT_POOL,
        *,
        read_timeout: float | None = 10.0,
        write_timeout: float | None = 10.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 5.0,
    ) -> None:
        self._pool_size = pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, yarl.URL] = {}
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call does not give its own."""
        return self._read

    async def initialize(self) -> None:
        """Open the session (idempotent)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, limit_per_host=self._pool_size, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=None),
                cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets no cookies
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | None = None,
    ) -> tuple[int, bytes]:
        """Make one HTTP request; return (status, body) for any HTTP answer."""
        if self._session is None or self._session.closed:
            await self.initialize()
        assert self._session is not None
        read = self._read if read_timeout is None else read_timeout
        write, connect, pool = self._write, self._connect, self._pool
        timeout = self._timeouts.get((read, write, connect, pool))
        if timeout is None:
            # One deadline for the whole call, from its own read timeout (so a long poll gets
            # its full time), and one for getting a connection. Fewer timers per request
            # measurably cut the client's CPU.
            total = None if read is None else read + (write or 0) + (connect or 0) + (pool or 0)
            timeout = aiohttp.ClientTimeout(
                total=total, connect=None if connect is None else connect + (pool or 0)
            )
            self._timeouts[(read, write, connect, pool)] = timeout
        data: Any = None
        headers = None
        if request_data is not None:
            if request_data.files:
                data = _form(request_data)
            else:
                # One JSON body with nested objects as the Bot API takes them: a single encode,
                # where a form is quoted character by character (and aiohttp builds a
                # multipart writer for every dict).
                data = json.dumps(request_data.parameters, ensure_ascii=False).encode()
                headers = _JSON
        target = self._urls.get(url)
        if target is None:
            # Parsed once per Bot API method, not once per call.
            target = self._urls[url] = yarl.URL(url)
        try:
            async with self._session.request(
                method, target, data=data, headers=headers, timeout=timeout
            ) as resp:
                return resp.status, await resp.read()
        except TimeoutError:
            raise TimedOut("the Bot API did not answer in time") from None
        except aiohttp.ClientConnectorError as exc:
            errno = exc.os_error.errno if exc.os_error is not None else None
            reason = os.strerror(errno) if errno else type(exc).__name__
            raise NetworkError(f"cannot connect: {reason}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkError(f"connection failed ({type(exc).__name__})") from None
        except asyncio.CancelledError:
            raise


def _form(request_data: RequestData) -> aiohttp.FormData:
    """A multipart form for calls that upload a file (sendDocument)."""
    form = aiohttp.FormData()
    for name, value in request_data.form_fields().items():
        if name not in request_data.files:
            form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
