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
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from jinja2 import meta

from .content import FLOW_FILE, TEMPLATES, Content, load_content
from .content_rules import check_engine, result_problems, result_tour, static_problems
from .engine import Engine, Reply
from .profiles import (
    Coverage,
    Profile,
    load_sample,
    pairwise_profiles,
    path_profiles,
    sample_files,
)
from .render import MESSAGE_LIMIT, tag_problems, telegram_length
from .simulate import Step, tour, walk
from .yamlfile import ContentError, Problem, YamlDoc

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

    @property
    def errors(self) -> list[Problem]:
        """Problems that must be fixed before publishing."""
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        """Problems worth a look that do not stop publishing."""
        return [p for p in self.problems if p.warning]


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
    seen: set[str] = set()
    results: set[object] = set()
    try:
        steps = tour(content, paths[0].answers)
        report.messages += _check_steps(content, "the screen tour", steps, report, seen)
    except Exception as exc:
        report.problems.append(_render_problem(content, "the screen tour", exc))
    if tick:
        tick(1, len(profiles) + 1)
    for n, profile in enumerate(profiles, start=2):
        try:
            steps = walk(content, profile.answers, engine=engine)
        except Exception as exc:
            report.problems.append(_render_problem(content, profile.name, exc))
        else:
            report.messages += _check_steps(content, profile.name, steps, report, seen)
            _check_result(content, engine, profile, steps, report)
            done, final = steps[-1].outcome.conversation, steps[-1].outcome
            try:  # the rest of the result (issue 8): sections, plan, handover; sizes, grades
                if final.completion is not None and done is not None:
                    rest = result_tour(content, engine, done, results)
                    report.messages += _check_steps(content, profile.name, rest, report, seen)
                    more = result_problems(content, engine, profile, final.replies, done, results)
                    report.problems.extend(more)
            except Exception as exc:
                report.problems.append(_render_problem(content, profile.name, exc))
        if tick:
            tick(n, len(profiles) + 1)
    report.seconds = time.perf_counter() - started
    return report


# ---- static checks --------------------------------------------------------------------------


def _template_variables(content: Content) -> list[Problem]:
    problems = []
    env = content.templates["welcome.j2"].environment
    for name, spec in TEMPLATES.items():
        source = (content.root / "templates" / name).read_text(encoding="utf-8")
        used = meta.find_undeclared_variables(env.parse(source)) - set(env.globals)
        for var in sorted(used - set(spec.variables)):
            line = next((i for i, text in enumerate(source.splitlines(), 1) if var in text), None)
            problems.append(
                Problem(
                    f"templates/{name}",
                    line,
                    f"uses {var!r}, which this template is not given",
                    f"it can use: {', '.join(sorted(spec.variables)) or 'no variables'}",
                )
            )
    doc = _doc(content, FLOW_FILE)
    for i, question in enumerate(content.flow.questions):
        used = meta.find_undeclared_variables(env.parse(question.text)) - set(env.globals)
        for var in sorted(used - {"said"}):
            problems.append(
                doc.problem(
                    ["questions", i, "text"],
                    f"{question.id}: the question text uses {var!r}",
                    "question texts can only use `said` (answers so far)",
                )
            )
    return problems


def _housekeeping(content: Content, today: dt.date) -> list[Problem]:
    problems = []
    doc = _doc(content, "content/signposts.yaml")
    for i, signpost in enumerate(content.catalogue.signposts.values()):
        if signpost.review_by < today:
            problems.append(
                _warn(
                    doc.problem(
                        ["signposts", i, "review_by"],
                        f"{signpost.id} was due for review on {signpost.review_by.isoformat()} "
                        f"(owner: {signpost.owner})",
                        "check the text is still right, then move review_by on",
                    )
                )
            )
        if signpost.link is not None and signpost.link.host in EXAMPLE_HOSTS:
            problems.append(
                _warn(
                    doc.problem(
                        ["signposts", i, "link"], f"{signpost.id} links to an example address"
                    )
                )
            )
    shown = {rule.show for rule in content.catalogue.rules}
    for i, signpost in enumerate(content.catalogue.signposts.values()):
        if signpost.id not in shown:
            problems.append(
                _warn(
                    doc.problem(
                        ["signposts", i, "id"],
                        f"{signpost.id} is never shown: no rule uses it",
                        "add a rule in content/rules.yaml, or remove the signpost",
                    )
                )
            )
    rules = _doc(content, "content/rules.yaml")
    used_sections = {rule.section for rule in content.catalogue.rules}
    for i, section in enumerate(content.catalogue.sections):
        if section.id not in used_sections:
            problems.append(
                _warn(rules.problem(["sections", i], f"section {section.id} has no rules"))
            )
    return problems


# ---- what a person sees -----------------------------------------------------------------------


def _check_steps(
    content: Content, who: str, steps: Iterable[Step], report: Report, seen: set[str]
) -> int:
    count = 0
    for step in steps:
        for reply in step.outcome.replies:
            count += 1
            key = f"{reply.text}|{reply.buttons}"
            if key in seen:
                continue
            seen.add(key)
            report.problems.extend(_reply_problems(content, who, step.action, reply))
    return count


