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

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from asgiref.sync import sync_to_async
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.selectors import primary_membership

from ..aio import network as network_thread
from ..ui import Menu

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
