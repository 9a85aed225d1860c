"""Review: the drafts waiting for an operator — a source's post whose pipeline stopped at the publish
stage for review, and the other drafts sources made — with Approve and publish, Edit caption and
Reject. Editors only, in the workspaces where they are editors; each action is in the activity log.

Approve goes through ``post_publish``, as the dashboard's Publish does: it plans the executions and
ends the pipeline's wait. Reject *cancels* the draft (``post_cancel``) instead of deleting it: the
post, its source item and its pipeline record stay, so the history shows what came in and who
turned it down, and the source does not take the same item for a new one.

In a workspace where posts need approval the queue also holds the posts waiting for approval
(``publishing.approvals``), and the approvers get them as messages with these buttons when they
are submitted (``bot.receivers``). Approve then approves (``post_approve``: the member must be
an approver, and not the author unless admin or owner) before it publishes; Reject of a post
waiting for approval asks for the comment its author will read and rejects it (``post_reject``)
instead of cancelling it."""

from __future__ import annotations

from aiogram import F
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, Message
from asgiref.sync import sync_to_async
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.selectors import scope
from crosspost.models import LogStatus
from dashboard.selectors import Access
from posts.models import ApprovalStatus, PipelineStage, Post, PostStatus, Stage, StageStatus
from posts.services import EDITABLE_STATUSES, post_update
from publishing.approvals import approval_needed, may_approve, post_approve, post_reject
from publishing.planner import post_publish
from publishing.services import post_cancel
from sources.models import IngestRecord

from ..models import TelegramLink
from ..services import bot_action
from ..ui import cancel_button, keyboard
from . import Routes
from .posts import PostAct
from .screens import Refused, Screen, menu_button, not_found, respond, role_needed, section_entry, short

routes = Routes("review")

PER_PAGE = 8
EXCERPT = 600


class ReviewList(CallbackData, prefix="rl"):
    pg: int = 1


class ReviewAct(CallbackData, prefix="ra"):
    id: int
    act: str  # open | approve | edit | reject (asks) | reject_ok (does)


class Reviewing(StatesGroup):
    caption = State()  # waiting for the new caption of data["review_post"]
    reject_comment = State()  # waiting for why data["review_post"] is rejected (a post waiting for approval)


def waiting_for_review(user) -> QuerySet[Post]:
    """Drafts of the member's editor workspaces that a source made or whose pipeline waits for review,
    and their draft or scheduled posts waiting for approval."""
    review_stage = PipelineStage.objects.filter(post=OuterRef("pk"), stage=Stage.PUBLISH, status=StageStatus.REVIEW)
    ingested = IngestRecord.objects.filter(post=OuterRef("pk"))
    from_sources = Q(status=PostStatus.DRAFT) & (Exists(review_stage) | Exists(ingested) | Q(origin__isnull=False))
    awaiting = Q(status__in=EDITABLE_STATUSES, approval_status=ApprovalStatus.PENDING)
    return (
        scope(Post.objects.select_related("workspace"), user, Role.EDITOR)
        .filter(from_sources | awaiting)
        .order_by("-created_at", "-pk")
    )


def source_name(post: Post) -> str:
    record = post.ingest_records.select_related("source").first()
    if record is not None:
        return record.source.name
    origin = getattr(post, "origin", None)  # a missing one-to-one raises an AttributeError subclass
    return origin.source.name if origin is not None else "—"