def _source(reply: Reply) -> str:
    return f"templates/{reply.source}" if reply.source else "templates"


def _reply_problems(content: Content, who: str, action: str, reply: Reply) -> list[Problem]:
    problems = []
    where = _source(reply)
    context = f"({who}, after '{action}')"
    length = telegram_length(reply.text)
    if length > MESSAGE_LIMIT:
        problems.append(
            Problem(
                where,
                None,
                f"a message is {length:,} characters; Telegram allows {MESSAGE_LIMIT:,} {context}",
                "shorten the text, or add {{ BREAK }} where it may split",
            )
        )
    for issue in tag_problems(reply.text):
        problems.append(
            Problem(
                where,
                None,
                f"{issue} {context}",
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
                    f"the link {href!r} is not a full web address {context}",
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
                    _warn(
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
    flow = _doc(content, FLOW_FILE)
    for i, question in enumerate(content.flow.questions):
        for j, option in enumerate(question.options):
            if option.label in label:
                return FLOW_FILE, flow.line_of(["questions", i, "options", j, "label"])
    ui = _doc(content, "content/ui.yaml")
    for key, value in content.ui.buttons.model_dump().items():
        fixed = value.split("{")[0].strip()
        if fixed and fixed in label:
            return "content/ui.yaml", ui.line_of(["buttons", key])
    return "content/ui.yaml", None


def _check_result(
    content: Content, engine: Engine, profile: Profile, steps: list[Step], report: Report
) -> None:
    final = steps[-1].outcome
    who = profile.name
    if final.completion is None:
        report.problems.append(
            Problem(
                FLOW_FILE,
                None,
                f"{who} never reaches a result: confirm did not finish",
                "check the flow's `when` conditions",
            )
        )
        return
    done = final.conversation
    if done is not None:
        for piece in engine.result_pieces(done):
            length = telegram_length(piece)
            if length > MESSAGE_LIMIT:
                report.problems.append(
                    Problem(
                        "templates/result.j2",
                        None,
                        f"one part of the result is {length:,} characters, more than one "
                        f"Telegram message ({MESSAGE_LIMIT:,}) holds ({who}): it would lose "
                        "its formatting",
                        "add {{ BREAK }} inside it, or shorten the signposts it shows",
                    )
                )
    recs = final.completion.recommendations
    if not recs:
        report.problems.append(
            Problem(
                "content/rules.yaml",
                None,
                f"{who} gets no recommendation at all (answers: {_brief(profile)})",
                "add a rule that covers these answers",
            )
        )
    for signpost, _section, reasons in recs:
        if not reasons:
            report.problems.append(
                Problem(
                    "content/rules.yaml",
                    None,
                    f"{signpost} is shown without a reason ({who})",
                    "give its rule a `when`, or a `because:`",
                )
            )
    shown = {r[0] for r in recs}
    for group in content.catalogue.conflicts:
        clash = [s for s in group if s in shown]
        if len(clash) > 1:
            report.problems.append(
                Problem(
                    "content/rules.yaml",
                    None,
                    f"{who} is shown contradictory advice: "
                    f"{', '.join(clash)} (answers: {_brief(profile)})",
                    "tighten those rules' conditions",
                )
            )


def _brief(profile: Profile) -> str:
    parts = []
    for qid, value in profile.answers.items():
        if value:
            parts.append(f"{qid}={'+'.join(value) if isinstance(value, list) else value}")
    text = ", ".join(parts)
    return text if len(text) < 300 else text[:297] + "..."


def _render_problem(content: Content, who: str, exc: Exception) -> Problem:
    """Point at the template line that failed, if the traceback shows one."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        name = frame.filename
        if name.endswith(".j2"):
            return Problem(
                f"templates/{Path(name).name}",
                frame.lineno,
                f"rendering failed for {who}: {type(exc).__name__}: {exc}",
                "check the names used on that line",
            )
        if name == "<template>":
            return Problem(
                FLOW_FILE, None, f"a question's text failed for {who}: {type(exc).__name__}: {exc}"
            )
    return Problem("content", None, f"{who} failed: {type(exc).__name__}: {exc}")


def _flow_warning(content: Content, question_id: str, message: str, hint: str) -> Problem:
    doc = _doc(content, FLOW_FILE)
    index = content.flow.order.get(question_id, 0)
    return _warn(doc.problem(["questions", index], message, hint))


def _doc(content: Content, name: str) -> YamlDoc:
    """An editor's file parsed once per content version, for looking up lines."""
    return _parsed(content.root, name, content.digest)


@lru_cache(maxsize=16)
def _parsed(root: Path, name: str, digest: str) -> YamlDoc:
    # The digest is part of the key so that an edited file is read again.
    return YamlDoc(root / name, name)


def _warn(problem: Problem) -> Problem:
    return Problem(problem.file, problem.line, problem.message, problem.hint, warning=True)
