"""The channels people use: Telegram, the web page and the terminal chat.

Each turns its input into engine events and the engine's replies into its own output;
``service`` (:class:`~bot.channels.service.Triage`) joins the engine to the store for all three.
May import: the conversation core, the store, ``bot.ops`` and the shared modules; never the
team's or editors' tools or the command line. The channels do not import each other, and
``service`` imports none of them. tests/test_layers.py holds these rules.
"""
