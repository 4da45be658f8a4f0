"""Property tests: any valid set of answers gets sound, well-formed advice."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.conversation.conditions import Answer
from bot.conversation.content import Content
from bot.conversation.engine import Engine
from bot.conversation.render import ALLOWED_TAGS, MESSAGE_LIMIT, tag_problems, telegram_length
from bot.editors.simulate import walk

from .conftest import ROOT


@st.composite
def answer_sets(draw: st.DrawFn, content: Content) -> dict[str, Answer]:
    """Any answers a person could give, following the flow's branching."""
    flow = content.flow
    answers: dict[str, Answer] = {}
    for question in flow.questions:
        ids = {q.id for q in flow.path(answers)}
        if (
            question.when is not None
            and question.when.evaluate(answers, ids, flow.exclusive) is not True
        ):
            continue
        if question.kind == "text":
            answers[question.id] = draw(
                st.sampled_from(
                    ["", "Short note", "x" * question.max_length, "<b>&amp; café 🙂</b>"]
                )
            )
            continue
        options = flow.choices(question, answers)
        if question.kind != "multi":
            answers[question.id] = draw(st.sampled_from([o.code for o in options]))
            continue
        exclusive = [o.code for o in options if o.exclusive]
        plain = [o.code for o in options if not o.exclusive]
        if exclusive and draw(st.booleans()):
            answers[question.id] = [draw(st.sampled_from(exclusive))]
        else:
            picked = draw(st.sets(st.sampled_from(plain), min_size=1))
            answers[question.id] = [c for c in plain if c in picked]
    return answers


def _content() -> Content:
    from bot.conversation.content import load_content

    return load_content(ROOT)


CONTENT = _content()
ENGINE = Engine(CONTENT)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers=answer_sets(CONTENT))
def test_every_answer_set_gets_sound_well_formed_advice(answers: dict[str, Answer]) -> None:
    steps = walk(CONTENT, answers)
    final = steps[-1].outcome
    assert final.completion is not None
    recs = final.completion.recommendations
    assert recs, "no recommendation"
    assert all(reasons for _, _, reasons in recs), "a recommendation without a reason"
    shown = {r[0] for r in recs}
    for group in CONTENT.catalogue.conflicts:
        assert len(shown & set(group)) <= 1, f"contradictory: {shown & set(group)}"
    for step in steps:
        for reply in step.outcome.replies:
            assert telegram_length(reply.text) <= MESSAGE_LIMIT
            assert tag_problems(reply.text) == [], reply.text
            for row in reply.buttons:
                for button in row:
                    assert button.url or len((button.data or "").encode()) <= 64
    # The first message fits a phone screen or two; the rest waits behind buttons.
    shown = [r.text for r in final.replies if r.text]
    assert len(shown) == 1 and telegram_length(shown[0]) <= 1_200
    # No piece of the result needed a formatting-losing cut.
    assert all(
        telegram_length(p) <= MESSAGE_LIMIT for p in ENGINE.result_pieces(final.conversation)
    )


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300))
def test_tag_checker_accepts_only_escaped_or_allowed_markup(text: str) -> None:
    from markupsafe import escape

    assert tag_problems(str(escape(text))) == []
    for tag in ALLOWED_TAGS - {"a", "span", "tg-emoji"}:
        assert tag_problems(f"<{tag}>{escape(text)}</{tag}>") == []
