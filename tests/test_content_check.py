"""`content check` refuses broken edits with a message naming the file (and line)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.checker import check_content

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
    found = errors(copy)
    assert any(
        p.startswith("content/rules.yaml: path")
        and "gets no recommendation at all" in p
        and "answers: org_type=" in p
        for p in found
    )


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
        p.startswith("templates/result.j2") and "more than one Telegram message" in p for p in found
    )


def test_missing_template_and_bad_signpost_fields(copy: Path) -> None:
    (copy / "templates" / "done.j2").unlink()
    edit(copy, "content/signposts.yaml", lambda t: t.replace("kind: barrier_tip", "kind: tip", 1))
    found = errors(copy)
    assert "templates/done.j2: this template is missing (restore it from the repository)" in found
    line = line_of(copy, "content/signposts.yaml", "kind: tip")
    assert any(
        p.startswith(f"content/signposts.yaml:{line}: signposts.") and "kind" in p for p in found
    )


def test_overdue_reviews_are_warnings_and_made_up_contacts_errors(copy: Path) -> None:
    from bot.checker import _housekeeping
    from bot.content import load_content
    from bot.content_rules import static_problems

    content = load_content(copy)
    later = dt.date(2028, 1, 1)
    problems = [*_housekeeping(content, later), *static_problems(content, later)]
    assert all(p.warning for p in problems)
    overdue = [str(w) for w in problems if "was due for review" in str(w)]
    signposts = [w for w in overdue if w.startswith("content/signposts.yaml:")]
    resources = [w for w in overdue if w.startswith("content/resources.yaml:")]
    assert len(signposts) == 63 and len(resources) == 6
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
    assert any("tip_cost is never shown" in w for w in warnings)
