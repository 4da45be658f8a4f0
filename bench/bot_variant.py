"""This bot with a chosen HTTP client, for the client comparison in ``bench.transport``.

    python -m bench.bot_variant --client httpx     # or aiohttp (what `python -m bot run` uses)

It reads the same environment as ``python -m bot run`` and wires the same transport; only
the ``BaseRequest`` differs. The httpx one is python-telegram-bot's ``HTTPXRequest`` with a
pool sized like ours (install ``sniffio`` first, or httpcore retries that import on every
request).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram.request import BaseRequest, HTTPXRequest  # noqa: E402

from bot.channels.telegram import TelegramBot  # noqa: E402
from bot.channels.telegram.request import DEFAULT_POOL, AiohttpRequest  # noqa: E402
from bot.cli import make_triage  # noqa: E402
from bot.conversation.content import load_content  # noqa: E402
from bot.logsafe import configure_logging  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.store import Store  # noqa: E402


def requests(client: str) -> tuple[BaseRequest, BaseRequest]:
    if client == "httpx":
        return (
            HTTPXRequest(connection_pool_size=DEFAULT_POOL, read_timeout=10, pool_timeout=5),
            HTTPXRequest(connection_pool_size=2, read_timeout=40),
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
