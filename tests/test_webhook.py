"""Webhook mode: the secret is checked, the update committed, and only then 200."""

from __future__ import annotations

import json

import aiohttp
import pytest

from .fake_telegram import FakeTelegram, Person
from .telegram_harness import RunningBot

ALICE = Person(user_id=424242201, first_name="Wenna", username="wenna_hook")
SECRET_TOKEN = "hook-secret-0123456789abcdef"


@pytest.fixture
async def hooked(tmp_path, content):
    telegram = FakeTelegram()
    bot = RunningBot(
        telegram,
        tmp_path / "triage.db",
        content,
        webhook_url="https://bot.example.org/telegram/updates",
        webhook_secret=SECRET_TOKEN,
        webhook_listen="127.0.0.1",
        webhook_port=0,
    )
    await bot.start()
    base = f"http://127.0.0.1:{bot.bot.webhook_port}"
    async with aiohttp.ClientSession() as session:
        yield telegram, bot, session, base
    await bot.close()


async def post(session, url: str, update: dict, secret: str | None) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with session.post(url, data=json.dumps(update), headers=headers) as resp:
        assert await resp.read() == b""  # nothing is ever answered in the response
        return resp.status


async def test_webhook_checks_the_secret_and_commits_before_200(hooked, monkeypatch) -> None:
    telegram, bot, session, base = hooked
    url = base + "/telegram/updates"
    assert telegram.webhook == {
        "url": "https://bot.example.org/telegram/updates",
        "secret_token": SECRET_TOKEN,
        "allowed_updates": ["message", "callback_query"],
        "drop_pending_updates": False,
    }
    assert "getUpdates" not in telegram.methods() and "deleteWebhook" not in telegram.methods()
    uid = telegram.send_text(ALICE, "/start")
    update = telegram.history[uid]
    assert await post(session, url, update, "wrong-secret-0123456789") == 401
    assert await post(session, url, update, None) == 401
    assert await post(session, url, update, SECRET_TOKEN[:-1]) == 401
    assert bot.store.db["inbox"].count == 0 and telegram.messages(ALICE) == []

    def broken(*args, **kwargs):
        raise OSError("disk full")

    real = bot.store.inbox_add
    monkeypatch.setattr(bot.store, "inbox_add", broken)
    assert await post(session, url, update, SECRET_TOKEN) == 500  # Telegram will resend
    monkeypatch.setattr(bot.store, "inbox_add", real)
    assert await post(session, url, update, SECRET_TOKEN) == 200
    assert await post(session, url, update, SECRET_TOKEN) == 200  # a repeat changes nothing
    await bot.settle()
    (welcome,) = telegram.messages(ALICE)
    assert "partnerships check" in welcome.text
    async with session.get(url) as resp:
        assert resp.status == 405
    async with session.get(base + "/health") as resp:
        health = await resp.json()
    assert resp.status == 200 and health["writable"] is True
    assert health["inbox_depth"] == 0 and health["outbox_depth"] == 0
    assert health["mode"] == "webhook" and health["pauses_429"] == 0
    async with session.get(base + "/healthz") as resp:
        assert resp.status == 200 and (await resp.json())["status"] == "ok"
