"""Linking a member with a one-time code, the menu by role, and the polite refusal."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from bot.models import LinkCode, TelegramLink
from bot.services import link_code_create
from crosspost.models import ActivityLog

from ..support.bot import Person, running_bot

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_code_links_the_sender_once_and_the_menu_follows_the_role(telegram, member):
    editor = member(Role.EDITOR)
    code, _ = link_code_create(user=editor)
    assert LinkCode.objects.get().code_hash != code  # only the hash is stored
    with running_bot(telegram) as bot:
        olga = Person(telegram, bot.token, telegram.add_user(4242, username="olga", language_code="en"))
        olga.say(f"/start {code}")
        assert "acts as" in olga.wait_reply()["text"]
        menu = olga.wait_reply()
        labels = [b["text"] for b in olga.buttons(menu)]
        assert any("New post" in label for label in labels)
        assert not any("Admin" in label for label in labels)  # an editor has no admin section
        link = TelegramLink.objects.get()
        assert (link.user, link.telegram_user_id, link.chat_id, link.language) == (editor, 4242, 4242, "en")
        assert ActivityLog.objects.filter(action="bot.link", actor=editor).exists()

        # The code works once: a second person cannot reuse it.
        ivan = Person(telegram, bot.token, telegram.add_user(5151, language_code="ru"))
        ivan.say(f"/start {code}")
        assert "уже" in ivan.wait_reply()["text"]  # refused, in Russian
        assert TelegramLink.objects.count() == 1


def test_an_expired_code_and_an_unlinked_user_are_refused_politely(telegram, member):
    viewer = member(Role.VIEWER)
    code, row = link_code_create(user=viewer)
    LinkCode.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with running_bot(telegram) as bot:
        stranger = Person(telegram, bot.token, telegram.add_user(777, language_code="en"))
        stranger.say("/start")
        assert "members only" in stranger.wait_reply()["text"]
        stranger.say(f"/start {code}")
        assert "expired" in stranger.wait_reply()["text"]
        stranger.say("hello")
        assert "members only" in stranger.wait_reply()["text"]
    assert not TelegramLink.objects.exists()
