"""The webhook: Telegram pushes each update here; it is committed before Telegram hears 200.

For a bot behind HTTPS. The handler accepts POST only, checks the
``X-Telegram-Bot-Api-Secret-Token`` header in constant time before reading the body (401
otherwise), commits the update to the same inbox the poller uses, and only then answers 200
(empty: nothing is processed or replied in the response). If the commit fails it answers
500, so Telegram delivers the update again. The bot token is never part of the path.

The routes are an ``aiohttp.web`` application that can be mounted beside others (the web
page, metrics) in one server; ``GET /healthz`` (and ``/health``) reports the store and how
far behind the inbox and outbox are, as ``python -m bot health`` does.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.telegram.convert import Reader
from bot.channels.telegram.inbox import InboxWriter
from bot.store import describe

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024


class Webhook:
    """Receives updates over HTTP into the inbox."""

    def __init__(
        self,
        reader: Reader,
        inbox: InboxWriter,
        secret: str,
        path: str = "/telegram",
        health: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a webhook needs a secret token")
        self.reader = reader
        self.inbox = inbox
        self._secret = secret.encode()
        self.path = path or "/"
        self._health = health

    def routes(self) -> list[web.RouteDef]:
        """The webhook and health routes, to add to any aiohttp application."""
        routes = [web.post(self.path, self.receive)]
        if self._health is not None:
            # /healthz is what `health` checks, as JSON; /health is its older name.
            routes.append(web.get("/healthz", self.health))
            routes.append(web.get("/health", self.health))
        return routes

    def app(self) -> web.Application:
        """A standalone application serving :meth:`routes`."""
        app = web.Application(client_max_size=MAX_BODY)
        app.add_routes(self.routes())
        return app

    async def receive(self, request: web.Request) -> web.Response:
        """Check the secret, commit the update, then answer 200."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not secrets.compare_digest(given, self._secret):
            return web.Response(status=401)
        try:
            update = json.loads((await request.read()).decode("utf-8", "replace"))
        except ValueError:
            return web.Response(status=400)
        entry = self.reader.entry(update)
        if entry is None:
            return web.Response(status=400)
        try:
            await self.inbox.add([entry])
        except Exception as exc:
            log.warning(
                "could not store a webhook update (%s); Telegram will send it again",
                describe(exc, self.inbox.store.path),
            )
            return web.Response(status=500)
        return web.Response(status=200)

    async def health(self, request: web.Request) -> web.Response:
        """The health verdict and figures as JSON; 503 unless healthy."""
        assert self._health is not None
        figures = await self._health()
        return web.json_response(figures, status=200 if figures.get("status") == "ok" else 503)
