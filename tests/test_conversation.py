"""The conversation, end to end through the real engine and store (no Telegram)."""

from __future__ import annotations

import re

import pytest

from bot.conversation.engine import Outcome, Press, Unsupported
from bot.conversation.flow import DONE, SUMMARY, WELCOME
from bot.conversation.render import MESSAGE_LIMIT, plain_text, tag_problems, telegram_length

from .conftest import MUTUAL_ANSWERS, Walker, answer_all


def check_outcome(outcome: Outcome) -> None:
    for reply in outcome.replies:
        assert telegram_length(reply.text) <= MESSAGE_LIMIT
        assert not tag_problems(reply.text), (tag_problems(reply.text), reply.text)
        for row in reply.buttons:
            for button in row:
                if button.data is not None:
                    assert len(button.data.encode()) <= 64


@pytest.fixture(autouse=True)
def _every_reply_is_well_formed(walker: Walker):
    yield
    for outcome in walker.outcomes:
        check_outcome(outcome)


def start(walker: Walker) -> None:
    walker.command("start")
    walker.tap("Start")


def count(store, table: str) -> int:
    return store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# ---- welcome and consent ----------------------------------------------------------------


def test_nothing_is_stored_before_start(walker: Walker) -> None:
    out = walker.command("start")
    assert "not legal or financial advice" in out.replies[0].text
    assert [b.label for b in walker.buttons()] == ["▶️ Start", "🔒 Privacy notice", "Not now"]
    walker.tap("Privacy notice")
    assert "Privacy notice" in walker.outcomes[-1].replies[0].text
    walker.type("hello?")
    walker.tap("Not now")
    assert "Nothing has been saved" in walker.last_texts()[0]
    assert count(walker.triage.store, "conversations") == 0
    assert count(walker.triage.store, "progress") == 0


def test_start_asks_the_first_question_with_progress(walker: Walker) -> None:
    start(walker)
    assert walker.state() == "org_type"
    assert "Question 1 of 21" in walker.text
    assert walker.outcomes[-1].replies[0].edit  # the welcome loses its buttons


# ---- complete walks through every branch --------------------------------------------------


def test_mutual_walk_to_result(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS)
    assert walker.state() == SUMMARY
    summary = walker.text
    assert "<b>4. Region:</b> London" in summary
    assert "Informal: agreement or network, Subcontracting as the lead" in summary
    assert "4 out of 5" in summary
    assert "We would like to hear about partners near us." in summary

    out = walker.tap("Confirm")
    assert walker.state() == DONE
    (first,) = [r for r in out.replies if r.text]  # one short first message, no more
    code = out.completion.code
    assert code in first.text
    assert telegram_length(first.text) <= 1_200
    # The stage in one line, then the next steps ranked: the live bid, the biggest barrier,
    # then the support that answers it; each says why.
    assert "Your stage: Partnering strategically." in first.text
    order = [
        first.text.index(title)
        for title in (
            "Get help with your bid now",
            "Tip: make the legal side smaller",
            "Legal advice on partnership agreements",
        )
    ]
    assert order == sorted(order)
    assert "Why: Live opportunity: Yes, due within a month" in first.text
    assert "Why: Biggest barrier: Legal arrangements are complex" in first.text
    # Everything else is behind buttons, one section each.
    labels = [b.label for row in first.buttons for b in row]
    assert "🤝 Support on offer" in labels and "📄 Full plan as a file" in labels
    support = walker.tap("Support on offer")
    text = "\n".join(r.text for r in support.replies)
    for title in (
        "Commercial advice",
        "Legal advice on partnership agreements",
        "Costing a joint bid",
    ):
        assert title in text
    assert "Why: Support wanted: Legal advice" in text
    assert "Help writing a joint bid" not in text
    route = "\n".join(r.text for r in walker.tap("Your route").replies)
    assert "Your route: firm up what works" in route
    network = "\n".join(r.text for r in walker.tap("Other Mutuals").replies)
    assert "The Mutuals peer network" in network
    # Every recommendation carries a reason.
    assert all(rec[2] for rec in out.completion.recommendations)


def test_completed_response_is_stored_as_countable_rows(walker: Walker) -> None:
    start(walker)
    answer_all(walker, [*MUTUAL_ANSWERS[:-1], ("type", "Ring 07700 900123 or jo@example.com")])
    walker.tap("Confirm")
    store = walker.triage.store
    (response,) = store.db["responses"].rows
    assert re.match(r"^MPSP-", response["code"])
    rows = list(store.db.query("SELECT question, option, value FROM answers ORDER BY rowid"))
    experience = [r["option"] for r in rows if r["question"] == "experience"]
    assert experience == ["informal", "sub_lead"]
    assert {"question": "confidence", "option": "v3", "value": 3} in rows
    assert {"question": "support", "option": "legal", "value": None} in rows
    (text,) = store.db["response_text"].rows
    assert "07700" not in text["text"] and "jo@example.com" not in text["text"]
    assert "[phone removed]" in text["text"] and "[email removed]" in text["text"]
    assert count(store, "recommendations") >= 5
    assert response["content_version"] == walker.triage.engine.content.digest


