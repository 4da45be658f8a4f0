"""/stats: the few protected headline figures a programme admin asks the Telegram bot for.

A channel may not import the team's tools, so the command line, which wires everything,
hands :func:`stats_source`'s function to :class:`bot.channels.service.Triage`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.conversation.content import Content
from bot.disclosure import Rules
from bot.store import Store


def stats_source(
    content: Content, rules: Rules
) -> Callable[[Store, dt.datetime], dict[str, object]]:
    """The /stats figures for ``content``, with the disclosure ``rules`` applied."""

    def figures(store: Store, now: dt.datetime) -> dict[str, object]:
        # Imported when an admin asks: `run` stays small (the report brings rich).
        from bot.team.analytics import Analysis, load_responses
        from bot.team.reporting import stats_figures

        analysis = Analysis(content, rules)
        headline = analysis.headline(store, load_responses(store), now.date())
        return stats_figures(content, rules, headline)

    return figures
