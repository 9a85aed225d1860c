"""Posts & history: the member's posts newest first, a page at a time with a status filter, and a
post's card — progress, per-platform counts, what failed or was blocked and why — with Refresh,
Retry failed and Cancel (with a confirm step) for editors, exactly as on the dashboard's post page."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Platform, Role
from accounts.selectors import scope
from crosspost.logging import redact
from crosspost.models import LogStatus
from dashboard import selectors
from dashboard.selectors import Access
from posts.models import Post, PostStatus
from publishing.models import Execution, ExecutionStatus
from publishing.services import FINISHED_POST_STATUSES, executions_retry, post_cancel

from ..models import TelegramLink
from ..services import bot_action
from ..ui import keyboard, progress_bar
from . import Routes
from .screens import Screen, local_time, menu_button, not_found, respond, role_needed, section_entry, short, zone_of

routes = Routes("posts")

PER_PAGE = 8
MAX_PROBLEMS_SHOWN = 8
ICONS = {
    PostStatus.DRAFT: "📝",
    PostStatus.SCHEDULED: "🕒",
    PostStatus.PUBLISHING: "⏳",
    PostStatus.COMPLETED: "✅",
    PostStatus.PARTIAL: "🟡",
    PostStatus.FAILED: "❌",
    PostStatus.CANCELLED: "🚫",
}
FILTERS = (
    PostStatus.SCHEDULED,
    PostStatus.PUBLISHING,
    PostStatus.COMPLETED,
    PostStatus.PARTIAL,
    PostStatus.FAILED,
    PostStatus.CANCELLED,
    PostStatus.DRAFT,
)


class PostList(CallbackData, prefix="pl"):
    """A page of the list: ``st`` the status filter ("" = all), ``pg`` the page number."""

    st: str = ""
    pg: int = 1


class PostAct(CallbackData, prefix="pa"):
    """Something done to one post; ``st``/``pg`` remember the list page to go back to."""

    id: int
    act: str  # open | retry | cancel (asks) | cancel_ok (does)
    st: str = ""
    pg: int = 1


# --- screens (sync: ORM and services) ------------------------------------------------------------------


def posts_screen(user, status: str = "", page: int = 1) -> Screen:
    if status not in PostStatus.values:
        status = ""
    queryset = selectors.posts_list(user)
    if status:
        queryset = queryset.filter(status=status)
    shown = Paginator(queryset, PER_PAGE).get_page(page)
    posts = list(shown)
    selectors.attach_progress(posts)
    title = _("Posts") + (f" — {PostStatus(status).label}" if status else "")
    if shown.paginator.num_pages > 1:
        title += " " + _("(page %(page)d of %(pages)d)") % {"page": shown.number, "pages": shown.paginator.num_pages}
    lines = [title, ""]
    for post in posts:
        lines.append(
            f"{ICONS[post.status]} #{post.pk} {short(str(post), 40)} · {post.get_status_display()} · "
            f"{post.progress['published'] or 0}/{post.progress['total'] or 0}"
        )
    if not posts:
        lines.append(_("No posts with this status.") if status else _("No posts yet."))
    opens = [
        InlineKeyboardButton(text=f"#{post.pk}", callback_data=PostAct(id=post.pk, act="open", st=status, pg=shown.number).pack())
        for post in posts
    ]
    paging = []
    if shown.has_previous():
        paging.append(InlineKeyboardButton(text="‹ " + _("Prev"), callback_data=PostList(st=status, pg=shown.number - 1).pack()))
    if shown.has_next():
        paging.append(InlineKeyboardButton(text=_("Next") + " ›", callback_data=PostList(st=status, pg=shown.number + 1).pack()))
    choices = [("", _("All"))] + [(value, PostStatus(value).label) for value in FILTERS]
    filters = [
        InlineKeyboardButton(text=("✓ " if value == status else "") + label, callback_data=PostList(st=value, pg=1).pack())
        for value, label in choices
    ]
    return Screen(
        "\n".join(lines),
        keyboard(
            *[opens[i : i + 4] for i in range(0, len(opens), 4)],
            paging,
            *[filters[i : i + 3] for i in range(0, len(filters), 3)],
            [menu_button()],
        ),
    )


def visible_post(user, post_id: int) -> Post:
    post = scope(Post.objects.select_related("workspace"), user).filter(pk=post_id).first()
    if post is None:
        raise not_found("post")
    return post


def editor_post(user, access: Access, post_id: int) -> Post:
    """The post for a write: not found outside the member's workspaces, refused below editor."""
    post = visible_post(user, post_id)
    if not access.can(post.workspace_id, Role.EDITOR):
        raise role_needed(Role.EDITOR)
    return post


