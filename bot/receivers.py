"""Signal receivers: the notifications publishing builds reach the linked members who asked for them.

publishing (a floor below) must not import the bot, so it sends ``notification_built`` with the
text it made for the admin chat; this receiver forwards that text, as it is (English, like the
admin chat's), to every linked member of the workspace — an active user with a membership there —
whose ``TelegramLink.notify`` has the kind. It runs in the notification task, never in a request.
"""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.dispatch import receiver

from crosspost.logging import redact
from publishing.notifications import TELEGRAM_TEXT_LIMIT, notification_built

from .models import TelegramLink

logger = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 5


def links_wanting(kind: str, workspace) -> list[TelegramLink]:
    """The linked, active members of ``workspace`` who asked for ``kind`` (SQLite cannot look
    inside a JSON list, so the kinds are checked here; a workspace has few linked members)."""
    if workspace is None:
        return []
    links = TelegramLink.objects.filter(user__is_active=True, user__memberships__workspace=workspace).distinct()
    return [link for link in links.order_by("pk") if kind in (link.notify or [])]


def send_member_message(chat_id: int, text: str) -> bool:
    """POST sendMessage as the operators' bot; True when Telegram took it. Never raises, and the
    token (part of the URL) never reaches a log line."""
    token = settings.TELEGRAM_BOT_TOKEN
    if not token:
        return False
    url = f"{settings.TELEGRAM_API_BASE_URL.rstrip('/')}/bot{token}/sendMessage"
    payload = {"chat_id": chat_id, "text": text[:TELEGRAM_TEXT_LIMIT], "disable_web_page_preview": True}
    try:
        response = requests.post(url, json=payload, timeout=SEND_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        logger.warning("Member notification to chat %s failed: %s", chat_id, type(exc).__name__)
        return False
    if response.status_code != 200:
        try:
            description = str(response.json().get("description", ""))
        except ValueError:
            description = ""
        logger.warning(
            "Member notification to chat %s refused: HTTP %s %s",
            chat_id,
            response.status_code,
            redact(description).replace(token, "<redacted>"),
        )
        return False
    return True


@receiver(notification_built, dispatch_uid="bot.notify_members")
def notify_members(sender, *, kind: str, workspace, text: str, **kwargs) -> int:
    """Send ``text`` to every member who wants ``kind``; returns how many Telegram accepted."""
    if not settings.TELEGRAM_BOT_TOKEN:
        return 0
    return sum(send_member_message(link.chat_id, text) for link in links_wanting(kind, workspace))
