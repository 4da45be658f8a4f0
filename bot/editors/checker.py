"""``content check``: everything that could break for a person, found before it goes live.

Loads and validates every file, compiles every template in the sandbox, then walks the real
engine through every path of the flow and a pairwise-complete set of answer profiles (plus the
editors' samples), checking every message and button a person would see.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

from jinja2 import meta, nodes

from bot.conversation.conditions import Answer
from bot.conversation.content import COMMON_VARIABLES, FLOW_FILE, TEMPLATES, Content, load_content
from bot.conversation.engine import Engine, Reply
from bot.conversation.flow import Question
from bot.conversation.profiles import (
    Coverage,
    Profile,
    load_sample,
    pairwise_profiles,
    path_profiles,
    sample_files,
)
from bot.conversation.render import MESSAGE_LIMIT, failure_words, tag_problems, telegram_length
from bot.conversation.yamlfile import ContentError, Problem
from bot.editors.content_rules import (
    CHECK_CONTACT,
    as_warning,
    check_engine,
    editor_doc,
    result_problems,
    result_tour,
    static_problems,
)
from bot.editors.findings import TOUR, Finding, group
from bot.editors.simulate import Step, channel_tour, later_tour, tour, walk

BUTTON_WARN = 40
CALLBACK_LIMIT = 64
EXAMPLE_HOSTS = ("example.org", "example.com", "example.net")
_HREF = re.compile(r'<a\s+href="([^"]*)"')
Progress = Callable[[int, int], None]


@dataclass
class Report:
    """What the check found, and what it covered."""

    problems: list[Problem] = field(default_factory=list)
    profiles: int = 0
    paths: int = 0
    messages: int = 0
    coverage: Coverage | None = None
    seconds: float = 0.0
    digest: str = ""

    @cached_property
    def findings(self) -> list[Finding]:
        """Each distinct problem once, with the answer paths it was found on."""
        # Grouped once, on first read (errors, warnings and the printer all read it): safe
        # because check_content has added every problem before anything reads the report.
        return group(self.problems)

    @property
    def errors(self) -> list[Problem]:
        """Problems that must be fixed before publishing (each once)."""
        return [f.problem for f in self.findings if not f.warning]

    @property
    def warnings(self) -> list[Problem]:
        """Problems worth a look that do not stop publishing (each once)."""
        return [f.problem for f in self.findings if f.warning]


def check_content(
    root: Path,
    today: dt.date | None = None,
    progress: Callable[[int], Progress] | None = None,
    quick: bool = False,
    pool_size: int | None = None,
) -> Report:
    """Check the content in ``root``. ``progress(total)`` returns a callback per profile."""
    started = time.perf_counter()
    report = Report()
    try:
        content = load_content(root)
    except ContentError as exc:
        report.problems.extend(exc.problems)
        report.seconds = time.perf_counter() - started
        return report
    report.digest = content.digest
    report.problems.extend(_template_variables(content))
    report.problems.extend(_housekeeping(content, today or dt.date.today()))
    report.problems.extend(static_problems(content, today or dt.date.today()))
    report.problems.extend(_report_problems(content))

    samples: list[Profile] = []
    for path in sample_files(root):
        display = path.relative_to(root).as_posix()
        try:
            samples.append(load_sample(path, content.flow, display))
        except ContentError as exc:
            report.problems.extend(exc.problems)

    paths = path_profiles(content.flow)
    pairwise, coverage = pairwise_profiles(
        content.flow, pool_size=pool_size or (150 if quick else 1500)
    )
    report.coverage = coverage
    report.paths = len(paths)
    for question_id, code in coverage.never_chosen:
        report.problems.append(
            _flow_warning(
                content,
                question_id,
                f"option {code!r} of {question_id} is never offered to anyone",
                "check the `when` conditions above it",
            )
        )
    asked = {q.id for p in paths for q in content.flow.path(p.answers)}
    for question in content.flow.questions:
        if question.id not in asked:
            report.problems.append(
                _flow_warning(
                    content,
                    question.id,
                    f"{question.id} is never asked: no path reaches it",
                    "check its `when` condition",
                )
            )

    profiles = [*samples, *paths, *pairwise]
    report.profiles = len(profiles)
    tick = progress(len(profiles) + 1) if progress else None
    engine = check_engine(content)
    # Reminders (issue 9) depend only on the question and its position: the routes and the
    # samples render them for every question; the pairwise profiles need not again.
    lighter = check_engine(content, reminders=False)
    routes = len(samples) + len(paths)
    # Problems in a message depend only on the message: check each distinct one once, and
    # note them again for every path that shows it, so each problem can say how many paths
    # it breaks.
    cache: dict[str, list[Problem]] = {}
    # The same for the rest of a result (issue 8's sections, plan and handover, and its
    # length and grade): worked out once per different result, noted for every path to it.
    tours: dict[object, list[Step]] = {}
    sizes: dict[object, list[Problem]] = {}
    try:
        steps = tour(content, paths[0].answers)
        report.messages += _check_steps(content, TOUR, steps, report, cache)
        # Coming back (issue 9): the reminder and the follow-up check's own screens.
        steps = later_tour(content, paths[0].answers, engine)
        report.messages += _check_steps(content, TOUR, steps, report, cache)
        # The terminal chat's own welcome and privacy notice (they describe that channel).
        terminal = Engine(content, contact=CHECK_CONTACT, channel="terminal")
        steps = channel_tour(content, terminal)
        report.messages += _check_steps(content, TOUR, steps, report, cache)
    except Exception as exc:
        report.problems.append(_render_problem(content, exc, TOUR))
    if tick:
        tick(1, len(profiles) + 1)
    for n, profile in enumerate(profiles, start=2):
        sample = n - 2 < len(samples)
        try:
            steps = walk(content, profile.answers, engine=engine if n - 2 < routes else lighter)
        except Exception as exc:
            report.problems.append(_render_problem(content, exc, profile, sample))
        else:
            who = _path_name(profile, sample)
            report.messages += _check_steps(content, who, steps, report, cache)
            _check_result(content, engine, who, steps, report)
            done, final = steps[-1].outcome.conversation, steps[-1].outcome
            try:  # the rest of the result (issue 8): sections, plan, handover; sizes, grades
                if final.completion is not None and done is not None:
                    rest = result_tour(content, engine, done, tours)
                    report.messages += _check_steps(content, who, rest, report, cache)
                    more = result_problems(content, engine, final.replies, done, sizes)
                    report.problems.extend(replace(problem, path=who) for problem in more)
            except Exception as exc:
                report.problems.append(_render_problem(content, exc, profile, sample))
        if tick:
            tick(n, len(profiles) + 1)
    # The web page's templates, on every path and sample (issue 12), each page drawn as the
    # web app draws it, by an engine set up as the web page's is.
    from bot.editors.web_check import check_pages

    # Only when the chat's check is otherwise clean: a failing walk leaves much unreached.
    clean = not any(not p.warning for p in report.problems)
    pages, problems = check_pages(content, [p.answers for p in [*samples, *paths]])
    report.messages += pages
    report.problems.extend(problems)
    if clean:
        report.problems.extend(_never_rendered(content))
    report.seconds = time.perf_counter() - started
    return report


# ---- static checks --------------------------------------------------------------------------


REPORT_TEMPLATE = "templates/report/report.html.j2"


def _report_problems(content: Content) -> list[Problem]:
    """Draw the team's HTML report as ``report --format html`` does, unsplit and by each split.

    From an empty database: every table, row and label is drawn (the figures are hidden), so a
    misspelt name or field in the report's template is found before the team meets it.
    """
    import tempfile

    from bot.disclosure import Rules, protect_count
    from bot.store import Store
    from bot.team.analytics import Analysis, Period, load_responses
    from bot.team.reporting import ReportMeta, html_report

    rules, period = Rules(), Period(None, None)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "check.db")
        try:
            analysis = Analysis(content, rules)
            responses = load_responses(store, period)
            for by in (None, *content.report.dimensions):
                tables = analysis.tables(store, responses, by, period)
                headline = analysis.headline(store, responses, dt.date.today(), period)
                meta = ReportMeta(
                    generated=dt.datetime.now(dt.UTC),
                    since=None,
                    until=None,
                    by=by,
                    responses=protect_count(len(responses), rules),
                    rules=rules,
                    notes=tuple(analysis.split_plan(by).notes),
                )
                html_report(content, meta, tables, headline)
        except Exception as exc:
            return [_report_problem(exc)]
        finally:
            store.close()
    return []


def _report_problem(exc: Exception) -> Problem:
    """Point at the report template's line that failed, if the traceback shows one."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith("report.html.j2"):
            message, hint = failure_words(exc, frame.filename, frame.lineno)
            return Problem(REPORT_TEMPLATE, frame.lineno, message, hint)
    return Problem(REPORT_TEMPLATE, None, f"the HTML report fails: {type(exc).__name__}: {exc}")


