"""Linking a Telegram account to a member, and what the bot writes about it (sync: the handlers call
these through ``sync_to_async``)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crosspost.activity import log_activity
from crosspost.models import LogStatus
from platforms.http import http_session

from .models import BotLanguage, LinkCode, TelegramLink

logger = logging.getLogger(__name__)

CODE_BYTES = 12  # 16 URL-safe characters: t.me deep links allow [A-Za-z0-9_-], up to 64
USERNAME_CACHE_SECONDS = 24 * 3600
# After a failed getMe the page does without the username this long, instead of waiting on every load.
USERNAME_RETRY_SECONDS = 60


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def link_code_create(*, user, actor=None, now=None) -> tuple[str, LinkCode]:
    """A fresh one-time code for ``user`` (earlier unused codes stop working); ``actor`` is who made
    it when that is not the user (an admin, for a member)."""
    now = now or timezone.now()
    code = secrets.token_urlsafe(CODE_BYTES)
    with transaction.atomic():
        LinkCode.objects.filter(user=user, used_at__isnull=True).update(expires_at=now)
        row = LinkCode.objects.create(
            user=user, code_hash=_hash(code), expires_at=now + timedelta(minutes=settings.BOT_LINK_CODE_MINUTES)
        )
    message = "A Telegram link code was made."
    if actor is not None and actor != user:
        message = f"A Telegram link code was made for {user.get_username()}."
    log_activity(
        action="bot.link_code", actor=actor or user, status=LogStatus.INFO, message=message, details={"user_id": user.pk}
    )
    return code, row


def deep_link(code: str, username: str) -> str:
    return f"https://t.me/{username.lstrip('@')}?start={code}"


def bot_username() -> str:
    """The bot's @username for deep links, without the ``@``: TELEGRAM_BOT_USERNAME, else asked once
    with getMe and kept in the cache (per token, so a new bot is asked again). "" when the bot is not
    configured or Telegram cannot be reached now (the page then shows the ``/start <code>`` way)."""
    if settings.TELEGRAM_BOT_USERNAME:
        return settings.TELEGRAM_BOT_USERNAME.lstrip("@")
    token = settings.TELEGRAM_BOT_TOKEN
    if not token:
        return ""
    key = "bot:username:" + hashlib.sha256(f"{settings.TELEGRAM_API_BASE_URL}|{token}".encode()).hexdigest()[:24]
    username = cache.get(key)
    if username is not None:
        return username  # "" = asked a moment ago and failed
    url = f"{settings.TELEGRAM_API_BASE_URL.rstrip('/')}/bot{token}/getMe"
    try:
        response = http_session().get(url, timeout=5)
        username = (response.json().get("result") or {}).get("username") or ""
    except Exception as exc:  # any failure means "unknown for now", never a broken page
        # The exception's text may carry the URL, and so the token: only its type is logged.
        logger.warning("getMe for the bot's username failed: %s", type(exc).__name__)
        username = ""
    else:
        if not username:
            logger.warning("getMe for the bot's username answered HTTP %s without a username", response.status_code)
    cache.set(key, username, USERNAME_CACHE_SECONDS if username else USERNAME_RETRY_SECONDS)
    return username


@transaction.atomic
def link_redeem(*, code: str, telegram_user_id: int, chat_id: int, username: str = "", language: str = "", now=None):
    """Link the sender to the code's user; ValidationError (in the active language) when the code is
    unknown, used or expired. A Telegram account links one user; linking again moves it."""
    now = now or timezone.now()
    row = LinkCode.objects.select_for_update().select_related("user").filter(code_hash=_hash(code)).first()
    if row is None or row.used_at is not None:
        raise ValidationError(_("This link code is unknown or was already used. Make a new one on the dashboard."))
    if row.expires_at <= now:
        raise ValidationError(_("This link code has expired. Make a new one on the dashboard."))
    if not row.user.is_active:
        raise ValidationError(_("This user is deactivated."))
    row.used_at = now
    row.save(update_fields=["used_at"])
    TelegramLink.objects.filter(telegram_user_id=telegram_user_id).exclude(user=row.user).delete()
    language = language if language in BotLanguage.values else BotLanguage.RU
    try:
        link, _created = TelegramLink.objects.update_or_create(
            user=row.user,
            defaults={"telegram_user_id": telegram_user_id, "chat_id": chat_id, "username": username[:64]},
            create_defaults={
                "telegram_user_id": telegram_user_id,
                "chat_id": chat_id,
                "username": username[:64],
                "language": language,
            },
        )
    except IntegrityError:  # pragma: no cover - the delete above frees the Telegram id
        raise ValidationError(_("This Telegram account is linked to another user.")) from None
    log_activity(
        action="bot.link",
        actor=row.user,
        status=LogStatus.SUCCESS,
        message=f"Telegram account {telegram_user_id} linked.",
        details={"telegram_user_id": telegram_user_id, "username": username},
    )
    return link


def link_for(telegram_user_id: int) -> TelegramLink | None:
    """The active member behind a Telegram user, or None (unlinked or deactivated)."""
    return TelegramLink.objects.select_related("user").filter(telegram_user_id=telegram_user_id, user__is_active=True).first()


def unlink(*, link: TelegramLink, actor=None) -> None:
    user = link.user
    link.delete()
    log_activity(action="bot.unlink", actor=actor or user, status=LogStatus.SUCCESS, message="Telegram account unlinked.")


def bot_action(*, link: TelegramLink, action: str, message: str = "", status: str = LogStatus.INFO, **objects) -> None:
    """Every action taken in the bot lands in the activity log with the member as actor."""
    log_activity(action=f"bot.{action}", actor=link.user, status=status, message=message, **objects)
