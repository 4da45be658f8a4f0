"""FakeTelegram served over real HTTP on 127.0.0.1 (aiohttp), for testing the bot as a process.

The server and the fake share one event loop on a background thread; tests reach the fake
through :meth:`FakeBotApiServer.call`. It can also post updates to the bot's webhook.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from .fake_telegram import FakeTelegram, api_body

T = TypeVar("T")


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bot API parameters and uploaded files from a JSON, form or multipart body.

    Values are as Telegram gets them; files are (file name, bytes) by field name.
    """
    if request.content_type == "application/json":
        return dict(await request.json()), {}
    form = await request.post()
    params: dict[str, Any] = {}
    files: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, str):
            params[key] = value
        else:
            files[key] = (value.filename, value.file.read())
    return params, files


def bot_api_app(telegram: Callable[[], FakeTelegram]) -> web.Application:
    """An aiohttp application answering ``/bot{token}/{method}`` from a FakeTelegram."""

    async def handle(request: web.Request) -> web.Response:
        params, files = await read_params(request)
        status, result = await telegram().answer(request.match_info["method"], params, files)
        return web.json_response(api_body(status, result), status=status)

    app = web.Application(client_max_size=50 * 1024 * 1024)
    app.router.add_post("/bot{token}/{method}", handle)
    return app


class FakeBotApiServer:
    """A Bot API server on a free local port; ``api_url`` goes in TELEGRAM_API_URL."""

    def __init__(self, telegram_factory: Callable[[], FakeTelegram] = FakeTelegram) -> None:
        self.loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._loop_thread.start()
        self.telegram: FakeTelegram = self.call(lambda: telegram_factory())
        self.runner = web.AppRunner(
            bot_api_app(lambda: self.telegram), access_log=None, shutdown_timeout=0.5
        )
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)

    async def _start(self) -> int:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the fake's event loop (the fake is not thread-safe) and return it."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=10)

    def post_webhook(self, url: str, update: dict[str, Any], secret: str | None) -> tuple[int, str]:
        """Post one update to a webhook as Telegram would; return (status, body)."""
        import aiohttp

        async def post() -> tuple[int, str]:
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, data=json.dumps(update), headers=headers) as resp,
            ):
                return resp.status, await resp.text()

        return asyncio.run_coroutine_threadsafe(post(), self.loop).result(timeout=30)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._loop_thread.join(timeout=5)
