"""Disclosure control: no rendered figure breaks the 10/5 rule, for any triage log."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.conversation.content import load_content
from bot.disclosure import Cell, Rules, Table, check_safe, hidden_lines, protect, protect_count
from bot.store import Store
from bot.team.analytics import (
    Analysis,
    Pair,
    Period,
    Progress,
    Response,
    load_pairs,
    load_responses,
)
from bot.team.demo import generate
from bot.team.reporting import ReportMeta, stats_figures, to_csv, to_html

from .conftest import ROOT

CONTENT = load_content(ROOT)
SUPPRESSED = CONTENT.report.labels.suppressed


def table(counts, bases, additive=True, columns=None):
    rows = [f"r{i}" for i in range(len(counts))]
    cols = columns or [f"c{j}" for j in range(len(bases))]
    return Table(
        id="t",
        title="T",
        rows=rows,
        columns=cols,
        counts=counts,
        bases=bases,
        row_totals=[sum(r) for r in counts],
        base_total=sum(bases),
        additive=additive,
    )


# ---- the rule, cell by cell -------------------------------------------------------------------


def test_small_counts_are_hidden_and_others_rounded() -> None:
    safe = protect(table([[0], [9], [10], [12], [13], [47]], [91]), Rules())
    shown = [row[0].count for row in safe.cells]
    assert shown[:2] == [None, None]
    assert shown[2:] == [10, 10, 15, 45]
    assert safe.base_total.count == 90


def test_percentages_use_rounded_figures_and_need_ten_people() -> None:
    safe = protect(table([[13], [7]], [20], additive=False), Rules())
    # 13 shows as 15 of 20: 75%, not the true 65%, which would give 13 away.
    assert safe.cells[0][0] == Cell(15, 75)
    assert safe.cells[1][0] == Cell(None)
    # With one answer each, the 7 could be worked out from the total: the 13 goes too.
    safe = protect(table([[13], [7]], [20]), Rules())
    assert safe.cells[0][0] == Cell(None)
    safe = protect(table([[12], [40]], [52], additive=False), Rules(min_denominator=60))
    assert safe.cells[0][0].percent is None


def test_a_lone_hidden_cell_gets_a_partner() -> None:
    # Column c1 has one small cell; its row total and column base would give it away.
    safe = protect(table([[40, 3, 30], [50, 60, 70]], [90, 63, 100]), Rules())
    assert safe.cells[0][1].count is None
    hidden = [(r, c) for r in range(2) for c in range(3) if safe.cells[r][c].count is None]
    assert len(hidden) >= 2
    assert check_safe(safe, Rules()) == []


def test_a_zero_by_definition_shows_as_0_and_never_hides_another() -> None:
    # The funnel's shape: "stopped here" adds up to its total; nobody who finished stopped.
    funnel = Table(
        id="funnel",
        title="T",
        rows=["first", "second", "finished"],
        columns=["reached", "stopped"],
        counts=[[50, 7], [40, 12], [30, 0]],
        bases=[50, 19],
        row_totals=[50, 40, 30],
        base_total=50,
        additive=True,
        kind="count",
        partition=False,
        percent_of_first=True,
        structural=frozenset({(2, 1)}),
    )
    safe = protect(funnel, Rules())
    assert safe.cells[2][1] == Cell(0, structural=True)
    # The 7 is hidden, and its partner is a count that could tell it, not the known zero.
    assert safe.cells[0][1].suppressed and safe.cells[1][1].suppressed
    assert check_safe(safe, Rules()) == []
    # A zero that could have been otherwise is hidden like any small count.
    counted = protect(replace(funnel, structural=frozenset()), Rules())
    assert counted.cells[2][1].suppressed and not counted.cells[1][1].suppressed
    assert check_safe(replace(counted, cells=[*safe.cells[:2], [Cell(30), Cell(0)]]), Rules())


def test_thresholds_are_configurable() -> None:
    rules = Rules(min_count=20, round_to=10, min_denominator=50)
    safe = protect(table([[15], [26], [34]], [75]), rules)
    assert [row[0].count for row in safe.cells] == [None, None, 30]
    assert protect_count(19, rules).count is None and protect_count(25, rules).count == 30


# ---- any log, any breakdown ------------------------------------------------------------------


def build_log(n: int, seed: int, abandon: float) -> tuple[Store, Path]:
    folder = Path(tempfile.mkdtemp(prefix="disclosure-"))
    store = Store(folder / "t.db")
    generate(store, CONTENT, n, seed=seed, abandon_share=abandon, today=dt.date(2026, 11, 1))
    return store, folder


def rendered_numbers_obey(text_cells: list[str], rules: Rules) -> list[str]:
    bad = []
    for text in text_cells:
        text = text.strip()
        if not text or text == SUPPRESSED:
            continue
        match = re.fullmatch(r"([\d,]+)(?: \((\d+)%\))?", text)
        if match is None:
            continue
        count = int(match.group(1).replace(",", ""))
        if count < rules.min_count or count % rules.round_to:
            bad.append(text)
    return bad


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    n=st.integers(min_value=0, max_value=90),
    seed=st.integers(min_value=0, max_value=10_000),
    abandon=st.sampled_from([0.0, 0.2, 0.5]),
    by=st.sampled_from([None, "sector", "size", "region", "readiness"]),
    rules=st.sampled_from([Rules(), Rules(min_count=5, round_to=3, min_denominator=20)]),
)
def test_no_rendered_figure_breaks_the_rule(n, seed, abandon, by, rules) -> None:
    store, _ = build_log(n, seed, abandon)
    try:
        analysis = Analysis(CONTENT, rules)
        responses = load_responses(store)
        tables = analysis.tables(store, responses, by)
        headline = analysis.headline(store, responses, dt.date(2026, 11, 1))
    finally:
        store.close()
    for safe in tables:
        assert check_safe(safe, rules) == [], safe.id
        for line in hidden_lines(safe):
            assert sum(c.count is None for c in line) != 1
    # The CSV: every count is hidden, or big enough and rounded; a 0 only where it is zero by
    # definition (the funnel's finished checks, none of whom stopped).
    structural = sum(cell.structural for safe in tables for row in safe.cells for cell in row)
    rows = list(csv.DictReader(io.StringIO(to_csv(CONTENT, tables))))
    counts = [r["count"] for r in rows]
    assert counts.count("0") == structural
    assert rendered_numbers_obey([c for c in counts if c != "0"], rules) == []
    for r in rows:
        if r["percent"]:
            assert r["count"] != SUPPRESSED
    # The HTML: every number in a table cell obeys the rule too.
    meta = ReportMeta(
        generated=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        since=None,
        until=None,
        by=by,
        responses=protect_count(len(responses), rules),
        rules=rules,
    )
    html = to_html(CONTENT, meta, tables, {**headline, "started": None})
    cells = re.findall(r"<td(?: class=\"[a-z]+\")?>([^<]*)</td>", html)
    assert cells.count("0") == structural
    numbers = [c for c in cells if re.match(r"^[\d,]", c) and c != "0"]
    assert rendered_numbers_obey(numbers, rules) == []
    # /stats.
    figures = stats_figures(CONTENT, rules, headline)
    assert (
        rendered_numbers_obey(
            [figures[k] for k in ("finished", "recent", "started", "urgent", "handovers")],
            rules,
        )
        == []
    )


def test_period_filters(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    generate(store, CONTENT, 200, seed=3, today=dt.date(2026, 11, 1))
    everything = load_responses(store)
    recent = load_responses(store, Period(since=dt.date(2026, 9, 1)))
    old = load_responses(store, Period(until=dt.date(2026, 8, 31)))
    store.close()
    assert len(recent) + len(old) == len(everything)
    assert all(r.completed >= "2026-09-01" for r in recent)


@pytest.mark.parametrize("by", ["sector", "region"])
def test_breakdowns_are_one_dimension_at_a_time(tmp_path: Path, by: str) -> None:
    store = Store(tmp_path / "t.db")
    generate(store, CONTENT, 300, seed=5, today=dt.date(2026, 11, 1))
    analysis = Analysis(CONTENT, Rules())
    tables = analysis.tables(store, load_responses(store), by)
    store.close()
    dimension_questions = {"sector": "service", "region": "region"}
    assert all(t.id != dimension_questions[by] for t in tables)
    labels = {o.label for o in CONTENT.flow.by_id[dimension_questions[by]].options}
    for safe in tables:
        assert set(safe.columns) <= labels  # never two dimensions crossed


# ---- the progress section (issue 9): pairs of a first check and its follow-up --------------

STAGES = [s.id for s in CONTENT.catalogue.readiness.spec.stages]
BARRIERS = [o.code for o in CONTENT.flow.by_id["barriers"].options if not o.exclusive]
NEEDS = [o.code for o in CONTENT.flow.by_id["support"].options if not o.exclusive]


@st.composite
def check(draw: st.DrawFn, n: int) -> Response:
    stage = draw(st.sampled_from([*STAGES, None]))
    answers = {
        "barriers": draw(st.lists(st.sampled_from(BARRIERS), unique=True)) or ["none"],
        "support": draw(st.lists(st.sampled_from(NEEDS), unique=True)) or ["nothing"],
    }
    return Response(n, "2026-11-01T10:00:00+00:00", stage, answers)


@st.composite
def pairs(draw: st.DrawFn) -> list[Pair]:
    # Few distinct shapes, repeated, so that some figures pass ten and some do not.
    shapes = draw(st.lists(st.tuples(check(0), check(1)), min_size=1, max_size=6))
    counts = draw(st.lists(st.integers(0, 60), min_size=len(shapes), max_size=len(shapes)))
    return [Pair(a, b) for (a, b), k in zip(shapes, counts, strict=True) for _ in range(k)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    made=pairs(),
    rules=st.sampled_from([Rules(), Rules(min_count=5, round_to=3, min_denominator=20)]),
)
def test_the_progress_section_never_breaks_the_rule(made, rules) -> None:
    analysis = Analysis(CONTENT, rules)
    tables = [protect(t, rules) for t in Progress(analysis).tables(made)]
    assert [t.id for t in tables] == ["progress_stage", "progress_barriers", "progress_needs"]
    for safe in tables:
        assert check_safe(safe, rules) == [], safe.id
    # Fewer pairs than the threshold: every figure is hidden.
    if len(made) < rules.min_count:
        for safe in tables:
            assert all(c.count is None for row in safe.cells for c in row)
            assert all(c.count is None for c in safe.bases)
    rows = list(csv.DictReader(io.StringIO(to_csv(CONTENT, tables))))
    assert rendered_numbers_obey([r["count"] for r in rows], rules) == []
    for r in rows:
        if r["percent"]:
            assert r["count"] != SUPPRESSED
    meta = ReportMeta(
        generated=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        since=None,
        until=None,
        by=None,
        responses=protect_count(len(made), rules),
        rules=rules,
    )
    headline = {"started": None, "completion_rate": None, "needs": [], "barriers": []}
    html = to_html(CONTENT, meta, tables, headline)
    cells = re.findall(r"<td(?: class=\"[a-z]+\")?>([^<]*)</td>", html)
    assert rendered_numbers_obey([c for c in cells if re.match(r"^[\d,]", c)], rules) == []


def test_the_report_pairs_follow_ups_and_shows_them_once_there_are_enough(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    generate(store, CONTENT, 400, seed=11, today=dt.date(2026, 11, 1))
    try:
        made = load_pairs(store)
        tables = Analysis(CONTENT, Rules()).tables(store, load_responses(store), None)
        split = Analysis(CONTENT, Rules()).tables(store, load_responses(store), "sector")
    finally:
        store.close()
    assert len(made) >= 30
    assert all(p.then.completed > p.first.completed for p in made)
    stage = next(t for t in tables if t.id == "progress_stage")
    # Every demo pair is a Mutual both times, so every pair has a stage to compare.
    assert stage.base_total.count == Rules().rounded(len(made))
    assert any(c.count for row in stage.cells for c in row)
    assert not [t for t in split if t.id.startswith("progress_")]  # the unsplit report only
