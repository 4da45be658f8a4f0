"""Rendering protected tables: a terminal table, CSV, and a self-contained HTML report."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import FileSystemLoader
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from bot.conversation.content import Content, ReportLabels
from bot.conversation.render import FieldStrictUndefined
from bot.disclosure import Cell, Rules, SafeTable
from bot.team import inline

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


@dataclass(frozen=True)
class ReportMeta:
    """What a report covers, shown at its top."""

    generated: dt.datetime
    since: dt.date | None
    until: dt.date | None
    by: str | None
    responses: Cell
    rules: Rules
    notes: tuple[str, ...] = ()
    # Made by demo-data: every format says so where a reader cannot miss it (issue 13).
    synthetic: bool = False


def cell_text(cell: Cell, labels: ReportLabels, percent: bool = True) -> str:
    """A protected figure as text: "15 (30%)", "15" or the suppression mark."""
    if cell.count is None:
        return labels.suppressed
    text = f"{cell.count:,}"
    if percent and cell.percent is not None:
        text += f" ({cell.percent}%)"
    return text


def cell_len(text: str) -> int:
    """Columns ``text`` takes in the terminal, as rich counts them.

    rich is imported here, not above: ``content check`` draws the HTML report without it.
    """
    from rich.cells import cell_len as rich_cell_len

    return rich_cell_len(text)


def notice_text(text: str, style: str) -> Text:
    """A notice for the terminal: its `code` spans underlined, without the backticks."""
    from rich.text import Text

    notice = Text(style=style)
    for piece, code in inline.spans(text):
        notice.append(piece, style="underline" if code else None)
    return notice


def disclosure_note(content: Content, rules: Rules) -> str:
    """The sentence explaining the protection applied."""
    return content.report.disclosure.format(
        min_count=rules.min_count,
        round_to=rules.round_to,
        min_denominator=rules.min_denominator,
        suppressed=content.report.labels.suppressed,
    )


def _has_total_column(table: SafeTable) -> bool:
    # Only where the columns split people up (not the funnel, nor the progress section's
    # "named first" and "gone by the follow-up", which count the same pairs twice).
    return len(table.columns) > 1 and table.partition


def _base_label(table: SafeTable, labels: ReportLabels) -> str:
    if table.extra.get("base") == "finished":  # out of everyone who finished, not one question
        return labels.finished
    if table.extra.get("base") == "pairs":  # the progress section (issue 9)
        return labels.pairs
    return labels.people_asked if table.kind == "share" else labels.total


# ---- terminal ---------------------------------------------------------------------------------

# Between two columns: one space of padding and one of the (blank) rule.
_GAP = 2
_LABEL_MIN = 12
_LABEL_MAX = 32


@dataclass(frozen=True)
class _Column:
    """One figure column as the terminal shows it: its header and its cells' texts."""

    header: str
    texts: list[str]
    bold: bool = False

    @property
    def natural(self) -> int:
        """Wide enough for every cell on one line and the header's longest word."""
        return max([_longest_word(self.header), *(cell_len(t) for t in self.texts)])

    @property
    def narrow(self) -> int:
        """The least it can take without cutting a word: "1,234 (56%)" on two lines."""
        return max([_longest_word(self.header), *(_longest_word(t) for t in self.texts)])


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _layout(labels: list[str], columns: list[_Column], width: int) -> list[tuple[int, list[int]]]:
    """Split the columns into parts that fit ``width`` without cutting any word.

    Returns, for each part, the label column's width and the figure columns' widths. Figures
    keep a line each where they can; labels wrap at spaces; a table too wide for the terminal
    is shown in several parts, each repeating the labels, rather than cutting anything.
    """
    # (A list for max(): a table with no rows yet, such as a new database's, has no labels.)
    label_min = max([_LABEL_MIN, *(_longest_word(label) for label in labels)])
    label_want = min(_LABEL_MAX, max([label_min, *(cell_len(label) for label in labels)]))
    parts: list[tuple[int, list[int]]] = []
    chunk: list[_Column] = []

    def fit(cols: list[_Column]) -> tuple[int, list[int]] | None:
        room = width - _GAP * len(cols)
        for widths in ([c.natural for c in cols], [c.narrow for c in cols]):
            left = room - sum(widths)
            if left >= label_min:
                return min(left, label_want), widths
        return None

    for column in columns:
        if fit([*chunk, column]) is None and chunk:
            parts.append(fit(chunk) or (label_min, [c.narrow for c in chunk]))
            chunk = []
        chunk.append(column)
    if chunk:
        parts.append(fit(chunk) or (label_min, [c.narrow for c in chunk]))
    return parts


