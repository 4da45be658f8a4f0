"""The web page with JavaScript off: the whole journey, errors, CSRF, forged posts, privacy."""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
from dataclasses import replace
from pathlib import Path

import pytest

from bot.channels.web.result import blocked_by_csp, style_hashes
from bot.channels.web.security import CSP, JS_ENABLED_HASH, JS_ENABLED_SCRIPT
from bot.contacts import Contact

from .web_harness import Browser, WebApp, labels_of, read_result, read_section, running

# The MUTUAL_ANSWERS journey of the chat tests, as web form values.
MUTUAL = [
    ("org_type", ["psm"]),
    ("role", ["leadership"]),
    ("service", ["health"]),
    ("region", ["london"]),
    ("staff", ["s51_250"]),
    ("turnover", ["t5_20m"]),
    ("years", ["y5_10"]),
    ("confidence", ["v3"]),
    ("experience", ["informal", "sub_lead"]),
    ("success", ["v4"]),
    ("appetite", ["definitely"]),
    ("motivations", ["larger_contracts", "back_office"]),
    ("barriers", ["legal_complexity", "capacity"]),
    ("top_barrier", ["legal_complexity"]),
    ("support", ["commercial", "legal", "financial_modelling"]),
    ("live_bid", ["within_month"]),
    ("rc_service", ["yes"]),
    ("rc_control", ["yes"]),
    ("rc_profits", ["yes"]),
    ("rc_recent", ["no"]),
]
COMMENT = "We would like to hear about partners near us."


@pytest.fixture
async def site(content, tmp_path):
    app = await running(content, tmp_path)
    yield app
    await app.close()


@pytest.fixture
async def browser(site: WebApp):
    b = site.browser()
    yield b
    await b.close()


async def walk(browser: Browser, answers=MUTUAL, comment: str | None = COMMENT) -> None:
    await browser.start()
    for question, codes in answers:
        assert browser.url == f"/question/{question}", (browser.url, browser.page[-2000:])
        await browser.answer(*codes)
    assert browser.url == "/question/comments"
    await browser.type(comment or "")
    assert browser.url == "/check-answers"


async def test_whole_journey_with_back_change_and_result(browser: Browser, site: WebApp) -> None:
    start = await browser.get("/")
    assert browser.title == "Start – Partnerships check"
    assert site.store.db["conversations"].count == 0  # nothing stored before Start
    assert "Start now" in start
    await browser.start()
    assert browser.url == "/question/org_type"
    assert browser.title.startswith("Question 1 of ")
    assert browser.title.endswith(": Organisation – Partnerships check")
    assert "A Public Service Mutual" in labels_of(browser.page)
    await browser.answer("psm")
    assert browser.url == "/question/role"
    await browser.back()
    assert browser.url == "/question/org_type"
    assert re.search(r'value="psm" checked', browser.page)  # the answer is remembered
    await walk(browser)
    summary = browser.page
    assert browser.title == "Check your answers – Partnerships check"
    assert "Leadership team" in summary and COMMENT in summary
    assert "Tools of interest" not in summary  # only questions on their path
    # Change an answer that opens a follow-up: experience "None yet" drops the success
    # question; changing back to partnerships asks it again, then returns to the summary.
    await browser.change("experience")
    assert browser.url == "/question/experience"
    await browser.answer("none")
    assert browser.url == "/check-answers"
    assert "How well it went" not in browser.page
    await browser.change("experience")
    await browser.answer("jv_alliance")
    assert browser.url == "/question/success"
    await browser.answer("v2")
    assert browser.url == "/check-answers"
    assert "Contractual joint venture or alliance" in browser.page
    await browser.confirm()
    assert browser.url == "/result"
    code = re.search(r"MPSP-TEST-\d{4}", browser.page).group()
    assert browser.title == "Your results – Partnerships check"
    shown = read_result(browser.page)
    assert shown.code == code and shown.steps[0][0] == "Get help with your bid now"
    assert "Ask the team to contact me" not in browser.page  # Telegram only, for now
    response = await browser.client.get("/result/plan.html")
    plan = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="partnership-plan-{code}.html"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert code in plan and "Get help with your bid now" in plan and COMMENT not in plan
    (row,) = site.store.db["responses"].rows
    assert row["code"] == code and row["channel"] == "web"


