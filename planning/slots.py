"""Queue slots as moments: the weekly local times of a queue, turned into aware datetimes in a
range, and which of them no post has taken yet.

Local times are read in the workspace's time zone, so "Monday 09:00" stays 09:00 across a
daylight-saving change. A local time a change skips (02:30 on the spring-forward night) has no
slot that day; a repeated one (the autumn night) has one, the first.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from accounts.models import AccountGroup, Workspace
from posts.models import Post, PostStatus

from .models import QueueSlot

# Posts that no longer hold their slot: a cancelled post frees it for the next one.
RELEASED_STATUSES = (PostStatus.CANCELLED,)


def local_moment(day: date, at, tz: ZoneInfo) -> datetime | None:
    """``day`` at local time ``at`` as an aware UTC datetime; None when a DST change skips it."""
    moment = datetime.combine(day, at, tzinfo=tz)
    if moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != moment.replace(tzinfo=None):
        return None
    return moment.astimezone(UTC)


def queue_slots(workspace: Workspace, group: AccountGroup | None = None) -> list[QueueSlot]:
    """The weekly slots of the group's queue, or of the workspace's when ``group`` is None."""
    rows = QueueSlot.objects.filter(workspace=workspace)
    rows = rows.filter(group=group) if group is not None else rows.filter(group__isnull=True)
    return list(rows.order_by("weekday", "time"))


def slot_times(
    workspace: Workspace, *, start: datetime, end: datetime, group: AccountGroup | None = None, slots=None
) -> list[datetime]:
    """Every slot moment in [start, end), sorted, in UTC."""
    slots = queue_slots(workspace, group) if slots is None else slots
    if not slots:
        return []
    tz = ZoneInfo(workspace.timezone)
    by_weekday: dict[int, list] = {}
    for slot in slots:
        by_weekday.setdefault(slot.weekday, []).append(slot.time)
    moments = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        for at in by_weekday.get(day.weekday(), ()):
            moment = local_moment(day, at, tz)
            if moment is not None and start <= moment < end:
                moments.append(moment)
        day += timedelta(days=1)
    return sorted(moments)


def taken_slots(workspace: Workspace, *, start: datetime, end: datetime, group: AccountGroup | None = None) -> set[datetime]:
    """Slot moments in [start, end) that a post of this queue already holds."""
    posts = Post.objects.filter(workspace=workspace, queue_slot_at__gte=start, queue_slot_at__lt=end).exclude(
        status__in=RELEASED_STATUSES
    )
    posts = posts.filter(queue_group=group) if group is not None else posts.filter(queue_group__isnull=True)
    return {at.astimezone(UTC) for at in posts.values_list("queue_slot_at", flat=True)}


def free_slots(workspace: Workspace, *, start: datetime, end: datetime, group: AccountGroup | None = None) -> list[datetime]:
    """Slot moments in [start, end) no post holds yet, sorted."""
    taken = taken_slots(workspace, start=start, end=end, group=group)
    return [at for at in slot_times(workspace, start=start, end=end, group=group) if at not in taken]


def next_free_slot(
    workspace: Workspace, *, after: datetime, group: AccountGroup | None = None, horizon: timedelta = timedelta(days=90)
) -> datetime | None:
    """The first free slot after ``after`` within ``horizon``; None when the queue has no slots or
    every one in the horizon is taken."""
    slots = queue_slots(workspace, group)
    if not slots:
        return None
    start, end = after, after + horizon
    week = timedelta(days=7)
    while start < end:
        stop = min(start + week, end)
        taken = taken_slots(workspace, start=start, end=stop, group=group)
        for at in slot_times(workspace, start=start, end=stop, group=group, slots=slots):
            if at > after and at not in taken:
                return at
        start = stop
    return None
