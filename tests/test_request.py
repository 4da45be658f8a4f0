"""The HTTP client (aiohttp BaseRequest) against the fake Bot API served over loopback HTTP."""

from __future__ import annotations

import json
import socket
import time

import pytest

from bot.channels.telegram.api import BotApi
from bot.channels.telegram.errors import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from bot.channels.telegram.request import AiohttpRequest, BaseRequest

from .fake_server import FakeBotApiServer
from .fake_telegram import Person

TOKEN = "31337:request-test-token"
ALICE = Person(user_id=42424301)


@pytest.fixture
def server():
    server = FakeBotApiServer()
    yield server
    server.close()


@pytest.fixture
async def api(server):
    api = BotApi(TOKEN, server.api_url, AiohttpRequest(read_timeout=0.5))
    await api.initialize()
    yield api
    await api.shutdown()


async def test_calls_errors_and_uploads(server, api) -> None:
    assert (await api.call("getMe"))["username"] == "mpsp_triage_bot"
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go|0"}]]}
    sent = await api.call(
        "sendMessage", {"chat_id": ALICE.chat_id, "text": "<b>Hi</b>", "reply_markup": markup}
    )
    shown = server.call(lambda: server.telegram.latest(ALICE))
    assert shown.message_id == sent["message_id"] and shown.labels() == ["Go"]
    same = {"chat_id": ALICE.chat_id, "message_id": shown.message_id, "reply_markup": markup}
    with pytest.raises(BadRequest, match="not modified"):
        await api.call("editMessageReplyMarkup", same)
    await api.call(
        "sendDocument",
        {
            "chat_id": ALICE.chat_id,
            "caption": "Your results",
            "reply_markup": markup,
            "disable_notification": True,
        },
        file=("document", "results.html", b"<html>results</html>"),
    )
    document = server.call(lambda: server.telegram.latest(ALICE))
    assert document.text == "Your results" and document.labels() == ["Go"]
    assert document.document == ("results.html", b"<html>results</html>")
    # Form fields as the Bot API reads them: objects and booleans as JSON text.
    method, fields = server.call(lambda: server.telegram.calls[-1])
    assert method == "sendDocument" and fields["disable_notification"] == "true"
    assert json.loads(fields["reply_markup"]) == markup

    server.call(lambda: setattr(server.telegram, "limits", (0, 0)))
    with pytest.raises(RetryAfter) as flood:
        await api.call("sendMessage", {"chat_id": ALICE.chat_id, "text": "x"})
    assert flood.value.retry_after == 1
    server.call(lambda: setattr(server.telegram, "limits", None))
    server.call(lambda: server.telegram.blocked.add(ALICE.chat_id))
    with pytest.raises(Forbidden):
        await api.call("sendMessage", {"chat_id": ALICE.chat_id, "text": "x"})
    server.call(lambda: setattr(server.telegram, "reject_token", True))
    with pytest.raises(InvalidToken):
        await api.call("getMe")


async def test_a_long_poll_gets_its_own_time(server, api) -> None:
    started = time.monotonic()
    # The default read timeout is 0.5 s; the poll asks for 1.5 s and is not cut short.
    assert await api.call("getUpdates", {"timeout": 1.5}, read_timeout=1.5 + 1) == []
    assert time.monotonic() - started >= 1.4


async def test_network_errors_never_carry_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = BotApi(TOKEN, f"http://127.0.0.1:{port}", AiohttpRequest())
    await api.initialize()
    try:
        with pytest.raises(NetworkError) as info:
            await api.call("getMe")
    finally:
        await api.shutdown()
    assert "Connection refused" in str(info.value)
    assert TOKEN not in str(info.value) and "request-test" not in repr(info.value)


class Answers(BaseRequest):
    """A request that answers every call with one fixed HTTP status and body."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    async def do_request(self, url, method, request_data=None, read_timeout=None):
        return self.status, self.body


@pytest.mark.parametrize(
    ("status", "answer", "raised", "message"),
    [
        (
            400,
            {"description": "Bad Request: message is not modified"},
            BadRequest,
            "Message is not modified",
        ),
        (401, {"description": "Unauthorized"}, InvalidToken, "Unauthorized"),
        (404, {"description": "Not Found"}, InvalidToken, "Not Found"),
        (
            403,
            {"description": "Forbidden: bot was blocked by the user"},
            Forbidden,
            "Forbidden: bot was blocked by the user",
        ),
        (
            409,
            {"description": "Conflict: terminated by other getUpdates request"},
            Conflict,
            "Conflict: terminated by other getUpdates request",
        ),
        (
            429,
            {"description": "Too Many Requests", "parameters": {"retry_after": 7}},
            RetryAfter,
            "Flood control exceeded. Retry in 7 seconds",
        ),
        (
            400,
            {
                "description": "Bad Request: group upgraded",
                "parameters": {"migrate_to_chat_id": -1001},
            },
            ChatMigrated,
            "Group migrated to supergroup",
        ),
        (502, None, NetworkError, "Bad Gateway (502)"),
        (500, {"description": "Internal Server Error"}, NetworkError, "Internal Server Error"),
    ],
)
async def test_each_refusal_raises_what_it_means(
    status: int, answer: dict | None, raised: type[Exception], message: str
) -> None:
    """Telegram's answers map to the same exceptions, with the same messages, as the library's."""
    body = b"<html>Bad Gateway</html>" if answer is None else json.dumps({"ok": False, **answer})
    request = Answers(status, body if isinstance(body, bytes) else body.encode())
    with pytest.raises(raised) as info:
        await request.post("https://api.telegram.org/botTOKEN/sendMessage")
    assert type(info.value) is raised and str(info.value) == message
    if raised is RetryAfter:
        assert info.value.retry_after == 7
    # BadRequest and TimedOut are network errors, as they were; the rest are not.
    assert isinstance(info.value, NetworkError) == (raised in (BadRequest, NetworkError))


async def test_a_good_answer_gives_its_result_and_a_broken_one_a_telegram_error() -> None:
    ok = Answers(200, b'{"ok": true, "result": {"message_id": 5}}')
    assert await ok.post("u") == {"message_id": 5}
    with pytest.raises(TelegramError, match="not JSON"):
        await Answers(200, b"<html>").post("u")


async def test_answers_that_are_not_telegrams_are_network_errors() -> None:
    """A proxy's answer, or a wrong TELEGRAM_API_URL: retried, never a crash of the loop."""
    for body in (b'{"ok": false}', b"[]", b"null"):
        with pytest.raises(NetworkError, match="no result"):
            await Answers(200, body).post("u")
    odd = json.dumps({"ok": False, "description": 5, "parameters": [1]}).encode()
    with pytest.raises(BadRequest, match="5"):
        await Answers(400, odd).post("u")

    class Broken(BaseRequest):
        async def do_request(self, url, method, request_data=None, read_timeout=None):
            raise ValueError(f"bad URL {url}")

    with pytest.raises(NetworkError) as info:
        await Broken().post("https://api.telegram.org/bot31337:secret-token/getMe")
    assert "secret-token" not in str(info.value) and "ValueError" in str(info.value)