def review_list(user, access: Access, page: int = 1) -> Screen:
    if not access.can_anywhere(Role.EDITOR):
        raise role_needed(Role.EDITOR, section=True)
    queryset = waiting_for_review(user).annotate(
        n_media=Count("media", distinct=True),
        n_targets=Count("target_groups", distinct=True) + Count("target_accounts", distinct=True),
    )
    shown = Paginator(queryset, PER_PAGE).get_page(page)
    lines = [_("Drafts waiting for review: %(count)d") % {"count": shown.paginator.count}, ""]
    posts = list(shown)
    for post in posts:
        lines.append(
            f"👀 #{post.pk} {short(post.caption or str(post), 60)} · {source_name(post)} · "
            + _("media %(media)d, targets %(targets)d") % {"media": post.n_media, "targets": post.n_targets}
        )
    if not posts:
        lines.append(_("Nothing waits for review."))
    opens = [InlineKeyboardButton(text=f"#{p.pk}", callback_data=ReviewAct(id=p.pk, act="open").pack()) for p in posts]
    paging = []
    if shown.has_previous():
        paging.append(InlineKeyboardButton(text="‹ " + _("Prev"), callback_data=ReviewList(pg=shown.number - 1).pack()))
    if shown.has_next():
        paging.append(InlineKeyboardButton(text=_("Next") + " ›", callback_data=ReviewList(pg=shown.number + 1).pack()))
    return Screen("\n".join(lines), keyboard(*[opens[i : i + 4] for i in range(0, len(opens), 4)], paging, [menu_button()]))


def review_post(user, post_id: int) -> Post:
    """A draft waiting for review in a workspace where the member is an editor."""
    post = scope(Post.objects.select_related("workspace"), user).filter(pk=post_id).first()
    if post is None:
        raise not_found("post")
    if not scope(Post.objects.filter(pk=post.pk), user, Role.EDITOR).exists():
        raise role_needed(Role.EDITOR)
    if not waiting_for_review(user).filter(pk=post.pk).exists():
        status = post.get_status_display().lower()
        raise Refused(_("Post #%(id)s no longer waits for review (it is %(status)s).") % {"id": post.pk, "status": status})
    return post


def review_card(user, post_id: int, notice: str = "") -> Screen:
    post = review_post(user, post_id)
    groups = [group.name for group in post.target_groups.order_by("name")]
    accounts = post.target_accounts.count()
    targets = ", ".join(groups) if groups else ""
    if accounts:
        targets += ("; " if targets else "") + _("%(count)d account(s)") % {"count": accounts}
    stage = PipelineStage.objects.filter(post=post, stage=Stage.PUBLISH).first()
    lines = [notice, ""] if notice else []
    lines += [
        f"👀 #{post.pk} «{short(str(post), 80)}»",
        _("Workspace: %(workspace)s") % {"workspace": post.workspace.name},
        _("Source: %(source)s") % {"source": source_name(post)},
        _("Media: %(count)d") % {"count": post.media.count()},
        _("Targets: %(targets)s") % {"targets": targets or _("none yet")},
    ]
    if stage is not None and stage.status == StageStatus.REVIEW and stage.note:
        lines.append(stage.note)
    if post.approval_status == ApprovalStatus.PENDING:
        lines.append(_("Waiting for approval."))
    lines += ["", short(post.caption, EXCERPT) or _("(no text)")]

    def act(name: str) -> str:
        return ReviewAct(id=post.pk, act=name).pack()

    return Screen(
        "\n".join(lines),
        keyboard(
            [InlineKeyboardButton(text="✅ " + _("Approve and publish"), callback_data=act("approve"))],
            [
                InlineKeyboardButton(text="✏ " + _("Edit caption"), callback_data=act("edit")),
                InlineKeyboardButton(text="✖ " + _("Reject"), callback_data=act("reject")),
            ],
            [InlineKeyboardButton(text="← " + _("Back"), callback_data=ReviewList().pack()), menu_button()],
        ),
    )


def after_review(post: Post, notice: str) -> Screen:
    """Where an approved or rejected draft goes: out of the queue, to its card in Posts."""
    return Screen(
        notice,
        keyboard(
            [InlineKeyboardButton(text="📋 " + _("Open the post"), callback_data=PostAct(id=post.pk, act="open").pack())],
            [InlineKeyboardButton(text="← " + _("Back to review"), callback_data=ReviewList().pack()), menu_button()],
        ),
        toast=notice,
    )


