"""Prometheus metrics: counts an operator can watch, and nothing about anyone.

Off unless TRIAGE_METRICS_PORT is set; then ``GET /metrics`` on that port alone (never on the
webhook's or the web page's port, so it is not published with them). Each process (the bot,
the web page) has its own :class:`Metrics`, in a registry of its own.

Every label takes its value from a short, fixed list (a Bot API method, a kind of failure, a
channel, a route's template such as ``/question/{question}``, a status class). No label ever
holds an id, a pseudonym, a reference code, a name or anything a person typed: anything not
on its list is counted as ``other``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.store import Health

if TYPE_CHECKING:
    # Loaded only when the metrics port is served (TRIAGE_METRICS_PORT).
    from aiohttp import web

log = logging.getLogger(__name__)

METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "sendDocument",
        "answerCallbackQuery",
        "deleteMessage",
    }
)
FAILURES = frozenset({"retried", "gave_up", "blocked", "rejected", "unopenable", "token"})
CHANNELS = frozenset({"telegram", "web"})

Figures = Callable[[], Awaitable[Health]]


def _one_of(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else "other"


class Metrics:
    """One process's counters and gauges."""

    def __init__(self) -> None:
        # Imported here: metrics are off unless asked for, and the module costs memory.
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            gc_collector,
            platform_collector,
            process_collector,
        )

        self.registry = CollectorRegistry()
        process_collector.ProcessCollector(registry=self.registry)
        platform_collector.PlatformCollector(registry=self.registry)
        gc_collector.GCCollector(registry=self.registry)
        r = self.registry
        self.updates = Counter(
            "triage_updates_handled",
            "Telegram updates taken through the engine (failed: given up after retries).",
            ["result"],
            registry=r,
        )
        self.sent = Counter(
            "triage_messages_sent", "Bot API calls delivered, by method.", ["method"], registry=r
        )
        self.pauses = Counter(
            "triage_telegram_429", "Times Telegram answered 429 (slow down).", registry=r
        )
        self.paused = Counter(
            "triage_send_paused_seconds",
            "Seconds all sending was paused because of a 429.",
            registry=r,
        )
        self.send_failures = Counter(
            "triage_send_failures",
            "Sends that failed, by kind: retried (a network or server error, tried again), "
            "gave_up (after the last try), blocked (403), rejected (other 4xx), unopenable "
            "(the sealed address), token (the token was refused).",
            ["kind"],
            registry=r,
        )
        self.checks_started = Counter(
            "triage_checks_started",
            "Checks started (first question shown).",
            ["channel"],
            registry=r,
        )
        self.checks_finished = Counter(
            "triage_checks_finished", "Checks finished (a result given).", ["channel"], registry=r
        )
        self.pages = Counter(
            "triage_web_pages_served",
            "Web page responses, by route template and status class.",
            ["route", "status"],
            registry=r,
        )
        self.inbox_depth = Gauge("triage_inbox_depth", "Updates waiting to be handled.", registry=r)
        self.inbox_age = Gauge(
            "triage_inbox_oldest_seconds",
            "How long the oldest waiting update has waited (0 if none).",
            registry=r,
        )
        self.outbox_depth = Gauge(
            "triage_outbox_depth", "Messages due and waiting to be sent.", registry=r
        )
        self.outbox_age = Gauge(
            "triage_outbox_oldest_seconds",
            "How long the oldest due message has waited (0 if none).",
            registry=r,
        )
        self.outbox_scheduled = Gauge(
            "triage_outbox_scheduled", "Messages held for later (not yet due).", registry=r
        )
        self.failed_rows = Gauge(
            "triage_failed_rows",
            "Updates (inbox) and messages (outbox) recorded as failed, kept 48 hours.",
            ["queue"],
            registry=r,
        )

    # ---- what the bot and the web page report ---------------------------------------------

    def handled(self, handled: int, failed: int = 0) -> None:
        """A worker pass: updates handled, and given up."""
        if handled:
            self.updates.labels("handled").inc(handled)
        if failed:
            self.updates.labels("failed").inc(failed)

    def delivered(self, method: str) -> None:
        """A Bot API call was delivered."""
        self.sent.labels(_one_of(method, METHODS)).inc()

    def failure(self, kind: str) -> None:
        """A send failed."""
        self.send_failures.labels(_one_of(kind, FAILURES)).inc()

    def check(self, event: str, channel: str) -> None:
        """A check was started or finished (``event``), on a channel."""
        counter = self.checks_finished if event == "finished" else self.checks_started
        counter.labels(_one_of(channel, CHANNELS)).inc()

    def page(self, route: str, status: int) -> None:
        """The web page answered a request (``route`` is the route's template)."""
        self.pages.labels(route, f"{status // 100}xx").inc()

    def observe(self, figures: Health) -> None:
        """Set the gauges from the store's figures (at each scrape)."""
        self.inbox_depth.set(figures.inbox_depth)
        self.inbox_age.set(figures.inbox_oldest_s or 0.0)
        self.outbox_depth.set(figures.outbox_depth)
        self.outbox_age.set(figures.outbox_oldest_s or 0.0)
        self.outbox_scheduled.set(figures.outbox_scheduled)
        self.failed_rows.labels("inbox").set(figures.inbox_failed)
        self.failed_rows.labels("outbox").set(figures.outbox_failed)

    # ---- serving -------------------------------------------------------------------------

    def app(self, figures: Figures) -> web.Application:
        """An application serving ``GET /metrics`` (gauges read from ``figures`` each time)."""
        from aiohttp import web
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        async def metrics(_request: web.Request) -> web.Response:
            try:
                self.observe(await figures())
            except Exception as exc:  # the counters are still worth having
                log.warning("metrics: could not read the queues (%s)", type(exc).__name__)
            return web.Response(
                body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        return app

    async def serve(self, figures: Figures, host: str, port: int) -> web.AppRunner:
        """Start serving on its own port; the caller cleans the runner up. OSError if taken."""
        from aiohttp import web

        runner = web.AppRunner(self.app(figures), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError:
            await runner.cleanup()
            raise
        log.info("metrics on http://%s:%d/metrics", host, port)
        return runner


def listening_port(runner: web.AppRunner) -> int | None:
    """The port a runner listens on (useful when the setting was 0, in tests)."""
    addresses = runner.addresses
    return int(addresses[0][1]) if addresses else None