def _template_variables(content: Content) -> list[Problem]:
    problems = []
    env = content.templates["welcome.j2"].environment
    for name, spec in TEMPLATES.items():
        source = (content.root / "templates" / name).read_text(encoding="utf-8")
        used = meta.find_undeclared_variables(env.parse(source)) - set(env.globals)
        for var in sorted(used - set(spec.variables) - set(COMMON_VARIABLES)):
            line = next((i for i, text in enumerate(source.splitlines(), 1) if var in text), None)
            problems.append(
                Problem(
                    f"templates/{name}",
                    line,
                    f"uses {var!r}, which this template is not given",
                    f"it can use: {', '.join(sorted(spec.variables)) or 'no variables'}",
                )
            )
    doc = editor_doc(content, FLOW_FILE)
    for i, question in enumerate(content.flow.questions):
        tree = env.parse(question.text)
        used = meta.find_undeclared_variables(tree) - set(env.globals)
        where: list[str | int] = ["questions", i, "text"]
        for var in sorted(used - {"said"}):
            problems.append(
                doc.problem(
                    where,
                    f"the question text uses {var!r}",
                    "question texts can only use `said` (answers so far)",
                    item=question.id,
                )
            )
        earlier = [q.id for q in content.flow.questions[:i]]
        for name in sorted(_said_names(tree) - set(earlier)):
            why = "is asked later" if name in content.flow.by_id else "is not a question"
            problems.append(
                doc.problem(
                    where,
                    f"the question text uses said.{name}, but {name} {why}",
                    f"`said` holds answers given before this question: "
                    f"{', '.join(earlier) or 'none yet'}",
                    item=question.id,
                )
            )
    return problems


