"""The conversation's core: the flow, the content an editor owns, the engine and the result.

Pure and transport-neutral: no I/O beyond reading the content files, no SQL, no Telegram.
May import: ``bot.conversation`` and the shared modules at the top of ``bot`` (settings,
privacy, disclosure, sealing, later, contacts, logsafe); never a store, channel or tool.
"""
