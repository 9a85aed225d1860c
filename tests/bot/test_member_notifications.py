"""Notifications the product sends to the admin chat also reach the linked members who asked for
them, through the operators' bot — even where no admin chat is configured."""

import pytest
from django.utils import timezone

from accounts.models import AccountStatus, Role
from accounts.services import account_set_status
from bot.models import TelegramLink
from crosspost.celery import app as celery_app
from posts.models import PostStatus, Stage
from posts.pipeline import pipeline_open
from publishing.notifications import notify_post_finished
from publishing.pipeline import stage_run

from ..factories import ExecutionFactory, MembershipFactory, PostFactory, SocialAccountFactory, UserFactory, WorkspaceFactory
from ..support.bot import BOT_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operators_bot(settings, telegram):
    """The operators' bot configured, the admin bot and chat not; the notification task runs inline."""
    settings.TELEGRAM_API_BASE_URL = telegram.url
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    settings.TELEGRAM_ADMIN_BOT_TOKEN = ""
    settings.TELEGRAM_ADMIN_CHAT_ID = ""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
    try:
        yield telegram
    finally:
        celery_app.conf.task_always_eager = previous


def link(telegram, user, telegram_id: int, notify: list[str]) -> TelegramLink:
    telegram.add_user(telegram_id, language_code="en")
    return TelegramLink.objects.create(user=user, telegram_user_id=telegram_id, chat_id=telegram_id, notify=notify)


def texts(telegram, chat_id: int) -> list[str]:
    return [m["text"] for m in telegram.chat_messages(chat_id)]


def test_an_opted_in_member_of_the_workspace_gets_it_and_nobody_else(operators_bot, member, workspace):
    tg = operators_bot
    link(tg, member(Role.VIEWER), 601, ["account_problem"])  # opted in: gets it
    link(tg, member(Role.ADMIN), 602, ["post_finished"])  # another kind only
    link(tg, member(Role.EDITOR, WorkspaceFactory()), 603, ["account_problem"])  # another workspace
    away = member(Role.ADMIN)
    link(tg, away, 604, ["account_problem"])
    away.is_active = False  # deactivated: never
    away.save()
    account = SocialAccountFactory(workspace=workspace, handle="shop_main")

    account_set_status(account=account, status=AccountStatus.BANNED, reason="Sandbox: injected account_banned.")

    [text] = texts(tg, 601)
    assert f"Account {account} ({workspace}) is banned." in text
    assert "Reason: Sandbox: injected account_banned." in text
    assert texts(tg, 602) == texts(tg, 603) == texts(tg, 604) == []


def test_a_finished_post_reaches_members_who_asked_including_a_sources_post(operators_bot, member, workspace):
    tg = operators_bot
    link(tg, member(Role.EDITOR), 611, ["post_finished", "proxy_down"])
    post = PostFactory(workspace=workspace, title="Spring launch", status=PostStatus.COMPLETED)
    ExecutionFactory(post=post, status="success", remote_url="https://example.test/p/1", finished_at=timezone.now())

    notify_post_finished(post.pk)

    [text] = texts(tg, 611)
    assert f"Post #{post.pk} «Spring launch» finished: completed" in text and "https://example.test/p/1" in text

    # A source's post reports through its pipeline's finalize stage: the members hear of it too.
    piped = PostFactory(workspace=workspace, title="From the channel", status=PostStatus.COMPLETED)
    pipeline_open(post=piped, ingest_started_at=timezone.now())
    stage_run(piped.pk, Stage.FINALIZE)
    assert f"Post #{piped.pk} «From the channel» finished: completed" in texts(tg, 611)[-1]


def test_nothing_is_sent_to_members_without_the_operators_bot(operators_bot, settings, member, workspace):
    settings.TELEGRAM_BOT_TOKEN = ""
    tg = operators_bot
    link(tg, member(Role.EDITOR), 621, ["account_problem"])
    account_set_status(account=SocialAccountFactory(workspace=workspace), status=AccountStatus.BANNED, reason="x")
    assert texts(tg, 621) == []


def test_a_member_in_several_workspaces_gets_one_message(operators_bot, workspace):
    tg = operators_bot
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role=Role.VIEWER)
    MembershipFactory(user=user, workspace=WorkspaceFactory(), role=Role.ADMIN)
    link(tg, user, 631, ["account_problem"])
    account_set_status(account=SocialAccountFactory(workspace=workspace), status=AccountStatus.LOGIN_REQUIRED, reason="x")
    assert len(texts(tg, 631)) == 1