def approve(link: TelegramLink, post_id: int) -> Screen:
    post = review_post(link.user, post_id)
    if approval_needed(post):
        try:
            # This button publishes next, itself: the source's pipeline is not started again.
            post_approve(post=post, actor=link.user, publish_waiting=False)
        except (ValidationError, PermissionDenied) as exc:
            problem = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            bot_action(link=link, action="review.approve", post=post, status=LogStatus.FAILED, message=problem)
            screen = review_card(link.user, post.pk, notice=_("Not approved: %(problem)s") % {"problem": problem})
            screen.toast = _("Not approved.")
            return screen
    try:
        plan = post_publish(post=post, actor=link.user)
    except ValidationError as exc:
        problem = " ".join(exc.messages)
        bot_action(link=link, action="review.approve", post=post, status=LogStatus.FAILED, message=problem)
        screen = review_card(link.user, post.pk, notice=_("Not published: %(problem)s") % {"problem": problem})
        screen.toast = _("Not published.")
        return screen
    notice = _("Approved: publishing to %(planned)d account(s); %(blocked)d blocked.") % {
        "planned": plan.created,
        "blocked": plan.blocked,
    }
    bot_action(link=link, action="review.approve", post=post, status=LogStatus.SUCCESS, message=notice)
    return after_review(post, f"#{post.pk}: {notice}")


def awaits_approval(post: Post) -> bool:
    return post.approval_status == ApprovalStatus.PENDING


def reject_comment_prompt(user, post_id: int) -> Screen:
    """Rejecting a post waiting for approval: first the comment (approvers only)."""
    post = review_post(user, post_id)
    if not may_approve(user, post.workspace_id):
        raise Refused(_("Only admins, owners and members marked as approvers may approve or reject posts of this workspace."))
    return Screen(
        _("Why is #%(id)s «%(post)s» rejected? Send the comment its author will read.")
        % {"id": post.pk, "post": short(str(post), 60)},
        keyboard([cancel_button()]),
    )


def reject_with_comment(link: TelegramLink, post_id: int, comment: str) -> tuple[bool, Screen]:
    """(done, what to show): a refused comment keeps the conversation, with what to fix."""
    post = review_post(link.user, post_id)
    try:
        post_reject(post=post, actor=link.user, comment=comment)
    except ValidationError as exc:
        return False, Screen(
            _("Not rejected: %(problem)s Send the comment again, or Cancel.") % {"problem": " ".join(exc.messages)},
            keyboard([cancel_button()]),
        )
    except PermissionDenied as exc:
        return True, review_card(link.user, post.pk, notice=str(exc))
    bot_action(link=link, action="review.reject", post=post, status=LogStatus.SUCCESS, message="Rejected with a comment.")
    return True, after_review(post, _("#%(id)s rejected; its author was told why.") % {"id": post.pk})


def reject_confirm(user, post_id: int) -> Screen:
    post = review_post(user, post_id)
    return Screen(
        _("Reject draft #%(id)s «%(post)s»? It is cancelled and stays in the history; nothing is published.")
        % {"id": post.pk, "post": short(str(post), 60)},
        keyboard(
            [
                InlineKeyboardButton(text="✖ " + _("Yes, reject"), callback_data=ReviewAct(id=post.pk, act="reject_ok").pack()),
                InlineKeyboardButton(text=_("No, keep it"), callback_data=ReviewAct(id=post.pk, act="open").pack()),
            ]
        ),
    )


def reject(link: TelegramLink, post_id: int) -> Screen:
    post = review_post(link.user, post_id)
    try:
        post_cancel(post=post, actor=link.user)
    except ValidationError as exc:
        return review_card(link.user, post.pk, notice=" ".join(exc.messages))
    bot_action(link=link, action="review.reject", post=post, status=LogStatus.SUCCESS, message="Draft rejected (cancelled).")
    return after_review(post, _("Draft #%(id)s rejected.") % {"id": post.pk})


