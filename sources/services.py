"""Ingest: updates from a source's bot become draft posts, exactly once.

An update is stored first (``IngestItem``, unique per source and message), then made into a post
(``IngestRecord``, unique per source and message or album, created in the same transaction as the
post). Album parts wait SOURCE_ALBUM_WINDOW_SECONDS after the last one arrived. Files are
downloaded before the transaction; a crash anywhere leaves the items pending and the next run makes
the post — the polling offset advances only after that, so nothing is lost and nothing doubled.
"""

import logging
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from crosspost.models import WebhookEvent
from crosspost.webhooks import emit
from media.models import MediaAsset
from media.services import media_upload
from platforms import base
from platforms.telegram_ingest import FileTooBig, IngestBot, Update, parse_update
from posts.models import MAX_MEDIA_PER_POST, MediaType, Post, PostStatus
from posts.pipeline import pipeline_open
from posts.services import post_create, post_update
from products.references import find_references

from .models import Delivery, IngestItem, IngestRecord, ItemStatus, Source, SourceKind

logger = logging.getLogger(__name__)

CHANNEL_POST, EDITED_CHANNEL_POST = "channel_post", "edited_channel_post"


def _window() -> timedelta:
    return timedelta(seconds=getattr(settings, "SOURCE_ALBUM_WINDOW_SECONDS", 3))


def _chat_matches(source: Source, message: dict) -> bool:
    chat_id = (message.get("chat") or {}).get("id")
    return str(chat_id) == str((source.options or {}).get("chat_id", "")).strip()


# --- receiving ------------------------------------------------------------------------------------


def update_receive(*, source: Source, update: Update | dict) -> IngestItem | None:
    """Store a ``channel_post`` (once per message) or apply an ``edited_channel_post``.

    Anything else, or a post from another chat than the source's, is ignored (None).
    """
    if isinstance(update, dict):
        update = parse_update(update)
    if update is None or update.kind not in (CHANNEL_POST, EDITED_CHANNEL_POST):
        return None
    message = update.message
    if not isinstance(message.get("message_id"), int) or not _chat_matches(source, message):
        return None
    chat_id, message_id = int(message["chat"]["id"]), message["message_id"]
    if update.kind == EDITED_CHANNEL_POST:
        with transaction.atomic():
            item = IngestItem.objects.select_for_update().filter(source=source, chat_id=chat_id, message_id=message_id).first()
            if item is None:
                return None  # an edit of a message from before the source existed: not a new post
            item.message = message  # the whole new version: a removed caption is gone from it
            item.save(update_fields=["message"])
            _apply_edit(source, item)
        return item
    with transaction.atomic():
        item, _created = IngestItem.objects.get_or_create(
            source=source,
            chat_id=chat_id,
            message_id=message_id,
            defaults={
                "update_id": update.update_id,
                "media_group_id": str(message.get("media_group_id") or "")[:64],
                "message": message,
            },
        )
    return item


def _apply_edit(source: Source, item: IngestItem) -> None:
    """An edited caption reaches the post while it is still a draft."""
    record = IngestRecord.objects.filter(source=source, chat_id=item.chat_id, key=item.key).select_related("post").first()
    if record is None or record.post is None or record.post.status != PostStatus.DRAFT:
        return
    items = IngestItem.objects.filter(source=source, chat_id=item.chat_id)
    items = items.filter(media_group_id=item.media_group_id) if item.media_group_id else items.filter(pk=item.pk)
    caption = _caption(list(items.order_by("message_id")))
    if caption != record.post.caption:
        try:
            post_update(post=record.post, caption=caption)
        except ValidationError as exc:
            logger.info("Source %s: the edit of message %s was not applied: %s", source.pk, item.message_id, exc)


# --- making posts ---------------------------------------------------------------------------------


def _caption(items: list[IngestItem]) -> str:
    """The album's captioned message's caption (or a text message's text)."""
    for item in items:
        text = item.message.get("caption") or item.message.get("text")
        if text:
            return str(text)
    return ""


