"""The rate limiter: a flooding member gets at most the limit of answers and exactly one warning, the
others are served meanwhile, an album is one action, and the window frees up as time passes."""

import asyncio
from datetime import datetime

import pytest
from aiogram.types import Chat, Message, Update, User

from bot.middlewares import RateLimit
from bot.services import link_code_create, link_redeem

from ..emulators.telegram import TelegramEmulator
from ..support.bot import BOT_TOKEN, Person, running_bot
from ..support.stack import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

MENU = "what would you like to do"
WARNING = "Too many actions"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def telegram():
    with TelegramEmulator() as tg:
        tg.add_bot(BOT_TOKEN, username="crosspost_ops_bot")
        yield tg


def person(tg, user, telegram_user_id: int) -> Person:
    code, _ = link_code_create(user=user)
    link_redeem(code=code, telegram_user_id=telegram_user_id, chat_id=telegram_user_id, language="en")
    return Person(tg, BOT_TOKEN, tg.add_user(telegram_user_id, language_code="en"))


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text") or "" for m in messages]


def test_a_flood_gets_the_limit_and_one_warning_while_others_are_served(telegram, member):
    clock = Clock()
    with running_bot(telegram, rate_limit=RateLimit(per_minute=5, clock=clock)):
        olga = person(telegram, member(), 4242)
        ivan = person(telegram, member(), 5151)
        for _ in range(40):
            olga.say("/menu")
        ivan.say("/menu")
        assert MENU in ivan.wait_reply(timeout=5)["text"]  # the flood does not hold Ivan up

        wait_for(lambda: any(WARNING in t for t in texts(olga.bot_messages())), 15, message="the warning")
        olga.quiet(1.5)  # the rest of the flood: nothing more may come
        answers = texts(olga.bot_messages())
        assert sum(MENU in t for t in answers) == 5
        warnings = [t for t in answers if WARNING in t]
        assert warnings == ["Too many actions: at most 5 a minute. Try again in 60 s."]
        assert len(answers) == 6

        # Still inside the window: dropped without a second warning.
        olga.say("/menu")
        assert olga.quiet(1.0) == []

        clock.now += 61  # the window has passed
        olga.say("/menu")
        assert MENU in olga.wait_reply(timeout=5)["text"]


def test_an_album_is_one_action(telegram, member):
    clock = Clock()
    with running_bot(telegram, rate_limit=RateLimit(per_minute=2, clock=clock)):
        olga = person(telegram, member(), 4242)
        photos = [telegram.photo_content(telegram.add_file(b"\xff\xd8jpeg" + bytes([n]))) for n in range(3)]
        olga.send_album(photos, caption="three photos")
        olga.say("/menu")  # the album was one action of two: this one is served
        assert MENU in olga.wait_reply(contains=MENU, timeout=10)["text"]
        olga.say("/menu")  # the third action: refused with the warning
        olga.wait_reply(contains=WARNING, timeout=10)
        assert sum(WARNING in t for t in texts(olga.bot_messages())) == 1


# --- the middleware alone, with a fake clock ---------------------------------------------------


def update(update_id: int, group: str | None = None) -> Update:
    if group is None:
        return Update(update_id=update_id)
    message = Message(message_id=update_id, date=datetime(2026, 1, 1), chat=Chat(id=7, type="private"), media_group_id=group)
    return Update(update_id=update_id, message=message)


def test_it_counts_a_sliding_minute_per_user():
    asyncio.run(sliding_minute())


async def sliding_minute() -> None:
    clock = Clock()
    limit = RateLimit(per_minute=3, clock=clock)
    handled = []

    async def handler(event, data):
        sender = data.get("event_from_user")
        handled.append((sender.id if sender else None, event.update_id))
        return "done"

    olga, ivan = User(id=1, is_bot=False, first_name="Olga"), User(id=2, is_bot=False, first_name="Ivan")
    results = []
    for n in range(5):
        results.append(await limit(handler, update(n), {"event_from_user": olga}))
        clock.now += 1
    assert results == ["done", "done", "done", None, None]
    assert await limit(handler, update(10), {"event_from_user": ivan}) == "done"  # per user

    # An album's messages after the first are free; a new album is a new action.
    clock.now += 60  # 1000..1002 have left the window: three slots again
    for n, group in enumerate(["a", "a", "a", "a", "b", "c"]):
        await limit(handler, update(20 + n, group), {"event_from_user": olga})
    assert await limit(handler, update(26), {"event_from_user": olga}) is None
    assert [i for user, i in handled if user == 1][3:] == [20, 21, 22, 23, 24, 25]  # albums a (4 items), b, c

    clock.now += 59.5
    assert await limit(handler, update(30), {"event_from_user": olga}) is None  # 1065 is still within the minute
    clock.now += 1
    assert await limit(handler, update(31), {"event_from_user": olga}) == "done"

    # A limit of 0 switches the limiter off; an update without a sender passes.
    off = RateLimit(per_minute=0, clock=clock)
    assert all([await off(handler, update(40 + n), {"event_from_user": olga}) for n in range(50)])
    assert await limit(handler, update(99), {}) == "done"
