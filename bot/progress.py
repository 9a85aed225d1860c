"""Live progress messages: the bot keeps editing one message per published post as its executions finish.

``progress_loop`` (started beside the updates by ``bot.app.background``) calls ``progress_tick`` about
every second. A tick takes the unfinished messages that are due (``next_edit_at`` has come), counts
all their posts' executions in one aggregate query, and edits a message only when its text changed —
at most once per ``BOT_PROGRESS_EDIT_SECONDS`` (Telegram answers a bot that edits one message too
often with 429, and then we wait the ``retry_after`` it asks for). The queries of a tick do not depend
on the number of messages: the rows, the counts, the links of finished posts, one bulk update.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramNetworkError, TelegramRetryAfter
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Count
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Platform
from posts.models import PostStatus
from publishing.models import OPEN_EXECUTION_STATUSES, Execution, ExecutionStatus

from .models import ProgressMessage, TelegramLink
from .ui import progress_bar

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0
BATCH = 50  # messages per tick; the rest are due next tick
LINKS_SHOWN = 5
FINISHED_POST_STATUSES = (PostStatus.COMPLETED, PostStatus.PARTIAL, PostStatus.FAILED, PostStatus.CANCELLED)


@dataclass
class Counts:
    """A post's executions by status, overall and per platform."""

    total: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_platform: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def add(self, platform: str, status: str, n: int) -> None:
        self.total += n
        self.by_status[status] += n
        self.by_platform[platform][status] += n

    @staticmethod
    def done(statuses: dict[str, int]) -> int:
        """Executions that will not change by themselves any more (published, failed, blocked, …)."""
        return sum(n for status, n in statuses.items() if status not in OPEN_EXECUTION_STATUSES)


