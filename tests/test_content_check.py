"""`content check` refuses broken edits with a message naming the file (and line)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.conversation.content import Content, load_content
from bot.conversation.engine import Engine, Screen
from bot.editors.checker import check_content

from .conftest import ROOT


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A private copy of the shipped content to break."""
    for name in ("flows", "templates", "content"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def edit(root: Path, name: str, change: Callable[[str], str]) -> None:
    path = root / name
    before = path.read_text(encoding="utf-8")
    after = change(before)
    assert after != before, f"the edit to {name} changed nothing"
    path.write_text(after, encoding="utf-8")


def errors(root: Path) -> list[str]:
    report = check_content(root, quick=True, pool_size=40)
    return [str(p) for p in report.errors]


def line_of(root: Path, name: str, needle: str) -> int:
    lines = (root / name).read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, start=1) if needle in text)


def test_shipped_content_has_no_errors() -> None:
    report = check_content(ROOT, today=dt.date(2026, 11, 22))
    assert report.errors == []
    assert report.coverage is not None and report.coverage.covered == report.coverage.pairs
    assert report.coverage.never_chosen == ()
    assert report.paths >= 10 and report.profiles > report.paths
    # Contacts are settings now: nothing in the content looks like one.
    assert not any("contact" in str(w) for w in report.warnings)


def test_yaml_syntax_error_names_file_and_line(copy: Path) -> None:
    edit(
        copy,
        "flows/triage.yaml",
        lambda t: t.replace("    label: Your role\n", "    label: Your role\n   oops: [\n"),
    )
    (problem,) = errors(copy)
    assert problem.startswith("flows/triage.yaml:")
    assert "not valid YAML" in problem


def test_unknown_signpost_in_a_rule(copy: Path) -> None:
    edit(
        copy,
        "content/rules.yaml",
        lambda t: t.replace("show: offer_legal,", "show: offer_lawyers,"),
    )
    line = line_of(copy, "content/rules.yaml", "offer_lawyers")
    (problem,) = errors(copy)
    assert problem.startswith(f"content/rules.yaml:{line}: rule shows 'offer_lawyers'")
    assert "check the spelling" in problem


def test_rule_with_an_option_the_question_lacks(copy: Path) -> None:
    edit(
        copy,
        "content/rules.yaml",
        lambda t: t.replace("in: [legal_complexity]}", "in: [legal_complexty]}"),
    )
    (problem,) = errors(copy)
    assert "content/rules.yaml:" in problem and "'legal_complexty'" in problem
    assert "use one of:" in problem


def test_flow_condition_on_a_later_question(copy: Path) -> None:
    edit(
        copy,
        "flows/triage.yaml",
        lambda t: t.replace(
            "when: {q: experience, not_in: [none]}", "when: {q: support, in: [legal]}"
        ),
    )
    (problem,) = errors(copy)
    assert problem.startswith("flows/triage.yaml:")
    assert "not a question above this one" in problem


def test_template_using_a_variable_it_is_not_given(copy: Path) -> None:
    edit(
        copy,
        "templates/summary.j2",
        lambda t: t.replace("Please check your answers.", "Please check, {{ first_name }}."),
    )
    found = errors(copy)
    line = line_of(copy, "templates/summary.j2", "first_name")
    assert f"templates/summary.j2:{line}: uses 'first_name'" in found[0]
    assert "it can use: items" in found[0]


def test_template_syntax_error(copy: Path) -> None:
    edit(
        copy,
        "templates/help.j2",
        lambda t: t.replace("{% if in_progress %}", "{% if in_progress %"),
    )
    (problem,) = errors(copy)
    assert re.match(r"templates/help.j2:\d+: template error", problem)


def test_tag_telegram_cannot_show(copy: Path) -> None:
    edit(
        copy,
        "templates/done.j2",
        lambda t: t.replace("<code>", "<div>").replace("</code>", "</div>"),
    )
    found = errors(copy)
    assert found and all(p.startswith("templates/done.j2") for p in found)
    assert "<div> is not a tag Telegram supports" in found[0]


