# ruff: noqa: F811 — pytest fixtures imported from translations_support are test arguments here.
"""Repetitions of recurring posts: exactly one new post per occurrence, however often beat runs;
linked to the parent and published at the occurrence; approvals carried over; captions
translated once while they do not change."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from crosspost.models import ActivityLog
from planning.models import Frequency, Recurrence
from planning.recurrence import recurrence_set
from planning.repetitions import CATCH_UP, _claim_next, repetitions_due
from posts.models import ApprovalStatus, Post, PostStatus
from publishing.models import Execution, ExecutionStatus

from ..factories import (
    AccountGroupFactory,
    MediaAssetFactory,
    PostFactory,
    PostMediaFactory,
    SocialAccountFactory,
    UserFactory,
    WorkspaceFactory,
)
from ..translations_support import _no_providers, deepl_api  # noqa: F401


def repeating_post(workspace, *, starts_at, accounts=None, count=None, **fields) -> Post:
    fields.setdefault("media_type", "text")
    post = PostFactory(workspace=workspace, caption="Weekly tips", **fields)
    post.target_accounts.set(accounts if accounts is not None else [SocialAccountFactory(workspace=workspace)])
    recurrence_set(post=post, frequency=Frequency.DAILY, interval=1, starts_at=starts_at, count=count, now=starts_at)
    return post


@pytest.mark.django_db
def test_it_makes_one_copy_per_occurrence_even_when_beat_runs_twice(workspace):
    author = UserFactory()
    group = AccountGroupFactory(workspace=workspace)
    in_group = SocialAccountFactory(workspace=workspace, group=group)
    direct = SocialAccountFactory(workspace=workspace)
    now = timezone.now()
    start = now + timedelta(minutes=5)
    parent = PostFactory(
        workspace=workspace,
        author=author,
        title="Tips",
        caption="Weekly tips #tips",
        media_type="photo",
        priority="high",
        options={"captions": {"de": "Wöchentliche Tipps"}},
    )
    parent.target_groups.set([group])
    parent.target_accounts.set([direct])
    assets = [MediaAssetFactory(workspace=workspace) for _ in range(2)]
    for position, asset in enumerate(assets):
        PostMediaFactory(post=parent, asset=asset, position=position)
    recurrence_set(post=parent, frequency=Frequency.DAILY, interval=1, starts_at=start, count=2, now=now)

    assert repetitions_due(now=now) == 1
    assert repetitions_due(now=now) == 0

    child = Post.objects.get(parent=parent)
    assert (child.occurrence_at, child.scheduled_at) == (start, start)
    assert (child.title, child.caption, child.media_type, child.priority, child.author) == (
        "Tips",
        "Weekly tips #tips",
        "photo",
        "high",
        author,
    )
    assert child.options == {"captions": {"de": "Wöchentliche Tipps"}}
    assert list(child.media.values_list("asset_id", flat=True)) == [asset.pk for asset in assets]
    assert set(child.target_groups.all()) == {group} and set(child.target_accounts.all()) == {direct}
    # Published through the planner: one pending execution per account, not before the occurrence.
    executions = Execution.objects.filter(post=child)
    assert {e.account_id for e in executions} == {in_group.pk, direct.pk}
    assert all(e.status == ExecutionStatus.PENDING and e.scheduled_for >= start for e in executions)
    assert child.status == PostStatus.SCHEDULED
    rule = Recurrence.objects.get(post=parent)
    assert (rule.made, rule.next_at, rule.active) == (1, start + timedelta(days=1), True)

    # The next day: the second and last occurrence, then the rule is finished.
    tomorrow = now + timedelta(days=1)
    assert repetitions_due(now=tomorrow) == 1
    assert repetitions_due(now=tomorrow + timedelta(days=1)) == 0
    assert list(parent.repetitions.order_by("occurrence_at").values_list("occurrence_at", flat=True)) == [
        start,
        start + timedelta(days=1),
    ]
    rule.refresh_from_db()
    assert (rule.made, rule.next_at, rule.active) == (2, None, False)
    assert ActivityLog.objects.filter(action="post.repetition", post__parent=parent).count() == 2


@pytest.mark.django_db
def test_it_skips_an_occurrence_another_run_claimed_after_this_one_read_it(workspace):
    now = timezone.now()
    parent = repeating_post(workspace, starts_at=now + timedelta(minutes=2))
    # This run read the due rule …
    [(rule_id, occurrence)] = Recurrence.objects.filter(active=True).values_list("pk", "next_at")
    # … another run made the repetition meanwhile …
    assert repetitions_due(now=now) == 1
    # … so this run's claim updates nothing and makes nothing.
    assert _claim_next(rule_id, occurrence, now=now) is None
    assert parent.repetitions.count() == 1


# Threads need a database they can share: SQLite's in-memory test database locks whole tables
# between connections ("database table is locked"), so the overlap in threads runs on PostgreSQL;
# the SQLite pass checks the same claim with the interleaving spelled out (the test above).
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_makes_one_copy_when_four_runs_overlap_on_postgresql():
    workspace = WorkspaceFactory()
    now = timezone.now()
    parent = repeating_post(workspace, starts_at=now + timedelta(minutes=3))
    barrier = threading.Barrier(4)
    results: list = []

    def run():
        try:
            barrier.wait()
            results.append(repetitions_due(now=now))
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [0, 0, 0, 1], results
    assert parent.repetitions.count() == 1


@pytest.mark.django_db
def test_it_approves_the_copy_of_an_approved_post_and_holds_back_the_copy_of_one_not_approved(workspace):
    workspace.posts_need_approval = True
    workspace.save()
    approver = UserFactory()
    now = timezone.now()
    start = now + timedelta(minutes=5)
    approved = repeating_post(
        workspace,
        starts_at=start,
        approval_status=ApprovalStatus.APPROVED,
        approval_by=approver,
        approval_at=now - timedelta(days=1),
    )
    waiting = repeating_post(workspace, starts_at=start, approval_status=ApprovalStatus.PENDING)

    assert repetitions_due(now=now) == 2

    approved_child = approved.repetitions.get()
    assert (approved_child.approval_status, approved_child.approval_by) == (ApprovalStatus.APPROVED, approver)
    assert Execution.objects.filter(post=approved_child).count() == 1
    waiting_child = waiting.repetitions.get()
    assert (waiting_child.approval_status, waiting_child.status) == (ApprovalStatus.PENDING, PostStatus.DRAFT)
    assert not Execution.objects.filter(post=waiting_child).exists()
    assert ActivityLog.objects.get(post=waiting_child, action="post.repetition_waiting").message == (
        f"Repetition of post #{waiting.pk} waits for approval before it is published."
    )
    # Not made again: the occurrence was claimed.
    assert repetitions_due(now=now) == 0
    assert waiting.repetitions.count() == 1


@pytest.mark.django_db
def test_it_leaves_a_copy_the_planner_refuses_as_a_draft_with_the_reason_and_never_makes_it_twice(workspace):
    now = timezone.now()
    banned = SocialAccountFactory(workspace=workspace, status="banned")
    parent = repeating_post(workspace, starts_at=now + timedelta(minutes=1), accounts=[banned])

    assert repetitions_due(now=now) == 1
    assert repetitions_due(now=now) == 0

    child = parent.repetitions.get()
    assert child.status == PostStatus.DRAFT and not Execution.objects.filter(post=child).exists()
    log = ActivityLog.objects.get(post=child, action="post.repetition_failed")
    assert log.message.startswith(f"Repetition of post #{parent.pk} was not published: Nothing was published")
    assert "The account is banned." in log.message


@pytest.mark.django_db
def test_it_skips_occurrences_missed_by_more_than_the_catch_up_window(workspace):
    start = timezone.now() - timedelta(days=3)
    parent = repeating_post(workspace, starts_at=start)
    now = start + timedelta(days=3) + CATCH_UP / 2  # three missed, the fourth half the window late

    assert repetitions_due(now=now) == 1
    assert repetitions_due(now=now) == 0

    assert list(parent.repetitions.values_list("occurrence_at", flat=True)) == [start + timedelta(days=3)]
    # Published as soon as possible, not at a time that has passed.
    assert Execution.objects.filter(post__parent=parent).count() == 1
    assert ActivityLog.objects.get(post=parent, action="post.repetition_missed").message.startswith("3 occurrence(s)")
    assert Recurrence.objects.get(post=parent).next_at == start + timedelta(days=4)

    # A rule whose every occurrence passed while the workers were down ends without a repetition.
    ended = repeating_post(workspace, starts_at=start, count=2)
    assert repetitions_due(now=now) == 0
    rule = Recurrence.objects.get(post=ended)
    assert (rule.active, rule.next_at, rule.made, ended.repetitions.count()) == (False, None, 0, 0)
    assert ActivityLog.objects.get(post=ended, action="post.repetition_missed").details["missed"] == 2


@pytest.mark.django_db
def test_it_translates_an_unchanged_caption_once_for_every_repetition(workspace, deepl_api):
    now = timezone.now()
    german = SocialAccountFactory(workspace=workspace, language="de")
    parent = repeating_post(workspace, starts_at=now + timedelta(minutes=5), accounts=[german], language="en")

    assert repetitions_due(now=now) == 1
    assert repetitions_due(now=now + timedelta(days=1)) == 1

    translations = [request for request in deepl_api.requests if request.path == "/v2/translate"]
    assert len(translations) == 1
    captions = list(Execution.objects.filter(post__parent=parent).values_list("caption", flat=True))
    assert captions == ["[DE] Weekly tips", "[DE] Weekly tips"]

    # A changed caption is translated again, once.
    Post.objects.filter(pk=parent.pk).update(caption="Fresh tips")
    assert repetitions_due(now=now + timedelta(days=2)) == 1
    assert len([request for request in deepl_api.requests if request.path == "/v2/translate"]) == 2
    assert Execution.objects.filter(post__parent=parent, caption="[DE] Fresh tips").count() == 1


@pytest.mark.django_db
def test_a_parent_published_at_its_first_occurrence_is_that_occurrence(workspace):
    """Scheduled at the rule's start and repeating daily: the first day is the parent itself, so
    that moment posts once; the next day gets a repetition."""
    now = timezone.now()
    start = now + timedelta(minutes=5)
    parent = repeating_post(workspace, starts_at=start, count=2)
    parent.scheduled_at = start
    parent.status = PostStatus.SCHEDULED
    parent.save(update_fields=["scheduled_at", "status"])

    assert repetitions_due(now=now) == 0
    assert not Post.objects.filter(parent=parent).exists()
    rule = Recurrence.objects.get(post=parent)
    assert (rule.made, rule.next_at) == (1, start + timedelta(days=1))

    assert repetitions_due(now=start + timedelta(days=1)) == 1
    assert list(Post.objects.filter(parent=parent).values_list("occurrence_at", flat=True)) == [start + timedelta(days=1)]
