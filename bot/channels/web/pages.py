"""Rendering the web pages from ``templates/web/`` and ``content/web.yaml``.

The templates use GOV.UK Frontend's Jinja macros. Pure: no server, no store (``content
check`` renders every page through here too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    ChainableUndefined,
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    Template,
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
from bot.conversation.render import FieldStrictUndefined
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
