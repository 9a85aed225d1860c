"""Accounts: the ones that need attention (failing, login required, banned, proxy error, cooldown…)
and why, with Pause / Resume and Run a check for admins — the services behind the dashboard's and
the API's buttons (``accounts_set_enabled``, ``publishing.health.account_check``)."""

from __future__ import annotations

import uuid

from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton
from django.utils.translation import gettext as _

from accounts.models import AccountEvent, AccountStatus, Role, SocialAccount
from accounts.services import accounts_set_enabled
from crosspost.logging import redact
from crosspost.models import LogStatus
from dashboard import selectors
from dashboard.selectors import Access
from publishing.health import account_check

from ..models import TelegramLink
from ..services import bot_action
from ..ui import Menu, keyboard
from . import Routes
from .screens import Screen, local_time, menu_button, not_found, respond, role_needed, section_entry, short, zone_of

routes = Routes("accounts")

LIMIT = 10
ICONS = {
    AccountStatus.ACTIVE: "🟢",
    AccountStatus.COOLDOWN: "⏸",
    AccountStatus.LOGIN_REQUIRED: "🔑",
    AccountStatus.PROXY_ERROR: "🌐",
    AccountStatus.NO_ACCESS: "🚷",
    AccountStatus.BANNED: "⛔",
    AccountStatus.DISABLED: "⏹",
}


class AccountAct(CallbackData, prefix="ac"):
    """``id`` is the account's UUID as 32 hex digits (callback data holds 64 bytes)."""

    id: str
    act: str  # open | pause | resume | check


def reason_of(account: SocialAccount, zone) -> str:
    parts = []
    if account.status == AccountStatus.COOLDOWN and account.cooldown_until:
        parts.append(_("cooldown until %(when)s") % {"when": local_time(account.cooldown_until, zone)})
    reason = redact(getattr(account, "last_error", "") or account.status_reason)
    if reason:
        parts.append(short(reason, 120))
    return "; ".join(parts)


def accounts_screen(user) -> Screen:
    zone = zone_of(user)
    accounts = selectors.problem_accounts(user, limit=LIMIT)
    lines = [_("Accounts that need attention"), ""]
    for account in accounts:
        line = f"{ICONS.get(account.status, '•')} {account} · {account.get_status_display()}"
        if account.failures_7d:
            line += " · " + _("%(count)d failed in 7 days") % {"count": account.failures_7d}
        reason = reason_of(account, zone)
        lines.append(line + (f"\n   {reason}" if reason else ""))
    if not accounts:
        lines.append(_("All accounts are fine."))
    opens = [
        InlineKeyboardButton(text=short(account.handle, 20), callback_data=AccountAct(id=account.pk.hex, act="open").pack())
        for account in accounts
    ]
    return Screen("\n".join(lines), keyboard(*[opens[i : i + 2] for i in range(0, len(opens), 2)], [menu_button()]))


def visible_account(user, account_id: str) -> SocialAccount:
    try:
        pk = uuid.UUID(hex=account_id)
    except ValueError:
        raise not_found("account") from None
    account = selectors.account_page(user).filter(pk=pk).first()
    if account is None:
        raise not_found("account")
    return account


