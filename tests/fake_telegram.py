"""A fake Telegram at the HTTP layer: a BaseRequest that answers the Bot API like Telegram.

It keeps what a person would see on their phone (messages, their text and buttons, edits),
queues updates the way Telegram does (kept until getUpdates is called with a higher offset),
and fails loudly on any Bot API method the bot is not expected to call. It can also behave
badly on purpose: enforce Telegram's flood limits with 429s, fail every message to one chat,
leave sends unanswered, or refuse the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bot.channels.telegram.request import BaseRequest, RequestData

BOT_ID = 7000000001
EXPECTED = {
    "getMe",
    "getUpdates",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "setMyCommands",
    "deleteWebhook",
    "setWebhook",
    "sendDocument",
}
# What Telegram's flood limits count: messages, not button-press answers or polls.
MESSAGE_METHODS = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendDocument"}


@dataclass
class Person:
    """A Telegram user chatting privately with the bot."""

    user_id: int
    first_name: str = "Alice"
    username: str = "alice_example"
    last_name: str = "Applebaum"

    @property
    def chat_id(self) -> int:
        return self.user_id

    def user(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "is_bot": False,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "language_code": "en",
        }

    def chat(self) -> dict[str, Any]:
        return {
            "id": self.chat_id,
            "type": "private",
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
        }


@dataclass
class Shown:
    """A message the bot sent, as the person's phone now shows it."""

    message_id: int
    chat_id: int
    text: str
    keyboard: list[list[dict[str, Any]]] = field(default_factory=list)
    edits: int = 0
    document: tuple[str, bytes] | None = None  # (file name, content) of a sent file

    def labels(self) -> list[str]:
        return [b["text"] for row in self.keyboard for b in row]

    def button(self, label: str) -> dict[str, Any]:
        matches = [b for row in self.keyboard for b in row if label in b["text"]]
        if not matches:
            raise AssertionError(f"no button {label!r} on message: {self.labels()}")
        return matches[0]


