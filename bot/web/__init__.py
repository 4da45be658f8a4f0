"""The web page: the same check in a browser, on the same flow, content, engine and store.

``bot.web.app`` builds the aiohttp application (routes and sessions), ``bot.web.security``
its middleware (headers, CSRF, origin checks, rate limits, friendly error pages),
``bot.web.pages`` renders the pages from ``templates/web/`` and ``content/web.yaml``, and
``bot.web.result`` is the one place that turns the engine's result into a page. Nothing here
imports Telegram.
"""
