"""Rescheduling a planned post: its waiting executions move by the planner's pacing, nothing is
created twice or lost, and the edit paths (API PATCH, admin) re-plan the same way."""

import itertools
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crosspost.models import ActivityLog
from posts.models import PostStatus
from publishing.models import Execution, ExecutionStatus
from publishing.planner import post_publish
from publishing.services import post_edit, post_reschedule

from ..factories import ExecutionFactory, PostFactory, PublishingPolicyFactory, SocialAccountFactory

HOUR = timedelta(hours=1)


@pytest.fixture
def planned(workspace):
    """A text post scheduled in two days on three sandbox accounts, paced an hour apart."""
    PublishingPolicyFactory(workspace=workspace, min_interval_s=3600, stagger_min_s=600, stagger_max_s=600)
    accounts = SocialAccountFactory.create_batch(3, workspace=workspace)
    post = PostFactory(workspace=workspace, media_type="text")
    post.target_accounts.set(accounts)
    at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    post_publish(post=post, scheduled_at=at)
    post.refresh_from_db()
    assert post.status == PostStatus.SCHEDULED
    return post, accounts, at


def times_of(post) -> dict:
    return dict(Execution.objects.filter(post=post).values_list("pk", "scheduled_for"))


@pytest.mark.django_db
class TestPostReschedule:
    def test_it_moves_the_post_and_its_pending_executions_without_new_ones(self, planned):
        post, _accounts, at = planned
        before = times_of(post)
        new_at = at + timedelta(days=3)
        result = post_reschedule(post=post, scheduled_at=new_at)
        post.refresh_from_db()
        after = times_of(post)
        assert post.scheduled_at == new_at
        assert set(after) == set(before)  # the same executions, none added or lost
        assert len(result["moved"]) == 3 and result["left"] == []
        assert min(after.values()) == new_at
        # The stagger between the accounts is the planner's (the policy's 600 s), as before.
        gaps = sorted(after.values())
        assert [b - a for a, b in itertools.pairwise(gaps)] == [timedelta(seconds=600)] * 2
        assert ActivityLog.objects.filter(post=post, action="post.reschedule").count() == 1

    def test_it_keeps_other_posts_pacing_but_not_its_own_old_times(self, planned, workspace):
        post, accounts, at = planned
        # Another post of the first account sits at the new time: the min interval (1 h) keeps us clear of it.
        other_at = at + timedelta(days=1)
        ExecutionFactory(account=accounts[0], workspace=workspace, scheduled_for=other_at, status=ExecutionStatus.PENDING)
        post_reschedule(post=post, scheduled_at=other_at)
        mine = Execution.objects.get(post=post, account=accounts[0]).scheduled_for
        assert mine >= other_at + HOUR
        # Ten minutes after its own old time is fine: the post's old times do not block it.
        post_reschedule(post=post, scheduled_at=at + timedelta(minutes=10))
        assert min(times_of(post).values()) == at + timedelta(minutes=10)

    def test_it_leaves_queued_and_posting_executions_alone_and_reports_them(self, planned):
        post, accounts, _at = planned
        queued = Execution.objects.get(post=post, account=accounts[0])
        posting = Execution.objects.get(post=post, account=accounts[1])
        Execution.objects.filter(pk=queued.pk).update(status=ExecutionStatus.QUEUED)
        Execution.objects.filter(pk=posting.pk).update(status=ExecutionStatus.POSTING)
        result = post_reschedule(post=post, scheduled_at=timezone.now() + timedelta(days=9))
        assert {row["execution"] for row in result["left"]} == {queued.pk, posting.pk}
        assert Execution.objects.get(pk=queued.pk).scheduled_for == queued.scheduled_for
        assert Execution.objects.get(pk=posting.pk).scheduled_for == posting.scheduled_for
        assert [row["status"] for row in result["moved"]] == [ExecutionStatus.PENDING]

    def test_it_lets_a_blocked_execution_follow_the_new_time_still_blocked(self, planned):
        post, accounts, _at = planned
        blocked = Execution.objects.get(post=post, account=accounts[2])
        Execution.objects.filter(pk=blocked.pk).update(status=ExecutionStatus.BLOCKED, error_message="banned")
        new_at = timezone.now() + timedelta(days=5)
        post_reschedule(post=post, scheduled_at=new_at)
        blocked.refresh_from_db()
        assert blocked.status == ExecutionStatus.BLOCKED and blocked.scheduled_for == new_at

    def test_it_refuses_a_past_time_and_changes_nothing(self, planned):
        post, _accounts, at = planned
        before = times_of(post)
        with pytest.raises(ValidationError) as caught:
            post_reschedule(post=post, scheduled_at=timezone.now() - timedelta(hours=2))
        assert "scheduled_at" in caught.value.message_dict
        post.refresh_from_db()
        assert post.scheduled_at == at and times_of(post) == before

    def test_it_refuses_a_post_that_is_publishing(self, planned):
        post, _accounts, _at = planned
        post.status = PostStatus.PUBLISHING
        post.save(update_fields=["status"])
        with pytest.raises(ValidationError, match="Only draft or scheduled"):
            post_reschedule(post=post, scheduled_at=timezone.now() + timedelta(days=4))

    def test_it_moves_a_draft_without_executions(self, workspace):
        post = PostFactory(workspace=workspace)
        new_at = timezone.now() + timedelta(days=1)
        result = post_reschedule(post=post, scheduled_at=new_at)
        post.refresh_from_db()
        assert post.scheduled_at == new_at and result["moved"] == [] and post.status == PostStatus.DRAFT

    def test_it_frees_the_queue_slot_of_a_moved_post(self, planned):
        post, _accounts, at = planned
        type(post).objects.filter(pk=post.pk).update(queue_slot_at=at)
        post_reschedule(post=post, scheduled_at=at + timedelta(days=1))
        post.refresh_from_db()
        assert post.queue_slot_at is None


@pytest.mark.django_db
class TestEditPathsReplan:
    def test_it_replans_on_post_edit_of_a_scheduled_post(self, planned):
        post, _accounts, at = planned
        new_at = at + timedelta(days=1)
        post_edit(post=post, scheduled_at=new_at)
        assert min(times_of(post).values()) == new_at
        assert Execution.objects.filter(post=post).count() == 3

    def test_it_replans_on_api_patch(self, planned, api):
        post, _accounts, at = planned
        client = api("editor", post.workspace)
        new_at = at + timedelta(days=2)
        response = client.patch(f"/api/v1/posts/{post.pk}/", {"scheduled_at": new_at.isoformat()}, format="json")
        assert response.status_code == 200, response.content
        assert min(times_of(post).values()) == new_at
        assert Execution.objects.filter(post=post).count() == 3

    def test_it_leaves_executions_when_the_api_patch_keeps_the_time(self, planned, api):
        post, _accounts, _at = planned
        before = times_of(post)
        response = api("editor", post.workspace).patch(f"/api/v1/posts/{post.pk}/", {"title": "New"}, format="json")
        assert response.status_code == 200, response.content
        assert times_of(post) == before
