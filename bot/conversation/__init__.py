"""The conversation's core: the flow, the content an editor owns, the engine and the result.

Pure and transport-neutral: no I/O beyond reading the content files, no SQL, no Telegram.
May import: only ``bot.conversation`` and the shared modules at the top of ``bot`` (settings,
privacy, disclosure, sealing, later, contacts, logsafe, clock); never the store, a channel, a
tool or the command line. tests/test_layers.py holds these rules.
"""
