"""The result page: the ONE place that turns the engine's result into a web page.

Today the engine offers the result as the chat's rendered pieces (:meth:`Engine.result_pieces`,
Telegram HTML cut at its BREAK marks). This view shows them with each bold line as
a heading. When the engine exposes the result as typed data (first message, sections, full
plan), switch this module and ``templates/web/result.j2`` to it; nothing else needs to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup

from ..engine import Conversation, Engine
from ..render import plain_text

# A line that is bold from end to end reads as a heading in the chat; one that starts with
# the chat's "▸" is a signpost within a section.
_HEADING = re.compile(r"^<b>(.*)</b>$")
_ITEM = "▸ "


@dataclass(frozen=True)
class Block:
    """One heading ("h2", "h3") or paragraph ("p") of the result, as safe HTML."""

    kind: str
    html: Markup


def result_blocks(engine: Engine, conv: Conversation) -> list[Block]:
    """The chat's result, as headings and paragraphs for the web page."""
    blocks: list[Block] = []
    for piece in engine.result_pieces(conv):
        paragraph: list[str] = []
        for line in piece.split("\n"):
            heading = _HEADING.match(line.strip())
            if heading and "</b>" not in heading.group(1):
                if paragraph:
                    blocks.append(Block("p", Markup("\n".join(paragraph).strip())))
                    paragraph = []
                # The pieces come from the sandboxed, escaping templates: already safe HTML.
                text = heading.group(1)
                level = "h3" if text.startswith(_ITEM) else "h2"
                blocks.append(Block(level, Markup(text.removeprefix(_ITEM))))
            elif line.strip():
                paragraph.append(line)
            elif paragraph:
                blocks.append(Block("p", Markup("\n".join(paragraph).strip())))
                paragraph = []
        if paragraph:
            blocks.append(Block("p", Markup("\n".join(paragraph).strip())))
    return blocks


def result_document(engine: Engine, conv: Conversation) -> str:
    """The whole result as plain text, for "Download your full plan"."""
    return "\n\n".join(plain_text(piece) for piece in engine.result_pieces(conv)) + "\n"
