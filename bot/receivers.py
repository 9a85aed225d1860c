"""Signal receivers: the notifications publishing builds reach the linked members who asked for them.

publishing (a floor below) must not import the bot, so it sends ``notification_built`` with the
text it made for the admin chat; this receiver forwards that text, as it is (English, like the
admin chat's), to every linked member of the workspace — an active user with a membership there —
whose ``TelegramLink.notify`` has the kind. It runs in the notification task, never in a request.
"""

from __future__ import annotations

from django.conf import settings
from django.dispatch import receiver

from publishing.notifications import notification_built, send_bot_message

from .models import TelegramLink


def links_wanting(kind: str, workspace) -> list[TelegramLink]:
    """The linked, active members of ``workspace`` who asked for ``kind`` (SQLite cannot look
    inside a JSON list, so the kinds are checked here; a workspace has few linked members)."""
    if workspace is None:
        return []
    links = TelegramLink.objects.filter(user__is_active=True, user__memberships__workspace=workspace).distinct()
    return [link for link in links.order_by("pk") if kind in (link.notify or [])]


def send_member_message(chat_id: int, text: str) -> bool:
    """sendMessage as the operators' bot; True when Telegram took it. Never raises."""
    return send_bot_message(settings.TELEGRAM_BOT_TOKEN, chat_id, text, what=f"Member notification to chat {chat_id}")


@receiver(notification_built, dispatch_uid="bot.notify_members")
def notify_members(sender, *, kind: str, workspace, text: str, **kwargs) -> int:
    """Send ``text`` to every member who wants ``kind``; returns how many Telegram accepted."""
    if not settings.TELEGRAM_BOT_TOKEN:
        return 0
    return sum(send_member_message(link.chat_id, text) for link in links_wanting(kind, workspace))
