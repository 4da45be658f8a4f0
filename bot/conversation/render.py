"""Turning templates into Telegram HTML messages: the sandbox, tag checks and splitting."""

from __future__ import annotations

import html
import inspect
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    Undefined,
    UndefinedError,
    nodes,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from markupsafe import Markup
from pydantic import BaseModel

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


class MissingField(UndefinedError):
    """A template asked a value for a field it does not have (``q.idd``).

    Carries what the editor needs to fix it: the field asked for and the fields there are.
    """

    def __init__(self, message: str, name: str, fields: list[str]) -> None:
        super().__init__(message)
        self.name = name
        self.fields = fields


def fields_of(value: Any) -> list[str]:
    """The fields a template can read on ``value``: a mapping's keys, a record's fields.

    A record's properties count (``contact.reachable``); its methods do not.
    """
    if isinstance(value, Mapping):
        return sorted(str(key) for key in value)
    # Statically: reading a property here could itself fail and hide the mistake.
    found = {name: inspect.getattr_static(value, name, None) for name in dir(value)}
    properties = {
        name
        for name, attr in found.items()
        if isinstance(attr, property) and not name.startswith(("_", "model_"))
    }
    if isinstance(value, BaseModel):
        return sorted({*type(value).model_fields, *properties})
    return sorted(
        name
        for name, attr in found.items()
        if not name.startswith("_")
        and not callable(attr)
        and not isinstance(attr, classmethod | staticmethod)
    )


class FieldStrictUndefined(StrictUndefined):
    """Strict about names *and* fields: ``q.idd`` fails, saying which fields ``q`` has.

    Jinja's own StrictUndefined fails too, but only says "'dict object' has no attribute".
    """

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        if self._undefined_obj is missing or self._undefined_hint:
            super()._fail_with_undefined_error(*args, **kwargs)
        name = str(self._undefined_name)
        fields = fields_of(self._undefined_obj)
        raise MissingField(
            f"no field {name!r}; it has: {', '.join(fields) or 'no fields'}", name, fields
        )


# StrictUndefined binds its operators (str, bool, iteration...) to the base class's method:
# point each at the method above.
for _name in dir(StrictUndefined):
    if getattr(StrictUndefined, _name) is Undefined._fail_with_undefined_error:
        setattr(FieldStrictUndefined, _name, FieldStrictUndefined._fail_with_undefined_error)


def failure_words(exc: Exception, filename: str, line: int | None) -> tuple[str, str]:
    """What to tell an editor when a template failed at ``filename``:``line``: message, hint."""
    if isinstance(exc, MissingField):
        try:
            source = Path(filename).read_text(encoding="utf-8")
        except OSError:
            source = ""
        return missing_field_words(exc, source, line)
    return f"rendering failed: {type(exc).__name__}: {exc}", "check the names used on that line"


def missing_field_words(exc: MissingField, source: str, line: int | None) -> tuple[str, str]:
    """A missing field as an editor reads it: what the template used, and what it can use.

    ``source`` is the template's text and ``line`` the line that failed: the expression is
    found there (``q.idd``), so the message can name ``q`` as the template does.
    """
    owner = None
    try:
        tree = ImmutableSandboxedEnvironment().parse(source)
    except Exception:  # the text changed since it was compiled: say it without the name
        tree = None
    if tree is not None:
        found = [
            node
            for node in tree.find_all((nodes.Getattr, nodes.Getitem))
            if _field_name(node) == exc.name
        ]
        found.sort(key=lambda node: node.lineno != line)  # the failing line's first
        owner = next((_expression(node.node) for node in found if _expression(node.node)), None)
    have = ", ".join(exc.fields) or "no fields"
    if owner is None:
        return f"uses a field {exc.name!r} that is not there", f"it has: {have}"
    return f"uses {owner}.{exc.name}, but {owner} has no field {exc.name!r}", f"{owner} has: {have}"


def _field_name(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return str(node.arg.value)
    return None


def _expression(node: nodes.Node) -> str | None:
    """``q``, ``result.contact``, ``q["items"]``: a name and its fields, as written."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        inner = _expression(node.node)
        name = _field_name(node)
        if inner is None or name is None:
            return None
        return f"{inner}.{name}" if isinstance(node, nodes.Getattr) else f"{inner}[{name!r}]"
    return None


def make_environment(templates_dir: Path) -> ImmutableSandboxedEnvironment:
    """The one Jinja environment: sandboxed, strict about undefined names, HTML-escaping."""
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=FieldStrictUndefined,
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
