"""Watched sources (RSS/Atom, VK wall, YouTube, Instagram): polled through their fetcher in
``platforms.feeds``, each new item made into a post exactly once.

A poll stores every fetched item first (``SourceItem``, unique per source and remote id), then
makes the waiting items into posts — each in one transaction with its item's status — and only
then saves the fetcher's cursor. A crash anywhere leaves the items stored and waiting: the next
poll fetches them again (the cursor did not move), finds them by their remote id and makes nothing
twice. Failed polls back off exponentially; a source that keeps failing is marked and the admin
chat told once, and again only after it recovered and failed again.
"""

from __future__ import annotations

import hashlib
import logging
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from media.models import MediaAsset
from platforms import base
from platforms.feeds import FetchedItem, FetchRequest, get_fetcher
from platforms.feeds.download import download, file_name
from posts.account_snapshots import account_snapshot
from posts.models import MAX_MEDIA_PER_POST

from .models import WATCHED_KINDS, OriginStatus, Source, SourceItem
from .rules import caption_of, quiet_hours, rule_skip
from .services import _close, _forget_files, _scheduled_at, next_opening, post_from_source

logger = logging.getLogger(__name__)

BACKOFF_CAP = timedelta(hours=6)
JITTER = 0.1  # ±10 % of the interval: sources added together do not poll together forever
SOURCE_FAILING = "source_failing"  # publishing.notifications' kind for it (read there by name)


def _jittered(seconds: float) -> timedelta:
    return timedelta(seconds=seconds * random.uniform(1 - JITTER, 1 + JITTER))


def due_sources(now: datetime | None = None):
    now = now or timezone.now()
    return (
        Source.objects.filter(enabled=True, kind__in=WATCHED_KINDS)
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .select_related("workspace", "account__proxy", "account__workspace")
        .order_by("next_poll_at", "pk")
    )


def watched_poll(*, source: Source, now: datetime | None = None) -> int:
    """Fetch what is new on ``source``, store it, make posts of what waits and save the cursor.
    Returns how many posts were made; a failed fetch is recorded (backoff) and re-raised."""
    now = now or timezone.now()
    fetcher = get_fetcher(source.kind)
    account = None
    if fetcher.needs_account:
        if source.account is None:
            error = base.ContentRejected(_("Choose the account this source is read through."))
            poll_failed(source=source, message=error.message, now=now)
            raise error
        account = account_snapshot(source.account)
    request = FetchRequest(
        options=source.options or {}, cursor=source.cursor or {}, account=account, limit=settings.SOURCE_FETCH_LIMIT
    )
    try:
        result = fetcher.fetch_new(request)
    except base.PlatformError as error:
        poll_failed(source=source, message=error.message, retry_after=error.retry_after, now=now)
        raise
    for item in result.items:
        _remember(source, item)
    made = watched_ingest_due(source=source, now=now)
    poll_succeeded(source=source, cursor=result.cursor, now=now)
    return made


def remote_key(remote_id: str) -> str:
    """The stored remote id: as given, or its digest when longer than the column (still one per item)."""
    return remote_id if len(remote_id) <= 255 else "sha256:" + hashlib.sha256(remote_id.encode()).hexdigest()


def _remember(source: Source, item: FetchedItem) -> SourceItem:
    found, _created = SourceItem.objects.get_or_create(
        source=source,
        remote_id=remote_key(item.remote_id),
        defaults={
            "url": item.link[:1000],
            "published_at": item.published_at,
            "text": item.text,
            "media_urls": list(item.media_urls),
            "is_repost": item.is_repost,
            "is_ad": item.is_ad,
        },
    )
    return found


def poll_succeeded(*, source: Source, cursor: dict, now: datetime) -> None:
    """The cursor moves past what is now stored; the source is well again."""
    Source.objects.filter(pk=source.pk).update(
        cursor=cursor,
        last_polled_at=now,
        last_error="",
        failures=0,
        failing=False,
        next_poll_at=now + _jittered(source.poll_interval_s),
    )
    source.cursor, source.failures, source.failing, source.last_error = cursor, 0, False, ""


