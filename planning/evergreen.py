"""Evergreen posts: recycled into the free slots of their queue, with a minimum gap per account.

A workspace's evergreen set is its posts with ``evergreen`` set (not repetitions themselves), one
set per queue: the post's ``queue_group`` (empty: the workspace's queue). For every free slot in
the horizon the fill picks the post repeated least recently (never repeated first) and makes a
repetition of it in that slot — but only to the accounts that have not had that post (itself or a
repetition: published, or still waiting to publish) within ``Workspace.evergreen_min_gap_days``
of the slot. A post whose every account is within the gap (or cannot be published to: banned,
login needed…) sits this slot out.

Two fills never take the same slot: each works under a lock of the workspace row (on SQLite every
write transaction is exclusive anyway), and the (parent, occurrence_at) constraint backs it up.
Publishing happens after the commit, like the recurring repetitions.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccountGroup, Workspace
from crosspost.activity import log_activity
from crosspost.models import LogStatus
from posts.models import ApprovalStatus, Post, PostStatus
from publishing.models import OPEN_EXECUTION_STATUSES, Execution, ExecutionStatus
from publishing.planner import INELIGIBLE_REASONS
from publishing.targets import target_accounts

from .models import QueueSlot
from .repetitions import repetition_create, repetition_publish
from .slots import free_slots

HORIZON = timedelta(days=2)
# A post that can never be published is no candidate: its repetitions would only hold slots.
SKIPPED_STATUSES = (PostStatus.CANCELLED,)


@transaction.atomic
def evergreen_set(*, post: Post, evergreen: bool, actor=None) -> Post:
    """Put ``post`` in its queue's evergreen set, or take it out. Any post but a repetition or a
    cancelled one: a post that did well is the usual evergreen, so finished posts qualify too."""
    locked = Post.objects.select_for_update().get(pk=post.pk)
    if evergreen and locked.parent_id is not None:
        message = _("This post is a repetition of post #%(id)s; make that post evergreen instead.") % {"id": locked.parent_id}
        raise ValidationError({"evergreen": ValidationError(message, code="conflict")})
    if evergreen and locked.status in SKIPPED_STATUSES:
        message = _("A cancelled post cannot be evergreen; duplicate it first.")
        raise ValidationError({"evergreen": ValidationError(message, code="conflict")})
    if locked.evergreen != evergreen:
        Post.objects.filter(pk=post.pk).update(evergreen=evergreen, updated_at=timezone.now())
        log_activity(action="post.evergreen", post=post, actor=actor, status=LogStatus.SUCCESS, details={"evergreen": evergreen})
    post.evergreen = evergreen
    return post


def evergreen_posts(workspace: Workspace, group: AccountGroup | None) -> list[Post]:
    """The evergreen set of one queue, the post repeated least recently first (never repeated
    before any), then the oldest."""
    posts = (
        Post.objects.filter(workspace=workspace, evergreen=True, parent__isnull=True)
        .exclude(status__in=SKIPPED_STATUSES)
        .annotate(last_repeated=Max("repetitions__occurrence_at"))
    )
    posts = posts.filter(queue_group=group) if group is not None else posts.filter(queue_group__isnull=True)
    if workspace.posts_need_approval:
        posts = posts.filter(approval_status=ApprovalStatus.APPROVED)
    return sorted(posts, key=lambda post: (post.last_repeated is not None, post.last_repeated or post.created_at, post.pk))


def recent_accounts(post: Post, *, around: datetime, gap: timedelta) -> set:
    """Accounts that had ``post`` (or a repetition of it) within ``gap`` of ``around``: a
    successful publication then, or one still waiting to publish then."""
    executions = Execution.objects.filter(Q(post=post) | Q(post__parent=post))
    window = Q(status=ExecutionStatus.SUCCESS, finished_at__gt=around - gap, finished_at__lt=around + gap) | Q(
        status__in=OPEN_EXECUTION_STATUSES, scheduled_for__gt=around - gap, scheduled_for__lt=around + gap
    )
    return set(executions.filter(window).values_list("account_id", flat=True))


def _queues() -> list[tuple[int, int | None]]:
    """(workspace id, group id or None) of every queue that has slots and evergreen posts."""
    with_posts = set(
        Post.objects.filter(evergreen=True, parent__isnull=True)
        .exclude(status__in=SKIPPED_STATUSES)
        .values_list("workspace_id", "queue_group_id")
        .distinct()
    )
    with_slots = set(QueueSlot.objects.values_list("workspace_id", "group_id").distinct())
    return sorted(with_posts & with_slots, key=lambda queue: (queue[0], queue[1] or 0))


def _fill_queue(workspace_id: int, group_id: int | None, *, now: datetime, horizon: timedelta) -> list[Post]:
    """Make the repetitions of one queue's free slots in the horizon (not published yet)."""
    made: list[Post] = []
    with transaction.atomic():
        workspace = Workspace.objects.select_for_update().get(pk=workspace_id)
        group = AccountGroup.objects.get(pk=group_id) if group_id is not None else None
        slots = free_slots(workspace, start=now, end=now + horizon, group=group)
        if not slots:
            return made
        posts = evergreen_posts(workspace, group)
        gap = timedelta(days=workspace.evergreen_min_gap_days)
        # Picked in this run: not yet published, so their executions do not exist yet.
        picked: dict[int, list[tuple[datetime, set]]] = defaultdict(list)
        # Each post's targets, read once for every slot of the run.
        targets_of = {post.pk: list(target_accounts(post)) for post in posts}
        for slot in slots:
            for post in posts:
                targets = targets_of[post.pk]
                # Accounts the planner would block (banned, login needed…) are no reason to use a slot.
                accounts = [account for account in targets if account.status not in INELIGIBLE_REASONS]
                busy = recent_accounts(post, around=slot, gap=gap) if gap else set()
                for at, ids in picked[post.pk]:
                    if abs(at - slot) < gap:
                        busy |= ids
                eligible = [account for account in accounts if account.pk not in busy]
                if not eligible:
                    continue
                try:
                    with transaction.atomic():
                        child = repetition_create(
                            parent=post,
                            occurrence_at=slot,
                            accounts=None if len(eligible) == len(targets) else eligible,
                            queue_slot_at=slot,
                        )
                except IntegrityError:
                    continue
                picked[post.pk].append((slot, {account.pk for account in eligible}))
                made.append(child)
                # The post just used goes last: the others come first in the next slots.
                posts.remove(post)
                posts.append(post)
                break
    return made


def evergreen_fill(*, now: datetime | None = None, horizon: timedelta = HORIZON) -> int:
    """Fill every queue's free slots in the next ``horizon`` with evergreen repetitions and
    publish them at their slots; the number made."""
    now = now or timezone.now()
    made = 0
    for workspace_id, group_id in _queues():
        children = _fill_queue(workspace_id, group_id, now=now, horizon=horizon)
        made += len(children)
        for child in children:
            repetition_publish(child, now=now)
    return made
