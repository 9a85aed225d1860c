"""Reads for the calendar: the posts of a month or a week, bucketed by the member's LOCAL date,
and the queue's free slots in the same range.

A post stands at its scheduled time; one published at once (no scheduled time) at the moment it
finished, or while it is still going out, at the moment it was created. Days are the member's
local days, so a post at 23:30 in Berlin is on that Berlin day whichever side of a daylight-saving
change it falls.

Fast at any size: one query returns only the first ``CHIPS_PER_DAY`` posts of each local day and
the day's total (window functions); a day shows those and "N more"; the shown chips' titles and
platforms are read in three more queries, whatever the number of posts.
"""

from __future__ import annotations

import calendar as stdlib_calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, F, IntegerField, Q, Value, When, Window
from django.db.models.functions import Coalesce, RowNumber

from accounts.models import AccountGroup, Platform, SocialAccount, Workspace
from crosspost.links import id_url
from planning.slots import free_slots
from posts.models import Post, PostStatus

CHIPS_PER_DAY = 4
CHIPS_PER_DAY_IN_WEEK = 48
# Short labels for the platform marks on a chip (the full name is its title).
PLATFORM_MARKS = {
    Platform.INSTAGRAM: "IG",
    Platform.VK: "VK",
    Platform.TELEGRAM: "TG",
    Platform.TIKTOK: "TT",
    Platform.YOUTUBE: "YT",
    Platform.PINTEREST: "PI",
    Platform.SANDBOX: "SB",
}
# Posts whose time can still be changed by dragging them.
MOVABLE_STATUSES = (PostStatus.DRAFT, PostStatus.SCHEDULED)
VIEWS = ("month", "week")


@dataclass
class Filters:
    workspace: Workspace
    group: AccountGroup | None = None
    platform: str = ""
    account: SocialAccount | None = None
    status: str = ""


@dataclass
class Chip:
    pk: int
    at: datetime  # local
    status: str
    title: str = ""
    status_label: str = ""
    platforms: list[tuple[str, str]] = field(default_factory=list)  # (mark, name)
    movable: bool = False
    url: str = ""
    move_url: str = ""

    @property
    def clock(self) -> str:
        return self.at.strftime("%H:%M")

    @property
    def iso(self) -> str:
        return self.at.isoformat()


@dataclass
class Day:
    day: date
    in_month: bool = True
    today: bool = False
    chips: list[Chip] = field(default_factory=list)
    total: int = 0
    free: list[datetime] = field(default_factory=list)  # local moments of free queue slots

    @property
    def more(self) -> int:
        return self.total - len(self.chips)


@dataclass
class Cell:
    day: date
    chips: list[Chip]
    free: list[datetime]


