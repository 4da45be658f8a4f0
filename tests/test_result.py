"""The result a person acts on: ranked first message, sections, plan file, handover, contacts."""

from __future__ import annotations

import datetime as dt
import io
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.channels.service import Triage
from bot.channels.terminal import Screen, TerminalChat
from bot.contacts import Contact
from bot.conversation.engine import Command, Engine, Press
from bot.conversation.flow import DONE
from bot.conversation.profiles import load_sample
from bot.conversation.render import telegram_length
from bot.editors.content_rules import CHECK_CONTACT, DEFAULT_LIMIT, FIRST_MESSAGE_LIMIT
from bot.editors.simulate import Session, walk
from bot.store import Store

from .conftest import MUTUAL_ANSWERS, ROOT, Clock, Walker, answer_all, codes

# The five profiles of issue 8, and the next steps each must lead with, in order.
RANKED = {
    "health-bid-this-month": ["bid_this_month", "tip_legal_complexity", "offer_legal"],
    "young-tiny-mutual": ["tip_no_partners", "network_peer", "route_start_small"],
    "mature-jv-bid-soon": ["route_bid_soon", "tip_timescales", "offer_bid_writing"],
    "commissioner": ["route_commissioner", "tool_consortia", "tool_pilots"],
    "charity-partner": ["route_vcse_partner", "before_choosing", "making_it_work"],
}


def finished(content, name: str, engine: Engine) -> Session:
    profile = load_sample(ROOT / "content" / "samples" / f"{name}.yaml", content.flow, name)
    session = Session(content, engine=engine)
    session.do("start", Command("start"))
    session.press("start", "go")
    session.answer_all(profile.answers)
    session.press("confirm", "ok")
    return session


@pytest.mark.parametrize("name", list(RANKED))
def test_the_five_profiles_get_a_short_ranked_first_message(content, name: str) -> None:
    for contact in (CHECK_CONTACT, Contact()):
        engine = Engine(content, contact=contact, handover=True)
        session = finished(content, name, engine)
        shown = [r for r in session.steps[-1].outcome.replies if r.text]
        (first,) = shown
        assert telegram_length(first.text) <= FIRST_MESSAGE_LIMIT
        assert sum(telegram_length(r.text) for r in shown) <= DEFAULT_LIMIT
        result = engine.result(session.conv)
        assert [s.id for s in result.steps] == RANKED[name]
        assert all(step.reasons for step in result.steps)
        assert result.code in first.text
        for placeholder in ("example.org", "0000 0000", "mpsp@"):
            assert placeholder not in first.text
        if contact.email:
            assert contact.email in first.text
        else:
            assert "@" not in first.text


def test_an_urgent_bid_offers_a_person_first_and_a_calm_one_does_not(content) -> None:
    engine = Engine(content, handover=True)
    urgent = finished(content, "health-bid-this-month", engine).steps[-1].outcome.replies[-1]
    assert urgent.buttons[0][0].label == "🙋 Ask the team to contact me"
    calm = finished(content, "young-tiny-mutual", engine).steps[-1].outcome.replies[-1]
    labels = [b.label for row in calm.buttons for b in row]
    assert (
        labels[0] != "🙋 Ask the team to contact me" and "🙋 Ask the team to contact me" in labels
    )
    # Without a team chat it is not offered at all, and a forged press changes nothing.
    plain = Engine(content)
    session = finished(content, "health-bid-this-month", plain)
    first = session.steps[-1].outcome.replies[-1]
    assert all("Ask the team" not in b.label for row in first.buttons for b in row)
    out = session.press("forged handover", "ho")
    assert out.notice and out.conversation == session.steps[-2].outcome.conversation


def test_sections_open_one_at_a_time_and_old_or_forged_ones_reshow(walker: Walker) -> None:
    walker.command("start")
    walker.tap("Start")
    answer_all(walker, MUTUAL_ANSWERS)
    walker.tap("Confirm")
    first = walker.screen
    out = walker.tap("Ways to partner")
    text = "\n".join(r.text for r in out.replies)
    assert text.startswith("<b>Ways to partner</b>")
    assert "Support the programme can offer" not in text  # one section, not the lot
    assert not out.notice and walker.state() == DONE
    # Forged section ids and sections this person does not have re-show where they are.
    step = walker.triage.store.load(walker.subject).step
    for data in (f"sec|{step}|nope", f"sec|{step}|tools", f"sec|{step}|" + "x" * 60):
        out = walker.send(Press(data))
        assert out.notice and "finished the partnerships check" in out.replies[0].text
    # After starting again, the old result's buttons are stale.
    walker.tap("Start a new check")
    old = next(b for row in first.buttons for b in row if b.label == "🧭 Your route")
    out = walker.send(Press(old.data or ""))
    assert out.notice.startswith("That button is from an earlier message")
    assert "Which of these best describes" in out.replies[0].text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag not in ("meta", "br", "link", "img"):
            self.stack.append(tag)
        self.sources += [v for k, v in attrs if k in ("src", "href") and v and tag != "a"]

    def handle_endtag(self, tag) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()


