"""What a failed Bot API call raises, one class per answer the transport treats differently.

The classes, their hierarchy and their messages follow python-telegram-bot's ``telegram.error``
(v22), which this transport used until the library was dropped to keep the running process
small: ``BadRequest`` and ``TimedOut`` are kinds of ``NetworkError``, and a message's
"Bad Request: " prefix is dropped and its first letter capitalised. Messages never carry the
URL (it holds the token), nor quote an answer that is not JSON, parameters Telegram added or
a migrated group's new id (the library's do; any of them may hold ids).
"""

from __future__ import annotations


class TelegramError(Exception):
    """A Bot API call failed."""

    def __init__(self, message: str) -> None:
        stripped = message.removeprefix("Error: ").removeprefix("[Error]: ")
        stripped = stripped.removeprefix("Bad Request: ")
        # Telegram's own descriptions ("Bad Request: message is not modified") read as a
        # sentence once the prefix is gone.
        self.message = stripped.capitalize() if stripped != message else stripped
        super().__init__(self.message)


class Forbidden(TelegramError):
    """403: the person blocked the bot, or it may not write to that chat."""


class InvalidToken(TelegramError):
    """401 or 404: Telegram does not know the bot's token."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__("Invalid token" if message is None else message)


class NetworkError(TelegramError):
    """No answer, a broken connection, or a server error (5xx): worth trying again."""


class BadRequest(NetworkError):
    """400: Telegram refused the call itself (too long, not modified, message gone...)."""


class TimedOut(NetworkError):
    """The call took longer than its timeout."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "Timed out")


class Conflict(TelegramError):
    """409: another process polls with the same token, or a webhook is set."""


class ChatMigrated(TelegramError):
    """The group became a supergroup with a new chat id."""

    def __init__(self, new_chat_id: int) -> None:
        # The new id stays out of the message, which may be logged.
        super().__init__("Group migrated to supergroup")
        self.new_chat_id = new_chat_id


class RetryAfter(TelegramError):
    """429: flood control; ``retry_after`` is the seconds Telegram asks us to wait."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = float(retry_after)
        super().__init__(f"Flood control exceeded. Retry in {self.retry_after:g} seconds")
