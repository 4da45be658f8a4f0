"""The channels people use: Telegram, the web page and the terminal, and what they share.

Each adapter turns its input into engine events and the engine's replies into its own output;
``service`` joins the engine to the store. May import: the conversation core, the store,
``bot.ops`` and the shared modules; never the team's or editors' tools or the command line.
"""
