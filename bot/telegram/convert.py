"""Updates in, Bot API calls out: the translation between Telegram's JSON and the engine.

Updates are read as raw JSON, each on its own, so one odd update (a poll in an older shape,
a field of an unexpected type, text that is not valid Unicode) never spoils the rest of a
batch: it becomes an inbox entry recorded by id and kind only. Telegram ids are turned into
pseudonyms and a sealed reply address here, before anything is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..engine import Button, Command, Event, NotPrivate, Outcome, Press, Stats, Text, Unsupported
from ..privacy import pseudonym
from ..sealing import Address, Sealer
from ..service import encode_event
from ..store import InboxEntry, InboxItem, Outgoing

ALLOWED_UPDATES = ["message", "callback_query"]
# Message fields that make a message something other than text, in Bot API naming.
ATTACHMENTS = (
    "photo",
    "sticker",
    "animation",
    "video",
    "video_note",
    "voice",
    "audio",
    "document",
    "contact",
    "location",
    "venue",
    "poll",
    "dice",
    "game",
    "story",
)
HTML = {"parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}
_KIND = re.compile(r"^[a-z_]{1,40}$")


@dataclass(frozen=True)
class Incoming:
    """What an update means, with the ids needed to answer it (memory only)."""

    user_id: int
    chat_id: int
    event: Event
    callback_id: str | None = None
    message_id: int | None = None


def valid_text(text: Any) -> str:
    """Text as a string of valid Unicode: lone surrogates become '?' (so it can be stored)."""
    if not isinstance(text, str):
        raise TypeError("text is not a string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def to_incoming(
    update: Mapping[str, Any],
    admins: frozenset[int] = frozenset(),
    username: str | None = None,
) -> Incoming | None:
    """Turn a raw update into an engine event; None for updates we do not answer.

    /stats becomes a Stats event only for programme admins in a private chat; for anyone
    else it stays an ordinary command (and gets the help text). In groups only commands
    are answered, and only those not addressed to another bot (``/help@other_bot``).
    """
    query = update.get("callback_query")
    if query is not None:
        message = query.get("message")
        if not message:
            return None  # a button on an inline message: not one of ours
        chat = message["chat"]
        private = chat["type"] == "private"
        event: Event = Press(valid_text(query.get("data") or "")) if private else NotPrivate()
        return Incoming(
            int(query["from"]["id"]),
            int(chat["id"]),
            event,
            str(query["id"]),
            int(message["message_id"]),
        )
    message = update.get("message")
    if message is None or message.get("from") is None:
        return None
    chat, user_id = message["chat"], int(message["from"]["id"])
    if chat["type"] != "private":
        # In groups, only answer commands (the bot cannot see other chatter by default).
        text = message.get("text")
        if isinstance(text, str) and text.startswith("/") and _for_us(text, username):
            return Incoming(user_id, int(chat["id"]), NotPrivate())
        return None
    event = message_event(message, username)
    if event == Command("stats") and user_id in admins:
        event = Stats()
    return Incoming(user_id, int(chat["id"]), event)


def message_event(message: Mapping[str, Any], username: str | None = None) -> Event:
    """A private message as an engine event."""
    text = message.get("text")
    if text is not None:
        text = valid_text(text)
        if text.startswith("/"):
            word = text[1:].split(maxsplit=1)[0] if len(text.strip()) > 1 else ""
            name, _, to = word.partition("@")
            if to and username and to.lower() != username:
                return Command(word.lower())  # meant for another bot: an unknown command
            return Command(name.lower())
        return Text(text)
    kind = next((key for key in ATTACHMENTS if key in message), "other")
    return Unsupported(kind)


def _for_us(text: str, username: str | None) -> bool:
    word = text[1:].split(maxsplit=1)[0] if len(text.strip()) > 1 else ""
    _, _, to = word.partition("@")
    return not to or username is None or to.lower() == username


def keyboard(rows: tuple[tuple[Button, ...], ...]) -> dict[str, Any] | None:
    """Engine buttons as an inline keyboard (Bot API JSON)."""
    if not rows:
        return None
    return {
        "inline_keyboard": [
            [
                {"text": b.label, "url": b.url}
                if b.url
                else {"text": b.label, "callback_data": b.data}
                for b in row
            ]
            for row in rows
        ]
    }


class Reader:
    """Turns raw updates into inbox entries: pseudonyms, a sealed address, an encoded event."""

    def __init__(
        self,
        secret: str,
        sealer: Sealer,
        admins: frozenset[int] = frozenset(),
        username: str | None = None,
    ) -> None:
        self.secret = secret
        self.sealer = sealer
        self.admins = admins
        self.username = username.lower() if username else None

    def entry(self, update: Any) -> InboxEntry | None:
        """The inbox entry for one raw update; None only if it has no update id at all.

        Never raises: an update that cannot be read is recorded by id and kind only.
        """
        if not isinstance(update, Mapping):
            return None
        update_id = update.get("update_id")
        if not isinstance(update_id, int):
            return None
        kind = next((k for k in update if k != "update_id"), "unknown")
        kind = kind if isinstance(kind, str) and _KIND.match(kind) else "unknown"
        try:
            incoming = to_incoming(update, self.admins, self.username)
        except Exception as exc:
            return InboxEntry(
                update_id,
                kind,
                status="failed",
                subject=self._whose(update),
                error=f"unreadable ({type(exc).__name__})",
            )
        if incoming is None:
            return InboxEntry(update_id, kind, status="done")
        subject = pseudonym(self.secret, incoming.user_id)
        same = incoming.chat_id == incoming.user_id  # a private chat
        return InboxEntry(
            update_id,
            kind,
            subject=subject,
            lane=subject if same else pseudonym(self.secret, incoming.chat_id),
            event=encode_event(incoming.event),
            callback_id=incoming.callback_id,
            message_id=incoming.message_id,
            address=self.sealer.seal(Address(incoming.chat_id)),
        )

    def _whose(self, update: Mapping[str, Any]) -> str | None:
        """The sender's pseudonym of an unreadable update, if it can be told at all."""
        body = next((v for k, v in update.items() if k != "update_id"), None)
        user = body.get("from") if isinstance(body, Mapping) else None
        user_id = user.get("id") if isinstance(user, Mapping) else None
        return pseudonym(self.secret, user_id) if isinstance(user_id, int) else None


