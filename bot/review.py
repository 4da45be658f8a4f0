"""``review``: Datasette over a read-only, pseudonym-free copy of the triage database.

The copy leaves out everything that could lead back to a person: unfinished conversations
(keyed by pseudonym), the links from responses to pseudonyms, and the Telegram transport's
inbox and outbox (update ids, pseudonyms, sealed reply addresses). It adds
readable labels, a one-row-per-response view and canned queries for the common questions;
aggregate canned queries apply the 10/5 rule in SQL.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from .content import Content
from .disclosure import Rules
from .flow import DONE, SUMMARY

PRIVATE_TABLES = (
    "conversations",
    "response_owners",
    "updates",
    # The Telegram transport's queues: pseudonyms and sealed reply addresses.
    "inbox",
    "outbox",
    "reshow",
    "transport_counters",
)


def build_copy(source: Path, dest: Path, content: Content) -> Path:
    """Copy the database without pseudonyms, adding labels and views for reviewing."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    if dest.exists():
        dest.unlink()
    out = sqlite3.connect(dest)
    try:
        src.backup(out)
    finally:
        src.close()
    out.execute("PRAGMA journal_mode=DELETE")
    for table in PRIVATE_TABLES:
        out.execute(f"DROP TABLE IF EXISTS {table}")
    flow = content.flow
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


def _protected(expr: str, rules: Rules) -> str:
    """SQL applying the 10/5 rule to a count expression."""
    step = rules.round_to
    return (
        f"CASE WHEN {expr} < {rules.min_count} THEN '[c]' "
        f"ELSE CAST(CAST(({expr} + {step / 2}) / {step} AS INTEGER) * {step} AS TEXT) END"
    )


def metadata(content: Content, rules: Rules) -> dict[str, Any]:
    """Titles, descriptions, column notes, facets and canned queries for Datasette."""
    n = _protected("n", rules)
    note = content.report.disclosure.format(
        min_count=rules.min_count,
        round_to=rules.round_to,
        min_denominator=rules.min_denominator,
        suppressed=content.report.labels.suppressed,
    )
    queries = {
        "support_in_a_sector": {
            "title": "Which support is most needed in a sector?",
            "description": "People asking for each kind of support, in one sector. " + note,
            "sql": f"""SELECT o.option_label AS support, {n} AS people
FROM (SELECT a.option, count(*) AS n FROM answers a
      JOIN answers s ON s.response_id = a.response_id AND s.question = 'service'
      WHERE a.question = 'support' AND s.option = :sector GROUP BY a.option) counts
JOIN options o ON o.question = 'support' AND o.option = counts.option
ORDER BY counts.n DESC""",
            "params": ["sector"],
        },
        "support_by_sector": {
            "title": "Support wanted, by sector",
            "description": "People asking for each kind of support, split by sector. " + note,
            "sql": f"""SELECT sec.option_label AS sector, sup.option_label AS support,
  {n} AS people
FROM (SELECT s.option AS sector, a.option AS support, count(*) AS n FROM answers a
      JOIN answers s ON s.response_id = a.response_id AND s.question = 'service'
      WHERE a.question = 'support' GROUP BY s.option, a.option) counts
JOIN options sec ON sec.question = 'service' AND sec.option = counts.sector
JOIN options sup ON sup.question = 'support' AND sup.option = counts.support
ORDER BY sec.position, counts.n DESC""",
        },
        "where_people_stop": {
            "title": "Where do people drop out?",
            "description": "Conversations reaching each step and going no further. " + note,
            "sql": f"""WITH furthest AS (
  SELECT p.run, max(st.position) AS position,
         max(CASE WHEN p.state = '{DONE}' THEN 1 ELSE 0 END) AS finished
  FROM progress p JOIN steps st ON st.step = p.state GROUP BY p.run),
reached AS (SELECT p.state, count(*) AS n FROM progress p GROUP BY p.state),
stopped AS (SELECT st.step, count(*) AS n FROM furthest f
            JOIN steps st ON st.position = f.position WHERE f.finished = 0 GROUP BY st.step)
SELECT st.label AS step, {_protected("reached.n", rules)} AS reached,
       {_protected("coalesce(stopped.n, 0)", rules)} AS stopped_here
FROM steps st JOIN reached ON reached.state = st.step
LEFT JOIN stopped ON stopped.step = st.step ORDER BY st.position""",
        },
        "barriers": {
            "title": "Barriers people cite",
            "description": "People citing each barrier to partnering. " + note,
            "sql": f"""SELECT o.option_label AS barrier, {n} AS people
FROM (SELECT option, count(*) AS n FROM answers WHERE question = 'barriers'
      GROUP BY option) counts
JOIN options o ON o.question = 'barriers' AND o.option = counts.option
ORDER BY counts.n DESC""",
        },
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
    return {
        "title": content.report.title,
        "description": content.report.confidential + " Counts in tables and facets here are "
        "exact, for the team's own review; for figures to share, use `python -m bot report` "
        "or the canned queries, which apply the 10/5 rule.",
        "databases": {
            "review": {
                "title": "Triage log (no pseudonyms)",
                "queries": queries,
                "tables": {
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


def write_metadata(path: Path, content: Content, rules: Rules) -> Path:
    """Write Datasette's metadata file."""
    path.write_text(json.dumps(metadata(content, rules), indent=2), encoding="utf-8")
    return path