def _product_option(items: list[IngestItem]) -> dict | None:
    """The first marketplace product the messages name — in their text, or behind a ``text_link``
    entity — as ``Post.options["product"]``; None when they name none."""
    texts, links = [], []
    for item in items:
        message = item.message
        texts.append(str(message.get("caption") or message.get("text") or ""))
        for entity in [*(message.get("caption_entities") or []), *(message.get("entities") or [])]:
            if isinstance(entity, dict) and entity.get("type") == "text_link" and entity.get("url"):
                links.append(str(entity["url"]))
    references = find_references("\n".join(texts), links=links)
    return references[0].as_option() if references else None


def _file_of(message: dict) -> tuple[str, str] | None:
    """(file_id, a file name) of the message's photo (largest size), video or media document."""
    if message.get("photo"):
        sizes = [size for size in message["photo"] if isinstance(size, dict) and size.get("file_id")]
        if sizes:
            best = max(sizes, key=lambda size: (size.get("width") or 0) * (size.get("height") or 0))
            return best["file_id"], f"photo-{message['message_id']}.jpg"
    for field in ("video", "animation", "document"):
        media = message.get(field)
        if isinstance(media, dict) and media.get("file_id"):
            if field == "document" and not str(media.get("mime_type", "")).startswith(("image/", "video/")):
                continue
            return media["file_id"], media.get("file_name") or f"{field}-{message['message_id']}"
    return None


def _scheduled_at(source: Source, now: datetime) -> datetime | None:
    """None (as soon as possible) inside the source's window, else the window's next opening."""
    if source.window_start is None or source.window_end is None:
        return None
    return next_opening(source.workspace.timezone, now, source.window_start, source.window_end)


def next_opening(timezone_name: str, now: datetime, start, end) -> datetime | None:
    """None when ``now`` is inside the daily window [start, end) (which may span midnight) in the
    time zone, else the window's next opening."""
    zone = ZoneInfo(timezone_name or "UTC")
    local = now.astimezone(zone)
    clock = local.time()
    inside = start <= clock < end if start <= end else (clock >= start or clock < end)
    if inside:
        return None
    day = local.date() if clock < start else local.date() + timedelta(days=1)
    return datetime.combine(day, start, tzinfo=zone)


def _fail(source: Source, items: list[IngestItem], key: str, message: str) -> None:
    with transaction.atomic():
        IngestRecord.objects.get_or_create(
            source=source, chat_id=items[0].chat_id, key=key, defaults={"status": ItemStatus.FAILED, "error": message}
        )
        IngestItem.objects.filter(pk__in=[i.pk for i in items]).update(status=ItemStatus.FAILED, error=message)
    logger.warning("Source %s: %s could not be ingested: %s", source.pk, key, message)