def test_rules_that_leave_someone_without_advice(copy: Path) -> None:
    def only_legal(text: str) -> str:
        head = text.split("\nrules:\n")[0]
        return (
            head + "\nrules:\n  - {show: offer_legal, section: support, "
            "when: {q: support, in: [legal]}}\n"
        )

    edit(copy, "content/rules.yaml", only_legal)
    report = check_content(copy, quick=True, pool_size=40)
    (finding,) = [f for f in report.findings if "no recommendation" in str(f.problem)]
    text = finding.describe(report.profiles)
    assert text.startswith("content/rules.yaml: some answers get no recommendation at all")
    assert f"of {report.profiles} answer paths, for example:" in text
    assert finding.broken > 1 and "org_type=" in "".join(finding.paths)


def test_contradictory_advice_is_refused(copy: Path) -> None:
    edit(
        copy,
        "content/rules.yaml",
        lambda t: t.replace(
            "  - show: route_start_small\n    section: route\n    when:\n      all:\n"
            "        - {q: appetite, not_in: [not_now]}\n        - {q: experience, in: [none]}\n",
            "  - show: route_start_small\n    section: route\n    when: {q: appetite, "
            "not_in: [not_now]}\n",
        ),
    )
    found = errors(copy)
    assert any("contradictory advice" in p and "route_start_small" in p for p in found)


def test_oversized_signpost_is_caught(copy: Path) -> None:
    long_text = " ".join(["This sentence makes the signpost far too long."] * 120)
    edit(
        copy,
        "content/signposts.yaml",
        lambda t: t.replace(
            "      Lawyers who know partnerships explain your choices in plain words. They can"
            " also check",
            f"      {long_text}",
            1,
        ),
    )
    found = errors(copy)
    assert any(
        p.startswith("templates/result.j2") and "longer than one Telegram message holds" in p
        for p in found
    )


def test_missing_template_and_bad_signpost_fields(copy: Path) -> None:
    (copy / "templates" / "done.j2").unlink()
    edit(copy, "content/signposts.yaml", lambda t: t.replace("kind: barrier_tip", "kind: tip", 1))
    found = errors(copy)
    assert "templates/done.j2: this template is missing (restore it from the repository)" in found
    line = line_of(copy, "content/signposts.yaml", "kind: tip")
    assert any(
        p.startswith(f"content/signposts.yaml:{line}: signposts[tip_legal_complexity]")
        and "kind" in p
        for p in found
    ), found


def test_an_unknown_key_names_the_item_by_its_id_not_its_position(copy: Path) -> None:
    """Issue 18.8: `signposts.37.fit` sent editors counting list items; the id is searchable."""
    edit(
        copy,
        "content/signposts.yaml",
        lambda t: t.replace(
            "  - id: tip_legal_complexity\n", "  - id: tip_legal_complexity\n    fit: yes\n", 1
        ),
    )
    edit(
        copy,
        "flows/triage.yaml",
        lambda t: t.replace("    label: Your role\n", "    label: Your role\n    lable: x\n", 1),
    )
    found = errors(copy)
    line = line_of(copy, "flows/triage.yaml", "lable: x")
    assert f"flows/triage.yaml:{line}: questions[role].lable: Extra inputs" in found[0], found
    edit(copy, "flows/triage.yaml", lambda t: t.replace("    lable: x\n", ""))
    (problem,) = errors(copy)
    line = line_of(copy, "content/signposts.yaml", "fit: yes")
    assert problem.startswith(
        f"content/signposts.yaml:{line}: signposts[tip_legal_complexity].fit: Extra inputs"
    ), problem


