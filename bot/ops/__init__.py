"""The operator's view: the health verdict, the retention purge and the Prometheus metrics.

May import: the store, the conversation core and the shared modules; never a channel, a tool
or the command line (the Telegram bot and the web page call in here, not the other way).
"""
