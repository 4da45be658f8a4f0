"""`content check`'s rules for the result (issue 8): each kind of mistake is caught."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from bot.conversation.content import load_content
from bot.conversation.yamlfile import ContentError
from bot.editors.checker import check_content
from bot.editors.content_rules import static_problems

from .conftest import ROOT
from .test_content_check import edit, line_of


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("flows", "templates", "content"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def static(root: Path) -> list[str]:
    return [str(p) for p in static_problems(load_content(root), dt.date(2026, 12, 1))]


def test_contradictions_of_each_kind_are_errors(copy: Path) -> None:
    # A stage: without its caps, someone who has never partnered can reach "Ready to partner".
    edit(
        copy, "content/readiness.yaml", lambda t: t.split("\ncaps:")[0] + t[t.index("\nstages:") :]
    )
    # A route: a joint company suggested with a bid due within three months.
    edit(
        copy,
        "content/rules.yaml",
        lambda t: t.replace("        - {q: live_bid, not_in: [within_month, one_to_three]}\n", ""),
    )
    # A section (and its items) speaking to commissioners, shown to Mutuals.
    edit(
        copy,
        "content/rules.yaml",
        lambda t: t.replace(
            "    when: {q: commissioner_interest, in: [consortia, all_of_them]}",
            "    when: {q: barriers, in: [procurement_rules]}",
        ),
    )
    # A route for small organisations, shown to a Mutual of over 1,000 staff.
    edit(
        copy,
        "content/signposts.yaml",
        lambda t: t.replace(
            "    assumes: {q: experience, in: [none]}\n",
            "    assumes: {all: [{q: experience, in: [none]}, {q: staff, not_in: [s1000_plus]}]}\n",
        ),
    )
    big = (copy / "content" / "samples" / "young-tiny-mutual.yaml").read_text(encoding="utf-8")
    (copy / "content" / "samples" / "big-new.yaml").write_text(
        big.replace("staff: s1_10", "staff: s1000_plus"), encoding="utf-8"
    )
    found = [str(p) for p in check_content(copy, quick=True, pool_size=30).errors]
    stage_line = line_of(copy, "content/readiness.yaml", "- id: ready_to_partner")
    assert any(
        p.startswith("content/readiness.yaml:")
        and int(p.split(":")[1]) > stage_line
        and "stage contradicts an answer" in p
        and "'Ready to partner'" in p
        and "experience" in p
        for p in found
    )
    assert any(
        "route contradicts an answer" in p and "route_new_entity" in p and "live_bid" in p
        for p in found
    )
    assert any("partnership model contradicts an answer" in p and "model_llp" in p for p in found)
    assert any(
        "route contradicts an answer" in p and "route_start_small" in p and "s1000_plus" in p
        for p in found
    )
    assert any("section contradicts an answer" in p and "Tools you can use" in p for p in found)
    assert any("commissioner tool contradicts an answer" in p for p in found)
    assert all(p.split(":")[0].endswith(".yaml") for p in found if "contradicts" in p)


def test_a_problem_many_paths_hit_is_printed_once_with_how_many(
    copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A contradiction: without its caps, "Ready to partner" reaches people who said partnering
    # is not on their agenda, on many paths.
    edit(
        copy, "content/readiness.yaml", lambda t: t.split("\ncaps:")[0] + t[t.index("\nstages:") :]
    )
    # Readability: a 26-word sentence in a signpost shown on many paths.
    edit(
        copy,
        "content/signposts.yaml",
        lambda t: t.replace(
            "      Start with the loosest deal that will do the job.",
            "      Start with the loosest deal that will do the job, because organisations that"
            " contemplate comprehensive contractual arrangements prematurely experience"
            " considerable administrative difficulties and unnecessary expenditure later.",
        ),
    )
    # Printed as `content check` prints it (its own printer, on a smaller pool of answers).
    from bot.cli import editors as editor_cli

    report = check_content(copy, quick=True, pool_size=40)
    monkeypatch.setenv("COLUMNS", "100")
    capsys.readouterr()
    editor_cli._print_report(report, quiet=False)
    printed_text = capsys.readouterr().out
    lines = printed_text.splitlines()
    checked = report.profiles
    assert "errors: fix them before publishing" in printed_text

    def printed(needle: str) -> str:
        (line,) = [x for x in lines if needle in x]  # once, however many paths hit it
        broken = re.search(rf"Breaks (\d+) of {checked} answer paths, for example: (.+)$", line)
        assert broken and 1 < int(broken[1]) < checked, line
        return line

    stage = printed("ready_to_partner: stage contradicts an answer")
    lines_of = (copy / "content/readiness.yaml").read_text(encoding="utf-8").splitlines()
    start = line_of(copy, "content/readiness.yaml", "- id: ready_to_partner")
    assumes = next(n for n in range(start, len(lines_of)) if "assumes:" in lines_of[n]) + 1
    assert stage.startswith(f"error content/readiness.yaml:{assumes}: ready_to_partner: ")
    # What clashed is shown for the example path only, and no other path is named.
    assert "on the example path, experience=" in stage and "appetite=not_now" in stage
    assert stage.count("org_type=") <= 1
    tip = line_of(copy, "content/signposts.yaml", "- id: tip_legal_complexity")
    sentence = printed("a sentence of 26 words")
    assert sentence.startswith(f"error content/signposts.yaml:{tip}: tip_legal_complexity: ")


def test_a_first_message_that_no_longer_fits_a_phone_is_an_error(copy: Path) -> None:
    long_step = " ".join(["Ask the team for help, and say what you need."] * 12)
    edit(
        copy,
        "content/signposts.yaml",
        lambda t: t.replace(
            "    step: Talk to the team today. Keep it simple for this bid, with one partner in"
            " the lead.",
            f"    step: {long_step}",
        ),
    )
    found = [str(p) for p in check_content(copy, quick=True, pool_size=10).errors]
    assert any(
        p.startswith("templates/result.j2") and "the first message is" in p and "1,200" in p
        for p in found
    )


def test_plain_english_jargon_questions_and_placeholders(copy: Path) -> None:
    assert static(copy) == []
    # A sentence over 25 words, and a hard one, in a signpost.
    edit(
        copy,
        "content/signposts.yaml",
        lambda t: t.replace(
            "      Start with the loosest deal that will do the job.",
            "      Start with the loosest deal that will do the job, because organisations that"
            " contemplate comprehensive contractual arrangements prematurely experience"
            " considerable administrative difficulties and unnecessary expenditure later.",
        ),
    )
    # Jargon with no explanation.
    edit(
        copy,
        "content/signposts.yaml",
        lambda t: t.replace(
            "      Name one person to lead the partnership and protect their time.",
            "      Name one person to lead the partnership and sign an MOU.",
        ),
    )
    # A question asked for no reason.
    edit(
        copy,
        "flows/triage.yaml",
        lambda t: t.replace(
            "    purpose: >-\n      Not used in the result. The team reports which roles use the"
            " check, to see whether it\n      reaches the people who lead partnerships.\n",
            "",
        ),
    )
    found = static(copy)
    tip = line_of(copy, "content/signposts.yaml", "- id: tip_legal_complexity")
    assert any(
        p.startswith(f"content/signposts.yaml:{tip}: tip_legal_complexity: a sentence of")
        and "(at most 25)" in p
        for p in found
    )
    assert any("tip_capacity: 'MOU' is used without saying what it means" in p for p in found)
    role = line_of(copy, "flows/triage.yaml", "- id: role")
    assert any(
        p.startswith(f"flows/triage.yaml:{role}: role: asked, but nothing in the result")
        for p in found
    )


def test_overdue_resources_warn_and_a_ranked_signpost_needs_a_step(copy: Path) -> None:
    edit(
        copy,
        "content/resources.yaml",
        lambda t: t.replace("review_by: 2027-03-31", "review_by: 2026-01-31", 1),
    )
    (warning,) = static(copy)
    assert warning.startswith("content/resources.yaml:") and "procurement_act_guidance" in warning
    edit(
        copy,
        "content/signposts.yaml",
        lambda t: t.replace(
            "    step: Name one person to lead the partnership, and protect their time.\n", ""
        ),
    )
    with pytest.raises(ContentError) as info:
        load_content(copy)
    (problem,) = info.value.problems
    assert problem.file == "content/next_steps.yaml" and "tip_capacity" in problem.message
    assert "has no `step:` text" in problem.message


def test_reading_grades_are_skipped_with_a_warning_where_textstat_is_missing(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.editors.content_rules as rules

    # A catalogue that reads at grade 12 is an error where the grade can be taken...
    monkeypatch.setattr(rules, "grade", lambda text: 12.0)
    found = static(copy)
    assert any("the signposts read at grade 12.0; the limit is 8" in p for p in found), found
    assert not any("reading grades not checked" in p for p in found)
    # ...and without textstat (the bot's own install and image) the check says it skipped it,
    # as a warning, and still finds sentences that are too long.
    monkeypatch.setattr(rules, "can_grade", lambda: False)
    edit(
        copy,
        "content/signposts.yaml",
        lambda t: t.replace("An adviser helps", "An adviser " + "really " * 30 + "helps", 1),
    )
    problems = static_problems(load_content(copy), dt.date(2026, 12, 1))
    skipped = [p for p in problems if "reading grades not checked" in p.message]
    assert len(skipped) == 1 and skipped[0].warning
    assert "pip install '.[tools]'" in skipped[0].hint
    assert not any("read at grade" in p.message for p in problems)
    assert any("sentence of 41 words" in p.message and not p.warning for p in problems), problems