async def test_same_result_as_the_chat(browser: Browser, site: WebApp, walker) -> None:
    from .conftest import MUTUAL_ANSWERS, answer_all

    await walk(browser)
    await browser.confirm()
    web = read_result(browser.page)
    walker.command("start")
    walker.tap("Start")
    answer_all(walker, MUTUAL_ANSWERS)
    walker.tap("Confirm")
    chat = walker.triage.store.load(walker.subject)
    (web_conv,) = [
        site.store.load(r["subject"])
        for r in site.store.db["conversations"].rows
        if r["subject"] != walker.subject
    ]
    assert web_conv.answers == chat.answers
    # What Engine.result gives for the chat's conversation is what the web page shows.
    result = walker.triage.engine.result(chat)
    assert web.stage == (f"Your stage: {result.readiness.title}", result.readiness.line)
    assert web.steps == [(s.title, s.text, "Why: " + ". ".join(s.reasons)) for s in result.steps]
    assert len(web.steps) == 3 and web.steps[0][0] == "Get help with your bid now"
    assert web.sections == [s.title for s in result.sections] and len(web.sections) >= 4
    assert web.links == [f"/result/{s.id}" for s in result.sections]
    # Each section on its own page, with the same items as the chat's section message.
    for link, section in zip(web.links, result.sections, strict=True):
        title, items = read_section(await browser.get(link))
        assert browser.status == 200 and browser.url == link
        assert title == section.title and items == [i.title for i in section.items]
    # Each transport shows its own conversation's code, drawn and stored the same way.
    code = re.compile(r"MPSP-TEST-\d{4}")
    assert code.fullmatch(web.code) and code.fullmatch(chat.code) and web.code != chat.code
    assert chat.code in walker.text
    stored = site.store.db.execute("select code from responses where channel = 'web'")
    assert [tuple(row) for row in stored] == [(web.code,)]
    # The plan file is the one the chat sends, but for the code.
    walker.tap("Full plan as a file")
    (sent,) = [r.document for r in walker.outcomes[-1].replies if r.document]
    response = await browser.client.get("/result/plan.html")
    downloaded = await response.read()
    assert downloaded.replace(web.code.encode(), b"CODE") == sent.data.replace(
        chat.code.encode(), b"CODE"
    )


async def test_result_shows_the_programme_contacts_never_placeholders(content, tmp_path) -> None:
    contact = Contact(
        email="team@mutuals.test", phone="+44 161 496 0999", hours="Monday to Friday, 9am to 5pm"
    )
    # A Telegram-style engine with the handover on: the web still shows contacts instead.
    site = await running(content, tmp_path, engine={"contact": contact, "handover": True})
    browser = site.browser()
    try:
        await walk(browser)
        await browser.confirm()
        page = browser.page
        assert 'href="mailto:team@mutuals.test"' in page and "+44 161 496 0999" in page
        assert "Monday to Friday, 9am to 5pm" in page and "and help with your bid now" in page
        assert "Ask the team to contact me" not in page and 'action="/handover' not in page
        assert "example.org" not in page and "0000" not in page
        assert site.store.db.execute("select handover from responses").fetchone()[0] is None
    finally:
        await browser.close()
        await site.close()
    # With no contacts set: plain words and the code, never a made-up contact.
    (tmp_path / "plain").mkdir()
    plain = await running(content, tmp_path / "plain")
    browser = plain.browser()
    try:
        await walk(browser)
        await browser.confirm()
        page = browser.page
        assert "mailto:" not in page and "Phone:" not in page
        assert "When you get in touch, quote your reference code" in page
        assert "the Mutuals Partnerships Support Programme" in page
    finally:
        await browser.close()
        await plain.close()


