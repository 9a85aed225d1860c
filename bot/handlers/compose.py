"""The New-post conversation: media or text → caption → language → groups → when → preview → publish.

Every step is a state of ``NewPost``; what the member chose so far lives in the FSM data as plain
JSON (ids and strings), which the database storage writes on every step — a bot restarted in the
middle continues where the member was. The post is made with the same services the dashboard and
the API use, as the member (``actor=link.user``), in a workspace where they are at least an editor;
a workspace, group or draft the member cannot see is "not found".

The preview creates a draft (``post_create``) and shows the planner's dry run; Publish plans it for
real, Save as draft keeps it, Back and Cancel delete it again, so no half-written post is left.
After Publish one message shows the progress (``bot.progress`` keeps editing it).
"""

from __future__ import annotations

import io
import logging
import zoneinfo
from datetime import datetime

from aiogram import Bot, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, Message
from asgiref.sync import sync_to_async
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import AccountGroup, Role, SocialAccount
from accounts.selectors import scope
from crosspost.models import LogStatus
from dashboard.forms import language_code
from dashboard.selectors import Access, workspaces_with_role
from media.models import MediaAsset, MediaKind
from media.services import media_upload
from posts.models import MAX_MEDIA_PER_POST, MediaType, Post, PostStatus
from posts.services import post_create, post_delete
from publishing.approvals import post_submit
from publishing.planner import Plan, post_publish

from ..aio import network
from ..models import TelegramLink
from ..progress import progress_register, progress_start
from ..schedule import member_zone, next_free_slot, parse_local
from ..services import bot_action
from ..ui import CANCEL, TYPED, Menu, back_button, cancel_button, keyboard, menu_keyboard
from . import Routes
from .screens import ask_workspace, drop_buttons, say

logger = logging.getLogger(__name__)
routes = Routes("compose")

DOWNLOAD_LIMIT_MB = 20  # the public Bot API's getFile limit
GROUPS_PER_PAGE = 8
LANGUAGES_SHOWN = 8
BLOCKED_REASONS_SHOWN = 3
HANDLES_SHOWN = 3


class NewPost(StatesGroup):
    workspace = State()
    media = State()
    caption = State()
    language = State()
    groups = State()
    when = State()
    when_at = State()  # typing the date and time
    preview = State()


class Step(CallbackData, prefix="np"):
    """A button of the conversation: ``act`` (ws, next, keep, nocap, lang, g, gp, gnext, now, pick,
    slot, pub, draft, back) and its argument (an id, a page, a language, the step to go back to)."""

    act: str
    arg: str = ""


def button(text: str, act: str, arg: object = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=Step(act=act, arg=str(arg)).pack())