@pytest.mark.parametrize(
    ("org", "steps", "route"),
    [
        (
            "Planning to spin out",
            [("tap", "Just exploring the idea")],
            "Help for staff planning to spin out",
        ),
        (
            "A commissioner or public body",
            [("tick", "Running a pilot")],
            "Working with Mutuals as a commissioner",
        ),
        (
            "A charity or other social enterprise",
            [("tap", "partner with a Mutual")],
            "Partnering with a Mutual",
        ),
        ("Something else", [("tap", "Not sure yet")], "How partnerships between providers work"),
    ],
)
def test_non_mutuals_get_a_short_relevant_path(walker: Walker, org, steps, route) -> None:
    start(walker)
    walker.tap(org)
    # A spin-out further along may be asked the reserved contract's three tests (issue 17).
    assert f"Question 2 of {8 if org == 'Planning to spin out' else 5}" in walker.text
    answer_all(walker, [*steps, ("tap", "Education"), ("tap", "North East"), ("skip",)])
    assert walker.state() == SUMMARY
    assert walker.text.count("</b>") == 6  # heading + five answers
    out = walker.tap("Confirm")
    result = "\n".join(r.text for r in out.replies)
    assert route in result
    assert "Why: " in result


def test_no_experience_skips_success_and_not_now_skips_motivations(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS[:8])
    assert "Question 9 of 21" in walker.text
    walker.tick("None yet")
    walker.tap("Done")
    assert walker.state() == "appetite"
    assert "Question 10 of 20" in walker.text
    walker.tap("Not right now")
    assert walker.state() == "barriers"
    assert "Question 11 of 19" in walker.text  # motivations gone; biggest barrier still possible
    walker.tick("Cost of setting one up")
    walker.tap("Done")
    assert walker.state() == "support"  # one barrier: no "biggest" question
    assert "Question 12 of 18" in walker.text  # the reserved contract's tests still possible
    answer_all(walker, [("tick", "Nothing right now"), ("tap", "Not at the moment"), ("skip",)])
    assert walker.state() == SUMMARY
    result = "\n".join(r.text for r in walker.tap("Confirm").replies)
    assert "When the time is right" in result
    assert "Keep in touch" in result
    assert "Tip: keep set-up costs in proportion" in result  # the only barrier is the biggest
    assert "Ready to partner" not in result and "Partnering strategically" not in result


def test_biggest_barrier_offers_only_the_chosen_ones(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS[:12])
    walker.tick("Lack of legal expertise", "No seed funding", "Sharing ideas with rivals")
    walker.tap("Done")
    assert walker.state() == "top_barrier"
    labels = [b.label for b in walker.buttons()]
    assert labels == [
        "Lack of legal expertise",
        "No seed funding",
        "Sharing ideas with rivals",
        "⬅️ Back",
    ]


# ---- back and summary edits ---------------------------------------------------------------


def test_back_on_every_question_returns_to_the_previous_one(walker: Walker) -> None:
    start(walker)
    visited = []
    for step in MUTUAL_ANSWERS[:-1]:
        visited.append(walker.state())
        answer_all(walker, [step])
    assert walker.state() == "comments"
    for expected in ["comments", *reversed(visited)]:
        assert walker.state() == expected
        out = walker.tap("Back")
        assert out.replies[0].edit and not out.replies[0].text  # old buttons removed
    assert walker.state() == WELCOME
    # Answers survive going back; the earlier choice is marked.
    walker.tap("Start")
    assert any(b.label == "✅ A Public Service Mutual" for b in walker.buttons())


def test_back_from_a_multi_select_discards_unconfirmed_ticks(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS[:9])
    walker.tap("Back")  # from success to experience, with the saved ticks
    assert "✅ Informal: agreement or network" in [b.label for b in walker.buttons()]
    walker.tick("New legal entity")
    walker.tap("Back")
    walker.tap("3")  # confidence again
    assert "▫️ New legal entity (company, CIC, LLP)" in [b.label for b in walker.buttons()]


def test_summary_change_returns_to_summary(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS)
    walker.tap("✏️ Region")
    assert walker.state() == "region"
    walker.tap("South West")
    assert walker.state() == SUMMARY
    assert "Region:</b> South West" in walker.text


