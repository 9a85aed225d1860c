"""The live progress message: edited as executions finish, never more than once per interval per
message, waiting out Telegram's 429s, in a constant number of queries per tick."""

import itertools
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bot.app import build_bot
from bot.models import ProgressMessage, TelegramLink
from bot.progress import progress_register, progress_start, progress_tick
from posts.models import MediaType
from posts.services import post_create
from publishing.models import Execution, ExecutionStatus
from publishing.planner import post_publish
from publishing.publisher import refresh_post_status

from ..emulators.telegram import TelegramEmulator
from ..factories import AccountGroupFactory, SocialAccountFactory
from ..support.bot import BOT_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = 4242


@pytest.fixture
def telegram():
    with TelegramEmulator() as tg:
        tg.add_bot(BOT_TOKEN, username="crosspost_ops_bot")
        tg.add_user(CHAT, language_code="en")
        yield tg


@pytest.fixture
def link(member):
    from accounts.models import Role

    return TelegramLink.objects.create(user=member(Role.EDITOR), telegram_user_id=CHAT, chat_id=CHAT, language="en")


def published_post(workspace, accounts: int, caption: str = "Winter drop"):
    group = AccountGroupFactory(workspace=workspace)
    SocialAccountFactory.create_batch(accounts, workspace=workspace, group=group)
    post = post_create(workspace=workspace, caption=caption, language="en", media_type=MediaType.TEXT, target_groups=[group])
    assert post_publish(post=post).created == accounts
    return post


def tick(telegram, now) -> int:
    """One tick of the progress editor with the clock at ``now`` (a fresh Bot, as the loop's would be)."""

    async def run() -> int:
        bot = build_bot(BOT_TOKEN, telegram.url)
        try:
            return await progress_tick(bot, now=now)
        finally:
            await bot.session.close()

    return async_to_sync(run)()


def show_progress(telegram, post, link) -> ProgressMessage:
    """What Publish in the bot does: send the first text, then register the message."""
    text = progress_start(post_id=post.pk, link=link)

    async def send() -> int:
        bot = build_bot(BOT_TOKEN, telegram.url)
        try:
            return (await bot.send_message(CHAT, text)).message_id
        finally:
            await bot.session.close()

    message_id = async_to_sync(send)()
    return progress_register(post_id=post.pk, link=link, chat_id=CHAT, message_id=message_id, text=text)


def finish(executions, status=ExecutionStatus.SUCCESS) -> None:
    for execution in executions:
        execution.status = status
        execution.finished_at = timezone.now()
        if status == ExecutionStatus.SUCCESS:
            execution.remote_url = f"https://sandbox.example/p/{execution.pk}"
    Execution.objects.bulk_update(executions, ["status", "finished_at", "remote_url"])


def edits_of(telegram, row) -> list[dict]:
    return [e for e in telegram.edits if e["message_id"] == row.message_id and e["chat_id"] == row.chat_id]


