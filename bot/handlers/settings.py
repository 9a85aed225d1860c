"""Settings: the bot's language, which notifications the member gets here, and the default groups the
New-post conversation pre-selects. Every change is saved at once and written to the activity log."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Role
from crosspost.models import LogStatus
from dashboard import selectors
from publishing import notifications

from ..models import BotLanguage, TelegramLink
from ..services import bot_action
from ..ui import keyboard
from . import Routes
from .screens import Refused, Screen, menu_button, respond, section_entry, short

routes = Routes("settings")

MAX_GROUPS = 40  # buttons under one message stay usable


class SettingsAct(CallbackData, prefix="se"):
    act: str  # open | lang | notify | groups | group
    value: str = ""


def kind_labels() -> dict[str, str]:
    return {
        notifications.POST_FINISHED: _("A post finished"),
        notifications.ACCOUNT_PROBLEM: _("An account needs attention"),
        notifications.PROXY_DOWN: _("A proxy is down"),
        notifications.UNCONFIRMED: _("A publish could not be confirmed"),
        notifications.SOURCE_FAILING: _("A source keeps failing"),
    }


def settings_screen(link: TelegramLink, notice: str = "") -> Screen:
    link.refresh_from_db()
    labels = kind_labels()
    wanted = set(link.notify or [])
    groups = list(link.default_groups.order_by("name").values_list("name", flat=True))
    lines = [notice, ""] if notice else []
    lines += [
        _("Settings"),
        "",
        _("Language: %(language)s") % {"language": BotLanguage(link.language).label},
        _("Notifications here: %(kinds)s")
        % {"kinds": ", ".join(label for kind, label in labels.items() if kind in wanted) or _("none")},
        _("Default groups for a new post: %(groups)s") % {"groups": ", ".join(groups) or _("none")},
    ]
    languages = [
        InlineKeyboardButton(
            text=("✓ " if value == link.language else "") + label, callback_data=SettingsAct(act="lang", value=value).pack()
        )
        for value, label in BotLanguage.choices
    ]
    toggles = [
        [
            InlineKeyboardButton(
                text=("✓ " if kind in wanted else "✗ ") + label, callback_data=SettingsAct(act="notify", value=kind).pack()
            )
        ]
        for kind, label in labels.items()
    ]
    return Screen(
        "\n".join(lines),
        keyboard(
            languages,
            *toggles,
            [InlineKeyboardButton(text="👥 " + _("Default groups"), callback_data=SettingsAct(act="groups").pack())],
            [menu_button()],
        ),
    )


def set_language(link: TelegramLink, language: str) -> Screen:
    if language not in BotLanguage.values:
        raise Refused(_("Unknown language."))
    link.refresh_from_db()
    if link.language != language:
        link.language = language
        link.save(update_fields=["language"])
        bot_action(link=link, action="settings.language", status=LogStatus.SUCCESS, message=f"Bot language: {language}.")
    # The next screen already speaks the new language.
    with translation.override(language):
        notice = _("The bot speaks English now.") if language == BotLanguage.EN else _("The bot speaks Russian now.")
        screen = settings_screen(link, notice=notice)
        screen.toast = screen.text.split("\n")[0]
        return screen


@transaction.atomic
def toggle_notification(link: TelegramLink, kind: str) -> Screen:
    if kind not in notifications.NOTIFICATION_KINDS:
        raise Refused(_("Unknown notification."))
    link = TelegramLink.objects.select_for_update().get(pk=link.pk)
    wanted = list(link.notify or [])
    on = kind not in wanted
    link.notify = [*wanted, kind] if on else [k for k in wanted if k != kind]
    link.save(update_fields=["notify"])
    bot_action(
        link=link, action="settings.notify", status=LogStatus.SUCCESS, message=f"Notification {kind}: {'on' if on else 'off'}."
    )
    label = kind_labels()[kind]
    notice = (_("On: %(kind)s.") if on else _("Off: %(kind)s.")) % {"kind": label}
    screen = settings_screen(link, notice=notice)
    screen.toast = notice
    return screen


def editable_groups(user) -> list:
    """The groups of the workspaces where the member may compose (editor and up)."""
    return selectors.groups_for(user, Role.EDITOR)[:MAX_GROUPS]


def groups_screen(link: TelegramLink, notice: str = "") -> Screen:
    groups = editable_groups(link.user)
    chosen = set(link.default_groups.values_list("pk", flat=True))
    several = len({group.workspace_id for group in groups}) > 1
    lines = [notice, ""] if notice else []
    lines.append(_("Default groups: a new post starts with these selected. Tap to add or remove."))
    if not groups:
        lines.append(_("There are no groups in the workspaces where you are an editor."))
    buttons = [
        [
            InlineKeyboardButton(
                text=("✓ " if group.pk in chosen else "▫ ")
                + short(group.name, 40)
                + (f" · {short(group.workspace.name, 20)}" if several else ""),
                callback_data=SettingsAct(act="group", value=str(group.pk)).pack(),
            )
        ]
        for group in groups
    ]
    return Screen(
        "\n".join(lines),
        keyboard(
            *buttons,
            [InlineKeyboardButton(text="← " + _("Back"), callback_data=SettingsAct(act="open").pack()), menu_button()],
        ),
    )


def toggle_group(link: TelegramLink, group_id: str) -> Screen:
    group = next((g for g in editable_groups(link.user) if str(g.pk) == group_id), None)
    if group is None:
        raise Refused(_("Group not found among the groups of your editor workspaces."))
    on = not link.default_groups.filter(pk=group.pk).exists()
    if on:
        link.default_groups.add(group)
    else:
        link.default_groups.remove(group)
    bot_action(
        link=link,
        action="settings.default_groups",
        workspace=group.workspace,
        status=LogStatus.SUCCESS,
        message=f"Default group {group.name}: {'on' if on else 'off'}.",
    )
    notice = (_("Added: %(group)s.") if on else _("Removed: %(group)s.")) % {"group": group.name}
    screen = groups_screen(link, notice=notice)
    screen.toast = notice
    return screen


section_entry(routes, "settings", settings_screen, lambda link, access: (link,))


@routes.callback_query(SettingsAct.filter())
async def settings_action(query: CallbackQuery, callback_data: SettingsAct, link: TelegramLink) -> None:
    act, value = callback_data.act, callback_data.value
    if act == "open":
        await respond(query, settings_screen, link)
    elif act == "lang":
        await respond(query, set_language, link, value)
    elif act == "notify":
        await respond(query, toggle_notification, link, value)
    elif act == "groups":
        await respond(query, groups_screen, link)
    elif act == "group":
        await respond(query, toggle_group, link, value)
    else:
        await query.answer(_("This button is out of date: open the menu again."), show_alert=True)
