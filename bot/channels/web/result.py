"""The result page and the plan download: the ONE place the web page reads the result.

The engine gives a finished check's result as typed data (:meth:`Engine.result`, a
:class:`bot.conversation.result.Result`) and the full plan as one self-contained HTML page
(:meth:`Engine.plan`). The web page shows the same ``Result`` the chat shows, with
``templates/web/result.j2``, and serves the same plan file for download.

"Ask the team to contact me" posts to the team's Telegram chat, which only the Telegram
adapter can reach, so the web shows the programme's contact wording in its place.

The plan is downloaded with the page's own security headers. Its styles are inline (it has
to open from a disk, alone), so :func:`style_hashes` lets the Content-Security-Policy allow
exactly those ``<style>`` elements by their hash, and :func:`blocked_by_csp` names anything
in a plan that the policy would still block (``content check`` reports it).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from dataclasses import replace
from html.parser import HTMLParser

from bot.conversation.engine import Conversation, Document, Engine
from bot.conversation.result import Result

# The content of each <style> element, exactly as the browser hashes it.
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)
# Elements that fetch something, which a file opened from a disk cannot rely on and the
# policy does not allow from elsewhere.
_FETCHING = {"img", "iframe", "frame", "object", "embed", "video", "audio", "source", "track"}


def web_result(engine: Engine, conv: Conversation) -> Result:
    """The finished conversation's result, as the web page shows it (no Telegram handover)."""
    return replace(engine.result(conv), handover="off")


def plan_file(engine: Engine, conv: Conversation, today: dt.date) -> Document:
    """The full plan (templates/plan.html.j2), the same file the chat sends."""
    return engine.plan(conv, today)


def style_hashes(page: str) -> tuple[str, ...]:
    """The CSP hash source of each inline ``<style>`` element (sha256, base64)."""
    return tuple(
        "sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode()
        for css in _STYLE.findall(page)
    )


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower(): value or "" for name, value in attrs}
        if tag == "script":
            self.found.append("a <script> element")
        elif tag == "base":
            self.found.append("a <base> element")
        elif tag == "link" and "stylesheet" in names.get("rel", "").lower():
            self.found.append("a stylesheet <link> (put the styles in the <style> element)")
        elif tag in _FETCHING or (tag == "input" and names.get("type") == "image"):
            self.found.append(f"an <{tag}> element that loads a file")
        elif tag == "form":
            self.found.append("a <form> element")
        self._in_style = tag == "style"
        for name, value in names.items():
            if name == "style":
                self.found.append(f'a style="..." attribute on <{tag}> (use a class)')
            elif name.startswith("on"):
                self.found.append(f"an {name} handler on <{tag}>")
            elif name in ("href", "src", "action") and value.strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"a javascript: address on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and ("url(" in data or "@import" in data):
            self.found.append("a stylesheet that loads a file (url() or @import)")


def blocked_by_csp(page: str) -> list[str]:
    """What in a plan page the web page's policy would block, even with its style hashes."""
    scan = _Scan()
    scan.feed(page)
    scan.close()
    return list(dict.fromkeys(scan.found))