async def test_plan_download_passes_the_pages_policy(browser: Browser, site: WebApp) -> None:
    await walk(browser)
    await browser.confirm()
    response = await browser.client.get("/result/plan.html")
    plan = await response.text()
    csp = response.headers["Content-Security-Policy"]
    # The page's own policy (scripts, frames, forms as strict as every page) ...
    assert csp.replace(" " + " ".join(f"'{h}'" for h in style_hashes(plan)), "") == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    # ... allowing exactly the plan's inline stylesheet, by its hash, and nothing it blocks.
    (style,) = re.findall(r"<style>(.*?)</style>", plan, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}';" in csp and "unsafe-inline" not in csp
    assert blocked_by_csp(plan) == []
    # Pages keep the policy without it.
    page = await browser.client.get("/result")
    assert page.headers["Content-Security-Policy"] == CSP
    assert blocked_by_csp(plan + '<p style="color:red"><script>1</script>') == [
        'a style="..." attribute on <p> (use a class)',
        "a <script> element",
    ]


async def test_errors_follow_the_design_system(browser: Browser, site: WebApp) -> None:
    await browser.start()
    page = await browser.submit()  # nothing chosen
    assert browser.status == 400
    assert browser.title.startswith("Error: Question 1 of")
    assert "There is a problem" in page and 'href="#answer"' in page
    # The error names the question (its own words, from flows/triage.yaml).
    named = "Select which of these best describes your organisation"
    assert 'id="answer"' in page and page.count(named) == 2  # the summary and the field
    assert "Select an answer" not in page
    for _question, codes in MUTUAL[:7]:
        await browser.answer(*codes)
    assert browser.url == "/question/confidence"
    page = await browser.answer()
    assert "Select how confident you are of winning contracts on your own, from 1 to 5" in page
    await browser.answer("v3")
    assert browser.url == "/question/experience"
    page = await browser.answer()
    assert "Select the kinds of partnership you have been part of, or select ‘None yet’" in page
    page = await browser.answer("none", "informal")
    assert browser.status == 400
    assert "Select ‘None yet’ on its own" in page
    assert re.search(r'value="informal" checked', page) and re.search(r'value="none" checked', page)
    conv = site.store.load(next(iter(site.store.db["conversations"].rows))["subject"])
    assert "experience" not in conv.answers
    # The exclusive option comes last, after "or", marked for the JavaScript behaviour.
    assert page.index('govuk-checkboxes__divider">or<') < page.index('value="none"')
    assert 'data-behaviour="exclusive"' in page


async def test_text_limit_and_scrubbing(browser: Browser, site: WebApp) -> None:
    await browser.start()
    for code in ("commissioner",):
        await browser.answer(code)
    await browser.answer("pilots")
    await browser.answer("health")
    await browser.answer("london")
    assert browser.url == "/question/comments"
    assert "You can enter up to 1,000 characters" in browser.page or "1000" in browser.page
    page = await browser.type("x" * 1001)
    assert browser.status == 400 and "1,000 characters or fewer" in page
    assert "x" * 1001 in page  # their text is kept in the box
    await browser.type("Ring 07700 900123 or mail me@example.org")
    assert "[phone removed]" in browser.page and "07700" not in browser.page
    raw = b"".join(p.read_bytes() for p in Path(site.store.path).parent.iterdir())
    assert b"07700 900123" not in raw and b"me@example.org" not in raw


