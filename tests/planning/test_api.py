"""API of the queue and the calendar: queue-slot CRUD (admins write, viewers read, other
workspaces are 404), Add to queue and Reschedule (editors; viewers 403; other workspaces 404)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from planning.models import QueueSlot
from planning.queue import queue_slot_add
from posts.models import PostStatus
from publishing.models import Execution
from publishing.planner import post_publish

from ..factories import AccountGroupFactory, WorkspaceFactory


@pytest.mark.django_db
class TestQueueSlotsApi:
    def test_it_lets_an_admin_create_list_change_and_delete_slots(self, api, workspace):
        client = api("admin")
        group = AccountGroupFactory(workspace=workspace)
        created = client.post("/api/v1/queue-slots/", {"weekday": 0, "time": "09:00", "group": group.pk}, format="json")
        assert created.status_code == 201, created.content
        assert created.json()["time"] == "09:00:00" and created.json()["group"] == group.pk
        slot_id = created.json()["id"]
        listed = client.get("/api/v1/queue-slots/", {"group": group.pk}).json()
        assert [row["id"] for row in listed["results"]] == [slot_id]
        changed = client.patch(f"/api/v1/queue-slots/{slot_id}/", {"weekday": 3}, format="json")
        assert changed.status_code == 200 and changed.json()["weekday"] == 3
        assert client.delete(f"/api/v1/queue-slots/{slot_id}/").status_code == 204
        assert not QueueSlot.objects.exists()

    def test_it_answers_a_duplicate_or_a_bad_time_with_what_to_fix(self, api, workspace):
        client = api("admin")
        assert client.post("/api/v1/queue-slots/", {"weekday": 1, "time": "10:00"}, format="json").status_code == 201
        duplicate = client.post("/api/v1/queue-slots/", {"weekday": 1, "time": "10:00"}, format="json")
        assert duplicate.status_code in (400, 409) and "already has a slot" in duplicate.content.decode()
        bad = client.post("/api/v1/queue-slots/", {"weekday": 8, "time": "25:00"}, format="json")
        assert bad.status_code == 400 and {"weekday", "time"} <= set(bad.json())

    def test_it_refuses_writes_below_admin_and_hides_other_workspaces(self, api, workspace):
        slot = queue_slot_add(workspace=workspace, weekday=0, time="09:00")
        editor = api("editor")
        assert editor.get("/api/v1/queue-slots/").json()["count"] == 1
        assert editor.post("/api/v1/queue-slots/", {"weekday": 2, "time": "09:00"}, format="json").status_code == 403
        assert editor.delete(f"/api/v1/queue-slots/{slot.pk}/").status_code == 403
        stranger = api("owner", WorkspaceFactory())
        assert stranger.get("/api/v1/queue-slots/").json()["count"] == 0
        assert stranger.delete(f"/api/v1/queue-slots/{slot.pk}/").status_code == 404
        other_group = AccountGroupFactory()
        response = api("admin").post(
            "/api/v1/queue-slots/", {"weekday": 2, "time": "09:00", "group": other_group.pk}, format="json"
        )
        assert response.status_code in (400, 409), response.content
        assert "group" in response.json()


@pytest.mark.django_db
class TestPostActionsApi:
    def test_it_adds_a_post_to_the_queue(self, api, workspace, text_post):
        queue_slot_add(workspace=workspace, weekday=timezone.now().weekday(), time="00:00")
        post = text_post()
        response = api("editor").post(f"/api/v1/posts/{post.pk}/add-to-queue/", {"group": None}, format="json")
        assert response.status_code == 200, response.content
        post.refresh_from_db()
        assert post.status == PostStatus.SCHEDULED and post.queue_slot_at is not None
        assert response.json()["slot"] and Execution.objects.filter(post=post).count() == 2

    def test_it_says_the_queue_has_no_slots(self, api, text_post):
        response = api("editor").post(f"/api/v1/posts/{text_post().pk}/add-to-queue/", {}, format="json")
        assert response.status_code == 400 and "no time slots" in response.content.decode()

    def test_it_reschedules_a_post_and_its_executions(self, api, text_post):
        post = text_post()
        post_publish(post=post, scheduled_at=timezone.now() + timedelta(days=1))
        ids = set(Execution.objects.filter(post=post).values_list("pk", flat=True))
        new_at = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
        response = api("editor").post(f"/api/v1/posts/{post.pk}/reschedule/", {"scheduled_at": new_at.isoformat()}, format="json")
        assert response.status_code == 200, response.content
        assert len(response.json()["moved"]) == 2
        assert set(Execution.objects.filter(post=post).values_list("pk", flat=True)) == ids
        assert min(Execution.objects.filter(post=post).values_list("scheduled_for", flat=True)) == new_at

    def test_it_refuses_a_past_time(self, api, text_post):
        post = text_post()
        past = (timezone.now() - timedelta(days=1)).isoformat()
        response = api("editor").post(f"/api/v1/posts/{post.pk}/reschedule/", {"scheduled_at": past}, format="json")
        assert response.status_code == 400 and "scheduled_at" in response.json()

    def test_it_refuses_viewers_and_hides_other_workspaces_posts(self, api, workspace, text_post):
        post = text_post()
        later = (timezone.now() + timedelta(days=1)).isoformat()
        viewer = api("viewer")
        assert viewer.post(f"/api/v1/posts/{post.pk}/reschedule/", {"scheduled_at": later}, format="json").status_code == 403
        assert viewer.post(f"/api/v1/posts/{post.pk}/add-to-queue/", {}, format="json").status_code == 403
        stranger = api("owner", WorkspaceFactory())
        assert stranger.post(f"/api/v1/posts/{post.pk}/reschedule/", {"scheduled_at": later}, format="json").status_code == 404
        assert stranger.post(f"/api/v1/posts/{post.pk}/add-to-queue/", {}, format="json").status_code == 404
        post.refresh_from_db()
        assert post.scheduled_at is None
