"""What the bot's section tests share: a Telegram emulator, a member linked without the code dance,
and a forged button tap (a callback the bot never offered, as a tampered client could send)."""

import itertools
import json

import pytest

from bot.models import TelegramLink

from ..emulators.telegram import TelegramEmulator
from ..support.bot import BOT_TOKEN, Person

_telegram_ids = itertools.count(880001)


@pytest.fixture
def telegram():
    with TelegramEmulator() as tg:
        tg.add_bot(BOT_TOKEN, username="crosspost_ops_bot")
        yield tg


@pytest.fixture
def linked(telegram):
    """``linked(bot, user, language="en")``: link ``user`` to a new Telegram user; their Person."""

    def link(bot, user, language: str = "en") -> Person:
        telegram_id = next(_telegram_ids)
        TelegramLink.objects.create(user=user, telegram_user_id=telegram_id, chat_id=telegram_id, language=language)
        return Person(telegram, bot.token, telegram.add_user(telegram_id, language_code=language))

    return link


def forge(person: Person, message: dict, data: str) -> None:
    """A tap with callback ``data`` under ``message``, whether or not it has such a button."""
    tg = person.telegram
    query_id = f"{next(_telegram_ids)}9900"
    tg.callbacks[query_id] = {"answered": False, "data": data}
    query = {
        "id": query_id,
        "from": person.user,
        "message": json.loads(json.dumps(person.current(message))),
        "chat_instance": f"-{person.user['id']}0042",
        "data": data,
    }
    tg.push_update(person.token, {"callback_query": query})


def labels(person: Person, message: dict) -> list[str]:
    return [button["text"] for button in person.buttons(message)]


def answer_to(person: Person, message: dict, data: str, *, forged: bool = False) -> dict:
    """Tap (or forge a tap of) ``data`` under ``message``; the bot's answer to that tap."""
    person.answers_seen = len(person.telegram.callback_answers)
    if forged:
        forge(person, message, data)
    else:
        person.tap(message, data)
    return person.wait_answer()