def poll_failed(*, source: Source, message: str, now: datetime, retry_after: float | None = None) -> None:
    """One more failure in a row: the next poll waits twice as long (at most BACKOFF_CAP, at least
    what the platform asked for); at SOURCE_FAILING_AFTER the source is marked failing and the
    admin chat told — once, as the mark is set under the row lock."""
    with transaction.atomic():
        locked = Source.objects.select_for_update().get(pk=source.pk)
        locked.failures += 1
        delay = min(timedelta(seconds=locked.poll_interval_s * 2 ** min(locked.failures, 16)), BACKOFF_CAP)
        delay = max(delay, timedelta(seconds=retry_after or 0))
        locked.next_poll_at = now + _jittered(delay.total_seconds())
        locked.last_error = message
        locked.last_polled_at = now
        newly_failing = locked.failures >= settings.SOURCE_FAILING_AFTER and not locked.failing
        locked.failing = locked.failing or newly_failing
        locked.save(update_fields=["failures", "next_poll_at", "last_error", "last_polled_at", "failing"])
        if newly_failing:
            _notify_failing(locked)
    source.failures, source.failing, source.last_error, source.next_poll_at = (
        locked.failures,
        locked.failing,
        locked.last_error,
        locked.next_poll_at,
    )


def _notify_failing(source: Source) -> None:
    """Enqueue the admin notification after commit (by name: sources never import publishing)."""
    text = (
        f"Source «{source.name}» ({source.get_kind_display()}, {source.workspace}) failed {source.failures} polls in a row "
        f"and is marked failing; it is still polled, less often. Last error: {source.last_error}"
    )
    send = current_app.tasks["publishing.notification_tasks.send_notification"]

    def enqueue() -> None:
        try:
            send.delay(SOURCE_FAILING, source.workspace_id, reason=text)
        except Exception as exc:  # a broker outage must not surface after the commit
            logger.warning("Could not enqueue the failing-source notification: %s", type(exc).__name__)

    transaction.on_commit(enqueue)


# --- making posts ---------------------------------------------------------------------------------


def watched_ingest_due(*, source: Source, now: datetime | None = None) -> int:
    """Make posts of (or skip) every waiting item of ``source``, oldest first; returns how many posts were made."""
    now = now or timezone.now()
    waiting = list(
        SourceItem.objects.filter(source=source, status=OriginStatus.PENDING).order_by(
            F("published_at").asc(nulls_first=True), "pk"
        )
    )
    if waiting:
        prefetch_related_objects([source], "target_groups", "target_accounts")
    return sum(1 for item in waiting if item_ingest(source=source, item=item, now=now))


def _settle(item: SourceItem, status: str, reason: str) -> None:
    SourceItem.objects.filter(pk=item.pk, status=OriginStatus.PENDING).update(status=status, reason=reason)
    item.status, item.reason = status, reason
    logger.info("Source %s: item %s %s: %s", item.source_id, item.remote_id, status, reason)


def _day_start(source: Source, now: datetime) -> datetime:
    zone = ZoneInfo(source.workspace.timezone or "UTC")
    local = now.astimezone(zone)
    return datetime.combine(local.date(), datetime.min.time(), tzinfo=zone)


def _schedule(source: Source, now: datetime) -> datetime | None:
    """The source's publish window first, then the rules' quiet hours: an item arriving inside
    them is scheduled at their end (in the workspace's time zone)."""
    scheduled = _scheduled_at(source, now)
    quiet = quiet_hours(source.rules or {})
    if quiet is None:
        return scheduled
    start, end = quiet
    # Quiet from start to end is a publish window from end to start.
    return next_opening(source.workspace.timezone, scheduled or now, end, start) or scheduled