class FakeTelegram:
    """Telegram's side of the conversation, for tests and benchmarks."""

    def __init__(self, latency: float = 0.0, record: bool = True) -> None:
        self.latency = latency
        # Benchmarks switch off the call log and the copies kept for replaying updates.
        self.record = record
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.unexpected: list[str] = []
        self.pending: list[dict[str, Any]] = []
        self.confirmed_below = 0
        self.next_update_id = 1000
        self.next_message_id = 1
        self.next_callback = 1
        self.shown: dict[int, Shown] = {}
        self.arrived = asyncio.Event()
        self.sent_at: dict[int, float] = {}
        self.fail_next: dict[str, int] = {}
        self.history: dict[int, dict[str, Any]] = {}
        self.by_chat: dict[int, list[Shown]] = {}
        # Misbehaviour on demand.
        self.fail_chats: dict[int, int] = {}  # chat id -> HTTP status for every message to it
        self.blocked: set[int] = set()  # chats that blocked the bot (403)
        self.hang_sends = False  # messages are received but never answered
        # Messages are delivered (the person sees them) but the answer never comes back.
        self.hang_after_delivery = False
        # Methods that are accepted and never answered ("*": every method, getUpdates too).
        self.frozen: set[str] = set()
        self.reject_token = False
        self.limits: tuple[float, float] | None = None  # (messages/s overall, s between per chat)
        self.too_many = 0
        self.accepted_at: deque[float] = deque()
        self.chat_last: dict[int, float] = {}
        self.message_times: list[float] = []
        self.webhook: dict[str, Any] | None = None
        self.listeners: list[Any] = []
        self.polls = 0

    def request(self) -> FakeRequest:
        """A BaseRequest for the bot to talk through."""
        return FakeRequest(self)

    # ---- what a person does --------------------------------------------------------------

    def _queue(self, update: dict[str, Any]) -> int:
        update["update_id"] = self.next_update_id
        self.next_update_id += 1
        if self.record:
            self.history[update["update_id"]] = json.loads(json.dumps(update))
        self.pending.append(update)
        self.arrived.set()
        return update["update_id"]

    def send_text(self, person: Person, text: str) -> int:
        """The person types a message."""
        message = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": person.chat(),
            "from": person.user(),
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._queue({"message": message})

    def send_photo(self, person: Person) -> int:
        """The person sends a photo."""
        message = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": person.chat(),
            "from": person.user(),
            "photo": [{"file_id": "AgAD", "file_unique_id": "x1", "width": 90, "height": 90}],
        }
        return self._queue({"message": message})

    def send_sticker(self, person: Person) -> int:
        """The person sends a sticker."""
        message = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": person.chat(),
            "from": person.user(),
            "sticker": {
                "file_id": "CAAD",
                "file_unique_id": "s1",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            },
        }
        return self._queue({"message": message})

    def press_data(self, person: Person, message_id: int, data: str) -> int:
        """The person's app sends a callback query (data can be anything: forged, old...)."""
        shown = self.shown.get(message_id)
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": person.chat(),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Triage"},
            "text": shown.text if shown else "old",
        }
        query = {
            "id": str(self.next_callback),
            "from": person.user(),
            "message": message,
            "chat_instance": "ci",
            "data": data,
        }
        self.next_callback += 1
        return self._queue({"callback_query": query})

    def tap(self, person: Person, label: str, message_id: int | None = None) -> int:
        """The person taps a button by (part of) its label on the newest message with one."""
        shown = self.shown[message_id] if message_id else self.latest_with_buttons(person)
        return self.press_data(person, shown.message_id, shown.button(label)["callback_data"])

    def send_old_poll(self, person: Person) -> int:
        """A poll in an older Bot API shape (options without ``persistent_id``)."""
        message = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": person.chat(),
            "from": person.user(),
            "poll": {
                "id": "5012",
                "question": "Which is best?",
                "options": [{"text": "One", "voter_count": 0}, {"text": "Two", "voter_count": 1}],
                "total_voter_count": 1,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
            },
        }
        return self._queue({"message": message})

    def send_raw(self, body: dict[str, Any]) -> int:
        """Any update body at all (for malformed ones): ``{"message": {...}}``."""
        return self._queue(body)

    def group_command(self, person: Person, text: str) -> int:
        """The person sends a command in a group the bot is in."""
        chat = {"id": -100123, "type": "group", "title": "Mutuals chat"}
        message = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": chat,
            "from": person.user(),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        }
        return self._queue({"message": message})

    # ---- what the person sees ------------------------------------------------------------

    def messages(self, person: Person) -> list[Shown]:
        return list(self.by_chat.get(person.chat_id, []))

    def latest(self, person: Person) -> Shown:
        return self.messages(person)[-1]

    def latest_with_buttons(self, person: Person) -> Shown:
        for shown in reversed(self.messages(person)):
            if any(b.get("callback_data") for row in shown.keyboard for b in row):
                return shown
        raise AssertionError("no message with buttons")

    def transcript(self, person: Person) -> str:
        return "\n---\n".join(m.text for m in self.messages(person))

    def methods(self) -> list[str]:
        return [name for name, _ in self.calls]

    @property
    def all_confirmed(self) -> bool:
        return not self.pending or all(u["update_id"] < self.confirmed_below for u in self.pending)

    def _message_id(self) -> int:
        self.next_message_id += 1
        return self.next_message_id

    # ---- the Bot API -----------------------------------------------------------------------

    async def answer(
        self, method: str, params: dict[str, Any], files: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """Answer one Bot API call; ``files`` are uploads as (file name, bytes, ...) by field."""
        if self.record:
            self.calls.append((method, params))
        if "*" in self.frozen or method in self.frozen:
            await asyncio.Event().wait()
        if self.reject_token:
            return 401, "Unauthorized"
        if self.fail_next.get(method):
            self.fail_next[method] -= 1
            return 502, None
        if method not in EXPECTED:
            self.unexpected.append(method)
            return 400, f"Bad Request: the fake does not know {method}"
        if method == "getUpdates":
            if self.webhook is not None:
                return 409, "Conflict: can't use getUpdates method while webhook is active"
            updates = await self._get_updates(params)
            if self.latency:
                await asyncio.sleep(self.latency)
            return 200, updates
        if self.latency:
            await asyncio.sleep(self.latency)
        if method == "getMe":
            return 200, {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Triage",
                "username": "mpsp_triage_bot",
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method == "setWebhook":
            self.webhook = dict(params)
            return 200, True
        if method == "deleteWebhook":
            self.webhook = None
            return 200, True
        if method in ("setMyCommands", "answerCallbackQuery"):
            return 200, True
        chat_id = int(params["chat_id"])
        if self.hang_sends:
            await asyncio.Event().wait()
        if chat_id in self.blocked:
            return 403, "Forbidden: bot was blocked by the user"
        if chat_id in self.fail_chats:
            return self.fail_chats[chat_id], None
        limited = self._flood(chat_id)
        if limited is not None:
            return 429, limited
        answer = self._message_call(method, chat_id, params, files)
        if self.hang_after_delivery:
            await asyncio.Event().wait()
        return answer

    def _flood(self, chat_id: int) -> dict[str, Any] | None:
        """Telegram's limits: ``rate`` messages in any second, one per chat per interval."""
        now = time.monotonic()
        if self.limits is None:
            self.message_times.append(now)
            return None
        rate, interval = self.limits
        while self.accepted_at and self.accepted_at[0] <= now - 1.0:
            self.accepted_at.popleft()
        last = self.chat_last.get(chat_id)
        if len(self.accepted_at) >= rate or (last is not None and now - last < interval):
            self.too_many += 1
            return {"description": "Too Many Requests: retry after 1", "retry_after": 1}
        self.accepted_at.append(now)
        self.chat_last[chat_id] = now
        self.message_times.append(now)
        return None

    def _message_call(
        self,
        method: str,
        chat_id: int,
        params: dict[str, Any],
        files: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        keyboard = (markup or {}).get("inline_keyboard", [])
        if method == "sendDocument":
            upload = next(iter((files or {}).values()), None)
            if upload is None:
                return 400, "Bad Request: the document must be uploaded"
            (name, data, *_rest) = upload
            caption = params.get("caption", "")
            if len(caption) > 1024:
                return 400, "Bad Request: message caption is too long"
            _check_callback_data(keyboard)
            message_id = self._message_id()
            data = data if isinstance(data, bytes) else data.read()
            shown = Shown(message_id, chat_id, caption, keyboard, document=(name, data))
            self.shown[message_id] = shown
            self.by_chat.setdefault(chat_id, []).append(shown)
            self.sent_at[message_id] = time.monotonic()
            self._notify(shown, new=True)
            return 200, self._message(message_id, chat_id, caption)
        if method == "sendMessage":
            text = params["text"]
            if len(text) > 4096:
                return 400, "Bad Request: message is too long"
            _check_callback_data(keyboard)
            message_id = self._message_id()
            shown = Shown(message_id, chat_id, text, keyboard)
            self.shown[message_id] = shown
            self.by_chat.setdefault(chat_id, []).append(shown)
            self.sent_at[message_id] = time.monotonic()
            self._notify(shown, new=True)
            return 200, self._message(message_id, chat_id, text)
        message_id = int(params["message_id"])
        shown = self.shown.get(message_id)
        if shown is None or shown.chat_id != chat_id:
            return 400, "Bad Request: message to edit not found"
        if method == "editMessageText":
            if params["text"] == shown.text and keyboard == shown.keyboard:
                return 400, "Bad Request: message is not modified"
            _check_callback_data(keyboard)
            shown.text = params["text"]
        elif keyboard == shown.keyboard:
            return 400, "Bad Request: message is not modified"
        shown.keyboard = keyboard
        shown.edits += 1
        self._notify(shown, new=False)
        return 200, self._message(message_id, chat_id, shown.text)

    def _notify(self, shown: Shown, new: bool) -> None:
        for listener in self.listeners:
            listener(shown, new)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.polls += 1
        offset = int(params.get("offset") or 0)
        if offset:
            self.confirmed_below = max(self.confirmed_below, offset)
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        self.arrived.clear()
        if not self.pending and timeout:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout)
        limit = int(params.get("limit") or 100)
        if not self.record:
            return self.pending[:limit]
        return [json.loads(json.dumps(u)) for u in self.pending[:limit]]

    def _message(self, message_id: int, chat_id: int, text: str) -> dict[str, Any]:
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Triage"},
            "text": text,
        }


def _check_callback_data(keyboard: list[list[dict[str, Any]]]) -> None:
    for row in keyboard:
        for button in row:
            data = button.get("callback_data")
            if data is not None and len(data.encode()) > 64:
                raise AssertionError(f"callback_data over 64 bytes: {data!r}")


class FakeRequest(BaseRequest):
    """The recording BaseRequest: every Bot API call goes to the FakeTelegram."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self.telegram = telegram

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | None = None,
    ) -> tuple[int, bytes]:
        assert url.startswith("https://api.telegram.org/bot") or "/bot" in url, url
        api_method = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data is not None else {}
        files = request_data.files if request_data is not None else None
        status, result = await self.telegram.answer(api_method, dict(params), files)
        return status, json.dumps(api_body(status, result)).encode()


def api_body(status: int, result: Any) -> dict[str, Any]:
    """A Bot API answer as Telegram shapes it."""
    if status == 200:
        return {"ok": True, "result": result}
    if isinstance(result, dict):  # a 429: description and retry_after
        return {
            "ok": False,
            "error_code": status,
            "description": result["description"],
            "parameters": {"retry_after": result["retry_after"]},
        }
    return {"ok": False, "error_code": status, "description": result or "Bad Gateway"}