def compose(item: InboxItem, outcome: Outcome) -> list[Outgoing]:
    """The Bot API calls that show an outcome's replies, for the outbox.

    Edits go to the message whose button was pressed (the sender merges several that wait,
    and sends a changed keyboard anew if its message is too old to edit). Button-press notes
    are answered apart, outside the outbox: they expire within seconds. The replies to
    /forget are marked ``wipe``: once they are delivered the write-ahead log is emptied.
    """
    rows: list[Outgoing] = []
    options: dict[str, Any] = {"wipe": True} if outcome.forget else {}
    for reply in outcome.replies:
        markup = keyboard(reply.buttons)
        if reply.edit and item.message_id is not None:
            params: dict[str, Any] = {"message_id": item.message_id}
            if reply.text:
                method = "editMessageText"
                params.update(text=reply.text, **HTML)
            else:
                method = "editMessageReplyMarkup"
            if markup is not None:
                params["reply_markup"] = markup
            rows.append(
                Outgoing(
                    item.lane,
                    method,
                    params,
                    item.address,
                    subject=item.subject,
                    merge_key=str(item.message_id),
                    options=dict(options),
                )
            )
        elif reply.text:
            params = {"text": reply.text, **HTML}
            if markup is not None:
                params["reply_markup"] = markup
            rows.append(
                Outgoing(
                    item.lane,
                    "sendMessage",
                    params,
                    item.address,
                    subject=item.subject,
                    options=dict(options),
                )
            )
    return rows
