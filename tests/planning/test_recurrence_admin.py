"""Admin of recurring posts: scoped to the member's workspaces, a Stop action through the
service, and the rule on the post's admin page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from crosspost.models import ActivityLog
from planning.models import Recurrence
from planning.recurrence import recurrence_set

from ..factories import PostFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def repeating(workspace, title: str) -> Recurrence:
    post = PostFactory(workspace=workspace, title=title)
    return recurrence_set(post=post, frequency="daily", interval=3, starts_at=timezone.now() + timedelta(days=1))


def test_it_lists_the_rules_of_the_members_workspaces_and_stops_them(client, member, workspace):
    mine = repeating(workspace, "Alpha tips")
    theirs = repeating(WorkspaceFactory(), "Bravo tips")
    client.force_login(member(Role.EDITOR))
    changelist = reverse("admin:planning_recurrence_changelist")

    listing = client.get(changelist)
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [mine]
    body = listing.content.decode()
    assert "Every 3 days at" in body and "Bravo" not in body
    assert client.get(reverse("admin:planning_recurrence_add")).status_code == 403

    client.post(changelist, {"action": "stop_repeating", "_selected_action": [str(mine.pk), str(theirs.pk)]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.active, theirs.active) == (False, True)
    assert ActivityLog.objects.filter(action="post.recurrence_stop", post=mine.post).exists()


def test_it_shows_the_rule_on_the_posts_admin_page(client, member, workspace):
    rule = repeating(workspace, "Alpha tips")
    client.force_login(member(Role.ADMIN))
    page = client.get(reverse("admin:posts_post_change", args=[rule.post.pk]))
    assert page.status_code == 200
    assert "Every 3 days at" in page.content.decode()
