"""Admin: for members who are admins somewhere — the overview figures of the workspaces they
administer (posts out today and in 7 days, executions waiting and failed, accounts needing action),
the queue (executions due now, publishing now, renders waiting), failing proxies (address only,
never credentials) and whether the worker and beat are alive. Celery's own queue lengths are not
shown: the embedded broker has no cheap way to count them; executions due now say the same."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiogram.types import InlineKeyboardButton
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import NEEDS_ACTION_STATUSES, Proxy, ProxyStatus, Role
from accounts.selectors import workspaces_for
from crosspost.logging import redact
from dashboard import selectors
from dashboard.selectors import Access
from media.models import MediaStatus, Rendition
from publishing.models import Execution, ExecutionStatus
from publishing.stats import WAITING_STATUSES, overview

from ..ui import Menu, keyboard
from . import Routes
from .screens import Screen, local_time, menu_button, role_needed, section_entry, short, zone_of

routes = Routes("admin")

PROXIES_SHOWN = 8


def admin_numbers(user, workspace_ids: list[int]) -> dict:
    """publishing.stats.overview summed over the workspaces ``user`` administers: one pass when
    that is every workspace they see, else one per administered workspace."""
    if set(workspace_ids) == set(workspaces_for(user).values_list("pk", flat=True)):
        parts = [overview(user)]
    else:
        parts = [overview(user, workspace_id) for workspace_id in workspace_ids]
    return {
        "today": sum(part["posts"]["today"] for part in parts),
        "week": sum(part["posts"]["last_7_days"] for part in parts),
        "waiting": sum(part["queue"]["total"] for part in parts),
        "failed": sum(part["executions"]["by_status"][ExecutionStatus.FAILED] for part in parts),
        "blocked": sum(part["executions"]["by_status"][ExecutionStatus.BLOCKED] for part in parts),
        "needs_action": sum(part["accounts"]["by_status"][s] for part in parts for s in NEEDS_ACTION_STATUSES),
    }


def proxy_error(proxy: Proxy) -> str:
    """The proxy's last error without its password (the URL holding it is decrypted only for this)."""
    error = proxy.last_error or ""
    password = urlsplit(proxy.url).password if error else None
    if password:
        error = error.replace(password, "<redacted>")
    return short(redact(error), 120)


def admin_screen(user, access: Access) -> Screen:
    if not access.can_anywhere(Role.ADMIN):
        raise role_needed(Role.ADMIN, section=True)
    workspace_ids = list(selectors.workspaces_with_role(user, Role.ADMIN).values_list("pk", flat=True))
    numbers = admin_numbers(user, workspace_ids)
    now = timezone.now()
    executions = Execution.objects.filter(workspace_id__in=workspace_ids)
    due = executions.filter(status__in=WAITING_STATUSES, scheduled_for__lte=now).count()
    posting = executions.filter(status=ExecutionStatus.POSTING).count()
    renders = Rendition.objects.filter(asset__workspace_id__in=workspace_ids, status=MediaStatus.PENDING).count()
    failing = list(
        Proxy.objects.filter(workspace_id__in=workspace_ids, status=ProxyStatus.FAILED)
        .select_related("workspace")
        .order_by("-last_check_at", "pk")[: PROXIES_SHOWN + 1]
    )
    zone = zone_of(user)
    lines = [
        _("Admin overview (%(count)d workspace(s) you administer)") % {"count": len(workspace_ids)},
        "",
        _("Posts published: today %(today)d, 7 days %(week)d") % numbers,
        _("Executions: %(waiting)d waiting, %(failed)d failed, %(blocked)d blocked") % numbers,
        _("Accounts needing action: %(needs_action)d") % numbers,
        "",
        _("Queue: %(due)d due now, %(posting)d publishing now, %(renders)d renders waiting")
        % {"due": due, "posting": posting, "renders": renders},
        "",
    ]
    if failing:
        lines.append(_("Failing proxies:"))
        for proxy in failing[:PROXIES_SHOWN]:
            checked = local_time(proxy.last_check_at, zone)
            error = proxy_error(proxy)
            lines.append(f"🌐 {proxy.display_url} ({proxy.workspace.name}) · {checked}" + (f"\n   {error}" if error else ""))
        if len(failing) > PROXIES_SHOWN:
            lines.append(_("…and more on the dashboard."))
    else:
        lines.append(_("No failing proxies."))
    lines.append("")
    for beat in selectors.heartbeats(now):
        if beat.seen_at is None:
            state = _("never seen")
        else:
            state = (_("alive, seen %(ago)s ago") if beat.ok else _("NOT responding, last seen %(ago)s ago")) % {
                "ago": selectors.duration_label(beat.age_s)
            }
        lines.append(f"{'✅' if beat.ok else '⚠'} {beat.name}: {state}")
    return Screen(
        "\n".join(lines),
        keyboard(
            [InlineKeyboardButton(text="🔄 " + _("Refresh"), callback_data=Menu(section="admin").pack()), menu_button()],
        ),
    )


section_entry(routes, "admin", admin_screen, lambda link, access: (link.user, access))
