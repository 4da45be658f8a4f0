"""MPSP triage bot: a Telegram conversation for the UK's Public Service Mutuals."""

__version__ = "0.1.0"
