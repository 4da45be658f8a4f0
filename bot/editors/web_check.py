"""``content check`` for the web page: draw every page a person could see, and report.

Each page is drawn by the same :class:`bot.channels.web.pages.Pages` method the web app draws
it with; the rendering stays in the channel, the checking lives here with the other editors'
checks (a channel may not import the editors' tools).
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, meta

from bot.channels.web.pages import (
    COMMON,
    GOVUK,
    WEB_TEMPLATE_DIR,
    WEB_TEMPLATES,
    Pages,
    WebTitles,
    load_pages,
)
from bot.channels.web.result import blocked_by_csp, plan_file, web_result
from bot.conversation.content import Content
from bot.conversation.engine import Conversation, Engine
from bot.conversation.flow import DONE, SUMMARY
from bot.conversation.render import failure_words
from bot.conversation.yamlfile import ContentError, Problem
from bot.editors.content_rules import CHECK_CONTACT
from bot.editors.simulate import walk


def check_pages(
    content: Content, answer_sets: list[dict[str, Any]], engine: Engine | None = None
) -> tuple[int, list[Problem]]:
    """Render every web page a person could see on these paths (``content check``).

    Each page is drawn by the same :class:`Pages` method the web app draws it with, from an
    engine set up as the web page's is (no Telegram handover, reminders or follow-ups):
    ``engine``, or one with the deployment's contacts set, and again with none set. Returns
    how many pages were rendered and the problems found: a template or words file that does
    not load, a variable a template is not given, a name or field it misspells, a page
    that fails to render, or a page the check never rendered.
    """
    try:
        pages = load_pages(content)
    except ContentError as exc:
        return 0, list(exc.problems)
    problems = _undeclared(pages)
    # As the web app builds them, for a first visit and for someone part-way through.
    first = {"title": "", "csrf": "", "has_session": False, "moved": False, "static": ""}
    common = {**first, "csrf": "0" * 64, "has_session": True, "moved": True}
    engines = [engine or Engine(content, contact=CHECK_CONTACT), Engine(content)]
    count = 0
    seen: set[tuple[object, ...]] = set()
    plan_checked = unreached = False

    def attempt(what: str, render: Callable[[], str | None]) -> None:
        nonlocal count
        try:
            if render() is not None:  # None: no page shows this place (the welcome)
                count += 1
        except Exception as exc:
            problems.append(_render_problem(what, exc))

    for status in _statuses():
        attempt(f"the {status} page", lambda s=status: pages.error(s, first))
    attempt("the deleted page", lambda: pages.deleted(first))
    for shown in (first, common):
        attempt("the delete question", lambda c=shown: pages.forget(c))
    for e in engines:  # contacts set, and none set
        for shown in (first, common):
            attempt("the privacy notice", lambda e=e, c=shown: pages.privacy(e, c, "triage"))
            attempt(
                "the accessibility statement",
                lambda e=e, c=shown: pages.accessibility(c, e.contact),
            )
    # The summary's note on what was taken out of typed text, as if a name and two phone
    # numbers had been (the walks type nothing that is taken out).
    said = content.ui.removed_said
    sample_removed = (said.name.said(1), said.phone.said(2))
    for answers in answer_sets:
        try:
            steps = walk(content, answers, engine=engines[0])
        except Exception:
            unreached = True
            continue  # the chat's own check reports a walk that fails
        for step in steps:
            conv = step.outcome.conversation
            if conv is None:
                continue
            screen = engines[0].screen(conv)
            # The start page shows where someone is: once for each kind of place.
            for e in engines:
                key: tuple[object, ...] = ("start", id(e), screen.page, bool(screen.label))
                if key not in seen:
                    seen.add(key)
                    attempt(
                        "the start page",
                        lambda e=e, s=screen: pages.start(s, common, e.contact),
                    )
            key = (screen.page, f"{screen.question}|{screen.body}|{screen.total}")
            if screen.page == DONE:
                key = (DONE, str(sorted(conv.answers.items())))
            if key in seen:
                continue
            seen.add(key)
            who = f"the {screen.question or screen.page} page"
            # The page for where they are, as each engine shows it (the result names the
            # deployment's contacts, or says it in plain words where none are set).
            if screen.page == SUMMARY and not screen.removed:
                screen = replace(screen, removed=sample_removed)
            for e in engines if screen.page == DONE else engines[:1]:
                attempt(who, lambda e=e, c=conv, s=screen: pages.here(e, c, s, common))
            if screen.page == DONE:
                for e in engines:
                    _attempt_sections(attempt, pages, e, conv, common)
            if screen.page == "question":
                # Shown again by the browser's Back, with a back link by address.
                attempt(
                    f"{who} (an earlier question)",
                    lambda s=screen: pages.question(
                        replace(s, revisit=True, back="welcome"), common, back_url="/"
                    ),
                )
                reasons = ["required"]
                if screen.exclusive:
                    reasons.append("exclusive")
                if screen.kind == "text":
                    reasons.append("too_long")
                for reason in reasons:
                    attempt(
                        f"{who} ({reason} error)",
                        lambda s=screen, r=reason: pages.question(
                            s, common, error=r, text="x" * (s.max_length + 1)
                        ),
                    )
            elif screen.page == DONE and not plan_checked:
                plan_checked = True
                problems.extend(_plan_problems(engines[0], conv))
    # Only when all else is clean: a walk that fails leaves pages unreached.
    clean = not unreached and not any(not p.warning for p in problems)
    for name in WEB_TEMPLATES if clean else ():
        if name not in pages.rendered:
            problems.append(
                Problem(
                    f"{WEB_TEMPLATE_DIR}/{name}",
                    None,
                    "content check never rendered this page, so cannot vouch for it",
                    "a developer must draw it through a Pages method that check_pages calls",
                )
            )
    return count, _each_once(problems)


def _attempt_sections(
    attempt: Callable[[str, Callable[[], str | None]], None],
    pages: Pages,
    engine: Engine,
    conv: Conversation,
    common: dict[str, Any],
) -> None:
    """Each section page of this finished result, as ``engine`` shows it."""
    try:
        result = web_result(engine, conv)
    except Exception:
        return  # the chat's own check reports a result that fails
    for section in result.sections:
        attempt(
            f"the result's {section.id} page",
            lambda sec=section: pages.section(result, sec, common),
        )


def _statuses() -> list[int]:
    """Every status that has an error page (a title in content/web.yaml)."""
    return [
        int(name.removeprefix("status_"))
        for name in WebTitles.model_fields
        if name.startswith("status_")
    ]


def _plan_problems(engine: Engine, conv: Conversation) -> list[Problem]:
    """The plan file is downloaded with the web page's policy: nothing in it may be blocked."""
    try:
        page = plan_file(engine, conv, dt.date.today()).data.decode("utf-8")
    except Exception:
        return []  # the chat's own check reports a plan that fails to render
    return [
        Problem(
            "templates/plan.html.j2",
            None,
            f"the plan file has {what}, which the web page's Content-Security-Policy blocks",
            "keep the plan self-contained: styles in its one <style> element, no scripts",
        )
        for what in blocked_by_csp(page)
    ]


