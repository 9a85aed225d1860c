"""Pacing invariants as property tests over random account sets and post sequences."""

import bisect
import itertools
import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from publishing.pacing import DAY, AccountPacing, Pacing, daily_limit_at, in_quiet_hours, schedule_post

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)

pacings = st.builds(
    Pacing,
    min_interval=st.integers(60, 3 * 3600).map(lambda s: timedelta(seconds=s)),
    stagger_min=st.integers(0, 200).map(float),
    stagger_max=st.integers(200, 600).map(float),
    daily_limit=st.integers(1, 12),
    warmup_curve=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple),
    warmup_ramp_days=st.integers(0, 10),
    quiet_start=st.none() | st.sampled_from([time(23, 0), time(1, 0), time(13, 0)]),
    quiet_end=st.none() | st.sampled_from([time(7, 0), time(5, 30), time(14, 0)]),
    optimal_times=st.just(())
    | st.lists(st.sampled_from([time(2, 30), time(9, 0), time(13, 30), time(18, 0)]), min_size=1).map(
        lambda ts: tuple(sorted(set(ts)))
    ),
)

accounts_st = st.lists(
    st.tuples(
        st.integers(-2, 20),  # warm-up started this many days before T0 (negative: not started yet)
        st.none() | st.integers(1, 15),  # per-account daily limit override
        st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]),
        st.lists(st.integers(-48 * 60, 0), max_size=6),  # minutes of earlier posts relative to T0
    ),
    min_size=1,
    max_size=6,
)
posts_st = st.lists(st.integers(0, 36 * 60), min_size=1, max_size=8)  # publish requests, minutes after T0


def make_accounts(raw):
    accounts = []
    for index, (warm_days, override, tz, history) in enumerate(raw):
        # History respects a 2 h spacing so it is itself valid under any tested min_interval.
        busy = sorted({T0 + timedelta(minutes=m - m % 180) for m in history})
        accounts.append(
            AccountPacing(
                key=index,
                busy=busy,
                limit_override=override,
                warmup_started_at=T0 - timedelta(days=warm_days),
                tz=ZoneInfo(tz),
            )
        )
    return accounts


def run(pacing, raw_accounts, posts, seed):
    accounts = make_accounts(raw_accounts)
    history = {a.key: list(a.busy) for a in accounts}
    rng = random.Random(seed)
    plans = []
    for minutes in sorted(posts):
        start = T0 + timedelta(minutes=minutes)
        plans.append((start, schedule_post({"p": pacing}, [(a, "p") for a in accounts], start, rng)))
    return accounts, history, plans


@settings(max_examples=150, deadline=None)
@given(pacing=pacings, raw_accounts=accounts_st, posts=posts_st, seed=st.integers(0, 2**32))
def test_it_keeps_every_invariant(pacing, raw_accounts, posts, seed):
    accounts, history, plans = run(pacing, raw_accounts, posts, seed)
    for start, scheduled in plans:
        for at in scheduled.values():
            assert at >= start  # never before the post was published / scheduled
    for account in accounts:
        new = [at for _, scheduled in plans for key, at in scheduled.items() if key == account.key]
        times = sorted(account.busy)
        assert len(times) == len(history[account.key]) + len(new)
        # Minimum interval between any two posts of one account (history was spaced wider).
        for a, b in itertools.pairwise(times):
            if a in new or b in new:
                assert b - a >= pacing.min_interval
        # Rolling 24 h window ending at each new post respects the (warm-up) limit at that moment.
        for at in new:
            count = bisect.bisect_right(times, at) - bisect.bisect_right(times, at - DAY)
            assert count <= daily_limit_at(pacing, account, at)
            assert in_quiet_hours(pacing, at, account.tz) is None
    # With optimal times (some outside the quiet hours), each post's first account (no stagger) posts at one.
    usable = [t for t in pacing.optimal_times if in_quiet_hours(pacing, datetime.combine(T0.date(), t, tzinfo=UTC), UTC) is None]
    if usable:
        first = accounts[0]
        for _, scheduled in plans:
            assert scheduled[first.key].astimezone(first.tz).time() in usable