def print_tables(
    console: Console, content: Content, meta: ReportMeta, tables: list[SafeTable]
) -> None:
    """Tables in the terminal, fitted to its width: nothing is cut, wide tables come in parts."""
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    labels = content.report.labels
    if meta.synthetic:
        console.print(notice_text(content.report.synthetic, "bold white on red"))
    console.print(Text(content.report.title, style="bold"))
    console.print(Text(_period_text(meta, content), style="dim"))
    for note in meta.notes:
        console.print(Text(note, style="dim"))
    for table in tables:
        total = _has_total_column(table)
        base = table.id != "over_time"
        row_labels = [*table.rows, *([_base_label(table, labels)] if base else [])]
        columns = []
        for c, header in enumerate(table.columns):
            texts = [cell_text(row[c], labels) for row in table.cells]
            if base:
                texts.append(cell_text(table.bases[c], labels, percent=False))
            columns.append(_Column(header, texts))
        if total:
            texts = [cell_text(t, labels) for t in table.row_totals]
            if base:
                texts.append(cell_text(table.base_total, labels, percent=False))
            columns.append(_Column(labels.all, texts, bold=True))
        start = 0
        parts = _layout(row_labels, columns, console.width)
        for n, (label_width, widths) in enumerate(parts):
            title = table.title if n == 0 else f"{table.title} ({labels.continued})"
            rich = RichTable(
                title=Text(title, style="bold"),
                title_justify="left",
                box=box.SIMPLE_HEAD,
                show_edge=False,
                pad_edge=False,
                padding=(0, 1),
                collapse_padding=True,
            )
            rich.add_column("", width=label_width, overflow="fold")
            shown = columns[start : start + len(widths)]
            for column, col_width in zip(shown, widths, strict=True):
                rich.add_column(
                    Text(column.header, style="bold" if column.bold else ""),
                    justify="right",
                    width=col_width,
                    overflow="fold",
                    style="bold" if column.bold else None,
                )
            for r, label in enumerate(row_labels):
                is_base = base and r == len(row_labels) - 1
                rich.add_row(
                    Text(label),
                    *(Text(column.texts[r]) for column in shown),
                    style="italic" if is_base else None,
                )
            start += len(widths)
            console.print(rich)
        if table.note:
            console.print(Text(table.note, style="dim"))
    console.print()
    console.print(Text(disclosure_note(content, meta.rules), style="dim"))
    if meta.synthetic:
        console.print(notice_text(content.report.synthetic, "bold white on red"))


def _period_text(meta: ReportMeta, content: Content) -> str:
    parts = [f"generated {meta.generated:%Y-%m-%d %H:%M} UTC"]
    if meta.since or meta.until:
        parts.append(f"finished {meta.since or '…'} to {meta.until or '…'}")
    if meta.by:
        parts.append(f"by {content.report.dimensions[meta.by].lower()}")  # type: ignore[index]
    return "; ".join(parts)


# ---- CSV ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One protected figure in long form: a table's row and column, count and percent."""

    table: SafeTable
    row: str
    column: str
    count: str  # a rounded count, or the suppression mark
    percent: str  # "" when not shown
    base: bool  # the row of people asked (or totals), not an option
    row_position: int
    column_position: int


def long_form(content: Content, tables: list[SafeTable]) -> Iterator[Figure]:
    """Every protected figure of the tables, row by row, totals included."""
    labels = content.report.labels

    def figure(
        table: SafeTable, r: int, row: str, c: int, column: str, cell: Cell, base: bool
    ) -> Figure:
        count = labels.suppressed if cell.count is None else str(cell.count)
        percent = "" if cell.percent is None else str(cell.percent)
        return Figure(table, row, column, count, percent, base, r, c)

    for table in tables:
        total = _has_total_column(table)
        for r, (label, row, row_total) in enumerate(
            zip(table.rows, table.cells, table.row_totals, strict=True)
        ):
            for c, (column, cell) in enumerate(zip(table.columns, row, strict=True)):
                yield figure(table, r, label, c, column, cell, False)
            if total:
                yield figure(table, r, label, len(table.columns), labels.all, row_total, False)
        if table.id != "over_time":
            base = _base_label(table, labels)
            r = len(table.rows)
            for c, (column, cell) in enumerate(zip(table.columns, table.bases, strict=True)):
                yield figure(table, r, base, c, column, Cell(cell.count), True)
            if total:
                n = len(table.columns)
                yield figure(table, r, base, n, labels.all, Cell(table.base_total.count), True)


