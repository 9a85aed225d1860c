"""Admin notifications to a Telegram chat: a post finished, an account needs attention, a proxy is down,
a publish the platform cannot confirm.

The ``notify_*`` functions are called from services, often inside a transaction
(``account_set_status`` runs inside the publisher's). They never block on the
network and never raise: when a bot token and a chat are configured they
enqueue ``publishing.notification_tasks.send_notification`` after commit,
and the task builds the text from the rows as they are then and sends it.

Besides the admin chat, the text is announced with the ``notification_built`` signal: the
operators' bot (``bot.receivers``, a floor above, which this module must not import) sends it
to the linked members of the workspace who asked for that kind. Nothing is enqueued when
neither the admin bot with a chat nor the operators' bot is configured.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec
from urllib.parse import urlsplit

import requests
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.dispatch import Signal

from accounts.models import NEEDS_ACTION_STATUSES, AccountStatus, Proxy, SocialAccount, Workspace
from crosspost.logging import redact
from posts.models import ApprovalStatus, Post

from .models import Execution, ExecutionStatus

P = ParamSpec("P")
logger = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 5
MAX_LINKS = 10
TELEGRAM_TEXT_LIMIT = 4096
# The account states an operator must hear about.
PROBLEM_STATUSES = NEEDS_ACTION_STATUSES

POST_FINISHED, ACCOUNT_PROBLEM, PROXY_DOWN = "post_finished", "account_problem", "proxy_down"
UNCONFIRMED = "unconfirmed"
# A watched source keeps failing: sources (a sibling, never imported here) write the text and
# enqueue send_notification by name with the workspace's id.
SOURCE_FAILING = "source_failing"
# Approvals (publishing.approvals): a post waits for the approvers; the approvers decided. Not in
# NOTIFICATION_KINDS — nobody opts in: the bot sends the first to every linked approver (with
# Approve/Reject buttons) and the second to the author (bot.receivers).
APPROVAL_REQUESTED, APPROVAL_DECIDED = "approval_requested", "approval_decided"


# Sent with ``kind``, ``workspace`` (or None) and ``text`` once a notification's text is built; the
# operators' bot forwards it to the members who opted in. Receivers must not raise (send_robust
# swallows it anyway) and should not block for long: the notification task waits for them.
notification_built = Signal()

NOTIFICATION_KINDS = (POST_FINISHED, ACCOUNT_PROBLEM, PROXY_DOWN, UNCONFIRMED, SOURCE_FAILING)


def admin_chat_id(workspace: Workspace | None) -> str:
    """The workspace's own admin chat, else the global one ('' when neither is set)."""
    own = workspace.telegram_admin_chat_id.strip() if workspace is not None else ""
    return own or settings.TELEGRAM_ADMIN_CHAT_ID.strip()


def notifications_enabled(workspace: Workspace | None) -> bool:
    return bool(settings.TELEGRAM_ADMIN_BOT_TOKEN and admin_chat_id(workspace))


def anyone_listens(workspace: Workspace | None) -> bool:
    """Whether a notification has somewhere to go: the admin chat, or the operators' bot (whose
    linked members may have asked for it; the receiver finds out who)."""
    return notifications_enabled(workspace) or bool(settings.TELEGRAM_BOT_TOKEN)


def announce(kind: str, workspace: Workspace | None, text: str, **extra) -> int:
    """Tell the ``notification_built`` receivers (the operators' bot); returns how many members
    they reached. ``extra`` (e.g. ``post_id`` of an approval) goes to them as it is. Never raises."""
    reached = 0
    for _receiver, result in notification_built.send_robust(sender=None, kind=kind, workspace=workspace, text=text, **extra):
        if isinstance(result, Exception):
            logger.warning("A %s notification receiver failed: %s", kind, type(result).__name__)
        elif isinstance(result, int):
            reached += result
    return reached


# --- what callers use: enqueue after commit ------------------------------------------------------


