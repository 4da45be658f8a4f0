"""This bot with a chosen HTTP client, for the client comparison in ``bench.transport``.

    python -m bench.bot_variant --client httpx     # or aiohttp (what `python -m bot run` uses)

It reads the same environment as ``python -m bot run`` and wires the same transport; only
the ``BaseRequest`` differs. The httpx one is python-telegram-bot's ``HTTPXRequest`` (the
``bench`` extra) with a pool sized like ours, behind :class:`ViaLibrary`, which hands it each
call in the library's own form (install ``sniffio`` first, or httpcore retries that import on
every request).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import InputFile  # noqa: E402
from telegram import error as library_errors  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402
from telegram.request import RequestData as LibraryData  # noqa: E402
from telegram.request._requestparameter import RequestParameter  # noqa: E402

from bot.channels.telegram import TelegramBot, errors  # noqa: E402
from bot.channels.telegram.request import (  # noqa: E402
    DEFAULT_POOL,
    AiohttpRequest,
    BaseRequest,
    RequestData,
)
from bot.cli import make_triage  # noqa: E402
from bot.conversation.content import load_content  # noqa: E402
from bot.logsafe import configure_logging  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.store import Store  # noqa: E402


class ViaLibrary(BaseRequest):
    """One of python-telegram-bot's request classes, driven through this bot's interface."""

    def __init__(self, library: HTTPXRequest) -> None:
        self.library = library

    async def initialize(self) -> None:
        await self.library.initialize()

    async def shutdown(self) -> None:
        await self.library.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | None = None,
    ) -> tuple[int, bytes]:
        data = None
        if request_data is not None:
            parameters = [RequestParameter(k, v, None) for k, v in request_data.parameters.items()]
            for name, (filename, content, _type) in request_data.files.items():
                upload = InputFile(content, filename=filename)
                parameters.append(RequestParameter.from_input(name, upload))
            data = LibraryData(parameters)
        try:
            return await self.library.do_request(
                url,
                method,
                data,
                read_timeout=read_timeout
                if read_timeout is not None
                else self.library.DEFAULT_NONE,
            )
        except library_errors.TimedOut:
            # The transport tells a timed-out long poll from a failure by this bot's classes.
            raise errors.TimedOut() from None
        except library_errors.NetworkError as exc:
            raise errors.NetworkError(str(exc)) from None


def requests(client: str) -> tuple[BaseRequest, BaseRequest]:
    if client == "httpx":
        return (
            ViaLibrary(
                HTTPXRequest(connection_pool_size=DEFAULT_POOL, read_timeout=10, pool_timeout=5)
            ),
            ViaLibrary(HTTPXRequest(connection_pool_size=2, read_timeout=40)),
        )
    return AiohttpRequest(), AiohttpRequest(pool_size=2, read_timeout=40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=("aiohttp", "httpx"), default="aiohttp")
    args = parser.parse_args()
    settings = load_settings()
    configure_logging(settings.log_level, (settings.token or "",))
    content = load_content(settings.content_dir)
    store = Store(settings.db_path)
    triage = make_triage(settings, content, store, reminders=True)  # as `run` builds it
    request, updates = requests(args.client)

    async def run() -> None:
        bot = TelegramBot(settings, triage, request=request, updates_request=updates)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, bot.stop.set)
        await bot.run(content.ui.commands)

    try:
        asyncio.run(run())
    finally:
        store.close()


if __name__ == "__main__":
    main()
