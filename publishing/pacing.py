"""Anti-ban pacing: when may an account post next? Pure functions, no database.

The rules (seed 001, per PublishingPolicy of a workspace × platform):

* at least ``min_interval`` between two posts of one account, on either side;
* a random ``stagger`` between the accounts of one post;
* at most ``limit(t)`` posts in any rolling 24 h window ending at a post ``t``,
  counting successful, in-flight and planned executions; ``limit(t)`` is the
  warm-up limit of the account's age at ``t`` (curve for the first days, then
  a linear ramp to the daily limit);
* never inside the quiet hours of the account's time zone;
* with ``optimal_times`` (when the policy uses them), only at one of those local
  times of the account's time zone — the first at or after the earliest allowed
  moment — each account of a post keeping its stagger after it. Optimal times
  inside the quiet hours are never used; with none left they are ignored.

Randomness comes only from the ``random.Random`` passed in, so a plan is
reproducible from its seed.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

UTC = ZoneInfo("UTC")
DAY = timedelta(days=1)
DEFAULT_WARMUP_CURVE = (1, 2, 2)
EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True)
class Pacing:
    min_interval: timedelta = timedelta(minutes=30)
    stagger_min: float = 120.0
    stagger_max: float = 300.0
    daily_limit: int = 10
    warmup_curve: tuple[int, ...] = DEFAULT_WARMUP_CURVE
    warmup_ramp_days: int = 7
    quiet_start: time | None = None
    quiet_end: time | None = None
    optimal_times: tuple[time, ...] = ()  # local times of day; empty: any time

    @classmethod
    def from_policy(cls, policy) -> Pacing:
        return cls(
            min_interval=timedelta(seconds=policy.min_interval_s),
            stagger_min=float(policy.stagger_min_s),
            stagger_max=float(policy.stagger_max_s),
            daily_limit=policy.daily_limit,
            warmup_curve=tuple(int(n) for n in (policy.warmup_curve or DEFAULT_WARMUP_CURVE)),
            warmup_ramp_days=policy.warmup_ramp_days,
            quiet_start=policy.quiet_hours_start,
            quiet_end=policy.quiet_hours_end,
            optimal_times=parse_times(policy.optimal_times) if policy.use_optimal_times else (),
        )


def parse_times(values) -> tuple[time, ...]:
    """Sorted, distinct times of day from "HH:MM" texts; anything else is skipped."""
    times = set()
    for value in values or ():
        try:
            times.add(time.fromisoformat(value))
        except (TypeError, ValueError):
            continue
    return tuple(sorted(times))


@dataclass
class AccountPacing:
    """What pacing needs to know of one account."""

    key: object
    busy: list[datetime] = field(default_factory=list)  # sorted times of its other posts
    limit_override: int | None = None
    warmup_started_at: datetime | None = None
    not_before: datetime | None = None  # e.g. the end of a cooldown
    tz: ZoneInfo = UTC


def daily_limit_at(pacing: Pacing, account: AccountPacing, at: datetime) -> int:
    """The account's posts-per-24h limit at ``at``, warm-up included (never below 1)."""
    limit = max(1, account.limit_override or pacing.daily_limit)
    if account.warmup_started_at is None:
        return limit
    day = max(0, math.floor((at - account.warmup_started_at) / DAY))
    curve = pacing.warmup_curve or DEFAULT_WARMUP_CURVE
    if day < len(curve):
        return max(1, min(curve[day], limit))
    start = min(curve[-1], limit)
    ramp_day = day - len(curve) + 1
    if pacing.warmup_ramp_days <= 0 or ramp_day >= pacing.warmup_ramp_days:
        return limit
    return max(1, min(limit, start + math.floor((limit - start) * ramp_day / pacing.warmup_ramp_days)))


def in_quiet_hours(pacing: Pacing, at: datetime, tz: ZoneInfo) -> datetime | None:
    """If ``at`` falls in the quiet hours, the (aware) moment they end; else None."""
    if pacing.quiet_start is None or pacing.quiet_end is None or pacing.quiet_start == pacing.quiet_end:
        return None
    local = at.astimezone(tz)
    start, end, now_t = pacing.quiet_start, pacing.quiet_end, local.timetz().replace(tzinfo=None)
    if start < end:
        inside = start <= now_t < end
        end_date = local.date()
    else:  # the window crosses midnight, e.g. 23:00–07:00
        inside = now_t >= start or now_t < end
        end_date = local.date() + timedelta(days=1) if now_t >= start else local.date()
    if not inside:
        return None
    # Build the local end time and convert; fold=0 picks the first of an ambiguous hour.
    return datetime.combine(end_date, end, tzinfo=tz).astimezone(at.tzinfo)


