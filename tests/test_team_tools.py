"""The programme team's tools: demo data, report, lookup, export, review and /stats."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import app
from bot.cli.team import EXPORT_FIELDS
from bot.conversation.content import load_content
from bot.settings import Settings
from bot.store import Store
from bot.team.demo import generate
from bot.team.review import PRIVATE_TABLES, build_copy, metadata

from .conftest import ROOT
from .fake_telegram import FakeTelegram, Person
from .telegram_harness import RunningBot

runner = CliRunner()
CONTENT = load_content(ROOT)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = runner.invoke(
        app,
        ["demo-data", "--n", "600", "--db", str(path)],
        env={"TRIAGE_CONTENT_DIR": str(ROOT)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return path


def invoke(*args: str) -> object:
    return runner.invoke(
        app, list(args), env={"TRIAGE_CONTENT_DIR": str(ROOT)}, catch_exceptions=False
    )


# ---- demo data ------------------------------------------------------------------------------


def test_demo_data_follows_the_survey_and_refuses_real_databases(demo_db: Path) -> None:
    store = Store(demo_db)
    try:
        total = store.db["responses"].count
        psm = store.conn.execute(
            "SELECT count(*) FROM answers WHERE question = 'org_type' AND option = 'psm'"
        ).fetchone()[0]
        partnered = store.conn.execute(
            "SELECT count(DISTINCT response_id) FROM answers WHERE question = 'experience' "
            "AND option != 'none'"
        ).fetchone()[0]
        legal = store.conn.execute(
            "SELECT count(*) FROM answers WHERE question = 'barriers' "
            "AND option = 'legal_complexity'"
        ).fetchone()[0]
        needs = store.conn.execute(
            "SELECT count(*) * 1.0 / count(DISTINCT response_id) FROM answers "
            "WHERE question = 'support' AND option != 'nothing'"
        ).fetchone()[0]
        top_needs = [
            r[0]
            for r in store.conn.execute(
                "SELECT option FROM answers WHERE question = 'support' GROUP BY option "
                "ORDER BY count(*) DESC LIMIT 2"
            )
        ]
        owners = store.db["response_owners"].count
        started = store.conn.execute("SELECT count(DISTINCT run) FROM progress").fetchone()[0]
    finally:
        store.close()
    assert total == 600
    assert 0.55 < partnered / psm < 0.72  # 34 of 54 = 63%
    assert 0.5 < legal / psm < 0.68  # 59%
    assert 2.5 < needs < 3.6  # about three each
    assert set(top_needs) == {"commercial", "legal"}
    assert owners == 0 and started > total
    again = invoke("demo-data", "--n", "5", "--db", str(demo_db))
    assert again.exit_code == 2 and "already holds 600 synthetic responses" in again.output
    # It suggests a file that is free, not the one it just refused.
    suggested = re.search(r"try --db (\S+)", again.output).group(1)
    assert suggested == str(demo_db.with_name("demo-2.db")) and not Path(suggested).exists()
    demo_db.with_name("demo-2.db").touch()
    third = invoke("demo-data", "--n", "5", "--db", str(demo_db))
    assert f"try --db {demo_db.with_name('demo-3.db')}" in third.output
    demo_db.with_name("demo-2.db").unlink()


# ---- report ---------------------------------------------------------------------------------


def test_report_answers_which_support_is_most_needed_in_health(
    demo_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.csv"
    result = invoke(
        "report", "--db", str(demo_db), "--by", "sector", "--format", "csv", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    health = [
        r
        for r in rows
        if r["table"] == "support"
        and r["column"] == "Health"
        and r["count"] not in ("[c]",)
        and r["row"] != "People asked"
    ]
    best = max(health, key=lambda r: int(r["count"]))
    assert best["row"] in ("Commercial advice", "Legal advice")
    assert {r["table"] for r in rows} >= {
        "support",
        "barriers",
        "biggest_barrier",
        "experience",
        "appetite",
        "motivations",
        "live_bid",
        "staff",
        "region",
        "readiness",
    }
    assert "service" not in {r["table"] for r in rows}  # the breakdown itself is the columns


def test_report_shows_where_people_drop_out(demo_db: Path) -> None:
    result = invoke("report", "--db", str(demo_db), "--format", "csv")
    rows = [r for r in csv.DictReader(io.StringIO(result.stdout)) if r["table"] == "funnel"]
    stopped = {r["row"]: r for r in rows if r["column"] == "Stopped here"}
    assert "Organisation" in stopped and "Barriers" in stopped
    assert stopped["Organisation"]["count"] == "[c]" or int(stopped["Organisation"]["count"])
    # Nobody who finished stopped before the end: zero by definition, shown as 0, not hidden.
    assert stopped["Finished checks"]["count"] == "0"


def test_where_people_stop_shows_a_zero_by_definition_as_0_and_says_why(demo_db: Path) -> None:
    text = _report_in_terminal(demo_db, columns=100)
    funnel = text[text.index("Where people stop") :]
    finished = next(line for line in funnel.splitlines() if line.startswith("Finished checks"))
    assert finished.split()[-1] == "0", finished
    flat = " ".join(text.split())
    assert "A zero is hidden too, unless it is zero by definition" in flat
    assert "which is shown as 0." in flat


def test_html_report_is_one_self_contained_file(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = invoke(
        "report",
        "--db",
        str(demo_db),
        "--format",
        "html",
        "--out",
        str(out),
        "--since",
        "2020-01-01",
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert html.count("<svg") >= 15 and "Where people stop" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from outside
    assert "<script" not in html
    assert "counts under 10 are hidden" in html
    assert "conversations started" in html
    # The headline figures follow the period too: nothing started in 2099.
    later = tmp_path / "later.html"
    invoke(
        "report",
        "--db",
        str(demo_db),
        "--format",
        "html",
        "--out",
        str(later),
        "--since",
        "2099-01-01",
    )
    assert "conversations started" not in later.read_text(encoding="utf-8")


def test_report_table_and_errors(demo_db: Path, tmp_path: Path) -> None:
    table = invoke("report", "--db", str(demo_db), "--until", "2030-01-01")
    assert table.exit_code == 0 and "Support wanted" in table.output
    saved = tmp_path / "report.txt"
    assert invoke("report", "--db", str(demo_db), "--out", str(saved)).exit_code == 0
    text = saved.read_text(encoding="utf-8")
    assert "Where people stop" in text and "<html" not in text
    assert invoke("report", "--db", str(demo_db), "--since", "yesterday").exit_code == 2
    assert invoke("report", "--db", str(demo_db), "--format", "html").exit_code == 2
    missing = invoke("report", "--db", str(tmp_path / "nope.db"))
    assert missing.exit_code == 2 and "no database" in missing.output
    # Two splits at once are refused, not silently reduced to the last one.
    both = invoke("report", "--db", str(demo_db), "--by", "sector", "--by", "size")
    assert both.exit_code == 2
    assert "one dimension at a time, not sector and size" in both.output
    assert "Support wanted" not in both.output
    same = invoke("report", "--db", str(demo_db), "--by", "size", "--by", "size", "--format", "csv")
    assert same.exit_code == 0


# ---- lookup and export ----------------------------------------------------------------------


def _a_code(db: Path) -> str:
    conn = sqlite3.connect(db)
    code = conn.execute("SELECT code FROM responses ORDER BY id LIMIT 1").fetchone()[0]
    conn.close()
    return code


def test_lookup_shows_one_response_in_full(demo_db: Path) -> None:
    code = _a_code(demo_db)
    result = invoke("lookup", code.lower().replace("-", " "), "--db", str(demo_db), "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["code"] == code
    assert found["answers"][0]["question"] == "Organisation"
    assert found["recommendations"] and all("title" in r for r in found["recommendations"])
    assert found["content_version"] == CONTENT.digest
    pretty = invoke("lookup", code, "--db", str(demo_db))
    assert "Advice shown" in pretty.output and "Answers" in pretty.output
    # The time as people read it ("5 Dec 2026 01:16 UTC"), not ISO with "+00:00 UTC".
    finished = dt.datetime.fromisoformat(found["completed"])
    when = f"finished {finished.day} {finished:%b %Y %H:%M} UTC"
    assert when in pretty.output and "+00:00" not in pretty.output
    unknown = invoke("lookup", "MPSP-2222-2222", "--db", str(demo_db))
    assert unknown.exit_code == 1 and "no response has the code" in unknown.output
    assert invoke("lookup", "hello", "--db", str(demo_db)).exit_code == 2


def test_banners_show_commands_as_code_never_as_backticks(demo_db: Path, tmp_path: Path) -> None:
    banner = "SYNTHETIC DEMO DATA: made up by"
    table = _report_in_terminal(demo_db, columns=200)
    assert f"{banner} python -m bot demo-data to try" in table and "`" not in table
    code = _a_code(demo_db)
    exported = tmp_path / "rows.json"
    for args in (
        ("lookup", code),
        ("lookup", code, "--json"),
        ("export", "--format", "json", "--out", str(exported)),
        ("report", "--format", "csv", "--out", str(tmp_path / "report.csv")),
    ):
        result = invoke(*args, "--db", str(demo_db))
        assert result.exit_code == 0, result.output
        assert banner in " ".join(result.output.split()) and "`" not in result.output, args
    assert "`" not in json.loads(exported.read_text(encoding="utf-8"))["notice"]
    page = tmp_path / "report.html"
    assert invoke("report", "--db", str(demo_db), "--format", "html", "--out", str(page))
    html = page.read_text(encoding="utf-8")
    assert html.count("<code>python -m bot demo-data</code>") == 2 and "`" not in html
    assert ">None<" not in html  # the funnel's zero by definition: an empty bar, "0%"


def test_export_is_pseudonymous_and_marked_confidential(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.csv"
    assert invoke("export", "--db", str(demo_db), "--out", str(out)).exit_code == 0
    text = out.read_text(encoding="utf-8")
    # The header comes first, so any CSV reader takes the file as it is. (A demo database:
    # every row starts by saying so.)
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == ["dataset", *EXPORT_FIELDS]
    rows = list(reader)
    assert rows[0]["question"] == "org_type" and rows[0]["response"].isdigit()
    conn = sqlite3.connect(demo_db)
    assert len(rows) == conn.execute("SELECT count(*) FROM answers").fetchone()[0]
    codes = {r[0] for r in conn.execute("SELECT code FROM responses")}
    conn.close()
    assert "code" not in rows[0] and "subject" not in rows[0]
    assert not any(code in text for code in codes)
    data = json.loads(invoke("export", "--db", str(demo_db), "--format", "json").stdout)
    assert data["notice"].startswith("SYNTHETIC DEMO DATA") and "CONFIDENTIAL" in data["notice"]
    # Rows per response under a code, among few organisations: personal data, not anonymous.
    assert "pseudonymous answers" in data["notice"] and "personal data" in data["notice"]
    assert len(data["rows"]) == len(rows)
    # Printed rather than saved: the CSV alone on stdout, the notice on the screen (stderr).
    printed = invoke("export", "--db", str(demo_db))
    assert printed.stdout.startswith("dataset,response,finished_on,")
    assert "CONFIDENTIAL" in printed.stderr and "CONFIDENTIAL" not in printed.stdout


# ---- review (Datasette) -----------------------------------------------------------------------


def test_review_copy_holds_no_pseudonym_and_canned_queries_apply_the_rule(
    demo_db: Path, tmp_path: Path
) -> None:
    # Put a pseudonym in the source, as a live bot would have.
    source = tmp_path / "live.db"
    shutil.copy(demo_db, source)
    conn = sqlite3.connect(source)
    live, owner = "f1" * 32, "e2" * 32
    conn.execute(
        "INSERT INTO conversations (subject, state, answers, step, run, started, "
        "updated) VALUES (?, 'role', '{}', 2, 'r', 'x', 'x')",
        (live,),
    )
    conn.execute("INSERT INTO response_owners VALUES (1, ?, 'x')", (owner,))
    conn.commit()
    conn.close()
    copy = build_copy(source, tmp_path / "review.db", CONTENT)
    review = sqlite3.connect(copy)
    tables = {r[0] for r in review.execute("SELECT name FROM sqlite_master")}
    assert not tables & set(PRIVATE_TABLES)
    for (name,) in review.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"):
        columns = {r[1] for r in review.execute(f"PRAGMA table_info('{name}')")}
        assert "subject" not in columns, name
    blob = copy.read_bytes()
    assert live.encode() not in blob and owner.encode() not in blob
    meta = metadata(CONTENT, Settings().rules)
    queries = meta["databases"]["review"]["queries"]
    params = {"sector": "health", "code": _a_code(demo_db)}
    for name, query in queries.items():
        cursor = review.execute(query["sql"], {p: params[p] for p in query.get("params", [])})
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        assert rows, name
        for column in ("people", "reached", "stopped_here"):
            if column in columns:
                for row in rows:
                    count = row[columns.index(column)]
                    if row[0] == "Finished checks" and column == "stopped_here":
                        assert count == 0  # zero by definition
                        continue
                    assert count == "[c]" or (count >= 10 and count % 5 == 0), (name, row)
    in_health = queries["support_in_a_sector"]["sql"]
    best = review.execute(in_health, {"sector": "health"}).fetchall()
    assert best[0][:2] in (("Health", "Commercial advice"), ("Health", "Legal advice"))
    # Nothing typed yet: the first sector's figures, not an empty table.
    assert review.execute(in_health, {"sector": ""}).fetchall() == best
    # The sector as people see it, in any case, gives the same rows as its code.
    for typed in ("Health", " HEALTH ", "health"):
        assert review.execute(in_health, {"sector": typed}).fetchall() == best
    assert review.execute(in_health, {"sector": "Social care"}).fetchall()
    assert review.execute(in_health, {"sector": "Plumbing"}).fetchall() == []
    review.close()


def test_protected_view_holds_only_the_reports_protected_figures(
    demo_db: Path, tmp_path: Path
) -> None:
    from bot.team.review import build_protected

    rules = Settings().rules
    db = build_protected(demo_db, tmp_path / "protected.db", CONTENT, rules)
    conn = sqlite3.connect(db)
    names = {
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    }
    # No row-level table, not even hidden; reminders and follow-ups as counts (issue 9).
    assert names == {"figures", "options", "reminders"}
    later = {m: (w, s) for m, w, s in conn.execute("SELECT message, waiting, sent FROM reminders")}
    assert set(later) == {"Reminders", "Follow-up checks"}
    for count in [c for pair in later.values() for c in pair]:
        assert count == "[c]" or (count >= 10 and count % 5 == 0)
    assert later["Follow-up checks"][1] != "[c]"  # the demo sent some
    blob = db.read_bytes()
    assert _a_code(demo_db).encode() not in blob
    for table_id, row, column, count in conn.execute(
        "SELECT table_id, row_label, column_label, count FROM figures"
    ):
        if (table_id, row, column) == ("funnel", "Finished checks", "Stopped here"):
            assert count == 0  # zero by definition: nobody who finished stopped
            continue
        assert count == "[c]" or (count >= 10 and count % 5 == 0)
    # The very figures `report` prints, for everyone and for each split.
    for split in ("none", "sector", "region"):
        args = ["report", "--db", str(demo_db), "--format", "csv"]
        printed = invoke(*args, *([] if split == "none" else ["--by", split])).stdout
        expected = [
            (r["table"], r["row"], r["column"], r["count"], r["percent"])
            for r in csv.DictReader(io.StringIO(printed))
        ]
        stored = [
            (t, row, col, str(n), "" if pc is None else str(pc))
            for t, row, col, n, pc in conn.execute(
                "SELECT table_id, row_label, column_label, count, percent FROM figures "
                "WHERE split = ? ORDER BY rowid",
                (split,),
            )
        ]
        assert stored == expected, split
    meta = metadata(CONTENT, rules, protected=True)
    database = meta["databases"]["review"]
    assert database["allow_sql"] is False
    assert set(database["queries"]) == {
        "support_in_a_sector",
        "support_by_sector",
        "where_people_stop",
        "handovers",
        "barriers",
    }
    # The handover figure, protected, for everyone and for each split; never who asked.
    splits = {s for (s,) in conn.execute("SELECT split FROM figures WHERE table_id = 'handover'")}
    assert splits == {"none", "sector", "size", "region", "readiness"}
    split_by, who, asked, _percent, finished = conn.execute(
        database["queries"]["handovers"]["sql"]
    ).fetchone()
    assert (split_by, who) == ("none", "All")
    assert asked == "[c]" or (asked >= 10 and asked % 5 == 0 and finished >= asked)
    for query in database["queries"].values():
        params = {p: "Health" for p in query.get("params", [])}
        assert conn.execute(query["sql"], params).fetchall()
    conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browse(url: str, profile: Path, screenshot: Path | None = None) -> str:
    browser = _chromium()
    assert browser is not None
    args = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
    ]
    if screenshot is not None:
        subprocess.run(
            [*args, f"--screenshot={screenshot}", url], capture_output=True, timeout=90, check=False
        )
    result = subprocess.run(
        [*args, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=False
    )
    return result.stdout


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (CI installs it)")
def test_review_in_a_real_browser(demo_db: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "TRIAGE_CONTENT_DIR": str(ROOT), "TRIAGE_DB": str(demo_db)}
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "review", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base, timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        else:
            raise AssertionError("review server did not start")
        shot = Path(os.environ.get("REVIEW_SCREENSHOT", tmp_path / "review.png"))
        # The home page itself leads to the canned queries.
        front = _browse(f"{base}/", tmp_path / "p0", screenshot=shot)
        assert 'href="/review/support_in_a_sector"' in front
        assert "Which support is most needed in a sector?" in front
        home = _browse(f"{base}/review", tmp_path / "p1")
        assert "Triage log (no pseudonyms)" in home
        assert "Where do people drop out?" in home
        assert "conversations" not in re.findall(r'href="/review/([a-z_]+)"', home)
        table = _browse(f"{base}/review/response_profile", tmp_path / "p2")
        assert "Responses, one row each" in table
        assert "MPSP-" in table and "readiness" in table
        code = _a_code(demo_db)
        answer = _browse(f"{base}/review/look_up_a_code?code={code}", tmp_path / "p3")
        assert "Organisation" in answer and "Service area" in answer
        health = _browse(f"{base}/review/support_in_a_sector?sector=Health", tmp_path / "p4")
        assert "Commercial advice" in health
        # Every page says it is confidential.
        for page in (front, home, table, answer, health):
            assert 'class="mpsp-notice mpsp-confidential"' in page
            assert "CONFIDENTIAL: pseudonymous answers" in page
        assert shot.exists() and shot.stat().st_size > 10_000
        # Read-only: writing through the web is refused.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/review?sql=delete+from+answers", timeout=10)
        assert refused.value.code == 400
        conn = sqlite3.connect(demo_db)
        assert conn.execute("SELECT count(*) FROM answers").fetchone()[0] > 0
        conn.close()
    finally:
        output = _stop(server)
    assert "Content from " in output


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _stop(server: subprocess.Popen) -> str:
    """Stop `review` as a service manager would (SIGTERM): Datasette must stop with it."""
    children = _children(server.pid)
    server.terminate()
    output, _ = server.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{child}").exists() for child in children):
        assert time.monotonic() < deadline, "Datasette outlived `review`"
        time.sleep(0.1)
    return output


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, ""
    except OSError:  # not listening yet
        return 0, ""


def test_review_protected_serves_only_protected_figures(demo_db: Path) -> None:
    port = _free_port()
    env = {**os.environ, "TRIAGE_CONTENT_DIR": str(ROOT), "TRIAGE_DB": str(demo_db)}
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "review", "--protected", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get(base)[0] != 200:
            assert time.monotonic() < deadline, "review server did not start"
            assert server.poll() is None, server.stdout.read()
            time.sleep(0.3)
        status, front = _get(f"{base}/")
        assert 'href="/review/support_in_a_sector"' in front
        assert "look_up_a_code" not in front
        pages = [front]
        for path in ("/review", "/review/figures", "/review/support_in_a_sector?sector=Health"):
            status, page = _get(base + path)
            assert status == 200, path
            pages.append(page)
        assert "Commercial advice" in pages[-1]
        for page in pages:
            assert 'class="mpsp-notice mpsp-protected"' in page
            assert "CONFIDENTIAL" not in page
        # No row-level table, no lookup by code, no free SQL.
        for path in ("/review/answers", "/review/responses", "/review/look_up_a_code"):
            assert _get(base + path)[0] == 404, path
        assert _get(f"{base}/review?sql=select+1")[0] == 403
        assert _get(f"{base}/review.db")[0] in (403, 404)
    finally:
        output = _stop(server)
    # Like the web page, no line names a visitor: no access log with address and port.
    assert "Uvicorn running on" in output
    assert '"GET ' not in output
    assert not re.search(r"\b\d{1,3}(\.\d{1,3}){3}:\d+ - ", output), output


def _review_pages(db: Path, folder: Path, protected: bool, *paths: str) -> dict[str, str]:
    """Pages of a review view of a demo database, from Datasette in this process."""
    from datasette.app import Datasette

    from bot.team.review import build_copy, build_protected, write_metadata, write_templates

    rules = Settings().rules
    build = build_protected if protected else build_copy
    copy = build(db, folder / "review.db", CONTENT, rules)
    meta = write_metadata(folder / "metadata.json", CONTENT, rules, protected, synthetic=True)
    templates = write_templates(folder / "templates", CONTENT, protected, synthetic=True)
    datasette = Datasette(
        immutables=[str(copy)],
        metadata=json.loads(meta.read_text(encoding="utf-8")),
        template_dir=str(templates),
    )

    async def fetch() -> dict[str, str]:
        return {path: (await datasette.client.get(path)).text for path in paths}

    return asyncio.run(fetch())


@pytest.mark.parametrize("protected", [False, True])
def test_review_says_each_notice_once_and_the_sector_query_opens_on_figures(
    demo_db: Path, tmp_path: Path, protected: bool
) -> None:
    query = "/review/support_in_a_sector"
    pages = _review_pages(demo_db, tmp_path, protected, "/", query, f"{query}?sector=Education")
    home = pages["/"]
    notice = CONTENT.report.protected if protected else CONTENT.report.confidential
    for words in (notice, CONTENT.report.synthetic):
        assert home.count(" ".join(words.split())[:30]) == 1, words
    # Commands in the banners and the introduction are code, never literal backticks.
    assert "<code>python -m bot demo-data</code>" in home and "`python" not in home
    # The sector query: figures for the first sector straight away, a link for each sector,
    # and its SQL one click away rather than first on the page.
    sector = pages[query]
    assert "<title>Which support is most needed in a sector?</title>" in sector
    assert "Commercial advice" in sector and '<td class="col-sector">Health</td>' in sector
    assert '<pre id="sql-query">' not in sector and "SELECT column_label" not in sector
    assert f'href="{query}?sector=Children+and+young+people"' in sector
    chosen = pages[f"{query}?sector=Education"]
    assert '<td class="col-sector">Education</td>' in chosen and 'col-sector">Health' not in chosen


def test_review_on_a_busy_port_says_so(demo_db: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke("review", "--db", str(demo_db), "--port", str(port))
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is in use" in result.output and "--port 0" in result.output


# ---- handovers (issue 8): counted, never who ---------------------------------------------------


def _with_handovers(db: Path, asked: int) -> None:
    """A log of 120 finished checks in which exactly ``asked`` asked the team to call."""
    store = Store(db)
    if not store.conn.execute("SELECT count(*) FROM responses").fetchone()[0]:
        generate(store, CONTENT, 120, seed=7, today=dt.date.today())
    now = dt.datetime.now(dt.UTC)
    with store.transaction():
        store.conn.execute("UPDATE responses SET handover = NULL")
        codes = [c for (c,) in store.conn.execute("SELECT code FROM responses ORDER BY id")]
        for code in codes[:asked]:
            store.record_handover(code, now)
    store.close()


def test_report_counts_handovers_in_every_format_under_the_10_5_rule(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    _with_handovers(db, 23)

    def handover_rows(*args: str) -> list[tuple[str, str, str, str]]:
        printed = invoke("report", "--db", str(db), "--format", "csv", *args).stdout
        return [
            (r["row"], r["column"], r["count"], r["percent"])
            for r in csv.DictReader(io.StringIO(printed))
            if r["table"] == "handover"
        ]

    # 23 of 120 is shown as 25, and 25 of 120 (rounded) as 21%.
    assert handover_rows() == [
        ("Asked the team to contact them", "All", "25", "21"),
        ("Finished checks", "All", "120", ""),
    ]
    table = " ".join(invoke("report", "--db", str(db)).stdout.split())
    assert "Handovers to the team" in table
    assert "Asked the team to contact them 25 (21%) Finished checks 120" in table
    out = tmp_path / "report.html"
    invoke("report", "--db", str(db), "--format", "html", "--out", str(out))
    html = out.read_text(encoding="utf-8")
    section = html[html.index('id="handover"') :]
    assert "Handovers to the team" in section and "25 (21%)" in section
    # Split by sector, no hidden figure can be worked out from the total.
    split = handover_rows("--by", "sector")
    asked = [count for row, _col, count, _pc in split if row.startswith("Asked")]
    assert "[c]" in asked and asked.count("[c]") != 1
    assert all(c == "[c]" or (int(c) >= 10 and int(c) % 5 == 0) for c in asked)
    # Fewer than 10: hidden, with no percentage.
    _with_handovers(db, 7)
    assert handover_rows()[0] == ("Asked the team to contact them", "All", "[c]", "")


# ---- /stats -------------------------------------------------------------------------------------

ADMIN = Person(user_id=777000111, first_name="Ada", username="ada_mpsp")
MEMBER = Person(user_id=777000222, first_name="Ben", username="ben_mutual")


async def test_stats_for_admins_only(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    _with_handovers(db, 23)
    telegram = FakeTelegram()
    bot = await RunningBot(telegram, db, CONTENT, admins=frozenset({ADMIN.user_id})).start()
    try:
        telegram.send_text(ADMIN, "/stats")
        telegram.send_text(MEMBER, "/stats")
        telegram.group_command(ADMIN, "/stats")
        await bot.settle()
    finally:
        await bot.close()
    stats = telegram.messages(ADMIN)[0].text
    assert stats.startswith("<b>Triage figures</b>")
    assert "Most wanted support" in stats and "counts under 10 are hidden" in stats
    finished = re.search(r"Finished checks: <b>([^<]+)</b>", stats).group(1)
    assert finished == "120"
    recent = re.search(r"\(([^ ]+) in the last 30 days\)", stats).group(1)
    assert recent == "[c]" or int(recent) % 5 == 0
    assert "Asked the team to contact them: 25\n" in stats  # 23, rounded as everywhere
    member = telegram.messages(MEMBER)[0].text
    assert member.startswith("<b>How this works</b>") and "Triage figures" not in member
    group = [p["text"] for m, p in telegram.calls if m == "sendMessage" and int(p["chat_id"]) < 0]
    assert group and "private chat" in group[0]


def test_stats_figures_come_from_the_command_lines_wiring(tmp_path: Path) -> None:
    """The service asks for the figures it is given (bot.cli passes the team's); without
    them /stats is not available and is answered as anyone else's /stats is, with help."""
    from bot.channels.service import Triage
    from bot.cli import make_triage
    from bot.conversation.engine import Engine, Stats

    db = tmp_path / "t.db"
    _with_handovers(db, 23)
    store = Store(db)
    try:
        wired = make_triage(Settings(db_path=db), CONTENT, store)
        stats = wired.handle("a" * 64, Stats()).replies[0].text
        bare = Triage(store, Engine(CONTENT)).handle("b" * 64, Stats()).replies[0].text
    finally:
        store.close()
    assert stats.startswith("<b>Triage figures</b>")
    assert "Asked the team to contact them: 25\n" in stats
    assert bare.startswith("<b>How this works</b>") and "Triage figures" not in bare


# ---- the report as a new user sees it ---------------------------------------------------------


def _report_in_terminal(db: Path, *args: str, columns: int = 80) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--db", str(db), *args],
        env={**os.environ, "TRIAGE_CONTENT_DIR": str(ROOT), "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_report_table_fits_80_columns_and_shows_hidden_figures(demo_db: Path) -> None:
    text = _report_in_terminal(demo_db, "--by", "sector")
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert "…" not in text  # nothing cut
    assert "[c]" in text
    flat = " ".join(text.split())
    assert "(shown as [c])" in flat
    assert "People could choose several options, so percentages add up to more than 100." in flat
    # Every sector's name is there whole, word for word, in the header of every table.
    for label in ("Health", "Social care", "Children and young people", "Education"):
        for word in label.split():
            assert re.search(rf"(^|\s){word}(\s|$)", text, re.M), word
    support = text[text.index("Support wanted") :]
    header = support[: support.index("─")]
    assert "Something" in header and "All" in header
    # Too many regions for 80 columns: the table comes in parts, each with its row labels.
    regions = _report_in_terminal(demo_db, "--by", "region")
    assert max(len(line.rstrip()) for line in regions.splitlines()) <= 80
    assert "Support wanted (continued)" in regions and "…" not in regions
    part = regions[regions.index("Support wanted (continued)") :]
    assert "Commercial advice" in part[: part.index("People asked")]


def test_a_split_leaves_out_what_nobody_in_it_is_asked(demo_db: Path, tmp_path: Path) -> None:
    from bot.team.analytics import Analysis

    analysis = Analysis(CONTENT, Settings().rules)
    assert analysis.split_plan("sector").left_out == []
    size = analysis.split_plan("size")
    assert set(size.left_out) == {
        "Organisation",
        "Spin-out stage",
        "Tools of interest",
        "Your interest",
    }
    assert "service" in size.questions and "readiness" in size.questions
    assert "Organisation" in analysis.split_plan("readiness").left_out
    out = tmp_path / "size.html"
    made = invoke(
        "report", "--format", "html", "--by", "size", "--db", str(demo_db), "--out", str(out)
    )
    assert made.exit_code == 0, made.output
    html = out.read_text(encoding="utf-8")
    sections = set(re.findall(r'<section id="([a-z_]+)"', html))
    assert not sections & {"org_type", "spinout_stage", "commissioner_interest", "vcse_interest"}
    assert {"role", "service", "support", "readiness"} <= sections
    assert "Only Public Service Mutuals are asked this" not in html
    assert "so the tables split by size count only Mutuals" in html
    assert "Not in this split, because nobody in it is asked them: Organisation" in html
    # No table is nothing but hidden figures.
    for body in re.findall(r"<tbody>(.*?)</tbody>", html, re.S):
        cells = re.findall(r'<td(?: class="[a-z ]+")?>([^<]*)</td>', body)
        assert any(c.strip() not in ("[c]", "") and c[0].isdigit() for c in cells)


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (CI installs it)")
def test_html_report_tables_fit_a_1280_pixel_page(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "region.html"
    result = invoke("report", "--db", str(demo_db), "--by", "region", "--format", "html")
    assert result.exit_code == 2  # html needs --out
    invoke("report", "--db", str(demo_db), "--by", "region", "--format", "html", "--out", str(out))
    # The report has no script of its own; add one that notes every table wider than its box.
    probe = """<script>addEventListener('load', () => {
      const wide = [...document.querySelectorAll('.scroll')]
        .filter(s => s.scrollWidth > s.clientWidth + 1).map(s => s.parentNode.id);
      const out = document.createElement('output');
      out.id = 'probe'; out.textContent = 'wide:' + wide.join(',') + ';';
      document.body.append(out);
    });</script>"""
    page = tmp_path / "probe.html"
    page.write_text(out.read_text(encoding="utf-8").replace("</body>", probe + "</body>"))
    dom = _browse(page.as_uri(), tmp_path / "p")
    found = re.search(r'<output id="probe">wide:([a-z_,]*);</output>', dom)
    assert found is not None, dom[-500:]
    assert found.group(1) == ""
