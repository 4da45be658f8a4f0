"""The demo-data fence: synthetic databases say so everywhere, and never mix with real ones."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.channels.service import Triage
from bot.cli import app
from bot.conversation.content import Content
from bot.conversation.engine import Engine
from bot.store import Store, synthetic_file
from bot.team.review import metadata, write_templates

from .conftest import MUTUAL_ANSWERS, ROOT, SECRET, Walker, answer_all

runner = CliRunner()
MARK = "synthetic demo data"
TOKEN = "123456:" + "A" * 35


def invoke(*args: str, **env: str) -> object:
    return runner.invoke(
        app,
        list(args),
        env={"TRIAGE_CONTENT_DIR": str(ROOT), "TELEGRAM_BOT_TOKEN": "", **env},
        catch_exceptions=False,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def real_database(path: Path, content: Content, people: int = 2) -> list[str]:
    """A database as the bot makes it: real (not demo) checks finished through the service."""
    store = Store(path)
    triage = Triage(store, Engine(content))
    codes = []
    for n in range(people):
        walker = Walker(triage, subject=f"{n:064x}")
        walker.command("start")
        walker.tap("Start")
        answer_all(walker, MUTUAL_ANSWERS)
        walker.tap("Confirm")
        codes.append(store.load(walker.subject).code)
    store.close()
    return codes


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fence") / "demo.db"
    assert invoke("demo-data", "--n", "60", "--db", str(path)).exit_code == 0
    return path


def test_demo_data_records_that_it_is_synthetic_with_its_first_rows(demo: Path) -> None:
    assert synthetic_file(demo) is True
    conn = sqlite3.connect(demo)
    (made, seed) = conn.execute("SELECT made, seed FROM synthetic").fetchone()
    conn.close()
    assert made and seed == 2018
    store = Store(demo)
    assert store.synthetic
    store.close()


def test_demo_data_refuses_the_live_database_and_any_real_one(
    tmp_path: Path, content: Content, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The live database of a bot that has just started (no responses yet), and one in use.
    fresh = tmp_path / "live.db"
    Store(fresh).close()
    used = tmp_path / "used.db"
    real_database(used, content, people=1)
    empty = tmp_path / "empty.db"
    empty.touch()
    for db in (fresh, used, empty):
        before = digest(db)
        for args, env in (
            (["demo-data", "--n", "5", "--db", str(db)], {}),
            (["demo-data", "--n", "5", "--db", str(db)], {"TRIAGE_DB": str(db)}),
        ):
            result = invoke(*args, **env)
            assert result.exit_code == 2, result.output
            (line,) = [x for x in result.output.splitlines() if x.startswith("error:")]
            assert f"{db} was not made by demo-data" in line and "new file" in line
            assert "Traceback" not in result.output
        assert digest(db) == before  # not even migrated
        assert synthetic_file(db) is False
    # Without --db it never goes near TRIAGE_DB: it makes demo.db where it runs.
    used_before = digest(used)
    monkeypatch.chdir(tmp_path)
    result = invoke("demo-data", "--n", "3", TRIAGE_DB=str(used))
    assert result.exit_code == 0, result.output
    assert synthetic_file(tmp_path / "demo.db") is True
    assert digest(used) == used_before


def test_a_demo_database_that_failed_before_its_first_commit_is_not_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.team.demo

    def broken(*_args: object, **_kwargs: object) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(bot.team.demo, "generate", broken)
    db = tmp_path / "demo.db"
    result = invoke("demo-data", "--n", "5", "--db", str(db))
    assert result.exit_code != 0
    assert not db.exists() and not Path(f"{db}-wal").exists()


def _outputs(db: Path, code: str, tmp_path: Path) -> dict[str, str]:
    """Every team output of a database, as a reader would see it (screen and files)."""
    texts: dict[str, str] = {}
    for name, args in {
        "report table": ["report"],
        "report csv": ["report", "--format", "csv"],
        "report html": ["report", "--format", "html", "--out", str(tmp_path / "r.html")],
        "export csv": ["export", "--out", str(tmp_path / "e.csv")],
        "export json": ["export", "--format", "json"],
        "lookup": ["lookup", code],
        "lookup json": ["lookup", code, "--json"],
    }.items():
        result = invoke(*args, "--db", str(db))
        assert result.exit_code == 0, (name, result.output)
        texts[name] = result.stdout + result.stderr
    texts["report html"] += (tmp_path / "r.html").read_text(encoding="utf-8")
    texts["export csv"] += (tmp_path / "e.csv").read_text(encoding="utf-8")
    return texts


def _first_code(db: Path) -> str:
    conn = sqlite3.connect(db)
    (code,) = conn.execute("SELECT code FROM responses ORDER BY id LIMIT 1").fetchone()
    conn.close()
    return code


def test_every_team_output_of_a_demo_database_says_so_and_a_real_one_never_does(
    demo: Path, tmp_path: Path, content: Content
) -> None:
    synthetic = _outputs(demo, _first_code(demo), tmp_path)
    for name, text in synthetic.items():
        assert MARK in text.lower(), name
    # Where a reader cannot miss it: first on the screen, at the top of the page, in every row.
    assert synthetic["report table"].lower().lstrip().startswith(MARK)
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<title>SYNTHETIC DEMO DATA:" in html
    assert html.index('class="synthetic"') < html.index("<header>")
    for name in ("report csv", "export csv"):
        source = (
            invoke("report", "--format", "csv", "--db", str(demo)).stdout
            if name == "report csv"
            else (tmp_path / "e.csv").read_text()
        )
        rows = list(csv.DictReader(io.StringIO(source)))
        assert rows and all(row["dataset"] == MARK for row in rows), name
    data = json.loads(invoke("export", "--format", "json", "--db", str(demo)).stdout)
    assert data["dataset"] == MARK and all(row["dataset"] == MARK for row in data["rows"])
    found = json.loads(invoke("lookup", _first_code(demo), "--json", "--db", str(demo)).stdout)
    assert found["dataset"] == MARK

    real = tmp_path / "real.db"
    codes = real_database(real, content)
    (tmp_path / "real").mkdir()
    for name, text in _outputs(real, codes[0], tmp_path / "real").items():
        assert "synthetic" not in text.lower(), name


@pytest.mark.parametrize("protected", [False, True])
def test_both_review_views_say_so_on_every_page(
    protected: bool, tmp_path: Path, content: Content
) -> None:
    from bot.disclosure import Rules
    from bot.team.inline import html

    made_up = write_templates(tmp_path / "demo", content, protected, synthetic=True)
    base = (made_up / "base.html").read_text(encoding="utf-8")
    # The banner, its `python -m bot demo-data` shown as code.
    assert "mpsp-synthetic" in base and html(content.report.synthetic) in base
    assert base.index("mpsp-synthetic") < base.index(
        "mpsp-confidential" if not protected else "mpsp-protected"
    )
    meta = metadata(content, Rules(), protected, synthetic=True)
    assert meta["title"].startswith("SYNTHETIC DEMO DATA")
    real = write_templates(tmp_path / "real", content, protected)
    assert "synthetic" not in (real / "base.html").read_text(encoding="utf-8").lower()
    assert "synthetic" not in json.dumps(metadata(content, Rules(), protected)).lower()


def test_run_and_web_refuse_a_demo_database_and_chat_may_use_it(demo: Path) -> None:
    env = {"TRIAGE_DB": str(demo), "TRIAGE_SECRET": SECRET}
    before = digest(demo)
    for args, extra in ((["run"], {"TELEGRAM_BOT_TOKEN": TOKEN}), (["web", "--port", "0"], {})):
        result = invoke(*args, **env, **extra)
        assert result.exit_code == 2, result.output
        (line,) = [x for x in result.output.splitlines() if x.startswith("error:")]
        assert "holds synthetic demo data" in line and "TRIAGE_DB" in line
    assert digest(demo) == before
    # Bare `python -m bot` with a token is `run`: refused the same way.
    result = invoke(**env, TELEGRAM_BOT_TOKEN=TOKEN)
    assert result.exit_code == 2 and "holds synthetic demo data" in result.output
