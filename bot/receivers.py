"""Signal receivers: the notifications publishing builds reach the linked members who asked for them.

publishing (a floor below) must not import the bot, so it sends ``notification_built`` with the
text it made for the admin chat; this receiver forwards that text, as it is (English, like the
admin chat's), to every linked member of the workspace — an active user with a membership there —
whose ``TelegramLink.notify`` has the kind. It runs in the notification task, never in a request.

Approvals are not opted into: a post waiting for approval goes to every linked approver who may
act on it in the bot's Review (an editor or above; not its author, unless admin or owner), with
the Review's Approve and Reject buttons; a decision goes to the post's author.
"""

from __future__ import annotations

from django.conf import settings
from django.dispatch import receiver

from accounts.models import Role
from accounts.selectors import has_role
from posts.models import Post
from publishing.approvals import approvers_of, may_approve
from publishing.notifications import APPROVAL_DECIDED, APPROVAL_REQUESTED, notification_built, send_bot_message

from .models import TelegramLink


def links_wanting(kind: str, workspace) -> list[TelegramLink]:
    """The linked, active members of ``workspace`` who asked for ``kind`` (SQLite cannot look
    inside a JSON list, so the kinds are checked here; a workspace has few linked members)."""
    if workspace is None:
        return []
    links = TelegramLink.objects.filter(user__is_active=True, user__memberships__workspace=workspace).distinct()
    return [link for link in links.order_by("pk") if kind in (link.notify or [])]


def send_member_message(chat_id: int, text: str, reply_markup: dict | None = None) -> bool:
    """sendMessage as the operators' bot; True when Telegram took it. Never raises."""
    return send_bot_message(
        settings.TELEGRAM_BOT_TOKEN, chat_id, text, what=f"Member notification to chat {chat_id}", reply_markup=reply_markup
    )


def approver_links(post: Post) -> list[TelegramLink]:
    """The linked approvers who can approve ``post`` in the bot's Review."""
    links = TelegramLink.objects.filter(user__in=approvers_of(post.workspace_id)).select_related("user").order_by("pk")
    return [
        link
        for link in links
        if has_role(link.user, post.workspace_id, Role.EDITOR)
        and may_approve(link.user, post.workspace_id)
        and (link.user.pk != post.author_id or has_role(link.user, post.workspace_id, Role.ADMIN))
    ]


def approval_buttons(post_id: int) -> dict:
    """The Review's Approve and Reject buttons (bot.handlers.review.ReviewAct's callback data)."""
    from .handlers.review import ReviewAct  # the handlers load aiogram's routers: only when a message goes out

    def button(text: str, act: str) -> dict:
        return {"text": text, "callback_data": ReviewAct(id=post_id, act=act).pack()}

    return {"inline_keyboard": [[button("✅ Approve and publish", "approve"), button("✖ Reject", "reject")]]}


@receiver(notification_built, dispatch_uid="bot.notify_approvals")
def notify_approvals(sender, *, kind: str, workspace, text: str, post_id: int | None = None, **kwargs) -> int:
    """A post waits for approval: its approvers, with buttons; a decision: its author."""
    if kind not in (APPROVAL_REQUESTED, APPROVAL_DECIDED) or not settings.TELEGRAM_BOT_TOKEN or post_id is None:
        return 0
    post = Post.objects.filter(pk=post_id).first()
    if post is None:
        return 0
    if kind == APPROVAL_REQUESTED:
        markup = approval_buttons(post.pk)
        return sum(send_member_message(link.chat_id, text, markup) for link in approver_links(post))
    author = TelegramLink.objects.filter(user_id=post.author_id, user__is_active=True).first()
    return int(author is not None and send_member_message(author.chat_id, text))


@receiver(notification_built, dispatch_uid="bot.notify_members")
def notify_members(sender, *, kind: str, workspace, text: str, **kwargs) -> int:
    """Send ``text`` to every member who wants ``kind``; returns how many Telegram accepted."""
    if not settings.TELEGRAM_BOT_TOKEN:
        return 0
    return sum(send_member_message(link.chat_id, text) for link in links_wanting(kind, workspace))
