"""Turning templates into Telegram HTML messages: the sandbox, tag checks and splitting."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

MESSAGE_LIMIT = 4096
# Templates put this between pieces that may go in separate messages.
BREAK = "\ue000"  # a private-use character: never in real text, and not whitespace
# The tags Telegram's HTML parse mode accepts (https://core.telegram.org/bots/api#html-style).
ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>")


def make_environment(templates_dir: Path) -> ImmutableSandboxedEnvironment:
    """The one Jinja environment: sandboxed, strict about undefined names, HTML-escaping."""
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals["BREAK"] = Markup(BREAK)
    env.filters["count"] = _format_count
    return env


def _format_count(value: int) -> str:
    return f"{value:,}"


def tidy(text: str) -> str:
    """Trim each line's trailing spaces and collapse runs of blank lines."""
    lines = [line.rstrip() for line in text.split("\n")]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return out.strip()


def render(template: Template, context: dict[str, Any]) -> str:
    """Render a compiled template to tidy Telegram HTML."""
    return tidy(template.render(context))


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), measured on the raw HTML (safe side)."""
    return len(text.encode("utf-16-le")) // 2


def tag_problems(text: str) -> list[str]:
    """Describe tags Telegram would reject: unknown tags and unbalanced ones."""
    problems: list[str] = []
    stack: list[str] = []
    for closing, name, _attrs in _TAG_RE.findall(text):
        tag = name.lower()
        if tag not in ALLOWED_TAGS:
            problems.append(f"<{tag}> is not a tag Telegram supports")
            continue
        if not closing:
            stack.append(tag)
        elif not stack or stack[-1] != tag:
            problems.append(f"</{tag}> closes a tag that is not open")
        else:
            stack.pop()
    problems.extend(f"<{tag}> is never closed" for tag in stack)
    if re.search(r"&(?!(?:amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);)", text):
        problems.append("a bare '&' (write &amp;)")
    return problems


def plain_text(text: str) -> str:
    """Telegram HTML to plain text (for the terminal and for length checks)."""
    return html.unescape(_TAG_RE.sub("", text))


def pack(pieces: Iterable[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pack message pieces, in order, into as few messages as fit within ``limit``."""
    messages: list[str] = []
    current = ""
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        for part in _hard_split(piece, limit):
            candidate = f"{current}\n\n{part}" if current else part
            if telegram_length(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = part
    if current:
        messages.append(current)
    return messages


def _hard_split(piece: str, limit: int) -> list[str]:
    """Last resort for one over-long piece: cut at line ends where no tag is open."""
    if telegram_length(piece) <= limit:
        return [piece]
    parts: list[str] = []
    current: list[str] = []
    size = 0
    depth = 0
    for line in piece.split("\n"):
        for closing, _name, _attrs in _TAG_RE.findall(line):
            depth += -1 if closing else 1
        current.append(line)
        size += telegram_length(line) + 1
        if depth <= 0 and size >= limit * 0.8:
            parts.append("\n".join(current))
            current, size = [], 0
    if current:
        parts.append("\n".join(current))
    # A single enormous line cannot be split where no tag is open: send it as plain text,
    # cut between words. `content check` reports any piece that needs this.
    out: list[str] = []
    for part in parts:
        if telegram_length(part) <= limit:
            out.append(part)
            continue
        chunk = ""
        for word in plain_text(part).split(" "):
            candidate = f"{chunk} {word}" if chunk else word
            if telegram_length(html.escape(candidate, quote=False)) > limit - 16:
                out.append(html.escape(chunk, quote=False))
                candidate = word[: limit // 2]
            chunk = candidate
        if chunk:
            out.append(html.escape(chunk, quote=False))
    return out
