"""Keyboards and texts every conversation shares."""

from __future__ import annotations

from aiogram import F
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from django.utils.translation import gettext as _

from accounts.models import Role
from dashboard.selectors import Access


class Menu(CallbackData, prefix="menu"):
    """A main-menu section: new, posts, review, campaigns, studio, accounts, settings, admin, help."""

    section: str


# A typed answer; a command (/menu, /help, …) is not one and goes on to its own handler.
TYPED = F.text & ~F.text.startswith("/")

CANCEL = "cancel"  # callback data of every Cancel button (handlers.start.cancel answers it)


def cancel_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(text="✖ " + _("Cancel"), callback_data=CANCEL)


def back_button(callback_data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text="← " + _("Back"), callback_data=callback_data)


def keyboard(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def menu_sections(access: Access) -> list[tuple[str, str]]:
    """(section, label) the member's role opens, in menu order."""
    sections = []
    if access.can_anywhere(Role.EDITOR):
        sections.append(("new", "📝 " + _("New post")))
    sections.append(("posts", "📋 " + _("Posts")))
    if access.can_anywhere(Role.EDITOR):
        sections.append(("review", "👀 " + _("Review")))
    sections.append(("campaigns", "📣 " + _("Campaigns")))  # viewers see the history
    sections.append(("studio", "🎬 " + _("Studio")))
    sections.append(("accounts", "👤 " + _("Accounts")))
    sections.append(("settings", "⚙ " + _("Settings")))
    if access.can_anywhere(Role.ADMIN):
        sections.append(("admin", "🛠 " + _("Admin")))
    sections.append(("help", "❓ " + _("Help")))
    return sections


def menu_keyboard(access: Access) -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(text=label, callback_data=Menu(section=s).pack()) for s, label in menu_sections(access)]
    return keyboard(*[buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def progress_bar(done: int, total: int, width: int = 10) -> str:
    """``▓▓▓▓▓░░░░░ 52%`` — ``done`` of ``total`` finished."""
    share = done / total if total else 1.0
    filled = min(width, int(share * width + 0.5)) if total else width
    return f"{'▓' * filled}{'░' * (width - filled)} {int(share * 100 + 0.5) if total else 100}%"
