"""The content editors' tools: ``content check`` and its rules, preview, docs and the diagram.

May import: ``bot.ops``, the store, the conversation core and the shared modules, and, to
check what they render, ``bot.channels.web.pages`` and ``.result`` and ``bot.team.analytics``
and ``.reporting``; nothing else of the channels or the team, and never the command line.
"""
