"""Command line: ``python -m bot <command>``. Settings are read once here and passed down.

The top layer: it may import anything, and wires the layers together (it hands the team's
/stats figures to the channels' service, for one). Nothing imports it but ``bot/__main__.py``.
Only what ``run`` and ``web`` need is imported here: the team's and editors' commands (and
rich, Datasette, textstat, graphviz behind them) are imported when one of them is asked for,
so the long-running processes stay small and start quickly. It is written with click alone:
rich and the other libraries the tools use are an optional extra (``.[tools]``), imported only
when one of the tools runs.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.channels.service import Triage
from bot.cli.common import (
    Integer,
    TriageGroup,
    command,
    content_option,
    content_or_exit,
    db_option,
    fail,
    missing_tool,
    needs_tools,
    open_store,
    refuse_synthetic,
    settings_from,
)
from bot.clock import utcnow
from bot.conversation.content import Channel, Content, load_content
from bot.conversation.engine import Engine
from bot.conversation.yamlfile import ContentError
from bot.logsafe import configure_logging
from bot.privacy import pseudonym
from bot.settings import Settings, SettingsError, load_settings
from bot.store import Store, StoreThread
from bot.team.stats import stats_source

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramBot
    from bot.ops.metrics import Metrics


def _team_commands(extra: click.Group) -> None:
    from bot.cli.team import register

    register(extra)


def _ops_commands(extra: click.Group) -> None:
    from bot.cli.ops import register

    register(extra)


def _editor_commands(extra: click.Group) -> None:
    from bot.cli.editors import content_app, flow_app

    extra.add_command(content_app, "content")
    extra.add_command(flow_app, "flow")


# The other commands, each group registered only when one of its commands is asked for (or
# the list of commands is shown), in the order --help lists them.
_LAZY: tuple[tuple[tuple[str, ...], Callable[[click.Group], None]], ...] = (
    (("report", "lookup", "review", "export", "demo-data", "backup"), _team_commands),
    (("health",), _ops_commands),
    (("content", "flow"), _editor_commands),
)


class BotGroup(TriageGroup):
    """The root command: the team's, operators' and editors' commands load when used."""

    def _load(self, names: tuple[str, ...], register: Callable[[click.Group], None]) -> None:
        extra = click.Group()
        try:
            register(extra)
        except ImportError as exc:
            # The modules import their optional libraries only when run; this is a last net.
            if missing_tool(exc):
                raise needs_tools(names[0]) from None
            raise
        for name, loaded in extra.commands.items():
            self.commands.setdefault(name, loaded)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The named command, loading its group if it is not loaded yet."""
        if cmd_name not in self.commands:
            for names, register in _LAZY:
                if cmd_name in names:
                    self._load(names, register)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, in the order of the help (loads them all)."""
        for names, register in _LAZY:
            if names[0] not in self.commands:
                self._load(names, register)
        return super().list_commands(ctx)


@click.group(
    "python -m bot",
    cls=BotGroup,
    invoke_without_command=True,
    subcommand_metavar="COMMAND [ARGS]...",
    help="MPSP triage bot: a Telegram conversation for Public Service Mutuals, and its tools.",
    # One line for each command and option where the terminal is wide enough (click stops
    # at 80 columns otherwise); defaults are shown after each option's help.
    context_settings={"max_content_width": 120, "show_default": True},
)
@click.pass_context
def app(ctx: click.Context) -> None:
    """With no command: the Telegram bot if TELEGRAM_BOT_TOKEN is set, else the terminal chat."""
    try:
        ctx.obj = load_settings()
    except SettingsError as exc:
        raise fail(str(exc)) from None
    if ctx.invoked_subcommand is None:
        # Through click, so each command's defaults apply as if it had been named.
        ctx.invoke(app.commands["run" if ctx.obj.token else "chat"])