def test_overdue_reviews_are_warnings_and_made_up_contacts_errors(copy: Path) -> None:
    from bot.conversation.content import load_content
    from bot.editors.checker import _housekeeping
    from bot.editors.content_rules import static_problems

    content = load_content(copy)
    later = dt.date(2028, 1, 1)
    problems = [*_housekeeping(content, later), *static_problems(content, later)]
    assert all(p.warning for p in problems)
    overdue = [str(w) for w in problems if "was due for review" in str(w)]
    signposts = [w for w in overdue if w.startswith("content/signposts.yaml:")]
    resources = [w for w in overdue if w.startswith("content/resources.yaml:")]
    assert len(signposts) == 69 and len(resources) == 6  # every signpost, the six rc_* included
    assert "owner: MPSP" in signposts[0] and "open the link" in resources[0]
    edit(
        copy,
        "templates/done.j2",
        lambda t: t + "\nOr email mpsp@example.org, or call 020 0000 0000.\n",
    )
    found = [str(p) for p in static_problems(load_content(copy), dt.date(2026, 12, 1))]
    line = line_of(copy, "templates/done.j2", "mpsp@example.org")
    assert found == [
        f"templates/done.j2:{line}: this looks like a made-up contact (an example.org address "
        "or a 0000 number) (remove it: contacts are deployment settings (TRIAGE_CONTACT_*))"
    ]


def test_unreachable_question_and_unused_signpost_are_flagged(copy: Path) -> None:
    edit(
        copy,
        "flows/triage.yaml",
        lambda t: t.replace(
            "when: {q: barriers, min_selected: 2}", "when: {q: barriers, min_selected: 12}"
        ),
    )
    edit(
        copy,
        "content/rules.yaml",
        lambda t: t.replace(
            "  - {show: tip_cost, section: barriers, when: {q: barriers, in: [cost]}}\n", ""
        ),
    )
    warnings = [str(w) for w in check_content(copy, quick=True, pool_size=40).warnings]
    assert any("top_barrier is never asked" in w for w in warnings)
    assert any("tip_cost: never shown" in w for w in warnings)


# ---- each problem once, with how far it reaches ------------------------------------------------