def to_csv(content: Content, tables: list[SafeTable], synthetic: bool = False) -> str:
    """Every protected figure in long form: table, row, column, count, percent.

    From a demo database every row starts with a ``dataset`` column saying "synthetic demo
    data", so no row can be copied out of the file without it.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    mark = [content.report.labels.synthetic] if synthetic else []
    writer.writerow(
        [*(["dataset"] if synthetic else []), "table", "title", "row", "column", "count", "percent"]
    )
    for f in long_form(content, tables):
        writer.writerow([*mark, f.table.id, f.table.title, f.row, f.column, f.count, f.percent])
    return buffer.getvalue()


# ---- HTML -----------------------------------------------------------------------------------


def _chart(table: SafeTable) -> list[dict[str, Any]]:
    """Bars for the table's overall figures: percentages for shares, counts otherwise."""
    if table.percent_of_first:
        # The funnel: the share of those reaching a step who stopped there. The progress
        # section: the share of pairs naming something first for whom it went.
        cells, use_percent = [row[1] for row in table.cells], True
    else:
        cells = table.row_totals if _has_total_column(table) else [row[0] for row in table.cells]
        use_percent = table.kind == "share"
    # A zero by definition has no percentage beside it in the table; its bar is simply empty.
    values = [0 if c.structural else (c.percent if use_percent else c.count) for c in cells]
    top = max([v for v in values if v is not None] or [1]) or 1
    bars = []
    for label, cell, value in zip(table.rows, cells, values, strict=True):
        bars.append(
            {
                "label": label,
                "value": value,
                "width": 0 if value is None else round(100 * value / top, 1),
                "text": (f"{value}%" if use_percent else f"{value:,}")
                if value is not None
                else None,
                "suppressed": cell.count is None,
            }
        )
    return bars


def to_html(
    content: Content, meta: ReportMeta, tables: list[SafeTable], headline: dict[str, Any]
) -> str:
    """One self-contained HTML file: figures, charts and tables, readable offline."""
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(content.root / "templates" / "report")),
        autoescape=True,
        undefined=FieldStrictUndefined,  # a misspelt field names the fields there are
        trim_blocks=True,
        lstrip_blocks=True,
    )
    labels = content.report.labels
    views = []
    for table in tables:
        total = _has_total_column(table)
        views.append(
            {
                "id": table.id,
                "title": table.title,
                "note": table.note,
                "columns": table.columns,
                "total_column": total,
                "rows": [
                    {
                        "label": label,
                        "cells": [cell_text(c, labels) for c in row],
                        "total": cell_text(row_total, labels) if total else None,
                        "suppressed": [c.count is None for c in row],
                    }
                    for label, row, row_total in zip(
                        table.rows, table.cells, table.row_totals, strict=True
                    )
                ],
                "base_label": _base_label(table, labels) if table.id != "over_time" else None,
                "bases": [cell_text(c, labels, percent=False) for c in table.bases],
                "base_total": cell_text(table.base_total, labels, percent=False),
                "chart": _chart(table),
                "chart_is_percent": table.kind == "share" or table.percent_of_first,
            }
        )
    return env.get_template("report.html.j2").render(
        title=content.report.title,
        period=_period_text(meta, content),
        responses=cell_text(meta.responses, labels, percent=False),
        headline=headline,
        disclosure=disclosure_note(content, meta.rules),
        notes=list(meta.notes),
        tables=views,
        labels=labels.model_dump(),
        by=content.report.dimensions[meta.by] if meta.by else None,  # type: ignore[index]
        # Escaped here, with its `code` spans as <code>, so the template shows no backticks.
        synthetic=Markup(inline.html(content.report.synthetic)) if meta.synthetic else "",
    )


def html_report(
    content: Content, meta: ReportMeta, tables: list[SafeTable], headline: dict[str, Any]
) -> str:
    """The HTML report, from the analysis' tables and headline (``report --format html``)."""
    started = headline["started"]
    head = {
        **headline,
        "started": None
        if started.count is None
        else cell_text(started, content.report.labels, percent=False),
    }
    return to_html(content, meta, tables, head)


def stats_figures(content: Content, rules: Rules, headline: dict[str, Any]) -> dict[str, Any]:
    """The /stats template's variables, from protected headline figures."""
    labels = content.report.labels

    def text(cell: Cell | None) -> str:
        return labels.suppressed if cell is None else cell_text(cell, labels, percent=False)

    return {
        "finished": text(headline["finished"]),
        "recent": text(headline["recent"]),
        "started": text(headline["started"]),
        "completion_rate": headline["completion_rate"],
        "needs": headline["needs"],
        "barriers": headline["barriers"],
        "urgent": text(headline["urgent"]),
        "handovers": text(headline["handovers"]),
        "note": disclosure_note(content, rules),
    }


def write_text(path: Path | None, text: str, console: Console) -> None:
    """Write to a file (creating folders) or print."""
    if path is None:
        console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
