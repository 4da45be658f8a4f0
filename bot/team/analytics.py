"""The triage log as tables of counts, for reports and /stats.

Everything here produces :class:`bot.disclosure.Table` (true counts), which callers must pass
through :func:`bot.disclosure.protect` before showing anyone. Breakdowns are by one dimension
at a time (sector, size, region or readiness stage), never crossed: with about 120 Mutuals,
sector with region with size could point at a single organisation.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.conversation.content import Content
from bot.conversation.flow import DONE, SUMMARY, Option, Question
from bot.conversation.profiles import path_profiles
from bot.conversation.signposts import READINESS
from bot.disclosure import Rules, SafeTable, Table, protect, protect_count
from bot.store import Store

CHANNEL = "channel"  # Telegram or the web page: counted under the same disclosure rules
Dimension = Literal["sector", "size", "region", "readiness"]
DIMENSIONS: dict[str, str] = {
    "sector": "service",
    "size": "staff",
    "region": "region",
    "readiness": READINESS,
}


@dataclass(frozen=True)
class Response:
    """One finished triage: its answers as lists of option codes."""

    id: int
    completed: str
    readiness: str | None
    answers: dict[str, list[str]]
    channel: str = "telegram"
    handover: bool = False  # they asked the team to contact them (never who they are)


@dataclass(frozen=True)
class SplitPlan:
    """What a report split by one dimension shows (see :meth:`Analysis.split_plan`)."""

    questions: list[str]
    options: dict[str, set[str]]
    left_out: list[str]
    notes: list[str]


@dataclass(frozen=True)
class Period:
    """An inclusive date range (either end open)."""

    since: dt.date | None = None
    until: dt.date | None = None

    def sql(self, column: str) -> tuple[str, list[str]]:
        """A WHERE fragment and its parameters for an ISO timestamp column."""
        parts, params = [], []
        if self.since is not None:
            parts.append(f"{column} >= ?")
            params.append(self.since.isoformat())
        if self.until is not None:
            parts.append(f"{column} < ?")
            params.append((self.until + dt.timedelta(days=1)).isoformat())
        return (" AND ".join(parts) or "1"), params


def load_responses(store: Store, period: Period = Period()) -> list[Response]:
    """Every finished response in the period, with its answers."""
    where, params = period.sql("r.completed")
    return _load(store, where, params)


def _load(store: Store, where: str, params: Sequence[str | int]) -> list[Response]:
    """The responses (``r``) matching a WHERE clause, by id, with their answers."""
    rows = store.conn.execute(
        "SELECT r.id, r.completed, r.readiness, r.channel, r.handover IS NOT NULL FROM responses r "
        f"WHERE {where} ORDER BY r.id",
        params,
    ).fetchall()
    answers: dict[int, dict[str, list[str]]] = defaultdict(dict)
    answer_rows = store.conn.execute(
        "SELECT a.response_id, a.question, a.option FROM answers a "
        f"JOIN responses r ON r.id = a.response_id WHERE {where} ORDER BY a.rowid",
        params,
    )
    for response_id, question, option in answer_rows:
        answers[response_id].setdefault(question, []).append(option)
    return [Response(r[0], r[1], r[2], answers.get(r[0], {}), r[3], bool(r[4])) for r in rows]


class Analysis:
    """Builds the report's tables from responses and the funnel, for one content bundle."""

    def __init__(self, content: Content, rules: Rules) -> None:
        self.content = content
        self.flow = content.flow
        self.rules = rules
        self.text = content.report
        self.readiness_question = content.catalogue.readiness.question

    # ---- helpers ---------------------------------------------------------------------------

    def _values(self, response: Response, qid: str) -> list[str]:
        if qid == CHANNEL:
            return [response.channel]
        if qid == READINESS:
            return [response.readiness] if response.readiness else []
        return response.answers.get(qid, [])

    def _question(self, qid: str) -> Question:
        if qid == CHANNEL:
            # Where people answered, as a pseudo-question so it is counted like one.
            return Question(
                id=CHANNEL,
                label=self.text.tables[CHANNEL],
                kind="single",
                text="-",
                options=tuple(Option(code=c, label=w) for c, w in self.text.channels.items()),
            )
        return self.readiness_question if qid == READINESS else self.flow.by_id[qid]

    def _options(self, question: Question) -> list[tuple[str, str]]:
        source = self.flow.source(question)
        choices = self.flow.choices(source, {})
        return [
            (o.code, label)
            for o, label in zip(
                choices, self.content.words(source, [o.code for o in choices]), strict=True
            )
            if not (question.options_from and o.exclusive)
        ]

    def _columns(self, by: str | None) -> list[tuple[str, str]]:
        if by is None:
            return [("*", self.text.labels.all)]
        return self._options(self._question(DIMENSIONS[by]))

    def _column(self, response: Response, by: str | None, index: dict[str, int]) -> int | None:
        """The column a response is counted in: None if it has no answer for the split."""
        if by is None:
            return 0
        dim = self._values(response, DIMENSIONS[by])
        return index.get(dim[0]) if dim else None

    # ---- tables ----------------------------------------------------------------------------

    def choice_table(
        self,
        responses: list[Response],
        qid: str,
        by: str | None,
        title: str | None = None,
        values: dict[int, list[str]] | None = None,
        note: str = "",
        keep: set[str] | None = None,
    ) -> Table:
        """Who chose each option of a question, optionally broken down by one dimension.

        ``keep`` limits the rows to those options (see :meth:`split_plan`).
        """
        question = self._question(qid)
        options = [o for o in self._options(question) if keep is None or o[0] in keep]
        columns = self._columns(by)
        col_index = {code: i for i, (code, _) in enumerate(columns)}
        counts = [[0] * len(columns) for _ in options]
        row_index = {code: i for i, (code, _) in enumerate(options)}
        bases = [0] * len(columns)
        totals = [0] * len(options)
        base_total = 0
        for response in responses:
            chosen = (
                values.get(response.id, []) if values is not None else self._values(response, qid)
            )
            if not chosen:
                continue
            column = self._column(response, by, col_index)
            if column is None:
                continue
            bases[column] += 1
            base_total += 1
            for code in chosen:
                if code in row_index:
                    counts[row_index[code]][column] += 1
                    totals[row_index[code]] += 1
        notes = [self.text.notes["share"]]
        if question.kind == "multi":
            notes.append(self.text.notes["multi"])
        if note:
            notes.insert(0, note)
        return Table(
            id=qid if title is None else title.lower().replace(" ", "_"),
            title=title or question.label,
            rows=[label for _, label in options],
            columns=[label for _, label in columns],
            counts=counts,
            bases=bases,
            row_totals=totals,
            base_total=base_total,
            additive=question.kind != "multi",
            note=" ".join(notes),
        )

    def biggest_barrier(
        self, responses: list[Response], by: str | None, keep: set[str] | None = None
    ) -> Table:
        """The barrier named as biggest, or the only one named."""
        barriers = self.flow.by_id.get("barriers")
        values: dict[int, list[str]] = {}
        for response in responses:
            top = response.answers.get("top_barrier")
            named = [
                c
                for c in response.answers.get("barriers", [])
                if barriers is None or c not in barriers.exclusive_codes
            ]
            if top:
                values[response.id] = top
            elif len(named) == 1:
                values[response.id] = named
        return self.choice_table(
            responses,
            "top_barrier",
            by,
            title=self.text.tables["biggest_barrier"],
            values=values,
            note=self.text.notes["biggest_barrier"],
            keep=keep,
        )

    def handovers(self, responses: list[Response], by: str | None) -> Table:
        """How many asked the team to contact them, out of everyone who finished (issue 8).

        The store keeps only that a handover was asked for, never who asked, so this is all
        there is to count. One row, so nothing in a column adds up to its base: the columns
        (a split) add up to the row's total, and that line is protected like every other.
        """
        columns = self._columns(by)
        col_index = {code: i for i, (code, _) in enumerate(columns)}
        asked = [0] * len(columns)
        bases = [0] * len(columns)
        for response in responses:
            column = self._column(response, by, col_index)
            if column is None:
                continue
            bases[column] += 1
            asked[column] += response.handover
        return Table(
            id="handover",
            title=self.text.tables["handover"],
            rows=[self.text.labels.handover],
            columns=[label for _, label in columns],
            counts=[asked],
            bases=bases,
            row_totals=[sum(asked)],
            base_total=sum(bases),
            additive=False,
            note=self.text.notes.get("handover", ""),
            extra={"base": "finished"},
        )

    def reserved_outcomes(self, responses: list[Response], by: str | None) -> Table:
        """The outcome of the reserved contract's tests, for those asked them (issue 17).

        The outcome is the signpost the rules chose (content/report.yaml lists which), so the
        table counts exactly what people were told.
        """
        ids = self.text.reserved_outcomes
        catalogue = self.content.catalogue
        columns = self._columns(by)
        col_index = {code: i for i, (code, _) in enumerate(columns)}
        counts = [[0] * len(columns) for _ in ids]
        bases = [0] * len(columns)
        for response in responses:
            # Responses keep every answer as a list of codes; the rules read single answers
            # as one code.
            answers = {
                qid: codes if (q := self.flow.by_id.get(qid)) and q.kind == "multi" else codes[0]
                for qid, codes in response.answers.items()
                if codes
            }
            shown = {
                rec.signpost.id
                for rec in catalogue.recommend(self.flow, answers, self.content.words)
            }
            got = [i for i, sid in enumerate(ids) if sid in shown]
            column = self._column(response, by, col_index)
            if not got or column is None:
                continue
            bases[column] += 1
            for row in got:
                counts[row][column] += 1
        return Table(
            id="reserved_outcome",
            title=self.text.tables["reserved_outcome"],
            rows=[catalogue.signposts[sid].title for sid in ids],
            columns=[label for _, label in columns],
            counts=counts,
            bases=bases,
            row_totals=[sum(row) for row in counts],
            base_total=sum(bases),
            additive=True,
            note=self.text.notes.get("reserved_outcome", self.text.notes["share"]),
        )

    def over_time(self, responses: list[Response]) -> Table:
        """Finished checks per calendar month."""
        months = Counter(r.completed[:7] for r in responses)
        keys = sorted(months)
        return Table(
            id="over_time",
            title=self.text.tables["over_time"],
            rows=keys,
            columns=[self.text.labels.finished],
            counts=[[months[k]] for k in keys],
            bases=[len(responses)],
            row_totals=[months[k] for k in keys],
            base_total=len(responses),
            additive=True,
            kind="count",
            note=self.text.notes["over_time"],
        )

    def funnel(self, store: Store, period: Period = Period()) -> Table:
        """Conversations reaching each step, and how many went no further."""
        where, params = period.sql("min(reached)")
        runs = store.conn.execute(
            f"SELECT run, group_concat(state, ' ') FROM progress GROUP BY run HAVING {where}",
            params,
        ).fetchall()
        steps = [*(q.id for q in self.flow.questions), SUMMARY, DONE]
        order = {s: i for i, s in enumerate(steps)}
        reached: Counter[str] = Counter()
        stopped: Counter[str] = Counter()
        for _run, states in runs:
            seen = [s for s in states.split() if s in order]
            reached.update(set(seen))
            if seen and DONE not in seen:
                stopped[max(seen, key=order.__getitem__)] += 1
        labels = {q.id: q.label for q in self.flow.questions}
        labels[SUMMARY] = SUMMARY.title()
        labels[DONE] = self.text.labels.finished
        used = [s for s in steps if reached[s]]
        return Table(
            id="funnel",
            title=self.text.tables["funnel"],
            rows=[labels[s] for s in used],
            columns=[self.text.labels.reached, self.text.labels.stopped],
            counts=[[reached[s], stopped[s]] for s in used],
            bases=[len(runs), sum(stopped.values())],
            row_totals=[reached[s] for s in used],
            base_total=len(runs),
            # "Stopped here" adds up to its total; treating both columns as additive can only
            # hide more, never less.
            additive=True,
            kind="count",
            partition=False,
            percent_of_first=True,
            note=self.text.notes["funnel"],
            extra={"steps": used},
            # Nobody who finished stopped before the end: zero by definition, shown as 0.
            structural=frozenset({(used.index(DONE), 1)} if DONE in used else ()),
        )

    # ---- which tables a split can show -------------------------------------------------------

    def split_plan(self, by: str | None) -> SplitPlan:
        """Which questions a report split ``by`` one dimension shows, and which options.

        Worked out from the flow, never from the data, so leaving something out reveals
        nothing. A question never asked of anyone who is asked about the dimension is left
        out, and so is an option that on its own rules the dimension out; a table left with
        one row says nothing and is left out too (only Mutuals are asked their size, so split
        by size, the organisation table would be one row: Mutuals).
        """
        questions = [q.id for q in self.flow.questions if q.kind != "text"]
        if by != "readiness":
            questions.append(READINESS)
        if by is None:
            return SplitPlan(questions, {}, [], [])
        dimension = DIMENSIONS[by]
        if dimension in questions:
            questions.remove(dimension)
        scale = self.content.catalogue.readiness
        gate = (
            scale.spec.applies_when if dimension == READINESS else self.flow.by_id[dimension].when
        )
        together: set[str] = set()  # questions asked alongside the dimension on some path
        for profile in path_profiles(self.flow):
            asked = {q.id for q in self.flow.path(profile.answers)}
            if scale.assess(self.flow, profile.answers) is not None:
                asked.add(READINESS)
            if dimension in asked:
                together |= asked
        everything = set(self.flow.by_id) | {READINESS}
        shown: list[str] = []
        options: dict[str, set[str]] = {}
        left_out: list[str] = []
        for qid in questions:
            question = self._question(qid)
            title = self.text.tables["biggest_barrier"] if qid == "top_barrier" else question.label
            source = self.flow.source(question) if qid != READINESS else question
            if qid not in together and source.id not in together:
                left_out.append(title)
                continue
            codes = [code for code, _ in self._options(question)]
            if gate is not None and question.kind != "multi":
                # An answer that on its own means the dimension is never asked.
                codes = [
                    code
                    for code in codes
                    if gate.evaluate({qid: code}, everything, self.flow.exclusive) is not False
                ]
            if len(codes) < 2:
                left_out.append(title)
                continue
            shown.append(qid)
            options[qid] = set(codes)
        notes = []
        split_note = self.text.notes.get(f"split_by_{by}")
        if split_note:
            notes.append(split_note)
        if left_out and "not_split" in self.text.notes:
            notes.append(self.text.notes["not_split"].format(tables=", ".join(left_out)))
        return SplitPlan(shown, options, left_out, notes)

    def tables(
        self, store: Store, responses: list[Response], by: str | None, period: Period = Period()
    ) -> list[SafeTable]:
        """Every table of the report, protected."""
        raw: list[Table] = []
        if by is None:
            raw += [self.over_time(responses), self.funnel(store, period)]
        plan = self.split_plan(by)
        for qid in plan.questions:
            keep = plan.options.get(qid)
            if qid == "top_barrier":
                raw.append(self.biggest_barrier(responses, by, keep=keep))
                continue
            raw.append(self.choice_table(responses, qid, by, keep=keep))
        raw.append(self.choice_table(responses, CHANNEL, by))
        raw.append(self.handovers(responses, by))
        if self.text.reserved_outcomes:
            raw.append(self.reserved_outcomes(responses, by))
        if by is None:  # issue 9: first and follow-up checks of the same Mutuals
            raw += Progress(self).tables(load_pairs(store, period))
        return [protect(t, self.rules) for t in raw]

    def headline(
        self,
        store: Store,
        responses: list[Response],
        today: dt.date,
        period: Period = Period(),
    ) -> dict[str, object]:
        """The few protected figures /stats and the top of the report show."""
        recent = [
            r for r in responses if r.completed[:10] >= (today - dt.timedelta(days=30)).isoformat()
        ]
        finished_total = protect_count(len(responses), self.rules)
        recent_total = protect_count(len(recent), self.rules)
        funnel = protect(self.funnel(store, period), self.rules)
        started = funnel.bases[0]
        steps = funnel.extra["steps"]
        finished = funnel.cells[-1][0] if steps and steps[-1] == DONE else None  # type: ignore[index]
        rate = None
        if started.count is not None and finished is not None and finished.count is not None:
            rate = round(100 * finished.count / started.count)

        def top(qid: str, n: int = 3) -> list[dict[str, object]]:
            if qid not in self.flow.by_id:
                return []
            table = protect(self.choice_table(responses, qid, None), self.rules)
            shown = [
                (label, row[0])
                for label, row in zip(table.rows, table.cells, strict=True)
                if row[0].percent is not None
            ]
            shown.sort(key=lambda item: -(item[1].percent or 0))
            return [{"label": label, "percent": cell.percent} for label, cell in shown[:n]]

        urgent = (
            protect(self.choice_table(responses, "live_bid", None), self.rules)
            if ("live_bid" in self.flow.by_id)
            else None
        )
        urgent_cell = None
        if urgent is not None:
            codes = [code for code, _ in self._options(self.flow.by_id["live_bid"])]
            if "within_month" in codes:
                urgent_cell = urgent.cells[codes.index("within_month")][0]
        return {
            "finished": finished_total,
            "recent": recent_total,
            "handovers": protect_count(sum(r.handover for r in responses), self.rules),
            "started": started,
            "completion_rate": rate,
            "needs": top("support"),
            "barriers": top("barriers"),
            "urgent": urgent_cell,
        }