def _never_raises(notify: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(notify)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            notify(*args, **kwargs)
        except Exception as exc:  # a notification never fails the state change that raised it
            logger.warning("Could not prepare the admin notification %s: %s", notify.__name__, type(exc).__name__)

    return wrapped


@_never_raises
def notify_post_finished(post_id: int) -> None:
    """A post reached its final status: report its outcome and links."""
    _enqueue(Workspace.objects.filter(posts__pk=post_id).first(), POST_FINISHED, post_id)


@_never_raises
def notify_account_problem(account: SocialAccount, status: str, reason: str = "") -> None:
    """An account became banned, login_required or proxy_error (other states are not reported)."""
    if status in PROBLEM_STATUSES:
        _enqueue(account.workspace, ACCOUNT_PROBLEM, str(account.pk), status=status, reason=redact(reason))


@_never_raises
def notify_unconfirmed(execution_id: int, workspace_id: int) -> None:
    """An execution stays unconfirmed and the platform cannot look it up: an operator must check."""
    _enqueue(Workspace.objects.filter(pk=workspace_id).first(), UNCONFIRMED, execution_id)


@_never_raises
def notify_proxy_down(proxy: Proxy) -> None:
    _enqueue(proxy.workspace, PROXY_DOWN, proxy.pk)


@_never_raises
def notify_approval_requested(post_id: int) -> None:
    """A post waits for approval: tell the approvers."""
    _enqueue(Workspace.objects.filter(posts__pk=post_id).first(), APPROVAL_REQUESTED, post_id)


@_never_raises
def notify_approval_decided(post_id: int) -> None:
    """An approver approved or rejected a post: tell its author."""
    _enqueue(Workspace.objects.filter(posts__pk=post_id).first(), APPROVAL_DECIDED, post_id)


# Receivers of accounts.signals (connected in PublishingConfig.ready): accounts never imports publishing.


def on_account_status_changed(sender, *, account: SocialAccount, status: str, reason: str = "", **kwargs) -> None:
    notify_account_problem(account, status, reason)


def on_proxy_went_down(sender, *, proxy: Proxy, **kwargs) -> None:
    notify_proxy_down(proxy)


def on_approval_withdrawn(sender, *, post_id: int, **kwargs) -> None:
    """An edit sent an approved post back to waiting (posts.signals): the approvers look again."""
    notify_approval_requested(post_id)


def _enqueue(workspace: Workspace | None, kind: str, object_id, **extra) -> None:
    if not anyone_listens(workspace):
        return
    # By name: the task module imports this one, never the reverse.
    send_notification = current_app.tasks["publishing.notification_tasks.send_notification"]

    def send() -> None:
        try:
            send_notification.delay(kind, object_id, **extra)
        except Exception as exc:  # a broker outage must not surface after the caller's commit
            logger.warning("Could not enqueue the %s admin notification: %s", kind, type(exc).__name__)

    transaction.on_commit(send)


# --- what the task runs: build the text, send it ------------------------------------------------------


def deliver(kind: str, object_id, *, status: str = "", reason: str = "") -> bool:
    """Build the message for one notification from the current rows and send it to the admin chat
    and (through ``announce``) to the members who asked for it; False if nothing was sent."""
    builders: dict[str, Callable[..., tuple[Workspace | None, str] | None]] = {
        POST_FINISHED: post_finished_message,
        ACCOUNT_PROBLEM: lambda pk: account_problem_message(pk, status, reason),
        PROXY_DOWN: proxy_down_message,
        UNCONFIRMED: unconfirmed_message,
        SOURCE_FAILING: lambda pk: workspace_message(pk, reason),
        APPROVAL_REQUESTED: approval_requested_message,
        APPROVAL_DECIDED: approval_decided_message,
    }
    built = builders[kind](object_id)
    if built is None:  # the object was deleted meanwhile
        return False
    workspace, text = built
    sent = send_admin_message(text, chat_id=admin_chat_id(workspace))
    extra = {"post_id": object_id} if kind in (APPROVAL_REQUESTED, APPROVAL_DECIDED) else {}
    return announce(kind, workspace, text, **extra) > 0 or sent


def post_finished_message(post_id: int) -> tuple[Workspace, str] | None:
    post = Post.objects.select_related("workspace").filter(pk=post_id).first()
    if post is None:
        return None
    executions = Execution.objects.filter(post_id=post_id)
    counts = executions.aggregate(
        total=Count("pk"),
        success=Count("pk", filter=Q(status=ExecutionStatus.SUCCESS)),
        failed=Count("pk", filter=Q(status=ExecutionStatus.FAILED)),
        blocked=Count("pk", filter=Q(status=ExecutionStatus.BLOCKED)),
    )
    links = list(
        executions.filter(status=ExecutionStatus.SUCCESS)
        .exclude(remote_url="")
        .select_related("account")
        .order_by("finished_at", "pk")[:MAX_LINKS]
    )
    lines = [
        f"Post #{post.pk} «{post}» finished: {post.status}",
        f"Published {counts['success']} of {counts['total']}, failed {counts['failed']}"
        + (f", blocked {counts['blocked']}." if counts["blocked"] else "."),
    ]
    lines += [f"• {e.account}: {e.remote_url}" for e in links]
    if counts["success"] > MAX_LINKS:
        lines.append(f"…and {counts['success'] - MAX_LINKS} more.")
    # What did not go out, and why: the operator should not have to open the post to know.
    missed = list(
        executions.filter(status__in=(ExecutionStatus.FAILED, ExecutionStatus.BLOCKED))
        .select_related("account")
        .order_by("account__platform", "account__handle", "pk")[:MAX_LINKS]
    )
    for execution in missed:
        reason = redact(": ".join(part for part in (execution.error_code, execution.error_message) if part))
        lines.append(f"✗ {execution.account} ({execution.get_status_display()}): {reason[:160] or '—'}")
    if counts["failed"] + counts["blocked"] > MAX_LINKS:
        lines.append(f"…and {counts['failed'] + counts['blocked'] - MAX_LINKS} more not published.")
    return post.workspace, "\n".join(lines)


def approval_requested_message(post_id: int) -> tuple[Workspace, str] | None:
    post = Post.objects.select_related("workspace", "author").filter(pk=post_id).first()
    if post is None or post.approval_status != ApprovalStatus.PENDING:  # decided meanwhile: nothing to ask
        return None
    author = post.author.get_username() if post.author else "a source"
    lines = [
        f"Post #{post.pk} «{post}» ({post.workspace}) waits for approval; by {author}.",
        "Approve or reject it on its page, in the admin, the API or the bot.",
    ]
    if post.caption:
        lines.append(redact(post.caption[:500]))
    return post.workspace, "\n".join(lines)


def approval_decided_message(post_id: int) -> tuple[Workspace, str] | None:
    post = Post.objects.select_related("workspace", "approval_by").filter(pk=post_id).first()
    if post is None or post.approval_status not in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
        return None
    who = post.approval_by.get_username() if post.approval_by else "an approver"
    lines = [f"Post #{post.pk} «{post}» ({post.workspace}) was {post.approval_status} by {who}."]
    if post.approval_comment:
        lines.append(f"Comment: {redact(post.approval_comment)}")
    if post.approval_status == ApprovalStatus.REJECTED:
        lines.append("Change it and submit it again.")
    return post.workspace, "\n".join(lines)


def workspace_message(workspace_id: int, text: str) -> tuple[Workspace, str] | None:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    return (workspace, redact(text)) if workspace is not None and text else None


def unconfirmed_message(execution_id: int) -> tuple[Workspace, str] | None:
    execution = Execution.objects.select_related("post__workspace", "account").filter(pk=execution_id).first()
    if execution is None or execution.status != ExecutionStatus.UNCONFIRMED:
        return None  # settled meanwhile
    post = execution.post
    lines = [
        f"Post #{post.pk} «{post}» needs attention: {execution.account} could not confirm the publish.",
        "The platform offers no way to look it up. Check the account on the platform, then on the post's page "
        "mark it published or retry it.",
    ]
    if execution.error_message:
        lines.append(f"Reason: {redact(execution.error_message)}")
    return post.workspace, "\n".join(lines)


def account_problem_message(account_id: str, status: str, reason: str) -> tuple[Workspace, str] | None:
    account = SocialAccount.objects.select_related("workspace", "proxy").filter(pk=account_id).first()
    if account is None:
        return None
    action = {
        AccountStatus.BANNED: "The platform banned it; it will not publish.",
        AccountStatus.LOGIN_REQUIRED: "Log it in again (password, challenge or 2FA).",
        AccountStatus.PROXY_ERROR: "Its proxy fails and no free healthy proxy was left: add or fix proxies.",
        AccountStatus.NO_ACCESS: "It may no longer post there (e.g. the bot was removed from the channel): give the right back.",
    }[status]
    lines = [f"Account {account} ({account.workspace}) is {AccountStatus(status).label.lower()}.", action]
    if reason:
        lines.append(f"Reason: {reason}")
    if status == AccountStatus.PROXY_ERROR and account.proxy_id:
        lines.append(f"Proxy: {account.proxy.display_url}")
    return account.workspace, "\n".join(lines)


def proxy_down_message(proxy_id: int) -> tuple[Workspace, str] | None:
    proxy = Proxy.objects.select_related("workspace").filter(pk=proxy_id).first()
    if proxy is None:
        return None
    users = proxy.accounts.count()
    lines = [f"Proxy {proxy.display_url} ({proxy.workspace}) is down.", f"Accounts using it: {users}."]
    if proxy.last_error:
        lines.append(f"Error: {_without_secrets(proxy.last_error, urlsplit(proxy.url).password or '')}")
    return proxy.workspace, "\n".join(lines)


def send_admin_message(text: str, *, chat_id: str) -> bool:
    """POST sendMessage to the admin bot; True when Telegram accepted it. Never raises."""
    return send_bot_message(settings.TELEGRAM_ADMIN_BOT_TOKEN, chat_id, text, what="Telegram admin notification")


def send_bot_message(token: str, chat_id, text: str, *, what: str, reply_markup: dict | None = None) -> bool:
    """POST sendMessage as one of our own bots (the admin bot, the operators' bot); True when
    Telegram accepted it. Never raises, and the token (part of the URL) never reaches a log line."""
    if not token or not chat_id:
        return False
    url = f"{settings.TELEGRAM_API_BASE_URL.rstrip('/')}/bot{token}/sendMessage"
    payload = {"chat_id": chat_id, "text": text[:TELEGRAM_TEXT_LIMIT], "disable_web_page_preview": True}
    if reply_markup is not None:
        payload["reply_markup"] = reply_markup
    try:
        # Plain requests, no proxy: this is our own bot, not a managed account.
        response = requests.post(url, json=payload, timeout=SEND_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        logger.warning("%s failed: %s", what, _without_secrets(f"{type(exc).__name__}: {exc}", token))
        return False
    if response.status_code != 200:
        description = ""
        try:
            description = str(response.json().get("description", ""))
        except ValueError:
            pass
        logger.warning("%s refused: HTTP %s %s", what, response.status_code, _without_secrets(description, token))
        return False
    return True


def _without_secrets(text: str, *secrets: str) -> str:
    """Redact known secret shapes, and these exact secrets wherever they appear."""
    text = redact(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text
