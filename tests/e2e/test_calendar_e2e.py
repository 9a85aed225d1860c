"""The calendar in a real browser: posts on the member's local days across daylight-saving
changes, dragging a post to another day moves it and its executions, and Add to queue lands in the
next free slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Role
from planning.queue import queue_slot_add
from posts.models import Post, PostStatus
from publishing.models import Execution
from publishing.planner import post_publish

from ..factories import MembershipFactory, PostFactory, PublishingPolicyFactory, SocialAccountFactory, UserFactory
from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BERLIN = ZoneInfo("Europe/Berlin")


def editor(lock, *, member_tz: str = "", workspace_tz: str = "Europe/Berlin"):
    with lock:
        member = MembershipFactory(user=UserFactory(username="planner"), role=Role.EDITOR, timezone=member_tz)
        member.workspace.timezone = workspace_tz
        member.workspace.save(update_fields=["timezone"])
        PublishingPolicyFactory(workspace=member.workspace, fast=True)
        accounts = SocialAccountFactory.create_batch(2, workspace=member.workspace)
    return member.workspace, accounts


def cell_of(page, pk: int) -> str:
    return page.get_by_test_id(f"chip-{pk}").evaluate("chip => chip.closest('.cal-cell').dataset.date")


def test_it_shows_posts_on_the_members_local_days_across_dst(page, live_server, db_lock):
    # The workspace keeps UTC; the member lives in Berlin: the calendar's days are Berlin's.
    workspace, _accounts = editor(db_lock, member_tz="Europe/Berlin", workspace_tz="UTC")
    expected: dict[int, str] = {}
    with db_lock:
        for day in ("2026-03-28", "2026-03-29", "2026-03-30", "2026-10-24", "2026-10-25", "2026-10-26"):
            y, m, d = map(int, day.split("-"))
            for hour in (0, 23):  # 00:30 is the day before in UTC, 23:30 the same day
                at = datetime(y, m, d, hour, 30, tzinfo=BERLIN).astimezone(UTC)
                post = PostFactory(workspace=workspace, status=PostStatus.SCHEDULED, scheduled_at=at, title=f"At {day} {hour}")
                expected[post.pk] = day
    login(page, live_server.url, "planner", next_path="/calendar/?date=2026-03-01")
    for pk, day in expected.items():
        if day.startswith("2026-03"):
            assert cell_of(page, pk) == day, (pk, day)
            assert page.get_by_test_id(f"chip-{pk}").locator("time").inner_text() in ("00:30", "23:30")
    shot(page, "calendar-march-dst")
    page.get_by_test_id("calendar-next").click()  # April, through htmx …
    page.get_by_test_id("calendar-title").filter(has_text="April").wait_for()
    page.goto(f"{live_server.url}/calendar/?date=2026-10-01")
    for pk, day in expected.items():
        if day.startswith("2026-10"):
            assert cell_of(page, pk) == day, (pk, day)
    shot(page, "calendar-october-dst")
    assert page.console_problems == []


def test_it_moves_a_post_and_its_executions_by_dragging(page, live_server, db_lock):
    workspace, accounts = editor(db_lock)
    with db_lock:
        day = timezone.localdate(timezone.now(), BERLIN) + timedelta(days=4)
        at = datetime(day.year, day.month, day.day, 10, 15, tzinfo=BERLIN)
        post = PostFactory(workspace=workspace, media_type="text", title="Launch")
        post.target_accounts.set(accounts)
        post_publish(post=post, scheduled_at=at)
        before = dict(Execution.objects.filter(post=post).values_list("pk", "scheduled_for"))
    target = day - timedelta(days=1) if day.weekday() else day + timedelta(days=1)  # the same week row
    login(page, live_server.url, "planner", next_path=f"/calendar/?date={day.isoformat()}")
    chip = page.get_by_test_id(f"chip-{post.pk}")
    assert cell_of(page, post.pk) == day.isoformat()
    with page.expect_response(lambda r: f"/calendar/posts/{post.pk}/move/" in r.url) as answer:
        chip.drag_to(page.get_by_test_id(f"day-{target.isoformat()}"))
    assert answer.value.status == 200
    page.get_by_test_id(f"day-{target.isoformat()}").get_by_test_id(f"chip-{post.pk}").wait_for()
    shot(page, "calendar-dragged")
    with db_lock:
        post.refresh_from_db()
        after = dict(Execution.objects.filter(post=post).values_list("pk", "scheduled_for"))
    moved = datetime(target.year, target.month, target.day, 10, 15, tzinfo=BERLIN)
    assert post.scheduled_at == moved and post.status == PostStatus.SCHEDULED
    assert set(after) == set(before)  # the same executions: none created, none lost
    shift = moved - at
    assert {pk: t - shift for pk, t in after.items()} == before  # each moved with the post, paced as before
    assert page.console_problems == []


def test_it_adds_a_draft_to_the_next_free_slot(page, live_server, db_lock):
    workspace, accounts = editor(db_lock)
    with db_lock:
        tomorrow = timezone.localdate(timezone.now(), BERLIN) + timedelta(days=1)
        queue_slot_add(workspace=workspace, weekday=tomorrow.weekday(), time="09:00")
        queue_slot_add(workspace=workspace, weekday=tomorrow.weekday(), time="13:00")
        nine = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, tzinfo=BERLIN)
        PostFactory(workspace=workspace, status=PostStatus.SCHEDULED, scheduled_at=nine, queue_slot_at=nine, title="Taken")
        draft = PostFactory(workspace=workspace, media_type="text", title="Queue me")
        draft.target_accounts.set(accounts)
    login(page, live_server.url, "planner", next_path=f"/calendar/?view=week&date={tomorrow.isoformat()}")
    free = page.get_by_test_id("free-slot")
    assert free.count() == 1 and free.get_attribute("data-at").endswith("13:00")
    page.get_by_test_id(f"queue-draft-{draft.pk}").click()
    cell = page.get_by_test_id(f"cell-{tomorrow.isoformat()}-13")
    cell.get_by_test_id(f"chip-{draft.pk}").wait_for()
    assert page.get_by_test_id("free-slot").count() == 0
    shot(page, "calendar-added-to-queue")
    with db_lock:
        draft = Post.objects.get(pk=draft.pk)
        first = Execution.objects.filter(post=draft).order_by("scheduled_for").first()
    thirteen = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 13, tzinfo=BERLIN)
    assert draft.queue_slot_at == thirteen and draft.scheduled_at == thirteen
    assert draft.status == PostStatus.SCHEDULED and first.scheduled_for == thirteen
    assert page.console_problems == []
