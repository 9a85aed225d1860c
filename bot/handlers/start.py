"""/start (with a link code), the menu, /help and /cancel — in every state."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.models import Role
from dashboard.selectors import Access

from ..middlewares import language_of
from ..models import TelegramLink
from ..services import bot_action, link_redeem
from ..ui import CANCEL, Menu, menu_keyboard
from . import Routes

routes = Routes("start")


def greeting(link: TelegramLink) -> str:
    return _("Crosspost — what would you like to do?")


@routes.message(CommandStart(deep_link=True))
async def start_with_code(message: Message, command: CommandObject, state: FSMContext, link, access) -> None:
    user = message.from_user
    try:
        link = await sync_to_async(link_redeem)(
            code=command.args or "",
            telegram_user_id=user.id,
            chat_id=message.chat.id,
            username=user.username or "",
            language=language_of(user),
        )
    except ValidationError as exc:
        await message.answer(" ".join(exc.messages))
        return
    from dashboard.selectors import access_for

    access = await sync_to_async(access_for)(link.user)
    await state.clear()
    await message.answer(
        _("Linked: this Telegram account now acts as %(user)s.") % {"user": link.user.get_username()},
    )
    await message.answer(greeting(link), reply_markup=menu_keyboard(access))


@routes.message(CommandStart())
@routes.message(Command("menu"))
async def start(message: Message, state: FSMContext, link: TelegramLink, access: Access) -> None:
    await state.clear()
    await message.answer(greeting(link), reply_markup=menu_keyboard(access))


@routes.message(Command("cancel"))
async def cancel_command(message: Message, state: FSMContext, link: TelegramLink, access: Access) -> None:
    had = await state.get_state()
    await state.clear()
    if had:
        await sync_to_async(bot_action)(link=link, action="cancel", message=f"Cancelled at {had}.")
    await message.answer(_("Cancelled.") if had else _("Nothing to cancel."), reply_markup=menu_keyboard(access))


@routes.callback_query(F.data == CANCEL)
async def cancel_button(query: CallbackQuery, state: FSMContext, link: TelegramLink, access: Access) -> None:
    had = await state.get_state()
    await state.clear()
    if had:
        await sync_to_async(bot_action)(link=link, action="cancel", message=f"Cancelled at {had}.")
    await query.answer(_("Cancelled."))
    if query.message is not None:
        await query.message.edit_text(_("Cancelled."), reply_markup=menu_keyboard(access))


@routes.callback_query(Menu.filter(F.section == "menu"))
async def menu_again(query: CallbackQuery, state: FSMContext, link: TelegramLink, access: Access) -> None:
    await state.clear()
    await query.answer()
    if query.message is not None:
        await query.message.edit_text(greeting(link), reply_markup=menu_keyboard(access))


def help_text(access: Access) -> str:
    lines = [_("What you can do here:")]
    lines.append("• " + _("Posts: the latest posts and their progress; history with filters."))
    lines.append("• " + _("Accounts: accounts that need attention and why."))
    lines.append("• " + _("Settings: language, notifications, default groups."))
    lines.append("• " + _("Campaigns (/campaigns): your ad campaigns, their progress and results."))
    lines.append("• " + _("Studio (/studio): the latest recordings, their status and progress."))
    if access.can_anywhere(Role.EDITOR):
        lines.append("• " + _("New post: media or text → caption → language → groups → when → preview → publish."))
        lines.append("• " + _("Review: drafts waiting for review — approve, edit the caption, reject."))
        lines.append("• " + _("Posts: retry failed executions, cancel a post."))
        lines.append("• " + _("Studio: run a recording's whole pipeline, cancel its job, skip it."))
        lines.append(
            "• " + _("Campaigns (/campaign): name → product → keywords → region → URL → budget → live progress → the sheet.")
        )
    else:
        lines.append(_("Your role is viewer: you can read, not publish or change anything."))
    if access.can_anywhere(Role.ADMIN):
        lines.append("• " + _("Accounts: pause, resume and check an account."))
        lines.append("• " + _("Admin: overview figures, queues, failing proxies, worker and beat health."))
    lines.append(_("/cancel stops any conversation; /menu shows the menu."))
    return "\n".join(lines)


@routes.message(Command("help"))
async def help_command(message: Message, access: Access) -> None:
    await message.answer(help_text(access), reply_markup=menu_keyboard(access))


@routes.callback_query(Menu.filter(F.section == "help"))
async def help_button(query: CallbackQuery, access: Access) -> None:
    await query.answer()
    if query.message is not None:
        await query.message.edit_text(help_text(access), reply_markup=menu_keyboard(access))


# Last of all routers (handlers/__init__.py): what no conversation took.
fallback = Routes("fallback")


@fallback.message()
async def not_understood(message: Message, state: FSMContext, access: Access) -> None:
    """Text (or media) outside any conversation: say so and offer the menu, rather than silence."""
    await message.answer(_("I did not understand that. Choose what to do:"), reply_markup=menu_keyboard(access))


@fallback.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    """A button of a finished conversation (or from before an update of the bot): answer the tap, so
    the member's client stops waiting, and say why nothing happened."""
    await query.answer(_("This button is no longer active. Open /menu."), show_alert=True)