def test_it_edits_at_most_every_3_seconds_and_ends_at_100_percent_with_links(telegram, workspace, link, settings):
    settings.BOT_PROGRESS_EDIT_SECONDS = 3
    post = published_post(workspace, 200)
    row = show_progress(telegram, post, link)
    assert "0/200 published" in row.text
    pending = list(Execution.objects.filter(post=post).order_by("pk"))
    start = timezone.now()

    assert tick(telegram, start) == 0  # nothing finished yet: the text is the same, no edit
    assert edits_of(telegram, row) == []

    edited_at = []
    for second in range(1, 39):  # 10 executions finish every 2 s; the loop ticks every second
        if second % 2 == 0 and pending:
            finish(pending[:10])
            pending = pending[10:]
        now = start + timedelta(seconds=second)
        if tick(telegram, now):
            edited_at.append(now)
    finish(pending[:-2])
    finish(pending[-2:], ExecutionStatus.FAILED)
    assert refresh_post_status(post.pk) == "partial"
    for second in range(39, 50):
        now = start + timedelta(seconds=second)
        if tick(telegram, now):
            edited_at.append(now)

    gaps = [later - earlier for earlier, later in itertools.pairwise(edited_at)]
    assert gaps and min(gaps) >= timedelta(seconds=3)
    row.refresh_from_db()
    assert row.finished and row.edits == len(edited_at) == len(edits_of(telegram, row))
    assert len(edited_at) <= (edited_at[-1] - start).total_seconds() / 3 + 1
    middle = edits_of(telegram, row)[0]["text"]
    assert "10/200 published" in middle and "5%" in middle and "Sandbox: 10/200 ✓" in middle
    final = edits_of(telegram, row)[-1]["text"]
    assert "▓▓▓▓▓▓▓▓▓▓ 100% — 198/200 published, 2 failed" in final
    assert "Finished: partially published." in final
    assert "Links:" in final and "https://sandbox.example/p/" in final and "…and 193 more" in final

    # Finished: later ticks leave the message alone.
    assert tick(telegram, start + timedelta(seconds=60)) == 0
    assert len(edits_of(telegram, row)) == row.edits


def test_a_429_makes_the_next_edit_wait_retry_after_and_a_gone_message_stops(telegram, workspace, link, settings):
    settings.BOT_PROGRESS_EDIT_SECONDS = 3
    post = published_post(workspace, 3)
    row = show_progress(telegram, post, link)
    gone = progress_register(post_id=post.pk, link=link, chat_id=CHAT, message_id=9999, text="")
    finish(list(Execution.objects.filter(post=post))[:1])
    now = timezone.now()

    telegram.fail_next(telegram.error(429, "Too Many Requests: retry after 5", retry_after=5, method="editMessageText"))
    assert tick(telegram, now) == 0
    row.refresh_from_db()
    assert row.next_edit_at == now + timedelta(seconds=5) and row.edits == 0
    gone.refresh_from_db()
    assert gone.finished  # "message to edit not found": nothing left to edit

    assert tick(telegram, now + timedelta(seconds=3)) == 0  # not before retry_after
    assert edits_of(telegram, row) == []
    assert tick(telegram, now + timedelta(seconds=5)) == 1
    assert "1/3 published" in edits_of(telegram, row)[-1]["text"]

    # The emulator's own flood control (edits of one message closer than 10 s) is obeyed the same way.
    telegram.edit_flood_seconds = 10
    finish(list(Execution.objects.filter(post=post, status=ExecutionStatus.PENDING))[:1])
    assert tick(telegram, now + timedelta(seconds=8)) == 0
    row.refresh_from_db()
    assert row.next_edit_at >= now + timedelta(seconds=8 + 1)


def test_a_tick_costs_the_same_queries_for_one_message_as_for_three(telegram, workspace, link):
    rows = [show_progress(telegram, published_post(workspace, 3, caption=f"Post {n}"), link) for n in range(3)]
    executions = {row.post_id: list(Execution.objects.filter(post_id=row.post_id).order_by("pk")) for row in rows}
    now = timezone.now()
    ProgressMessage.objects.filter(pk__in=[rows[1].pk, rows[2].pk]).update(next_edit_at=now + timedelta(hours=1))
    finish(executions[rows[0].post_id][:1])
    with CaptureQueriesContext(connection) as one:
        assert tick(telegram, now) == 1

    later = now + timedelta(hours=1)
    for row in rows:
        finish(executions[row.post_id][1:2])
    with CaptureQueriesContext(connection) as three:
        assert tick(telegram, later) == 3
    assert len(three) == len(one)

    # Finished posts: their links are read as well — one more query, for all of them together.
    for row in rows:
        finish(executions[row.post_id])
        refresh_post_status(row.post_id)
    with CaptureQueriesContext(connection) as final:
        assert tick(telegram, later + timedelta(hours=1)) == 3
    assert len(final) == len(one) + 1
    assert all(row.finished for row in ProgressMessage.objects.all())
