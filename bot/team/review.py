"""``review``: Datasette over a snapshot of the triage database, in two views.

The confidential view (the default) is for the programme team's own review: a copy that
leaves out everything that could lead back to a person (unfinished conversations, keyed by
pseudonym; the links from responses to pseudonyms; the Telegram transport's inbox and outbox,
with update ids, pseudonyms and sealed reply addresses), with readable labels,
a one-row-per-response view and canned queries. Every page says it is confidential.

The protected view (``--protected``) is for showing a wider audience: its database holds only
the report's disclosure-controlled figures (the 10/5 rule, with complementary suppression, as
``report`` applies it), no row-level table at all, and no free SQL.

Both views' aggregate canned queries read the same protected figures the report prints.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bot.conversation.content import Content
from bot.conversation.flow import DONE, SUMMARY
from bot.disclosure import Rules
from bot.team import inline

if TYPE_CHECKING:
    from bot.store import Store

PRIVATE_TABLES = (
    "conversations",
    "response_owners",
    "updates",
    # The Telegram transport's queues: pseudonyms and sealed reply addresses.
    "inbox",
    "outbox",
    "reshow",
    "transport_counters",
    # Follow-ups people asked for, by pseudonym (issue 9): counted in `reminders` instead.
    "follow_ups",
)
DATABASE = "review"  # the snapshot's file name, and so its name in Datasette's URLs
# The report's splits, each stored in the figures table: everyone, then one dimension each.
SPLITS = ("none", "sector", "size", "region", "readiness")


@dataclass(frozen=True)
class ReviewOptions:
    """How ``review`` serves: which view, and where (more options belong here, e.g. host)."""

    port: int = 8001
    host: str = "127.0.0.1"
    protected: bool = False


def snapshot(source: Path, dest: Path) -> Path:
    """A consistent copy of the live database, taken with SQLite's online backup."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    if dest.exists():
        dest.unlink()
    out = sqlite3.connect(dest)
    try:
        src.backup(out)
    finally:
        src.close()
        out.close()
    return dest


def _figures(
    path: Path, content: Content, rules: Rules, protected: bool
) -> tuple[list[tuple[Any, ...]], list[tuple[str, Any, Any]]]:
    """The report's figures and the reminder counts, read from one opening of the snapshot."""
    from bot.store import Store

    store = Store(path)
    try:
        return (
            protected_figures(store, content, rules),
            later_figures(store, content, rules, protected),
        )
    finally:
        store.close()


def protected_figures(store: Store, content: Content, rules: Rules) -> list[tuple[Any, ...]]:
    """Every figure of the report, for everyone and for each split, protected as it prints."""
    from bot.team.analytics import Analysis, load_responses
    from bot.team.reporting import long_form

    analysis = Analysis(content, rules)
    responses = load_responses(store)
    rows = []
    for split in SPLITS:
        tables = analysis.tables(store, responses, None if split == "none" else split)
        positions = {id(t): n for n, t in enumerate(tables)}
        for f in long_form(content, tables):
            rows.append(
                (
                    split,
                    f.table.id,
                    f.table.title,
                    f.row,
                    f.column,
                    int(f.count) if f.count.isdigit() else f.count,
                    int(f.percent) if f.percent else None,
                    int(f.base),
                    positions[id(f.table)],
                    f.row_position,
                    f.column_position,
                )
            )
    return rows