def items_ingest(*, source: Source, items: list[IngestItem]) -> IngestRecord | None:
    """Make one draft post of ``items`` (one message, or one album's parts). Idempotent."""
    items = sorted(items, key=lambda i: i.message_id)
    key, chat_id = items[0].key, items[0].chat_id
    done = IngestRecord.objects.filter(source=source, chat_id=chat_id, key=key).first()
    if done is not None:
        IngestItem.objects.filter(pk__in=[i.pk for i in items], status=ItemStatus.PENDING).update(status=done.status)
        return done
    files = [found for found in map(lambda i: _file_of(i.message), items) if found]
    if not files and not _caption(items).strip():
        _fail(source, items, key, _("The message has neither text nor a photo or video: there is nothing to post."))
        return None
    if len(files) > MAX_MEDIA_PER_POST:
        _fail(
            source,
            items,
            key,
            _("The album has %(count)s files; a post carries at most %(max)s.")
            % {"count": len(files), "max": MAX_MEDIA_PER_POST},
        )
        return None
    pks = [i.pk for i in items]
    # Counted before trying, so even a run killed mid-way counts: a message that can never be made
    # (a file Telegram keeps failing to serve) is recorded as failed instead of holding up the source.
    attempts = max(i.attempts for i in items)
    if attempts >= settings.SOURCE_INGEST_MAX_ATTEMPTS:
        last = next((i.error for i in items if i.error), "")
        reason = _("Gave up after %(count)s attempts.") % {"count": attempts}
        _fail(source, items, key, f"{reason} {last}".strip())
        return None
    IngestItem.objects.filter(pk__in=pks).update(attempts=F("attempts") + 1)
    bot = IngestBot(source.bot_token)
    downloads = []
    try:
        for file_id, name in files:
            info = bot.get_file(file_id)
            if info.file_size and info.file_size > settings.MAX_UPLOAD_SIZE_MB * 1024 * 1024:
                message = _("A file is %(size).1f MB; Crosspost stores files of up to %(limit)s MB (MAX_UPLOAD_SIZE_MB).") % {
                    "size": info.file_size / 1048576,
                    "limit": settings.MAX_UPLOAD_SIZE_MB,
                }
                _fail(source, items, key, message)
                _close(downloads)
                return None
            downloads.append((bot.download(info), name))
    except FileTooBig as error:
        _close(downloads)
        _fail(source, items, key, error.message)
        return None
    except base.PlatformError as error:
        _close(downloads)
        if error.permanent:
            _fail(source, items, key, _("Telegram refused the file: %(error)s") % {"error": error.message})
            return None
        IngestItem.objects.filter(pk__in=pks).update(error=error.message)
        raise
    try:
        return _commit(source, items, key, downloads)
    except ValidationError as exc:
        _fail(source, items, key, "; ".join(exc.messages))
        return None
    except Exception as exc:
        IngestItem.objects.filter(pk__in=pks).update(
            error=_("The last attempt failed: %(error)s") % {"error": type(exc).__name__}
        )
        raise
    finally:
        _close(downloads)


def _close(downloads: list) -> None:
    for spool, _name in downloads:
        spool.close()


def _commit(source: Source, items: list[IngestItem], key: str, downloads: list) -> IngestRecord | None:
    stored: list[MediaAsset] = []  # assets this attempt created: their files go if it rolls back
    try:
        with transaction.atomic():
            record = IngestRecord.objects.create(source=source, chat_id=items[0].chat_id, key=key, status=ItemStatus.DONE)
            post = post_from_source(
                source,
                downloads=downloads,
                stored=stored,
                caption=_caption(items),
                options={"product": product} if (product := _product_option(items)) else {},
                ingest_started_at=min(i.received_at for i in items),
            )
            record.post = post
            record.save(update_fields=["post"])
            IngestItem.objects.filter(pk__in=[i.pk for i in items]).update(status=ItemStatus.DONE, error="")
    except IntegrityError:
        # Another run made this post at the same moment: its record stands.
        _forget_files(stored)
        return IngestRecord.objects.filter(source=source, chat_id=items[0].chat_id, key=key).first()
    except BaseException:
        _forget_files(stored)
        raise
    return record


