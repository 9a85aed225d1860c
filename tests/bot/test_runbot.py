"""Running the bot: `manage.py runbot` refuses what cannot work with a message saying what to set;
a started bot offers its commands in English and Russian and beats a heartbeat that /health/ and the
overview read."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Role
from crosspost.models import Heartbeat

from ..emulators.telegram import TelegramEmulator
from ..support.bot import BOT_TOKEN, running_bot
from ..support.stack import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

COMMANDS = [
    "start",
    "menu",
    "new",
    "posts",
    "review",
    "campaign",
    "campaigns",
    "studio",
    "accounts",
    "settings",
    "admin",
    "help",
    "cancel",
]


def runbot(*args) -> str:
    out = io.StringIO()
    call_command("runbot", *args, stdout=out)
    return out.getvalue()


def test_it_refuses_to_run_without_a_token(settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    with pytest.raises(CommandError, match=r"Set TELEGRAM_BOT_TOKEN .*@BotFather"):
        runbot()
    with pytest.raises(SystemExit) as exit_:
        runbot("--check")  # what `make run` asks: "no bot" is a status, not an error
    assert exit_.value.code == 3


@pytest.mark.parametrize(
    ("url", "secret", "listen", "problem"),
    [
        ("http://bot.example/telegram/bot/", "s3cret-token", "127.0.0.1:8081", "must be a public https:// URL"),
        ("https://bot.example/telegram/bot/", "", "127.0.0.1:8081", "BOT_WEBHOOK_SECRET must be set"),
        ("https://bot.example/telegram/bot/", "not allowed!", "127.0.0.1:8081", "BOT_WEBHOOK_SECRET must be set"),
        ("https://bot.example/telegram/bot/", "s3cret-token", "8081x", "BOT_WEBHOOK_LISTEN must be host:port"),
    ],
)
def test_it_refuses_a_webhook_it_cannot_serve_safely(settings, url, secret, listen, problem):
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    settings.BOT_WEBHOOK_URL, settings.BOT_WEBHOOK_SECRET, settings.BOT_WEBHOOK_LISTEN = url, secret, listen
    with pytest.raises(CommandError, match=problem):
        runbot("--check")


def test_it_says_how_it_would_run(settings):
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    settings.BOT_WEBHOOK_URL = ""
    assert runbot("--check").strip() == "Telegram bot: long polling"
    settings.BOT_WEBHOOK_URL, settings.BOT_WEBHOOK_SECRET = "https://bot.example/telegram/bot/", "s3cret-token"
    assert "webhook https://bot.example/telegram/bot/" in runbot("--check")


def test_a_started_bot_offers_its_commands_in_both_languages_and_beats(client, settings, member, alive):
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    assert client.get("/health/").json()["checks"]["bot"]["ok"] is False  # configured, not running
    with TelegramEmulator() as tg, running_bot(tg):
        beat = wait_for(lambda: Heartbeat.objects.filter(name="bot").first(), 10, message="the bot's heartbeat")
        assert beat.detail["mode"] == "polling"
        calls = wait_for(
            lambda: [r for r in tg.requests if r.path.endswith("/setMyCommands")][:2] or None, 10, message="setMyCommands"
        )
        assert len(calls) == 2
    by_language = {call.param("language_code"): json.loads(call.param("commands")) for call in calls}
    assert set(by_language) == {None, "ru"}
    english, russian = by_language[None], by_language["ru"]
    assert [c["command"] for c in english] == COMMANDS == [c["command"] for c in russian]
    assert dict((c["command"], c["description"]) for c in english)["cancel"] == "Stop the current conversation"
    assert all(1 <= len(c["description"]) <= 256 for c in english + russian)

    response = client.get("/health/")
    assert response.json()["checks"]["bot"]["ok"] is True
    client.force_login(member(Role.VIEWER))
    overview = client.get("/").content.decode()
    assert "Telegram bot" in overview

    Heartbeat.objects.filter(name="bot").update(seen_at=timezone.now() - timedelta(minutes=10))
    check = client.get("/health/").json()["checks"]["bot"]
    assert check["ok"] is False and "down or stuck" in check["error"]
    settings.TELEGRAM_BOT_TOKEN = ""  # a stack without a bot does not ask for one
    assert "bot" not in client.get("/health/").json()["checks"]