@dataclass
class CalendarPage:
    view: str
    anchor: date
    start: date  # first day shown
    days: list[Day]
    tz: ZoneInfo

    @property
    def weeks(self) -> list[list[Day]]:
        return [self.days[i : i + 7] for i in range(0, len(self.days), 7)]

    @property
    def hour_rows(self) -> list[tuple[int, list[Cell]]]:
        """The week view's grid: per local hour, one cell per day with its chips and free slots."""
        rows = []
        for hour in range(24):
            cells = [
                Cell(day=d.day, chips=[c for c in d.chips if c.at.hour == hour], free=[f for f in d.free if f.hour == hour])
                for d in self.days
            ]
            rows.append((hour, cells))
        return rows

    @property
    def previous(self) -> date:
        if self.view == "week":
            return self.anchor - timedelta(days=7)
        return (self.anchor.replace(day=1) - timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> date:
        if self.view == "week":
            return self.anchor + timedelta(days=7)
        return (self.anchor.replace(day=28) + timedelta(days=4)).replace(day=1)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first moment of a local day, in UTC (a day a change starts at 01:00 still starts then)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def date_range(view: str, anchor: date) -> tuple[date, date]:
    """[first, last) local days a view shows: whole weeks from Monday."""
    if view == "week":
        start = anchor - timedelta(days=anchor.weekday())
        return start, start + timedelta(days=7)
    first = anchor.replace(day=1)
    start = first - timedelta(days=first.weekday())
    last_day = first.replace(day=stdlib_calendar.monthrange(first.year, first.month)[1])
    end = last_day + timedelta(days=7 - last_day.weekday())
    return start, end


def posts_in_range(filters: Filters, start: datetime, end: datetime):
    """The range's posts of the workspace, filtered; each with ``place`` (its time in the calendar)."""
    posts = (
        Post.objects.filter(workspace=filters.workspace)
        .exclude(status=PostStatus.DRAFT, scheduled_at__isnull=True)  # unscheduled drafts are in the drafts list
        .annotate(place=Coalesce("scheduled_at", "finished_at", "created_at"))
        .filter(place__gte=start, place__lt=end)
    )
    by_account = Post.target_accounts.through.objects
    by_group = Post.target_groups.through.objects
    if filters.status:
        posts = posts.filter(status=filters.status)
    if filters.group is not None:
        posts = posts.filter(
            Q(pk__in=by_group.filter(accountgroup=filters.group).values("post_id"))
            | Q(pk__in=by_account.filter(socialaccount__group=filters.group).values("post_id"))
        )
    if filters.account is not None:
        posts = posts.filter(
            Q(pk__in=by_account.filter(socialaccount=filters.account).values("post_id"))
            | Q(pk__in=by_group.filter(accountgroup__accounts=filters.account).values("post_id"))
        )
    if filters.platform:
        posts = posts.filter(
            Q(pk__in=by_account.filter(socialaccount__platform=filters.platform).values("post_id"))
            | Q(pk__in=by_group.filter(accountgroup__accounts__platform=filters.platform).values("post_id"))
        )
    return posts


def calendar_page(filters: Filters, *, view: str, anchor: date, tz: ZoneInfo, now: datetime) -> CalendarPage:
    first, last = date_range(view, anchor)
    start, end = local_midnight(first, tz), local_midnight(last, tz)
    today = now.astimezone(tz).date()
    days = {}
    day = first
    while day < last:
        days[day] = Day(day=day, in_month=view == "week" or day.month == anchor.month, today=day == today)
        day += timedelta(days=1)

    rows = posts_in_range(filters, start, end).order_by()
    cap = CHIPS_PER_DAY_IN_WEEK if view == "week" else CHIPS_PER_DAY
    # The database buckets by local day: each day's bounds are its local midnights (DST included),
    # so a CASE over the bounds names the day of every post in plain comparisons. One query returns
    # the first ``cap`` posts of each day with the day's total (window functions).
    ordered = list(days)
    bounds = [local_midnight(d, tz) for d in ordered[1:]]
    day_index = _day_of(bounds, 0, len(ordered) - 1)
    # The CASE is built once and referred to by name (resolving a nested CASE copies it whole).
    leading = (
        rows.annotate(day=day_index)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("day")], order_by=[F("place").asc(), F("pk").asc()]),
            total=Window(Count("pk"), partition_by=[F("day")]),
        )
        .filter(rank__lte=cap)
    )
    shown: dict[int, Chip] = {}
    for pk, at, status, index, total in sorted(
        leading.values_list("pk", "place", "status", "day", "total"), key=lambda row: (row[1], row[0])
    ):
        chip = Chip(pk=pk, at=at.astimezone(tz), status=status, movable=status in MOVABLE_STATUSES)
        days[ordered[index]].chips.append(chip)
        days[ordered[index]].total = total
        shown[pk] = chip
    _describe(shown)

    for moment in free_slots(filters.workspace, start=max(start, now), end=end, group=filters.group):
        local = moment.astimezone(tz)
        if local.date() in days:
            days[local.date()].free.append(local)
    return CalendarPage(view=view, anchor=anchor, start=first, days=list(days.values()), tz=tz)


def _day_of(bounds: list[datetime], low: int, high: int):
    """The index (low…high) of the day a post's ``place`` falls on, as a CASE that halves the
    candidate days at each step: about six comparisons a row for a month, not forty-two.
    ``bounds[i]`` is where day i ends."""
    if low == high:
        return Value(low, output_field=IntegerField())
    middle = (low + high) // 2
    return Case(
        When(place__lt=bounds[middle], then=_day_of(bounds, low, middle)),
        default=_day_of(bounds, middle + 1, high),
        output_field=IntegerField(),
    )


def _describe(chips: dict[int, Chip]) -> None:
    """Titles, status labels and target platforms of the shown chips (three queries)."""
    if not chips:
        return
    labels = dict(PostStatus.choices)
    post_url, move_url = id_url("dashboard:post"), id_url("dashboard:calendar-move")
    for post in Post.objects.filter(pk__in=chips).only("pk", "title", "caption"):
        chip = chips[post.pk]
        chip.title = str(post)
        chip.status_label = str(labels.get(chip.status, chip.status))
        chip.url, chip.move_url = post_url(post.pk), move_url(post.pk)
    platforms: dict[int, set[str]] = {}
    through = Post.target_accounts.through.objects.filter(post_id__in=chips)
    for post_id, platform in through.values_list("post_id", "socialaccount__platform"):
        platforms.setdefault(post_id, set()).add(platform)
    groups = Post.target_groups.through.objects.filter(post_id__in=chips, accountgroup__accounts__isnull=False)
    for post_id, platform in groups.values_list("post_id", "accountgroup__accounts__platform").distinct():
        platforms.setdefault(post_id, set()).add(platform)
    names = dict(Platform.choices)
    for pk, chip in chips.items():
        chip.platforms = [(PLATFORM_MARKS.get(p, p[:2].upper()), str(names.get(p, p))) for p in sorted(platforms.get(pk, ()))]


def drafts_for_queue(workspace: Workspace, limit: int = 20) -> list[Post]:
    """The workspace's newest unscheduled drafts, for the calendar's Add to queue list."""
    return list(
        Post.objects.filter(workspace=workspace, status=PostStatus.DRAFT, scheduled_at__isnull=True)
        .only("pk", "title", "caption", "created_at")
        .order_by("-created_at")[:limit]
    )