def post_from_source(
    source: Source,
    *,
    downloads: list,
    stored: list[MediaAsset],
    caption: str,
    options: dict,
    ingest_started_at: datetime,
    scheduled_at: datetime | None = None,
) -> Post:
    """A post of what a source received, made as the source says (targets, language, caption
    mode, priority, schedule window), inside the caller's transaction.

    ``downloads`` — (spooled file, name) pairs in order — are stored as the post's media, checked
    as uploads are; the assets this call created are appended to ``stored`` so the caller can
    delete their files when its transaction rolls back. The ingest stage is recorded and the
    pipeline's next stage starts after commit."""
    now = timezone.now()
    assets = []
    for spool, name in downloads:
        spool.seek(0, 2)
        size = spool.tell()
        spool.seek(0)
        asset, created = media_upload(workspace=source.workspace, file=UploadedFile(spool, name=name, size=size))
        assets.append(asset)
        if created:
            stored.append(asset)
    kinds = [asset.kind for asset in assets]
    media_type = (
        MediaType.TEXT
        if not assets
        else MediaType.CAROUSEL
        if len(assets) > 1
        else (MediaType.PHOTO if kinds[0] == "image" else MediaType.VIDEO)
    )
    post = post_create(
        workspace=source.workspace,
        # Prefetched once per run by the caller, not read again for every post.
        target_groups=list(source.target_groups.all()),
        target_accounts=list(source.target_accounts.all()),
        media=assets,
        title=_("From %(source)s") % {"source": source.name},
        caption=caption,
        language=source.language,
        media_type=media_type,
        caption_mode=source.caption_mode,
        caption_template=source.caption_template,
        priority=source.priority,
        scheduled_at=scheduled_at if scheduled_at is not None else _scheduled_at(source, now),
        options=options,
    )
    # Ingest took from the item's arrival to this commit; the pipeline's next stages run in
    # publishing (started by name: sources know no publishing), which also decides whether the
    # post waits for review (IngestMode.DRAFT) or publishes at once.
    pipeline_open(post=post, ingest_started_at=ingest_started_at)
    emit(
        WebhookEvent.SOURCE_ITEM_CREATED,
        workspace_id=source.workspace_id,
        payload={
            "source": source.pk,
            "source_kind": source.kind,
            "source_name": source.name,
            "post": post.pk,
            "post_status": post.status,
            "media": len(assets),
        },
    )
    enrich = current_app.tasks["publishing.pipeline_tasks.enrich"]
    transaction.on_commit(lambda: enrich.delay(post.pk))
    return post


def _forget_files(assets: list[MediaAsset]) -> None:
    """Delete the stored files of assets whose rows were rolled back (the next run stores them again)."""
    for asset in assets:
        if not MediaAsset.objects.filter(pk=asset.pk).exists():
            asset.file.delete(save=False)


def record_retry(*, record: IngestRecord) -> bool:
    """Try a failed message or album again (say after TELEGRAM_API_BASE_URL now points at a local
    Bot API server): its items wait again and the next run makes the post. False if it had not failed."""
    with transaction.atomic():
        locked = IngestRecord.objects.select_for_update().filter(pk=record.pk, status=ItemStatus.FAILED).first()
        if locked is None:
            return False
        items = IngestItem.objects.filter(source_id=locked.source_id, chat_id=locked.chat_id)
        kind, _sep, value = locked.key.partition(":")
        items = items.filter(media_group_id=value) if kind == "group" else items.filter(message_id=value)
        items.update(status=ItemStatus.PENDING, error="")
        locked.delete()
        task = current_app.tasks["sources.tasks.ingest_source"]
        transaction.on_commit(lambda: task.delay(locked.source_id))
    return True


def source_ingest_due(*, source: Source, now: datetime | None = None) -> int:
    """Make posts of every pending message, and of every album whose last part is older than the window."""
    now = now or timezone.now()
    pending = list(IngestItem.objects.filter(source=source, status=ItemStatus.PENDING).order_by("chat_id", "message_id"))
    groups: dict[tuple[int, str], list[IngestItem]] = {}
    for item in pending:
        groups.setdefault((item.chat_id, item.key), []).append(item)
    made = 0
    if groups:
        prefetch_related_objects([source], "target_groups", "target_accounts")
    for (_chat, key), items in groups.items():
        if key.startswith("group:") and max(i.received_at for i in items) > now - _window():
            continue  # more parts may still arrive
        if items_ingest(source=source, items=items) is not None:
            made += 1
    return made


# --- settings -------------------------------------------------------------------------------------


@transaction.atomic
def source_save(*, source: Source, bot_token: str = "", target_groups=None, target_accounts=None) -> Source:
    """Create or change ``source`` as its fields are set, checked by ``Source.clean``. A new
    ``bot_token`` replaces the stored one; an empty one keeps it (a new source needs one).
    ``target_groups``/``target_accounts`` (None: unchanged) must be in the source's workspace."""
    token = (bot_token or "").strip()
    if token:
        source.secret = {**(source.secret or {}), "bot_token": token}
    elif source.secret is None:
        source.secret = {}
    errors = {}
    if source.kind == SourceKind.TELEGRAM and not source.bot_token:
        errors["bot_token"] = _("Give the bot's token.")
    for field, objects in (("target_groups", target_groups), ("target_accounts", target_accounts)):
        strangers = [str(obj) for obj in objects or [] if obj.workspace_id != source.workspace_id]
        if strangers:
            errors[field] = _("Not in workspace %(workspace)s: %(names)s.") % {
                "workspace": source.workspace,
                "names": ", ".join(strangers),
            }
    try:
        source.full_clean()
    except ValidationError as exc:
        errors = {**exc.message_dict, **errors}
    if errors:
        raise ValidationError(errors)
    source.save()
    if target_groups is not None:
        source.target_groups.set(target_groups)
    if target_accounts is not None:
        source.target_accounts.set(target_accounts)
    return source


