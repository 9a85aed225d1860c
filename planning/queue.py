"""The queue: weekly time slots per workspace (or per group), and "Add to queue", which gives a
post the next free slot and publishes it there through the planner — so pacing still spaces the
post's accounts inside the slot, and approvals, warm-up and exactly-once still apply.

Two adds at the same moment never take the same slot: the workspace row is locked
(``SELECT … FOR UPDATE``) while the free slot is read and the post takes it, so the second add
reads the first one's slot as taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccountGroup, Platform, SocialAccount, Workspace
from crosspost.activity import log_activity
from crosspost.models import LogStatus
from posts.models import Post, PostStatus
from publishing.models import PublishingPolicy
from publishing.pacing import parse_times
from publishing.planner import post_publish
from publishing.services import post_reschedule

from .models import QueueSlot, Weekday
from .slots import next_free_slot, queue_slots

# How far ahead "Add to queue" looks for a free slot.
QUEUE_HORIZON = timedelta(days=90)
# The most slots one queue may have: 7 days × 24 would be a post an hour, every hour.
MAX_SLOTS_PER_QUEUE = 7 * 24


def check_weekday(weekday) -> int:
    try:
        value = int(weekday)
    except (TypeError, ValueError):
        value = -1
    if value not in Weekday.values:
        raise ValidationError({"weekday": _("Choose a weekday from 0 (Monday) to 6 (Sunday).")}, code="invalid")
    return value


def check_time(at) -> time:
    """A time of day from a ``time`` or an "HH:MM" text, to the minute."""
    if isinstance(at, str):
        try:
            at = time.fromisoformat(at.strip())
        except ValueError:
            at = None
    if not isinstance(at, time):
        raise ValidationError({"time": _("Give the time as HH:MM, e.g. 09:30.")}, code="invalid")
    return at.replace(second=0, microsecond=0, tzinfo=None)


def check_group(workspace: Workspace, group: AccountGroup | None) -> None:
    if group is not None and group.workspace_id != workspace.pk:
        raise ValidationError(
            {"group": _("The group %(group)s belongs to another workspace.") % {"group": group.name}}, code="conflict"
        )


def _queue_name(group: AccountGroup | None) -> str:
    return _("the queue of %(group)s") % {"group": group.name} if group is not None else _("the workspace's queue")


@transaction.atomic
def queue_slot_add(*, workspace: Workspace, weekday, time, group: AccountGroup | None = None, actor=None) -> QueueSlot:
    """Add one weekly slot (``time`` local to the workspace) to the group's queue or the workspace's."""
    weekday, at = check_weekday(weekday), check_time(time)
    check_group(workspace, group)
    if QueueSlot.objects.filter(workspace=workspace, group=group, weekday=weekday, time=at).exists():
        raise ValidationError(
            _("%(queue)s already has a slot on %(day)s at %(time)s.")
            % {"queue": _queue_name(group).capitalize(), "day": Weekday(weekday).label, "time": at.strftime("%H:%M")},
            code="conflict",
        )
    if len(queue_slots(workspace, group)) >= MAX_SLOTS_PER_QUEUE:
        raise ValidationError(
            _("A queue has at most %(count)d slots; remove some first.") % {"count": MAX_SLOTS_PER_QUEUE}, code="conflict"
        )
    slot = QueueSlot(workspace=workspace, group=group, weekday=weekday, time=at)
    slot.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            slot.save()
    except IntegrityError:  # added by someone else a moment ago
        raise ValidationError(_("This slot was just added by someone else."), code="conflict") from None
    log_activity(
        action="queue.slot_add",
        workspace=workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"{slot} in {_queue_name(group)}",
        details={"slot": slot.pk, "group": group.pk if group else None, "weekday": weekday, "time": at.strftime("%H:%M")},
    )
    return slot


@transaction.atomic
def queue_slot_remove(*, slot: QueueSlot, actor=None) -> None:
    """Remove one weekly slot. Posts already given one of its moments keep their time."""
    group = slot.group
    log_activity(
        action="queue.slot_remove",
        workspace=slot.workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"{slot} in {_queue_name(group)}",
        details={"group": group.pk if group else None, "weekday": slot.weekday, "time": slot.time.strftime("%H:%M")},
    )
    slot.delete()


@transaction.atomic
def queue_slots_set(
    *, workspace: Workspace, group: AccountGroup | None = None, slots: Iterable[tuple[int, time | str]], actor=None
) -> list[QueueSlot]:
    """Replace every slot of the group's queue (or the workspace's) with ``slots`` — (weekday,
    time) pairs; repeats count once. All or nothing: one bad pair changes nothing."""
    check_group(workspace, group)
    wanted: set[tuple[int, time]] = set()
    for index, pair in enumerate(slots):
        try:
            weekday, at = pair
            wanted.add((check_weekday(weekday), check_time(at)))
        except (TypeError, ValueError):
            raise ValidationError(
                {"slots": _("Slot %(n)d: give a weekday and a time.") % {"n": index + 1}}, code="invalid"
            ) from None
        except ValidationError as exc:
            raise ValidationError(
                {"slots": _("Slot %(n)d: %(problem)s") % {"n": index + 1, "problem": " ".join(exc.messages)}},
                code="invalid",
            ) from None
    if len(wanted) > MAX_SLOTS_PER_QUEUE:
        raise ValidationError(
            {"slots": _("A queue has at most %(count)d slots.") % {"count": MAX_SLOTS_PER_QUEUE}}, code="invalid"
        )
    rows = QueueSlot.objects.filter(workspace=workspace)
    rows = rows.filter(group=group) if group is not None else rows.filter(group__isnull=True)
    rows.delete()
    created = QueueSlot.objects.bulk_create(
        [QueueSlot(workspace=workspace, group=group, weekday=d, time=t) for d, t in sorted(wanted)]
    )
    log_activity(
        action="queue.slots_set",
        workspace=workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"{len(created)} slot(s) in {_queue_name(group)}",
        details={"group": group.pk if group else None, "slots": [f"{d}@{t:%H:%M}" for d, t in sorted(wanted)]},
    )
    return queue_slots(workspace, group)


# Posts "Add to queue" takes: a draft is published into the slot, a scheduled post moves there.
QUEUEABLE_STATUSES = (PostStatus.DRAFT, PostStatus.SCHEDULED)


def post_add_to_queue(*, post: Post, actor=None, group: AccountGroup | None = None, now: datetime | None = None) -> datetime:
    """Give ``post`` the next free slot of the group's queue (the workspace's when ``group`` is
    None) and publish it there: a draft through ``post_publish``, a scheduled post by moving its
    executions (``post_reschedule``). Returns the slot (UTC).

    A ValidationError says why not: the queue has no slots, none is free within 90 days, the post
    is no longer waiting, or the planner refused it (e.g. not approved yet). Nothing is kept then.
    """
    now = now or timezone.now()
    check_group(post.workspace, group)
    with transaction.atomic():
        # The queue's lock, held only to pick and claim a slot: the claim (queue_slot_at) is what
        # the next add reads as taken. Publishing (translation calls the network) runs after it.
        Workspace.objects.select_for_update().filter(pk=post.workspace_id).first()
        post = Post.objects.select_related("workspace").get(pk=post.pk)
        if post.status not in QUEUEABLE_STATUSES:
            raise ValidationError(
                _("Only draft or scheduled posts can go into the queue; this one is %(status)s.")
                % {"status": post.get_status_display().lower()},
                code="conflict",
            )
        if not queue_slots(post.workspace, group):
            raise ValidationError(
                _("%(queue)s has no time slots yet: add some on the Calendar's slots page.")
                % {"queue": _queue_name(group).capitalize()},
                code="no_slots",
            )
        slot = next_free_slot(post.workspace, after=now, group=group, horizon=QUEUE_HORIZON)
        if slot is None:
            raise ValidationError(
                _("Every slot of %(queue)s in the next %(days)d days is taken: add slots or pick a time yourself.")
                % {"queue": _queue_name(group), "days": QUEUE_HORIZON.days},
                code="queue_full",
            )
        before = (post.queue_slot_at, post.queue_group_id)
        Post.objects.filter(pk=post.pk).update(queue_slot_at=slot, queue_group=group)
    try:
        if post.status == PostStatus.SCHEDULED:
            post_reschedule(post=post, scheduled_at=slot, actor=actor, now=now, keep_queue_slot=True)
        else:
            post_publish(post=post, actor=actor, scheduled_at=slot, now=now)
    except BaseException:
        # Refused (e.g. not approved yet) or crashed: the slot is free again, the post as it was.
        Post.objects.filter(pk=post.pk, queue_slot_at=slot).update(queue_slot_at=before[0], queue_group_id=before[1])
        raise
    log_activity(
        action="post.queue",
        post=post,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"Slot {slot.isoformat()} in {_queue_name(group)}",
        details={"slot": slot.isoformat(), "group": group.pk if group else None},
    )
    return slot


@dataclass(frozen=True)
class SlotSuggestion:
    """A local time the workspace's publishing policies call optimal, and for which platforms."""

    time: time
    platforms: tuple[str, ...]
    missing_weekdays: tuple[int, ...]  # the weekdays the queue has no slot at this time yet

    @property
    def platform_labels(self) -> list[str]:
        """The platforms' names as operators read them ("Instagram", not "instagram")."""
        return [str(Platform(code).label) if code in Platform.values else code for code in self.platforms]