def make_engine(
    settings: Settings,
    bundle: Content,
    *,
    handover: bool = False,
    reminders: bool = False,
    channel: Channel = "telegram",
) -> Engine:
    """The engine for a content bundle, with the retention periods the privacy notice quotes.

    ``handover``: offer "Ask the team to contact me" (only where the team's chat can be
    reached: the Telegram bot with TRIAGE_TEAM_CHAT_ID set). ``reminders``: the transport can
    write to people later (Telegram only): one reminder, and the follow-up check offered
    after TRIAGE_FOLLOWUP_MONTHS (issue 9). ``channel``: "telegram" or "terminal": whose words
    for answering the messages use, and what the privacy notice and the welcome say is kept.
    """
    return Engine(
        bundle,
        retention_days=settings.retention_days,
        idle_days=settings.idle_days,
        contact=settings.contact,
        handover=handover,
        reminders=reminders,
        follow_up_months=settings.follow_up_months if reminders else 0,
        channel=channel,
    )


def make_triage(
    settings: Settings,
    bundle: Content,
    store: Store,
    *,
    handover: bool = False,
    reminders: bool = False,
    channel: Channel = "telegram",
) -> Triage:
    """The engine and the store together, as every adapter uses them."""
    return Triage(
        store,
        make_engine(settings, bundle, handover=handover, reminders=reminders, channel=channel),
        stats=stats_source(bundle, settings.rules),
        quiet=settings.quiet_hours,
    )


@command(app)
@click.pass_context
@db_option
@content_option
def chat(ctx: click.Context, db: Path | None, content: Path | None) -> None:
    """Walk the triage conversation in the terminal (no Telegram needed).

    Type the number of a button to press it, type text to answer, and use the same
    commands as on Telegram (/start, /restart, /cancel, /help, /privacy, /forget), or /quit.
    """
    from bot.channels.terminal import TERMINAL_SUBJECT_ID, Screen, TerminalChat, screen_reader

    settings = settings_from(ctx, db, content)
    bundle = content_or_exit(settings)
    # The store first: its one-line errors say what is wrong with the database's folder,
    # which is where the local secret is kept too.
    store = open_store(ctx, settings)
    try:
        settings = settings.with_local_secret()
    except (SettingsError, OSError) as exc:
        store.close()
        raise fail(str(exc)) from None
    screen = Screen()
    screen.print(f"Terminal chat on {settings.db_path} — type /quit to leave.", {"dim": True})
    triage = make_triage(settings, bundle, store, channel="terminal")
    subject = pseudonym(settings.require_secret(), TERMINAL_SUBJECT_ID)
    plans = settings.db_path.parent / "plans"
    try:
        TerminalChat(triage, subject, screen, screen_reader(screen), plans).run()
    finally:
        store.close()


@command(app)
@click.pass_context
@click.option(
    "--webhook",
    is_flag=True,
    help="Receive updates on a webhook (TRIAGE_WEBHOOK_URL, TRIAGE_WEBHOOK_SECRET) "
    "instead of polling.",
)
@db_option
@content_option
def run(ctx: click.Context, webhook: bool, db: Path | None, content: Path | None) -> None:
    """Run the Telegram bot (needs TELEGRAM_BOT_TOKEN and TRIAGE_SECRET)."""
    from bot.channels.telegram import StartupError, run_bot

    settings = settings_from(ctx, db, content)
    try:
        token = settings.require_token()
        secret = settings.require_secret()
        if webhook:
            settings.require_webhook()
    except SettingsError as exc:
        raise fail(str(exc)) from None
    configure_logging(settings.log_level, (token, secret, settings.webhook_secret or ""))
    log = logging.getLogger("bot")
    bundle = content_or_exit(settings, log)
    store = open_store(ctx, settings)
    refuse_synthetic(store, "run")
    # Only Telegram can reach people later: reminders and follow-ups are on here alone.
    triage = make_triage(
        settings, bundle, store, handover=settings.team_chat_id is not None, reminders=True
    )
    log_missing_contacts(settings, log)

    async def reload(bot: TelegramBot) -> bool:
        return await reload_content(settings, triage, bot.store_thread, log)

    try:
        code = run_bot(
            settings,
            triage,
            webhook=webhook,
            commands=bundle.ui.commands,
            on_reload=reload,
            metrics=_metrics(settings),
        )
    except StartupError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    if code:
        raise click.exceptions.Exit(code)