def source_set_enabled(*, source: Source, enabled: bool) -> Source:
    """Switch ingest on or off; a disabled source is neither polled nor takes webhook updates."""
    Source.objects.filter(pk=source.pk).update(enabled=enabled)
    source.enabled = enabled
    return source


# --- polling and webhooks -------------------------------------------------------------------------


def source_poll(*, source: Source, limit: int = 100, timeout: int = 0, now: datetime | None = None) -> int:
    """One getUpdates round. Each update is stored and (unless an album part) made into a post
    before the stored offset moves past it; returns how many updates were handled."""
    bot = IngestBot(source.bot_token)
    try:
        updates = bot.get_updates(offset=source.update_offset or None, limit=limit, timeout=timeout)
    except base.PlatformError as error:
        message = error.message
        if (error.raw or {}).get("error_code") == 409:
            message = _(
                "Telegram refuses getUpdates while a webhook is set for this bot (or another process polls it): "
                "switch the source to polling, which deletes the webhook, or to webhook delivery."
            )
        Source.objects.filter(pk=source.pk).update(last_error=message, last_polled_at=timezone.now())
        raise
    try:
        for update in updates:
            item = update_receive(source=source, update=update)
            if item is not None and not item.media_group_id and item.status == ItemStatus.PENDING:
                items_ingest(source=source, items=[item])
            source.update_offset = update.update_id + 1
            # Only forward: a slower run finishing after a faster one never moves it back.
            Source.objects.filter(pk=source.pk, update_offset__lt=source.update_offset).update(update_offset=source.update_offset)
        source_ingest_due(source=source, now=now)
    except base.PlatformError as error:
        # Shown on the source; the message waits (the offset did not move past it) and is tried again.
        Source.objects.filter(pk=source.pk).update(last_error=error.message, last_polled_at=timezone.now())
        raise
    Source.objects.filter(pk=source.pk).update(last_polled_at=timezone.now(), last_error="")
    return len(updates)


def webhook_secret_matches(source: Source, given: str | None) -> bool:
    expected = source.webhook_secret or ""
    return bool(expected) and secrets.compare_digest(expected.encode(), (given or "").encode())


def webhook_receive(*, source: Source, payload) -> IngestItem | None:
    """A webhook's update: stored now, made into a post right after (albums: after the window)."""
    item = update_receive(source=source, update=payload)
    if item is not None and item.status == ItemStatus.PENDING:
        task = current_app.tasks["sources.tasks.ingest_source"]
        countdown = _window().total_seconds() + 1 if item.media_group_id else 0
        transaction.on_commit(lambda: task.apply_async((source.pk,), countdown=countdown))
    return item


def webhook_connect(*, source: Source, url: str) -> Source:
    """setWebhook with a fresh secret token; polling stops for this source."""
    secret = secrets.token_urlsafe(48)
    IngestBot(source.bot_token).set_webhook(url, secret)
    source.webhook_secret = secret
    source.delivery = Delivery.WEBHOOK
    source.last_error = ""
    source.save(update_fields=["webhook_secret", "delivery", "last_error"])
    return source


def webhook_disconnect(*, source: Source) -> Source:
    """deleteWebhook and go back to polling."""
    IngestBot(source.bot_token).delete_webhook()
    source.webhook_secret = ""
    source.delivery = Delivery.POLLING
    source.save(update_fields=["webhook_secret", "delivery"])
    return source