async def test_forged_stale_and_double_posts_reshow_the_current_question(
    browser: Browser, site: WebApp
) -> None:
    await browser.start()
    step, csrf = browser.field("step"), browser.field("csrf")
    await browser.answer("psm")
    assert browser.url == "/question/role"
    # The same form posted again (a double click, or Back in the browser then Continue).
    await browser.post(
        "/question/org_type",
        [("csrf", csrf), ("step", step), ("action", "answer"), ("answer", "vcse")],
    )
    assert browser.url == "/question/role" and "out of date" in browser.page
    # A forged option code.
    await browser.answer("ceo_of_everything")
    assert browser.url == "/question/role" and "out of date" in browser.page
    # A skipped step: posting a later question's form.
    await browser.post(
        "/question/region",
        [
            ("csrf", csrf),
            ("step", browser.field("step")),
            ("action", "answer"),
            ("answer", "london"),
        ],
    )
    assert browser.url == "/question/role"
    # Visiting another page's address shows where they are.
    await browser.get("/question/region")
    assert browser.url == "/question/role"
    await browser.get("/result")
    assert browser.url == "/question/role"
    # A stale Change link (from a summary page that is no longer current).
    await browser.change("org_type")
    assert browser.url == "/question/role"
    conv = site.store.load(next(iter(site.store.db["conversations"].rows))["subject"])
    assert conv.answers == {"org_type": "psm"}


async def test_csrf_missing_or_wrong_is_refused_at_once(browser: Browser, site: WebApp) -> None:
    await browser.get("/")
    csrf = browser.field("csrf")
    await browser.post("/start", [("step", "0")])
    assert browser.status == 403 and "could not be accepted" in browser.page
    await browser.post("/start", [("csrf", "0" * 64), ("step", "0")])
    assert browser.status == 403
    assert site.store.db["conversations"].count == 0
    # Another site's form, even with a token lifted from somewhere: refused.
    await browser.post("/start", [("csrf", csrf), ("step", "0")], Origin="https://evil.example")
    assert browser.status == 403
    await browser.post(
        "/start", [("csrf", csrf), ("step", "0")], **{"Sec-Fetch-Site": "cross-site"}
    )
    assert browser.status == 403
    assert site.store.db["conversations"].count == 0
    # A same-origin post with the right token is accepted.
    origin = str(site.server.make_url("")).rstrip("/")
    await browser.post(
        "/start",
        [("csrf", csrf), ("step", "0")],
        Origin=origin,
        **{"Sec-Fetch-Site": "same-origin"},
    )
    assert browser.status == 200 and browser.url == "/question/org_type"
    # A token from another browser's session does not work in this one.
    other = site.browser()
    await other.get("/")
    await browser.post(
        "/question/org_type",
        [("csrf", other.field("csrf")), ("step", "2"), ("action", "answer"), ("answer", "psm")],
    )
    assert browser.status == 403
    await other.close()
    conv = site.store.load(next(iter(site.store.db["conversations"].rows))["subject"])
    assert conv.answers == {}


async def test_two_sessions_never_see_each_others_answers(site: WebApp) -> None:
    ann, bob = site.browser(), site.browser()
    await ann.start()
    await bob.start()
    await ann.answer("psm")
    await bob.answer("commissioner")
    assert ann.url == "/question/role" and bob.url == "/question/commissioner_interest"
    await ann.back()
    await bob.back()
    assert re.search(r'value="psm" checked', ann.page) and not re.search(
        r'value="psm" checked', bob.page
    )
    assert re.search(r'value="commissioner" checked', bob.page)
    assert site.store.db["conversations"].count == 2
    await ann.close()
    await bob.close()


