"""Rendering the web pages from ``templates/web/`` and ``content/web.yaml``.

The templates use GOV.UK Frontend's Jinja macros. Pure: no server, no store (``content
check`` renders every page through here too).
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jinja2 import (
    ChainableUndefined,
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    Template,
    TemplateError,
    meta,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from bot.channels.web.result import web_result
from bot.contacts import Contact
from bot.conversation.content import Content, compile_templates
from bot.conversation.engine import Choice, Conversation, Engine, Screen
from bot.conversation.flow import DONE, SUMMARY
from bot.conversation.render import FieldStrictUndefined, failure_words
from bot.conversation.result import Result
from bot.conversation.yamlfile import ContentError, Problem, YamlDoc

WEB_TEXT_FILE = "content/web.yaml"
WEB_TEMPLATE_DIR = "templates/web"


# ---- content/web.yaml -------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebTitles(_Strict):
    """Page titles (the first part of each browser tab's title)."""

    start: str
    resume: str
    question: str
    summary: str
    result: str
    privacy: str
    deleted: str
    forget: str = Field(description="'Delete my answers' asks once, on this page")
    accessibility: str
    status_403: str
    status_404: str
    status_405: str
    status_413: str
    status_429: str
    status_500: str
    status_503: str = Field(description="the page when an answer could not be saved (disk full)")

    def for_status(self, status: int) -> str:
        """The title of an error page."""
        return str(getattr(self, f"status_{status}", self.status_500))


class WebButtons(_Strict):
    """Button and link words."""

    start: str
    continue_: str = Field(alias="continue")
    carry_on: str
    start_again: str
    back: str
    change: str
    confirm: str
    delete: str
    forget_delete: str = Field(description="on 'Delete your answers?': deletes everything")
    forget_keep: str = Field(description="on 'Delete your answers?': back, nothing deleted")
    download: str
    new_check: str


class WebErrors(_Strict):
    """What to do about each problem with an answer (the Design System's error messages).

    The ``required_*`` ones are used only for a question without its own ``error`` in the
    flow; ``{label}`` is the question's label.
    """

    required_single: str
    required_scale: str
    required_multi: str
    required_multi_plain: str
    exclusive: str
    required_text: str
    too_long: str


class WebText(_Strict):
    """``content/web.yaml``: the short words of the web page."""

    service_name: str
    title: str
    error_prefix: str
    titles: WebTitles
    progress: str
    buttons: WebButtons
    or_: str = Field(alias="or")
    scale_low: str
    scale_high: str
    error_summary: str
    errors: WebErrors
    moved: str


# ---- templates --------------------------------------------------------------------------------


class NameStrictUndefined(ChainableUndefined):
    """For GOV.UK Frontend's macros: strict about names, lenient about optional parameters.

    The macros test optional parameters (``params.classes``) freely, so a missing key of a
    dict is empty there. A missing *variable*, or a missing attribute of an object, is still
    an error. The editors' own templates are stricter still (:class:`WebEnvironment`).
    """

    __slots__ = ()

    def _check(self) -> None:
        # `caller` is how a macro asks whether it was called with a block: allowed.
        if self._undefined_name == "caller":
            return
        if self._undefined_obj is missing or not isinstance(self._undefined_obj, Mapping):
            self._fail_with_undefined_error()

    def __str__(self) -> str:
        self._check()
        return ""

    def __bool__(self) -> bool:
        self._check()
        return False

    def __iter__(self) -> Any:
        self._check()
        return iter(())

    def __len__(self) -> int:
        self._check()
        return 0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._check()
        return self

    __getitem__ = __getattr__


@dataclass(frozen=True)
class WebTemplate:
    """What a web template shows and the variables it is given besides the common ones."""

    purpose: str
    variables: tuple[str, ...]


# Every page also gets: words (content/web.yaml), title, csrf, has_session, moved, static.
COMMON = ("words", "title", "csrf", "has_session", "moved", "static")
WEB_TEMPLATES: dict[str, WebTemplate] = {
    "start.j2": WebTemplate(
        "The start page, or 'carry on or start again' for someone part-way through.",
        ("resume", "finished", "step", "contact"),
    ),
    "question.j2": WebTemplate(
        "One question: radios, checkboxes or a text box, with the error summary.",
        ("q", "error", "step", "text", "progress"),
    ),
    "summary.j2": WebTemplate(
        "Check your answers, with Change buttons.", ("items", "removed", "step")
    ),
    "result.j2": WebTemplate(
        "The result (Engine.result, as the chat's): code, stage, ranked next steps, contacts, "
        "the plan download, links to each section's page; Start a new check, delete.",
        ("result", "step"),
    ),
    "section.j2": WebTemplate(
        "One section of the result on its own page (/result/<section id>), as the chat's "
        "section message: its intro and items, and links to the others.",
        ("result", "section"),
    ),
    "privacy.j2": WebTemplate(
        "The privacy notice, with what the cookie is for and how long it lasts.",
        ("retention_days", "idle_days", "contact", "cookie_name"),
    ),
    "forget.j2": WebTemplate(
        "'Delete my answers' asks once: Delete (a form) or Keep (back to where they were).", ()
    ),
    "deleted.j2": WebTemplate("After 'Delete my answers'.", ()),
    "accessibility.j2": WebTemplate(
        "The accessibility statement, linked from every page's footer: what was tested and "
        "how to report a problem (the deployment's contact settings; plain words when unset).",
        ("contact",),
    ),
    "error.j2": WebTemplate("404, 405, 403, 413, 429 and 500 pages.", ("status",)),
}


GOVUK = "govuk_frontend_jinja"


class WebEnvironment(ImmutableSandboxedEnvironment):
    """The editors' web templates, strict about every name and field they use.

    ``q.idd`` fails (at run time, and so in ``content check``) and says which fields ``q``
    has, as in the chat's templates. GOV.UK Frontend's macros test optional parameters
    freely, so they are loaded from ``macros``, an environment lenient about a dict's
    missing keys: each template keeps the environment it was loaded from.
    """

    def __init__(self, macros: ImmutableSandboxedEnvironment, **options: Any) -> None:
        super().__init__(**options)
        self.macros = macros

    def get_template(
        self,
        name: str | Template,
        parent: str | None = None,
        globals: Mapping[str, Any] | None = None,
    ) -> Template:
        """Load a template: GOV.UK Frontend's from the lenient environment."""
        if isinstance(name, str) and name.startswith(f"{GOVUK}/"):
            return self.macros.get_template(name, parent, globals)
        return super().get_template(name, parent, globals)


def make_web_environment(root: Path) -> WebEnvironment:
    """The web pages' Jinja environment: sandboxed, HTML-escaping, with the GOV.UK macros."""
    loader = ChoiceLoader(
        [
            FileSystemLoader(str(root / WEB_TEMPLATE_DIR)),
            PrefixLoader({GOVUK: PackageLoader("govuk_frontend_jinja", "templates")}),
        ]
    )
    options: dict[str, Any] = {
        "loader": loader,
        "autoescape": True,
        "trim_blocks": True,
        "lstrip_blocks": True,
        # The macros import each other on every call: without this, each import checks
        # the file's time on disk. Content is reloaded by restarting, as for the chat.
        "auto_reload": False,
    }
    macros = ImmutableSandboxedEnvironment(undefined=NameStrictUndefined, **options)
    return WebEnvironment(macros, undefined=FieldStrictUndefined, **options)


class Pages:
    """The compiled web templates and words for one content bundle."""

    def __init__(self, content: Content, text: WebText, templates: dict[str, Template]) -> None:
        self.content = content
        self.text = text
        self.templates = templates
        self.words = text.model_dump(by_alias=False)
        # The templates drawn so far: content check reports a page it never drew.
        self.rendered: set[str] = set()

    # ---- titles ------------------------------------------------------------------------------

    def title(self, first: str, error: bool = False) -> str:
        """A page's title (content/web.yaml's ``title``), with the error prefix on an error."""
        prefix = self.text.error_prefix if error else ""
        return prefix + self.text.title.format(page=first)

    # ---- rendering ---------------------------------------------------------------------------

    def render(self, name: str, common: dict[str, Any], **context: Any) -> str:
        """Render a page, checking it is given exactly its declared variables."""
        spec = WEB_TEMPLATES[name]
        if set(context) != set(spec.variables):
            raise TypeError(f"web/{name}: got {sorted(context)}, expects {sorted(spec.variables)}")
        if set(common) != set(COMMON) - {"words"}:
            raise TypeError(f"web/{name}: common variables {sorted(common)}")
        self.rendered.add(name)
        return self.templates[name].render(words=self.words, **common, **context)

    def question(
        self,
        screen: Screen,
        common: dict[str, Any],
        error: str | None = None,
        posted: tuple[str, ...] | None = None,
        text: str | None = None,
        back_url: str | None = None,
    ) -> str:
        """A question page; ``error`` is the engine's ``invalid`` reason, ``posted`` re-shows.

        ``back_url`` is the address an earlier question's back link goes to (a question shown
        again by the browser's Back); without it, Back is the engine's Back, a form.
        """
        chosen = set(posted if posted is not None else screen.chosen)

        def item(c: Choice) -> dict[str, Any]:
            it: dict[str, Any] = {"value": c.code, "text": c.label, "checked": c.code in chosen}
            if c.exclusive:
                it["behaviour"] = "exclusive"  # the Design System's script unticks the others
            return it

        choices = [item(c) for c in screen.choices if not c.exclusive]
        if screen.kind == "scale" and screen.scale and choices:
            scale = screen.scale
            choices[0]["hint"] = {"text": scale["low"]}
            choices[-1]["hint"] = {"text": scale["high"]}
        if screen.exclusive:
            choices.append({"divider": self.text.or_})
            choices.extend(item(c) for c in screen.exclusive)
        message = self.error_message(screen, error, text) if error else None
        q = {
            "id": screen.question,
            "kind": screen.kind,
            "label": screen.label,
            "body": Markup(screen.body),
            "number": screen.number,
            "total": screen.total,
            "items": choices,
            "optional": screen.optional,
            "max_length": screen.max_length,
            "back_url": back_url,
        }
        progress = self.text.progress.format(number=screen.number, total=screen.total)
        common = {
            **common,
            "title": self.title(
                self.text.titles.question.format(
                    number=screen.number, total=screen.total, label=screen.label
                ),
                error=message is not None,
            ),
        }
        value = text if text is not None else (screen.text or "")
        return self.render(
            "question.j2",
            common,
            q=q,
            error=message,
            step=screen.step,
            text=value,
            progress=progress,
        )

    # ---- every other page: its variables built here, for the app and for content check --------

    def start(self, screen: Screen, common: dict[str, Any], contact: Contact) -> str:
        """The start page, or 'carry on or start again' for someone part-way through."""
        resume = None
        if screen.page == "question":
            resume = {"number": screen.number, "total": screen.total, "label": screen.label}
        elif screen.page == SUMMARY:
            resume = {"number": None, "total": None, "label": None}
        titles = self.text.titles
        title = self.title(titles.resume if resume else titles.start)
        return self.render(
            "start.j2",
            {**common, "title": title},
            resume=resume,
            finished=screen.page == DONE,
            step=screen.step,
            contact=contact,
        )

    def here(
        self, engine: Engine, conv: Conversation | None, screen: Screen, common: dict[str, Any]
    ) -> str | None:
        """The page for where the person is now: a question, the summary or the result.

        None where no page shows it (the welcome: the start page does).
        """
        if screen.page == "question":
            return self.question(screen, common)
        if screen.page == SUMMARY:
            return self.render(
                "summary.j2",
                {**common, "title": self.title(self.text.titles.summary)},
                items=[i.__dict__ for i in screen.items],
                removed=list(screen.removed),
                step=screen.step,
            )
        if screen.page == DONE and conv is not None:
            return self.result(web_result(engine, conv), screen, common)
        return None

    def result(self, result: Result, screen: Screen, common: dict[str, Any]) -> str:
        """The result page."""
        title = self.title(self.text.titles.result)
        return self.render("result.j2", {**common, "title": title}, result=result, step=screen.step)

    def privacy(self, engine: Engine, common: dict[str, Any], cookie_name: str) -> str:
        """The privacy notice, with the periods and contacts this deployment has."""
        return self.render(
            "privacy.j2",
            {**common, "title": self.title(self.text.titles.privacy)},
            retention_days=engine.retention_days,
            idle_days=engine.idle_days,
            contact=engine.contact,
            cookie_name=cookie_name,
        )

    def deleted(self, common: dict[str, Any]) -> str:
        """After 'Delete my answers'."""
        return self.render("deleted.j2", {**common, "title": self.title(self.text.titles.deleted)})

    def forget(self, common: dict[str, Any]) -> str:
        """'Delete my answers' asks once: Delete or Keep."""
        return self.render("forget.j2", {**common, "title": self.title(self.text.titles.forget)})

    def accessibility(self, common: dict[str, Any], contact: Contact) -> str:
        """The accessibility statement, with how to report a problem (``contact``)."""
        title = self.title(self.text.titles.accessibility)
        return self.render("accessibility.j2", {**common, "title": title}, contact=contact)

    def section(self, result: Result, section: Any, common: dict[str, Any]) -> str:
        """One section of a finished result, on its own page."""
        title = self.title(section.title)
        return self.render("section.j2", {**common, "title": title}, result=result, section=section)

    def error(self, status: int, common: dict[str, Any]) -> str:
        """A friendly error page (404, 500...)."""
        title = self.title(self.text.titles.for_status(status))
        return self.render("error.j2", {**common, "title": title}, status=status)

    def error_message(self, screen: Screen, reason: str, text: str | None) -> str:
        """The Design System's error message for why an answer was refused."""
        e = self.text.errors
        exclusive = screen.exclusive[0].label if screen.exclusive else None
        if reason == "exclusive" and exclusive:
            return e.exclusive.format(exclusive=exclusive)
        if reason == "too_long":
            return e.too_long.format(limit=f"{screen.max_length:,}", length=f"{len(text or ''):,}")
        scale = screen.scale or {}
        # Nothing chosen: the question's own words (flows/triage.yaml), or the kind's, named.
        if screen.error:
            return screen.error.format(
                exclusive=exclusive, min=scale.get("min"), max=scale.get("max")
            )
        label = screen.label
        if screen.kind == "text":
            return e.required_text.format(label=label)
        if screen.kind == "multi":
            if exclusive:
                return e.required_multi.format(exclusive=exclusive, label=label)
            return e.required_multi_plain.format(label=label)
        if screen.kind == "scale" and scale:
            return e.required_scale.format(min=scale["min"], max=scale["max"], label=label)
        return e.required_single.format(label=label)


def load_pages(content: Content) -> Pages:
    """Load content/web.yaml and compile templates/web/; raise ContentError listing problems."""
    root = content.root
    problems: list[Problem] = []
    text: WebText | None = None
    try:
        text = YamlDoc(root / WEB_TEXT_FILE, WEB_TEXT_FILE).validate(WebText)
    except ContentError as exc:
        problems.extend(exc.problems)
    env = make_web_environment(root)
    templates = compile_templates(env, root, WEB_TEMPLATE_DIR, WEB_TEMPLATES, problems)
    if problems:
        raise ContentError(problems)
    assert text is not None
    return Pages(content, text, templates)


# ---- content check ------------------------------------------------------------------------------


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
    from bot.editors.content_rules import CHECK_CONTACT
    from bot.editors.simulate import walk

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
    from bot.channels.web.result import blocked_by_csp, plan_file

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
