"""The API of recurring and evergreen posts: posts/{id}/recurrence/ (GET/PUT/DELETE), the
writable ``evergreen`` flag, the read-only ``parent``/``occurrence_at`` and the ``?parent=`` filter."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from planning.models import Recurrence
from posts.models import Post, PostStatus

from ..factories import PostFactory

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def test_it_sets_reads_and_stops_a_posts_rule(api, workspace):
    client = api(Role.EDITOR)
    post = PostFactory(workspace=workspace)
    url = f"{V1}/posts/{post.pk}/recurrence/"
    assert client.get(url).status_code == 404

    start = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    body = {"frequency": "weekly", "interval": 2, "weekdays": [4, 1], "starts_at": start.isoformat(), "count": 6}
    response = client.put(url, body, format="json")
    assert response.status_code == 200, response.json()
    rule = response.json()
    assert (rule["frequency"], rule["interval"], rule["weekdays"], rule["count"], rule["active"]) == (
        "weekly",
        2,
        [1, 4],
        6,
        True,
    )
    assert rule["description"].startswith("Every 2 weeks on Tuesday, Friday at ")
    assert rule["next_at"] is not None
    assert client.get(url).json() == rule

    assert client.delete(url).status_code == 204
    stopped = Recurrence.objects.get(post=post)
    assert (stopped.active, stopped.next_at) == (False, None)


def test_it_refuses_a_bad_rule_with_field_errors_and_viewers_writing_it(api, workspace):
    post = PostFactory(workspace=workspace)
    url = f"{V1}/posts/{post.pk}/recurrence/"
    start = timezone.now() + timedelta(days=1)
    bad = api(Role.EDITOR).put(
        url,
        {"frequency": "daily", "weekdays": [2], "starts_at": start.isoformat(), "until": "2000-01-01"},
        format="json",
    )
    assert bad.status_code == 400
    errors = bad.json()
    assert "weekly" in str(errors["weekdays"]) and "before the first occurrence" in str(errors["until"])
    assert api(Role.EDITOR).put(url, {"frequency": "hourly", "starts_at": start.isoformat()}, format="json").status_code == 400
    viewer = api(Role.VIEWER)
    assert viewer.put(url, {"frequency": "daily", "starts_at": start.isoformat()}, format="json").status_code == 403
    assert viewer.delete(url).status_code == 403
    assert not Recurrence.objects.exists()


def test_it_switches_evergreen_even_on_a_finished_post_and_filters_repetitions(api, workspace):
    client = api(Role.EDITOR)
    done = PostFactory(workspace=workspace, status=PostStatus.COMPLETED)
    response = client.patch(f"{V1}/posts/{done.pk}/", {"evergreen": True}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["evergreen"] is True and Post.objects.get(pk=done.pk).evergreen
    # Content of a finished post still cannot change.
    assert client.patch(f"{V1}/posts/{done.pk}/", {"caption": "new"}, format="json").status_code == 409
    assert client.patch(f"{V1}/posts/{done.pk}/", {"evergreen": 1}, format="json").status_code == 400

    child = PostFactory(workspace=workspace, parent=done, occurrence_at=timezone.now())
    PostFactory(workspace=workspace)
    listed = client.get(f"{V1}/posts/", {"parent": done.pk}).json()["results"]
    assert [(row["id"], row["parent"]) for row in listed] == [(child.pk, done.pk)]
    assert listed[0]["occurrence_at"] is not None
    refused = client.patch(f"{V1}/posts/{child.pk}/", {"evergreen": True, "parent": None}, format="json")
    assert refused.status_code == 409
    assert "make that post evergreen instead" in str(refused.json())
    child.refresh_from_db()
    assert child.parent == done and not child.evergreen

    created = client.post(
        f"{V1}/posts/", {"caption": "Always good", "media_type": "text", "evergreen": True}, format="json"
    ).json()
    assert created["evergreen"] is True and created["parent"] is None