def _never_rendered(content: Content) -> list[Problem]:
    """A template the check never drew (a new one its tours do not reach) is not checked."""
    return [
        Problem(
            f"templates/{name}",
            None,
            "content check never rendered this template, so cannot vouch for it",
            "a developer must add the screen that shows it to the check's tours "
            "(bot/editors/simulate.py)",
        )
        for name in TEMPLATES
        if name not in content.rendered
    ]


def _said_names(tree: nodes.Template) -> set[str]:
    """Question ids a question's text looks up in ``said`` (said.x or said['x'])."""
    names = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not (isinstance(target, nodes.Name) and target.name == "said"):
            continue
        if isinstance(node, nodes.Getattr):
            names.add(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            names.add(node.arg.value)
    return names


def _housekeeping(content: Content, today: dt.date) -> list[Problem]:
    problems = []
    doc = editor_doc(content, "content/signposts.yaml")
    for i, signpost in enumerate(content.catalogue.signposts.values()):
        if signpost.review_by < today:
            problems.append(
                as_warning(
                    doc.problem(
                        ["signposts", i, "review_by"],
                        f"was due for review on {signpost.review_by.isoformat()} "
                        f"(owner: {signpost.owner})",
                        "check the text is still right, then move review_by on",
                        item=signpost.id,
                    )
                )
            )
        if signpost.link is not None and signpost.link.host in EXAMPLE_HOSTS:
            problems.append(
                as_warning(
                    doc.problem(
                        ["signposts", i, "link"], "links to an example address", item=signpost.id
                    )
                )
            )
    shown = {rule.show for rule in content.catalogue.rules}
    for i, signpost in enumerate(content.catalogue.signposts.values()):
        if signpost.id not in shown:
            problems.append(
                as_warning(
                    doc.problem(
                        ["signposts", i, "id"],
                        "never shown: no rule uses it",
                        "add a rule in content/rules.yaml, or remove the signpost",
                        item=signpost.id,
                    )
                )
            )
    rules = editor_doc(content, "content/rules.yaml")
    used_sections = {rule.section for rule in content.catalogue.rules}
    for i, section in enumerate(content.catalogue.sections):
        if section.id not in used_sections:
            problems.append(
                as_warning(rules.problem(["sections", i], "section with no rules", item=section.id))
            )
    return problems


# ---- what a person sees -----------------------------------------------------------------------


def _check_steps(
    content: Content,
    who: str,
    steps: Iterable[Step],
    report: Report,
    cache: dict[str, list[Problem]],
) -> int:
    count = 0
    for step in steps:
        # What is sent at once, and what would be sent later (issue 9: a reminder, a follow-up).
        later = [message.reply for message in step.outcome.later]
        for reply in [*step.outcome.replies, *later]:
            count += 1
            key = f"{reply.text}|{reply.buttons}"
            found = cache.get(key)
            if found is None:
                found = cache[key] = _reply_problems(content, reply)
            report.problems.extend(replace(problem, path=who) for problem in found)
    return count


def _source(reply: Reply) -> str:
    return f"templates/{reply.source}" if reply.source else "templates"


def _reply_problems(content: Content, reply: Reply) -> list[Problem]:
    problems = []
    where = _source(reply)
    length = telegram_length(reply.text)
    if length > MESSAGE_LIMIT:
        problems.append(
            Problem(
                where,
                None,
                f"a message is longer than Telegram allows ({MESSAGE_LIMIT:,} characters)",
                "shorten the text, or add {{ BREAK }} where it may split",
            )
        )
    for issue in tag_problems(reply.text):
        problems.append(
            Problem(
                where,
                None,
                issue,
                "Telegram allows b, i, u, s, a, code, pre, blockquote, tg-spoiler",
            )
        )
    for href in _HREF.findall(reply.text):
        parsed = urlparse(href.replace("&amp;", "&"))
        if parsed.scheme not in ("http", "https", "tg", "mailto") or not (
            parsed.netloc or parsed.scheme == "mailto"
        ):
            problems.append(
                Problem(
                    where,
                    None,
                    f"the link {href!r} is not a full web address",
                    "write https://...",
                )
            )
    for row in reply.buttons:
        for button in row:
            if button.data is not None and len(button.data.encode()) > CALLBACK_LIMIT:
                problems.append(
                    Problem(
                        FLOW_FILE,
                        None,
                        f"button data {button.data!r} is over 64 bytes",
                        "shorten question ids or option codes",
                    )
                )
            if len(button.label) > BUTTON_WARN:
                file, line = _button_source(content, button.label)
                problems.append(
                    as_warning(
                        Problem(
                            file,
                            line,
                            f"button '{button.label}' is {len(button.label)} characters; phones "
                            f"cut buttons longer than about {BUTTON_WARN}",
                            "shorten the label",
                        )
                    )
                )
            if button.url is not None and urlparse(button.url).scheme not in ("http", "https"):
                problems.append(
                    Problem(
                        "content/programme.yaml",
                        None,
                        f"button link {button.url!r} is not a web address",
                    )
                )
    return problems


def _button_source(content: Content, label: str) -> tuple[str, int | None]:
    """Where a button's label is written: an option in the flow, or content/ui.yaml."""
    flow = editor_doc(content, FLOW_FILE)
    for i, question in enumerate(content.flow.questions):
        for j, option in enumerate(question.options):
            if option.label in label:
                return FLOW_FILE, flow.line_of(["questions", i, "options", j, "label"])
    ui = editor_doc(content, "content/ui.yaml")
    for key, value in content.ui.buttons.model_dump().items():
        fixed = value.split("{")[0].strip()
        if fixed and fixed in label:
            return "content/ui.yaml", ui.line_of(["buttons", key])
    return "content/ui.yaml", None


def _check_result(
    content: Content, engine: Engine, who: str, steps: list[Step], report: Report
) -> None:
    final = steps[-1].outcome
    if final.completion is None:
        report.problems.append(
            Problem(
                FLOW_FILE,
                None,
                "these answers never reach a result: confirming did not finish",
                "check the flow's `when` conditions",
                path=who,
            )
        )
        return
    done = final.conversation
    if done is not None:
        for piece in engine.result_pieces(done):
            if telegram_length(piece) > MESSAGE_LIMIT:
                report.problems.append(
                    Problem(
                        "templates/result.j2",
                        None,
                        "one part of the result is longer than one Telegram message holds "
                        f"({MESSAGE_LIMIT:,} characters): it would lose its formatting",
                        "add {{ BREAK }} inside it, or shorten the signposts it shows",
                        path=who,
                    )
                )
    recs = final.completion.recommendations
    if not recs:
        report.problems.append(
            Problem(
                "content/rules.yaml",
                None,
                "some answers get no recommendation at all",
                "add a rule that covers them",
                path=who,
            )
        )
    rules = editor_doc(content, "content/rules.yaml")
    for signpost, _section, reasons in recs:
        if not reasons:
            index = next(
                (i for i, r in enumerate(content.catalogue.rules) if r.show == signpost), None
            )
            report.problems.append(
                Problem(
                    "content/rules.yaml",
                    None if index is None else rules.line_of(["rules", index]),
                    "shown without a reason",
                    "give its rule a `when`, or a `because:`",
                    item=signpost,
                    path=who,
                )
            )
    shown = {r[0] for r in recs}
    for group_ in content.catalogue.conflicts:
        clash = [s for s in group_ if s in shown]
        if len(clash) > 1:
            report.problems.append(
                Problem(
                    "content/rules.yaml",
                    rules.line_of(["conflicts", content.catalogue.conflicts.index(group_)]),
                    f"contradictory advice shown together: {', '.join(clash)}",
                    "tighten those rules' conditions",
                    path=who,
                )
            )


def _brief(answers: dict[str, Answer]) -> str:
    """All the answers, as codes in flow order: the name of an answer path."""
    parts = []
    for qid, value in answers.items():
        if value:
            parts.append(f"{qid}={'+'.join(value) if isinstance(value, list) else value}")
    return ", ".join(parts)


def _path_name(profile: Profile, sample: bool) -> str:
    """How a path is named in the check's output: a sample by its name, others by answers."""
    return f"the sample '{profile.name}'" if sample else _brief(profile.answers)


def _render_problem(
    content: Content, exc: Exception, profile: Profile | str, sample: bool = False
) -> Problem:
    """Point at the template line (or question) that failed, if the traceback shows one."""
    question = _failing_question(exc)

    def path() -> str:
        return profile if isinstance(profile, str) else _path_name(profile, sample)

    failed = f"{type(exc).__name__}: {exc}"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        name = frame.filename
        if name.endswith(".j2"):
            message, hint = failure_words(exc, name, frame.lineno)
            return Problem(f"templates/{Path(name).name}", frame.lineno, message, hint, path=path())
        if name == "<template>":
            if question is None:
                return Problem(FLOW_FILE, None, f"a question's text failed: {failed}", path=path())
            line = editor_doc(content, FLOW_FILE).line_of(
                ["questions", content.flow.order[question.id], "text"]
            )
            return Problem(
                FLOW_FILE,
                line,
                f"the question text failed: {failed}",
                "check the names it uses",
                item=question.id,
                path=path(),
            )
    return Problem("content", None, f"rendering failed: {failed}", path=path())


def _failing_question(exc: BaseException) -> Question | None:
    """The question whose text was being rendered when ``exc`` was raised, if any."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        # Content.question_body renders a question's own text; its `question` argument says
        # which one failed (the template itself only knows it as "<template>").
        if tb.tb_frame.f_code.co_name == "question_body":
            candidate = tb.tb_frame.f_locals.get("question")
            if isinstance(candidate, Question):
                found = candidate
        tb = tb.tb_next
    return found


def _flow_warning(content: Content, question_id: str, message: str, hint: str) -> Problem:
    doc = editor_doc(content, FLOW_FILE)
    index = content.flow.order.get(question_id, 0)
    return as_warning(doc.problem(["questions", index], message, hint))
