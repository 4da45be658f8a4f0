"""The web page's aiohttp application: sessions, routes and the events they send the engine.

Every page is drawn from :meth:`Engine.screen`; every form becomes the same events the chat
sends (Submit for a whole answer, and the Back, Change, Confirm and Start again presses)
through :class:`Triage`, on the store thread (:class:`bot.store.StoreThread`, in groups),
committed before the redirect that shows the next page (post/redirect/get). Build it with
:func:`create_app`; nothing is kept at module level, so one process can serve it beside the
Telegram webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import secrets
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from bot.channels.service import Triage
from bot.channels.web.pages import Pages, load_pages
from bot.channels.web.result import plan_file, style_hashes, web_result
from bot.channels.web.security import (
    MAX_BODY,
    SECURITY_HEADERS,
    Handler,
    RateLimiter,
    client_address,
    content_security_policy,
    csrf_ok,
    csrf_token,
    same_origin,
)
from bot.conversation.engine import (
    Conversation,
    Document,
    Engine,
    Event,
    Outcome,
    Press,
    Screen,
    Submit,
)
from bot.conversation.flow import DONE, SUMMARY, WELCOME
from bot.ops.health import purge_once, queue_figures, read_verdict
from bot.ops.metrics import Metrics
from bot.privacy import pseudonym
from bot.settings import Settings
from bot.store import Store, StoreThread, explain

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC = "/static"
CHANNEL = "web"
HEALTHZ = "/healthz"
_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32): 256 bits


@dataclass(frozen=True)
class Here:
    """A person's conversation and screen, read together on the store thread."""

    conv: Conversation | None
    screen: Screen


def page_url(state: str | None) -> str:
    """The address of the page that shows a conversation state."""
    if state is None or state == WELCOME:
        return "/"
    if state == SUMMARY:
        return "/check-answers"
    if state == DONE:
        return "/result"
    return f"/question/{state}"


def screen_url(screen: Screen) -> str:
    """The address of the page that shows a screen."""
    return page_url(screen.question if screen.page == "question" else screen.page)


def back_url(screen: Screen) -> str | None:
    """Where an earlier question's back link goes (the question before it).

    None for the current question, whose Back is a form the engine moves by.
    """
    return page_url(screen.back) if screen.revisit else None


