"""Updates in, Bot API calls out: the translation between Telegram's JSON and the engine.

Updates are read as raw JSON, each on its own, so one odd update (a poll in an older shape,
a field of an unexpected type, text that is not valid Unicode) never spoils the rest of a
batch: it becomes an inbox entry recorded by id and kind only. Telegram ids are turned into
pseudonyms and a sealed reply address here, before anything is stored. A person's name and
username are read only from their "send with my name" tap, and only into the sealed address.

On the way out, :class:`Composer` turns an outcome's replies into outbox rows: messages and
edits, the plan as an uploaded file, and a post to the programme team's chat whose chat id,
text and (with consent) name are sealed.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.channels.service import decode_event, encode_event
from bot.conversation.engine import (
    Button,
    Command,
    Event,
    Later,
    NotPrivate,
    Outcome,
    Press,
    Reply,
    Stats,
    Text,
    Unsupported,
    shares_name,
)
from bot.privacy import pseudonym
from bot.sealing import Address, Sealer, SealError, Who
from bot.store import InboxEntry, InboxItem, Outgoing

log = logging.getLogger(__name__)

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
# The outbox purpose of a post to the programme team's chat (the sender names it in its logs).
TEAM_POST = "team"
# How many handled-press messages the composer remembers (a few hundred bytes each).
PRESSED_KEPT = 20_000
_KIND = re.compile(r"^[a-z_]{1,40}$")


@dataclass(frozen=True)
class Incoming:
    """What an update means, with the ids needed to answer it (memory only)."""

    user_id: int
    chat_id: int
    event: Event
    callback_id: str | None = None
    message_id: int | None = None
    # Only on a "send with my name" tap: the name the person agreed to share with the team.
    who: Who | None = None


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
        user = query["from"]
        who = None
        if isinstance(event, Press) and shares_name(event.data):
            who = _who(user)
        return Incoming(
            int(user["id"]),
            int(chat["id"]),
            event,
            str(query["id"]),
            int(message["message_id"]),
            who,
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


def _who(user: Mapping[str, Any]) -> Who:
    """The name a person agreed to share, as Telegram apps show it (first and last name)."""
    first = valid_text(user.get("first_name") or "")
    last = user.get("last_name")
    name = f"{first} {valid_text(last)}" if isinstance(last, str) and last else first
    username = user.get("username")
    return Who(int(user["id"]), name, valid_text(username) if isinstance(username, str) else None)


def message_event(message: Mapping[str, Any], username: str | None = None) -> Event:
    """A private message as an engine event."""
    text = message.get("text")
    if text is not None:
        text = valid_text(text)
        if text.startswith("/"):
            word, name, to = _command_word(text)
            if to and username and to.lower() != username:
                return Command(word.lower())  # meant for another bot: an unknown command
            return Command(name.lower())
        return Text(text)
    kind = next((key for key in ATTACHMENTS if key in message), "other")
    return Unsupported(kind)


def _for_us(text: str, username: str | None) -> bool:
    _, _, to = _command_word(text)
    return not to or username is None or to.lower() == username


def _command_word(text: str) -> tuple[str, str, str]:
    """A /command's first word, its name and the bot it names: ("help@x_bot", "help", "x_bot").

    The bot is "" when the command names none (``/help``).
    """
    word = text[1:].split(maxsplit=1)[0] if len(text.strip()) > 1 else ""
    name, _, to = word.partition("@")
    return word, name, to


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
    ) -> None:
        self.secret = secret
        self.sealer = sealer
        self.admins = admins
        # The bot's own @username, lower case, once getMe has told it (TelegramBot.start).
        self.username: str | None = None

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
            # Sealed before it is stored: typed text may hold a phone number or an email.
            event=self.sealer.seal_text(encode_event(incoming.event)),
            callback_id=incoming.callback_id,
            message_id=incoming.message_id,
            address=self.sealer.seal(Address(incoming.chat_id, who=incoming.who)),
        )

    def _whose(self, update: Mapping[str, Any]) -> str | None:
        """The sender's pseudonym of an unreadable update, if it can be told at all."""
        body = next((v for k, v in update.items() if k != "update_id"), None)
        user = body.get("from") if isinstance(body, Mapping) else None
        user_id = user.get("id") if isinstance(user, Mapping) else None
        return pseudonym(self.secret, user_id) if isinstance(user_id, int) else None