async def test_security_headers_on_every_response(browser: Browser, site: WebApp) -> None:
    await browser.get("/")
    csrf = browser.field("csrf")
    responses = [
        await browser.client.get("/"),
        await browser.client.get("/privacy"),
        await browser.client.get("/static/triage.css"),
        await browser.client.get("/no-such-page"),
        await browser.client.post("/start", data={"step": "0"}),
        await browser.client.post(
            "/start", data={"csrf": csrf, "step": "0"}, allow_redirects=False
        ),
        await browser.client.delete("/"),
    ]
    statuses = [r.status for r in responses]
    assert statuses == [200, 200, 200, 404, 403, 303, 405]
    for r in responses:
        csp = r.headers["Content-Security-Policy"]
        assert f"'{JS_ENABLED_HASH}'" in csp and "frame-ancestors 'none'" in csp
        assert "form-action 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
    cookie = responses[0].headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and cookie.startswith("triage=")
    assert "Secure" not in cookie  # plain HTTP on loopback: a __Host- cookie would be dropped
    page = await responses[0].text()
    assert JS_ENABLED_SCRIPT in page  # the one inline script, exactly as hashed


async def test_https_cookie_and_friendly_errors(content, tmp_path) -> None:
    site = await running(content, tmp_path, web_url="https://check.example.org")
    browser = site.browser()
    try:
        await browser.get("/")
        cookie = (await browser.client.get("/")).headers["Set-Cookie"]
        assert cookie.startswith("__Host-triage=") and "Secure" in cookie and "Path=/" in cookie
        assert "Domain" not in cookie
        big = await browser.client.post("/start", data={"csrf": "x", "text": "x" * 100_000})
        assert big.status == 413 and "too much to send" in await big.text()
        missing = await browser.client.get("/nothing-here")
        assert missing.status == 404 and "Page not found" in await missing.text()
        assert "Traceback" not in await missing.text()
    finally:
        await browser.close()
        await site.close()


async def test_crash_gives_a_friendly_500_and_one_log_line(
    browser, site, caplog, monkeypatch
) -> None:
    def broken(subject):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(
        site.app["web_check"] if False else next(iter(site.app.values())), "here", broken
    )
    with caplog.at_level(logging.ERROR):
        page = await browser.get("/")
    assert browser.status == 500 and "problem with the service" in page
    assert "Traceback" not in page and "disk on fire" not in page
    assert len(caplog.records) == 1 and "\n" not in caplog.records[0].getMessage()


async def test_rate_limits_answer_with_429(content, tmp_path) -> None:
    site = await running(content, tmp_path, web_session_rate=10)
    browser = site.browser()
    try:
        statuses = [(await browser.client.get("/privacy")).status for _ in range(14)]
        assert statuses[:10] == [200] * 10 and statuses[-1] == 429
        limited = await browser.client.get("/privacy")
        assert "too many requests" in await limited.text() and limited.headers["Retry-After"]
        other = site.browser()  # another browser at the same address is not held up
        assert (await other.client.get("/privacy")).status == 200
        await other.close()
    finally:
        await browser.close()
        await site.close()


