"""/metrics: counts an operator can watch, and no identifier anywhere (scanned after a walk)."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.channels.web.app import METRICS_RUNNER
from bot.ops.metrics import CHANNELS, FAILURES, METHODS, Metrics, listening_port
from bot.privacy import pseudonym

from .conftest import MUTUAL_ANSWERS
from .fake_telegram import FakeTelegram, Person
from .telegram_harness import SECRET, TOKEN, RunningBot
from .test_telegram import begin, walk
from .test_web import COMMENT
from .test_web import walk as walk_web
from .web_harness import running

ALICE = Person(
    user_id=7_310_442_019, first_name="Philippa", username="pip_metrics_x", last_name="Oyelaran"
)
BOB = Person(
    user_id=7_310_442_020, first_name="Barnaby", username="barnaby_blocks", last_name="Quill"
)


async def scrape(port: int) -> str:
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return await resp.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


ROUTES = re.compile(r"^(/|/[a-z/-]*(\{question\})?|\(no route\))$")
ALLOWED = {
    "method": METHODS | {"other"},
    "kind": FAILURES | {"other"},
    "channel": CHANNELS | {"other"},
    "result": {"handled", "failed"},
    "queue": {"inbox", "outbox"},
    "status": {"2xx", "3xx", "4xx", "5xx"},
    # Python's own metrics (process, platform, gc).
    "generation": {"0", "1", "2"},
    "implementation": {"CPython"},
    "major": {"3"},
    "minor": {"11", "12", "13", "14"},
    "patchlevel": {str(n) for n in range(40)},
    "version": None,  # python_info's version, checked below
}


def assert_counts_only(text: str, secrets: list[str]) -> None:
    """No secret or identifier anywhere; every label value from its fixed list."""
    lowered = text.lower()
    for secret in secrets:
        assert secret and secret.lower() not in lowered, secret
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for label, got in sample.labels.items():
                if label == "route":
                    assert ROUTES.match(got), got
                elif label == "version":
                    assert re.fullmatch(r"3\.\d+\.\d+", got), got
                else:
                    assert label in ALLOWED and got in ALLOWED[label], (label, got)


async def test_bot_metrics_after_a_walk_count_and_identify_no_one(tmp_path: Path, content) -> None:
    telegram = FakeTelegram()
    metrics = Metrics()
    bot = await RunningBot(
        telegram, tmp_path / "triage.db", content, metrics=metrics, metrics_port=0
    ).start()
    try:
        port = bot.bot.metrics_port
        assert port
        before = samples(await scrape(port))
        assert value(before, "triage_checks_started_total", channel="telegram") == 0
        await begin(telegram, bot, ALICE)
        await walk(telegram, bot, ALICE, MUTUAL_ANSWERS[:5])
        # One 502 (retried), and one 429 (a second message to the chat too soon).
        telegram.fail_next["sendMessage"] = 1
        telegram.limits = (1000.0, 0.5)
        await walk(telegram, bot, ALICE, MUTUAL_ANSWERS[5:7])
        telegram.limits = None
        await walk(telegram, bot, ALICE, MUTUAL_ANSWERS[7:])
        telegram.tap(ALICE, "Confirm")
        await bot.settle()
        telegram.blocked.add(BOB.chat_id)
        telegram.send_text(BOB, "/start")
        await bot.settle()
        text = await scrape(port)
        found = samples(text)
        assert value(found, "triage_checks_started_total", channel="telegram") == 1
        assert value(found, "triage_checks_finished_total", channel="telegram") == 1
        assert value(found, "triage_updates_handled_total", result="handled") >= 20
        assert value(found, "triage_messages_sent_total", method="sendMessage") >= 15
        assert value(found, "triage_messages_sent_total", method="editMessageText") >= 1
        assert value(found, "triage_telegram_429_total") >= 1
        assert value(found, "triage_send_paused_seconds_total") >= 1.0
        assert value(found, "triage_send_failures_total", kind="retried") >= 1
        assert value(found, "triage_send_failures_total", kind="blocked") == 1
        assert value(found, "triage_inbox_depth") == 0 and value(found, "triage_outbox_depth") == 0
        assert value(found, "triage_failed_rows", queue="outbox") == 1
        # Scan it as the privacy tests scan logs: every id, name, pseudonym, code and text.
        store = bot.store
        code = store.conn.execute("SELECT code FROM responses").fetchone()[0]
        subjects = [r[0] for r in store.conn.execute("SELECT subject FROM conversations")]
        secrets = [
            TOKEN,
            TOKEN.split(":")[1],
            SECRET,
            code,
            code.replace("-", ""),
            MUTUAL_ANSWERS[-1][1],
            "partners near us",
            *subjects,
        ]
        for person in (ALICE, BOB):
            secrets += [
                str(person.user_id),
                person.first_name,
                person.last_name,
                person.username,
                pseudonym(SECRET, str(person.user_id)),
                pseudonym(SECRET, person.user_id),
            ]
        assert subjects  # there was something to look for
        assert_counts_only(text, secrets)
    finally:
        await bot.close()


async def test_web_metrics_count_pages_and_checks_and_identify_no_one(
    tmp_path: Path, content
) -> None:
    # Metrics on an ephemeral port of their own.
    site = await running(content, tmp_path, metrics=Metrics(), metrics_port=0)
    browser = site.browser()
    try:
        await walk_web(browser)
        await browser.confirm()
        await browser.get("/privacy")
        await browser.get("/question/nonsense")
        await browser.get("/no/such/page")
        port = listening_port(site.app[METRICS_RUNNER])
        assert port and port != site.server.port
        text = await scrape(port)
        found = samples(text)
        assert value(found, "triage_checks_started_total", channel="web") == 1
        assert value(found, "triage_checks_finished_total", channel="web") == 1
        pages = "triage_web_pages_served_total"
        assert value(found, pages, route="/question/{question}", status="2xx") >= 10
        assert value(found, pages, route="/result", status="2xx") >= 1
        assert value(found, pages, route="(no route)", status="4xx") == 1
        cookie = next(iter(browser.client.session.cookie_jar)).value
        code = site.store.conn.execute("SELECT code FROM responses").fetchone()[0]
        subjects = [r[0] for r in site.store.conn.execute("SELECT subject FROM conversations")]
        assert subjects
        assert_counts_only(text, [cookie, code, COMMENT, "nonsense", *subjects, SECRET])
    finally:
        await browser.close()
        await site.close()