def _add_figures(out: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    out.execute(
        "CREATE TABLE figures (split TEXT, table_id TEXT, table_title TEXT, row_label TEXT, "
        "column_label TEXT, count, percent INTEGER, people_asked INTEGER, "
        "table_position INTEGER, row_position INTEGER, column_position INTEGER)"
    )
    out.executemany("INSERT INTO figures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    out.execute("CREATE INDEX figures_lookup ON figures (split, table_id)")


def later_figures(
    store: Store, content: Content, rules: Rules, protected: bool
) -> list[tuple[str, Any, Any]]:
    """Reminders and follow-ups waiting and sent (issue 9): counts only, nothing about anyone.

    In the protected view each count follows the 10/5 rule (they stand alone: no total is
    shown beside them to work a hidden one out from).
    """
    from bot.disclosure import protect_count

    counts = store.later_counts()
    labels = content.report.labels

    def shown(count: int) -> Any:
        if not protected:
            return count
        cell = protect_count(count, rules)
        return labels.suppressed if cell.count is None else cell.count

    return [
        (labels.reminders, shown(counts["reminders_waiting"]), shown(counts["reminders_sent"])),
        (labels.follow_ups, shown(counts["follow_ups_waiting"]), shown(counts["follow_ups_sent"])),
    ]


def _add_later(out: sqlite3.Connection, rows: list[tuple[str, Any, Any]]) -> None:
    out.execute("CREATE TABLE reminders (message TEXT PRIMARY KEY, waiting, sent)")
    out.executemany("INSERT INTO reminders VALUES (?, ?, ?)", rows)


def _add_labels(out: sqlite3.Connection, content: Content) -> None:
    out.execute(
        "CREATE TABLE options (question TEXT, option TEXT, question_label TEXT, "
        "option_label TEXT, position INTEGER, PRIMARY KEY (question, option))"
    )
    rows = [
        (question.id, option.code, question.label, word, position)
        for position, (question, option, word) in enumerate(content.option_labels())
    ]
    for o_pos, stage in enumerate(content.catalogue.readiness.spec.stages):
        rows.append(
            (
                "readiness",
                stage.id,
                content.catalogue.readiness.spec.label,
                stage.title,
                9000 + o_pos,
            )
        )
    out.executemany("INSERT INTO options VALUES (?, ?, ?, ?, ?)", rows)


def build_protected(source: Path, dest: Path, content: Content, rules: Rules) -> Path:
    """A database of protected figures only: no row-level table ever goes in it."""
    with tempfile.TemporaryDirectory(prefix="mpsp-snapshot-") as tmp:
        full = snapshot(source, Path(tmp) / "full.db")
        figures, later = _figures(full, content, rules, protected=True)
    if dest.exists():
        dest.unlink()
    out = sqlite3.connect(dest)
    try:
        _add_figures(out, figures)
        _add_later(out, later)
        _add_labels(out, content)
        out.commit()
    finally:
        out.close()
    return dest


def build_copy(source: Path, dest: Path, content: Content, rules: Rules | None = None) -> Path:
    """Copy the database without pseudonyms, adding labels, views and the protected figures."""
    snapshot(source, dest)
    figures, later = _figures(dest, content, rules or Rules(), protected=False)
    out = sqlite3.connect(dest)
    out.execute("PRAGMA journal_mode=DELETE")
    for table in PRIVATE_TABLES:
        out.execute(f"DROP TABLE IF EXISTS {table}")
    flow = content.flow
    _add_labels(out, content)
    _add_figures(out, figures)
    _add_later(out, later)
    out.execute("CREATE TABLE steps (step TEXT PRIMARY KEY, label TEXT, position INTEGER)")
    steps = [(q.id, q.label, i) for i, q in enumerate(flow.questions)]
    steps += [
        (SUMMARY, "Summary", len(steps)),
        (DONE, content.report.labels.finished, len(steps) + 1),
    ]
    out.executemany("INSERT INTO steps VALUES (?, ?, ?)", steps)
    out.execute("CREATE TABLE signposts (id TEXT PRIMARY KEY, kind TEXT, title TEXT)")
    out.executemany(
        "INSERT INTO signposts VALUES (?, ?, ?)",
        [(s.id, s.kind, s.title) for s in content.catalogue.signposts.values()],
    )

    singles = [q for q in flow.questions if q.kind in ("single", "scale")]
    pivots = ",\n  ".join(
        f"(SELECT o.option_label FROM answers a JOIN options o ON o.question = a.question "
        f"AND o.option = a.option WHERE a.response_id = r.id AND a.question = '{q.id}') "
        f"AS {q.id}"
        for q in singles
    )
    out.executescript(f"""
CREATE VIEW response_profile AS
SELECT r.id, r.code, substr(r.completed, 1, 10) AS completed_on,
  substr(r.completed, 1, 7) AS month,
  (SELECT option_label FROM options WHERE question = 'readiness' AND option = r.readiness)
    AS readiness,
  {pivots},
  r.content_version
FROM responses r;

CREATE VIEW answers_labelled AS
SELECT r.code, substr(r.completed, 1, 10) AS completed_on, o.question_label AS question,
  o.option_label AS answer, a.value, a.question AS question_id, a.option AS option_code
FROM answers a JOIN responses r ON r.id = a.response_id
LEFT JOIN options o ON o.question = a.question AND o.option = a.option;

CREATE VIEW recommendations_shown AS
SELECT r.code, rec.position, s.title AS signpost, s.kind, rec.section, rec.reasons
FROM recommendations rec JOIN responses r ON r.id = rec.response_id
LEFT JOIN signposts s ON s.id = rec.signpost;
""")
    out.commit()
    out.execute("VACUUM")
    out.close()
    return dest


# The splits in the order the report has them.
_SPLIT_ORDER = (
    "CASE {column} "
    + " ".join(f"WHEN '{split}' THEN {n}" for n, split in enumerate(SPLITS))
    + " END"
)
# Figures that are counts of people (not the row of people asked), largest first, hidden last.
_BY_COUNT = "CASE WHEN typeof(count) = 'integer' THEN count END DESC NULLS LAST, row_position"


def _sector_choices(sectors: list[str], name: str) -> str:
    """Links that run the sector query for each sector: Datasette offers only a text box."""
    links = ", ".join(
        f'<a href="/{DATABASE}/{name}?{urlencode({"sector": sector})}">{escape(sector)}</a>'
        for sector in sectors
    )
    return f"<p>Choose a sector: {links}.</p>"


def _aggregate_queries(content: Content, note: str) -> dict[str, dict[str, Any]]:
    """Canned queries over the protected figures: the same numbers the report prints."""
    sectors = [word for q, _o, word in content.option_labels() if q.id == "service"]
    # With no sector typed yet, the first one's figures: a page of answers, not an empty table.
    default = sectors[0].replace("'", "''")
    return {
        "support_in_a_sector": {
            "title": "Which support is most needed in a sector?",
            "description_html": f"<p>People asking for each kind of support, in one sector "
            f"({escape(sectors[0])} until you choose or type another).</p>"
            + _sector_choices(sectors, "support_in_a_sector")
            + f"<p>{escape(note)}</p>",
            # The SQL is a click away ("show"); the figures come first.
            "hide_sql": True,
            "sql": f"""SELECT column_label AS sector, row_label AS support, count AS people, percent
FROM figures
WHERE split = 'sector' AND table_id = 'support' AND people_asked = 0
  AND lower(column_label) IN (
    lower(coalesce(nullif(trim(:sector), ''), '{default}')),
    (SELECT lower(option_label) FROM options
     WHERE question = 'service' AND option = lower(trim(:sector))))
ORDER BY {_BY_COUNT}""",
            "params": ["sector"],
        },
        "support_by_sector": {
            "title": "Support wanted, by sector",
            "description": "People asking for each kind of support, split by sector. " + note,
            "sql": f"""SELECT column_label AS sector, row_label AS support, count AS people, percent
FROM figures
WHERE split = 'sector' AND table_id = 'support' AND people_asked = 0
ORDER BY column_position, {_BY_COUNT}""",
        },
        "where_people_stop": {
            "title": "Where do people drop out?",
            "description": "Conversations reaching each step and going no further. " + note,
            "sql": """SELECT reached.row_label AS step, reached.count AS reached,
  stopped.count AS stopped_here, stopped.percent AS percent_stopped
FROM figures reached
LEFT JOIN figures stopped ON stopped.split = reached.split
  AND stopped.table_id = reached.table_id AND stopped.row_position = reached.row_position
  AND stopped.column_position = 1
WHERE reached.split = 'none' AND reached.table_id = 'funnel'
  AND reached.column_position = 0 AND reached.people_asked = 0
ORDER BY reached.row_position""",
        },
        "handovers": {
            "title": "How many asked the team to contact them?",
            "description": "People who asked the team to contact them (issue 8's handover), "
            "out of everyone who finished a check: overall, then split by sector, size, "
            "region and readiness stage. The bot keeps only that a request was sent, never "
            "who sent it. " + note,
            "sql": f"""SELECT asked.split AS split_by, asked.column_label AS who,
  asked.count AS asked, asked.percent, finished.count AS finished
FROM figures asked
LEFT JOIN figures finished ON finished.split = asked.split
  AND finished.table_id = asked.table_id AND finished.column_position = asked.column_position
  AND finished.people_asked = 1
WHERE asked.table_id = 'handover' AND asked.people_asked = 0
ORDER BY {_SPLIT_ORDER.format(column="asked.split")}, asked.column_position""",
        },
        "barriers": {
            "title": "Barriers people cite",
            "description": "People citing each barrier to partnering. " + note,
            "sql": f"""SELECT row_label AS barrier, count AS people, percent
FROM figures
WHERE split = 'none' AND table_id = 'barriers' AND people_asked = 0
ORDER BY {_BY_COUNT}""",
        },
    }


def _row_queries() -> dict[str, dict[str, Any]]:
    """Canned queries about one response: the confidential view only."""
    return {
        "look_up_a_code": {
            "title": "What did a reference code say?",
            "description": "Every answer given under one reference code (MPSP-XXXX-XXXX).",
            "sql": """SELECT question, answer, value FROM answers_labelled
WHERE code = upper(trim(:code)) ORDER BY rowid""",
            "params": ["code"],
        },
        "advice_for_a_code": {
            "title": "What advice did a reference code get?",
            "description": "The signposts shown for one reference code, and why.",
            "sql": """SELECT position, signpost, section, reasons FROM recommendations_shown
WHERE code = upper(trim(:code)) ORDER BY position""",
            "params": ["code"],
        },
    }


def _home(intro: str, queries: dict[str, dict[str, Any]]) -> str:
    """The home page's text: what this is, and a link to each canned query.

    The view's notice is not repeated here: the banner above every page already says it.
    """
    links = "".join(
        f'<li><a href="/{DATABASE}/{name}">{escape(query["title"])}</a></li>'
        for name, query in queries.items()
    )
    return f"<p>{inline.html(intro)}</p><ul>{links}</ul>"


def _reminders_table(protected: bool) -> dict[str, Any]:
    rule = " Counts under the disclosure threshold are hidden, others rounded." if protected else ""
    return {
        "title": "Reminders and follow-ups (counts only)",
        "description_html": inline.html(
            "Telegram only: the one reminder for a check left part-way, and the "
            "follow-up checks people asked for on their results. `waiting`: due to be sent "
            "later; `sent`: delivered so far. Nothing about who they are for." + rule
        ),
    }


_FIGURES_TABLE = {
    "title": "Report figures (protected)",
    "description_html": inline.html(
        "Every figure of `python -m bot report`, for everyone (split = none) and "
        "split by sector, size, region and readiness stage, protected as the report prints "
        "them. people_asked = 1 marks the row of people asked (or totals)."
    ),
    "facets": ["split", "table_title"],
    "sort": "table_position",
}


def metadata(
    content: Content, rules: Rules, protected: bool = False, synthetic: bool = False
) -> dict[str, Any]:
    """Titles, descriptions, column notes, facets and canned queries for Datasette.

    ``synthetic``: the database was made by demo-data; the title and home page say so.
    """
    meta = _metadata(content, rules, protected)
    if synthetic:
        # The red banner above every page says the rest (write_templates).
        meta["title"] = f"{content.report.labels.synthetic.upper()}: {meta['title']}"
    return meta


def _metadata(content: Content, rules: Rules, protected: bool) -> dict[str, Any]:
    note = content.report.disclosure.format(
        min_count=rules.min_count,
        round_to=rules.round_to,
        min_denominator=rules.min_denominator,
        suppressed=content.report.labels.suppressed,
    )
    queries = _aggregate_queries(content, note)
    if protected:
        return {
            "title": content.report.title,
            "description_html": _home(note, queries),
            "databases": {
                DATABASE: {
                    "title": "Protected figures",
                    "allow_sql": False,
                    "queries": queries,
                    "tables": {
                        "figures": _FIGURES_TABLE,
                        "reminders": _reminders_table(protected=True),
                        "options": {"description": "Labels for every question and option."},
                    },
                }
            },
        }
    queries |= _row_queries()
    intro = (
        "Counts in tables and facets here are exact, for the "
        "team's own review; for figures to share, use `python -m bot report`, "
        "`python -m bot review --protected` or the canned queries below, which apply the "
        "10/5 rule."
    )
    return {
        "title": content.report.title,
        "description_html": _home(intro, queries),
        "databases": {
            DATABASE: {
                "title": "Triage log (no pseudonyms)",
                "queries": queries,
                "tables": {
                    "figures": _FIGURES_TABLE,
                    "reminders": _reminders_table(protected=False),
                    "response_profile": {
                        "title": "Responses, one row each",
                        "description": "Each finished triage with its single-choice answers "
                        "in words. Multi-select answers are in answers_labelled.",
                        "facets": [
                            "readiness",
                            "service",
                            "region",
                            "org_type",
                            "live_bid",
                            "appetite",
                        ],
                        "sort_desc": "id",
                        "columns": {
                            "code": "The reference code the person was given; they may quote it.",
                            "month": "Month finished (UTC).",
                            "readiness": "Readiness stage from content/readiness.yaml.",
                            "content_version": "Fingerprint of the content they saw.",
                        },
                    },
                    "answers_labelled": {
                        "title": "Every answer, in words",
                        "description": "One row per option chosen (several for "
                        "multi-select questions).",
                        "facets": ["question", "answer"],
                    },
                    "recommendations_shown": {
                        "title": "Advice shown",
                        "description": "The signposts each response was shown, in order, "
                        "with the reasons given.",
                        "facets": ["signpost", "section"],
                    },
                    "responses": {
                        "description": "Finished triages (codes, times, content version).",
                        "columns": {
                            "run": "Random id of the conversation, linking to "
                            "progress; not linked to any person.",
                            "handover": "When they asked the team to contact them (UTC); "
                            "empty if they did not. Never who they are.",
                            "followup_link": "A random id, set when this check's person asked "
                            "for a follow-up check; the follow-up's response has it as "
                            "follows_link. Links two checks, never a person.",
                            "follows_link": "For a follow-up check: the followup_link of the "
                            "check it follows.",
                        },
                    },
                    "answers": {"description": "One row per option chosen, as codes."},
                    "response_text": {
                        "description": "Free text, with contact details removed; deleted "
                        "after the retention period."
                    },
                    "recommendations": {"description": "Signposts shown, as ids."},
                    "progress": {
                        "description": "Steps each conversation reached (for "
                        "drop-off). Runs are random ids."
                    },
                    "options": {"description": "Labels for every question and option code."},
                    "steps": {"description": "The steps of the conversation, in order."},
                    "signposts": {"description": "The signposting catalogue's titles."},
                },
            }
        },
    }


def write_metadata(
    path: Path, content: Content, rules: Rules, protected: bool = False, synthetic: bool = False
) -> Path:
    """Write Datasette's metadata file."""
    meta = metadata(content, rules, protected, synthetic)
    path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return path


def write_templates(
    folder: Path, content: Content, protected: bool = False, synthetic: bool = False
) -> Path:
    """Datasette templates that put the view's notice at the top of every page.

    From a database made by demo-data, a red "synthetic demo data" banner comes first.
    """
    notice = content.report.protected if protected else content.report.confidential
    kind = "protected" if protected else "confidential"
    colours = "#e7f0f7;border-color:#2f6f9f" if protected else "#fff8e8;border-color:#8a5a00"
    folder.mkdir(parents=True, exist_ok=True)
    banner = ""
    if synthetic:
        banner = (
            '<p class="mpsp-notice mpsp-synthetic" role="alert" style="margin:0 0 1em;'
            'padding:.6em 1em;background:#b00020;color:#fff;font-weight:700">'
            f"{{% raw %}}{inline.html(content.report.synthetic)}{{% endraw %}}</p>"
        )
    # The notice is escaped for HTML and kept out of Jinja's reach with {% raw %}.
    (folder / "base.html").write_text(
        '{% extends "default:base.html" %}\n'
        "{% block messages %}"
        f"{banner}"
        f'<p class="mpsp-notice mpsp-{kind}" style="margin:0 0 1em;padding:.6em 1em;'
        f'border-left:4px solid;background:{colours};font-weight:600">'
        f"{{% raw %}}{inline.html(notice)}{{% endraw %}}</p>"
        "{{ super() }}{% endblock %}\n",
        encoding="utf-8",
    )
    # A canned query's browser tab shows its title, not its SQL.
    (folder / "query.html").write_text(
        '{% extends "default:query.html" %}\n'
        "{% block title %}{% if canned_query and metadata.title %}{{ metadata.title }}"
        "{% else %}{{ super() }}{% endif %}{% endblock %}\n",
        encoding="utf-8",
    )
    return folder


def datasette_command(
    database: Path, meta: Path, templates: Path, options: ReviewOptions, python: str
) -> list[str]:
    """The command serving a view with Datasette; read-only, no downloads, no access log."""
    settings: dict[str, Any] = {
        "suggest_facets": False,
        "allow_download": False,
        "default_page_size": 50,
    }
    if options.protected:
        settings["default_allow_sql"] = False
    return [
        python,
        "-m",
        "bot.team.review_serve",
        str(database),
        "--host",
        options.host,
        "--port",
        str(options.port),
        "--metadata",
        str(meta),
        "--template-dir",
        str(templates),
        "--settings",
        json.dumps(settings),
    ]