def _quiet_time(pacing: Pacing, at: time) -> bool:
    start, end = pacing.quiet_start, pacing.quiet_end
    if start is None or end is None or start == end:
        return False
    return start <= at < end if start < end else (at >= start or at < end)


def next_optimal(pacing: Pacing, at: datetime, tz: ZoneInfo) -> datetime:
    """The first optimal local time (outside the quiet hours) at or after ``at``; ``at`` without any."""
    times = [t for t in pacing.optimal_times if not _quiet_time(pacing, t)]
    if not times:
        return at
    day = at.astimezone(tz).date()
    for days in range(3):
        for t in times:
            slot = datetime.combine(day + timedelta(days=days), t, tzinfo=tz)
            if slot.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != slot.replace(tzinfo=None):
                continue  # skipped by a daylight-saving change that day
            if slot >= at:
                return slot.astimezone(at.tzinfo)
    return at


def next_slot(pacing: Pacing, account: AccountPacing, earliest: datetime, offset: timedelta = timedelta(0)) -> datetime:
    """The first moment at or after ``earliest`` where a post of ``account`` breaks no rule.

    ``offset`` is the account's stagger within its post: with optimal times, the post goes
    ``offset`` after an optimal time.
    """
    candidate = max(earliest, account.not_before) if account.not_before else earliest
    for _ in range(100_000):
        moved = _advance(pacing, account, candidate, offset)
        if moved == candidate:
            return candidate
        candidate = moved
    raise RuntimeError("Pacing did not settle: the account's schedule is saturated.")


def _advance(pacing: Pacing, account: AccountPacing, at: datetime, offset: timedelta = timedelta(0)) -> datetime:
    """Fix the first rule ``at`` breaks by moving it forward; return ``at`` if it breaks none."""
    busy = account.busy
    # 1. Minimum interval to every other post, before and after.
    i = bisect.bisect_left(busy, at - pacing.min_interval + EPSILON)
    if i < len(busy) and busy[i] < at + pacing.min_interval:
        return busy[i] + pacing.min_interval
    # 2. Quiet hours.
    quiet_end = in_quiet_hours(pacing, at, account.tz)
    if quiet_end is not None:
        return quiet_end
    # 3. Rolling 24 h limit: the window ending at ``at`` ...
    lo = bisect.bisect_right(busy, at - DAY)
    hi = bisect.bisect_right(busy, at)
    limit = daily_limit_at(pacing, account, at)
    if hi - lo >= limit:
        return busy[hi - limit] + DAY + EPSILON
    # ... and the windows of later posts that would now contain it.
    for j in range(hi, len(busy)):
        later = busy[j]
        if later >= at + DAY:
            break
        in_window = j - bisect.bisect_right(busy, later - DAY) + 1
        if in_window + 1 > daily_limit_at(pacing, account, later):
            return later + EPSILON
    # 4. Optimal times: the next one (plus the account's stagger).
    if pacing.optimal_times:
        return next_optimal(pacing, at - offset, account.tz) + offset
    return at


def stagger_offsets(pacing: Pacing, count: int, rng: random.Random) -> list[timedelta]:
    """Cumulative start offsets for ``count`` accounts of one post: 0, then each a random stagger later."""
    offsets, total = [], 0.0
    for index in range(count):
        if index:
            total += rng.uniform(pacing.stagger_min, pacing.stagger_max)
        offsets.append(timedelta(seconds=total))
    return offsets


def schedule_post(
    pacing_for: dict[object, Pacing],
    accounts: Sequence[tuple[AccountPacing, object]],
    start: datetime,
    rng: random.Random,
) -> dict[object, datetime]:
    """Schedule one post on ``accounts`` (each with its platform key into ``pacing_for``).

    Accounts keep the given order; each account's post is recorded in its busy
    list, so planning several posts in sequence respects all of them.
    """
    result: dict[object, datetime] = {}
    by_platform: dict[object, list[AccountPacing]] = {}
    for account, platform in accounts:
        by_platform.setdefault(platform, []).append(account)
    for platform, members in by_platform.items():
        pacing = pacing_for[platform]
        for account, offset in zip(members, stagger_offsets(pacing, len(members), rng), strict=True):
            at = next_slot(pacing, account, start + offset, offset)
            bisect.insort(account.busy, at)
            result[account.key] = at
    return result
