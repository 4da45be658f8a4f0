"""Editors' commands: ``content check``, ``content preview``, ``content docs``, ``flow diagram``.

``content check`` and ``content docs`` run wherever the bot is installed, and print with click;
``content preview`` and ``flow diagram`` are the editors' tools, and import rich (and
Graphviz) only when run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import click

from bot.channels.terminal import html_to_rich
from bot.cli.common import (
    PATH,
    HelpArgument,
    TriageSubgroup,
    announce_content,
    command,
    content_option,
    content_or_exit,
    fail,
    progress_line,
    rich_console,
    say,
    settings_from,
)
from bot.conversation.content import Content
from bot.conversation.engine import Reply
from bot.conversation.profiles import load_sample, sample_files
from bot.conversation.yamlfile import ContentError
from bot.editors.checker import Report, check_content
from bot.editors.findings import summary

content_app = TriageSubgroup(
    "content",
    help="Check, preview and document the content editors change (flows, templates, YAML).",
    no_args_is_help=True,
)
flow_app = TriageSubgroup("flow", help="The conversation flow.", no_args_is_help=True)


def _content_dir(ctx: click.Context, content: Path | None) -> Path:
    return settings_from(ctx, content=content).content_dir


def _load(ctx: click.Context, content: Path | None) -> Content:
    return content_or_exit(settings_from(ctx, content=content))


@command(content_app, "check")
@click.pass_context
@content_option
@click.option(
    "--strict",
    is_flag=True,
    help="Treat warnings (overdue reviews, unused signposts...) as errors: use before publishing.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print problems only.")
@click.option(
    "--quick", is_flag=True, help="Fewer random profiles (paths and samples all still checked)."
)
def check(ctx: click.Context, content: Path | None, strict: bool, quiet: bool, quick: bool) -> None:
    """Check everything a person could see, before it goes live.

    Validates every YAML file against its schema, compiles every template in the sandbox,
    then walks the real conversation through every path of the flow, a set of answers that
    puts every pair of options together at least once, and the samples in content/samples/.
    Every message is checked for Telegram's HTML, length and links; every result must have
    at least one recommendation, each with a reason, and nothing contradictory.

    Problems name the file and line and say what to do. Exit status 1 if there are errors
    (or warnings, with --strict).
    """
    root = _content_dir(ctx, content)
    if not quiet:
        announce_content(root)
    if quiet:
        report = check_content(root, quick=quick)
    else:
        with progress_line("Rendering answer profiles") as bar:

            def start(total: int) -> Callable[[int, int], None]:
                bar.start(total)
                return lambda done, _total: bar.update(done)

            report = check_content(root, progress=start, quick=quick)
    _print_report(report, quiet)
    failed = report.errors or (strict and report.warnings)
    raise click.exceptions.Exit(1 if failed else 0)


def _print_report(report: Report, quiet: bool) -> None:
    findings = report.findings
    # As the chat does: no colour where NO_COLOR asks for none (click's own default otherwise).
    color = False if os.environ.get("NO_COLOR") else None
    for finding in findings:
        if finding.warning:
            label = click.style("warning", fg="yellow")
        else:
            label = click.style("error", fg="red", bold=True)
        # One line each, however long: editors search and compare them.
        click.echo(f"{label} {finding.describe(report.profiles)}", color=color)
    if quiet:
        return
    errors = sum(1 for f in findings if not f.warning)
    warnings = len(findings) - errors
    if report.coverage is not None:
        cov = report.coverage
        say(
            f"Checked {report.profiles} answer paths ({report.paths} routes through the "
            f"flow; {cov.covered:,} of {cov.pairs:,} option pairs together), "
            f"{report.messages:,} messages, in {report.seconds:.1f}s. "
            f"Content version {report.digest}."
        )
    say(summary(errors, warnings), {"fg": "red" if errors else "green", "bold": True})


@command(content_app, "preview")
@click.pass_context
@click.argument(
    "answers",
    cls=HelpArgument,
    type=PATH,
    required=False,
    help="A YAML file of answers (same shape as content/samples/*.yaml).",
)
@click.option("--sample", "-s", help="A sample in content/samples/, by file name without .yaml.")
@click.option("--result-only", is_flag=True, help="Show only the result messages.")
@click.option(
    "--sections/--no-sections",
    default=True,
    help="After the first message of the result, open each section button in turn.",
)
@content_option
def preview(
    ctx: click.Context,
    answers: Path | None,
    sample: str | None,
    result_only: bool,
    sections: bool,
    content: Path | None,
) -> None:
    """Show exactly what a person would see: every message and its buttons, in order.

    Give an answers file, or --sample NAME; with neither, lists the samples. Contacts and the
    team chat come from the TRIAGE_CONTACT_* and TRIAGE_TEAM_CHAT_ID settings, as in the bot.
    """
    from rich.markup import escape

    from bot.conversation.engine import Engine
    from bot.editors.content_rules import result_tour
    from bot.editors.simulate import walk

    out, err = rich_console(), rich_console(stderr=True)
    settings = settings_from(ctx, content=content)
    bundle = content_or_exit(settings)
    samples = {p.stem: p for p in sample_files(bundle.root)}
    if answers is None and sample is None:
        out.print("Samples (use --sample NAME):")
        for name, path in samples.items():
            out.print(f"  {name}  [dim]{escape(str(path))}[/dim]")
        return
    if sample is not None:
        if sample not in samples:
            raise fail(f"no sample called {sample!r}; there are: {', '.join(samples)}")
        path = samples[sample]
    else:
        assert answers is not None
        path = answers
        if not path.is_file():
            raise fail(f"{path} is not a file")
    try:
        profile = load_sample(path, bundle.flow, str(path))
    except ContentError as exc:
        for problem in exc.problems:
            err.print(f"[bold red]error[/bold red] {escape(str(problem))}", soft_wrap=True)
        raise click.exceptions.Exit(1) from None
    # As on Telegram: reminders on, and the follow-up offered (TRIAGE_FOLLOWUP_MONTHS).
    engine = Engine(
        bundle,
        contact=settings.contact,
        handover=settings.team_chat_id is not None,
        reminders=True,
        follow_up_months=settings.follow_up_months,
    )
    steps = walk(bundle, profile.answers, engine=engine)
    if result_only:
        steps = steps[-1:]
    done = steps[-1].outcome.conversation
    if sections and done is not None and done.code is not None:
        skip = ("tap Send again", "tap My next steps")  # the checker's extra presses
        steps += [s for s in result_tour(bundle, engine, done) if s.action not in skip]
    out.print(f"[dim]Preview of {escape(profile.name)} with content version {bundle.digest}[/dim]")
    reminded = result_only  # the reminder is shown once, at the first question
    after = bundle.duration(bundle.reminders.reminder.after_days, "day")
    for step in steps:
        if not result_only:
            out.print(f"\n[bold cyan]you ▸[/bold cyan] {escape(step.action)}")
        if step.outcome.notice:
            out.print(f"  [yellow]pop-up: {escape(step.outcome.notice)}[/yellow]")
        for reply in step.outcome.replies:
            _show(reply)
        for later in step.outcome.later:
            if later.kind == "reminder" and not reminded:
                reminded = True
                _show(later.reply, f"sent {after} later if they stop here (once, never at night)")
            elif later.kind == "follow_up":
                interval = bundle.duration(settings.follow_up_months, "month")
                _show(later.reply, f"sent {interval} later (the follow-up they asked for)")


def _show(reply: Reply, later: str | None = None) -> None:
    from rich.markup import escape
    from rich.panel import Panel

    out = rich_console()
    if reply.edit and not reply.text:
        if reply.buttons:
            out.print("  [dim]✎ the message you tapped now has these buttons:[/dim]")
            for row in reply.buttons:
                out.print("  " + "  ".join(f"[ {escape(b.label)} ]" for b in row))
        else:
            out.print("  [dim]✎ the message you tapped loses its buttons[/dim]")
        return
    title = "✎ the message you tapped now reads" if reply.edit else "bot"
    if later is not None:
        title = f"bot, {later}"
    if reply.audience == "team":
        title = "posted in the programme team's chat"
        if reply.name_label:
            title += f" (with '{reply.name_label}: <their Telegram name>' added)"
    if reply.document is not None:
        size = len(reply.document.data) / 1024
        out.print(f"  [dim]📎 a file: {escape(reply.document.filename)} ({size:.0f} KB)[/dim]")
    out.print(Panel(html_to_rich(reply.text), title=title, title_align="left", width=80))
    for row in reply.buttons:
        cells = [f"[ {escape(b.label)}{' ↗' if b.url else ''} ]" for b in row]
        out.print("  " + "  ".join(cells))


@command(content_app, "docs")
@click.pass_context
@click.option(
    "--check", "check_only", is_flag=True, help="Only report whether content/README.md is current."
)
@content_option
def docs(ctx: click.Context, check_only: bool, content: Path | None) -> None:
    """Regenerate the list of template variables in content/README.md from the code."""
    from bot.editors.docs import update_readme

    root = _content_dir(ctx, content)
    announce_content(root)
    changed = update_readme(root / "content" / "README.md", write=not check_only)
    if check_only and changed:
        raise fail("content/README.md is out of date: run `python -m bot content docs`", 1)
    say(
        "content/README.md is up to date."
        if not changed
        else "Updated the variable list in content/README.md."
    )


@command(flow_app, "diagram")
@click.pass_context
@click.option(
    "--out",
    "out_dir",
    type=PATH,
    default=Path("."),
    help="Folder to write flow.mmd and the image into.",
)
@click.option("--format", "fmt", default="svg", help="Image format: svg or png.")
@content_option
def diagram(ctx: click.Context, out_dir: Path, fmt: str, content: Path | None) -> None:
    """Draw the conversation as Mermaid (flow.mmd) and an image (flow.svg or flow.png).

    Drawn from the same state machine the bot runs, so it cannot drift from the real flow.
    The image needs Graphviz (`apt install graphviz`); Mermaid is always written.
    """
    # Imported first: without the graphviz library, transitions would draw with a stand-in
    # that fails later, with a message that does not say what is missing.
    import graphviz  # noqa: F401
    from rich.markup import escape

    from bot.editors.diagram import write_diagram

    out = rich_console()
    if fmt not in ("svg", "png"):
        raise fail(f"--format must be svg or png, not {fmt!r}")
    bundle = _load(ctx, content)
    written = write_diagram(bundle.flow, out_dir, fmt)
    out.print(f"Wrote {written.mermaid}")
    if written.image is not None:
        out.print(f"Wrote {written.image}")
    else:
        out.print(f"[yellow]{escape(written.note)}[/yellow]")
