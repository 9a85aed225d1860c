"""Reading the time a member picks in the bot: typed dates in their time zone, and the next free slot.

Sync (ORM); the handlers call these through ``sync_to_async``."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccountStatus, Membership, SocialAccount, Workspace
from dashboard.forms import aware_local
from posts.services import check_scheduled_at
from publishing.models import PublishingPolicy
from publishing.planner import busy_times, policy_for

SLOT_STEP = timedelta(minutes=15)
SLOT_LEAD = timedelta(minutes=5)
SLOT_HORIZON = timedelta(days=14)

# 24.12 18:30 · 24.12.2026 18:30 · 24.12.26 18.30
DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})(?:\.(\d{2}|\d{4}))?\s+(\d{1,2})[:.](\d{2})$")
# 2026-12-24 18:30 · 2026-12-24T18:30
ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})$")


def member_zone(user, workspace_id: int) -> str:
    """The member's time zone in the workspace (their own, else the workspace's)."""
    membership = Membership.objects.select_related("workspace").filter(user=user, workspace_id=workspace_id).first()
    if membership is not None:
        return membership.effective_timezone
    return Workspace.objects.filter(pk=workspace_id).values_list("timezone", flat=True).first() or "UTC"


def parse_local(text: str, zone_name: str, *, now: datetime | None = None) -> datetime:
    """``text`` (``24.12 18:30``, ``24.12.2026 18:30`` or ``2026-12-24 18:30``) read in ``zone_name``.

    Without a year the date is this year's, or next year's when that day is already behind us (in
    December, ``05.01`` means January). A ValidationError says what to fix: an unreadable text, a
    wall-clock time the daylight-saving change skips or repeats (the dashboard's rule), a past time."""
    zone = zoneinfo.ZoneInfo(zone_name)
    now = now or timezone.now()
    today = now.astimezone(zone).date()
    value = " ".join(text.split())
    unreadable = ValidationError(
        _("I could not read “%(value)s” as a date and time. Type it like 24.12 18:30 or 2026-12-24 18:30.")
        % {"value": value[:40]},
        code="invalid",
    )
    try:
        if match := DOTTED.match(value):
            day, month, year, hour, minute = match.groups()
            if year is None:
                day_ = date(today.year, int(month), int(day))
                if day_ < today:
                    day_ = date(today.year + 1, int(month), int(day))
            else:
                day_ = date(int(year) + (2000 if len(year) == 2 else 0), int(month), int(day))
        elif match := ISO.match(value):
            year, month, day, hour, minute = match.groups()
            day_ = date(int(year), int(month), int(day))
        else:
            raise unreadable
        clock = time(int(hour), int(minute))
    except ValueError:
        raise unreadable from None
    at = aware_local(day_, clock, zone)
    check_scheduled_at(at, now=now)
    return at


def next_free_slot(*, workspace_id: int, group_ids: list[int], now: datetime | None = None) -> datetime | None:
    """The next free slot: the earliest 15-minute boundary at least 5 minutes from now at which no
    active target account (of ``group_ids``) has an open or recent post (``busy_times``) closer than
    its platform policy's minimum interval. None when there is none in the next 14 days.

    Three queries whatever the number of accounts: the accounts, their busy times, the policies."""
    now = now or timezone.now()
    accounts = list(
        SocialAccount.objects.filter(workspace_id=workspace_id, group_id__in=group_ids, status=AccountStatus.ACTIVE).values_list(
            "pk", "platform"
        )
    )
    busy = busy_times([pk for pk, _platform in accounts], now)
    saved = {p.platform: p for p in PublishingPolicy.objects.filter(workspace_id=workspace_id)}
    gaps = {
        platform: timedelta(seconds=policy_for(workspace_id, platform, saved).min_interval_s)
        for platform in {platform for _pk, platform in accounts}
    }
    # Each account's busy windows (a post ± the minimum interval), soonest end first.
    windows = sorted(
        (at - gaps[platform], at + gaps[platform]) for pk, platform in accounts for at in busy.get(pk, ()) if at is not None
    )
    earliest = now + SLOT_LEAD
    step = SLOT_STEP.total_seconds()
    candidate = datetime.fromtimestamp((earliest.timestamp() // step + (earliest.timestamp() % step > 0)) * step, tz=now.tzinfo)
    while candidate <= now + SLOT_HORIZON:
        clash = [end for start, end in windows if start < candidate < end]
        if not clash:
            return candidate
        latest = max(clash)
        # The first boundary at or after the latest clash ends: strictly later, so the loop ends.
        candidate = datetime.fromtimestamp(-(-latest.timestamp() // step) * step, tz=now.tzinfo)
    return None
