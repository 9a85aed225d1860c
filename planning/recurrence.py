"""Recurring posts: when a rule's occurrences fall, and the services that set or stop a rule.

Occurrences are counted in the workspace's time zone from the local date and time of
``starts_at``: every ``interval`` days, or every ``interval`` weeks (counted from the week of
``starts_at``, Monday first) on ``weekdays``. Each keeps the local time of ``starts_at`` across
daylight-saving changes: a local time the spring change skips moves to the first moment after the
gap; one the autumn change repeats takes its first instance. ``until`` (a local date, inclusive)
and ``count`` (occurrences from ``starts_at``, made or missed) end the rule.

Making the posts of the occurrences is ``planning.repetitions``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crosspost.activity import log_activity
from crosspost.models import LogStatus
from posts.models import Post

from .models import Frequency, Recurrence, Weekday

MAX_INTERVAL = 365


def wall_clock_moment(day: date, at: time, tz: ZoneInfo) -> datetime:
    """``day`` at local time ``at`` as an aware UTC datetime, never None: a time a DST change
    skips becomes the first moment after the gap, a repeated one its first instance (fold=0)."""
    moment = datetime.combine(day, at, tzinfo=tz)
    naive = moment.replace(tzinfo=None)
    if moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
        return moment.astimezone(UTC)
    # Inside a gap: the first UTC second whose local time is at or past ``at`` (the end of the gap).
    low = datetime.combine(day, at, tzinfo=tz).replace(fold=1).astimezone(UTC)
    high = moment.astimezone(UTC)
    low, high = min(low, high), max(low, high)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _weekdays(rule: Recurrence, first: date) -> list[int]:
    return sorted(set(rule.weekdays)) if rule.weekdays else [first.weekday()]


def _local_days(rule: Recurrence, tz: ZoneInfo, after_day: date | None) -> Iterator[tuple[int, date]]:
    """(index from the start, local date) of every occurrence, from the first one that can fall on
    or after ``after_day`` (the arithmetic skips whole periods before it)."""
    first = rule.starts_at.astimezone(tz).date()
    step = rule.interval
    if rule.frequency == Frequency.DAILY:
        skip = max(0, ((after_day - first).days // step) - 1) if after_day else 0
        index = skip
        while True:
            yield index, first + timedelta(days=index * step)
            index += 1
    weekdays = _weekdays(rule, first)
    monday = first - timedelta(days=first.weekday())
    in_first_week = [day for day in weekdays if day >= first.weekday()]
    period = 0
    if after_day:
        period = max(0, ((after_day - monday).days // 7) // step - 1)
    index = 0 if period == 0 else len(in_first_week) + (period - 1) * len(weekdays)
    while True:
        week = monday + timedelta(weeks=period * step)
        for day in in_first_week if period == 0 else weekdays:
            yield index, week + timedelta(days=day)
            index += 1
        period += 1


def occurrences(rule: Recurrence, *, after: datetime | None = None, limit: int = 1, tz: ZoneInfo | None = None) -> list[datetime]:
    """Up to ``limit`` occurrences of ``rule`` later than ``after`` (all from ``starts_at`` when
    None), in UTC and in order. Empty once ``until`` or ``count`` is reached."""
    tz = tz or ZoneInfo(rule.post.workspace.timezone)
    local_start = rule.starts_at.astimezone(tz)
    at = local_start.time().replace(tzinfo=None)
    found: list[datetime] = []
    after_day = after.astimezone(tz).date() if after else None
    for index, day in _local_days(rule, tz, after_day):
        if len(found) >= limit:
            break
        if (rule.count is not None and index >= rule.count) or (rule.until is not None and day > rule.until):
            break
        moment = wall_clock_moment(day, at, tz)
        if moment < rule.starts_at or (after is not None and moment <= after):
            continue
        found.append(moment)
    return found


def next_occurrence(rule: Recurrence, *, after: datetime | None = None) -> datetime | None:
    found = occurrences(rule, after=after, limit=1)
    return found[0] if found else None


# --- describing a rule --------------------------------------------------------------------------------


def describe(rule: Recurrence, tz: ZoneInfo | None = None) -> str:
    """The rule in words, e.g. "Every 2 weeks on Monday, Friday at 09:00, 10 times"."""
    tz = tz or ZoneInfo(rule.post.workspace.timezone)
    start = rule.starts_at.astimezone(tz)
    # "Every day" apart from the counted forms: in Russian 1 and 21 share a form, but only 1 drops the number.
    if rule.frequency == Frequency.DAILY:
        text = _("Every day") if rule.interval == 1 else every_days(rule.interval)
    else:
        text = _("Every week") if rule.interval == 1 else every_weeks(rule.interval)
        names = ", ".join(str(Weekday(day).label) for day in _weekdays(rule, start.date()))
        text += " " + _("on %(days)s") % {"days": names}
    text += " " + _("at %(time)s") % {"time": start.strftime("%H:%M")}
    if rule.until is not None:
        text += ", " + _("until %(date)s") % {"date": rule.until.isoformat()}
    if rule.count is not None:
        times = ngettext("%(count)d time", "%(count)d times", rule.count) % {"count": rule.count}
        text += ", " + (_("once") if rule.count == 1 else times)
    return text


def every_days(count: int) -> str:
    return ngettext("Every %(count)d day", "Every %(count)d days", count) % {"count": count}


def every_weeks(count: int) -> str:
    return ngettext("Every %(count)d week", "Every %(count)d weeks", count) % {"count": count}


# --- services ----------------------------------------------------------------------------------------


def _check(*, post: Post, frequency: str, interval: int, weekdays: Sequence[int], starts_at: datetime, until, count) -> list[int]:
    errors: dict[str, str] = {}
    if post.parent_id is not None:
        raise ValidationError(
            _("This post is a repetition of post #%(id)s; repeat that post instead.") % {"id": post.parent_id},
            code="conflict",
        )
    if frequency not in Frequency.values:
        errors["frequency"] = _("Choose one of: %(choices)s.") % {"choices": ", ".join(Frequency.values)}
    if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= MAX_INTERVAL:
        errors["interval"] = _("Repeat every 1 to %(max)d days or weeks.") % {"max": MAX_INTERVAL}
    days: list[int] = []
    for day in weekdays or ():
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            errors["weekdays"] = _("Weekdays are numbers from 0 (Monday) to 6 (Sunday).")
            break
        days.append(day)
    if days and frequency == Frequency.DAILY:
        errors["weekdays"] = _("Weekdays apply to weekly repetition only; leave them empty or repeat weekly.")
    if starts_at is None or timezone.is_naive(starts_at):
        errors["starts_at"] = _("Give the first occurrence as a date and time with its time zone.")
    elif until is not None:
        local_start = starts_at.astimezone(ZoneInfo(post.workspace.timezone)).date()
        if until < local_start:
            errors["until"] = _("The last day (%(until)s) is before the first occurrence (%(start)s).") % {
                "until": until.isoformat(),
                "start": local_start.isoformat(),
            }
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        errors["count"] = _("Give the number of occurrences as 1 or more, or leave it empty for no limit.")
    if errors:
        raise ValidationError(errors)
    return sorted(set(days))


@transaction.atomic
def recurrence_set(
    *,
    post: Post,
    frequency: str,
    interval: int,
    weekdays: Sequence[int] = (),
    starts_at: datetime,
    until: date | None = None,
    count: int | None = None,
    actor=None,
    now: datetime | None = None,
) -> Recurrence:
    """Make ``post`` repeat by this rule (replacing its rule, if any) and plan the next occurrence:
    the first one from now on — occurrences already past are not made afterwards."""
    now = now or timezone.now()
    days = _check(
        post=post, frequency=frequency, interval=interval, weekdays=weekdays, starts_at=starts_at, until=until, count=count
    )
    # Two saves of the same post's rule one after the other, never both creating one.
    Post.objects.select_for_update().get(pk=post.pk)
    rule = Recurrence.objects.filter(post=post).first() or Recurrence(post=post, created_by=_user(actor))
    rule.post = post
    rule.frequency, rule.interval, rule.weekdays = frequency, interval, days
    rule.starts_at, rule.until, rule.count = starts_at, until, count
    rule.next_at = next_occurrence(rule, after=now - timedelta(microseconds=1))
    rule.active = rule.next_at is not None
    if not rule.active:
        raise ValidationError(
            _("This rule has no occurrence from now on: move the start, the last day or the number of occurrences."),
            code="no_occurrence",
        )
    rule.full_clean()
    rule.save()
    log_activity(
        action="post.recurrence_set",
        post=post,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=describe(rule),
        details={"next_at": rule.next_at.isoformat()},
    )
    return rule


@transaction.atomic
def recurrence_stop(*, post: Post, actor=None) -> Recurrence | None:
    """Stop repeating ``post``: no further occurrence is made; repetitions already made stay.
    None when it was not repeating."""
    rule = Recurrence.objects.select_for_update().filter(post=post).first()
    if rule is None or not rule.active:
        return rule
    rule.active, rule.next_at = False, None
    rule.save(update_fields=["active", "next_at"])
    log_activity(action="post.recurrence_stop", post=post, actor=actor, status=LogStatus.SUCCESS, details={"made": rule.made})
    return rule


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None
