"""The benchmark's stock bot still renders every screen from today's content.

`bench/stock_bot.py` renders the same templates as this bot; when a template gains a
required variable, the stock bot used to crash on every question and the benchmark
silently measured a broken baseline. This walks it through one whole check, without any
network, so that breaks CI instead.
"""

from __future__ import annotations

from bench import stock_bot
from bot.conversation.engine import Conversation
from bot.conversation.flow import DONE


def test_stock_bot_renders_a_whole_check() -> None:
    """Every question, the summary and the result render, with buttons, as the bench shows them."""
    flow = stock_bot.FLOW
    answers: dict = {}
    shown = 0
    while missing := flow.unanswered(answers):
        q = missing[0]
        text, markup = stock_bot.question(q.id, answers, [])
        assert text.strip() and markup.inline_keyboard, q.id
        options = flow.choices(q, answers)
        if q.kind == "text":
            answers[q.id] = ""
        elif q.kind == "multi":
            answers[q.id] = [options[0].code]
        else:
            answers[q.id] = options[0].code
        shown += 1
    assert shown >= 10

    text, markup = stock_bot.summary(answers)
    assert text.strip() and markup.inline_keyboard

    conv = Conversation(
        DONE, flow.final_answers(answers), "run", "2026-01-01T00:00:00+00:00", code="MPSP-TEST"
    )
    result = stock_bot.CONTENT.render("result.j2", result=stock_bot.ENGINE.result(conv))
    assert "MPSP-TEST" in result
    welcome = stock_bot.CONTENT.render(
        "welcome.j2",
        returning=False,
        contact=stock_bot.ENGINE.contact,
        channel=stock_bot.ENGINE.channel,
    )
    assert welcome.strip()
