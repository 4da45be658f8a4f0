"""Reading editors' YAML files so that every problem can name a file and a line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
# libyaml's loader when PyYAML has it (much faster), keeping line numbers either way.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    """One problem in an editor's file: where it is, what is wrong and what to do.

    ``item`` names the question, signpost, stage or section it is about, if any. ``path``
    says which answer path the check found it on, and ``detail`` what was measured there (a
    length, a reading grade, the answers that clash). Neither is part of the problem's
    identity, so the same problem found on many paths, with figures that differ from path to
    path, is reported once, with a count and the first path's detail (bot.editors.findings).
    """

    file: str
    line: int | None
    message: str
    hint: str = ""
    warning: bool = False
    item: str = ""
    path: str = field(default="", compare=False)
    detail: str = field(default="", compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        about = f"{self.item}: " if self.item else ""
        text = f"{where}: {about}{self.message}"
        if self.detail:
            text += f"; {self.detail}"
        return f"{text} ({self.hint})" if self.hint else text


class ContentError(Exception):
    """Content could not be loaded; carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class YamlDoc:
    """A parsed YAML file that remembers the line of every key and list item."""

    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display
        text = path.read_text(encoding="utf-8")
        try:
            self.node = yaml.compose(text, Loader=Loader)
            self.data: Any = yaml.load(text, Loader=Loader)  # a safe loader: plain data only
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            reason = getattr(exc, "problem", None) or str(exc)
            raise ContentError(
                [
                    Problem(
                        display,
                        line,
                        f"this is not valid YAML: {reason}",
                        "check indentation, and put quotes around text containing ': ' or '#'",
                    )
                ]
            ) from None

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """Return the 1-based line of the value at ``loc`` (or its nearest parent)."""
        node = self.node
        line = node.start_mark.line + 1 if node is not None else None
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if k.value == key:
                        node = v
                        line = k.start_mark.line + 1
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
                if key >= len(node.value):
                    return line
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                return line
        return line

    def problem(
        self, loc: Sequence[str | int], message: str, hint: str = "", item: str = ""
    ) -> Problem:
        """Make a problem located at ``loc`` in this file (about ``item``, if given)."""
        return Problem(self.display, self.line_of(loc), message, hint, item=item)

    def validate(self, model: type[M]) -> M:
        """Validate the whole document against a pydantic model, naming lines on failure."""
        try:
            return model.model_validate(self.data if self.data is not None else {})
        except ValidationError as exc:
            raise ContentError(self.describe(exc)) from None

    def describe(self, exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[Problem]:
        """Turn pydantic errors into problems with lines and plain-English hints."""
        problems = []
        for err in exc.errors():
            loc = [*prefix, *(p for p in err["loc"] if isinstance(p, str | int))]
            # pydantic appends the union branch or validator name; keep the data path only.
            path = self.path_name([p for p in loc if not str(p).startswith("function-")])
            message = err["msg"].removeprefix("Value error, ")
            hint = _HINTS.get(err["type"], "")
            problems.append(self.problem(loc, f"{path or 'file'}: {message}", hint))
        return problems

    def path_name(self, loc: Sequence[str | int]) -> str:
        """``loc`` as an editor finds it: a list item by its id (or code), not its position.

        ``signposts.37.fit`` becomes ``signposts[offer_legal].fit``: the id is what the editor
        searches for; an item without one keeps its number.
        """
        parts: list[str] = []
        data: Any = self.data
        for key in loc:
            item: Any = None
            if isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
                item = data[key]
            elif isinstance(data, dict):
                item = data.get(key)
            name = next(
                (item[k] for k in ("id", "code") if isinstance(item, dict) and item.get(k)), None
            )
            parts.append(f"[{name}]" if isinstance(data, list) and name else f".{key}")
            data = item
        return "".join(parts).lstrip(".")


_HINTS = {
    "missing": "add this field",
    "extra_forbidden": "remove it or check its spelling",
    "string_type": "put the text in quotes",
    "literal_error": "use one of the values listed",
    "int_parsing": "use a whole number",
    "date_from_datetime_parsing": "write dates as YYYY-MM-DD",
    "date_parsing": "write dates as YYYY-MM-DD",
}