def can_cancel(post: Post) -> bool:
    """As on the dashboard: a draft is deleted or rejected, not cancelled; a finished post is done."""
    return post.status not in FINISHED_POST_STATUSES and post.status != PostStatus.DRAFT


def post_card(user, access: Access, post_id: int, status: str = "", page: int = 1, notice: str = "") -> Screen:
    post = visible_post(user, post_id)
    executions = Execution.objects.filter(post=post)
    counts = selectors.progress_counts(executions)
    total, published = counts["total"] or 0, counts["published"] or 0
    zone = zone_of(user)
    lines = [notice, ""] if notice else []
    lines += [
        f"{ICONS[post.status]} #{post.pk} «{short(str(post), 80)}»",
        _("Status: %(status)s") % {"status": post.get_status_display()},
        _("Workspace: %(workspace)s") % {"workspace": post.workspace.name},
    ]
    if total:
        lines.append(progress_bar(total - (counts["open"] or 0), total))
        lines.append(
            ", ".join(f"{entry['label']}: {entry['count']}" for entry in counts["statuses"])
            + " · "
            + _("published %(published)d of %(total)d") % {"published": published, "total": total}
        )
        platforms = (
            executions.order_by()
            .values("account__platform")
            .annotate(n=Count("pk"), ok=Count("pk", filter=Q(status=ExecutionStatus.SUCCESS)))
            .order_by("account__platform")
        )
        lines.append(
            _("Per platform: %(list)s")
            % {"list": ", ".join(f"{Platform(row['account__platform']).label} {row['ok']}/{row['n']}" for row in platforms)}
        )
    else:
        lines.append(_("Nothing planned yet."))
    problems = list(
        executions.filter(status__in=(ExecutionStatus.FAILED, ExecutionStatus.BLOCKED))
        .select_related("account")
        .only("id", "status", "error_code", "error_message", "account__platform", "account__handle")
        .order_by("status", "account__platform", "account__handle", "pk")[: MAX_PROBLEMS_SHOWN + 1]
    )
    if problems:
        lines += ["", _("Not published:")]
        for execution in problems[:MAX_PROBLEMS_SHOWN]:
            reason = redact(": ".join(part for part in (execution.error_code, execution.error_message) if part))
            lines.append(f"✗ {execution.account} ({execution.get_status_display()}): {short(reason, 120) or '—'}")
        if len(problems) > MAX_PROBLEMS_SHOWN:
            lines.append(_("…and more on the dashboard."))
    lines.append("")
    lines.append(_("Created: %(when)s") % {"when": local_time(post.created_at, zone)})
    if post.scheduled_at:
        lines.append(_("Scheduled for: %(when)s") % {"when": local_time(post.scheduled_at, zone)})
    if post.finished_at:
        lines.append(_("Finished: %(when)s") % {"when": local_time(post.finished_at, zone)})

    def act(name: str) -> str:
        return PostAct(id=post.pk, act=name, st=status, pg=page).pack()

    writes = []
    if access.can(post.workspace_id, Role.EDITOR):
        if counts["failed"]:
            writes.append(InlineKeyboardButton(text="🔁 " + _("Retry failed"), callback_data=act("retry")))
        if can_cancel(post):
            writes.append(InlineKeyboardButton(text="✖ " + _("Cancel post"), callback_data=act("cancel")))
    return Screen(
        "\n".join(lines),
        keyboard(
            [InlineKeyboardButton(text="🔄 " + _("Refresh"), callback_data=act("open"))],
            writes,
            [
                InlineKeyboardButton(text="← " + _("Back"), callback_data=PostList(st=status, pg=page).pack()),
                menu_button(),
            ],
        ),
    )


