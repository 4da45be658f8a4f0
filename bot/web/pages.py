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

from ..contacts import Contact
from ..content import Content, compile_templates
from ..engine import Choice, Conversation, Engine, Screen
from ..render import FieldStrictUndefined, failure_words
from ..yamlfile import ContentError, Problem, YamlDoc

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
    download: str
    new_check: str


class WebErrors(_Strict):
    """What to do about each problem with an answer (the Design System's error messages)."""

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
    "summary.j2": WebTemplate("Check your answers, with Change buttons.", ("items", "step")),
    "result.j2": WebTemplate(
        "The result (Engine.result, as the chat's): code, stage, ranked next steps, contacts, "
        "the plan download, every section; Start a new check, delete.",
        ("result", "step"),
    ),
    "privacy.j2": WebTemplate(
        "The privacy notice, with what the cookie is for and how long it lasts.",
        ("retention_days", "idle_days", "contact", "cookie_name"),
    ),
    "deleted.j2": WebTemplate("After 'Delete my answers'.", ()),
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
        return self.templates[name].render(words=self.words, **common, **context)

    def question(
        self,
        screen: Screen,
        common: dict[str, Any],
        error: str | None = None,
        posted: tuple[str, ...] | None = None,
        text: str | None = None,
    ) -> str:
        """A question page; ``error`` is the engine's ``invalid`` reason, ``posted`` re-shows."""
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

    def error_message(self, screen: Screen, reason: str, text: str | None) -> str:
        """The Design System's error message for why an answer was refused."""
        e = self.text.errors
        exclusive = screen.exclusive[0].label if screen.exclusive else None
        if reason == "exclusive" and exclusive:
            return e.exclusive.format(exclusive=exclusive)
        if reason == "too_long":
            return e.too_long.format(limit=f"{screen.max_length:,}", length=f"{len(text or ''):,}")
        if screen.kind == "text":
            return e.required_text
        if screen.kind == "multi":
            return (
                e.required_multi.format(exclusive=exclusive)
                if exclusive
                else (e.required_multi_plain)
            )
        if screen.kind == "scale" and screen.scale:
            return e.required_scale.format(min=screen.scale["min"], max=screen.scale["max"])
        return e.required_single


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

    Returns how many pages were rendered and the problems found: a template or words file
    that does not load, a variable a template is not given, or a page that fails to render.
    """
    from ..simulate import walk
    from .result import web_result

    try:
        pages = load_pages(content)
    except ContentError as exc:
        return 0, list(exc.problems)
    problems = _undeclared(pages)
    engine = engine or Engine(content)
    common = {"title": "", "csrf": "0" * 64, "has_session": True, "moved": True, "static": ""}
    contact = engine.contact
    count = 0
    seen: set[tuple[str, str]] = set()
    plan_checked = False

    def attempt(what: str, render: Callable[[], str]) -> None:
        nonlocal count
        try:
            render()
            count += 1
        except Exception as exc:
            problems.append(_render_problem(what, exc))

    for resume, finished in (
        (None, False),
        ({"number": 3, "total": 15, "label": "Region"}, False),
        ({"number": None, "total": None, "label": None}, False),
        (None, True),
    ):
        attempt(
            "the start page",
            lambda r=resume, f=finished: pages.render(
                "start.j2", common, resume=r, finished=f, step=1, contact=contact
            ),
        )
    for shown in (contact, Contact(name=contact.name)):  # contacts set, and none set
        attempt(
            "the privacy notice",
            lambda c=shown: pages.render(
                "privacy.j2",
                common,
                retention_days=engine.retention_days,
                idle_days=engine.idle_days,
                contact=c,
                cookie_name="triage",
            ),
        )
    attempt("the deleted page", lambda: pages.render("deleted.j2", common))
    for status in (403, 404, 405, 413, 429, 500, 503):
        attempt(
            f"the {status} page",
            lambda s=status: pages.render(
                "error.j2",
                {**common, "title": pages.title(pages.text.titles.for_status(s))},
                status=s,
            ),
        )
    for answers in answer_sets:
        try:
            steps = walk(content, answers, engine=engine)
        except Exception:
            continue  # the chat's own check reports a walk that fails
        for step in steps:
            conv = step.outcome.conversation
            if conv is None:
                continue
            screen = engine.screen(conv)
            key = (screen.page, f"{screen.question}|{screen.body}|{screen.total}")
            if screen.page == "done":
                key = ("done", str(sorted(conv.answers.items())))
            if key in seen or screen.page == "welcome":
                continue
            seen.add(key)
            who = f"the {screen.question or screen.page} page"
            if screen.page == "question":
                attempt(who, lambda s=screen: pages.question(s, common))
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
            elif screen.page == "summary":
                attempt(
                    who,
                    lambda s=screen: pages.render(
                        "summary.j2", common, items=[i.__dict__ for i in s.items], step=s.step
                    ),
                )
            elif screen.page == "done":
                try:
                    result = web_result(engine, conv)
                except Exception:
                    continue  # the chat's own check reports a result that fails
                # With the deployment's contacts set, and with none set (plain words).
                unset = replace(result, contact=Contact(name=result.contact.name))
                for shown in (result, unset):
                    attempt(
                        who,
                        lambda r=shown, s=screen: pages.render(
                            "result.j2", common, result=r, step=s.step
                        ),
                    )
                if not plan_checked:
                    plan_checked = True
                    problems.extend(_plan_problems(engine, conv))
    return count, _each_once(problems)


def _plan_problems(engine: Engine, conv: Conversation) -> list[Problem]:
    """The plan file is downloaded with the web page's policy: nothing in it may be blocked."""
    from .result import blocked_by_csp, plan_file

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
