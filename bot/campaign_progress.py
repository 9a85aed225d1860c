"""Live progress of a campaign's run: the bot keeps editing one message per run as its Job moves.

Simpler than the posts' ``bot.progress`` (one Job row says everything): ``campaign_progress_loop``
(started beside the updates by ``bot.app.background``) calls ``campaign_progress_tick`` about every
second. A tick takes the unfinished messages that are due, reads their jobs and campaigns with them
(one query), and edits a message only when its text changed — at most once per
``BOT_PROGRESS_EDIT_SECONDS``, waiting the ``retry_after`` of a 429. While the job runs the message
carries a Cancel button; when it ends, the final text (the counts and the sheet link, or the error)
and a Resume button for a failed or cancelled run.
"""

from __future__ import annotations

import logging
from datetime import datetime

from aiogram import Bot
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from asgiref.sync import sync_to_async
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.models import Campaign, Stage
from campaigns.runner import STAGES
from crosspost.logging import redact
from crosspost.models import Job, JobStatus

from .models import CampaignProgressMessage, TelegramLink
from .progress import apply_edits, tick_forever
from .ui import keyboard, progress_bar

logger = logging.getLogger(__name__)

BATCH = 50  # messages per tick; the rest are due next tick
ERROR_SHOWN = 300  # characters of a failed run's error


class CampaignAct(CallbackData, prefix="ca"):
    """Something done to one campaign: ``act`` open | cancel | resume | repeat | delete (asks) |
    delete_ok (does); ``pg`` the history page to go back to — 0 on a progress message's buttons."""

    id: int
    act: str
    pg: int = 1


def act_button(text: str, campaign_id: int, act: str, page: int = 1) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=CampaignAct(id=campaign_id, act=act, pg=page).pack())


def stage_lines(job: Job) -> list[str]:
    """The six stages with done (✓), current (▶, ✗ when it failed there) and waiting (·) marks."""
    current = STAGES.index(job.stage) if job.stage in STAGES else -1
    lines = []
    for index, stage in enumerate(STAGES):
        label = str(Stage(stage).label)
        if job.status == JobStatus.COMPLETED or index < current:
            mark = "✓"
        elif index == current:
            mark = {JobStatus.FAILED: "✗", JobStatus.CANCELLED: "■"}.get(job.status, "▶")
        else:
            mark = "·"
        lines.append(f"{mark} {label}")
    return lines


def dashboard_hint(campaign: Campaign) -> str:
    return _("XLSX and CSV downloads: on the dashboard, Campaigns → #%(id)d.") % {"id": campaign.pk}


def campaign_progress_text(campaign: Campaign, job: Job) -> str:
    """What the message says about ``job`` (in the active language)."""
    lines = [_("Campaign #%(id)d «%(name)s»") % {"id": campaign.pk, "name": campaign.name}]
    lines.append(progress_bar(job.progress, 100))
    lines.extend(stage_lines(job))
    if job.status == JobStatus.COMPLETED:
        result = job.result or {}
        clusters = result.get("clusters", campaign.clusters.count())
        ads = result.get("ads", campaign.ads.count())
        lines.append("")
        lines.append(_("Done: %(clusters)d clusters, %(ads)d ads.") % {"clusters": clusters, "ads": ads})
        if result.get("flagged_ads"):
            flagged = result["flagged_ads"]
            lines.append(
                ngettext(
                    "%(count)d ad is flagged: check it on the dashboard.",
                    "%(count)d ads are flagged: check them on the dashboard.",
                    flagged,
                )
                % {"count": flagged}
            )
        # The stage may set the link after the result was written: the campaign's is the latest.
        sheet = campaign.sheet_url or result.get("sheet_url")
        if sheet:
            lines.append(_("Google Sheet: %(url)s") % {"url": sheet})
        lines.append(dashboard_hint(campaign))
    elif job.status == JobStatus.FAILED:
        lines.append("")
        lines.append(_("Failed: %(error)s") % {"error": redact(job.error or job.message)[:ERROR_SHOWN] or "—"})
        lines.append(_("Finished stages are kept: Resume continues after them."))
    elif job.status == JobStatus.CANCELLED:
        lines.append("")
        lines.append(_("Cancelled. Finished stages are kept: Resume continues after them."))
    else:
        if job.cancel_requested:
            lines.append(_("Cancelling: it stops after the current step."))
        elif job.message:
            lines.append(redact(job.message)[:200])
    return "\n".join(lines)


def campaign_progress_markup(campaign: Campaign, job: Job) -> InlineKeyboardMarkup | None:
    """Cancel while the run goes on; Resume after a failed or cancelled run; nothing after success."""
    if not job.finished:
        return None if job.cancel_requested else keyboard([act_button("✖ " + _("Cancel the run"), campaign.pk, "cancel", 0)])
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        return keyboard([act_button("▶ " + _("Resume"), campaign.pk, "resume", 0)])
    return None


def campaign_progress_start(*, campaign: Campaign, job: Job) -> tuple[str, InlineKeyboardMarkup | None]:
    """The first text and buttons of a run's message (sent before the row exists)."""
    job.refresh_from_db()
    return campaign_progress_text(campaign, job), campaign_progress_markup(campaign, job)


def campaign_progress_register(
    *, campaign: Campaign, job: Job, link: TelegramLink, chat_id: int, message_id: int, text: str
) -> CampaignProgressMessage:
    """Keep editing ``message_id`` in ``chat_id`` for the run, from the next tick on."""
    return CampaignProgressMessage.objects.create(
        campaign=campaign, job=job, link=link, chat_id=chat_id, message_id=message_id, text=text, next_edit_at=timezone.now()
    )


def _due(now: datetime) -> list[tuple[CampaignProgressMessage, str, InlineKeyboardMarkup | None, bool]]:
    rows = list(
        CampaignProgressMessage.objects.filter(finished=False, next_edit_at__lte=now)
        .select_related("campaign", "job", "link")
        .order_by("next_edit_at", "pk")[:BATCH]
    )
    due = []
    for row in rows:
        with translation.override(row.link.language):
            text = campaign_progress_text(row.campaign, row.job)
            markup = campaign_progress_markup(row.campaign, row.job)
        due.append((row, text, markup, row.job.finished))
    return due


def _save(rows: list[CampaignProgressMessage]) -> None:
    if rows:
        CampaignProgressMessage.objects.bulk_update(rows, ["text", "edits", "last_edit_at", "next_edit_at", "finished"])


async def campaign_progress_tick(bot: Bot, now: datetime | None = None) -> int:
    """Edit every due campaign message whose text changed; returns how many edits were made."""
    now = now or timezone.now()
    due = await sync_to_async(_due)(now)
    edited, changed = await apply_edits(bot, due, now, what="Campaign progress message")
    await sync_to_async(_save)(changed)
    return edited


async def campaign_progress_loop(bot: Bot) -> None:
    await tick_forever(campaign_progress_tick, bot, "campaign progress")
