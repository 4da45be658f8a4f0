"""The deployment files: the review extra and its lock, the image's targets, and Compose's
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


def test_review_is_an_extra_with_its_own_lock() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not any(d.startswith("datasette") for d in project["dependencies"])
    extras = project["optional-dependencies"]
    assert any(d.startswith("datasette") for d in extras["review"])
    (own,) = (d for d in extras["test"] if d.startswith("mpsp-triage["))
    assert "review" in own[len("mpsp-triage[") : -1].split(",")  # CI's `.[test]` runs its tests
    default = lock_pins(ROOT / "requirements.lock")
    review = lock_pins(ROOT / "requirements-review.lock")
    # pip: only sqlite-utils' own `install` command would use it (setuptools stays: textstat
    # reads its word lists with pkg_resources).
    assert not {"datasette", "pip"} & set(default)
    assert {"datasette", "pip"} <= set(review)
    # The review image is the default one plus Datasette: every shared pin is the same.
    assert default.items() <= review.items()


def test_the_default_image_is_the_last_stage_and_leaves_review_out() -> None:
    stages = re.findall(
        r"^FROM (\S+)(?: AS (\S+))?\n(.*?)(?=^FROM |\Z)", _dockerfile(), re.M | re.S
    )
    *_, (base, name, body) = stages
    assert name == "" and base == "runtime"  # `docker build .` builds this one
    assert "COPY --from=build /opt/triage" in body and "review" not in body
    by_name = {n: (b, text) for b, n, text in stages if n}
    assert "requirements-review.lock" in by_name["build-review"][1]
    assert "COPY --from=build-review /opt/triage" in by_name["review"][1]
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
