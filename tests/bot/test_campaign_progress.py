"""A campaign run's progress message: edited as its Job moves, at most once per interval, waiting out
Telegram's 429s, finished with the result — in the member's language."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone, translation

from accounts.models import Role
from bot.app import build_bot
from bot.campaign_progress import campaign_progress_register, campaign_progress_start, campaign_progress_tick
from bot.models import CampaignProgressMessage, TelegramLink
from campaigns.models import Campaign
from crosspost.jobs import job_completed, job_create, job_started, job_step

from ..emulators.telegram import TelegramEmulator
from ..support.bot import BOT_TOKEN
from .test_texts import catalog, compiled_catalog  # noqa: F401  (the Russian catalog with the pending files)

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = 4343


@pytest.fixture
def telegram():
    with TelegramEmulator() as tg:
        tg.add_bot(BOT_TOKEN, username="crosspost_ops_bot")
        tg.add_user(CHAT, language_code="ru")
        yield tg


def tick(telegram, now) -> int:
    async def run() -> int:
        bot = build_bot(BOT_TOKEN, telegram.url)
        try:
            return await campaign_progress_tick(bot, now=now)
        finally:
            await bot.session.close()

    return async_to_sync(run)()


def shown(telegram, workspace, member, language: str) -> CampaignProgressMessage:
    """A campaign whose job is running, and its progress message as the bot sends it."""
    user = member(Role.EDITOR)
    link = TelegramLink.objects.create(user=user, telegram_user_id=CHAT, chat_id=CHAT, language=language)
    campaign = Campaign.objects.create(
        workspace=workspace, author=user, name="Льняные платья", product_description="…", target_url="https://shop.example/"
    )
    job = job_create(kind="campaign.build", workspace=workspace, subject=f"campaigns.campaign:{campaign.pk}")
    Campaign.objects.filter(pk=campaign.pk).update(job=job)
    job_started(job.pk, stage="collect", message="Queued.")
    with translation.override(language):  # as the bot's handler runs: in the member's language
        text, markup = campaign_progress_start(campaign=campaign, job=job)

    async def send() -> int:
        bot = build_bot(BOT_TOKEN, telegram.url)
        try:
            return (await bot.send_message(CHAT, text, reply_markup=markup)).message_id
        finally:
            await bot.session.close()

    message_id = async_to_sync(send)()
    return campaign_progress_register(campaign=campaign, job=job, link=link, chat_id=CHAT, message_id=message_id, text=text)


def edits_of(telegram, row) -> list[dict]:
    return [e for e in telegram.edits if e["message_id"] == row.message_id and e["chat_id"] == row.chat_id]


def test_it_edits_once_per_interval_waits_out_a_429_and_ends_with_the_result(telegram, workspace, member, settings):
    settings.BOT_PROGRESS_EDIT_SECONDS = 3
    row = shown(telegram, workspace, member, "en")
    now = timezone.now()
    assert tick(telegram, now) == 0  # nothing moved: no edit

    job_step(row.job_id, progress=20, stage="collect", message="Wordstat: 2 of 3 keywords collected.")
    assert tick(telegram, now + timedelta(seconds=1)) == 1
    job_step(row.job_id, progress=45, stage="cluster", message="Clustering 812 phrases.")
    assert tick(telegram, now + timedelta(seconds=2)) == 0  # within the interval: waits
    telegram.fail_next(telegram.error(429, "Too Many Requests: retry after 7", retry_after=7, method="editMessageText"))
    assert tick(telegram, now + timedelta(seconds=4)) == 0
    row.refresh_from_db()
    assert row.next_edit_at == now + timedelta(seconds=4 + 7)
    assert tick(telegram, now + timedelta(seconds=8)) == 0  # not before retry_after
    assert tick(telegram, now + timedelta(seconds=11)) == 1
    assert "Clustering 812 phrases." in edits_of(telegram, row)[-1]["text"]

    Campaign.objects.filter(pk=row.campaign_id).update(sheet_url="https://docs.google.com/spreadsheets/d/xyz/edit")
    job_completed(row.job_id, result={"clusters": 7, "ads": 14, "flagged_ads": 1})
    assert tick(telegram, now + timedelta(seconds=14)) == 1
    final = edits_of(telegram, row)[-1]["text"]
    assert "Done: 7 clusters, 14 ads." in final and "1 ad is flagged" in final
    assert "https://docs.google.com/spreadsheets/d/xyz/edit" in final
    row.refresh_from_db()
    assert row.finished and row.edits == 3
    assert tick(telegram, now + timedelta(seconds=60)) == 0  # finished: left alone


@pytest.mark.usefixtures("catalog")
def test_it_speaks_the_members_language_and_stops_when_the_message_is_gone(telegram, workspace, member):
    row = shown(telegram, workspace, member, "ru")
    assert "Сбор ключевых фраз" in row.text and "Отменить сборку" in str(
        [b for r in telegram.chat_messages(CHAT)[-1]["reply_markup"]["inline_keyboard"] for b in r]
    )
    gone = campaign_progress_register(campaign=row.campaign, job=row.job, link=row.link, chat_id=CHAT, message_id=999999, text="")
    job_completed(row.job_id, result={"clusters": 2, "ads": 4})
    assert tick(telegram, timezone.now()) == 1
    assert "Готово: кластеров — 2, объявлений — 4." in edits_of(telegram, row)[-1]["text"]
    gone.refresh_from_db()
    assert gone.finished  # "message to edit not found": nothing left to edit
