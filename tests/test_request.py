"""The HTTP client (aiohttp BaseRequest) against the fake Bot API served over loopback HTTP."""

from __future__ import annotations

import socket
import time

import pytest

from bot.channels.telegram.api import BotApi
from bot.channels.telegram.errors import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from bot.channels.telegram.request import AiohttpRequest

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
        {"chat_id": ALICE.chat_id, "caption": "Your results"},
        file=("document", "results.html", b"<html>results</html>"),
    )
    document = server.call(lambda: server.telegram.latest(ALICE))
    assert document.text == "Your results"
    assert document.document == ("results.html", b"<html>results</html>")

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
