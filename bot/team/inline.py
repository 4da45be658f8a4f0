"""Code spans in the team's notices: `python -m bot report` shown as code, never as backticks.

Content editors mark a command with backticks, as in Markdown. Each output shows it its own
way: HTML as ``<code>``, the terminal in a style of its own, plain text (CSV, JSON) without
the marks.
"""

from __future__ import annotations

import re
from html import escape

_CODE = re.compile(r"`([^`\n]+)`")


def spans(text: str) -> list[tuple[str, bool]]:
    """The text in pieces, each with whether it is code; the backticks themselves dropped."""
    pieces: list[tuple[str, bool]] = []
    start = 0
    for match in _CODE.finditer(text):
        if match.start() > start:
            pieces.append((text[start : match.start()], False))
        pieces.append((match.group(1), True))
        start = match.end()
    if start < len(text):
        pieces.append((text[start:], False))
    return pieces


def plain(text: str) -> str:
    """The text without its backticks, for outputs with no way to show code (CSV, JSON)."""
    return "".join(piece for piece, _code in spans(text))


def html(text: str) -> str:
    """The text escaped for HTML, each code span in ``<code>``."""
    return "".join(
        f"<code>{escape(piece)}</code>" if code else escape(piece) for piece, code in spans(text)
    )