def test_summary_change_that_opens_a_branch_asks_the_new_question(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS)
    walker.tap("✏️ Partnering so far")
    walker.tick("None yet")
    walker.tap("Done")
    assert walker.state() == SUMMARY
    assert "How well it went" not in walker.text
    walker.tap("✏️ Partnering so far")
    walker.tick("New legal entity")
    walker.tap("Done")
    assert walker.state() == "success"  # newly on the path, so asked
    walker.tap("5")
    assert walker.state() == SUMMARY
    assert "How well it went:</b> 5 out of 5" in walker.text


def test_changing_barriers_re_asks_the_biggest_when_it_no_longer_fits(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS)
    walker.tap("✏️ Barriers")
    walker.tick("Legal arrangements are complex", "No seed funding")  # untick one, tick another
    walker.tap("Done")
    assert walker.state() == "top_barrier"
    walker.tap("No seed funding")
    assert walker.state() == SUMMARY


def test_back_while_changing_from_summary_returns_to_summary(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS)
    walker.tap("✏️ Service area")
    walker.tap("Back")
    assert walker.state() == SUMMARY
    walker.tap("Back")  # from the summary: the last question, then the summary again
    assert walker.state() == "comments"
    walker.tap("Back")
    assert walker.state() == SUMMARY


# ---- multi-select mechanics -----------------------------------------------------------------


def test_ticks_edit_the_message_in_place_and_exclusive_options_clear(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS[:8])
    out = walker.tap("Informal")
    assert out.replies[0].edit and len(out.replies) == 1
    walker.tap("None yet")
    ticked = [b.label for b in walker.buttons() if b.label.startswith("✅")]
    assert ticked == ["✅ None yet"]
    walker.tap("Subcontracting as the lead")
    ticked = [b.label for b in walker.buttons() if b.label.startswith("✅")]
    assert ticked == ["✅ Subcontracting as the lead"]
    walker.tap("Subcontracting as the lead")  # untick
    out = walker.tap("Done")
    assert out.notice == "Tick at least one option first, then tap Done."
    assert walker.state() == "experience"


# ---- commands at any point ------------------------------------------------------------------


def test_help_and_privacy_show_the_current_question_again(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS[:3])
    out = walker.command("help")
    assert "/restart" in out.replies[0].text
    assert "Where in England" in out.replies[1].text
    out = walker.command("privacy")
    assert "UK GDPR" in out.replies[0].text
    assert "Where in England" in out.replies[1].text
    assert walker.state() == "region"


def test_returning_person_can_continue_or_start_again(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS[:4])
    out = walker.command("start")
    assert "question 5 of 21 (Staff)" in out.replies[0].text
    walker.tap("Carry on")
    assert walker.state() == "staff"
    walker.command("start")
    walker.tap("Start again")
    assert walker.state() == "org_type"
    assert walker.triage.store.load(walker.subject).answers == {}


def test_restart_and_cancel(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS[:5])
    walker.command("restart")
    assert walker.state() == "org_type"
    assert "Question 1 of" in walker.text
    out = walker.command("cancel")
    assert "deleted" in out.replies[0].text
    assert walker.state() is None
    out = walker.command("cancel")
    assert "nothing in progress" in out.replies[0].text


def test_forget_erases_conversation_and_responses(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS)
    walker.tap("Confirm")
    store = walker.triage.store
    assert count(store, "responses") == 1
    walker.command("forget")
    out = walker.tap("Delete")
    assert "deleted" in out.replies[-1].text
    for table in (
        "responses",
        "answers",
        "response_text",
        "recommendations",
        "response_owners",
        "conversations",
    ):
        assert count(store, table) == 0, table


def _rows(store) -> dict[str, int]:
    tables = ("responses", "answers", "response_owners", "conversations")
    return {table: count(store, table) for table in tables}


def test_forget_asks_first_and_keep_loses_nothing(walker: Walker) -> None:
    """/forget asks once (Delete / Keep); Keep returns to the same question, all kept."""
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS[:3])
    where, answers = walker.state(), walker.triage.store.load(walker.subject).answers
    out = walker.command("forget")
    assert out.forget is False and walker.state() == where  # nothing deleted yet
    assert "Delete your answers? This cannot be undone." in plain_text(out.replies[0].text)
    assert [b.label for b in walker.buttons()] == ["Delete", "Keep"]
    out = walker.tap("Keep")
    assert walker.state() == where
    assert walker.triage.store.load(walker.subject).answers == answers
    assert "Question 4 of" in out.replies[-1].text  # back where they were
    answer_all(walker, MUTUAL_ANSWERS[3:])
    walker.tap("Confirm")
    store = walker.triage.store
    before = _rows(store)
    walker.command("forget")
    walker.tap("Keep")
    assert _rows(store) == before and walker.state() == "done"


