"""The programme team's tools: protected tables, reports, /stats, review, demo data, backups.

May import: ``bot.ops``, the store, the conversation core and the shared modules; never a
channel, an editors' tool or the command line. (/stats reaches the Telegram bot because the
command line hands :func:`bot.team.stats.stats_source` to the service.)
"""