@settings(max_examples=60, deadline=None)
@given(pacing=pacings, raw_accounts=accounts_st, seed=st.integers(0, 2**32))
def test_it_staggers_accounts_of_one_post(pacing, raw_accounts, seed):
    quiet_free = Pacing(
        **{
            **pacing.__dict__,
            "quiet_start": None,
            "quiet_end": None,
            "optimal_times": (),
            "daily_limit": 50,
            "warmup_curve": (50,),
            "warmup_ramp_days": 0,
        }
    )
    fresh = [(AccountPacing(key=i), "p") for i in range(len(raw_accounts))]
    scheduled = schedule_post({"p": quiet_free}, fresh, T0, random.Random(seed))
    times = [scheduled[i] for i in range(len(fresh))]
    assert times[0] == T0
    for a, b in itertools.pairwise(times):
        assert quiet_free.stagger_min <= (b - a).total_seconds() <= quiet_free.stagger_max


@settings(max_examples=50, deadline=None)
@given(pacing=pacings, raw_accounts=accounts_st, posts=posts_st, seed=st.integers(0, 2**32))
def test_it_is_deterministic_for_a_seed(pacing, raw_accounts, posts, seed):
    _, _, first = run(pacing, raw_accounts, posts, seed)
    _, _, second = run(pacing, raw_accounts, posts, seed)
    assert first == second


def test_it_ramps_warm_up_from_the_curve_to_the_daily_limit():
    pacing = Pacing(daily_limit=10, warmup_curve=(1, 2, 2), warmup_ramp_days=4)
    account = AccountPacing(key=1, warmup_started_at=T0)
    limits = [daily_limit_at(pacing, account, T0 + timedelta(days=d, hours=1)) for d in range(9)]
    assert limits == [1, 2, 2, 4, 6, 8, 10, 10, 10]
    assert daily_limit_at(pacing, AccountPacing(key=2, warmup_started_at=T0, limit_override=3), T0 + timedelta(days=30)) == 3


def test_it_pushes_a_new_account_to_the_next_day():
    pacing = Pacing(daily_limit=10, warmup_curve=(1, 2, 2), warmup_ramp_days=7, stagger_min=0, stagger_max=0)
    account = AccountPacing(key=1, warmup_started_at=T0)
    first = schedule_post({"p": pacing}, [(account, "p")], T0, random.Random(1))[1]
    second = schedule_post({"p": pacing}, [(account, "p")], T0, random.Random(1))[1]
    assert first == T0
    assert second > T0 + DAY - timedelta(seconds=1)  # day 0 allows one post


def test_it_skips_quiet_hours_in_the_accounts_time_zone():
    pacing = Pacing(quiet_start=time(23, 0), quiet_end=time(7, 0))
    berlin = ZoneInfo("Europe/Berlin")
    late = datetime(2026, 11, 2, 23, 30, tzinfo=berlin)
    end = in_quiet_hours(pacing, late.astimezone(UTC), berlin)
    assert end is not None and end.astimezone(berlin) == datetime(2026, 11, 3, 7, 0, tzinfo=berlin)


# --- Optimal times (a policy's use_optimal_times) ---------------------------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
OPTIMAL = Pacing(
    min_interval=timedelta(hours=1),
    stagger_min=120,
    stagger_max=120,
    daily_limit=10,
    warmup_curve=(10,),
    warmup_ramp_days=0,
    optimal_times=(time(9, 0), time(18, 0), time(21, 0)),
)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BERLIN)