# ---- progress: first and follow-up checks of the same Mutuals (issue 9) -----------------------
# A pair is a finished check and the follow-up check the same person asked for on its result,
# joined by a random link id stored on both responses (never by who they are). Pairs are
# counted when their follow-up finished (so --since/--until pick follow-ups). The section is
# in the report without a split only, like the funnel: pairs are few, and split by one more
# dimension they would nearly all be hidden.


@dataclass(frozen=True)
class Pair:
    """A first check and its follow-up check, as two responses."""

    first: Response
    then: Response


def load_pairs(store: Store, period: Period = Period()) -> list[Pair]:
    """Every pair whose follow-up check finished in the period."""
    where, params = period.sql("b.completed")
    ids = store.conn.execute(
        "SELECT a.id, b.id FROM responses b JOIN responses a ON a.followup_link = b.follows_link "
        f"WHERE b.follows_link IS NOT NULL AND {where} ORDER BY b.id",
        params,
    ).fetchall()
    wanted = {i for pair in ids for i in pair}
    if not wanted:
        return []
    chosen = _load(store, f"r.id IN ({', '.join('?' * len(wanted))})", sorted(wanted))
    by_id = {response.id: response for response in chosen}
    return [Pair(by_id[a], by_id[b]) for a, b in ids]


class Progress:
    """The report's progress section: stage moves, barriers gone, needs met (true counts)."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.text = analysis.text
        self.flow = analysis.flow
        self.stages = [s.id for s in analysis.content.catalogue.readiness.spec.stages]

    def tables(self, pairs: list[Pair]) -> list[Table]:
        """The section's tables, before protection."""
        return [
            self.stage_moves(pairs),
            self.gone(pairs, "barriers", "progress_barriers"),
            self.gone(pairs, "support", "progress_needs"),
        ]

    def _note(self, key: str) -> str:
        notes = self.text.notes
        # The section's own note opens it, on its first table.
        first = notes.get("progress", "") if key == "progress_stage" else ""
        return " ".join(n for n in (first, notes.get(key, "")) if n)

    def stage_moves(self, pairs: list[Pair]) -> Table:
        """Readiness stage at the follow-up against the first check: up, same or down."""
        order = {stage: i for i, stage in enumerate(self.stages)}
        moves = [0, 0, 0]  # up, same, down
        for pair in pairs:
            before, after = pair.first.readiness, pair.then.readiness
            if before not in order or after not in order:
                continue  # not a Mutual both times (stages are worked out for Mutuals only)
            step = order[after] - order[before]
            moves[0 if step > 0 else 1 if step == 0 else 2] += 1
        labels = self.text.labels
        return Table(
            id="progress_stage",
            title=self.text.tables["progress_stage"],
            rows=[labels.moved_up, labels.same_stage, labels.moved_down],
            columns=[labels.all],
            counts=[[m] for m in moves],
            bases=[sum(moves)],
            row_totals=moves,
            base_total=sum(moves),
            additive=True,
            note=self._note("progress_stage"),
            extra={"base": "pairs"},
        )

    def gone(self, pairs: list[Pair], qid: str, table_id: str) -> Table:
        """Options of a multi-select named in the first check, and how many went by the next.

        Each row's percentage is of the pairs that named it first (as the funnel's are of
        those who reached a step). Only pairs asked the question both times count.
        """
        question = self.flow.by_id.get(qid)
        options = [] if question is None else self.analysis._options(question)
        options = [(c, w) for c, w in options if question and c not in question.exclusive_codes]
        named = [0] * len(options)
        went = [0] * len(options)
        asked = 0
        for pair in pairs:
            before, after = pair.first.answers.get(qid), pair.then.answers.get(qid)
            if not before or not after:
                continue
            asked += 1
            for i, (code, _) in enumerate(options):
                if code in before:
                    named[i] += 1
                    went[i] += code not in after
        labels = self.text.labels
        return Table(
            id=table_id,
            title=self.text.tables[table_id],
            rows=[word for _, word in options],
            columns=[labels.named_first, labels.gone],
            counts=[[n, g] for n, g in zip(named, went, strict=True)],
            bases=[asked, asked],
            row_totals=named,
            base_total=asked,
            additive=False,
            kind="count",
            partition=False,
            percent_of_first=True,
            note=self._note(table_id),
            extra={"base": "pairs"},
        )
