"""A person with a browser that has JavaScript off: plain forms, cookies, redirects."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.service import Triage
from bot.channels.web.app import create_app
from bot.conversation.content import Content
from bot.conversation.engine import Engine
from bot.settings import Settings
from bot.store import Store

from .conftest import SECRET, Clock, codes

# One Mutual's walk through the web page, question by question (tests and bench/web.py).
ANSWERS = [
    ("org_type", ["psm"]),
    ("role", ["finance"]),
    ("service", ["social_care"]),
    ("region", ["yorkshire"]),
    ("staff", ["s251_1000"]),
    ("turnover", ["over_20m"]),
    ("years", ["over_10"]),
    ("confidence", ["v4"]),
    ("experience", ["informal", "jv_alliance"]),
    ("success", ["v2"]),
    ("appetite", ["might"]),
    ("motivations", ["new_places"]),
    ("barriers", ["cost", "seed_funding"]),
    ("top_barrier", ["seed_funding"]),
    ("support", ["investment_case"]),
    ("live_bid", ["none"]),
]

_INPUT = re.compile(r'<input[^>]*name="(csrf|step)"[^>]*value="([^"]*)"')
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def make_settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(db_path=tmp_path / "triage.db", secret=SECRET, **extra)


class WebApp:
    """The application on a real loopback port, with its own store."""

    def __init__(
        self,
        content: Content,
        db: Path,
        settings: Settings,
        engine: dict[str, Any] | None = None,
        metrics: Any = None,
    ) -> None:
        self.store = Store(db)
        seq = codes()
        self.triage = Triage(
            self.store, Engine(content, **(engine or {})), clock=Clock(), new_code=lambda: next(seq)
        )
        self.app = create_app(settings, self.triage, metrics=metrics)
        self.server = TestServer(self.app)

    async def start(self) -> WebApp:
        await self.server.start_server()
        return self

    def browser(self) -> Browser:
        return Browser(TestClient(self.server))

    async def close(self) -> None:
        await self.server.close()
        self.store.close()


class Browser:
    """One browser: keeps its cookie, follows redirects, reads forms as a person would."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.page = ""
        self.url = "/"
        self.status = 200

    async def get(self, url: str) -> str:
        response = await self.client.get(url)
        self.page, self.status, self.url = await response.text(), response.status, response.url.path
        return self.page

    async def post(self, url: str, data: list[tuple[str, str]], **headers: str) -> str:
        response = await self.client.post(url, data=data, headers=headers or None)
        self.page, self.status, self.url = await response.text(), response.status, response.url.path
        return self.page

    def field(self, name: str, page: str | None = None) -> str:
        for found, value in _INPUT.findall(page or self.page):
            if found == name:
                return html.unescape(value)
        raise AssertionError(f"no {name} field on {self.url}")

    @property
    def title(self) -> str:
        return html.unescape(_TITLE.search(self.page).group(1))

    def form_url(self) -> str:
        actions = re.findall(r'<form method="post" action="([^"]+)"', self.page)
        main = [a for a in actions if a not in ("/forget",)]
        return main[-1]

    async def submit(self, *pairs: tuple[str, str], action: str = "answer") -> str:
        data = [("csrf", self.field("csrf")), ("step", self.field("step")), ("action", action)]
        return await self.post(self.form_url(), [*data, *pairs])

    async def answer(self, *codes: str) -> str:
        return await self.submit(*[("answer", c) for c in codes])

    async def type(self, text: str) -> str:
        return await self.submit(("text", text))

    async def back(self) -> str:
        return await self.submit(action="back")

    async def change(self, question: str) -> str:
        data = [("csrf", self.field("csrf")), ("step", self.field("step")), ("change", question)]
        return await self.post("/check-answers", data)

    async def confirm(self) -> str:
        return await self.submit(action="confirm")

    async def start(self) -> str:
        await self.get("/")
        return await self.post(
            "/start", [("csrf", self.field("csrf")), ("step", self.field("step"))]
        )

    async def close(self) -> None:
        await self.client.close()


def labels_of(page: str) -> list[str]:
    return [
        html.unescape(x.strip())
        for x in re.findall(r'<label class="govuk-label[^"]*"[^>]*>\s*([^<]*?)\s*</label>', page)
    ]


async def running(
    content: Content,
    tmp_path: Path,
    engine: dict[str, Any] | None = None,
    metrics: Any = None,
    **extra: object,
) -> WebApp:
    """The web page on a free port; ``engine`` holds Engine options (contact, handover)."""
    settings = make_settings(tmp_path, **extra)
    return await WebApp(content, tmp_path / "triage.db", settings, engine, metrics).start()


@dataclass
class ResultPage:
    """What a result page shows, read from its HTML as a person reads it."""

    code: str
    stage: tuple[str, str] | None
    steps: list[tuple[str, str, str]]  # title, text, "Why: ..."
    sections: list[str]  # the titles of the links to each section's page
    links: list[str]  # their addresses


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def read_result(page: str) -> ResultPage:
    """The result page's code, stage line, ranked steps, and the links to its sections."""
    code = _text(re.search(r'<strong class="triage-code">(.*?)</strong>', page).group(1))
    stage = None
    found = re.search(
        r'<h2 class="govuk-heading-m">(Your stage: .*?)</h2>\s*<p[^>]*>(.*?)</p>',
        page,
    )
    if found:
        stage = (_text(found.group(1)), _text(found.group(2)))
    ranked = re.search(r'<ol class="[^"]*triage-steps">(.*?)</ol>', page, re.S).group(1)
    steps = []
    for li in re.findall(r"<li>(.*?)</li>", ranked, re.S):
        title = _text(re.search(r"<h3[^>]*>(.*?)</h3>", li, re.S).group(1))
        text = _text(re.search(r"<p[^>]*>(.*?)</p>", li, re.S).group(1))
        why = re.search(r'<span class="triage-why">(.*?)</span>', li, re.S)
        steps.append((title, text, _text(why.group(1)) if why else ""))
    contents = re.search(r'<nav class="triage-contents".*?</nav>', page, re.S)
    found_links = re.findall(
        r'<a [^>]*href="([^"]+)">(.*?)</a>', contents.group() if contents else ""
    )
    return ResultPage(
        code, stage, steps, [_text(t) for _, t in found_links], [u for u, _ in found_links]
    )


def read_section(page: str) -> tuple[str, list[str]]:
    """A section page's title (its h1) and its items' titles (the h2s before the links)."""
    title = _text(re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1))
    body = page.split("</h1>", 1)[1].split("<hr", 1)[0]
    return title, [_text(t) for t in re.findall(r"<h2[^>]*>(.*?)</h2>", body, re.S)]


__all__ = [
    "Browser",
    "ResultPage",
    "WebApp",
    "labels_of",
    "make_settings",
    "read_result",
    "read_section",
    "running",
    "web",
]
