"""The dashboard's "Telegram" page and the admin: a member links and unlinks their own Telegram
account, an admin makes a link code for a member of their workspace and unlinks."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from bot.models import LinkCode, TelegramLink
from bot.services import link_code_create, link_redeem
from crosspost.models import ActivityLog

from ..emulators.telegram import TelegramEmulator
from ..factories import AccountGroupFactory, UserFactory, WorkspaceFactory
from ..support.bot import BOT_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = "/telegram/"
CODE = re.compile(r'data-testid="link-code">([A-Za-z0-9_-]{16})<')


@pytest.fixture
def bot_settings(settings):
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    settings.TELEGRAM_BOT_USERNAME = "crosspost_ops_bot"
    return settings


def linked(user, telegram_user_id: int, username: str = "") -> TelegramLink:
    code, _ = link_code_create(user=user)
    return link_redeem(code=code, telegram_user_id=telegram_user_id, chat_id=telegram_user_id, username=username, language="en")


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    assert reverse("bot:telegram") == PAGE
    for method, url in (("get", PAGE), ("post", PAGE + "code/"), ("post", PAGE + "unlink/")):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    assert not LinkCode.objects.exists()


def test_it_says_how_to_configure_a_bot_that_is_not_configured(client, member, settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    client.force_login(member(Role.EDITOR))
    page = client.get(PAGE).content.decode()
    assert "TELEGRAM_BOT_TOKEN" in page and "@BotFather" in page
    assert "Make a link code" not in page
    assert 'href="/telegram/"' in page  # the nav links the page
    response = client.post(PAGE + "code/", follow=True)
    assert "not configured" in response.content.decode()
    assert not LinkCode.objects.exists()


def test_a_code_made_on_the_page_links_the_member_once(client, member, bot_settings):
    editor = member(Role.EDITOR)
    client.force_login(editor)
    page = client.get(PAGE).content.decode()
    assert "Not linked" in page and "Make a link code" in page

    response = client.post(PAGE + "code/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    html = response.content.decode()
    code = CODE.search(html).group(1)
    assert f'href="https://t.me/crosspost_ops_bot?start={code}"' in html
    assert "valid for 10 minutes, once" in html
    assert LinkCode.objects.get().code_hash != code  # only the hash is stored
    assert ActivityLog.objects.filter(action="bot.link_code", actor=editor).exists()
    assert code not in client.get(PAGE).content.decode()  # shown once

    link = link_redeem(code=code, telegram_user_id=4242, chat_id=4242, username="olga", language="en")
    assert link.user == editor
    page = client.get(PAGE).content.decode()
    assert "@olga" in page and "4242" in page and "English" in page and "Unlink" in page


def test_the_bot_username_is_asked_once_with_get_me(client, member, settings):
    with TelegramEmulator() as tg:
        tg.add_bot(BOT_TOKEN, username="asked_bot")
        settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_BOT_USERNAME, settings.TELEGRAM_API_BASE_URL = BOT_TOKEN, "", tg.url
        client.force_login(member(Role.VIEWER))
        first = client.post(PAGE + "code/").content.decode()
        second = client.post(PAGE + "code/").content.decode()
        assert "https://t.me/asked_bot?start=" in first and "https://t.me/asked_bot?start=" in second
        assert [r.path.rsplit("/", 1)[-1] for r in tg.requests] == ["getMe"]  # then cached

        # Telegram unreachable and nothing cached: the page still gives the /start way, and does not
        # ask again at once (each page load would wait on it).
        from django.core.cache import cache

        cache.clear()
        tg.fail_next("server_error")
        for _ in range(2):
            html = client.post(PAGE + "code/").content.decode()
            code = CODE.search(html).group(1)
            assert f"/start {code}" in html and "t.me" not in html
        assert [r.path.rsplit("/", 1)[-1] for r in tg.requests] == ["getMe", "getMe"]


def test_unlink_acts_on_the_member_only(client, member, bot_settings):
    olga, ivan = member(Role.EDITOR), member(Role.ADMIN)
    linked(olga, 1001, "olga")
    linked(ivan, 2002, "ivan")
    client.force_login(olga)
    response = client.post(PAGE + "unlink/", {"user": ivan.pk}, follow=True)  # a user id in the form is ignored
    assert "unlinked" in response.content.decode()
    assert list(TelegramLink.objects.values_list("user", flat=True)) == [ivan.pk]
    assert ActivityLog.objects.filter(action="bot.unlink", actor=olga).count() == 1
    response = client.post(PAGE + "unlink/", follow=True)
    assert "No Telegram account is linked" in response.content.decode()


def test_the_page_forms_need_the_csrf_token(member, bot_settings):
    client = Client(enforce_csrf_checks=True)
    user = member(Role.EDITOR)
    linked(user, 3003)
    client.force_login(user)
    page = client.get(PAGE).content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 2
    assert client.post(PAGE + "code/").status_code == 403
    assert client.post(PAGE + "unlink/").status_code == 403
    assert TelegramLink.objects.filter(user=user).exists() and not LinkCode.objects.filter(used_at=None).exists()


# --- admin -------------------------------------------------------------------------------------


def test_a_workspace_admin_manages_links_of_their_members_only(client, member, workspace, bot_settings):
    admin_user = member(Role.ADMIN)
    olga = member(Role.EDITOR)
    other = WorkspaceFactory()
    stranger = member(Role.EDITOR, ws=other)
    linked(olga, 1001, "olga")
    linked(stranger, 9009, "stranger")
    mine = AccountGroupFactory(workspace=workspace, name="Mine")
    AccountGroupFactory(workspace=other, name="Theirs")

    client.force_login(admin_user)
    listing = client.get(reverse("admin:bot_telegramlink_changelist")).content.decode()
    assert "@olga" in listing and "stranger" not in listing
    own = TelegramLink.objects.get(user=olga)
    form = client.get(reverse("admin:bot_telegramlink_change", args=[own.pk])).content.decode()
    assert "Mine" in form and "Theirs" not in form  # default groups: the member's workspaces only
    theirs = TelegramLink.objects.get(user=stranger)
    assert client.get(reverse("admin:bot_telegramlink_change", args=[theirs.pk])).status_code in (302, 403, 404)
    assert client.get(reverse("admin:bot_telegramlink_add")).status_code == 403  # links come from /start only

    # "Unlink" on both: only the member of the admin's workspace goes, through the service (logged).
    response = client.post(
        reverse("admin:bot_telegramlink_changelist"),
        {"action": "unlink_selected", "_selected_action": [own.pk, theirs.pk]},
        follow=True,
    )
    assert "1 Telegram account unlinked." in response.content.decode()
    assert list(TelegramLink.objects.values_list("user", flat=True)) == [stranger.pk]
    assert ActivityLog.objects.filter(action="bot.unlink", actor=admin_user).count() == 1
    assert mine.pk  # the group stays


def test_an_admin_makes_a_link_code_for_a_member_shown_once(client, member, bot_settings):
    admin_user = member(Role.ADMIN)
    olga = member(Role.VIEWER)
    stranger = member(Role.EDITOR, ws=WorkspaceFactory())
    client.force_login(admin_user)
    make = reverse("admin:bot_linkcode_make")
    assert make in client.get(reverse("admin:bot_linkcode_changelist")).content.decode()
    form = client.get(make).content.decode()
    assert olga.username in form and stranger.username not in form
    assert client.post(make, {"user": stranger.pk}).status_code == 200  # not a choice: the form again
    assert not LinkCode.objects.filter(user=stranger).exists()

    response = client.post(make, {"user": olga.pk}, follow=True)
    text = response.content.decode()
    code = re.search(r"https://t\.me/crosspost_ops_bot\?start=([A-Za-z0-9_-]{16})", text).group(1)
    assert link_redeem(code=code, telegram_user_id=5005, chat_id=5005).user == olga
    log = ActivityLog.objects.get(action="bot.link_code")
    assert log.actor == admin_user and olga.username in log.message
    listing = client.get(reverse("admin:bot_linkcode_changelist")).content.decode()
    assert code not in listing and LinkCode.objects.get().code_hash not in listing  # never a usable code

    # An editor (staff, no admin role) reaches neither page; the superuser sees every link.
    client.force_login(member(Role.EDITOR))
    assert client.get(make).status_code == 403
    assert client.get(reverse("admin:bot_telegramlink_changelist")).status_code == 403
    client.force_login(UserFactory(username="root", is_superuser=True))
    assert olga.username in client.get(reverse("admin:bot_telegramlink_changelist")).content.decode()
