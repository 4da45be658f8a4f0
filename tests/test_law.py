"""What the check says about the law is right (issue 17): facts stated once with their source,
each corrected statement, and the reserved contract's tests asked and answered."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import yaml

from bot.contacts import Contact
from bot.conversation.content import Content, load_content
from bot.conversation.result import build_result
from bot.conversation.yamlfile import ContentError
from bot.editors.content_rules import static_problems
from bot.editors.docs import facts_markdown, update_readme

from .conftest import ROOT

S33 = "https://www.legislation.gov.uk/ukpga/2023/54/section/33"
OUTCOMES = ("rc_eligible", "rc_no_service", "rc_no_control", "rc_no_profits", "rc_no_recent")
OUTCOMES += ("rc_check",)
RC = ("rc_service", "rc_control", "rc_profits", "rc_recent")
YES3 = {"rc_service": "yes", "rc_control": "yes", "rc_profits": "yes"}

# A Mutual with a live bid: its answers show an interest in winning public contracts.
MUTUAL = {
    "org_type": "psm",
    "role": "leadership",
    "service": "social_care",
    "region": "london",
    "staff": "s51_250",
    "turnover": "t5_20m",
    "years": "y5_10",
    "confidence": "v3",
    "experience": ["informal"],
    "success": "v4",
    "appetite": "definitely",
    "motivations": ["capacity"],
    "barriers": ["capacity"],
    "support": ["commercial"],
    "live_bid": "one_to_three",
    "comments": "",
}


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("flows", "templates", "content"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def signpost_text(content: Content, sid: str) -> str:
    sp = content.catalogue.signposts[sid]
    parts = [sp.title, sp.summary, *sp.details, *sp.pros, *sp.cons, sp.fits, sp.action, sp.step]
    return " ".join(" ".join(p.split()) for p in parts if p)


def outcome(content: Content, answers: dict) -> tuple[list[str], list[str]]:
    """The reserved-contract outcomes shown, and the tests that were asked."""
    full = {**MUTUAL, **answers}
    asked = [q.id for q in content.flow.path(full) if q.id in RC]
    shown = [r.signpost.id for r in content.catalogue.recommend(content.flow, full, content.words)]
    return [s for s in shown if s in OUTCOMES], asked


# ---- the facts file -------------------------------------------------------------------------


def test_every_fact_has_an_official_source_an_owner_and_a_review_date(content: Content) -> None:
    facts = content.catalogue.legal_facts
    assert {"act_in_force", "psr_in_force", "reserved_max_term", "reserved_lookback"} <= set(facts)
    assert {"test_service", "test_control", "test_profits", "test_not_recent"} <= set(facts)
    assert {"light_touch_threshold", "psr_scope", "direct_award_grounds"} <= set(facts)
    for fact in facts.values():
        assert fact.source.url.host in {"www.legislation.gov.uk", "www.gov.uk"}, fact.id
        assert fact.source.section and fact.owner and fact.review_by
    assert facts["reserved_max_term"].value == "five years"
    assert facts["reserved_lookback"].value == "three years"
    assert facts["psr_in_force"].value == "1 January 2024"
    assert facts["act_in_force"].value == "24 February 2025"
    assert facts["light_touch_threshold"].value == "£663,540 including VAT"
    # A fact may name another: the look-back period is stated once.
    assert "three years" in facts["test_not_recent"].value


def test_signposts_use_facts_by_name_and_link_to_their_source(content: Content) -> None:
    raw = (ROOT / "content" / "signposts.yaml").read_text(encoding="utf-8")
    assert "{{ facts.reserved_max_term }}" in raw and "five years" not in raw
    assert "24 February 2025" not in raw and "1 January 2024" not in raw
    assert "{{" not in signpost_text(content, "reserved_contract")
    answers = {**MUTUAL, "rc_service": "yes", "rc_control": "yes", "rc_profits": "yes"}
    answers["rc_recent"] = "no"
    result = build_result(content, answers, code="ABC", contact=Contact(), handover="off")
    rules = result.section("rules")
    assert rules is not None
    item = next(i for i in rules.items if i.id == "rc_eligible")
    assert S33 in [link.url for link in item.links]
    assert len({link.url for link in item.links}) == len(item.links)


def test_a_fact_used_but_not_defined_is_an_error_with_its_line(copy: Path) -> None:
    edit(copy, "content/signposts.yaml", "{{ facts.reserved_max_term }}", "{{ facts.max_term }}")
    with pytest.raises(ContentError) as caught:
        load_content(copy)
    (problem,) = caught.value.problems
    assert problem.file == "content/signposts.yaml" and problem.line
    assert "'max_term'" in problem.message and "content/facts.yaml" in problem.message


def test_a_template_naming_an_undefined_fact_is_an_error(copy: Path) -> None:
    path = copy / "templates" / "done.j2"
    path.write_text(path.read_text() + "\n{{ facts.no_such_fact }}\n", encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(copy)
    assert any(
        p.file == "templates/done.j2" and "no_such_fact" in p.message for p in caught.value.problems
    )


def test_templates_and_questions_can_use_facts(content: Content) -> None:
    question = content.flow.by_id["rc_recent"]
    body = content.question_body(question, {})
    assert "three years" in body and "facts" not in body


def test_fact_reviews_warn_when_past_and_within_30_days(content: Content) -> None:
    due = content.catalogue.legal_facts["light_touch_threshold"].review_by

    def warned(today: dt.date) -> list[str]:
        return [
            str(p)
            for p in static_problems(content, today)
            if p.file == "content/facts.yaml" and p.item == "light_touch_threshold"
        ]

    assert warned(due - dt.timedelta(days=31)) == []
    (soon,) = warned(due - dt.timedelta(days=29))
    assert "is due for review" in soon and "schedule/1" in soon
    (late,) = warned(due + dt.timedelta(days=1))
    assert "was due for review" in late
    assert all(p.warning for p in static_problems(content, due) if p.file == "content/facts.yaml")


def test_content_docs_lists_every_fact_with_its_source() -> None:
    table = facts_markdown(ROOT / "content" / "facts.yaml")
    facts = yaml.safe_load((ROOT / "content" / "facts.yaml").read_text())["facts"]
    for fact in facts:
        assert f"`{fact['id']}`" in table and fact["source"]["url"] in table
    assert update_readme(ROOT / "content" / "README.md", write=False) is False


# ---- each corrected statement (each assertion fails on the old wording) ----------------------


def test_reserved_contract_is_only_for_reservable_services(content: Content) -> None:
    for sid in ("reserved_contract", "tool_mutuals_exemption"):
        text = signpost_text(content, sid)
        assert "reservable light touch services" in text
        assert "Not every light touch service is on that list" in text
        assert "a competitive flexible procedure" in text
        assert "It is only for light touch services" not in text
        assert "must be a light touch service (such as care" not in text
    tests = signpost_text(content, "reserved_contract")
    assert "mainly services on the law's list for reserved contracts" in tests


def test_psr_services_cannot_be_reserved_but_health_bought_under_the_act_may_be(
    content: Content,
) -> None:
    text = signpost_text(content, "reserved_contract")
    assert "health care services that NHS bodies or councils buy under the Provider" in text
    assert "Health services bought under the Procurement Act may be reserved" in text
    assert "NHS health care is not covered" not in text
    assert "NHS bodies or councils" in signpost_text(content, "tool_mutuals_exemption")
    psr = signpost_text(content, "health_psr")
    assert "is not open for NHS health care" not in psr and "may be" in psr
    # A health Mutual with a bid is asked the tests too.
    shown, asked = outcome(
        content, {**YES3, "service": "health", "rc_service": "not_sure", "rc_recent": "no"}
    )
    assert asked and shown == ["rc_check"]


def test_an_mou_may_bind_you(content: Content) -> None:
    text = signpost_text(content, "model_informal")
    assert "not legally binding) sets out how" not in text
    assert (
        "Most MOUs are meant not to be legally binding. Say so in yours, or it may bind you."
        in text
    )
    glossary = " ".join((ROOT / "content" / "glossary.yaml").read_text().split())
    assert "a written agreement that is not legally binding" not in glossary
    assert "say so in it, or it may bind you" in glossary


def test_an_llp_is_not_sold_as_useful_for_charities(content: Content) -> None:
    text = signpost_text(content, "model_llp")
    assert "often useful for charities" not in text
    assert "a business run with a view to profit, so it cannot be a charity itself" in text
    assert "(a charity can be a member)" in text


def test_direct_award_names_all_its_grounds_and_the_threshold(content: Content) -> None:
    text = signpost_text(content, "tool_direct_award")
    assert "section 41 and Schedule 5, or section 43" in text
    assert "£663,540 including VAT" in text and "Below the threshold, other rules apply" in text
    assert "Check the grounds in section 41 and Schedule 5 of the Act" not in text
    rules = signpost_text(content, "rules_2025")
    assert "section 43" in rules and "£663,540" in rules
    assert "on the grounds the Act lists" not in rules


def test_editors_guide_dates_and_question_count(content: Content) -> None:
    guide = " ".join((ROOT / "content" / "README.md").read_text().split())
    assert "Provider Selection Regime, in force since 24 February 2025" not in guide
    assert "Provider Selection Regime, in force since 1 January 2024" in guide
    most = len(content.flow.path({"org_type": "psm"}))
    assert f'"Question 3 of {most}: Service area"' in guide
    assert "Question 3 of 15" not in guide


# ---- the reserved contract's tests, asked and answered --------------------------------------


@pytest.mark.parametrize(
    ("answers", "shown", "asked"),
    [
        ({**YES3, "rc_recent": "no"}, ["rc_eligible"], RC),
        ({"rc_service": "no"}, ["rc_no_service"], RC[:1]),
        ({"rc_service": "yes", "rc_control": "no"}, ["rc_no_control"], RC[:2]),
        ({"rc_service": "yes", "rc_control": "yes", "rc_profits": "no"}, ["rc_no_profits"], RC[:3]),
        ({**YES3, "rc_recent": "yes"}, ["rc_no_recent"], RC),
        ({**YES3, "rc_recent": "not_sure"}, ["rc_check"], RC),
        ({**YES3, "rc_service": "not_sure", "rc_recent": "not_sure"}, ["rc_check"], RC),
        ({**YES3, "rc_service": "not_sure", "rc_profits": "no"}, ["rc_no_profits"], RC[:3]),
    ],
    ids=["all-met", "service", "control", "profits", "recent", "unsure", "two-unsure", "no-wins"],
)
def test_eligibility_outcome_for_each_profile(
    content: Content, answers: dict, shown: list[str], asked: tuple[str, ...]
) -> None:
    got, asked_now = outcome(content, answers)
    assert got == shown
    assert tuple(asked_now) == asked  # a "no" ends the questions: later ones cannot change it


def test_a_spin_out_is_asked_three_tests_and_can_be_eligible(content: Content) -> None:
    answers = {"org_type": "spinout", "spinout_stage": "agreed", "service": "education"}
    answers |= {"region": "london", **YES3}
    asked = [q.id for q in content.flow.path(answers) if q.id in RC]
    assert asked == list(RC[:3])
    shown = [
        r.signpost.id for r in content.catalogue.recommend(content.flow, answers, content.words)
    ]
    assert "rc_eligible" in shown and "reserved_contract" not in shown


def test_the_tests_are_asked_only_with_an_interest_in_public_contracts(content: Content) -> None:
    quiet = {**MUTUAL, "live_bid": "none"}
    assert not [q for q in content.flow.path(quiet) if q.id in RC]
    shown = [r.signpost.id for r in content.catalogue.recommend(content.flow, quiet, content.words)]
    assert "reserved_contract" in shown and not set(shown) & set(OUTCOMES)
    exploring = {"org_type": "spinout", "spinout_stage": "exploring"}
    assert not [q for q in content.flow.path(exploring) if q.id in RC]
    for org in ("commissioner", "vcse"):
        assert not [q for q in content.flow.path({"org_type": org}) if q.id in RC]


def test_each_test_has_not_sure_and_costs_at_most_four_taps(content: Content) -> None:
    for qid in RC:
        question = content.flow.by_id[qid]
        assert [o.code for o in question.options] == ["yes", "no", "not_sure"]
        assert question.kind == "single"
    assert len(RC) <= 4


def test_the_outcome_says_what_would_change_it_and_names_the_unsure_tests(
    content: Content,
) -> None:
    for sid in ("rc_no_service", "rc_no_control", "rc_no_profits", "rc_no_recent"):
        assert "What would change it" in signpost_text(content, sid)
    answers = {**MUTUAL, **YES3, "rc_control": "not_sure", "rc_recent": "not_sure"}
    (rec,) = [
        r
        for r in content.catalogue.recommend(content.flow, answers, content.words)
        if r.signpost.id == "rc_check"
    ]
    assert rec.reasons == ["Staff control: Not sure", "Recent reserved contract: Not sure"]
    text = signpost_text(content, "rc_eligible")
    assert re.search(r"You look eligible", text) and "five years" in text


def test_the_report_counts_the_outcomes_under_the_10_5_rule(content: Content) -> None:
    from bot.disclosure import Rules, protect
    from bot.team.analytics import Analysis, Response

    def response(n: int, answers: dict) -> Response:
        full = {k: v if isinstance(v, list) else [v] for k, v in {**MUTUAL, **answers}.items()}
        full["comments"] = []
        return Response(id=n, completed="2026-11-01T10:00:00", readiness=None, answers=full)

    answers = [{**YES3, "rc_recent": "no"}] * 23 + [{"rc_service": "no"}] * 4
    answers += [{**YES3, "rc_recent": "not_sure"}] * 12 + [{"live_bid": "none"}] * 30
    responses = [response(n, a) for n, a in enumerate(answers)]
    analysis = Analysis(content, Rules())
    table = analysis.reserved_outcomes(responses, None)
    rows = dict(zip(table.rows, (r[0] for r in table.counts), strict=True))
    titles = {sid: content.catalogue.signposts[sid].title for sid in OUTCOMES}
    assert rows[titles["rc_eligible"]] == 23 and rows[titles["rc_no_service"]] == 4
    assert rows[titles["rc_check"]] == 12 and table.base_total == 39  # only those asked
    safe = protect(table, Rules())
    shown = {row: cells[0] for row, cells in zip(safe.rows, safe.cells, strict=True)}
    assert shown[titles["rc_eligible"]].count == 25  # rounded to the nearest 5
    assert shown[titles["rc_no_service"]].suppressed  # under 10
