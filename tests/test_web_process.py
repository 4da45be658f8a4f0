"""`python -m bot web` as a real process: kill -9 mid-walk and the same browser carries on."""

from __future__ import annotations

import html
import http.cookiejar
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from bot.store import Store

from .browser import WebServer
from .web_harness import ANSWERS


class Person:
    """A browser without JavaScript: a cookie jar and plain form posts."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.page = ""
        self.url = ""

    def open(self, path: str, data: list[tuple[str, str]] | None = None) -> str:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        deadline = time.monotonic() + 30
        while True:
            try:
                with self.opener.open(self.base + path, data=body, timeout=10) as response:
                    self.page = response.read().decode()
                    self.url = urllib.parse.urlparse(response.url).path
                    return self.page
            except (urllib.error.URLError, ConnectionError) as exc:
                if isinstance(exc, urllib.error.HTTPError) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # the server is restarting

    def field(self, name: str) -> str:
        return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', self.page).group(1))

    def answer(self, question: str, codes: list[str]) -> None:
        data = [("csrf", self.field("csrf")), ("step", self.field("step")), ("action", "answer")]
        self.open(f"/question/{question}", data + [("answer", c) for c in codes])


@pytest.mark.parametrize("seed", [3])
def test_kill_minus_nine_mid_walk_and_the_same_browser_carries_on(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    db = tmp_path / "triage.db"
    server = WebServer(db).start()
    kills = 0
    try:
        person = Person(server.url)
        person.open("/")
        person.open("/start", [("csrf", person.field("csrf")), ("step", "0")])
        for i, (question, codes) in enumerate(ANSWERS):
            assert person.url == f"/question/{question}", person.url
            person.answer(question, codes)
            if rng.random() < 0.3 or i in (4, 11):
                server.kill()
                kills += 1
                server = WebServer(db)
                server.port = int(person.base.rsplit(":", 1)[1])
                server.url = person.base
                server.start()
                person.open("/check")  # the same browser (the same cookie) carries on
        assert person.url == "/question/comments"
        person.open(
            "/question/comments",
            [
                ("csrf", person.field("csrf")),
                ("step", person.field("step")),
                ("action", "answer"),
                ("text", ""),
            ],
        )
        assert person.url == "/check-answers"
        person.open(
            "/check-answers",
            [("csrf", person.field("csrf")), ("step", person.field("step")), ("action", "confirm")],
        )
        assert person.url == "/result" and "Your reference code" in person.page
        assert server.stop() == 0
        assert "Traceback" not in server.stderr
    finally:
        server.close()
    assert kills >= 2
    store = Store(db)
    try:
        (response,) = store.db["responses"].rows
        answers = store.response_options(response["id"])
    finally:
        store.close()
    assert answers == dict(ANSWERS) and response["channel"] == "web"


def test_sigterm_logs_that_the_web_page_stopped(tmp_path: Path) -> None:
    """As the bot does, `web` says it stopped when a service manager stops it."""
    server = WebServer(tmp_path / "triage.db").start()
    try:
        Person(server.url).open("/")
        assert server.stop() == 0
    finally:
        server.close()
    lines = server.stderr.splitlines()
    assert any("web page on" in line for line in lines)
    assert "web page stopped" in lines[-1], lines[-3:]
    assert "Traceback" not in server.stderr
