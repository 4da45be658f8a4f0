"""Running it in production: review beyond loopback, the lock file and compose.yaml."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import app
from bot.cli import team as team_cli

from .conftest import ROOT

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ops") / "demo.db"
    result = runner.invoke(
        app, ["demo-data", "--n", "20", "--db", str(path)], env={"TRIAGE_CONTENT_DIR": str(ROOT)}
    )
    assert result.exit_code == 0, result.output
    return path


def test_review_host_warns_beyond_loopback_for_the_confidential_view(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[list[str]] = []
    monkeypatch.setattr(team_cli, "_run_until_stopped", served.append)

    def review(*args: str) -> tuple[str, list[str]]:
        result = runner.invoke(
            app,
            ["review", "--db", str(demo), "--port", "0", *args],
            env={"TRIAGE_CONTENT_DIR": str(ROOT)},
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        command = served.pop()
        return result.stderr, command

    stderr, command = review()
    assert command[command.index("--host") + 1] == "127.0.0.1" and "warning" not in stderr
    for host in ("0.0.0.0", "::"):
        stderr, command = review("--host", host)
        assert command[command.index("--host") + 1] == host
        (line,) = [x for x in stderr.splitlines() if x.startswith("warning:")]
        assert f"listening on {host}" in line and "review --protected" in line
    # An address that is not this computer's: one line, before anything starts.
    result = runner.invoke(
        app,
        ["review", "--db", str(demo), "--host", "192.0.2.10"],
        env={"TRIAGE_CONTENT_DIR": str(ROOT)},
    )
    assert result.exit_code == 2 and not served
    (line,) = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert "cannot listen on 192.0.2.10" in line
    # The protected view is the one meant for a wider audience: no warning.
    stderr, command = review("--host", "0.0.0.0", "--protected")
    assert "warning" not in stderr and command[command.index("--host") + 1] == "0.0.0.0"
    for loopback in ("localhost", "127.0.0.2", "::1"):
        assert team_cli.is_loopback(loopback)


def test_the_lock_file_pins_every_dependency_with_hashes() -> None:
    """requirements.lock covers pyproject's dependencies, each pinned, each with a hash.

    (CI checks it is up to date by re-running the lock tool: tools/lock.sh --check.)
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = {}
    for line in lock.splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            pinned[name.strip().lower().replace("_", "-")] = rest
    for requirement in project["project"]["dependencies"]:
        name = requirement.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip()
        assert name.lower().replace("_", "-") in pinned, name
    blocks = lock.split("\n    # via")
    assert all("--hash=sha256:" in block for block in blocks[:-1])
    build = (ROOT / "requirements-build.lock").read_text(encoding="utf-8")
    assert "hatchling==" in build and "--hash=sha256:" in build


COMPOSE = ROOT / "compose.yaml"
SCHEMA = ROOT / "tests" / "compose-spec" / "compose-spec.json"


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    import jsonschema

    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    # The schema says draft-07 (without the trailing '#' jsonschema looks it up by).
    jsonschema.Draft7Validator(schema).validate(document)
    assert (SCHEMA.parent / "LICENSE").exists()


def test_compose_runs_the_bot_the_page_and_a_nightly_backup_on_one_volume() -> None:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = document["services"]
    assert {"bot", "web", "backup"} <= set(services)
    volume = next(iter(document["volumes"]))
    for name in ("bot", "web", "backup"):
        mounts = services[name]["volumes"]
        assert any(str(m).startswith(f"{volume}:/data") for m in mounts), name
    # Polling by default; the webhook shown beside it.
    assert services["bot"]["command"] == ["python", "-m", "bot", "run"]
    assert '# command: ["python", "-m", "bot", "run", "--webhook"]' in COMPOSE.read_text()
    web = services["web"]
    assert web["command"][:4] == ["python", "-m", "bot", "web"] and "0.0.0.0" in web["command"]
    for name in ("bot", "web"):
        test = services[name]["healthcheck"]["test"]
        assert test == ["CMD", "python", "-m", "bot", "health"]
    assert services["backup"]["healthcheck"] == {"disable": True}
    backup = " ".join(services["backup"]["command"])
    assert "python -m bot backup --out" in backup and "02:15" in backup
    # The same image everywhere; secrets from the environment, never written in the file.
    assert {services[n]["image"] for n in services} == {"mpsp-triage"}
    text = COMPOSE.read_text(encoding="utf-8")
    assert "TELEGRAM_BOT_TOKEN: ${TELEGRAM_BOT_TOKEN" in text and "123456:" not in text


def test_report_on_a_live_database_before_anyone_has_finished(tmp_path: Path) -> None:
    import datetime as dt

    from bot.store import Store

    db = tmp_path / "triage.db"
    store = Store(db)
    store.reached("run-1", "org_type", dt.datetime.now(dt.UTC))  # one person has started
    store.close()
    for args in (["report"], ["report", "--format", "csv"]):
        result = runner.invoke(
            app, [*args, "--db", str(db)], env={"TRIAGE_CONTENT_DIR": str(ROOT), "COLUMNS": "80"}
        )
        assert result.exit_code == 0 and "error" not in result.output, result.output