async def test_forget_asks_first_and_keep_loses_nothing(browser: Browser, site: WebApp) -> None:
    """'Delete my answers' is a link to a question page; only its Delete posts (issue 18)."""
    await walk(browser, comment=None)
    question = browser.url
    page = await browser.get(question)
    # No page deletes in one tap: the footer links to the question.
    assert 'action="/forget"' not in page and 'href="/forget"' in page
    counts = (site.store.db["responses"].count, site.store.db["conversations"].count)
    # An old page's one-tap form (no confirm field) is shown the question: nothing deleted.
    response = await browser.client.post(
        "/forget", data={"csrf": browser.field("csrf")}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/forget"
    page = await browser.get("/forget")
    assert browser.title.startswith("Delete your answers?")
    assert "This cannot be undone." in page
    assert '<a class="govuk-link" href="/check">Keep</a>' in page
    await browser.get("/check")  # Keep: back where they were, with everything kept
    assert browser.url == question
    assert (site.store.db["responses"].count, site.store.db["conversations"].count) == counts
    assert browser.field("step")  # the same page, still answerable


async def test_forget_deletes_everything_and_the_cookie(browser: Browser, site: WebApp) -> None:
    await walk(browser)
    await browser.confirm()
    assert site.store.db["responses"].count == 1
    page = await browser.get("/forget")
    assert '<input type="hidden" name="confirm" value="delete">' in page
    response = await browser.client.post(
        "/forget", data={"csrf": browser.field("csrf"), "confirm": "delete"}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/deleted"
    assert (
        'triage=""' in response.headers["Set-Cookie"]
        or "Max-Age=0" in response.headers["Set-Cookie"]
    )
    assert site.store.db["responses"].count == 0 and site.store.db["conversations"].count == 0
    # Without the page's CSRF token nothing is deleted, as for every other form.
    other = site.browser()
    try:
        await walk(other)
        await other.confirm()
        await other.get("/forget")
        forged = await other.client.post(
            "/forget", data={"csrf": "0" * 64, "confirm": "delete"}, allow_redirects=False
        )
        assert forged.status == 403 and site.store.db["responses"].count == 1
    finally:
        await other.close()


async def test_database_and_logs_hold_no_address_agent_or_session_id(
    site: WebApp, caplog, tmp_path
) -> None:
    from bot.cli import configure_logging

    caplog.set_level(logging.DEBUG)
    configure_logging("DEBUG")
    agent = "Mozilla/5.0 (X11; Linux x86_64) UniqueAgent/31337"
    browser = site.browser()
    browser.client._session.headers["User-Agent"] = agent
    await walk(browser)
    await browser.confirm()
    sid = browser.client.session.cookie_jar.filter_cookies(site.server.make_url("/"))[
        "triage"
    ].value
    await browser.close()
    site.store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    blobs = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("triage"))
    for needle in (sid, agent, "UniqueAgent", "127.0.0.1"):
        assert needle.encode() not in blobs, needle
        assert needle not in caplog.text, needle


def test_report_counts_both_channels_under_the_10_5_rule(content, tmp_path) -> None:
    import datetime as dt

    from bot.disclosure import Rules
    from bot.store import Store
    from bot.team.analytics import Analysis, load_responses
    from bot.team.demo import generate

    store = Store(tmp_path / "demo.db")
    try:
        generate(store, content, 120, seed=3, today=dt.date(2026, 11, 22))
        responses = load_responses(store)
        tables = Analysis(content, Rules()).tables(store, responses, None)
    finally:
        store.close()
    (channel,) = [t for t in tables if t.id == "channel"]
    assert channel.rows == ["Telegram (or the terminal)", "Web page"]
    counts = [row[0].count for row in channel.cells]
    assert counts == [95, 25]  # 96 and 24, each rounded to the nearest 5
    assert all(c is None or (c >= 10 and c % 5 == 0) for c in counts)


def test_web_settings() -> None:
    from bot.settings import SettingsError, load_settings

    assert load_settings({}).web_https is False
    assert load_settings({"TRIAGE_WEB_URL": "https://check.example.org/"}).web_https
    for bad in (
        {"TRIAGE_WEB_URL": "check.example.org"},
        {"TRIAGE_WEB_URL": "https://check.example.org/triage"},
        {"TRIAGE_WEB_PROXY": "1"},
        {"TRIAGE_WEB_PROXY": "maybe", "TRIAGE_WEB_URL": "https://a.example"},
        {"TRIAGE_WEB_SESSION_RATE": "2"},
    ):
        with pytest.raises(SettingsError):
            load_settings(bad)


def test_the_web_page_never_imports_telegram() -> None:
    import subprocess
    import sys

    code = (
        "import sys, bot.channels.web.app, bot.channels.web.pages;"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'telegram'"
        " or m.startswith('bot.channels.telegram')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_browser_back_shows_earlier_questions_and_a_change_carries_on(
    browser: Browser, site: WebApp
) -> None:
    # Experience "None yet" leaves out the success question.
    path = [(q, ["none"] if q == "experience" else c) for q, c in MUTUAL if q != "success"]
    await browser.start()
    for _question, codes in path[: path.index(("barriers", ["legal_complexity", "capacity"]))]:
        await browser.answer(*codes)
    assert browser.url == "/question/barriers"
    # The browser's Back three times: each earlier question, with its answer, at its address.
    shown = []
    for question, code in (("motivations", "larger_contracts"), ("appetite", "definitely")):
        await browser.get(f"/question/{question}")
        assert browser.status == 200 and browser.url == f"/question/{question}"
        assert "out of date" not in browser.page
        assert re.search(rf'value="{code}" checked', browser.page)
        shown.append(browser.title)
    await browser.get("/question/experience")
    assert browser.url == "/question/experience" and "out of date" not in browser.page
    assert re.search(r'value="none" checked', browser.page)
    # Its back link goes further back, by address.
    assert '<a href="/question/confidence" class="govuk-back-link">' in browser.page
    # A question not yet reached, or not on their path, still shows where they are.
    for elsewhere in ("/question/support", "/question/success", "/question/nope"):
        await browser.get(elsewhere)
        assert browser.url == "/question/barriers" and "out of date" in browser.page
    await browser.get("/question/experience")
    # A refused answer is shown on that question and changes nothing.
    await browser.answer()
    assert browser.status == 400 and browser.url == "/question/experience"
    assert 'href="/question/confidence" class="govuk-back-link"' in browser.page
    # Changed: the question it opens is asked, then they are back where they were.
    await browser.answer("informal")
    assert browser.url == "/question/success"
    await browser.answer("v4")
    assert browser.url == "/question/barriers"
    # An old form from before the change is refused, as any stale form is.
    await browser.get("/question/appetite")
    step = browser.field("step")
    await browser.answer("not_now")
    assert browser.url == "/question/barriers"
    await browser.post(
        "/question/appetite",
        [
            ("csrf", browser.field("csrf")),
            ("step", step),
            ("action", "answer"),
            ("answer", "might"),
        ],
    )
    assert browser.url == "/question/barriers" and "out of date" in browser.page
    for _question, codes in path[path.index(("barriers", ["legal_complexity", "capacity"])) :]:
        await browser.answer(*codes)
    await browser.type("")
    assert browser.url == "/check-answers"
    assert "Informal: agreement or network" in browser.page and "How well it went" in browser.page
    # From the summary, Back to the last question and on returns to the summary.
    await browser.get("/question/comments")
    assert browser.status == 200 and browser.url == "/question/comments"
    await browser.type("Changed from the browser's Back.")
    assert browser.url == "/check-answers"
    await browser.confirm()
    assert browser.url == "/result"
    conv = site.store.load(next(iter(site.store.db["conversations"].rows))["subject"])
    assert conv.answers["experience"] == ["informal"] and conv.answers["success"] == "v4"
    assert conv.answers["appetite"] == "not_now" and "motivations" not in conv.answers
    # Once finished, earlier questions are closed: their addresses show the result.
    await browser.get("/question/experience")
    assert browser.url == "/result"


def test_a_question_without_its_own_error_is_named_by_its_label(content) -> None:
    from bot.channels.web.pages import load_pages
    from bot.conversation.engine import Choice, Screen

    pages = load_pages(content)
    for kind, extra, said in (
        ("single", {}, "Select an answer for ‘Region’"),
        ("scale", {"scale": {"min": 0, "max": 3}}, "Select a number from 0 to 3 for ‘Region’"),
        ("multi", {}, "Select at least one answer for ‘Region’"),
        (
            "multi",
            {"choices": (Choice("a", "A"), Choice("none", "None yet", exclusive=True))},
            "Select all that apply for ‘Region’, or select ‘None yet’",
        ),
        ("text", {}, "Enter your answer for ‘Region’"),
    ):
        screen = Screen(page="question", step=1, kind=kind, label="Region", **extra)
        assert pages.error_message(screen, "required", None) == said
        written = replace(screen, error="Select where you work")
        assert pages.error_message(written, "required", None) == "Select where you work"


def test_content_check_refuses_a_broken_question_error(tmp_path: Path) -> None:
    import shutil

    from bot.editors.checker import check_content

    from .conftest import ROOT

    for name in ("flows", "templates", "content"):
        shutil.copytree(ROOT / name, tmp_path / name)
    flow = tmp_path / "flows" / "triage.yaml"
    text = flow.read_text(encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t == "  - id: role")
    wrong = 'error: "Select your {role}"'
    flow.write_text(text.replace('error: "Select your role"', wrong), encoding="utf-8")
    report = check_content(tmp_path, quick=True, pool_size=40)
    (found,) = [str(p) for p in report.errors]
    said = "`error` uses {role}; this question can use: none"
    assert found.startswith(f"flows/triage.yaml:{line}: ") and said in found, found
    # The schema's other rules, straight from the model.
    from pydantic import ValidationError

    from bot.conversation.flow import Question

    base = {"id": "q", "label": "Q", "text": "Which?", "error": "Select one"}
    assert Question(kind="scale", scale={"low": "a", "high": "b"}, **base).error
    for wrong_error, kind, said in (
        ("Select one.", "text", "no full stop"),
        ("Select {min}", "text", "can use: none"),
        ("Select one", "text", "optional question is never refused"),
    ):
        extra = {"optional": True} if "optional" in said else {}
        with pytest.raises(ValidationError, match=said):
            Question(kind=kind, **{**base, "error": wrong_error, **extra})


def words_in_main(page: str) -> int:
    main = re.search(r"<main\b.*?</main>", page, re.S).group()
    main = re.sub(r"<(script|style)\b.*?</\1>", " ", main, flags=re.S)
    return len(html.unescape(re.sub(r"<[^>]+>", " ", main)).split())


async def test_result_page_is_short_with_each_section_on_its_own_page(
    browser: Browser, site: WebApp
) -> None:
    await browser.start()
    await browser.get("/result/route")  # not finished: where they are
    assert browser.url == "/question/org_type" and "out of date" in browser.page
    await walk(browser)
    await browser.get("/result/route")
    assert browser.url == "/check-answers"
    await browser.confirm()
    page = browser.page
    result = site.triage.engine.result(
        site.store.load(next(iter(site.store.db["conversations"].rows))["subject"])
    )
    # What the phone shows first, and links: no section's items on the page itself.
    assert words_in_main(page) < 450, words_in_main(page)  # was 1,735
    shown = read_result(page)
    assert shown.code == result.code and len(shown.steps) == 3 and shown.stage
    assert shown.links == [f"/result/{s.id}" for s in result.sections]
    h3s = [html.unescape(t) for t in re.findall(r"<h3[^>]*>(.*?)</h3>", page)]
    assert h3s == [s.title for s in result.steps]
    # The ranked steps link to the section holding more.
    assert f'href="/result/{result.steps[0].section}"' in page
    # Each section is its own page (GET), with a way back; an unknown one is not found.
    section = result.sections[1]
    title, items = read_section(await browser.get(f"/result/{section.id}"))
    assert browser.status == 200 and title == section.title
    assert items == [i.title for i in section.items]
    assert browser.title == f"{section.title} – Partnerships check"
    assert '<a href="/result" class="govuk-back-link">' in browser.page
    assert words_in_main(browser.page) < words_in_main(page) * 3
    await browser.get("/result/nothing_here")
    assert browser.status == 404 and "Page not found" in browser.page
    # Only for a finished result of this browser: another browser, or a new check, is sent
    # to where it is.
    other = site.browser()
    await other.get(f"/result/{section.id}")
    assert other.url == "/" and section.title not in other.page
    await browser.get("/result")
    await browser.submit(action="")  # Start a new check
    assert browser.url == "/question/org_type"
    await browser.get(f"/result/{section.id}")
    assert browser.url == "/question/org_type"
    await other.close()  # last: it closes the test server too
