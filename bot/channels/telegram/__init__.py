"""The Telegram transport: update -> inbox -> engine -> store -> outbox -> Telegram.

One module a job, in the order an update travels: :mod:`.convert` (raw JSON to inbox entries
and replies to Bot API calls), :mod:`.poller` or :mod:`.webhook` (fetch or receive),
:mod:`.inbox` (commit before confirming), :mod:`.worker` (inbox through the engine into the
outbox), :mod:`.sender` (outbox to Telegram within its limits), :mod:`.api` and
:mod:`.request` (the HTTP client), and :mod:`.app` (wiring). May import:
``bot.channels.service`` and the layers below it (conversation, store, ops, shared); never
the web page or the terminal.
"""

from bot.channels.telegram.app import StartupError, TelegramBot, run_bot

__all__ = ["StartupError", "TelegramBot", "run_bot"]