class Composer:
    """Turns an outcome's replies into outbox rows (the worker's ``compose``).

    Replies to the person go to the chat the update came from, in order: new messages, edits
    of the message whose button was pressed (the sender merges several that wait, and sends a
    changed keyboard anew if its message is too old to edit), and the plan as an uploaded
    file (``sendDocument``). A post for the programme team goes to ``team_chat_id`` in its
    own lane; its chat, its text and, if the person agreed, their name (a ``tg://user`` link
    and the username, as the person's Telegram shows them) are sealed, so the outbox never
    holds them in the clear and the sender deletes them once the post is delivered or
    dropped. Button-press notes are answered apart, outside the outbox: they expire within
    seconds. The replies to /forget are marked ``wipe``: once they are delivered the
    write-ahead log is emptied.

    An outcome's last reply with buttons is its *screen* (``options["screen"]``): where the
    person is now. The sender keeps at most one waiting screen per chat (a newer one replaces
    it). A press on a message whose button was already handled, which the engine finds
    stale (an impatient second tap), makes no rows at all: its spinner is answered, and the
    screen the first tap produced is already on its way.
    """

    def __init__(self, sealer: Sealer, secret: str, team_chat_id: int | None = None) -> None:
        self.sealer = sealer
        self.team_chat_id = team_chat_id
        self.team_lane = pseudonym(secret, team_chat_id) if team_chat_id is not None else None
        # Messages (chat pseudonym, message id) a press was handled on, newest last; memory
        # only, so after a restart a repeated tap is shown the current screen once more.
        self._pressed: OrderedDict[tuple[str, int], None] = OrderedDict()

    def repeated(self, item: InboxItem, outcome: Outcome) -> bool:
        """Whether a press is a repeat on an already-handled message (then it shows nothing).

        Any other press marks its message as handled.
        """
        if item.callback_id is None or item.message_id is None:
            return False
        key = (item.lane, item.message_id)
        if outcome.stale and key in self._pressed:
            self._pressed.move_to_end(key)
            return True
        self._pressed[key] = None
        self._pressed.move_to_end(key)
        if len(self._pressed) > PRESSED_KEPT:
            self._pressed.popitem(last=False)
        return False

    def __call__(self, item: InboxItem, outcome: Outcome) -> list[Outgoing]:
        """The Bot API calls that show an outcome's replies, for the outbox."""
        address, who = item.address, None
        if item.callback_id is not None and item.address is not None and _named(item):
            # The one update whose sealed address also carries the person's name: the name
            # goes to the team post only, never along with the person's own replies.
            with contextlib.suppress(SealError):  # then the sender drops it, as any other
                opened = self.sealer.open(item.address)
                address, who = self.sealer.seal(Address(opened.chat_id)), opened.who
        rows: list[Outgoing] = []
        person: list[Reply] = []
        replies = [] if self.repeated(item, outcome) else outcome.replies
        for reply in replies:
            if reply.audience != "team":
                person.append(reply)
            elif (post := self._team_post(reply, who)) is not None:
                rows.append(post)
        rows.extend(_person_rows(item, address, person, outcome.forget))
        rows.extend(_later_rows(item, address, outcome.later))
        return rows

    def _team_post(self, reply: Reply, who: Who | None) -> Outgoing | None:
        if self.team_chat_id is None or self.team_lane is None:
            log.error("a post for the team was dropped: TRIAGE_TEAM_CHAT_ID is not set")
            return None
        text = reply.text
        if reply.name_label is not None:
            if who is None:
                # Only an update taken in before this version could lack it.
                log.warning("a post for the team goes without the person's name: not available")
            else:
                link = f'<a href="tg://user?id={who.user_id}">{html.escape(who.name)}</a>'
                if who.username:
                    link += f" (@{html.escape(who.username)})"
                text = f"{text}\n\n{html.escape(reply.name_label)}: {link}"
        sealed = self.sealer.seal(Address(self.team_chat_id, params={"text": text}))
        return Outgoing(self.team_lane, "sendMessage", dict(HTML), sealed, purpose=TEAM_POST)


def _named(item: InboxItem) -> bool:
    """Whether an inbox row is a "send with my name" tap (its address then carries the name)."""
    event = decode_event(item.event)
    return isinstance(event, Press) and shares_name(event.data)


def _later_rows(item: InboxItem, address: bytes | None, later: list[Later]) -> list[Outgoing]:
    """Messages to send later (issue 9): held in the outbox until ``at``, sealed like any.

    Their purpose ("reminder" or "follow_up") lets the store keep one of each per person,
    cancel them, and have the sender claim them before they go.
    """
    rows = []
    for message in later:
        if message.at is None:
            continue  # never timed by the service: not to be sent
        rows.append(
            Outgoing(
                item.lane,
                "sendMessage",
                _message(message.reply.text, keyboard(message.reply.buttons)),
                address,
                subject=item.subject,
                purpose=message.kind,
                not_before=message.at,
            )
        )
    return rows


def _message(text: str, markup: dict[str, Any] | None) -> dict[str, Any]:
    """``sendMessage`` parameters for a text in Telegram HTML, with its keyboard if any."""
    params: dict[str, Any] = {"text": text, **HTML}
    if markup is not None:
        params["reply_markup"] = markup
    return params


def _person_rows(
    item: InboxItem, address: bytes | None, replies: list[Reply], forget: bool
) -> list[Outgoing]:
    """Messages, edits and files for the person who sent the update."""
    rows: list[Outgoing] = []
    options: dict[str, Any] = {"wipe": True} if forget else {}
    screen = max((i for i, r in enumerate(replies) if r.buttons and r.document is None), default=-1)
    for index, reply in enumerate(replies):
        markup = keyboard(reply.buttons)
        if reply.document is not None:
            params: dict[str, Any] = {"parse_mode": "HTML"}
            if reply.text:
                params["caption"] = reply.text
            if markup is not None:
                params["reply_markup"] = markup
            document = reply.document
            rows.append(
                Outgoing(
                    item.lane,
                    "sendDocument",
                    params,
                    address,
                    subject=item.subject,
                    options={
                        **options,
                        "file_field": "document",
                        "file_name": document.filename,
                    },
                    file=document.data,
                )
            )
        elif reply.edit and item.message_id is not None:
            params = {"message_id": item.message_id}
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
                    address,
                    subject=item.subject,
                    merge_key=str(item.message_id),
                    options={**options, "screen": True} if index == screen else dict(options),
                )
            )
        elif reply.text:
            rows.append(
                Outgoing(
                    item.lane,
                    "sendMessage",
                    _message(reply.text, markup),
                    address,
                    subject=item.subject,
                    options={**options, "screen": True} if index == screen else dict(options),
                )
            )
    return rows
