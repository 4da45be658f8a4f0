"""Rendering protected tables: a terminal table, CSV, and a self-contained HTML report."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from .content import Content, ReportLabels
from .disclosure import Cell, Rules, SafeTable


@dataclass(frozen=True)
class ReportMeta:
    """What a report covers, shown at its top."""

    generated: dt.datetime
    since: dt.date | None
    until: dt.date | None
    by: str | None
    responses: Cell
    rules: Rules


def cell_text(cell: Cell, labels: ReportLabels, percent: bool = True) -> str:
    """A protected figure as text: "15 (30%)", "15" or the suppression mark."""
    if cell.count is None:
        return labels.suppressed
    text = f"{cell.count:,}"
    if percent and cell.percent is not None:
        text += f" ({cell.percent}%)"
    return text


def disclosure_note(content: Content, rules: Rules) -> str:
    """The sentence explaining the protection applied."""
    return content.report.disclosure.format(
        min_count=rules.min_count,
        round_to=rules.round_to,
        min_denominator=rules.min_denominator,
        suppressed=content.report.labels.suppressed,
    )


def _has_total_column(table: SafeTable) -> bool:
    return len(table.columns) > 1 and table.id != "funnel"


def _base_label(table: SafeTable, labels: ReportLabels) -> str:
    return labels.people_asked if table.kind == "share" else labels.total


# ---- terminal ---------------------------------------------------------------------------------


def print_tables(
    console: Console, content: Content, meta: ReportMeta, tables: list[SafeTable]
) -> None:
    """Rich tables in the terminal."""
    labels = content.report.labels
    console.print(f"[bold]{content.report.title}[/bold]")
    console.print(_period_text(meta, content), style="dim")
    for table in tables:
        rich = RichTable(
            title=table.title,
            title_justify="left",
            title_style="bold",
            caption=table.note,
            caption_justify="left",
            caption_style="dim",
        )
        rich.add_column("", min_width=18, ratio=2)
        for column in table.columns:
            rich.add_column(escape(column), justify="right")
        total = _has_total_column(table)
        if total:
            rich.add_column(labels.all, justify="right", style="bold")
        for label, row, row_total in zip(table.rows, table.cells, table.row_totals, strict=True):
            values = [cell_text(c, labels) for c in row]
            rich.add_row(label, *values, *([cell_text(row_total, labels)] if total else []))
        if table.id != "over_time":
            rich.add_row(
                _base_label(table, labels),
                *[cell_text(c, labels, percent=False) for c in table.bases],
                *([cell_text(table.base_total, labels, False)] if total else []),
                style="italic",
            )
        console.print(rich)
    console.print(disclosure_note(content, meta.rules), style="dim")


def _period_text(meta: ReportMeta, content: Content) -> str:
    parts = [f"generated {meta.generated:%Y-%m-%d %H:%M} UTC"]
    if meta.since or meta.until:
        parts.append(f"finished {meta.since or '…'} to {meta.until or '…'}")
    if meta.by:
        parts.append(f"by {content.report.dimensions[meta.by].lower()}")  # type: ignore[index]
    return "; ".join(parts)


# ---- CSV ------------------------------------------------------------------------------------


def to_csv(content: Content, tables: list[SafeTable]) -> str:
    """Every protected figure in long form: table, row, column, count, percent."""
    labels = content.report.labels
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["table", "title", "row", "column", "count", "percent"])

    def emit(table: SafeTable, row: str, column: str, cell: Cell) -> None:
        count = labels.suppressed if cell.count is None else str(cell.count)
        percent = "" if cell.percent is None else str(cell.percent)
        writer.writerow([table.id, table.title, row, column, count, percent])

    for table in tables:
        total = _has_total_column(table)
        for label, row, row_total in zip(table.rows, table.cells, table.row_totals, strict=True):
            for column, cell in zip(table.columns, row, strict=True):
                emit(table, label, column, cell)
            if total:
                emit(table, label, labels.all, row_total)
        if table.id != "over_time":
            base = _base_label(table, labels)
            for column, cell in zip(table.columns, table.bases, strict=True):
                emit(table, base, column, Cell(cell.count))
            if total:
                emit(table, base, labels.all, Cell(table.base_total.count))
    return buffer.getvalue()


# ---- HTML -----------------------------------------------------------------------------------


def _chart(table: SafeTable) -> list[dict[str, Any]]:
    """Bars for the table's overall figures: percentages for shares, counts otherwise."""
    if table.id == "funnel":
        # Where people drop out: the share of those reaching a step who stopped there.
        cells, use_percent = [row[1] for row in table.cells], True
    else:
        cells = table.row_totals if _has_total_column(table) else [row[0] for row in table.cells]
        use_percent = table.kind == "share"
    values = [(c.percent if use_percent else c.count) for c in cells]
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
        undefined=StrictUndefined,
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
                "chart_is_percent": table.kind == "share" or table.id == "funnel",
            }
        )
    return env.get_template("report.html.j2").render(
        title=content.report.title,
        period=_period_text(meta, content),
        responses=cell_text(meta.responses, labels, percent=False),
        headline=headline,
        disclosure=disclosure_note(content, meta.rules),
        tables=views,
        labels=labels.model_dump(),
        by=content.report.dimensions[meta.by] if meta.by else None,  # type: ignore[index]
    )


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
        "note": disclosure_note(content, rules),
    }


def write_text(path: Path | None, text: str, console: Console) -> None:
    """Write to a file (creating folders) or print."""
    if path is None:
        console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
