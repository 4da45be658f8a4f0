"""The programme team's commands: report, lookup, review, export, demo-data and backup.

They print with rich, which is an optional extra (``mpsp-triage[tools]``): it is imported
inside the commands, so this module loads (for --help) without it. ``backup`` needs none of it.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import importlib.util
import io
import ipaddress
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import click

from bot.cli.common import (
    PATH,
    EnumChoice,
    HelpArgument,
    Integer,
    command,
    content_or_exit,
    db_option,
    fail,
    needs_tools,
    open_store,
    progress_bar,
    rich_console,
    say,
    settings_from,
)
from bot.conversation.content import Content
from bot.disclosure import Rules
from bot.privacy import normalise_code
from bot.settings import Settings
from bot.store import Store, synthetic_file
from bot.team.inline import plain
from bot.team.review import ReviewOptions


class Format(StrEnum):
    """Report formats."""

    table = "table"
    csv = "csv"
    html = "html"


class ExportFormat(StrEnum):
    """Export formats."""

    csv = "csv"
    json = "json"


class By(StrEnum):
    """The one dimension a report may be split by."""

    sector = "sector"
    size = "size"
    region = "region"
    readiness = "readiness"


def _open(ctx: click.Context, db: Path | None) -> tuple[Settings, Content, Store]:
    """Settings, content and the store, refusing to create a database that is not there."""
    settings = settings_from(ctx, db)
    store = open_store(ctx, settings, existing=True)
    try:
        return settings, content_or_exit(settings), store
    except BaseException:
        store.close()
        raise


def _rules(
    settings: Settings, min_count: int | None, round_to: int | None, min_denominator: int | None
) -> Rules:
    base = settings.rules
    return Rules(
        min_count=min_count or base.min_count,
        round_to=round_to or base.round_to,
        min_denominator=min_denominator or base.min_denominator,
    )


def _date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{name} {value!r} is not a date; write YYYY-MM-DD") from None


@click.pass_context
@click.option(
    "--format",
    "fmt",
    type=EnumChoice(Format),
    default=Format.table,
    help="table (text), csv or html.",
)
@click.option(
    "--out",
    "out_file",
    type=PATH,
    help="Write to this file (required for html; otherwise printed).",
)
@click.option("--since", help="Only checks finished on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Only checks finished on or before this date (YYYY-MM-DD).")
@click.option(
    "--by",
    "split",
    type=EnumChoice(By),
    multiple=True,
    help="Split every table by one of: sector, size, region, readiness. Only one at a time: "
    "combined, they could identify an organisation.",
)
@db_option
@click.option(
    "--min-count", type=Integer(), help="Hide counts under this (default $TRIAGE_MIN_COUNT or 10)."
)
@click.option(
    "--round-to", type=Integer(), help="Round counts to this (default $TRIAGE_ROUND_TO or 5)."
)
@click.option(
    "--min-denominator",
    type=Integer(),
    help="Show percentages only over at least this many (default 10).",
)
def report(
    ctx: click.Context,
    fmt: Format,
    out_file: Path | None,
    since: str | None,
    until: str | None,
    split: tuple[By, ...],
    db: Path | None,
    min_count: int | None,
    round_to: int | None,
    min_denominator: int | None,
) -> None:
    """Demand, drop-off and needs from the triage log, safe to share.

    Finished checks over time, where people stop, and every question's answers: sectors,
    sizes, regions, readiness, barriers and the biggest barrier, support needs, experience,
    appetite, motivations and urgency, and how many asked the team to contact them. Every
    figure follows the ONS 10/5 rule: counts under 10 hidden, others rounded to 5,
    percentages only over 10 or more people, and no hidden figure recoverable from a total.
    """
    from rich.console import Console

    from bot.team.analytics import Analysis, Period, load_responses
    from bot.team.reporting import ReportMeta, html_report, print_tables, to_csv, write_text

    out = rich_console()

    if split and len(set(split)) > 1:
        raise fail(
            f"a report is split by one dimension at a time, not {' and '.join(split)}: "
            "combined, they could identify an organisation. Give --by once"
        )
    by = split[0] if split else None
    period = Period(_date(since, "--since"), _date(until, "--until"))
    if fmt == Format.html and out_file is None:
        raise fail("an HTML report needs --out FILE.html")
    settings, content, store = _open(ctx, db)
    rules = _rules(settings, min_count, round_to, min_denominator)
    try:
        analysis = Analysis(content, rules)
        responses = load_responses(store, period)
        tables = analysis.tables(store, responses, by.value if by else None, period)
        headline = analysis.headline(store, responses, dt.date.today(), period)
        notes = tuple(analysis.split_plan(by.value if by else None).notes)
        synthetic = store.synthetic
    finally:
        store.close()
    from bot.disclosure import protect_count

    meta = ReportMeta(
        generated=dt.datetime.now(dt.UTC),
        since=period.since,
        until=period.until,
        by=by.value if by else None,
        responses=protect_count(len(responses), rules),
        rules=rules,
        notes=notes,
        synthetic=synthetic,
    )
    if fmt == Format.table:
        if out_file is None:
            print_tables(out, content, meta, tables)
            return
        out_file.parent.mkdir(parents=True, exist_ok=True)
        with out_file.open("w", encoding="utf-8") as handle:
            print_tables(Console(file=handle, width=120, highlight=False), content, meta, tables)
    elif fmt == Format.csv:
        write_text(out_file, to_csv(content, tables, synthetic), out)
    else:
        write_text(out_file, html_report(content, meta, tables, headline), out)
    if out_file is not None:
        out.print(f"Wrote {out_file}")
    if synthetic:
        say_synthetic(content)


def say_synthetic(content: Content) -> None:
    """The demo-data banner on the screen (stderr), whatever was written where."""
    from bot.team.reporting import notice_text

    err = rich_console(stderr=True)
    err.print(notice_text(content.report.synthetic, "bold white on red"), soft_wrap=True)


@click.pass_context
@click.argument(
    "code", cls=HelpArgument, help="The reference code, e.g. MPSP-7KQ3-X9TD.", metavar="CODE"
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead.")
@db_option
def lookup(ctx: click.Context, code: str, as_json: bool, db: Path | None) -> None:
    """Everything about one response, for when a Mutual quotes its reference code."""
    from rich.markup import escape
    from rich.table import Table as RichTable

    out = rich_console()
    _, content, store = _open(ctx, db)
    wanted = normalise_code(code)
    if wanted is None:
        raise fail(f"{code!r} is not a reference code: they look like MPSP-7KQ3-X9TD")
    try:
        found = _lookup(store, content, wanted)
        synthetic = store.synthetic
    finally:
        store.close()
    if found is None:
        raise fail(
            f"no response has the code {wanted}. It may have been mistyped, or "
            "deleted at the person's request (/forget).",
            1,
        )
    if synthetic:
        # First, so it is the first thing read in either form.
        found = {
            "dataset": content.report.labels.synthetic,
            "notice": plain(content.report.synthetic),
            **found,
        }
    if as_json:
        out.print_json(json.dumps(found, ensure_ascii=False))
        return
    if synthetic:
        from bot.team.reporting import notice_text

        out.print(notice_text(content.report.synthetic, "bold white on red"), soft_wrap=True)
    out.print(
        f"[bold]{found['code']}[/bold]  finished {_when(found['completed'])}  "
        f"content version {found['content_version']}"
    )
    if found["readiness"]:
        out.print(f"Readiness stage: [bold]{escape(found['readiness'])}[/bold]")
    answers = RichTable(title="Answers", title_justify="left", show_header=False)
    answers.add_column(style="bold")
    answers.add_column()
    for item in found["answers"]:
        answers.add_row(escape(item["question"]), escape(item["answer"]))
    out.print(answers)
    recs = RichTable(title="Advice shown", title_justify="left")
    for column in ("#", "signpost", "section", "because"):
        recs.add_column(column)
    for item in found["recommendations"]:
        recs.add_row(
            str(item["position"]), escape(item["title"]), item["section"], escape(item["reasons"])
        )
    out.print(recs)


def _when(stamp: str) -> str:
    """A stored UTC time as people read it: "5 Dec 2026 01:16 UTC"."""
    try:
        moment = dt.datetime.fromisoformat(stamp).astimezone(dt.UTC)
    except (TypeError, ValueError):
        return str(stamp)  # not a time: shown as stored rather than lost
    return f"{moment.day} {moment:%b %Y %H:%M} UTC"


def _lookup(store: Store, content: Content, code: str) -> dict[str, Any] | None:
    row = store.conn.execute("SELECT * FROM responses WHERE code = ?", (code,)).fetchone()
    if row is None:
        return None
    flow = content.flow
    chosen = store.response_options(row["id"])
    texts = dict(
        store.conn.execute(
            "SELECT question, text FROM response_text WHERE response_id = ?", (row["id"],)
        )
    )
    answers = []
    for question in flow.questions:
        if question.id in chosen:
            words = ", ".join(content.words(question, chosen.pop(question.id)))
        elif question.id in texts:
            words = texts.pop(question.id)
        else:
            continue
        answers.append({"question": question.label, "id": question.id, "answer": words})
    # Questions since removed from the flow still show, by their codes.
    for qid, codes in chosen.items():
        answers.append({"question": qid, "id": qid, "answer": ", ".join(codes)})
    for qid, text in texts.items():
        answers.append({"question": qid, "id": qid, "answer": text})
    stages = {s.id: s.title for s in content.catalogue.readiness.spec.stages}
    recs = []
    for rec in store.conn.execute(
        "SELECT position, signpost, section, reasons FROM recommendations "
        "WHERE response_id = ? ORDER BY position",
        (row["id"],),
    ):
        signpost = content.catalogue.signposts.get(rec["signpost"])
        recs.append(
            {
                "position": rec["position"],
                "signpost": rec["signpost"],
                "title": signpost.title if signpost else rec["signpost"],
                "section": rec["section"],
                "reasons": rec["reasons"] or "",
            }
        )
    return {
        "code": row["code"],
        "completed": row["completed"],
        "started": row["started"],
        "content_version": row["content_version"],
        "readiness": stages.get(row["readiness"], row["readiness"]),
        "answers": answers,
        "recommendations": recs,
    }


@click.pass_context
@click.option(
    "--port", type=Integer(), default=8001, help="Port to listen on (0 picks a free one)."
)
@click.option(
    "--host",
    default="127.0.0.1",
    help="Address to listen on. The default serves this computer only; in a container use "
    "0.0.0.0 (with --protected for anyone but the team).",
)
@click.option(
    "--protected",
    is_flag=True,
    help="Serve only disclosure-controlled figures (the report's tables and the 10/5 canned "
    "queries; no row-level tables, no free SQL), to show a wider audience.",
)
@db_option
def review(ctx: click.Context, port: int, host: str, protected: bool, db: Path | None) -> None:
    """Browse the triage log in Datasette, read-only (on this computer only, by default).

    By default a confidential view for the team: a snapshot taken now, without pseudonyms or
    unfinished conversations, with labels, a one-row-per-response view, facets and canned
    queries (which support is needed in a sector, where people drop out, what a code said);
    every page says it is confidential. With --protected, only the report's protected
    figures. Stop it with Ctrl-C.
    """
    _require_datasette()
    settings, content, store = _open(ctx, db)
    synthetic = store.synthetic
    store.close()
    serve_review(
        settings, content, ReviewOptions(port=port, host=host, protected=protected), synthetic
    )


def _require_datasette() -> None:
    """Datasette is one of the tools' optional libraries: say how to get it, in one line."""
    if importlib.util.find_spec("datasette") is None:
        raise needs_tools("review")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _free_port(host: str) -> int:
    with socket.socket(_family(host)) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def serve_review(
    settings: Settings, content: Content, options: ReviewOptions, synthetic: bool = False
) -> None:
    """Build the view's snapshot and serve it with Datasette until Ctrl-C.

    ``synthetic``: the database was made by demo-data, and every page says so.
    """
    from rich.text import Text

    from bot.team.review import (
        build_copy,
        build_protected,
        datasette_command,
        write_metadata,
        write_templates,
    )

    out, err = rich_console(), rich_console(stderr=True)

    try:
        if options.port == 0:
            options = replace(options, port=_free_port(options.host))
        else:
            with socket.socket(_family(options.host)) as probe:
                probe.bind((options.host, options.port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise fail(
                f"port {options.port} on {options.host} is in use (is a review already "
                "running?): choose another with --port N, or --port 0 for a free one"
            ) from None
        raise fail(
            f"cannot listen on {options.host} ({exc.strerror or exc}): give --host an address "
            "of this computer, 127.0.0.1 (the default), or 0.0.0.0 for all of them"
        ) from None
    if not options.protected and not is_loopback(options.host):
        err.print(
            Text("warning: ", style="bold yellow")
            + Text(
                f"review is listening on {options.host}, beyond this computer, and its default "
                "view is confidential (row-level answers): anyone who can reach the port can "
                "read them. For a wider audience use review --protected"
            ),
            soft_wrap=True,
        )
    with tempfile.TemporaryDirectory(prefix="mpsp-review-") as tmp:
        folder = Path(tmp)
        with progress_bar("Taking a snapshot", err) as bar:
            bar.add_task("snapshot", total=None)
            build = build_protected if options.protected else build_copy
            database = build(settings.db_path, folder / "review.db", content, settings.rules)
        meta = write_metadata(
            folder / "metadata.json", content, settings.rules, options.protected, synthetic
        )
        templates = write_templates(folder / "templates", content, options.protected, synthetic)
        view = "protected figures only" if options.protected else "confidential"
        out.print(
            f"Reviewing a snapshot of {settings.db_path} ({view}) at "
            f"http://{options.host}:{options.port}/ (Ctrl-C to stop)",
            markup=False,
        )
        command = datasette_command(database, meta, templates, options, sys.executable)
        _run_until_stopped(command)


def is_loopback(host: str) -> bool:
    """Whether an address to listen on reaches this computer only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _run_until_stopped(command: list[str]) -> None:
    """Run Datasette until it ends, or until this command is stopped: then stop it too.

    Without this, SIGTERM (a service manager, a test, `kill`) would end this process alone,
    leaving Datasette serving the snapshot, whose folder is then deleted under it.
    """

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signals = [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]
    previous = {name: signal.signal(getattr(signal, name), stop) for name in signals}
    server = subprocess.Popen(command)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


@click.pass_context
@click.option(
    "--format", "fmt", type=EnumChoice(ExportFormat), default=ExportFormat.csv, help="csv or json."
)
@click.option("--out", "out_file", type=PATH, help="File to write (default: print).")
@db_option
def export(ctx: click.Context, fmt: ExportFormat, out_file: Path | None, db: Path | None) -> None:
    """Pseudonymous answer rows for the team's own analysis (confidential, not for publishing).

    One row per option chosen: response number, date finished, readiness stage, content
    version, question and option (codes and words). No reference codes, pseudonyms or free
    text.
    """
    from rich.text import Text

    from bot.team.reporting import write_text

    out, err = rich_console(), rich_console(stderr=True)
    _, content, store = _open(ctx, db)
    try:
        rows = _export_rows(store, content)
        synthetic = store.synthetic
    finally:
        store.close()
    notice = " ".join(content.report.confidential.split())
    if synthetic:
        notice = f"{' '.join(plain(content.report.synthetic).split())} {notice}"
        # Every row carries the mark, so none can be copied out of the file without it.
        rows = [{"dataset": content.report.labels.synthetic, **row} for row in rows]
    fields = ["dataset", *EXPORT_FIELDS] if synthetic else list(EXPORT_FIELDS)
    if fmt == ExportFormat.json:
        text = (
            json.dumps(
                {
                    **({"dataset": content.report.labels.synthetic} if synthetic else {}),
                    "notice": notice,
                    "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "rows": rows,
                },
                ensure_ascii=False,
                indent=1,
            )
            + "\n"
        )
    else:
        # The first line is the header, so csv.DictReader, pandas and spreadsheets read it as
        # is; the notice goes to the screen (and is in the JSON export).
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    write_text(out_file, text, out)
    if synthetic:
        say_synthetic(content)
    err.print(Text(" ".join(content.report.confidential.split()), style="bold yellow"))
    if out_file is not None:
        err.print(f"Wrote {len(rows):,} rows to {out_file}")


EXPORT_FIELDS = (
    "response",
    "finished_on",
    "readiness",
    "content_version",
    "question",
    "question_label",
    "option",
    "option_label",
    "value",
)


def _export_rows(store: Store, content: Content) -> list[dict[str, Any]]:
    flow = content.flow
    labels = {(q.id, o.code): word for q, o, word in content.option_labels()}
    rows = []
    for r in store.conn.execute(
        "SELECT r.id, substr(r.completed, 1, 10) AS day, r.readiness, r.content_version, "
        "a.question, a.option, a.value FROM answers a JOIN responses r ON r.id = a.response_id "
        "ORDER BY r.id, a.rowid"
    ):
        question = flow.by_id.get(r["question"])
        rows.append(
            {
                "response": r["id"],
                "finished_on": r["day"],
                "readiness": r["readiness"] or "",
                "content_version": r["content_version"],
                "question": r["question"],
                "question_label": question.label if question else "",
                "option": r["option"],
                "option_label": labels.get((r["question"], r["option"]), ""),
                "value": "" if r["value"] is None else r["value"],
            }
        )
    return rows


@click.pass_context
@click.option(
    "--n", "n", type=Integer(min=1), default=500, help="How many finished checks to make."
)
@click.option("--seed", type=Integer(), default=2018, help="Random seed, for repeatable data.")
@click.option(
    "--db",
    type=PATH,
    default=Path("demo.db"),
    help="The new database file to make (never TRIAGE_DB unless named here; a file that "
    "demo-data did not make is refused).",
)
def demo_data(ctx: click.Context, n: int, seed: int, db: Path) -> None:
    """Make a synthetic triage database, so the review tools can be tried before real data.

    Drawn from the 2018 survey's proportions (sector mix, partnering experience rising with
    turnover, legal complexity the top barrier, commercial and legal the top needs, about
    three needs each), with some unfinished conversations for the drop-off figures. The
    database records that it is synthetic: every team output from it says so, and `run` and
    `web` refuse it. Writes only a new file: refuses any existing one (a live database above
    all), and one it made before.
    """
    from bot.team.demo import generate

    out, err = rich_console(), rich_console(stderr=True)
    settings = settings_from(ctx, db)
    content = content_or_exit(settings)
    db_path = settings.db_path
    # Look before touching anything: an existing database is never opened for writing (that
    # alone would migrate it), unless demo-data made it.
    made_before = synthetic_file(db_path)
    if made_before is False:
        raise fail(
            f"{db_path} was not made by demo-data (it may hold real answers), and demo data "
            f"only goes in a new file: try --db {_unused_name(Path('demo.db'))}"
        )
    store = open_store(ctx, settings)
    try:
        existing = store.db["responses"].count
        if existing:
            raise fail(
                f"{db_path} already holds {existing:,} synthetic responses, and demo data only "
                f"goes in a new file: try --db {_unused_name(db_path)}"
            )
        with progress_bar("Making demo data", err) as bar:
            task = bar.add_task("demo", total=n)
            made = generate(
                store, content, n, seed=seed, progress=lambda done: bar.update(task, completed=done)
            )
        (code,) = store.conn.execute("SELECT code FROM responses ORDER BY id LIMIT 1").fetchone()
    except BaseException:
        try:
            committed = made_before is not None or store.synthetic
        except sqlite3.Error:
            committed = True  # cannot tell: keep the file
        store.close()
        if not committed:
            # Nothing was made: leave no unmarked file behind for the next try to refuse.
            for leftover in (db_path, *(Path(f"{db_path}{s}") for s in ("-wal", "-shm"))):
                leftover.unlink(missing_ok=True)
        raise
    store.close()
    out.print(
        f"Made {made:,} synthetic finished checks in {db_path}. Try `python -m bot report "
        f"--db {db_path}`, `python -m bot review --db {db_path}` or, with one of their "
        f"reference codes, `python -m bot lookup {code} --db {db_path}`.",
        markup=False,
    )


def _unused_name(path: Path) -> Path:
    """``path`` if it is free, else a name beside it not taken yet: demo-2.db, demo-3.db..."""
    if not path.exists():
        return path
    stem = path.stem.rstrip("0123456789").rstrip("-") or path.stem
    n = 2
    while (candidate := path.with_name(f"{stem}-{n}{path.suffix}")).exists():
        n += 1
    return candidate


@click.pass_context
@click.option(
    "--out",
    "out_file",
    type=PATH,
    required=True,
    show_default=False,
    help="The backup file to write (its folder must exist).",
)
@click.option("--force", is_flag=True, help="Replace --out if it exists already.")
@db_option
def backup(ctx: click.Context, out_file: Path, force: bool, db: Path | None) -> None:
    """Copy the database consistently, even while the bot runs, and check the copy.

    Uses SQLite's online backup API (the bot keeps answering meanwhile), runs SQLite's
    integrity check on the copy, and only then puts it in place. The copy is one
    self-contained file: to restore, stop the bot and put it where TRIAGE_DB points (see
    the README).
    """
    from bot.team.backup import BackupError
    from bot.team.backup import backup as make_backup

    settings = settings_from(ctx, db)
    store = open_store(ctx, settings, existing=True, migrate=False)
    try:
        done = make_backup(store, out_file, replace=force)
    except BackupError as exc:
        raise fail(str(exc), 1) from None
    finally:
        store.close()
    # click, not rich: backups run where only the bot is installed.
    say(
        f"Backed up {settings.db_path} to {done.path}: {done.responses:,} responses, "
        f"{done.size / 1e6:.1f} MB, schema {done.schema}, integrity ok, in {done.seconds:.1f}s."
    )


def register(app: click.Group) -> None:
    """Add the team's commands to the main CLI."""
    command(app)(report)
    command(app)(lookup)
    command(app)(review)
    command(app)(export)
    command(app, "demo-data")(demo_data)
    command(app)(backup)