def retry_failed(link: TelegramLink, access: Access, post_id: int, status: str, page: int) -> Screen:
    """Send the post's failed executions out again, as the dashboard's "Retry failed" does."""
    post = editor_post(link.user, access, post_id)
    retried, problems = executions_retry(
        executions=Execution.objects.filter(post=post, status=ExecutionStatus.FAILED).select_related("account"),
        actor=link.user,
    )
    if retried:
        notice = ngettext("Retrying %(count)d failed execution.", "Retrying %(count)d failed executions.", retried) % {
            "count": retried
        }
    else:
        notice = _("Nothing to retry: the post has no failed executions.")
    if problems:
        notice += "\n" + "\n".join(problems)
    bot_action(
        link=link,
        action="post.retry_failed",
        post=post,
        status=LogStatus.SUCCESS if retried else LogStatus.INFO,
        message=f"Retried {retried} failed execution(s)." + (f" Refused: {len(problems)}." if problems else ""),
    )
    screen = post_card(link.user, access, post.pk, status, page, notice=notice)
    screen.toast = notice.split("\n")[0]
    return screen


def cancel_confirm(user, access: Access, post_id: int, status: str, page: int) -> Screen:
    post = editor_post(user, access, post_id)
    if not can_cancel(post):
        return post_card(user, access, post.pk, status, page, notice=_("This post cannot be cancelled now."))
    text = _(
        "Cancel post #%(id)s «%(post)s»? Executions that wait stop; those being published right now finish and are reported."
    ) % {"id": post.pk, "post": short(str(post), 60)}
    return Screen(
        text,
        keyboard(
            [
                InlineKeyboardButton(
                    text="✖ " + _("Yes, cancel the post"),
                    callback_data=PostAct(id=post.pk, act="cancel_ok", st=status, pg=page).pack(),
                ),
                InlineKeyboardButton(
                    text=_("No, keep it"), callback_data=PostAct(id=post.pk, act="open", st=status, pg=page).pack()
                ),
            ]
        ),
    )


def cancel(link: TelegramLink, access: Access, post_id: int, status: str, page: int) -> Screen:
    post = editor_post(link.user, access, post_id)
    try:
        result = post_cancel(post=post, actor=link.user)
    except ValidationError as exc:
        notice = " ".join(exc.messages)
        bot_action(link=link, action="post.cancel", post=post, status=LogStatus.FAILED, message=notice)
    else:
        notice = _("Cancelled %(cancelled)d waiting execution(s); %(in_flight)d already posting will finish.") % result
        bot_action(link=link, action="post.cancel", post=post, status=LogStatus.SUCCESS, message=notice)
    screen = post_card(link.user, access, post.pk, status, page, notice=notice)
    screen.toast = notice
    return screen


# --- handlers ---------------------------------------------------------------------------------------------


section_entry(routes, "posts", posts_screen, lambda link, access: (link.user,))


@routes.callback_query(PostList.filter())
async def posts_page(query: CallbackQuery, callback_data: PostList, link: TelegramLink) -> None:
    await respond(query, posts_screen, link.user, callback_data.st, callback_data.pg)


@routes.callback_query(PostAct.filter())
async def post_action(query: CallbackQuery, callback_data: PostAct, link: TelegramLink, access: Access) -> None:
    data = callback_data
    if data.act == "open":
        await respond(query, post_card, link.user, access, data.id, data.st, data.pg)
    elif data.act == "retry":
        await respond(query, retry_failed, link, access, data.id, data.st, data.pg)
    elif data.act == "cancel":
        await respond(query, cancel_confirm, link.user, access, data.id, data.st, data.pg)
    elif data.act == "cancel_ok":
        await respond(query, cancel, link, access, data.id, data.st, data.pg)
    else:
        await query.answer(_("This button is out of date: open the menu again."), show_alert=True)