def item_ingest(*, source: Source, item: SourceItem, now: datetime | None = None) -> bool:
    """Make ``item`` into a post, or skip it with the rule that said so, or fail it with what went
    wrong (a transient download error leaves it waiting for the next poll, up to
    SOURCE_INGEST_MAX_ATTEMPTS). True when a post was made. Idempotent."""
    now = now or timezone.now()
    if item.status != OriginStatus.PENDING:
        return False
    rules = source.rules or {}
    urls = list(item.media_urls or [])
    reason = rule_skip(rules, text=item.text, has_media=bool(urls), is_repost=item.is_repost, is_ad=item.is_ad)
    cap = rules.get("daily_cap")
    if not reason and cap:
        made_today = SourceItem.objects.filter(
            source=source, status=OriginStatus.MADE, post__created_at__gte=_day_start(source, now)
        ).count()
        if made_today >= cap:
            reason = _("Daily cap %(cap)s reached (daily_cap): skipped, not deferred.") % {"cap": cap}
    if reason:
        _settle(item, OriginStatus.SKIPPED, reason)
        return False
    caption = caption_of(rules, text=item.text, link=item.url, source=source.name)
    if not caption.strip() and not urls:
        _settle(item, OriginStatus.SKIPPED, _("Neither text nor a photo or video: there is nothing to post."))
        return False
    if item.attempts >= settings.SOURCE_INGEST_MAX_ATTEMPTS:
        _settle(
            item,
            OriginStatus.FAILED,
            f"{_('Gave up after %(count)s attempts.') % {'count': item.attempts}} {item.reason}".strip(),
        )
        return False
    # Counted before trying, so even a run killed mid-way counts.
    SourceItem.objects.filter(pk=item.pk).update(attempts=F("attempts") + 1)
    item.attempts += 1
    account = account_snapshot(source.account) if source.account_id else None
    downloads = []
    try:
        for index, url in enumerate(urls[:MAX_MEDIA_PER_POST]):
            downloads.append(
                (download(url, max_bytes=settings.MAX_UPLOAD_SIZE_MB * 1024 * 1024, account=account), file_name(url, index))
            )
    except base.PlatformError as error:
        _close(downloads)
        if error.permanent:
            _settle(item, OriginStatus.FAILED, error.message)
        else:
            SourceItem.objects.filter(pk=item.pk).update(reason=error.message)
            item.reason = error.message
        return False
    try:
        return _commit(source, item, caption, downloads, now)
    except ValidationError as exc:
        _settle(item, OriginStatus.FAILED, "; ".join(exc.messages))
        return False
    finally:
        _close(downloads)


def _commit(source: Source, item: SourceItem, caption: str, downloads: list, now: datetime) -> bool:
    stored: list[MediaAsset] = []
    try:
        with transaction.atomic():
            # The row lock makes the post once when two polls reach the same item together.
            locked = SourceItem.objects.select_for_update().filter(pk=item.pk, status=OriginStatus.PENDING).first()
            if locked is None:
                return False
            post = post_from_source(
                source,
                downloads=downloads,
                stored=stored,
                caption=caption,
                options={},
                ingest_started_at=locked.found_at,
                scheduled_at=_schedule(source, now),
            )
            locked.post, locked.status, locked.reason = post, OriginStatus.MADE, ""
            locked.save(update_fields=["post", "status", "reason"])
    except BaseException:
        _forget_files(stored)
        raise
    item.post, item.status, item.reason = post, OriginStatus.MADE, ""
    return True


def item_retry(*, item: SourceItem) -> bool:
    """A failed or skipped item waits again (after the rules changed, say); the next poll makes it.
    False if it was waiting or made already."""
    updated = SourceItem.objects.filter(pk=item.pk, status__in=(OriginStatus.FAILED, OriginStatus.SKIPPED)).update(
        status=OriginStatus.PENDING, reason="", attempts=0
    )
    if updated:
        Source.objects.filter(pk=item.source_id).update(next_poll_at=timezone.now())
    return bool(updated)