def test_forget_confirmation_stale_and_repeated_taps_delete_nothing_new(walker: Walker) -> None:
    """A Delete tap from before the person moved on, or from before a new check, is refused."""
    start(walker)
    walker.command("forget")
    old_delete = walker.button("Delete").data
    walker.tap("Keep")
    answer_all(walker, MUTUAL_ANSWERS[:1])  # moved on: the question is now stale
    out = walker.send(Press(old_delete or ""))
    assert out.forget is False and out.notice and walker.state() is not None
    walker.command("forget")
    delete = walker.button("Delete").data or ""
    out = walker.send(Press(delete))
    assert out.forget is True and walker.state() is None
    again = walker.send(Press(delete))  # tapped twice: nothing more happens
    assert again.forget is False and walker.state() is None
    start(walker)  # a new check: the old Delete must not touch it
    out = walker.send(Press(delete))
    assert out.forget is False and walker.state() is not None


def test_after_finishing_start_offers_results_or_a_new_check(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS)
    code = walker.tap("Confirm").completion.code
    out = walker.command("start")
    assert code in out.replies[0].text
    out = walker.tap("Show my results again")
    assert any("Your next steps" in r.text and code in r.text for r in out.replies)
    walker.tap("Start a new check")
    assert walker.state() == "org_type"


# ---- anything unexpected gets a friendly re-ask -------------------------------------------------


def test_text_where_a_button_is_expected(walker: Walker) -> None:
    start(walker)
    out = walker.type("we are a mutual")
    (reply,) = out.replies
    assert reply.text.startswith("I can't read a typed answer here.")
    assert "Which of these best describes" in reply.text
    assert reply.buttons
    assert walker.state() == "org_type"


def test_media_and_unknown_commands(walker: Walker) -> None:
    start(walker)
    out = walker.send(Unsupported("photo"))
    assert "only read button taps" in out.replies[0].text
    out = walker.command("nonsense")
    assert "don't know that command" in out.replies[0].text
    assert walker.state() == "org_type"


def test_stale_button_reshows_the_current_question(walker: Walker) -> None:
    start(walker)
    old = walker.screen
    walker.tap("A Public Service Mutual")
    walker.tap("Finance")
    out = walker.send(Press(old.buttons[0][0].data))  # org question, two steps ago
    assert out.notice.startswith("That button is from an earlier message")
    assert "Which service area" in out.replies[0].text
    assert walker.state() == "service"
    assert walker.triage.store.load(walker.subject).answers["org_type"] == "psm"


@pytest.mark.parametrize(
    "data",
    [
        "",
        "|",
        "x",
        "a",
        "a|",
        "a|abc|psm",
        "a|3|nope",
        "t|3|psm",
        "c|3|org_type",
        "ok|3",
        "zz|3|9",
        "a|99999999999999999999|psm",
        "é" * 40,
        "rs|3",
        "nt|-1",
        "go|3",
    ],
)
def test_forged_callback_data_never_breaks_anything(walker: Walker, data: str) -> None:
    start(walker)
    walker.tap("A Public Service Mutual")
    before = walker.triage.store.load(walker.subject)
    out = walker.send(Press(data))
    assert out.notice
    assert "What is your role?" in out.replies[-1].text
    assert walker.triage.store.load(walker.subject) == before


def test_presses_with_no_conversation_offer_a_fresh_start(walker: Walker) -> None:
    out = walker.send(Press("a|4|psm"))
    assert out.notice == "That conversation has ended. Tap Start to begin a new one."
    assert "Start" in out.replies[0].buttons[0][0].label
    assert walker.state() is None


def test_free_text_too_long_or_empty(walker: Walker) -> None:
    start(walker)
    answer_all(walker, MUTUAL_ANSWERS[:-1])
    out = walker.type("x" * 1001)
    assert "1,001 characters" in out.replies[0].text and "under 1,000" in out.replies[0].text
    assert walker.state() == "comments"
    out = walker.type("   ")
    assert "looks empty" in out.replies[0].text
    walker.type("Fine <b>bold</b> & all")
    assert "Fine &lt;b&gt;bold&lt;/b&gt; &amp; all" in walker.text  # escaped in the summary


def test_question_messages_turn_into_answered_records(walker: Walker) -> None:
    start(walker)
    out = walker.tap("A Public Service Mutual")
    answered = out.replies[0]
    assert answered.edit and not answered.buttons
    assert "✔️ <b>A Public Service Mutual</b>" in answered.text
