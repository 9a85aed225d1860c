"""What the section handlers share: a screen is built by a sync function (the ORM, services and
gettext run there, through ``sync_to_async``) and shown by editing the message whose button was
tapped, or as a new message after a command or a typed answer.

A builder refuses with ``Refused(text)`` — not found, or the member's role is too low — and the
member gets that text (an alert for a tap), nothing else changes."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from asgiref.sync import sync_to_async
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.selectors import primary_membership
from dashboard.selectors import workspaces_with_role

from ..aio import network as network_thread
from ..ui import Menu, cancel_button, keyboard

TEXT_LIMIT = 4000  # Telegram takes 4096 characters; room for the notice line


class Refused(Exception):
    """The member may not see or do this; the message (already translated) says why."""


@dataclass
class Screen:
    text: str
    markup: InlineKeyboardMarkup | None = None
    toast: str = ""  # the answer to the tap, shown briefly on top of the chat


def not_found(kind: str) -> Refused:
    """``kind``: "post" or "account" (whole sentences, so each language can agree its words)."""
    messages = {
        "post": _("Post not found: it was deleted, or it is not in your workspaces."),
        "account": _("Account not found: it was deleted, or it is not in your workspaces."),
    }
    return Refused(messages[kind])


def role_needed(role: str, *, section: bool = False) -> Refused:
    """Refused for the role: in the object's workspace, or (``section``) in any workspace."""
    label = Role(role).label.lower()
    if section:
        return Refused(_("You need the %(role)s role to do this.") % {"role": label})
    return Refused(_("You need the %(role)s role in this workspace to do this.") % {"role": label})


def menu_button() -> InlineKeyboardButton:
    """To the main menu (beside a Back to the screen before, when there is one)."""
    return InlineKeyboardButton(text="☰ " + _("Menu"), callback_data=Menu(section="menu").pack())


def short(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def zone_of(user) -> zoneinfo.ZoneInfo:
    """The member's time zone: their membership's, else their workspace's (as on the dashboard)."""
    membership = primary_membership(user)
    return zoneinfo.ZoneInfo(membership.effective_timezone) if membership else timezone.get_default_timezone()


def local_time(value: datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    """``value`` in ``zone``, short, with the zone's abbreviation."""
    if value is None:
        return "—"
    local = timezone.localtime(value, zone)
    return f"{formats.date_format(local, 'd.m.Y H:i')} ({local.tzname()})"


async def show(event: Message | CallbackQuery, screen: Screen) -> None:
    text = screen.text if len(screen.text) <= TEXT_LIMIT else screen.text[: TEXT_LIMIT - 1] + "…"
    if isinstance(event, CallbackQuery):
        await event.answer(screen.toast[:200] or None)
        if event.message is None:
            return
        try:
            await event.message.edit_text(text, reply_markup=screen.markup)
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:  # a Refresh with nothing new is fine
                raise
    else:
        if screen.toast:
            await event.answer(screen.toast)
        await event.answer(text, reply_markup=screen.markup)


async def respond(
    event: Message | CallbackQuery, build: Callable[..., Screen], *args, network: bool = False, **kwargs
) -> Screen | None:
    """Build a screen in a worker thread and show it; a refusal is told to the member instead.

    ``network``: the builder waits on the network (a platform check, a plan's translations): it runs
    through ``bot.aio.network``, so a slow platform holds up only this member."""
    try:
        if network:
            screen = await network_thread(build)(*args, **kwargs)
        else:
            screen = await sync_to_async(build)(*args, **kwargs)
    except Refused as exc:
        if isinstance(event, CallbackQuery):
            await event.answer(str(exc)[:200], show_alert=True)
        else:
            await event.answer(str(exc))
        return None
    await show(event, screen)
    return screen


def section_entry(routes, section: str, build: Callable[..., Screen], arguments: Callable) -> None:
    """A section's two doors: the ``/<section>`` command and the menu's ``section`` button. Both
    leave any conversation and show ``build(*arguments(link, access))``."""

    async def enter(event: Message | CallbackQuery, state: FSMContext, link, access) -> None:
        await state.clear()
        await respond(event, build, *arguments(link, access))

    enter.__name__ = f"{section}_entry"
    routes.message(Command(section))(enter)
    routes.callback_query(Menu.filter(F.section == section))(enter)


# --- what the conversations (new post, new campaign) share -----------------------------------------------


async def say(event: Message | CallbackQuery, text: str, markup=None) -> Message:
    """A new message in the member's chat (steps never edit an old one: the member sees the path)."""
    message = event.message if isinstance(event, CallbackQuery) else event
    return await message.answer(text, reply_markup=markup)


async def drop_buttons(query: CallbackQuery) -> None:
    """Take the buttons off the message whose button did its work (already gone: nothing to do)."""
    if query.message is not None:
        try:
            await query.message.edit_reply_markup(reply_markup=None)
        except TelegramBadRequest:
            pass


def editor_workspaces(user) -> list[tuple[int, str]]:
    """(id, name) of the workspaces where ``user`` may create: editor or more."""
    return [(w.pk, w.name) for w in workspaces_with_role(user, Role.EDITOR)]


async def ask_workspace(event, state: FSMContext, link, *, waiting: State, question: str, button) -> int | None:
    """The member's one editor workspace (its id), or None after asking which one — ``button(name,
    id)`` makes each choice, and the conversation waits in state ``waiting`` for the tap."""
    workspaces = await sync_to_async(editor_workspaces)(link.user)
    if len(workspaces) == 1:
        return workspaces[0][0]
    await state.set_state(waiting)
    rows = [[button(name, pk)] for pk, name in workspaces[:30]]
    await say(event, question, keyboard(*rows, [cancel_button()]))
    return None