def test_the_plan_is_one_self_contained_page(content) -> None:
    engine = Engine(content, contact=CHECK_CONTACT)
    session = finished(content, "mature-jv-bid-soon", engine)
    out = session.press("plan", "pl")
    (reply,) = out.replies
    document = reply.document
    assert document is not None and document.mime == "text/html"
    assert document.filename == f"partnership-plan-{session.conv.code}.html"
    assert session.conv.code in reply.text  # the caption
    page = document.data.decode("utf-8")
    parser = _Tags()
    parser.feed(page)
    assert parser.stack == [] and parser.sources == []  # balanced, nothing fetched from outside
    assert '<meta name="viewport"' in page and "<script" not in page
    assert session.conv.code in page and "1 January 2026" in page  # the preview clock's date
    result = engine.result(session.conv)
    for section in result.sections:
        assert f"<h2>{section.title}</h2>" in page.replace("&#39;", "'")
    assert "not legal or financial advice" in page
    assert "How it was worked out" in page and "how well it went" in page
    assert CHECK_CONTACT.email in page


def test_handover_needs_consent_and_happens_once(content, store: Store) -> None:
    seq = codes()
    triage = Triage(
        store, Engine(content, handover=True), clock=Clock(), new_code=lambda: next(seq)
    )
    walker = Walker(triage)
    walker.command("start")
    walker.tap("Start")
    answer_all(walker, MUTUAL_ANSWERS)
    walker.tap("Confirm")
    ask_button = walker.button("Ask the team to contact me").data or ""
    ask = walker.tap("Ask the team to contact me").replies[0]
    assert "MPSP-TEST-0001" in ask.text and "Region: London" in ask.text
    assert "only if you tap the first button" in ask.text
    out = walker.tap("Not now")
    assert out.notice == "Nothing was sent." and not out.handover
    assert not any(r.audience == "team" for r in out.replies)
    walker.send(Press(ask_button))
    out = walker.tap("Send without my name")
    (team,) = [r for r in out.replies if r.audience == "team"]
    assert team.name_label is None and "MPSP-TEST-0001" in team.text
    assert out.handover and walker.triage.store.load(walker.subject).handover
    (row,) = store.db["responses"].rows
    assert row["handover"] is not None
    # Asked once: the result no longer offers it, and an old button posts nothing more.
    step = walker.triage.store.load(walker.subject).step
    again = walker.send(Press(f"hs|{step}|name"))
    assert again.notice.startswith("You have already asked")
    assert not any(r.audience == "team" for r in again.replies)
    assert walker.send(Press(ask_button)).notice.startswith("You have already asked")
    first = walker.send(Press(f"rs|{step}")).replies[0]
    assert "You asked the team to contact you." in first.text
    assert all("Ask the team" not in b.label for row in first.buttons for b in row)


def test_contacts_are_settings_and_unset_ones_become_plain_words(content) -> None:
    engine = Engine(content)
    session = finished(content, "health-bid-this-month", engine)
    first = session.steps[-1].outcome.replies[-1]
    assert "To reach them" not in first.text
    assert all(b.url is None for row in first.buttons for b in row)
    privacy = engine.handle(None, Command("privacy"), session.ctx).replies[0].text
    assert "ask the Mutuals Partnerships Support Programme" in privacy
    contact = Contact(email="team@mutuals.example-not.uk", website="https://mutuals.org.uk/")
    engine = Engine(content, contact=contact)
    first = finished(content, "health-bid-this-month", engine).steps[-1].outcome.replies[-1]
    assert "email team@mutuals.example-not.uk" in first.text
    assert any(b.url == "https://mutuals.org.uk/" for row in first.buttons for b in row)


def test_the_terminal_saves_the_plan_and_says_where(content, tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    out = io.StringIO()
    console = Screen(out, width=300)
    triage = Triage(store, Engine(content))
    chat = TerminalChat(triage, "t" * 64, console, lambda: "", tmp_path / "plans")
    walker = Walker(triage, "t" * 64)
    walker.command("start")
    walker.tap("Start")
    for label in ("A charity or other social enterprise", "partner with a Mutual", "Social care"):
        walker.tap(label)
    walker.tap("East Midlands")
    walker.tap("Skip")
    walker.tap("Confirm")
    chat.show(walker.tap("Full plan as a file"))
    (saved,) = (tmp_path / "plans").iterdir()
    assert saved.name.startswith("partnership-plan-MPSP-")
    assert saved.read_bytes().startswith(b"<!doctype html>")
    assert str(saved.resolve()) in out.getvalue()
    assert "Your full plan" in out.getvalue()
    store.close()


def test_the_stage_says_how_it_was_worked_out_in_proper_english(content) -> None:
    answers = {
        "org_type": "psm",
        "role": "finance",
        "service": "education",
        "region": "london",
        "staff": "s1_10",
        "turnover": "t1_5m",
        "years": "under_1",
        "confidence": "v3",
        "experience": ["none"],
        "appetite": "not_now",
        "barriers": ["none"],
        "support": ["nothing"],
        "live_bid": "none",
        "comments": "",
    }
    steps = walk(content, answers)
    engine = Engine(content)
    page = engine.plan(steps[-1].outcome.conversation, dt.date(2026, 12, 1)).data.decode()
    assert "came to 1 point out of 13" in page
    assert "partnering so far, how well it went and appetite to partner" in page
