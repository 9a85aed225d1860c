"""The dashboard's calendar: posts on the member's local days across DST, filters, the day cap,
a constant number of queries, dragging (moving) a post, Add to queue and the slots page."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from planning.models import QueueSlot
from planning.queue import queue_slot_add
from posts.models import PostStatus
from publishing.models import Execution
from publishing.planner import post_publish

from ..factories import (
    AccountGroupFactory,
    MembershipFactory,
    PostFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    UserFactory,
    WorkspaceFactory,
)

BERLIN = ZoneInfo("Europe/Berlin")
HX = {"HTTP_HX_REQUEST": "true"}


def local(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def login(client, workspace, role=Role.EDITOR, tz=""):
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role=role, timezone=tz)
    client.force_login(user)
    return user


def days_of(response) -> dict[str, list[int]]:
    """Each day cell's chip post ids, read from the rendered page's context."""
    return {d.day.isoformat(): [c.pk for c in d.chips] for d in response.context["page"].days}


@pytest.mark.django_db
class TestCalendarPage:
    def test_it_puts_posts_on_the_members_local_days_across_dst(self, client, workspace):
        workspace.timezone = "UTC"  # the member's own zone decides the days, not the workspace's
        workspace.save(update_fields=["timezone"])
        login(client, workspace, tz="Europe/Berlin")
        # 00:30 and 23:30 Berlin the day before, on and after each change: 00:30 is the day before in
        # UTC, 23:30 the same day (22:30 or 21:30 UTC); the member's local day is what counts.
        posts = {}
        for day in ("2026-03-28", "2026-03-29", "2026-03-30", "2026-10-24", "2026-10-25", "2026-10-26"):
            y, m, d = map(int, day.split("-"))
            posts[day] = [
                PostFactory(workspace=workspace, status=PostStatus.SCHEDULED, scheduled_at=local(y, m, d, hour, 30)).pk
                for hour in (0, 23)
            ]
        march = days_of(client.get(reverse("dashboard:calendar"), {"date": "2026-03-01"}))
        october = days_of(client.get(reverse("dashboard:calendar"), {"date": "2026-10-01"}))
        for day, pks in posts.items():
            grid = march if day.startswith("2026-03") else october
            assert grid[day] == pks, day

    def test_each_chip_links_its_post_and_its_move(self, client, workspace):
        login(client, workspace)
        posts = [
            PostFactory(workspace=workspace, status=PostStatus.SCHEDULED, scheduled_at=local(2026, 5, d, 10)) for d in (9, 12)
        ]
        response = client.get(reverse("dashboard:calendar"), {"date": "2026-05-01"})
        chips = {c.pk: c for d in response.context["page"].days for c in d.chips}
        for post in posts:
            assert chips[post.pk].url == reverse("dashboard:post", args=[post.pk])
            assert chips[post.pk].move_url == reverse("dashboard:calendar-move", args=[post.pk])

    def test_it_caps_chips_per_day_and_counts_the_rest(self, client, workspace):
        login(client, workspace)
        for minute in range(7):
            PostFactory(workspace=workspace, status=PostStatus.SCHEDULED, scheduled_at=local(2026, 5, 12, 10, minute))
        response = client.get(reverse("dashboard:calendar"), {"date": "2026-05-01"})
        day = next(d for d in response.context["page"].days if d.day.isoformat() == "2026-05-12")
        assert len(day.chips) == 4 and day.more == 3
        assert "3 more" in response.content.decode()

    def test_it_reads_a_month_in_a_constant_number_of_queries(self, client, workspace):
        login(client, workspace)
        accounts = SocialAccountFactory.create_batch(3, workspace=workspace)

        def month_queries(count: int) -> int:
            for n in range(count):
                post = PostFactory(workspace=workspace, status=PostStatus.SCHEDULED, scheduled_at=local(2026, 6, 1 + n % 28, 9))
                post.target_accounts.set(accounts[: 1 + n % 3])
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse("dashboard:calendar"), {"date": "2026-06-01"}).status_code == 200
            return len(queries)

        assert month_queries(3) == month_queries(60)

    def test_it_filters_by_group_platform_account_and_status(self, client, workspace):
        login(client, workspace)
        group = AccountGroupFactory(workspace=workspace)
        vk = SocialAccountFactory(workspace=workspace, platform="vk", group=group)
        sandbox = SocialAccountFactory(workspace=workspace)
        at = local(2026, 7, 8, 12)
        by_group = PostFactory(workspace=workspace, status=PostStatus.SCHEDULED, scheduled_at=at)
        by_group.target_groups.set([group])
        direct = PostFactory(workspace=workspace, status=PostStatus.COMPLETED, scheduled_at=at + timedelta(hours=1))
        direct.target_accounts.set([sandbox])
        url = reverse("dashboard:calendar")

        def shown(**params) -> set[int]:
            response = client.get(url, {"date": "2026-07-01", **params}, **HX)
            return {pk for pks in days_of(response).values() for pk in pks}

        assert shown() == {by_group.pk, direct.pk}
        assert shown(group=group.pk) == {by_group.pk}
        assert shown(platform="vk") == {by_group.pk}
        assert shown(account=str(vk.pk)) == {by_group.pk}
        assert shown(account=str(sandbox.pk)) == {direct.pk}
        assert shown(status="completed") == {direct.pk}
        assert shown(status="nonsense") == {by_group.pk, direct.pk}  # a bad filter shows everything, not an error
        chip = client.get(url, {"date": "2026-07-01"}).content.decode()
        assert f'data-testid="chip-{by_group.pk}"' in chip and 'title="VK"' in chip

    def test_it_shows_only_the_members_workspaces(self, client, workspace):
        login(client, workspace, role=Role.VIEWER)
        other = PostFactory(workspace=WorkspaceFactory(), status=PostStatus.SCHEDULED, scheduled_at=local(2026, 8, 3, 9))
        response = client.get(reverse("dashboard:calendar"), {"date": "2026-08-01", "workspace": other.workspace_id})
        assert response.status_code == 200
        assert response.context["workspace"] == workspace
        assert all(other.pk not in pks for pks in days_of(response).values())

    def test_it_shows_the_queues_free_slots_in_the_week(self, client, workspace):
        login(client, workspace)
        monday = timezone.localdate() + timedelta(days=7 - timezone.localdate().weekday())
        queue_slot_add(workspace=workspace, weekday=0, time="09:00")
        queue_slot_add(workspace=workspace, weekday=0, time="13:00")
        PostFactory(
            workspace=workspace, status=PostStatus.SCHEDULED, queue_slot_at=local(monday.year, monday.month, monday.day, 9)
        )
        response = client.get(reverse("dashboard:calendar"), {"view": "week", "date": monday.isoformat()})
        assert response.context["page"].start == monday
        title = response.content.decode().split('data-testid="calendar-title">')[1].split("</h2>")[0]
        assert title.startswith("Week of ") and str(monday.year) in title
        free = [f.strftime("%H:%M") for d in response.context["page"].days for f in d.free]
        assert free == ["13:00"]
        assert 'data-testid="free-slot"' in response.content.decode()


@pytest.fixture
def scheduled(workspace):
    PublishingPolicyFactory(workspace=workspace, fast=True)
    accounts = SocialAccountFactory.create_batch(2, workspace=workspace)
    post = PostFactory(workspace=workspace, media_type="text")
    post.target_accounts.set(accounts)
    at = (timezone.now() + timedelta(days=3)).astimezone(BERLIN).replace(hour=10, minute=15, second=0, microsecond=0)
    post_publish(post=post, scheduled_at=at)
    return post, at


@pytest.mark.django_db
class TestMove:
    def test_it_moves_a_post_to_the_dropped_day_keeping_its_local_time(self, client, workspace, scheduled):
        post, at = scheduled
        login(client, workspace, tz="Europe/Berlin")
        ids = set(Execution.objects.filter(post=post).values_list("pk", flat=True))
        target = (at + timedelta(days=2)).date()
        response = client.post(reverse("dashboard:calendar-move", args=[post.pk]), {"date": target.isoformat()}, **HX)
        assert response.status_code == 200
        post.refresh_from_db()
        assert post.scheduled_at.astimezone(BERLIN) == at + timedelta(days=2)
        assert set(Execution.objects.filter(post=post).values_list("pk", flat=True)) == ids
        assert min(Execution.objects.filter(post=post).values_list("scheduled_for", flat=True)) == post.scheduled_at

    def test_it_moves_to_the_dropped_hour_in_the_week_view(self, client, workspace, scheduled):
        post, at = scheduled
        login(client, workspace, tz="Europe/Berlin")
        day = at.date().isoformat()
        client.post(reverse("dashboard:calendar-move", args=[post.pk]) + "?view=week", {"date": day, "hour": 17}, **HX)
        post.refresh_from_db()
        assert post.scheduled_at.astimezone(BERLIN).strftime("%H:%M") == "17:15"

    def test_it_shows_a_refusal_inline_and_moves_nothing(self, client, workspace, scheduled):
        post, at = scheduled
        login(client, workspace)
        past = (timezone.localdate() - timedelta(days=3)).isoformat()
        response = client.post(reverse("dashboard:calendar-move", args=[post.pk]), {"date": past}, **HX)
        assert response.status_code == 400
        assert 'data-testid="calendar-error"' in response.content.decode()
        post.refresh_from_db()
        assert post.scheduled_at == at

    def test_it_refuses_viewers_other_workspaces_and_missing_csrf(self, client, workspace, scheduled):
        post, at = scheduled
        url = reverse("dashboard:calendar-move", args=[post.pk])
        later = (at + timedelta(days=1)).date().isoformat()
        login(client, workspace, role=Role.VIEWER)
        assert client.post(url, {"date": later}).status_code == 403
        login(client, WorkspaceFactory(), role=Role.OWNER)
        assert client.post(url, {"date": later}).status_code == 404
        strict = Client(enforce_csrf_checks=True)
        login(strict, workspace, role=Role.EDITOR)
        assert strict.post(url, {"date": later}).status_code == 403
        post.refresh_from_db()
        assert post.scheduled_at == at


@pytest.mark.django_db
class TestQueueAndSlotsPages:
    def test_it_adds_a_post_to_the_queue_from_its_page(self, client, workspace):
        PublishingPolicyFactory(workspace=workspace, fast=True)
        post = PostFactory(workspace=workspace, media_type="text")
        post.target_accounts.set([SocialAccountFactory(workspace=workspace)])
        queue_slot_add(workspace=workspace, weekday=timezone.localdate().weekday(), time="00:00")
        login(client, workspace)
        page = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
        assert 'data-testid="add-to-queue"' in page
        response = client.post(reverse("dashboard:post-queue", args=[post.pk]), {"group": ""})
        assert response.status_code == 302
        post.refresh_from_db()
        assert post.status == PostStatus.SCHEDULED and post.queue_slot_at == post.scheduled_at

    def test_it_lets_admins_edit_slots_and_not_editors(self, client, workspace):
        group = AccountGroupFactory(workspace=workspace)
        login(client, workspace, role=Role.ADMIN)
        add = reverse("dashboard:calendar-slots-add")
        response = client.post(add, {"workspace": workspace.pk, "group": group.pk, "weekdays": [0, 2], "time": "09:30"}, **HX)
        assert response.status_code == 200
        assert QueueSlot.objects.filter(workspace=workspace, group=group).count() == 2
        bad = client.post(add, {"workspace": workspace.pk, "weekdays": [], "time": "25:00"}, **HX)
        assert bad.status_code == 400 and 'role="alert"' in bad.content.decode()
        slot = QueueSlot.objects.filter(group=group).first()
        assert client.post(reverse("dashboard:calendar-slot-remove", args=[slot.pk]), **HX).status_code == 200
        assert QueueSlot.objects.filter(group=group).count() == 1
        login(client, workspace, role=Role.EDITOR)
        page = client.get(reverse("dashboard:calendar-slots"), {"workspace": workspace.pk, "group": group.pk})
        assert page.status_code == 200 and 'data-testid="slot-add"' not in page.content.decode()
        assert client.post(add, {"workspace": workspace.pk, "weekdays": [1], "time": "10:00"}).status_code == 403
        last = QueueSlot.objects.get(group=group)
        assert client.post(reverse("dashboard:calendar-slot-remove", args=[last.pk])).status_code == 403
