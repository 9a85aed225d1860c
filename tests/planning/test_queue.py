"""The queue: weekly slots (DST-safe, workspace vs group queues), Add to queue taking the next
free slot and publishing there, and the slot suggestions from the policies' optimal times."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from planning.models import QueueSlot
from planning.queue import post_add_to_queue, queue_slot_add, queue_slot_remove, queue_slots_set, slot_suggestions
from planning.slots import free_slots, slot_times
from posts.models import PostStatus
from publishing.models import Execution

from ..factories import AccountGroupFactory, PostFactory, PublishingPolicyFactory, SocialAccountFactory

BERLIN = ZoneInfo("Europe/Berlin")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


@pytest.mark.django_db
class TestSlots:
    def test_it_skips_a_slot_the_spring_change_removes_and_keeps_one_in_the_autumn(self, workspace):
        queue_slot_add(workspace=workspace, weekday=6, time="02:30")  # Sundays 02:30 Berlin
        spring = slot_times(workspace, start=local(2026, 3, 20), end=local(2026, 4, 6))
        assert spring == [local(2026, 3, 22, 2, 30), local(2026, 4, 5, 2, 30)]  # not on 29 March
        autumn = slot_times(workspace, start=local(2026, 10, 24), end=local(2026, 10, 26))
        assert autumn == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]  # once, the first 02:30 (CEST)

    def test_it_keeps_the_local_time_across_the_change(self, workspace):
        queue_slot_add(workspace=workspace, weekday=0, time="09:00")
        mondays = slot_times(workspace, start=local(2026, 3, 23), end=local(2026, 4, 1))
        assert [m.astimezone(BERLIN).hour for m in mondays] == [9, 9]
        assert [m.hour for m in mondays] == [8, 7]  # UTC moves, local does not

    def test_it_keeps_group_and_workspace_queues_apart(self, workspace):
        group = AccountGroupFactory(workspace=workspace)
        queue_slot_add(workspace=workspace, weekday=0, time="09:00")
        queue_slot_add(workspace=workspace, weekday=0, time="09:00", group=group)
        queue_slot_add(workspace=workspace, weekday=0, time="18:00", group=group)
        week = dict(start=local(2026, 5, 4), end=local(2026, 5, 11))
        assert len(slot_times(workspace, **week)) == 1
        assert len(slot_times(workspace, group=group, **week)) == 2

    def test_it_refuses_a_duplicate_a_bad_time_and_another_workspaces_group(self, workspace):
        queue_slot_add(workspace=workspace, weekday=2, time="09:00")
        with pytest.raises(ValidationError, match="already has a slot"):
            queue_slot_add(workspace=workspace, weekday=2, time=time(9, 0))
        with pytest.raises(ValidationError, match="HH:MM"):
            queue_slot_add(workspace=workspace, weekday=2, time="9 o'clock")
        with pytest.raises(ValidationError, match="weekday"):
            queue_slot_add(workspace=workspace, weekday=7, time="10:00")
        with pytest.raises(ValidationError, match="another workspace"):
            queue_slot_add(workspace=workspace, weekday=2, time="10:00", group=AccountGroupFactory())
        assert QueueSlot.objects.filter(workspace=workspace).count() == 1

    def test_it_replaces_all_slots_or_none(self, workspace):
        queue_slot_add(workspace=workspace, weekday=0, time="08:00")
        slots = queue_slots_set(workspace=workspace, slots=[(1, "09:00"), (1, "09:00"), (4, "13:30")])
        assert [(s.weekday, s.time) for s in slots] == [(1, time(9, 0)), (4, time(13, 30))]
        with pytest.raises(ValidationError, match="Slot 2"):
            queue_slots_set(workspace=workspace, slots=[(2, "10:00"), (9, "10:00")])
        assert QueueSlot.objects.filter(workspace=workspace).count() == 2
        queue_slot_remove(slot=slots[0])
        assert QueueSlot.objects.filter(workspace=workspace).count() == 1


@pytest.mark.django_db
class TestAddToQueue:
    NOW = local(2030, 6, 3, 7, 0)  # Monday 07:00 Berlin

    def test_it_takes_the_next_free_slot_and_publishes_there(self, workspace, text_post):
        queue_slot_add(workspace=workspace, weekday=0, time="09:00")
        queue_slot_add(workspace=workspace, weekday=0, time="13:00")
        taken = text_post(status=PostStatus.SCHEDULED, queue_slot_at=local(2030, 6, 3, 9, 0))
        post = text_post()
        slot = post_add_to_queue(post=post, now=self.NOW)
        assert slot == local(2030, 6, 3, 13, 0)
        post.refresh_from_db()
        assert post.queue_slot_at == slot and post.scheduled_at == slot and post.status == PostStatus.SCHEDULED
        times = sorted(Execution.objects.filter(post=post).values_list("scheduled_for", flat=True))
        assert len(times) == 2 and times[0] == slot  # pacing spaces the accounts from the slot on
        assert taken.queue_slot_at not in free_slots(workspace, start=self.NOW, end=self.NOW + timedelta(days=1))

    def test_it_gives_two_adds_two_different_slots(self, workspace, text_post):
        queue_slot_add(workspace=workspace, weekday=0, time="09:00")
        first = post_add_to_queue(post=text_post(), now=self.NOW)
        second = post_add_to_queue(post=text_post(), now=self.NOW)
        assert first == local(2030, 6, 3, 9, 0)
        assert second == local(2030, 6, 10, 9, 0)  # next Monday

    def test_it_uses_the_groups_queue_when_asked(self, workspace, text_post):
        group = AccountGroupFactory(workspace=workspace)
        queue_slot_add(workspace=workspace, weekday=0, time="09:00")
        queue_slot_add(workspace=workspace, weekday=0, time="20:00", group=group)
        post = text_post()
        assert post_add_to_queue(post=post, group=group, now=self.NOW) == local(2030, 6, 3, 20, 0)
        post.refresh_from_db()
        assert post.queue_group == group

    def test_it_moves_an_already_scheduled_post_into_the_slot(self, workspace, text_post):
        queue_slot_add(workspace=workspace, weekday=1, time="10:00")
        from publishing.planner import post_publish

        post = text_post()
        post_publish(post=post, scheduled_at=self.NOW + timedelta(days=20), now=self.NOW)
        ids = set(Execution.objects.filter(post=post).values_list("pk", flat=True))
        slot = post_add_to_queue(post=post, now=self.NOW)
        assert slot == local(2030, 6, 4, 10, 0)
        assert set(Execution.objects.filter(post=post).values_list("pk", flat=True)) == ids
        assert min(Execution.objects.filter(post=post).values_list("scheduled_for", flat=True)) == slot

    def test_it_says_when_the_queue_has_no_slots_or_no_free_one(self, workspace, text_post):
        post = text_post()
        with pytest.raises(ValidationError, match="no time slots"):
            post_add_to_queue(post=post, now=self.NOW)
        slot = queue_slot_add(workspace=workspace, weekday=0, time="09:00")
        for week in range(13):
            text_post(status=PostStatus.SCHEDULED, queue_slot_at=local(2030, 6, 3, 9, 0) + timedelta(weeks=week))
        with pytest.raises(ValidationError, match="Every slot"):
            post_add_to_queue(post=post, now=self.NOW)
        post.refresh_from_db()
        assert post.status == PostStatus.DRAFT and post.queue_slot_at is None
        assert slot.pk

    def test_a_post_the_planner_refuses_gives_its_slot_back(self, workspace, text_post):
        """The slot is claimed before publishing (which may call translation providers, so it runs
        outside the queue's lock); a refusal — here, approval missing — must free it again."""
        workspace.posts_need_approval = True
        workspace.save()
        queue_slot_add(workspace=workspace, weekday=0, time="09:00")
        post = text_post()
        with pytest.raises(ValidationError) as refused:
            post_add_to_queue(post=post, now=self.NOW)
        assert "approval_required" in {error.code for error in refused.value.error_list}
        post.refresh_from_db()
        assert (post.status, post.queue_slot_at, post.queue_group) == (PostStatus.DRAFT, None, None)
        assert local(2030, 6, 3, 9, 0) in free_slots(workspace, start=self.NOW, end=self.NOW + timedelta(days=1))

    def test_a_scheduled_post_keeps_the_slot_it_was_moved_into(self, workspace, text_post):
        queue_slot_add(workspace=workspace, weekday=1, time="10:00")
        from publishing.planner import post_publish

        post = text_post()
        post_publish(post=post, scheduled_at=self.NOW + timedelta(days=20), now=self.NOW)
        slot = post_add_to_queue(post=post, now=self.NOW)
        post.refresh_from_db()
        assert (post.queue_slot_at, post.scheduled_at) == (slot, slot)
        assert slot not in free_slots(workspace, start=self.NOW, end=self.NOW + timedelta(days=2))

    def test_it_refuses_a_finished_post(self, workspace, text_post):
        queue_slot_add(workspace=workspace, weekday=0, time="09:00")
        with pytest.raises(ValidationError, match="Only draft or scheduled"):
            post_add_to_queue(post=text_post(status=PostStatus.COMPLETED), now=self.NOW)


@pytest.mark.django_db
def test_it_suggests_the_optimal_times_of_the_workspaces_platforms(workspace):
    SocialAccountFactory(workspace=workspace, platform="vk")
    PublishingPolicyFactory(workspace=workspace, platform="vk", optimal_times=["09:00", "18:30", "junk"])
    PublishingPolicyFactory(workspace=workspace, platform="tiktok", optimal_times=["07:00"])  # no account there
    queue_slots_set(workspace=workspace, slots=[(d, "09:00") for d in range(7)])
    suggestions = slot_suggestions(workspace)
    assert [(s.time, s.platforms, s.missing_weekdays) for s in suggestions] == [(time(18, 30), ("vk",), tuple(range(7)))]
    assert suggestions[0].platform_labels == ["VK"]  # as the slot editor shows them, not the code


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_take_different_slots_on_postgresql():
    """Four members press Add to queue at the same instant: the workspace row's lock makes each
    read the slots the others claimed, so four posts get four slots."""
    import threading

    from django.db import connection

    from ..factories import PublishingPolicyFactory as Policy
    from ..factories import WorkspaceFactory

    workspace = WorkspaceFactory(timezone="Europe/Berlin")
    Policy(workspace=workspace, fast=True)
    account = SocialAccountFactory(workspace=workspace)
    for weekday in range(7):
        queue_slot_add(workspace=workspace, weekday=weekday, time="09:00")
    posts = []
    for _ in range(4):
        post = PostFactory(workspace=workspace, media_type="text")
        post.target_accounts.set([account])
        posts.append(post)
    barrier = threading.Barrier(4)
    results: list = []
    now = local(2030, 6, 3, 7, 0)

    def add(post):
        try:
            barrier.wait()
            results.append(post_add_to_queue(post=post, now=now))
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(post,)) for post in posts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(slot, datetime) for slot in results), results
    assert sorted(results) == [local(2030, 6, day, 9, 0) for day in (3, 4, 5, 6)]
