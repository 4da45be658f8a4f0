"""The web page: the same check in a browser, on the same flow, content, engine and store.

``app`` builds the aiohttp application (routes and sessions), ``security`` its middleware
(headers, CSRF, origin checks, rate limits, friendly error pages), ``pages`` renders the pages
from ``templates/web/`` and ``content/web.yaml``, and ``result`` is the one place that turns the
engine's result into a page. May import: ``bot.channels.service`` and the layers below it;
never Telegram or the terminal. ``content check`` imports ``pages`` and ``result`` to draw every
page, so those two stay pure: no server, no store.
"""
