"""Evergreen posts recycled into free queue slots: least recently repeated first, never to an
account that had the post within the workspace's minimum gap, one post per slot."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from planning.evergreen import evergreen_fill
from planning.models import QueueSlot
from planning.slots import slot_times
from posts.models import ApprovalStatus, Post
from publishing.models import Execution, ExecutionStatus

from ..factories import AccountGroupFactory, ExecutionFactory, PostFactory, SocialAccountFactory

pytestmark = pytest.mark.django_db


def every_day(workspace, *times, group=None) -> None:
    for weekday in range(7):
        for at in times:
            QueueSlot.objects.create(workspace=workspace, group=group, weekday=weekday, time=at)


def evergreen(workspace, accounts, **fields) -> Post:
    post = PostFactory(workspace=workspace, media_type="text", evergreen=True, **fields)
    post.target_accounts.set(accounts)
    return post


def test_it_fills_free_slots_least_recently_repeated_first_and_keeps_the_gap_per_account(workspace):
    workspace.evergreen_min_gap_days = 30
    workspace.save()
    every_day(workspace, time(9, 0), time(18, 0))
    x, y = SocialAccountFactory(workspace=workspace), SocialAccountFactory(workspace=workspace)
    now = timezone.now()
    slots = slot_times(workspace, start=now, end=now + timedelta(days=2))
    assert len(slots) == 4
    # The first slot is already held by an ordinary queued post.
    PostFactory(workspace=workspace, queue_slot_at=slots[0])
    recycled = evergreen(workspace, [x, y], title="Recycled")
    # Repeated five days ago, and published to x then.
    earlier = PostFactory(workspace=workspace, parent=recycled, occurrence_at=now - timedelta(days=5))
    ExecutionFactory(post=earlier, account=x, status=ExecutionStatus.SUCCESS, finished_at=now - timedelta(days=5))
    fresh = evergreen(workspace, [x, y], title="Fresh")
    PostFactory(workspace=workspace, caption="Not evergreen").target_accounts.set([x, y])

    assert evergreen_fill(now=now) == 2

    made = list(Post.objects.filter(queue_slot_at__isnull=False, parent__isnull=False).order_by("queue_slot_at"))
    # Never repeated goes first, to both accounts; then the other one, only to y (x had it 5 days ago).
    assert [(child.parent, child.queue_slot_at, child.occurrence_at) for child in made] == [
        (fresh, slots[1], slots[1]),
        (recycled, slots[2], slots[2]),
    ]
    assert set(made[0].target_accounts.all()) == {x, y}
    assert set(made[1].target_accounts.all()) == {y}
    # Published at their slots.
    for child in made:
        executions = Execution.objects.filter(post=child)
        assert executions.exists() and all(e.scheduled_for >= child.queue_slot_at for e in executions)
    # The last slot stays free: both posts went to every account within 30 days. A second run adds nothing.
    assert evergreen_fill(now=now) == 0
    assert Post.objects.filter(parent__isnull=False).count() == 3


def test_it_counts_the_evergreen_posts_own_publication_and_open_executions_in_the_gap(workspace):
    workspace.evergreen_min_gap_days = 7
    workspace.save()
    every_day(workspace, time(12, 0))
    x, y = SocialAccountFactory(workspace=workspace), SocialAccountFactory(workspace=workspace)
    now = timezone.now()
    post = evergreen(workspace, [x, y])
    ExecutionFactory(post=post, account=x, status=ExecutionStatus.SUCCESS, finished_at=now - timedelta(days=4))
    waiting = PostFactory(workspace=workspace, parent=post, occurrence_at=now + timedelta(days=2))
    ExecutionFactory(post=waiting, account=y, status=ExecutionStatus.PENDING, scheduled_for=now + timedelta(days=2))

    # Both accounts are within a week of the next two days' slots: nothing to recycle.
    assert evergreen_fill(now=now) == 0

    # With a 2-day gap x (4 days ago) may have it again in the next day's slot; y (in 2 days) still may not.
    workspace.evergreen_min_gap_days = 2
    workspace.save()
    assert evergreen_fill(now=now, horizon=timedelta(hours=24)) == 1
    child = post.repetitions.exclude(pk=waiting.pk).get()
    assert set(child.target_accounts.all()) == {x}


def test_it_fills_a_groups_queue_with_that_groups_evergreen_posts_only(workspace):
    workspace.evergreen_min_gap_days = 1
    workspace.save()
    group = AccountGroupFactory(workspace=workspace)
    every_day(workspace, time(10, 0), group=group)
    account = SocialAccountFactory(workspace=workspace, group=group)
    now = timezone.now()
    in_group = evergreen(workspace, [account], queue_group=group)
    evergreen(workspace, [account])  # the workspace's queue has no slots

    assert evergreen_fill(now=now, horizon=timedelta(days=1)) == 1

    child = Post.objects.get(parent__isnull=False)
    assert (child.parent, child.queue_group) == (in_group, group)


def test_it_recycles_only_approved_posts_where_posts_need_approval(workspace):
    workspace.posts_need_approval = True
    workspace.save()
    every_day(workspace, time(8, 0), time(20, 0))
    account = SocialAccountFactory(workspace=workspace)
    evergreen(workspace, [account], approval_status=ApprovalStatus.PENDING)
    approved = evergreen(workspace, [account], approval_status=ApprovalStatus.APPROVED)

    assert evergreen_fill(now=timezone.now(), horizon=timedelta(days=1)) == 1

    child = Post.objects.get(parent__isnull=False)
    assert (child.parent, child.approval_status) == (approved, ApprovalStatus.APPROVED)
    assert Execution.objects.filter(post=child).count() == 1


def test_it_leaves_out_accounts_the_planner_would_block_and_skips_a_post_with_none_left(workspace):
    every_day(workspace, time(7, 0), time(19, 0))
    banned = SocialAccountFactory(workspace=workspace, status="banned")
    active = SocialAccountFactory(workspace=workspace)
    evergreen(workspace, [banned])
    mixed = evergreen(workspace, [banned, active])

    assert evergreen_fill(now=timezone.now(), horizon=timedelta(days=1)) == 1

    child = Post.objects.get(parent__isnull=False)
    assert child.parent == mixed and set(child.target_accounts.all()) == {active}
