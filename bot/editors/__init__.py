"""The content editors' tools: ``content check`` and its rules, preview, docs and the diagram.

May import: the conversation core, the store, the channels' page rendering (to check it), the
team's report rendering (to check it) and the shared modules; never the command line.
"""