def test_one_template_typo_is_one_error_with_the_paths_it_breaks(copy: Path) -> None:
    edit(copy, "templates/result.j2", lambda t: t.replace("{{ result.code }}", "{{ cdoe }}", 1))
    line = line_of(copy, "templates/result.j2", "cdoe")
    report = check_content(copy, quick=True, pool_size=40)
    (error,) = [f for f in report.findings if not f.warning]
    text = error.describe(report.profiles)
    assert text.startswith(f"templates/result.j2:{line}: uses 'cdoe'")
    assert f"Breaks {report.profiles} of {report.profiles} answer paths, for example: " in text
    # The same from the command line: one error line, and a summary that reads well for one.
    from click.testing import CliRunner

    from bot.cli import app

    result = CliRunner().invoke(
        app, ["content", "check", "--quick", "--content", str(copy)], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert [x for x in result.output.splitlines() if x.startswith("error")] == [
        x for x in result.output.splitlines() if x.startswith("error templates/result.j2")
    ]
    assert sum(x.startswith("error") for x in result.output.splitlines()) == 1
    assert "1 error: fix it before publishing." in result.output


def test_a_typo_in_a_question_text_names_its_line_and_question(copy: Path) -> None:
    edit(
        copy,
        "flows/triage.yaml",
        lambda t: t.replace("text: What is your role?", "text: Your role in {{ said.org_typ }}?"),
    )
    line = line_of(copy, "flows/triage.yaml", "said.org_typ")
    report = check_content(copy, quick=True, pool_size=40)
    (error,) = [f for f in report.findings if not f.warning]
    text = error.describe(report.profiles)
    assert text.startswith(f"flows/triage.yaml:{line}: role: the question text uses said.org_typ")
    assert "org_typ is not a question" in text and "org_type" in text
    # Only Mutuals are asked their role: it breaks their paths, not everyone's.
    assert 1 < error.broken < report.profiles
    assert "for example: " in text


def test_a_question_text_that_fails_on_some_paths_says_which(copy: Path) -> None:
    # said.spinout_stage exists only for people planning to spin out: a runtime failure, found
    # on the paths of everyone else who is asked their role.
    edit(
        copy,
        "flows/triage.yaml",
        lambda t: t.replace(
            "text: What is your role?", "text: Your role ({{ said.spinout_stage }})?"
        ),
    )
    line = line_of(copy, "flows/triage.yaml", "said.spinout_stage")
    report = check_content(copy, quick=True, pool_size=40)
    (error,) = [f for f in report.findings if not f.warning]
    text = error.describe(report.profiles)
    assert text.startswith(f"flows/triage.yaml:{line}: role: the question text failed:")
    assert "spinout_stage" in text and "answer paths, for example: " in text
    assert error.broken > 1


def test_findings_group_any_problem_and_count_paths() -> None:
    from bot.conversation.yamlfile import Problem
    from bot.editors.findings import group, summary

    # As a new rule in another module would report them: the same problem on three paths
    # (two of them the same), and a file-level problem twice.
    problems = [
        Problem("content/x.yaml", 4, "too vague", path="a=1"),
        Problem("content/x.yaml", 4, "too vague", path="a=2"),
        Problem("content/x.yaml", 4, "too vague", path="a=1"),
        Problem("content/y.yaml", 9, "unused", warning=True),
        Problem("content/y.yaml", 9, "unused", warning=True),
    ]
    first, second = group(problems)
    assert first.broken == 2 and first.example == "a=1"
    assert first.describe(10) == (
        "content/x.yaml:4: too vague. Breaks 2 of 10 answer paths, for example: a=1"
    )
    assert second.paths == () and second.describe(10) == "content/y.yaml:9: unused"
    # A figure measured on each path (Problem.detail) does not split the problem: it is shown
    # as found on the example path.
    (long,) = group(
        [
            Problem("templates/r.j2", None, "too long", path="a=1", detail="1,300 here"),
            Problem("templates/r.j2", None, "too long", path="a=2", detail="1,250 here"),
        ]
    )
    assert long.describe(10) == (
        "templates/r.j2: too long; 1,300 here. Breaks 2 of 10 answer paths, for example: a=1"
    )
    assert summary(0, 0) == "No errors or warnings."
    assert summary(0, 1) == "No errors; 1 warning."
    assert summary(1, 0) == "1 error: fix it before publishing. No warnings."
    assert summary(3, 2) == "3 errors: fix them before publishing. Also 2 warnings."


# ---- the web page's templates and words (issue 12) -------------------------------------------


def test_web_template_using_a_variable_it_is_not_given(copy: Path) -> None:
    edit(
        copy,
        "templates/web/summary.j2",
        lambda t: t.replace(
            "{{ words.titles.summary }}", "{{ words.titles.summary }} {{ nickname }}"
        ),
    )
    found = [e for e in errors(copy) if "templates/web/summary.j2" in e]
    assert found and "'nickname'" in found[0]
    line = line_of(copy, "templates/web/summary.j2", "nickname")
    assert f"templates/web/summary.j2:{line}" in found[0]


def test_web_page_that_fails_to_render_and_broken_words(copy: Path) -> None:
    edit(
        copy,
        "templates/web/question.j2",
        lambda t: (
            t.replace("{{ progress }}", "{{ progress }}{{ q.number // 0 }}", 1)
            if "{{ progress }}" in t
            else t.replace("progress ~", "(q.number // 0) ~ progress ~", 1)
        ),
    )
    edit(copy, "content/web.yaml", lambda t: t.replace("  continue: Continue\n", ""))
    problems = errors(copy)
    assert any(p.startswith("content/web.yaml") and "continue" in p for p in problems), problems
    edit(
        copy,
        "content/web.yaml",
        lambda t: t.replace("  carry_on:", "  continue: Continue\n  carry_on:"),
    )
    problems = errors(copy)
    assert any("templates/web/question.j2" in p and "ZeroDivisionError" in p for p in problems), (
        problems
    )


def test_web_result_misspelt_and_a_plan_the_page_policy_blocks(copy: Path) -> None:
    from bot.conversation.content import load_content
    from bot.conversation.profiles import load_sample
    from bot.editors.content_rules import check_engine
    from bot.editors.web_check import check_pages

    edit(
        copy,
        "templates/web/result.j2",
        lambda t: t.replace("{% for step in result.steps %}", "{% for step in result.stpes %}"),
    )
    edit(
        copy,
        "templates/plan.html.j2",
        lambda t: t.replace("<main>", '<main style="color: red"><script>alert(1)</script>'),
    )
    content = load_content(copy)
    name = "content/samples/health-bid-this-month.yaml"
    sample = load_sample(copy / name, content.flow, name)
    _count, problems = check_pages(content, [sample.answers], check_engine(content))
    found = [str(p) for p in problems]
    line = line_of(copy, "templates/web/result.j2", "result.stpes")
    assert any(f"templates/web/result.j2:{line}" in p and "stpes" in p for p in found), found
    plan = [p for p in found if p.startswith("templates/plan.html.j2")]
    assert any("<script>" in p and "Content-Security-Policy" in p for p in plan), found
    assert any('style="..."' in p for p in plan), found


# ---- every template strict about the fields it reads (issue 18.8) ------------------------------


def test_a_misspelt_field_in_a_web_template_names_the_fields_there_are(copy: Path) -> None:
    """`{{ q.idd }}` rendered as nothing: every web visitor then hit "Page not found"."""
    edit(
        copy,
        "templates/web/question.j2",
        lambda t: t.replace('action="/question/{{ q.id }}"', 'action="/question/{{ q.idd }}"'),
    )
    line = line_of(copy, "templates/web/question.j2", "q.idd")
    report = check_content(copy, quick=True, pool_size=40)
    (error,) = [str(p) for p in report.errors]
    assert error.startswith(
        f"templates/web/question.j2:{line}: uses q.idd, but q has no field 'idd'"
    ), error
    assert "(q has: back_url, body, id, items, kind, label," in error, error
    assert "web pages, for example the " in error, error


def test_a_misspelt_field_fails_the_web_page_itself_not_only_the_check(copy: Path) -> None:
    """At run time too: a loud error (the 500 page), never a form that posts to nowhere."""
    from jinja2 import UndefinedError

    from bot.channels.web.pages import load_pages

    edit(
        copy,
        "templates/web/question.j2",
        lambda t: t.replace('action="/question/{{ q.id }}"', 'action="/question/{{ q.idd }}"'),
    )
    content = load_content(copy)
    engine = Engine(content)
    pages = load_pages(content)
    screen = _first_question(content, engine)
    common = {"title": "", "csrf": "0", "has_session": True, "moved": False, "static": ""}
    with pytest.raises(UndefinedError, match="no field 'idd'; it has: back_url, body, id, items"):
        pages.question(screen, common)
    # GOV.UK Frontend's macros still read their optional parameters leniently.
    edit(copy, "templates/web/question.j2", lambda t: t.replace("q.idd", "q.id"))
    assert 'action="/question/' in load_pages(load_content(copy)).question(screen, common)


def _first_question(content: Content, engine: Engine) -> Screen:
    from bot.conversation.profiles import path_profiles
    from bot.editors.simulate import walk

    for step in walk(content, path_profiles(content.flow)[0].answers, engine=engine):
        conv = step.outcome.conversation
        if conv is not None and engine.screen(conv).page == "question":
            return engine.screen(conv)
    raise AssertionError("no question on the first path")


def test_a_misspelt_name_in_a_web_template_is_one_error(copy: Path) -> None:
    """It printed 46 near-identical lines, one per page and error message rendered."""
    edit(copy, "templates/web/question.j2", lambda t: t.replace("{{ csrf }}", "{{ csrff }}", 1))
    line = line_of(copy, "templates/web/question.j2", "csrff")
    (error,) = errors(copy)
    assert error.startswith(f"templates/web/question.j2:{line}: uses 'csrff'"), error
    assert "it can use: csrf, error," in error


def test_a_misspelt_field_in_a_chat_template_names_the_fields_there_are(copy: Path) -> None:
    edit(copy, "templates/result.j2", lambda t: t.replace("{{ result.code }}", "{{ result.cdoe }}"))
    edit(copy, "templates/question.j2", lambda t: t.replace("{{ scale.low }}", "{{ scale.lo }}"))
    found = errors(copy)
    result = line_of(copy, "templates/result.j2", "result.cdoe")
    question = line_of(copy, "templates/question.j2", "scale.lo")
    assert any(
        e.startswith(f"templates/result.j2:{result}: uses result.cdoe, but result has no field")
        and "(result has: answers, code, contact," in e
        for e in found
    ), found
    assert any(
        e.startswith(f"templates/question.j2:{question}: uses scale.lo, but scale has no field")
        and "(scale has: high, low, max, min)" in e
        for e in found
    ), found


def test_a_template_the_check_never_renders_is_reported(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new page or message the check does not reach would go live unchecked: say so."""
    from bot.channels.web import pages as pages_module
    from bot.conversation import content as content_module

    (copy / "templates" / "web" / "statement.j2").write_text("{{ words.title }}\n")
    (copy / "templates" / "thanks.j2").write_text("Thank you.\n")
    monkeypatch.setitem(
        pages_module.WEB_TEMPLATES, "statement.j2", pages_module.WebTemplate("A new page.", ())
    )
    monkeypatch.setitem(
        content_module.TEMPLATES, "thanks.j2", content_module.TemplateSpec("A new message.", {})
    )
    found = errors(copy)
    assert any(
        e.startswith("templates/web/statement.j2: content check never rendered this page")
        for e in found
    ), found
    assert any(
        e.startswith("templates/thanks.j2: content check never rendered this template")
        for e in found
    ), found
    assert len(found) == 2, found


def test_both_messages_sent_later_are_rendered_and_checked(copy: Path) -> None:
    """Issue 9: the reminder and the follow-up message are rendered like every message."""
    for name in ("templates/reminder.j2", "templates/follow_up.j2"):
        edit(copy, name, lambda t: t.replace("<b>", "<div>", 1).replace("</b>", "</div>", 1))
    found = errors(copy)
    for name in ("templates/reminder.j2", "templates/follow_up.j2"):
        assert any(p.startswith(name) and "<div> is not a tag" in p for p in found), found
    edit(copy, "content/reminders.yaml", lambda t: t.replace("after_days: 2", "after_days: 30"))
    (problem,) = errors(copy)
    line = line_of(copy, "content/reminders.yaml", "after_days: 30")
    assert problem.startswith(f"content/reminders.yaml:{line}:") and "14" in problem


def test_a_misspelt_field_in_the_report_template_is_an_error(copy: Path) -> None:
    """The team's HTML report is drawn by the check too (issue 18, item 8: every channel)."""
    edit(
        copy,
        "templates/report/report.html.j2",
        lambda t: t.replace("<h2>{{ table.title }}</h2>", "<h2>{{ table.titel }}</h2>", 1),
    )
    line = line_of(copy, "templates/report/report.html.j2", "table.titel")
    report = check_content(copy, quick=True, pool_size=40)
    (error,) = [str(p) for p in report.errors]
    assert error.startswith(f"templates/report/report.html.j2:{line}: uses table.titel"), error
    assert "has no field 'titel'" in error, error
