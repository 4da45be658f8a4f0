"""The deployment files: the tools extra and its lock, the image's targets, and Compose's
profiles (issues 20.6 and 18.12)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from .conftest import ROOT

COMPOSE = ROOT / "compose.yaml"


def lock_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            pins[name.strip()] = version.split()[0]
    return pins


# What only the team's and editors' tools use: never in the bot's own install or image.
TOOLS_ONLY = {
    *("datasette", "textstat", "graphviz", "rich", "pygments", "typer", "pip", "setuptools"),
    "python-telegram-bot",
}


def test_the_tools_are_an_extra_with_their_own_lock() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    named = {re.split(r"[<>=\[ ]", d)[0] for d in project["dependencies"]}
    assert not named & TOOLS_ONLY, sorted(named & TOOLS_ONLY)
    extras = project["optional-dependencies"]
    assert {"datasette", "textstat", "graphviz"} <= {
        re.split(r"[<>=]", d)[0] for d in extras["tools"]
    }
    assert extras["review"] == ["mpsp-triage[tools]"]  # the old name still installs them
    (own,) = (d for d in extras["test"] if d.startswith("mpsp-triage["))
    assert "tools" in own[len("mpsp-triage[") : -1].split(",")  # CI's `.[test]` runs their tests
    default = lock_pins(ROOT / "requirements.lock")
    tools = lock_pins(ROOT / "requirements-tools.lock")
    # pip: only sqlite-utils' own `install` command would use it.
    assert not TOOLS_ONLY & set(default), sorted(TOOLS_ONLY & set(default))
    assert {"datasette", "textstat", "pip"} <= set(tools)
    # The tools image is the default one plus the tools: every shared pin is the same.
    assert default.items() <= tools.items()


def test_the_default_image_is_the_last_stage_and_leaves_the_tools_out() -> None:
    stages = re.findall(
        r"^FROM (\S+)(?: AS (\S+))?\n(.*?)(?=^FROM |\Z)", _dockerfile(), re.M | re.S
    )
    *_, (base, name, body) = stages
    assert name == "" and base == "runtime"  # `docker build .` builds this one
    assert "COPY --from=build /opt/triage" in body and "tools" not in body
    by_name = {n: (b, text) for b, n, text in stages if n}
    assert "requirements-tools.lock" in by_name["build-tools"][1]
    assert "COPY --from=build-tools /opt/triage" in by_name["tools"][1]
    assert by_name["review"][0] == "tools"  # `--target review` still builds the tools image
    # No pip (nor setuptools) inside the bot's environment: the build's pip installs into it.
    assert "python -m venv --without-pip /opt/triage" in by_name["build"][1]


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_compose_profiles_let_the_web_page_run_without_a_token() -> None:
    """`docker compose --profile web up` starts the page and the backup, and needs no token.

    Compose interpolates every service's variables before it applies profiles, so a
    ``${VAR:?message}`` anywhere in the file is required by every deployment.
    """
    text = COMPOSE.read_text(encoding="utf-8")
    services = yaml.safe_load(text)["services"]

    def started(*profiles: str) -> set[str]:
        return {
            name
            for name, service in services.items()
            if not service.get("profiles") or set(service["profiles"]) & set(profiles)
        }

    assert started("web") == {"web", "backup"}
    assert started("telegram") == {"bot", "backup"}
    assert started("telegram", "web") == {"bot", "web", "backup"}
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required == {"TRIAGE_SECRET"}, required
    assert services["bot"]["environment"]["TELEGRAM_BOT_TOKEN"] == "${TELEGRAM_BOT_TOKEN:-}"
    assert "TELEGRAM_BOT_TOKEN" not in services["web"]["environment"]
    # The usage at the top says how to start each deployment.
    assert "docker compose --profile web up" in text
