"""The web page: the same check in a browser, on the same flow, content, engine and store.

``app`` builds the aiohttp application (routes and sessions), ``security`` its middleware
(headers, CSRF, origin checks, rate limits, friendly error pages), ``pages`` renders the pages
from ``templates/web/`` and ``content/web.yaml``, and ``result`` is the one place that turns the
engine's result into a page. Nothing here imports Telegram.
"""
