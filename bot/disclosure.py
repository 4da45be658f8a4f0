"""Statistical disclosure control for every aggregate figure that leaves the database.

The ONS "10/5" rule, with configurable thresholds:

- a count under ``min_count`` (10) is suppressed, zero included: a zero that could have been
  otherwise says that nobody in a group did something, which is as telling as a small count;
- a structural zero (a figure that is zero by definition, such as the people who finished a
  check and yet stopped before the end) counts nobody and reveals nothing: it is shown as 0,
  and never chosen to hide another figure;
- every other count is shown rounded to the nearest ``round_to`` (5);
- a percentage is shown only over a denominator of at least ``min_denominator`` (10), and is
  worked out from the rounded figures shown beside it, so it reveals nothing more;
- complementary suppression: wherever a set of cells adds up to a total that is shown, never
  leave exactly one of them hidden (it could be worked out by subtraction); hide the next
  smallest too.

Renderers only ever see :class:`SafeTable`, which carries no true counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rules:
    """Disclosure thresholds (defaults: the ONS 10/5 rule)."""

    min_count: int = 10
    round_to: int = 5
    min_denominator: int = 10

    def rounded(self, count: int) -> int:
        """Round to the nearest ``round_to`` (halves up)."""
        step = self.round_to
        return int((count + step / 2) // step * step) if step > 1 else count


@dataclass
class Table:
    """True counts, before protection. Never rendered directly.

    ``counts[r][c]`` is the count for row r in column c; ``bases[c]`` the number of people
    the column's percentages are out of. When ``additive`` is true, each column's cells add
    up to its base (one answer per person), so the base acts as the column total. Columns
    always partition people: each row's cells add up to ``row_totals[r]``.
    """

    id: str
    title: str
    rows: list[str]
    columns: list[str]
    counts: list[list[int]]
    bases: list[int]
    row_totals: list[int]
    base_total: int
    additive: bool
    note: str = ""
    kind: str = "share"  # share: percent of each column's base; count: no percentages
    extra: dict[str, object] = field(default_factory=dict)
    # Whether the columns split people up (so a row's cells add up to its total).
    partition: bool = True
    # For a funnel: the later columns' percentages are out of the row's first column.
    percent_of_first: bool = False
    # Cells (row, column) that are zero by definition, not by count: shown as 0, never hidden.
    structural: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class Cell:
    """One protected figure: ``count`` is None when suppressed.

    ``structural``: zero by definition (nobody could be counted there), so shown as 0.
    """

    count: int | None
    percent: int | None = None
    structural: bool = False

    @property
    def suppressed(self) -> bool:
        """True if the figure is hidden."""
        return self.count is None


@dataclass(frozen=True)
class SafeTable:
    """A table after disclosure control: the only thing reports render."""

    id: str
    title: str
    rows: list[str]
    columns: list[str]
    cells: list[list[Cell]]
    bases: list[Cell]
    row_totals: list[Cell]
    base_total: Cell
    note: str
    kind: str
    extra: dict[str, object]
    additive: bool = False
    partition: bool = True
    percent_of_first: bool = False


def protect(table: Table, rules: Rules) -> SafeTable:
    """Apply primary and complementary suppression, rounding and percentage rules."""
    n_rows, n_cols = len(table.rows), len(table.columns)
    # Work on a grid with the margins as an extra row (bases) and column (row totals).
    grid = [[*table.counts[r], table.row_totals[r]] for r in range(n_rows)]
    grid.append([*table.bases, table.base_total])
    fixed = {(r, c) for r, c in table.structural if not table.counts[r][c]}
    hidden = [
        [value < rules.min_count and (r, c) not in fixed for c, value in enumerate(row)]
        for r, row in enumerate(grid)
    ]

    lines: list[list[tuple[int, int]]] = []
    # Along a row, the breakdown columns add up to the row total (columns partition people).
    if n_cols > 1 and table.partition:
        lines.extend([(r, c) for c in range(n_cols + 1)] for r in range(n_rows + 1))
    # Down a column, the cells add up to the column's base when there is one answer each.
    if table.additive:
        lines.extend([(r, c) for r in range(n_rows + 1)] for c in range(n_cols + 1))
    _complementary(grid, hidden, lines, fixed)

    def cell(r: int, c: int, base_r: int | None = None, base_c: int | None = None) -> Cell:
        if hidden[r][c]:
            return Cell(None)
        if (r, c) in fixed:
            return Cell(0, structural=True)
        shown = rules.rounded(grid[r][c])
        percent = None
        if (
            (table.kind == "share" or table.percent_of_first)
            and base_r is not None
            and (base_c is not None)
        ):
            base = grid[base_r][base_c]
            if base >= rules.min_denominator and not hidden[base_r][base_c]:
                percent = round(100 * shown / rules.rounded(base))
        return Cell(shown, percent)

    base_row = n_rows

    def row_cell(r: int, c: int) -> Cell:
        if table.percent_of_first:
            return cell(r, c, r, 0) if c else cell(r, c)
        return cell(r, c, base_row, c)

    return SafeTable(
        id=table.id,
        title=table.title,
        rows=table.rows,
        columns=table.columns,
        cells=[[row_cell(r, c) for c in range(n_cols)] for r in range(n_rows)],
        bases=[cell(base_row, c) for c in range(n_cols)],
        row_totals=[cell(r, n_cols, base_row, n_cols) for r in range(n_rows)],
        base_total=cell(base_row, n_cols),
        note=table.note,
        kind=table.kind,
        extra=table.extra,
        additive=table.additive,
        partition=table.partition,
        percent_of_first=table.percent_of_first,
    )


def _complementary(
    grid: list[list[int]],
    hidden: list[list[bool]],
    lines: Sequence[list[tuple[int, int]]],
    fixed: set[tuple[int, int]],
) -> None:
    """Hide more cells until no line has exactly one hidden cell.

    A structural zero is never the one hidden: everyone knows it, so hiding it protects nothing.
    """
    changed = True
    while changed:
        changed = False
        for line in lines:
            secret = [(r, c) for r, c in line if hidden[r][c]]
            if len(secret) != 1 or len(line) < 2:
                continue
            # Hide the smallest other cell; the total (last in the line) only as a last resort.
            others = [(r, c) for r, c in line[:-1] if not hidden[r][c] and (r, c) not in fixed]
            if not others and not hidden[line[-1][0]][line[-1][1]]:
                others = [line[-1]]
            if not others:
                continue
            r, c = min(others, key=lambda rc: grid[rc[0]][rc[1]])
            hidden[r][c] = True
            changed = True


def protect_count(count: int, rules: Rules) -> Cell:
    """A single count standing alone (no total beside it to protect against)."""
    return Cell(None) if count < rules.min_count else Cell(rules.rounded(count))


def hidden_lines(table: SafeTable) -> list[list[Cell]]:
    """Each set of cells that adds up to a shown total, with that total last."""
    n_rows, n_cols = len(table.rows), len(table.columns)
    grid = [[*table.cells[r], table.row_totals[r]] for r in range(n_rows)]
    grid.append([*table.bases, table.base_total])
    lines = []
    if n_cols > 1 and table.partition:
        lines += [grid[r] for r in range(n_rows + 1)]
    if table.additive:
        lines += [[grid[r][c] for r in range(n_rows + 1)] for c in range(n_cols + 1)]
    return [line for line in lines if len(line) > 1]


def check_safe(table: SafeTable, rules: Rules) -> list[str]:
    """Everything about a protected table that would break the rules (empty if none)."""
    problems: list[str] = []
    for line in hidden_lines(table):
        if sum(cell.count is None for cell in line) == 1:
            problems.append(f"{table.id}: a single hidden figure could be worked out")
    for row in table.cells:
        for c, (cell, base) in enumerate(zip(row, table.bases, strict=True)):
            out_of = row[0] if table.percent_of_first else base
            if cell.percent is not None and (
                cell.count is None or out_of.count is None or (table.percent_of_first and c == 0)
            ):
                problems.append(f"{table.id}: a percentage beside a hidden figure")
    everything = [c for row in table.cells for c in row] + table.bases + table.row_totals
    everything.append(table.base_total)
    for cell in everything:
        if cell.count is not None:
            if cell.structural and cell.count == 0:
                continue
            if cell.count < rules.min_count:
                problems.append(f"count {cell.count} under {rules.min_count}")
            if cell.count % rules.round_to:
                problems.append(f"count {cell.count} not a multiple of {rules.round_to}")
    return problems