def slot_suggestions(workspace: Workspace, group: AccountGroup | None = None) -> list[SlotSuggestion]:
    """The ``optimal_times`` of the policies of the platforms the workspace's accounts (the
    group's, for a group queue) are on, that the queue does not have on every day yet."""
    accounts = SocialAccount.objects.filter(workspace=workspace)
    if group is not None:
        accounts = accounts.filter(group=group)
    platforms = set(accounts.values_list("platform", flat=True).distinct())
    if not platforms:
        return []
    by_time: dict[time, set[str]] = {}
    for policy in PublishingPolicy.objects.filter(workspace=workspace, platform__in=platforms):
        for at in parse_times(policy.optimal_times):
            by_time.setdefault(at.replace(second=0, microsecond=0), set()).add(policy.platform)
    have: dict[time, set[int]] = {}
    for slot in queue_slots(workspace, group):
        have.setdefault(slot.time, set()).add(slot.weekday)
    suggestions = []
    for at in sorted(by_time):
        missing = tuple(d for d in Weekday.values if d not in have.get(at, set()))
        if missing:
            suggestions.append(SlotSuggestion(time=at, platforms=tuple(sorted(by_time[at])), missing_weekdays=missing))
    return suggestions


@transaction.atomic
def queue_slot_update(*, slot: QueueSlot, weekday=None, time=None, actor=None) -> QueueSlot:
    """Move one weekly slot to another weekday and/or time (its queue stays the same)."""
    slot = QueueSlot.objects.select_for_update().select_related("workspace", "group").get(pk=slot.pk)
    weekday = check_weekday(slot.weekday if weekday is None else weekday)
    at = check_time(slot.time if time is None else time)
    clash = QueueSlot.objects.filter(workspace=slot.workspace, group=slot.group, weekday=weekday, time=at).exclude(pk=slot.pk)
    if clash.exists():
        raise ValidationError(
            _("%(queue)s already has a slot on %(day)s at %(time)s.")
            % {"queue": _queue_name(slot.group).capitalize(), "day": Weekday(weekday).label, "time": at.strftime("%H:%M")},
            code="conflict",
        )
    before = str(slot)
    slot.weekday, slot.time = weekday, at
    slot.save(update_fields=["weekday", "time"])
    log_activity(
        action="queue.slot_add",
        workspace=slot.workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"{before} → {slot} in {_queue_name(slot.group)}",
        details={"slot": slot.pk, "moved_from": before},
    )
    return slot
