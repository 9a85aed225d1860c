"""Linking a Telegram account to a member, and what the bot writes about it (sync: the handlers call
these through ``sync_to_async``)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crosspost.activity import log_activity
from crosspost.models import LogStatus

from .models import BotLanguage, LinkCode, TelegramLink

CODE_BYTES = 12  # 16 URL-safe characters: t.me deep links allow [A-Za-z0-9_-], up to 64


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def link_code_create(*, user, now=None) -> tuple[str, LinkCode]:
    """A fresh one-time code for ``user`` (earlier unused codes stop working)."""
    now = now or timezone.now()
    code = secrets.token_urlsafe(CODE_BYTES)
    with transaction.atomic():
        LinkCode.objects.filter(user=user, used_at__isnull=True).update(expires_at=now)
        row = LinkCode.objects.create(
            user=user, code_hash=_hash(code), expires_at=now + timedelta(minutes=settings.BOT_LINK_CODE_MINUTES)
        )
    log_activity(action="bot.link_code", actor=user, status=LogStatus.INFO, message="A Telegram link code was made.")
    return code, row


def deep_link(code: str, username: str) -> str:
    return f"https://t.me/{username.lstrip('@')}?start={code}"


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