class WebCheck:
    """Everything the routes share, for one application (no module-level state)."""

    def __init__(
        self, settings: Settings, triage: Triage, pages: Pages, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self.secret = settings.require_secret()
        self.triage = triage
        self.pages = pages
        self.metrics = metrics
        self.store_thread = StoreThread(triage.store, committed=self._committed)
        # Pages are read on the event loop, with a connection of their own (WAL lets it read
        # while the store thread writes, and it sees only committed answers) and an engine of
        # their own (one engine's machine must never be used by two threads at once). It has
        # the same contacts; no handover, which only the Telegram adapter can deliver.
        self.reader = Store(triage.store.path)
        self.view_engine = Engine(
            triage.engine.content,
            retention_days=triage.engine.retention_days,
            idle_days=triage.engine.idle_days,
            contact=triage.engine.contact,
        )
        self.cookie = "__Host-triage" if settings.web_https else "triage"
        self.session_limit = RateLimiter(self.secret, settings.web_session_rate)
        self.address_limit = RateLimiter(self.secret, settings.web_address_rate)

    def _committed(self, ok: bool) -> None:
        """A store-thread group ended: count the checks it started and finished, if it kept them."""
        if ok:
            self.triage.checks_committed()
        else:
            self.triage.checks_rolled_back()

    # ---- sessions -------------------------------------------------------------------------

    def subject(self, session_id: str) -> str:
        """The pseudonym a browser's answers are kept under (never the id itself)."""
        return pseudonym(self.secret, f"web:{session_id}")

    def origin(self, request: web.Request) -> str:
        """The origin forms must come from."""
        return self.settings.web_url or f"{request.scheme}://{request.host}"

    # ---- reading (event loop) -------------------------------------------------------------

    def here(self, subject: str) -> Here:
        """Read a person's conversation and work out their screen (event loop, read only)."""
        conv = self.reader.load(subject)
        return Here(conv, self.view_engine.screen(conv))

    def document(self, subject: str) -> Document | None:
        """The finished result's full plan, as the chat sends it (event loop, read only)."""
        conv = self.reader.load(subject)
        if conv is None or conv.state != DONE or conv.code is None:
            return None
        return plan_file(self.view_engine, conv, self.triage.clock().date())

    # ---- writing (the store thread) ---------------------------------------------------------

    def handle(self, subject: str, event: Event) -> tuple[Outcome, Screen | None]:
        """One event through the service; the new screen if an answer was refused."""
        outcome = self.triage.handle(subject, event, channel=CHANNEL)
        assert outcome is not None  # no update ids on the web: never "already handled"
        screen = None
        if outcome.invalid:
            engine, conv = self.triage.engine, outcome.conversation
            # A refused answer to an earlier question is shown again on that question.
            if isinstance(event, Submit):
                screen = engine.revisit(conv, event.question)
            screen = screen or engine.screen(conv)
        return outcome, screen

    def start(self, subject: str, step: int | None) -> Outcome | None:
        """Start (or start again from the welcome); None if they are already under way."""
        conv = self.triage.store.load(subject)
        if conv is None:
            event: Event = Press("go|0")
        elif conv.state == WELCOME:
            event = Press(f"go|{conv.step if step is None else step}")
        else:
            return None
        return self.triage.handle(subject, event, channel=CHANNEL)

    def restart(self, subject: str, step: int | None) -> Outcome:
        """Start again (from the result page or the 'carry on' page)."""
        conv = self.triage.store.load(subject)
        event = Press("go|0") if conv is None else Press(f"ag|{-1 if step is None else step}")
        outcome = self.triage.handle(subject, event, channel=CHANNEL)
        assert outcome is not None
        return outcome

    def forget(self, subject: str) -> None:
        """Delete everything linked to this browser, as /forget's Delete does in the chat.

        The page has already asked; this is the engine's own Delete for where they are now.
        """
        conv = self.triage.store.load(subject)
        event = Press(f"fg|{conv.step}|{conv.run}" if conv is not None else "fg|0|")
        self.triage.handle(subject, event, channel=CHANNEL)

    # ---- rendering ------------------------------------------------------------------------

    def common(self, request: web.Request, title: str, has_session: bool) -> dict[str, Any]:
        """The variables every page gets."""
        sid = request.get(SID)
        return {
            "title": title,
            "csrf": csrf_token(self.secret, sid) if sid else "",
            "has_session": has_session,
            "moved": request.query.get("moved") == "1",
            "static": STATIC,
        }

    def html(self, body: str, status: int = 200) -> web.Response:
        """An HTML page that no cache keeps (it shows someone's answers)."""
        response = web.Response(text=body, status=status, content_type="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    def error_page(self, request: web.Request, status: int) -> web.Response:
        """A friendly error page: one clear message, never a traceback."""
        body = self.pages.error(status, self.common(request, "", has_session=False))
        return self.html(body, status=status)


KEY = web.AppKey("web_check", WebCheck)
SID = web.RequestKey("sid", str)  # the browser's random session id (memory only)
NEW_SESSION = web.RequestKey("new_session", bool)
FORM = web.RequestKey("form", MultiDictProxy)
DROP_SESSION = web.RequestKey("drop_session", bool)
STYLE_HASHES = web.ResponseKey("style_hashes", tuple)  # inline styles a download may use


# ---- middleware ---------------------------------------------------------------------------------


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Friendly pages for every error; a one-line log (no address, no agent) for a crash."""
    check = request.app[KEY]
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = check.error_page(request, exc.status)
        for name in ("Allow", "Retry-After"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except asyncio.CancelledError:
        raise
    except sqlite3.Error as exc:
        # The database file cannot take the answer (a full disk, a read-only mount...): one
        # line for the operator saying what to do, and "try again soon" for the person.
        problem = explain(exc, check.triage.store.path, writing=True)
        if problem is None:
            return _crashed(request, exc)
        log.error("web page could not save an answer: %s", problem)
        response = check.error_page(request, 503)
        response.headers["Retry-After"] = "60"
        return response
    except Exception as exc:
        return _crashed(request, exc)


def _crashed(request: web.Request, exc: Exception) -> web.Response:
    """A bug: one log line (route template and exception, never an address), a 500 page."""
    resource = request.match_info.route.resource
    log.error(
        "web page %s %s failed: %s: %s",
        request.method,
        resource.canonical if resource else "?",
        type(exc).__name__,
        str(exc).splitlines()[0] if str(exc) else "",
    )
    return request.app[KEY].error_page(request, 500)


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sessions, rate limits, and for every POST: origin, size and CSRF checks."""
    check = request.app[KEY]
    if request.path.startswith(STATIC + "/") or request.path == HEALTHZ:
        # No session, cookie or rate limit: files, and the health check's monitor.
        return await handler(request)
    raw = request.cookies.get(check.cookie, "")
    request[NEW_SESSION] = not _SESSION_RE.match(raw)
    request[SID] = secrets.token_urlsafe(32) if request[NEW_SESSION] else raw
    address = client_address(request, check.settings.web_proxy)
    for limiter, key in ((check.address_limit, address), (check.session_limit, request[SID])):
        wait = limiter.retry_after(key)
        if wait is not None:
            raise web.HTTPTooManyRequests(headers={"Retry-After": str(max(1, round(wait)))})
    if request.method == "POST":
        if not same_origin(request, check.origin(request)):
            raise web.HTTPForbidden()
        form = await request.post()  # over MAX_BODY: 413
        token = form.get("csrf")
        if request[NEW_SESSION] or not isinstance(token, str):
            raise web.HTTPForbidden()
        if not csrf_ok(check.secret, request[SID], token):
            raise web.HTTPForbidden()
        request[FORM] = form
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:  # a redirect: the next page
            _session_cookie(request, exc)
        raise
    _session_cookie(request, response)
    return response


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Security headers on every response, static files and error pages included."""
    response.headers.update(SECURITY_HEADERS)
    metrics = request.app[KEY].metrics
    if metrics is not None:
        # By the route's template (/question/{question}), never the address asked for.
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "(no route)"
        if not route.startswith(STATIC) and route != HEALTHZ:
            metrics.page(route, response.status)
    hashes = response.get(STYLE_HASHES) if isinstance(response, web.Response) else None
    if hashes:
        response.headers["Content-Security-Policy"] = content_security_policy(hashes)


def _session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Set (or slide forward, or drop) the session cookie on a page's response."""
    check = request.app[KEY]
    if request.get(DROP_SESSION):
        response.del_cookie(check.cookie, path="/", secure=check.settings.web_https)
        return
    # Slides forward with each visit; stored answers go after the same idle period.
    response.set_cookie(
        check.cookie,
        request[SID],
        max_age=check.settings.idle_days * 86400,
        path="/",
        secure=check.settings.web_https,
        httponly=True,
        samesite="Lax",
    )


# ---- routes ---------------------------------------------------------------------------------


def _step(form: MultiDictProxy[Any]) -> int | None:
    raw = form.get("step")
    return int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 10 else None


def _see_other(url: str) -> web.Response:
    # Returned, not raised: a raised redirect carries a traceback whose reference cycles
    # the garbage collector then has to find, one per answer.
    return web.Response(status=303, headers={"Location": url})


def _moved(url: str) -> web.Response:
    return _see_other(f"{url}?moved=1")


async def start_page(request: web.Request) -> web.Response:
    """The start page, or 'carry on or start again'."""
    check = request.app[KEY]
    here = check.here(check.subject(request[SID]))
    body = check.pages.start(
        here.screen,
        check.common(request, "", has_session=here.conv is not None),
        check.triage.engine.contact,
    )
    return check.html(body)


async def start(request: web.Request) -> web.Response:
    """Start: nothing is stored before this."""
    check = request.app[KEY]
    subject = check.subject(request[SID])
    outcome = await check.store_thread.commit(check.start, subject, _step(request[FORM]))
    if outcome is None or outcome.conversation is None:
        return _see_other("/check")
    return _see_other(page_url(outcome.conversation.state))


async def restart(request: web.Request) -> web.Response:
    """Start again: a new run from the first question."""
    check = request.app[KEY]
    subject = check.subject(request[SID])
    outcome = await check.store_thread.commit(check.restart, subject, _step(request[FORM]))
    conv = outcome.conversation
    if outcome.notice:
        return _moved(page_url(conv.state if conv else None))
    return _see_other(page_url(conv.state if conv else None))


async def current(request: web.Request) -> web.Response:
    """/check: wherever the person is now."""
    check = request.app[KEY]
    here = check.here(check.subject(request[SID]))
    return _see_other(screen_url(here.screen))


async def show(request: web.Request) -> web.Response:
    """A question, the summary or the result: the person's current one.

    An earlier question on their path (the browser's Back) is shown with its answer.
    """
    check = request.app[KEY]
    here = check.here(check.subject(request[SID]))
    url = screen_url(here.screen)
    if request.path != url:
        question = request.match_info.get("question")
        earlier = check.view_engine.revisit(here.conv, question) if question else None
        if earlier is None:
            return _moved(url)
        common = check.common(request, "", True)
        return check.html(check.pages.question(earlier, common, back_url=back_url(earlier)))
    return render_here(request, here)


def render_here(request: web.Request, here: Here) -> web.Response:
    """Render the page for where the person is now."""
    check = request.app[KEY]
    common = check.common(request, "", True)
    body = check.pages.here(check.view_engine, here.conv, here.screen, common)
    return _see_other("/") if body is None else check.html(body)


async def result_section(request: web.Request) -> web.Response:
    """One section of a finished result, on its own page (linked from the result page)."""
    check = request.app[KEY]
    here = check.here(check.subject(request[SID]))
    if here.screen.page != DONE or here.conv is None:
        return _moved(screen_url(here.screen))
    result = web_result(check.view_engine, here.conv)
    section = result.section(request.match_info["section"])
    if section is None:
        raise web.HTTPNotFound()
    return check.html(check.pages.section(result, section, check.common(request, "", True)))


async def answer(request: web.Request) -> web.Response:
    """A question's or the summary's form: Continue, Back, Change or Confirm."""
    check = request.app[KEY]
    form: MultiDictProxy[Any] = request[FORM]
    step = _step(form)
    action = form.get("action")
    change = form.get("change")
    question = request.match_info.get("question", "")
    event: Event | None = None
    if step is not None:
        if isinstance(change, str) and change:
            event = Press(f"c|{step}|{change}")
        elif action == "back":
            event = Press(f"b|{step}")
        elif action == "confirm":
            event = Press(f"ok|{step}")
        elif action == "answer" and question:
            codes = tuple(v for v in form.getall("answer", []) if isinstance(v, str))
            text = form.get("text")
            event = Submit(step, question, codes, text if isinstance(text, str) else None)
    subject = check.subject(request[SID])
    if event is None:
        here = check.here(subject)
        return _moved(screen_url(here.screen))
    outcome, screen = await check.store_thread.commit(check.handle, subject, event)
    conv = outcome.conversation
    if outcome.invalid and screen is not None and isinstance(event, Submit):
        posted = event.codes if screen.kind == "multi" else None
        body = check.pages.question(
            screen,
            check.common(request, "", True),
            error=outcome.invalid,
            posted=posted,
            text=event.text,
            back_url=back_url(screen),
        )
        return check.html(body, status=400)
    url = page_url(conv.state if conv else None)
    if outcome.notice:
        return _moved(url)
    return _see_other(url)


async def plan(request: web.Request) -> web.Response:
    """The full plan, the same self-contained page the chat sends, as a file to download."""
    check = request.app[KEY]
    document = check.document(check.subject(request[SID]))
    if document is None:
        return _moved("/check")
    response = web.Response(body=document.data, content_type=document.mime, charset="utf-8")
    response.headers["Content-Disposition"] = _attachment(document.filename)
    response.headers["Cache-Control"] = "no-store"
    # The page's own policy, allowing the plan's inline stylesheet by its hash (and only it),
    # so the plan looks right even if a browser shows it in place.
    response[STYLE_HASHES] = style_hashes(document.data.decode("utf-8"))
    return response


def _attachment(filename: str) -> str:
    """Content-Disposition for a download; the name is made safe for a header."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "plan.html"
    return f'attachment; filename="{safe}"'


async def forget_page(request: web.Request) -> web.Response:
    """'Delete my answers' asks once: Delete (posts below) or Keep (back, nothing lost)."""
    check = request.app[KEY]
    started = check.reader.load(check.subject(request[SID])) is not None
    return check.html(check.pages.forget(check.common(request, "", has_session=started)))


async def forget(request: web.Request) -> web.Response:
    """Delete my answers: the conversation, every linked result, and the cookie.

    Only from the question page's Delete: any other post (an old page's one-tap form) is
    shown the question instead, so nothing is deleted without being asked.
    """
    check = request.app[KEY]
    if request[FORM].get("confirm") != "delete":
        return _see_other("/forget")
    await check.store_thread.commit(check.forget, check.subject(request[SID]))
    request[DROP_SESSION] = True
    return _see_other("/deleted")


async def healthz(request: web.Request) -> web.Response:
    """The health verdict and figures as JSON (as `python -m bot health`); 503 unless ok."""
    check = request.app[KEY]
    verdict = await read_verdict(check.store_thread.commit, check.triage.store, check.settings)
    response = web.json_response(verdict, status=200 if verdict["status"] == "ok" else 503)
    response.headers["Cache-Control"] = "no-store"
    return response


async def privacy(request: web.Request) -> web.Response:
    """The privacy notice (no session needed, nothing stored)."""
    check = request.app[KEY]
    started = check.reader.load(check.subject(request[SID])) is not None
    common = check.common(request, "", has_session=started)
    return check.html(check.pages.privacy(check.triage.engine, common, check.cookie))


async def accessibility(request: web.Request) -> web.Response:
    """The accessibility statement (no session needed, nothing stored)."""
    check = request.app[KEY]
    started = check.reader.load(check.subject(request[SID])) is not None
    common = check.common(request, "", has_session=started)
    return check.html(check.pages.accessibility(common, check.triage.engine.contact))


async def deleted(request: web.Request) -> web.Response:
    """After Delete my answers."""
    check = request.app[KEY]
    return check.html(check.pages.deleted(check.common(request, "", has_session=False)))


# ---- the application ----------------------------------------------------------------------------


def create_app(
    settings: Settings,
    triage: Triage,
    *,
    pages: Pages | None = None,
    housekeeping: bool = False,
    metrics: Metrics | None = None,
) -> web.Application:
    """Build the web page's application around a Triage (engine + store).

    The store must not be used by anything else while the application runs: every call goes
    through the application's own store thread. With ``housekeeping`` it applies the retention
    rules at start and every six hours, as the Telegram bot does. With ``metrics`` it counts
    pages and checks, and serves them on ``settings.metrics_port`` if that is set.
    """
    app = web.Application(
        middlewares=[errors_middleware, guard_middleware], client_max_size=MAX_BODY
    )
    check = WebCheck(settings, triage, pages or load_pages(triage.engine.content), metrics)
    app[KEY] = check
    if metrics is not None:
        triage.on_check = metrics.check
    app.router.add_get("/", start_page)
    app.router.add_post("/start", start)
    app.router.add_post("/restart", restart)
    app.router.add_get("/check", current)
    app.router.add_get("/question/{question}", show)
    app.router.add_post("/question/{question}", answer)
    app.router.add_get("/check-answers", show)
    app.router.add_post("/check-answers", answer)
    app.router.add_get("/result", show)
    app.router.add_get("/result/plan.html", plan)
    app.router.add_get("/result/{section}", result_section)
    app.router.add_get("/forget", forget_page)
    app.router.add_post("/forget", forget)
    app.router.add_get("/deleted", deleted)
    app.router.add_get("/privacy", privacy)
    app.router.add_get("/accessibility", accessibility)
    app.router.add_get(HEALTHZ, healthz)
    app.router.add_static(STATIC, STATIC_DIR)
    app.on_response_prepare.append(_on_prepare)
    if housekeeping:
        app.cleanup_ctx.append(_housekeeping)
    if metrics is not None and settings.metrics_port is not None:
        app.cleanup_ctx.append(_metrics_server)

    async def close(app: web.Application) -> None:
        app[KEY].store_thread.close()
        app[KEY].reader.close()

    app.on_cleanup.append(close)
    return app


METRICS_RUNNER = web.AppKey("metrics_runner", web.AppRunner)


async def _metrics_server(app: web.Application) -> AsyncIterator[None]:
    """/metrics on its own port, beside the page (never on the page's port)."""
    check = app[KEY]
    settings = check.settings
    assert check.metrics is not None and settings.metrics_port is not None

    figures = queue_figures(check.store_thread.commit, check.triage.store)
    app[METRICS_RUNNER] = await check.metrics.serve(
        figures, settings.metrics_listen, settings.metrics_port
    )
    yield
    await app[METRICS_RUNNER].cleanup()


async def _housekeeping(app: web.Application) -> AsyncIterator[None]:
    check = app[KEY]

    async def loop() -> None:
        while True:
            await purge_once(check.store_thread.commit, check.triage.store, check.settings, log)
            await asyncio.sleep(6 * 3600)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def serve(
    settings: Settings, triage: Triage, host: str, port: int, metrics: Metrics | None = None
) -> None:
    """Run the web page until SIGTERM or Ctrl-C.

    aiohttp's access log, which records addresses and user agents, stays off.
    """
    # Two busy threads (the event loop and the store thread) hand the interpreter lock to
    # each other; the default 5 ms turn would add up to 5 ms to every page under load.
    sys.setswitchinterval(0.0005)
    app = create_app(settings, triage, housekeeping=True, metrics=metrics)
    # Everything loaded so far (content, templates, libraries) lives as long as the process:
    # keep it out of the garbage collector's full scans, which otherwise stall every page.
    gc.collect()
    gc.freeze()
    where = settings.web_url or f"http://{host}:{port}"

    async def announce(app: web.Application) -> None:
        log.info("web page on %s (listening on %s:%d)", where, host, port)

    async def stopped(app: web.Application) -> None:
        # Last, once the store is closed: an operator sees the stop was clean (as the bot says).
        log.info("web page stopped")

    app.on_startup.append(announce)
    app.on_cleanup.append(stopped)
    web.run_app(app, host=host, port=port, access_log=None, print=None, shutdown_timeout=5)