def _metrics(settings: Settings) -> Metrics | None:
    """Metrics for this process, when TRIAGE_METRICS_PORT asks for them (off by default)."""
    if settings.metrics_port is None:
        return None
    from bot.ops.metrics import Metrics

    return Metrics()


def log_missing_contacts(settings: Settings, log: logging.Logger) -> None:
    """One line at start naming the contact settings left unset (never their values)."""
    if missing := settings.missing_contacts():
        log.warning(
            "programme contacts not set: %s (people see plain wording and their code instead%s)",
            ", ".join(missing),
            "; no 'ask the team to contact me'" if settings.team_chat_id is None else "",
        )


async def reload_content(
    settings: Settings, triage: Triage, store_thread: StoreThread, log: logging.Logger
) -> bool:
    """SIGHUP: run the full content check; switch to the new content only if it passes.

    The check runs as a separate process (the same `content check` editors run), so its
    rendering work never slows the bot's replies.
    """
    current = triage.engine.content.digest
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "content",
        "check",
        "--quiet",
        "--content",
        str(settings.content_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    if proc.returncode != 0:
        errors = [
            line
            for line in output.decode(errors="replace").splitlines()
            if line.startswith("error")
        ]
        log.error(
            "content reload refused, keeping version %s: the content check found %d error(s); "
            "first: %s",
            current,
            len(errors),
            errors[0] if errors else output[-300:],
        )
        return False
    try:
        bundle = await asyncio.to_thread(load_content, settings.content_dir)
    except ContentError as exc:  # changed again since the check
        log.error("content reload refused, keeping version %s: %s", current, exc.problems[0])
        return False
    engine = make_engine(
        settings, bundle, handover=triage.engine.handover, reminders=triage.engine.reminders
    )
    # Swap on the store thread, between two events, never during one.
    await store_thread.call(setattr, triage, "engine", engine)
    log.info("content reloaded: version %s (was %s)", bundle.digest, current)
    return True


# ---- the web page (issue 12) ------------------------------------------------------------------


@command(app)
@click.pass_context
@click.option("--host", default="127.0.0.1", help="Address to listen on.")
@click.option("--port", type=Integer(), default=8080, help="Port to listen on.")
@db_option
@content_option
def web(ctx: click.Context, host: str, port: int, db: Path | None, content: Path | None) -> None:
    """Serve the check as a web page (needs TRIAGE_SECRET; see README for HTTPS and proxies)."""
    from bot.channels.web.app import serve

    settings = settings_from(ctx, db, content)
    try:
        secret = settings.require_secret("the web page")
    except SettingsError as exc:
        raise fail(str(exc)) from None
    configure_logging(settings.log_level, (secret,))
    log = logging.getLogger("bot.channels.web")
    bundle = content_or_exit(settings, log)
    if missing := settings.missing_contact_settings():
        # The team chat is not listed: the web page never offers the Telegram handover.
        log.warning(
            "programme contacts not set: %s (the result page shows plain wording and the "
            "reference code instead)",
            ", ".join(missing),
        )
    store = open_store(ctx, settings)
    refuse_synthetic(store, "web")
    try:
        serve(settings, make_triage(settings, bundle, store), host, port, _metrics(settings))
    finally:
        store.close()


@command(app)
@click.pass_context
@db_option
def purge(ctx: click.Context, db: Path | None) -> None:
    """Apply the retention rules now (the running bot also does this every six hours)."""
    settings = settings_from(ctx, db)
    store = open_store(ctx, settings, existing=True)
    try:
        counts = store.purge(utcnow(), settings.idle_days, settings.retention_days)
    finally:
        store.close()
    for name, count in counts.items():
        click.echo(f"{name.replace('_', ' ')}: {count} removed")


def main() -> None:
    """Entry point for ``python -m bot`` and the ``mpsp-triage`` script."""
    # click names the program as it was started: "python -m bot" or "mpsp-triage".
    app.main()