def _undeclared(pages: Pages) -> list[Problem]:
    problems = []
    env = next(iter(pages.templates.values())).environment
    # The frame and the Back form every page includes get the common variables too.
    parts = {"layout.j2": ("action", "step"), "_back.j2": ("action", "step")}
    specs = {**{n: s.variables for n, s in WEB_TEMPLATES.items()}, **parts}
    for name, variables in specs.items():
        try:
            source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
        except TemplateError:
            problems.append(Problem(f"{WEB_TEMPLATE_DIR}/{name}", None, "this template is missing"))
            continue
        # Names imported from GOV.UK Frontend's macros are not variables.
        used = {
            v
            for v in meta.find_undeclared_variables(env.parse(source))
            if not v.startswith("govuk")
        }
        allowed = set(COMMON) | set(variables)
        for var in sorted(used - allowed):
            line = next((i for i, text in enumerate(source.splitlines(), 1) if var in text), None)
            problems.append(
                Problem(
                    f"{WEB_TEMPLATE_DIR}/{name}",
                    line,
                    f"uses {var!r}, which this page is not given",
                    f"it can use: {', '.join(sorted(allowed))}",
                )
            )
    return problems


def _render_problem(who: str, exc: Exception) -> Problem:
    """Point at the web template line that failed, if the traceback shows one.

    The page it failed on is the problem's ``path``: the same mistake on many pages is one
    problem (see :func:`_each_once`).
    """
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2") and f"/{GOVUK}/" not in frame.filename:
            message, hint = failure_words(exc, frame.filename, frame.lineno)
            file = f"{WEB_TEMPLATE_DIR}/{Path(frame.filename).name}"
            return Problem(file, frame.lineno, message, hint, path=who)
    return Problem(
        WEB_TEMPLATE_DIR, None, f"rendering failed: {type(exc).__name__}: {exc}", path=who
    )


def _each_once(problems: list[Problem]) -> list[Problem]:
    """Each problem once, saying on how many pages it was found (and one of them).

    A failure on a line that reading the templates already explains (a name the page is not
    given) is that problem again: it is left out, as the chat's check does.
    """
    explained = {(p.file, p.line) for p in problems if not p.path and p.line is not None}
    pages: dict[Problem, list[str]] = {}
    for problem in problems:
        if problem.path and (problem.file, problem.line) in explained:
            continue
        found = pages.setdefault(problem, [])
        if problem.path and problem.path not in found:
            found.append(problem.path)
    out = []
    for problem, found in pages.items():
        if len(found) == 1:
            problem = replace(problem, detail=f"on {found[0]}")
        elif found:
            problem = replace(problem, detail=f"on {len(found)} web pages, for example {found[0]}")
        out.append(replace(problem, path=""))
    return out