def account_card(user, access: Access, account_id: str, notice: str = "") -> Screen:
    account = visible_account(user, account_id)
    zone = zone_of(user)
    lines = [notice, ""] if notice else []
    lines += [
        f"{ICONS.get(account.status, '•')} {account}",
        _("Workspace: %(workspace)s") % {"workspace": account.workspace.name},
        _("Status: %(status)s") % {"status": account.get_status_display()},
    ]
    if account.status_reason:
        lines.append(_("Reason: %(reason)s") % {"reason": short(redact(account.status_reason), 300)})
    if account.cooldown_until:
        lines.append(_("Cooldown until: %(when)s") % {"when": local_time(account.cooldown_until, zone)})
    if account.group_id:
        lines.append(_("Group: %(group)s") % {"group": account.group.name})
    if account.proxy_id:
        proxy = account.proxy
        lines.append(_("Proxy: %(proxy)s (%(status)s)") % {"proxy": proxy.display_url, "status": proxy.get_status_display()})
    lines.append(_("Last post: %(when)s") % {"when": local_time(account.last_post_at, zone)})
    lines.append(_("Last check: %(when)s") % {"when": local_time(account.last_check_at, zone)})
    event = AccountEvent.objects.filter(account=account).order_by("-created_at", "-pk").first()
    if event is not None:
        lines.append(
            _("Last event: %(when)s %(change)s")
            % {"when": local_time(event.created_at, zone), "change": short(redact(str(event)), 160)}
        )

    def act(name: str) -> str:
        return AccountAct(id=account.pk.hex, act=name).pack()

    writes = []
    if access.can(account.workspace_id, Role.ADMIN):
        if account.status == AccountStatus.DISABLED:
            writes.append(InlineKeyboardButton(text="▶ " + _("Resume"), callback_data=act("resume")))
        else:
            writes.append(InlineKeyboardButton(text="⏸ " + _("Pause"), callback_data=act("pause")))
        writes.append(InlineKeyboardButton(text="🩺 " + _("Run a check"), callback_data=act("check")))
    return Screen(
        "\n".join(lines),
        keyboard(
            [InlineKeyboardButton(text="🔄 " + _("Refresh"), callback_data=act("open"))],
            writes,
            [InlineKeyboardButton(text="← " + _("Back"), callback_data=Menu(section="accounts").pack()), menu_button()],
        ),
    )


def admin_account(user, access: Access, account_id: str) -> SocialAccount:
    account = visible_account(user, account_id)
    if not access.can(account.workspace_id, Role.ADMIN):
        raise role_needed(Role.ADMIN)
    return account


def set_enabled(link: TelegramLink, access: Access, account_id: str, enabled: bool) -> Screen:
    account = admin_account(link.user, access, account_id)
    changed = accounts_set_enabled(accounts=SocialAccount.objects.filter(pk=account.pk), enabled=enabled, actor=link.user)
    if enabled:
        notice = _("Resumed: the account publishes again.") if changed else _("The account was already active.")
    else:
        notice = _("Paused: nothing is published to this account until it is resumed.")
        if not changed:
            notice = _("The account was already paused.")
    bot_action(
        link=link,
        action="account.resume" if enabled else "account.pause",
        account=account,
        status=LogStatus.SUCCESS if changed else LogStatus.INFO,
        message=notice,
    )
    screen = account_card(link.user, access, account_id, notice=notice)
    screen.toast = notice
    return screen


def check(link: TelegramLink, access: Access, account_id: str) -> Screen:
    """Check the account on its platform now — what the API's and the admin's "check" run."""
    account = admin_account(link.user, access, account_id)
    health = account_check(account=account, actor=link.user)
    detail = short(redact(health.detail), 300)
    notice = (_("Check passed: %(detail)s") if health.ok else _("Check failed: %(detail)s")) % {"detail": detail or "—"}
    bot_action(
        link=link,
        action="account.check",
        account=account,
        status=LogStatus.SUCCESS if health.ok else LogStatus.FAILED,
        message=notice,
    )
    screen = account_card(link.user, access, account_id, notice=notice)
    screen.toast = _("Check passed.") if health.ok else _("Check failed.")
    return screen


section_entry(routes, "accounts", accounts_screen, lambda link, access: (link.user,))


@routes.callback_query(AccountAct.filter())
async def account_action(query: CallbackQuery, callback_data: AccountAct, link: TelegramLink, access: Access) -> None:
    account_id, act = callback_data.id, callback_data.act
    if act == "open":
        await respond(query, account_card, link.user, access, account_id)
    elif act in ("pause", "resume"):
        await respond(query, set_enabled, link, access, account_id, act == "resume")
    elif act == "check":
        await respond(query, check, link, access, account_id, network=True)
    else:
        await query.answer(_("This button is out of date: open the menu again."), show_alert=True)