def counts_for(post_ids: list[int]) -> dict[int, Counts]:
    """One aggregate query: every post's executions by platform and status."""
    counts: dict[int, Counts] = defaultdict(Counts)
    rows = (
        Execution.objects.filter(post_id__in=post_ids)
        .values_list("post_id", "account__platform", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for post_id, platform, status, n in rows:
        counts[post_id].add(platform, status, n)
    return counts


def links_for(post_ids: list[int]) -> dict[int, list[str]]:
    """The published posts' addresses (the earliest first), per post; one query."""
    links: dict[int, list[str]] = defaultdict(list)
    if not post_ids:
        return links
    rows = (
        Execution.objects.filter(post_id__in=post_ids, status=ExecutionStatus.SUCCESS)
        .exclude(remote_url="")
        .order_by("post_id", "finished_at", "pk")
        .values_list("post_id", "remote_url")
    )
    for post_id, url in rows:
        links[post_id].append(url)
    return links


def progress_text(post, counts: Counts, links: list[str] | None) -> str:
    """What the message says (in the active language). ``links`` is given once the post is finished."""
    published = counts.by_status.get(ExecutionStatus.SUCCESS, 0)
    failed = counts.by_status.get(ExecutionStatus.FAILED, 0)
    blocked = counts.by_status.get(ExecutionStatus.BLOCKED, 0)
    done = Counts.done(counts.by_status)
    title = _("Post #%(id)d") % {"id": post.pk}
    if post.title or post.caption:
        title += " · " + (post.title or post.caption).splitlines()[0][:60]
    line = _("%(bar)s — %(published)d/%(total)d published") % {
        "bar": progress_bar(done, counts.total),
        "published": published,
        "total": counts.total,
    }
    if failed:
        line += ", " + ngettext("%(count)d failed", "%(count)d failed", failed) % {"count": failed}
    if blocked:
        line += ", " + ngettext("%(count)d blocked", "%(count)d blocked", blocked) % {"count": blocked}
    lines = [title, line]
    for platform in sorted(counts.by_platform):
        statuses = counts.by_platform[platform]
        platform_total = sum(statuses.values())
        parts = [f"{statuses.get(ExecutionStatus.SUCCESS, 0)}/{platform_total} ✓"]
        if statuses.get(ExecutionStatus.FAILED):
            parts.append(f"{statuses[ExecutionStatus.FAILED]} ✗")
        lines.append(f"• {Platform(platform).label if platform in Platform.values else platform}: {', '.join(parts)}")
    if links is not None:
        lines.append(
            _("Finished: %(status)s.") % {"status": PostStatus(post.status).label.lower()}
            + " "
            + _("%(published)d published, %(failed)d failed, %(blocked)d blocked.")
            % {"published": published, "failed": failed, "blocked": blocked}
        )
        if links:
            lines.append(_("Links:"))
            lines.extend(links[:LINKS_SHOWN])
            if len(links) > LINKS_SHOWN:
                rest = len(links) - LINKS_SHOWN
                lines.append(ngettext("…and %(count)d more", "…and %(count)d more", rest) % {"count": rest})
    return "\n".join(lines)


def progress_texts(rows: list[ProgressMessage]) -> dict[int, tuple[str, bool]]:
    """Each row's text (in its member's language) and whether its post is finished."""
    post_ids = sorted({row.post_id for row in rows})
    counts = counts_for(post_ids)
    finished_ids = [row.post_id for row in rows if row.post.status in FINISHED_POST_STATUSES]
    links = links_for(sorted(set(finished_ids)))
    texts = {}
    for row in rows:
        finished = row.post.status in FINISHED_POST_STATUSES
        with translation.override(row.link.language):
            texts[row.pk] = (progress_text(row.post, counts[row.post_id], links[row.post_id] if finished else None), finished)
    return texts


def progress_start(*, post_id: int, link: TelegramLink) -> str:
    """The first text of a post's progress message (sent before the row exists)."""
    row = ProgressMessage(post_id=post_id, link=link, chat_id=link.chat_id, message_id=0)
    row.post  # noqa: B018 - load the post, as the tick's select_related does
    return progress_texts([row])[row.pk][0]


def progress_register(*, post_id: int, link: TelegramLink, chat_id: int, message_id: int, text: str) -> ProgressMessage:
    """Keep editing ``message_id`` in ``chat_id`` for the post, from the next tick on."""
    return ProgressMessage.objects.create(
        post_id=post_id, link=link, chat_id=chat_id, message_id=message_id, text=text, next_edit_at=timezone.now()
    )


def _due(now: datetime) -> tuple[list[ProgressMessage], dict[int, tuple[str, bool]]]:
    rows = list(
        ProgressMessage.objects.filter(finished=False, next_edit_at__lte=now)
        .select_related("post", "link")
        .order_by("next_edit_at", "pk")[:BATCH]
    )
    return rows, progress_texts(rows) if rows else {}


def _save(rows: list[ProgressMessage]) -> None:
    if rows:
        ProgressMessage.objects.bulk_update(rows, ["text", "edits", "last_edit_at", "next_edit_at", "finished"])


def _gone(exc: TelegramBadRequest) -> bool:
    """The message cannot be edited any more (deleted, too old, the chat is gone)."""
    text = exc.message.lower()
    return any(s in text for s in ("message to edit not found", "message can't be edited", "chat not found"))


async def progress_tick(bot: Bot, now: datetime | None = None) -> int:
    """Edit every due progress message whose text changed; returns how many edits were made."""
    now = now or timezone.now()
    rows, texts = await sync_to_async(_due)(now)
    due = [(row, *texts[row.pk][:1], None, texts[row.pk][1]) for row in rows]
    edited, changed = await apply_edits(bot, due, now, what="Progress message")
    await sync_to_async(_save)(changed)
    return edited


async def apply_edits(bot: Bot, due: list[tuple], now: datetime, *, what: str) -> tuple[int, list]:
    """Edit each due message — ``(row, text, reply_markup, finished)`` — whose text changed, within
    Telegram's limits: the next edit no sooner than BOT_PROGRESS_EDIT_SECONDS, or a 429's
    ``retry_after``; a message gone or a bot blocked ends the row. Returns (edits made, rows to save);
    the rows are any model with text, edits, last_edit_at, next_edit_at and finished."""
    interval = timedelta(seconds=settings.BOT_PROGRESS_EDIT_SECONDS)
    edited, changed = 0, []
    for row, text, markup, finished in due:
        if text == row.text:
            if finished:  # the final text is already shown (a retry after "not modified")
                row.finished = True
                changed.append(row)
            continue
        try:
            await bot.edit_message_text(text=text, chat_id=row.chat_id, message_id=row.message_id, reply_markup=markup)
        except TelegramRetryAfter as exc:
            row.next_edit_at = now + timedelta(seconds=exc.retry_after)
            changed.append(row)
            continue
        except TelegramForbiddenError:  # the member blocked the bot
            row.finished = True
            changed.append(row)
            continue
        except TelegramBadRequest as exc:
            if "not modified" in exc.message.lower():
                row.text, row.finished = text, finished
            elif _gone(exc):
                row.finished = True
            else:
                logger.warning("%s %s/%s: %s", what, row.chat_id, row.message_id, exc.message)
                row.next_edit_at = now + interval
            changed.append(row)
            continue
        except TelegramNetworkError as exc:
            logger.warning("%s %s/%s: %s", what, row.chat_id, row.message_id, exc)
            row.next_edit_at = now + interval
            changed.append(row)
            continue
        edited += 1
        row.text, row.finished = text, finished
        row.edits += 1
        row.last_edit_at = now
        row.next_edit_at = now + interval
        changed.append(row)
    return edited, changed


async def tick_forever(tick, bot: Bot, name: str) -> None:
    """Run ``tick(bot)`` about every second until cancelled; a failed tick is logged, the next tries again."""
    while True:
        try:
            await tick(bot)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("A %s tick failed", name)
        await asyncio.sleep(TICK_SECONDS)


async def progress_loop(bot: Bot) -> None:
    await tick_forever(progress_tick, bot, "progress")
