"""The current question as typed data, and whole answers submitted at once (web forms)."""

from __future__ import annotations

from bot.conversation.engine import Press, Submit

from .conftest import Walker


def start(walker: Walker) -> None:
    walker.command("start")
    walker.tap("Start")


def screen(walker: Walker):
    engine = walker.triage.engine
    return engine.screen(walker.triage.store.load(walker.subject))


def submit(walker: Walker, *codes: str, text: str | None = None):
    now = screen(walker)
    return walker.send(Submit(now.step, now.question or "", codes, text))


def test_screen_describes_each_kind_of_question(walker: Walker) -> None:
    assert screen(walker).page == "welcome" and screen(walker).step == 0
    start(walker)
    first = screen(walker)
    assert (first.page, first.question, first.kind, first.number) == (
        "question",
        "org_type",
        "single",
        1,
    )
    assert first.back == "welcome"
    assert [c.code for c in first.choices][:2] == ["psm", "spinout"]
    assert not first.exclusive and first.chosen == ()
    assert "best describes" in first.body
    for codes in (["psm"], ["leadership"], ["health"], ["london"], ["s51_250"], ["t5_20m"]):
        submit(walker, *codes)
    submit(walker, "y5_10")
    scale = screen(walker)
    assert scale.kind == "scale" and [c.label for c in scale.choices] == ["1", "2", "3", "4", "5"]
    assert scale.scale == {
        "min": 1,
        "max": 5,
        "low": "Not at all confident",
        "high": "Very confident",
    }
    assert scale.back == "years"
    submit(walker, "v3")
    multi = screen(walker)
    assert multi.kind == "multi" and [c.code for c in multi.exclusive] == ["none"]
    assert multi.total >= multi.number == 9


def test_submit_validates_like_the_chat(walker: Walker) -> None:
    start(walker)
    for codes in (
        ["psm"],
        ["leadership"],
        ["health"],
        ["london"],
        ["s51_250"],
        ["t5_20m"],
        ["y5_10"],
        ["v3"],
    ):
        submit(walker, *codes)
    before = walker.triage.store.load(walker.subject)
    # "None yet" with another option is refused and nothing changes.
    out = submit(walker, "none", "informal")
    assert out.invalid == "exclusive"
    assert walker.triage.store.load(walker.subject) == before
    assert submit(walker).invalid == "required"
    # A forged code, an old step or another question's form only re-shows where they are.
    forged = submit(walker, "informal", "hacked")
    assert forged.invalid is None and forged.notice
    stale = walker.send(Submit(before.step - 1, "experience", ("informal",)))
    assert stale.notice and walker.triage.store.load(walker.subject) == before
    later = walker.send(Submit(before.step, "appetite", ("might",)))
    assert later.notice and walker.triage.store.load(walker.subject) == before
    # An earlier question's form refused for being empty changes nothing either.
    empty = walker.send(Submit(before.step, "role", ()))
    assert empty.invalid == "required" and walker.triage.store.load(walker.subject) == before
    # A valid set is stored in the flow's order.
    submit(walker, "sub_lead", "informal")
    conv = walker.triage.store.load(walker.subject)
    assert conv.answers["experience"] == ["informal", "sub_lead"] and conv.state == "success"
    # Back from the next question shows the ticks again.
    walker.send(Press(f"b|{conv.step}"))
    again = screen(walker)
    assert again.question == "experience" and again.chosen == ("informal", "sub_lead")


def test_summary_items_and_text_answers(walker: Walker) -> None:
    start(walker)
    submit(walker, "commissioner")
    submit(walker, "pilots", "consortia")
    submit(walker, "health")
    submit(walker, "london")
    text = screen(walker)
    assert text.kind == "text" and text.optional and text.max_length == 1000
    assert submit(walker, text="x" * 1001).invalid == "too_long"
    submit(walker, text="Call me on 07700 900123 please")
    summary = screen(walker)
    assert summary.page == "summary" and summary.back == "comments"
    assert [i.question for i in summary.items] == [
        "org_type",
        "commissioner_interest",
        "service",
        "region",
        "comments",
    ]
    assert summary.items[1].answer == "Inviting bids from consortia, Running a pilot"
    assert "07700" not in summary.items[-1].answer and "[phone removed]" in summary.items[-1].answer
    walker.send(Press(f"ok|{summary.step}"))
    done = screen(walker)
    assert done.page == "done" and done.code and done.code.startswith("MPSP-")


def test_optional_text_left_empty_is_skipped(walker: Walker) -> None:
    start(walker)
    for codes in (["other"], ["learn"], ["education"], ["north_east"]):
        submit(walker, *codes)
    submit(walker, text="   ")
    summary = screen(walker)
    assert summary.page == "summary" and summary.items[-1].answer == "(skipped)"


def test_an_earlier_question_is_revisited_and_changed_as_from_the_summary(
    walker: Walker,
) -> None:
    engine = walker.triage.engine
    start(walker)
    for codes in (["psm"], ["leadership"], ["health"], ["london"], ["s51_250"], ["t5_20m"]):
        submit(walker, *codes)
    for codes in (["y5_10"], ["v3"], ["none"], ["might"]):
        submit(walker, *codes)
    before = walker.triage.store.load(walker.subject)
    assert before.state == "motivations"
    # Shown again with its answer ticked and the current step; nothing moves.
    earlier = engine.revisit(before, "experience")
    assert earlier is not None and earlier.revisit and earlier.step == before.step
    assert earlier.question == "experience" and earlier.chosen == ("none",)
    assert earlier.back == "confidence"
    assert engine.revisit(before, "org_type").back == "welcome"
    # Not the current question, nor one not reached or off the path.
    for other in ("motivations", "barriers", "success", "nope"):
        assert engine.revisit(before, other) is None
    assert walker.triage.store.load(walker.subject) == before
    # Answered: the question it opens is asked, then back to where they were.
    walker.send(Submit(before.step, "experience", ("informal",)))
    assert screen(walker).question == "success"
    submit(walker, "v2")
    assert screen(walker).question == "motivations"
    # The Telegram buttons have no such move: a change press away from the summary is stale.
    now = walker.triage.store.load(walker.subject)
    assert walker.send(Press(f"c|{now.step}|role")).notice
