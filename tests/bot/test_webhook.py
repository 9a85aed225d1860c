"""Webhook mode: the bot registers its public URL with the secret token, serves the updates Telegram
posts with that token, and answers anything else 401 without doing any work."""

import asyncio
import socket
import threading

import pytest
import requests

from bot.services import link_code_create, link_redeem

from ..emulators.telegram import TelegramEmulator
from ..support.bot import BOT_TOKEN, Person
from ..support.stack import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "w3bhook-S3cret_token"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def webhook_bot(settings):
    """The real run_webhook in a thread of its own, listening on a free port, stopped afterwards."""
    from bot.app import build_bot, build_dispatcher, run_webhook

    port = free_port()
    settings.BOT_WEBHOOK_URL = "https://bot.example/telegram/bot/"
    settings.BOT_WEBHOOK_SECRET = SECRET
    settings.BOT_WEBHOOK_LISTEN = f"127.0.0.1:{port}"
    with TelegramEmulator() as tg:
        tg.add_bot(BOT_TOKEN, username="crosspost_ops_bot")
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()
        errors = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(run_webhook(build_bot(BOT_TOKEN, tg.url), build_dispatcher(), stop=stop))
            except Exception as exc:
                errors.append(exc)
            finally:
                from django.db import connections

                connections.close_all()
                loop.close()

        thread = threading.Thread(target=run, name="bot-webhook", daemon=True)
        thread.start()

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, 15, message="the webhook listener")
        try:
            yield tg, f"http://127.0.0.1:{port}/telegram/bot/"
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(timeout=15)
        assert not thread.is_alive(), "the webhook bot did not stop"
        assert errors == []


def test_it_serves_only_updates_that_carry_the_secret_token(webhook_bot, member):
    tg, url = webhook_bot
    assert tg.webhooks[BOT_TOKEN] == {"url": "https://bot.example/telegram/bot/", "secret_token": SECRET}

    code, _ = link_code_create(user=member())
    link_redeem(code=code, telegram_user_id=4242, chat_id=4242, language="en")
    olga = Person(tg, BOT_TOKEN, tg.add_user(4242, language_code="en"))
    # What Telegram would POST: the update the emulator made of Olga's /menu (nobody polls its queue).
    update = tg.user_message(BOT_TOKEN, olga.user, "/menu")

    for headers in ({}, {HEADER: "wrong-secret"}):
        response = requests.post(url, json=update, headers=headers, timeout=10)
        assert response.status_code == 401, headers
    assert olga.quiet(1.0) == []  # refused: no work, no answer

    response = requests.post(url, json=update, headers={HEADER: SECRET}, timeout=10)
    assert response.status_code == 200
    menu = olga.wait_reply()
    assert "what would you like to do" in menu["text"]
    assert any("Posts" in button["text"] for button in olga.buttons(menu))
    sent = [r for r in tg.requests if r.path.endswith("/sendMessage")]
    assert len(sent) == 1