def test_it_posts_at_the_next_optimal_local_time_with_each_accounts_stagger():
    berlin = [(AccountPacing(key=i, tz=BERLIN), "p") for i in range(3)]
    scheduled = schedule_post({"p": OPTIMAL}, berlin, local(2, 10, 15).astimezone(UTC), random.Random(1))
    assert [scheduled[i].astimezone(BERLIN) for i in range(3)] == [local(2, 18, 0), local(2, 18, 2), local(2, 18, 4)]
    # Exactly at an optimal time: that one; after the last one of the day: the first of the next day.
    assert schedule_post({"p": OPTIMAL}, [(AccountPacing(key=9, tz=BERLIN), "p")], local(2, 9, 0), random.Random(1)) == {
        9: local(2, 9, 0)
    }
    late = schedule_post({"p": OPTIMAL}, [(AccountPacing(key=8, tz=BERLIN), "p")], local(2, 21, 1), random.Random(1))
    assert late[8].astimezone(BERLIN) == local(3, 9, 0)


def test_it_reads_optimal_times_in_the_accounts_time_zone():
    tokyo = ZoneInfo("Asia/Tokyo")
    scheduled = schedule_post(
        {"p": OPTIMAL}, [(AccountPacing(key=1, tz=tokyo), "p")], datetime(2026, 11, 2, 10, 0, tzinfo=UTC), random.Random(1)
    )
    # 10:00 UTC is 19:00 in Tokyo: the next optimal time there is 21:00 (12:00 UTC).
    assert scheduled[1] == datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def test_it_still_honours_interval_daily_limit_and_quiet_hours_with_optimal_times():
    # Min interval: a post at 17:30 pushes the 18:00 slot to 21:00.
    busy = AccountPacing(key=1, tz=BERLIN, busy=[local(2, 17, 30).astimezone(UTC)])
    assert schedule_post({"p": OPTIMAL}, [(busy, "p")], local(2, 12, 0), random.Random(1))[1] == local(2, 21, 0)
    # Daily limit 1: after a post at 09:00 the next one waits 24 h, then takes the next optimal time.
    one_a_day = Pacing(**{**OPTIMAL.__dict__, "daily_limit": 1, "warmup_curve": (1,)})
    limited = AccountPacing(key=2, tz=BERLIN, busy=[local(2, 9, 0).astimezone(UTC)])
    assert schedule_post({"p": one_a_day}, [(limited, "p")], local(2, 10, 0), random.Random(1))[2] == local(3, 18, 0)
    # Quiet hours 20:00–08:00: 21:00 is never used.
    quiet = Pacing(**{**OPTIMAL.__dict__, "quiet_start": time(20, 0), "quiet_end": time(8, 0)})
    calm = AccountPacing(key=3, tz=BERLIN)
    assert schedule_post({"p": quiet}, [(calm, "p")], local(2, 18, 30), random.Random(1))[3] == local(3, 9, 0)
    # Every optimal time inside the quiet hours: they are ignored rather than never posting.
    only_night = Pacing(**{**quiet.__dict__, "optimal_times": (time(22, 0),)})
    assert schedule_post({"p": only_night}, [(AccountPacing(key=4, tz=BERLIN), "p")], local(2, 12, 0), random.Random(1))[
        4
    ] == local(2, 12, 0)


def test_it_skips_an_optimal_time_a_daylight_saving_change_removes():
    spring = Pacing(**{**OPTIMAL.__dict__, "optimal_times": (time(2, 30), time(9, 0))})
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 in Berlin, 30 min before the clocks jump to 03:00
    scheduled = schedule_post({"p": spring}, [(AccountPacing(key=1, tz=BERLIN), "p")], start, random.Random(1))
    assert scheduled[1] == datetime(2026, 3, 29, 9, 0, tzinfo=BERLIN)


def test_it_takes_optimal_times_from_the_policy_only_when_it_asks():
    from publishing.models import PublishingPolicy

    policy = PublishingPolicy(platform="vk", optimal_times=["18:00", "09:00", "bad"])
    assert Pacing.from_policy(policy).optimal_times == ()
    policy.use_optimal_times = True
    assert Pacing.from_policy(policy).optimal_times == (time(9, 0), time(18, 0))