def caption_prompt(user, post_id: int) -> Screen:
    post = review_post(user, post_id)
    return Screen(
        _("Send the new caption of #%(id)s as a message. Now it reads:") % {"id": post.pk}
        + "\n\n"
        + (short(post.caption, EXCERPT) or _("(no text)")),
        keyboard([cancel_button()]),
    )


def caption_save(link: TelegramLink, post_id: int, caption: str) -> tuple[bool, Screen]:
    """(saved, what to show): a refused caption keeps the conversation, with what to fix."""
    post = review_post(link.user, post_id)
    try:
        post_update(post=post, actor=link.user, caption=caption)
    except ValidationError as exc:
        problem = " ".join(exc.messages)
        return False, Screen(
            _("The caption was not saved: %(problem)s Send a corrected one, or Cancel.") % {"problem": problem},
            keyboard([cancel_button()]),
        )
    bot_action(link=link, action="review.edit_caption", post=post, status=LogStatus.SUCCESS, message="Caption changed.")
    return True, review_card(link.user, post.pk, notice=_("Caption saved."))


# --- handlers ---------------------------------------------------------------------------------------------


section_entry(routes, "review", review_list, lambda link, access: (link.user, access))


@routes.callback_query(ReviewList.filter())
async def review_page(query: CallbackQuery, callback_data: ReviewList, link: TelegramLink, access: Access) -> None:
    await respond(query, review_list, link.user, access, callback_data.pg)


@routes.callback_query(ReviewAct.filter())
async def review_action(query: CallbackQuery, callback_data: ReviewAct, state: FSMContext, link: TelegramLink) -> None:
    post_id, act = callback_data.id, callback_data.act
    if act == "open":
        await respond(query, review_card, link.user, post_id)
    elif act == "approve":
        await respond(query, approve, link, post_id, network=True)  # plans: translations, AI captions
    elif act == "reject":
        post = await sync_to_async(Post.objects.filter(pk=post_id).only("approval_status").first)()
        if post is not None and awaits_approval(post):
            if await respond(query, reject_comment_prompt, link.user, post_id) is not None:
                await state.set_state(Reviewing.reject_comment)
                await state.set_data({"review_post": post_id})
        else:
            await respond(query, reject_confirm, link.user, post_id)
    elif act == "reject_ok":
        await respond(query, reject, link, post_id)
    elif act == "edit":
        if await respond(query, caption_prompt, link.user, post_id) is not None:
            await state.set_state(Reviewing.caption)
            await state.set_data({"review_post": post_id})
    else:
        await query.answer(_("This button is out of date: open the menu again."), show_alert=True)


@routes.message(Reviewing.caption, F.text)
async def caption_received(message: Message, state: FSMContext, link: TelegramLink) -> None:
    post_id = (await state.get_data()).get("review_post")
    try:
        saved, screen = await sync_to_async(caption_save)(link, post_id, message.text)
    except Refused as exc:
        await state.clear()
        await message.answer(str(exc))
        return
    if saved:
        await state.clear()
    await message.answer(screen.text, reply_markup=screen.markup)


@routes.message(Reviewing.reject_comment, F.text)
async def reject_comment_received(message: Message, state: FSMContext, link: TelegramLink) -> None:
    post_id = (await state.get_data()).get("review_post")
    try:
        done, screen = await sync_to_async(reject_with_comment)(link, post_id, message.text)
    except Refused as exc:
        await state.clear()
        await message.answer(str(exc))
        return
    if done:
        await state.clear()
    await message.answer(screen.text, reply_markup=screen.markup)


@routes.message(Reviewing.reject_comment)
async def reject_comment_not_text(message: Message) -> None:
    await message.answer(_("Send the comment as a text message, or tap Cancel."), reply_markup=keyboard([cancel_button()]))


@routes.message(Reviewing.caption)
async def caption_not_text(message: Message) -> None:
    await message.answer(_("Send the caption as a text message, or tap Cancel."), reply_markup=keyboard([cancel_button()]))