def refused(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


# --- reading and writing (sync: called through sync_to_async) --------------------------------------


def _store(*, workspace_id: int, user, content: bytes, name: str, content_type: str) -> int:
    workspace = workspaces_with_role(user, Role.EDITOR).get(pk=workspace_id)
    asset, _created = media_upload(
        workspace=workspace, file=SimpleUploadedFile(name, content, content_type=content_type), actor=user
    )
    return asset.pk


def _groups(user, workspace_id: int) -> list[tuple[int, str, int]]:
    """(id, name, accounts) of the workspace's groups the member may post to, by name."""
    groups = (
        scope(AccountGroup.objects.filter(workspace_id=workspace_id), user, Role.EDITOR)
        .annotate(n=Count("accounts"))
        .order_by("name", "pk")
    )
    return [(g.pk, g.name, g.n) for g in groups]


def _default_groups(link: TelegramLink, workspace_id: int) -> list[int]:
    return list(link.default_groups.filter(workspace_id=workspace_id).values_list("pk", flat=True))


def _languages(user, workspace_id: int) -> list[str]:
    """The languages of the workspace's accounts, the most common first."""
    rows = (
        scope(SocialAccount.objects.filter(workspace_id=workspace_id), user)
        .values("language")
        .annotate(n=Count("pk"))
        .order_by("-n", "language")
    )
    return [row["language"] for row in rows if row["language"]][:LANGUAGES_SHOWN]


def _slot(data: dict) -> datetime | None:
    return next_free_slot(workspace_id=data["ws"], group_ids=data.get("groups", []))


def _media_type(asset_ids: list[int]) -> str:
    if not asset_ids:
        return MediaType.TEXT
    if len(asset_ids) > 1:
        return MediaType.CAROUSEL
    kind = MediaAsset.objects.filter(pk=asset_ids[0]).values_list("kind", flat=True).first()
    return MediaType.VIDEO if kind == MediaKind.VIDEO else MediaType.PHOTO


def _draft(user, post_id: int) -> Post:
    """The member's draft by id, in a workspace where they are an editor (else DoesNotExist)."""
    return scope(Post.objects.all(), user, Role.EDITOR).get(pk=post_id)


def _drop(link: TelegramLink, post_id: int | None) -> None:
    """Delete the draft the preview made (if it is still a draft the member can reach)."""
    if not post_id:
        return
    try:
        post = _draft(link.user, post_id)
        if post.status != PostStatus.DRAFT:  # published or scheduled meanwhile (the dashboard): not ours to drop
            return
        post_delete(post=post, actor=link.user)
    except (ObjectDoesNotExist, ValidationError):
        return
    bot_action(link=link, action="post.discard", message=f"Draft #{post_id} discarded.", status=LogStatus.INFO)


def _at(data: dict) -> datetime | None:
    return datetime.fromisoformat(data["at"]) if data.get("at") else None


def _preview(link: TelegramLink, data: dict) -> tuple[int, Plan]:
    """Make the draft from ``data`` and plan it dry; ValidationError when something is wrong."""
    user = link.user
    workspace = workspaces_with_role(user, Role.EDITOR).filter(pk=data["ws"]).first()
    if workspace is None:
        raise ValidationError(_("You are no longer an editor in this workspace."))
    groups = list(AccountGroup.objects.filter(workspace=workspace, pk__in=data.get("groups", [])))
    if not groups:
        raise ValidationError(_("Pick at least one group."))
    found = MediaAsset.objects.filter(workspace=workspace).in_bulk(data.get("assets", []))
    if len(found) != len(set(data.get("assets", []))):
        raise ValidationError(_("Some media is no longer available: start again and send it anew."))
    _drop(link, data.get("post"))
    post = post_create(
        workspace=workspace,
        author=user,
        caption=data.get("caption", ""),
        language=data.get("lang", "en"),
        media_type=_media_type(data.get("assets", [])),
        scheduled_at=_at(data),
        target_groups=groups,
        media=[found[pk] for pk in data.get("assets", [])],
    )
    try:
        plan = post_publish(post=post, dry_run=True, scheduled_at=_at(data))
    except ValidationError:
        post_delete(post=post, actor=user)  # no preview, no draft: the member picks again
        raise
    bot_action(link=link, action="post.preview", message=f"Draft #{post.pk} made for the preview.", post=post)
    return post.pk, plan


def _publish(link: TelegramLink, data: dict) -> Plan:
    post = _draft(link.user, data["post"])
    plan = post_publish(post=post, actor=link.user, scheduled_at=_at(data))
    bot_action(
        link=link,
        action="post.publish",
        status=LogStatus.SUCCESS,
        message=f"Published post #{post.pk}: {plan.created} planned, {plan.blocked} blocked.",
        post=post,
    )
    return plan


def _submit(link: TelegramLink, data: dict) -> Post:
    """The workspace needs approvals: the draft goes to the approvers instead of out."""
    post = _draft(link.user, data["post"])  # made by the preview, with the time the member picked
    post_submit(post=post, actor=link.user)
    bot_action(link=link, action="post.submit", status=LogStatus.SUCCESS, message=f"Submitted post #{post.pk}.", post=post)
    return post


def _keep_draft(link: TelegramLink, post_id: int) -> Post:
    post = _draft(link.user, post_id)
    bot_action(link=link, action="post.draft", status=LogStatus.SUCCESS, message=f"Draft #{post.pk} saved.", post=post)
    return post


# --- the steps: each shows its question and sets its state ---------------------------------------


async def begin(event: Message | CallbackQuery, state: FSMContext, link: TelegramLink, access: Access) -> None:
    if not access.can_anywhere(Role.EDITOR):
        await say(event, _("Your role is viewer: you can read, but not create or publish posts."), menu_keyboard(access))
        return
    await sync_to_async(_drop)(link, (await state.get_data()).get("post"))
    await state.clear()
    ws = await ask_workspace(
        event,
        state,
        link,
        waiting=NewPost.workspace,
        question=_("New post. In which workspace?"),
        button=lambda name, pk: button(name, "ws", pk),
    )
    if ws is not None:
        await ask_media(event, state, ws=ws)


async def ask_media(event, state: FSMContext, ws: int | None = None) -> None:
    if ws is not None:
        await state.set_data({"ws": ws, "assets": []})
    await state.set_state(NewPost.media)
    await say(
        event,
        _("Send photos or videos (one, or an album of up to %(max)d), or the text of a text post.") % {"max": MAX_MEDIA_PER_POST},
        keyboard([cancel_button()]),
    )


async def ask_caption(event, state: FSMContext) -> None:
    data = await state.get_data()
    await state.set_state(NewPost.caption)
    caption = data.get("caption", "")
    if caption:
        text = _("The caption:\n\n%(caption)s\n\nKeep it, or send a new text to replace it.") % {"caption": caption[:3000]}
        first = [button("✔ " + _("Keep"), "keep")]
    else:
        text = _("Send the caption of the post.")
        first = [button(_("No caption"), "nocap")] if data.get("assets") else []
    await say(event, text, keyboard(first, [back_button(Step(act="back", arg="media").pack()), cancel_button()]))


async def ask_language(event, state: FSMContext, link: TelegramLink) -> None:
    data = await state.get_data()
    await state.set_state(NewPost.language)
    languages = await sync_to_async(_languages)(link.user, data["ws"])
    buttons = [button(code, "lang", code) for code in languages]
    rows = [buttons[i : i + 4] for i in range(0, len(buttons), 4)]
    await say(
        event,
        _("Which language is the caption in? Tap one or type a code (en, de, pt-BR…)."),
        keyboard(*rows, [back_button(Step(act="back", arg="caption").pack()), cancel_button()]),
    )


def groups_markup(groups: list[tuple[int, str, int]], chosen: set[int], page: int):
    pages = max(1, -(-len(groups) // GROUPS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = groups[page * GROUPS_PER_PAGE : (page + 1) * GROUPS_PER_PAGE]
    rows = [[button(f"{'✓ ' if pk in chosen else ''}{name} · {n}", "g", f"{pk}.{page}")] for pk, name, n in shown]
    paging = []
    if page > 0:
        paging.append(button("‹", "gp", page - 1))
    if pages > 1:
        paging.append(button(f"{page + 1}/{pages}", "gp", page))
    if page < pages - 1:
        paging.append(button("›", "gp", page + 1))
    return keyboard(
        *rows,
        paging,
        [button(_("Next") + " →", "gnext")],
        [back_button(Step(act="back", arg="language").pack()), cancel_button()],
    )


def groups_text(chosen: int) -> str:
    return (
        _("To which groups? Tap to select or unselect (✓), then Next.")
        + "\n"
        + ngettext("%(count)d group selected.", "%(count)d groups selected.", chosen) % {"count": chosen}
    )


async def ask_groups(event, state: FSMContext, link: TelegramLink) -> None:
    data = await state.get_data()
    if "groups" not in data:  # the first time: the member's default groups
        await state.update_data(groups=await sync_to_async(_default_groups)(link, data["ws"]))
        data = await state.get_data()
    await state.set_state(NewPost.groups)
    groups = await sync_to_async(_groups)(link.user, data["ws"])
    if not groups:
        text = _("This workspace has no account groups yet: make one on the dashboard first.")
        await say(event, text, keyboard([cancel_button()]))
        return
    chosen = set(data["groups"]) & {pk for pk, _name, _n in groups}
    await say(event, groups_text(len(chosen)), groups_markup(groups, chosen, 0))


async def ask_when(event, state: FSMContext, link: TelegramLink) -> None:
    data = await state.get_data()
    await state.set_state(NewPost.when)
    zone = await sync_to_async(member_zone)(link.user, data["ws"])
    await say(
        event,
        _("When to publish? (Your time zone: %(zone)s.)") % {"zone": zone},
        keyboard(
            [button("▶ " + _("Now"), "now")],
            [button("🗓 " + _("Pick date and time"), "pick")],
            [button("⏭ " + _("Next free slot"), "slot")],
            [back_button(Step(act="back", arg="groups").pack()), cancel_button()],
        ),
    )


def when_label(at: datetime | None, zone: str) -> str:
    if at is None:
        return _("now")
    local = timezone.localtime(at, zoneinfo.ZoneInfo(zone))
    return f"{date_format(local, 'DATETIME_FORMAT')} ({zone})"


def preview_text(post_id: int, plan: Plan, data: dict, when: str) -> str:
    entries = plan.entries
    going = [e for e in entries if e.status != "blocked"]
    blocked = [e for e in entries if e.status == "blocked"]
    lines = [_("Preview of post #%(id)d (a draft until you publish it)") % {"id": post_id}]
    count = len(data.get("assets", []))
    lines.append(
        (ngettext("%(count)d media file", "%(count)d media files", count) % {"count": count} if count else _("Text post"))
        + " · "
        + _("language: %(language)s") % {"language": data.get("lang", "")}
    )
    lines.append(_("When: %(when)s") % {"when": when})
    lines.append(
        ngettext("%(total)d account in total", "%(total)d accounts in total", len(entries)) % {"total": len(entries)}
        + " — "
        + _("%(planned)d will publish, %(blocked)d blocked") % {"planned": len(going), "blocked": len(blocked)}
    )
    languages: dict[str, int] = {}
    for entry in going:
        languages[entry.language] = languages.get(entry.language, 0) + 1
    if languages:
        lines.append(_("Languages: %(list)s") % {"list": ", ".join(f"{code} ({n})" for code, n in sorted(languages.items()))})
    if blocked:
        lines.append(_("Blocked:"))
        reasons: dict[str, list[str]] = {}
        for entry in blocked:
            reasons.setdefault("; ".join(entry.problems) or "?", []).append(entry.handle)
        ranked = sorted(reasons.items(), key=lambda item: -len(item[1]))
        for reason, handles in ranked[:BLOCKED_REASONS_SHOWN]:
            names = ", ".join(handles[:HANDLES_SHOWN])
            if len(handles) > HANDLES_SHOWN:
                names += " " + _("and %(count)d more") % {"count": len(handles) - HANDLES_SHOWN}
            lines.append(f"• {names}: {reason[:300]}")
        if len(ranked) > BLOCKED_REASONS_SHOWN:
            rest = len(ranked) - BLOCKED_REASONS_SHOWN
            lines.append(ngettext("…and %(count)d more reason", "…and %(count)d more reasons", rest) % {"count": rest})
    warnings = [warning for entry in going for warning in entry.warnings]
    if warnings:
        lines.append(_("Possible duplicates (publishing is not blocked):"))
        lines.extend(f"⚠ {warning[:300]}" for warning in warnings[:BLOCKED_REASONS_SHOWN])
        if len(warnings) > BLOCKED_REASONS_SHOWN:
            rest = len(warnings) - BLOCKED_REASONS_SHOWN
            lines.append(ngettext("…and %(count)d more warning", "…and %(count)d more warnings", rest) % {"count": rest})
    if plan.approval_required:
        lines.append(_("This workspace needs approval: submit the post, an approver approves it before it goes out."))
    caption = data.get("caption", "")
    if caption:
        lines.append("")
        lines.append(caption[:500] + ("…" if len(caption) > 500 else ""))
    return "\n".join(lines)


def preview_markup(needs_approval: bool = False):
    first = button("📨 " + _("Submit for approval"), "sub") if needs_approval else button("🚀 " + _("Publish"), "pub")
    return keyboard(
        [first],
        [button("💾 " + _("Save as draft"), "draft")],
        [back_button(Step(act="back", arg="when").pack()), cancel_button()],
    )


async def show_preview(event, state: FSMContext, link: TelegramLink) -> None:
    data = await state.get_data()
    try:
        post_id, plan = await network(_preview)(link, data)
    except ValidationError as exc:
        await state.update_data(post=None)
        await say(event, refused(exc))
        await ask_when(event, state, link)
        return
    await state.update_data(post=post_id)
    await state.set_state(NewPost.preview)
    zone = await sync_to_async(member_zone)(link.user, data["ws"])
    await state.update_data(needs_approval=bool(plan.approval_required))
    markup = preview_markup(bool(plan.approval_required))
    await say(event, preview_text(post_id, plan, data, when_label(_at(data), zone)), markup)


# --- entry and the cancel of this conversation ---------------------------------------------------


@routes.message(Command("new"))
async def new_command(message: Message, state: FSMContext, link: TelegramLink, access: Access) -> None:
    await begin(message, state, link, access)


@routes.callback_query(Menu.filter(F.section == "new"))
async def new_button(query: CallbackQuery, state: FSMContext, link: TelegramLink, access: Access) -> None:
    await query.answer()
    await begin(query, state, link, access)


async def _cancel(state: FSMContext, link: TelegramLink) -> None:
    had = await state.get_state()
    await sync_to_async(_drop)(link, (await state.get_data()).get("post"))
    await state.clear()
    await sync_to_async(bot_action)(link=link, action="cancel", message=f"Cancelled at {had}.")


# These run before start's /cancel and Cancel (this router comes first): the same answer, and the
# draft the preview made is deleted, so a cancelled conversation leaves nothing behind.
@routes.message(StateFilter(NewPost), Command("cancel"))
async def cancel_command(message: Message, state: FSMContext, link: TelegramLink, access: Access) -> None:
    await _cancel(state, link)
    await message.answer(_("Cancelled."), reply_markup=menu_keyboard(access))


@routes.callback_query(StateFilter(NewPost), F.data == CANCEL)
async def cancel_button_pressed(query: CallbackQuery, state: FSMContext, link: TelegramLink, access: Access) -> None:
    await _cancel(state, link)
    await query.answer(_("Cancelled."))
    if query.message is not None:
        await query.message.edit_text(_("Cancelled."), reply_markup=menu_keyboard(access))


# --- the steps' answers --------------------------------------------------------------------------


@routes.callback_query(NewPost.workspace, Step.filter(F.act == "ws"))
async def workspace_chosen(query: CallbackQuery, callback_data: Step, state: FSMContext, access: Access) -> None:
    await query.answer()
    ws = int(callback_data.arg) if callback_data.arg.isdigit() else 0
    if not access.can(ws, Role.EDITOR):
        await say(query, _("Workspace not found."))
        return
    await ask_media(query, state, ws=ws)


def _media_of(message: Message) -> tuple[str, int | None, str, str] | None:
    """(file_id, size, file name, MIME type) of a photo (its largest size) or a video."""
    if message.photo:
        photo = message.photo[-1]
        return photo.file_id, photo.file_size, "photo.jpg", "image/jpeg"
    if message.video:
        mime = message.video.mime_type or "video/mp4"
        return message.video.file_id, message.video.file_size, "video." + (mime.split("/")[-1] or "mp4"), mime
    if message.document and (message.document.mime_type or "").split("/")[0] in ("image", "video"):
        document = message.document
        return document.file_id, document.file_size, document.file_name or "file", document.mime_type or ""
    return None


async def _download(bot: Bot, file_id: str) -> bytes:
    file = await bot.get_file(file_id)
    buffer = io.BytesIO()
    await bot.download_file(file.file_path, destination=buffer)
    return buffer.getvalue()


def too_big() -> str:
    text = _("This file is over %(limit)d MB, the most a bot can download. Send a smaller one, or upload it on the dashboard.")
    return text % {"limit": DOWNLOAD_LIMIT_MB}


def received_text(count: int, note: str = "") -> str:
    text = ngettext("Received %(count)d media file.", "Received %(count)d media files.", count) % {"count": count}
    text += " " + _("Send more, or tap Next.")
    return text + ("\n" + note if note else "")


@routes.message(NewPost.media, F.photo | F.video | F.document)
async def media_received(message: Message, state: FSMContext, link: TelegramLink, bot: Bot) -> None:
    data = await state.get_data()
    found = _media_of(message)
    if found is None:
        await message.answer(_("Send a photo or a video (or a text)."))
        return
    file_id, size, name, mime = found
    assets: list[int] = list(data.get("assets", []))
    album = message.media_group_id
    note = ""
    if len(assets) >= MAX_MEDIA_PER_POST:
        note = _("A post carries at most %(max)d media; the rest was not added.") % {"max": MAX_MEDIA_PER_POST}
    elif size and size > DOWNLOAD_LIMIT_MB * 1024 * 1024:
        note = too_big()
    else:
        try:
            content = await _download(bot, file_id)
            asset_id = await sync_to_async(_store)(
                workspace_id=data["ws"], user=link.user, content=content, name=name, content_type=mime
            )
        except ObjectDoesNotExist:
            note = _("You are no longer an editor in this workspace.")
        except TelegramBadRequest as exc:
            note = too_big() if "too big" in exc.message.lower() else _("Telegram did not give me this file; send it again.")
        except ValidationError as exc:
            note = refused(exc)
        else:
            if asset_id in assets:
                note = _("This file is already in the post.")
            else:
                assets.append(asset_id)
                await sync_to_async(bot_action)(
                    link=link, action="media.upload", message=f"Media #{asset_id} received for a new post."
                )
    updates: dict = {"assets": assets}
    if message.caption and not data.get("caption"):
        updates["caption"] = message.caption  # an album's caption is the post's default caption
    markup = keyboard([button(_("Next") + " →", "next")], [cancel_button()]) if assets else keyboard([cancel_button()])
    text = received_text(len(assets), note) if assets else note
    ack = data.get("ack")
    if album is not None and album == data.get("album") and ack:
        # One message for a whole album, edited as its items arrive.
        try:
            await bot.edit_message_text(text=text, chat_id=message.chat.id, message_id=ack, reply_markup=markup)
        except TelegramBadRequest:
            pass  # not modified (the same note twice)
    else:
        sent = await message.answer(text, reply_markup=markup)
        updates["ack"] = sent.message_id
    updates["album"] = album
    await state.update_data(**updates)


@routes.message(NewPost.media, TYPED)
async def media_text(message: Message, state: FSMContext) -> None:
    await state.update_data(caption=message.text)
    await ask_caption(message, state)


@routes.callback_query(NewPost.media, Step.filter(F.act == "next"))
async def media_done(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    await ask_caption(query, state)


@routes.message(NewPost.caption, TYPED)
async def caption_typed(message: Message, state: FSMContext, link: TelegramLink) -> None:
    await state.update_data(caption=message.text)
    await ask_language(message, state, link)


@routes.callback_query(NewPost.caption, Step.filter(F.act.in_({"keep", "nocap"})))
async def caption_kept(query: CallbackQuery, callback_data: Step, state: FSMContext, link: TelegramLink) -> None:
    await query.answer()
    if callback_data.act == "nocap":
        await state.update_data(caption="")
    await ask_language(query, state, link)


async def _language_chosen(event, value: str, state: FSMContext, link: TelegramLink) -> None:
    try:
        code = language_code(value)
    except ValidationError as exc:
        await say(event, refused(exc))
        return
    await state.update_data(lang=code)
    await ask_groups(event, state, link)


@routes.message(NewPost.language, TYPED)
async def language_typed(message: Message, state: FSMContext, link: TelegramLink) -> None:
    await _language_chosen(message, message.text, state, link)


@routes.callback_query(NewPost.language, Step.filter(F.act == "lang"))
async def language_tapped(query: CallbackQuery, callback_data: Step, state: FSMContext, link: TelegramLink) -> None:
    await query.answer()
    await _language_chosen(query, callback_data.arg, state, link)


@routes.callback_query(NewPost.groups, Step.filter(F.act.in_({"g", "gp"})))
async def groups_toggled(query: CallbackQuery, callback_data: Step, state: FSMContext, link: TelegramLink) -> None:
    data = await state.get_data()
    groups = await sync_to_async(_groups)(link.user, data["ws"])
    known = {pk for pk, _name, _n in groups}
    chosen = set(data.get("groups", [])) & known
    if callback_data.act == "g":
        pk, _dot, page = callback_data.arg.partition(".")
        pk = int(pk) if pk.isdigit() else 0
        if pk not in known:
            await query.answer(_("Group not found."), show_alert=True)
            return
        chosen ^= {pk}
        page = int(page) if page.isdigit() else 0
    else:
        page = int(callback_data.arg) if callback_data.arg.isdigit() else 0
    await state.update_data(groups=sorted(chosen))
    await query.answer()
    if query.message is not None:
        try:
            await query.message.edit_text(groups_text(len(chosen)), reply_markup=groups_markup(groups, chosen, page))
        except TelegramBadRequest:
            pass  # the same page tapped again: nothing to change


@routes.callback_query(NewPost.groups, Step.filter(F.act == "gnext"))
async def groups_done(query: CallbackQuery, state: FSMContext, link: TelegramLink) -> None:
    data = await state.get_data()
    groups = await sync_to_async(_groups)(link.user, data["ws"])
    if not set(data.get("groups", [])) & {pk for pk, _name, _n in groups}:
        await query.answer(_("Pick at least one group."), show_alert=True)
        return
    await query.answer()
    await ask_when(query, state, link)


@routes.callback_query(NewPost.when, Step.filter(F.act.in_({"now", "slot", "pick"})))
async def when_chosen(query: CallbackQuery, callback_data: Step, state: FSMContext, link: TelegramLink) -> None:
    await query.answer()
    if callback_data.act == "now":
        await state.update_data(at=None)
    elif callback_data.act == "slot":
        at = await sync_to_async(_slot)(await state.get_data())
        if at is None:
            await say(query, _("No free slot in the next 14 days: pick a date and time instead."))
            return
        await state.update_data(at=at.isoformat())
    else:
        data = await state.get_data()
        zone = await sync_to_async(member_zone)(link.user, data["ws"])
        await state.set_state(NewPost.when_at)
        await say(
            query,
            _("Type the date and time in your time zone (%(zone)s), e.g. 24.12 18:30 or 2026-12-24 18:30.") % {"zone": zone},
            keyboard([back_button(Step(act="back", arg="when").pack()), cancel_button()]),
        )
        return
    await show_preview(query, state, link)


@routes.message(NewPost.when_at, TYPED)
async def when_typed(message: Message, state: FSMContext, link: TelegramLink) -> None:
    data = await state.get_data()
    zone = await sync_to_async(member_zone)(link.user, data["ws"])
    try:
        at = parse_local(message.text, zone)
    except ValidationError as exc:
        markup = keyboard([back_button(Step(act="back", arg="when").pack()), cancel_button()])
        await message.answer(refused(exc), reply_markup=markup)
        return
    await state.update_data(at=at.isoformat())
    await show_preview(message, state, link)


@routes.callback_query(NewPost.preview, Step.filter(F.act == "pub"))
async def publish(query: CallbackQuery, state: FSMContext, link: TelegramLink) -> None:
    await query.answer()
    data = await state.get_data()
    try:
        plan = await network(_publish)(link, data)
    except ObjectDoesNotExist:
        await say(query, _("Post not found."))
        await state.clear()
        return
    except ValidationError as exc:
        markup = preview_markup(data.get("needs_approval", False))
        await say(query, _("Not published: %(reason)s") % {"reason": refused(exc)}, markup)
        return
    await state.clear()
    await drop_buttons(query)
    await say(
        query,
        ngettext(
            "Published: %(planned)d account will post it (%(blocked)d blocked).",
            "Published: %(planned)d accounts will post it (%(blocked)d blocked).",
            plan.created,
        )
        % {"planned": plan.created, "blocked": plan.blocked},
    )
    text = await sync_to_async(progress_start)(post_id=data["post"], link=link)
    sent = await say(query, text)
    await sync_to_async(progress_register)(
        post_id=data["post"], link=link, chat_id=sent.chat.id, message_id=sent.message_id, text=text
    )


@routes.callback_query(NewPost.preview, Step.filter(F.act == "sub"))
async def submit(query: CallbackQuery, state: FSMContext, link: TelegramLink) -> None:
    await query.answer()
    data = await state.get_data()
    try:
        post = await sync_to_async(_submit)(link, data)
    except ObjectDoesNotExist:
        await say(query, _("Post not found."))
        await state.clear()
        return
    except (ValidationError, PermissionDenied) as exc:
        reason = refused(exc) if isinstance(exc, ValidationError) else str(exc)
        await say(query, _("Not submitted: %(reason)s") % {"reason": reason}, preview_markup(True))
        return
    await state.clear()
    await drop_buttons(query)
    await say(query, _("Post #%(id)d was submitted for approval: the approvers were told.") % {"id": post.pk})


@routes.callback_query(NewPost.preview, Step.filter(F.act == "draft"))
async def save_draft(query: CallbackQuery, state: FSMContext, link: TelegramLink, access: Access) -> None:
    await query.answer()
    data = await state.get_data()
    try:
        post = await sync_to_async(_keep_draft)(link, data["post"])
    except ObjectDoesNotExist:
        await say(query, _("Post not found."))
        await state.clear()
        return
    await state.clear()
    await drop_buttons(query)
    await say(
        query,
        _("Saved as draft #%(id)d. Find it on the dashboard under Posts (drafts) to edit or publish it later.") % {"id": post.pk},
        menu_keyboard(access),
    )


@routes.callback_query(StateFilter(NewPost), Step.filter(F.act == "back"))
async def back(query: CallbackQuery, callback_data: Step, state: FSMContext, link: TelegramLink) -> None:
    await query.answer()
    data = await state.get_data()
    if data.get("post"):  # leaving the preview: its draft goes, a new preview makes a new one
        await sync_to_async(_drop)(link, data["post"])
        await state.update_data(post=None)
    target = callback_data.arg
    if target == "media":
        await ask_media(query, state)
    elif target == "caption":
        await ask_caption(query, state)
    elif target == "language":
        await ask_language(query, state, link)
    elif target == "groups":
        await ask_groups(query, state, link)
    else:
        await ask_when(query, state, link)


@routes.callback_query(Step.filter())
async def stale_button(query: CallbackQuery) -> None:
    """A button of a step the conversation has left (or of a cancelled one)."""
    await query.answer(_("This button is no longer active. Start again with /new."), show_alert=True)


@routes.message(StateFilter(NewPost), ~F.text.startswith("/"))
async def unexpected(message: Message, state: FSMContext) -> None:
    """Something this step does not take (a sticker, a photo after the media step…)."""
    step = await state.get_state()
    if step == NewPost.media.state:
        text = _("Send a photo or a video (or a text).")
    elif step in (NewPost.workspace.state, NewPost.groups.state, NewPost.when.state, NewPost.preview.state):
        text = _("Use the buttons above, or /cancel.")
    else:
        text = _("Send a text, or /cancel.")
    await message.answer(text)
