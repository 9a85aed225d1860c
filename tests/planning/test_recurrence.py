"""Occurrence arithmetic of recurring posts (local time kept across DST, every N days, every N
weeks on weekdays, until and count) and the services that set and stop a rule."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from crosspost.models import ActivityLog
from planning.models import Frequency, Recurrence
from planning.recurrence import describe, occurrences, recurrence_set, recurrence_stop, wall_clock_moment

from ..factories import PostFactory

BERLIN = ZoneInfo("Europe/Berlin")


def rule(**fields) -> Recurrence:
    fields.setdefault("frequency", Frequency.DAILY)
    fields.setdefault("interval", 1)
    fields.setdefault("weekdays", [])
    return Recurrence(**fields)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def as_local(moments) -> list[str]:
    return [moment.astimezone(BERLIN).strftime("%a %Y-%m-%d %H:%M %z") for moment in moments]


def test_it_keeps_the_local_time_across_the_spring_and_autumn_changes():
    daily = rule(starts_at=local(2026, 3, 27, 9, 0))
    assert as_local(occurrences(daily, limit=4, tz=BERLIN)) == [
        "Fri 2026-03-27 09:00 +0100",
        "Sat 2026-03-28 09:00 +0100",
        "Sun 2026-03-29 09:00 +0200",
        "Mon 2026-03-30 09:00 +0200",
    ]
    autumn = rule(starts_at=local(2026, 10, 24, 9, 0))
    assert as_local(occurrences(autumn, limit=3, tz=BERLIN)) == [
        "Sat 2026-10-24 09:00 +0200",
        "Sun 2026-10-25 09:00 +0100",
        "Mon 2026-10-26 09:00 +0100",
    ]


def test_it_moves_a_skipped_local_time_to_the_end_of_the_gap_and_takes_the_first_of_a_repeated_one():
    spring = rule(starts_at=local(2026, 3, 28, 2, 30))
    moments = occurrences(spring, limit=3, tz=BERLIN)
    # 02:30 does not exist on 29 March in Berlin: the first moment after the gap is 03:00 CEST.
    assert moments[1] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert as_local(moments) == ["Sat 2026-03-28 02:30 +0100", "Sun 2026-03-29 03:00 +0200", "Mon 2026-03-30 02:30 +0200"]
    autumn = rule(starts_at=local(2026, 10, 24, 2, 30))
    moments = occurrences(autumn, limit=2, tz=BERLIN)
    # 02:30 happens twice on 25 October: the first, still in summer time.
    assert moments[1] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert wall_clock_moment(date(2026, 10, 25), local(2026, 1, 1, 2, 30).time(), BERLIN) == moments[1]


def test_it_repeats_every_n_days():
    every_three = rule(starts_at=local(2026, 1, 30, 18, 15), interval=3)
    assert as_local(occurrences(every_three, limit=3, tz=BERLIN)) == [
        "Fri 2026-01-30 18:15 +0100",
        "Mon 2026-02-02 18:15 +0100",
        "Thu 2026-02-05 18:15 +0100",
    ]


def test_it_repeats_every_n_weeks_on_the_weekdays_counting_weeks_from_the_start():
    # Starts on a Wednesday; Monday of that week is before the start and is not an occurrence.
    fortnightly = rule(frequency=Frequency.WEEKLY, interval=2, weekdays=[0, 2, 4], starts_at=local(2026, 1, 7, 9, 0))
    assert as_local(occurrences(fortnightly, limit=6, tz=BERLIN)) == [
        "Wed 2026-01-07 09:00 +0100",
        "Fri 2026-01-09 09:00 +0100",
        "Mon 2026-01-19 09:00 +0100",
        "Wed 2026-01-21 09:00 +0100",
        "Fri 2026-01-23 09:00 +0100",
        "Mon 2026-02-02 09:00 +0100",
    ]
    # Without weekdays: the start's weekday.
    weekly = rule(frequency=Frequency.WEEKLY, interval=1, starts_at=local(2026, 1, 8, 9, 0))
    assert as_local(occurrences(weekly, limit=2, tz=BERLIN)) == ["Thu 2026-01-08 09:00 +0100", "Thu 2026-01-15 09:00 +0100"]


def test_it_stops_at_until_inclusive_and_at_count():
    until = rule(starts_at=local(2026, 5, 1, 23, 30), until=date(2026, 5, 3))
    assert as_local(occurrences(until, limit=10, tz=BERLIN)) == [
        "Fri 2026-05-01 23:30 +0200",
        "Sat 2026-05-02 23:30 +0200",
        "Sun 2026-05-03 23:30 +0200",
    ]
    counted = rule(frequency=Frequency.WEEKLY, weekdays=[1, 3], starts_at=local(2026, 5, 5, 8, 0), count=3)
    assert as_local(occurrences(counted, limit=10, tz=BERLIN)) == [
        "Tue 2026-05-05 08:00 +0200",
        "Thu 2026-05-07 08:00 +0200",
        "Tue 2026-05-12 08:00 +0200",
    ]


def test_it_continues_after_a_moment_with_the_same_numbering_as_from_the_start():
    # The skip-ahead arithmetic must land on the same occurrences (and count) as walking from the start.
    for kind, interval, weekdays in ((Frequency.DAILY, 3, []), (Frequency.WEEKLY, 2, [0, 3, 6]), (Frequency.WEEKLY, 3, [])):
        r = rule(frequency=kind, interval=interval, weekdays=weekdays, starts_at=local(2026, 2, 11, 7, 45), count=40)
        every = occurrences(r, limit=100, tz=BERLIN)
        assert len(every) == 40
        for position in (0, 5, 17, 38, 39):
            assert occurrences(r, after=every[position], limit=100, tz=BERLIN) == every[position + 1 :]
        assert occurrences(r, after=every[10] - timedelta(seconds=1), limit=1, tz=BERLIN) == [every[10]]


@pytest.mark.django_db
def test_it_sets_a_rule_with_its_next_occurrence_and_logs_it(workspace):
    post = PostFactory(workspace=workspace)
    now = local(2026, 6, 1, 12, 0)
    saved = recurrence_set(
        post=post,
        frequency=Frequency.WEEKLY,
        interval=1,
        weekdays=[4, 0, 0],
        starts_at=local(2026, 5, 25, 9, 0),
        count=5,
        actor=None,
        now=now,
    )
    # 25 May has passed: the next one from now on is Friday 5 June.
    assert saved.next_at == local(2026, 6, 5, 9, 0)
    assert saved.weekdays == [0, 4] and saved.active
    assert describe(saved) == "Every week on Monday, Friday at 09:00, 5 times"
    assert ActivityLog.objects.filter(post=post, action="post.recurrence_set").exists()
    # Setting it again replaces the rule.
    again = recurrence_set(post=post, frequency=Frequency.DAILY, interval=2, starts_at=local(2026, 6, 2, 7, 0), now=now)
    assert again.pk == saved.pk and Recurrence.objects.filter(post=post).count() == 1
    assert again.next_at == local(2026, 6, 2, 7, 0)


@pytest.mark.django_db
def test_it_refuses_bad_rules_with_messages_that_say_what_to_fix(workspace):
    post = PostFactory(workspace=workspace)
    start = local(2030, 1, 1, 9, 0)
    with pytest.raises(ValidationError) as bad:
        recurrence_set(
            post=post, frequency=Frequency.WEEKLY, interval=0, weekdays=[7], starts_at=start, until=date(2029, 12, 31), count=0
        )
    errors = bad.value.message_dict
    assert errors["interval"] == ["Repeat every 1 to 365 days or weeks."]
    assert errors["weekdays"] == ["Weekdays are numbers from 0 (Monday) to 6 (Sunday)."]
    assert errors["until"] == ["The last day (2029-12-31) is before the first occurrence (2030-01-01)."]
    assert "count" in errors
    with pytest.raises(ValidationError) as daily_weekdays:
        recurrence_set(post=post, frequency=Frequency.DAILY, interval=1, weekdays=[1], starts_at=start)
    assert "weekly" in daily_weekdays.value.message_dict["weekdays"][0]
    child = PostFactory(workspace=workspace, parent=post, occurrence_at=start)
    with pytest.raises(ValidationError) as repetition:
        recurrence_set(post=child, frequency=Frequency.DAILY, interval=1, starts_at=start)
    assert repetition.value.messages == [f"This post is a repetition of post #{post.pk}; repeat that post instead."]
    with pytest.raises(ValidationError) as over:
        recurrence_set(post=post, frequency=Frequency.DAILY, interval=1, starts_at=local(2020, 1, 1, 9), count=2)
    assert "no occurrence from now on" in over.value.messages[0]
    assert not Recurrence.objects.exists()


@pytest.mark.django_db
def test_it_stops_a_rule(workspace):
    post = PostFactory(workspace=workspace)
    recurrence_set(post=post, frequency=Frequency.DAILY, interval=1, starts_at=local(2030, 1, 1, 9, 0))
    stopped = recurrence_stop(post=post)
    assert (stopped.active, stopped.next_at) == (False, None)
    assert ActivityLog.objects.filter(post=post, action="post.recurrence_stop").exists()
    assert recurrence_stop(post=PostFactory(workspace=workspace)) is None
