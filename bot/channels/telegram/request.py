"""The HTTP client: python-telegram-bot's request interface over one shared aiohttp session.

:class:`AiohttpRequest` implements only what ``telegram.request.BaseRequest`` asks for
(``initialize``, ``shutdown``, ``do_request``, ``read_timeout``); the library's final
``post`` turns HTTP statuses into its exceptions. The session is made in ``initialize``
(inside the running loop), with a connection pool sized for the sender, and each call's
total timeout follows from its own read timeout, so a 30-second long poll is not cut short.
Requests carry a JSON body.

Errors raised here never carry the URL, which holds the bot token.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import aiohttp
import yarl
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

# The sender keeps at most 96 messages in flight and 32 button-press answers.
DEFAULT_POOL = 128
_JSON = {"Content-Type": "application/json"}


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
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make one HTTP request; return (status, body) for any HTTP answer."""
        if self._session is None or self._session.closed:
            await self.initialize()
        assert self._session is not None
        read = self._read if read_timeout is BaseRequest.DEFAULT_NONE else read_timeout
        write = self._write if write_timeout is BaseRequest.DEFAULT_NONE else write_timeout
        connect = self._connect if connect_timeout is BaseRequest.DEFAULT_NONE else connect_timeout
        pool = self._pool if pool_timeout is BaseRequest.DEFAULT_NONE else pool_timeout
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
            if request_data.contains_files:
                data = _form(request_data)
            else:
                # One JSON body with nested objects as the Bot API takes them: a single encode,
                # where a form is quoted character by character (and aiohttp builds a
                # multipart writer for every dict) and the library's own JSON payload encodes
                # each nested object a second time.
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

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """Parse a Bot API answer; unlike the library's, never log it (it holds ids)."""
        try:
            return json.loads(payload.decode("utf-8", "replace"))
        except ValueError:
            raise TelegramError("the Bot API sent something that is not JSON") from None


def _form(request_data: RequestData) -> aiohttp.FormData:
    """A multipart form for calls that upload a file (sendDocument)."""
    form = aiohttp.FormData()
    files = request_data.multipart_data
    for name, value in request_data.json_parameters.items():
        if name not in files:
            form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        body = content.read() if hasattr(content, "read") else content
        form.add_field(name, body, filename=filename, content_type=mimetype)
    return form
