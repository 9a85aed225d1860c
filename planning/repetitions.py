"""Repetitions: one new post per occurrence of a recurring post, linked to it, published through
the planner like any other post.

Exactly once per occurrence, however many beat runs overlap: a run claims an occurrence by
moving the rule's ``next_at`` on with a conditional UPDATE (``… WHERE next_at = <the occurrence>``)
in the same transaction that creates the repetition; of two runs, one moves it and the other
updates nothing and goes on. The (parent, occurrence_at) constraint backs this up. Publishing
happens after that commit — translation calls the network and must not hold the lock — and a
repetition the planner refuses (nothing to publish, approval missing) stays a draft with the
reason in the activity log; it is never made a second time.

A repetition is made ``LEAD`` ahead of its occurrence so the pacing engine can spread its
executions from the occurrence on. Occurrences more than ``CATCH_UP`` late (the workers were
down) are skipped, not posted in a burst.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import SocialAccount
from crosspost.activity import log_activity
from crosspost.models import LogStatus
from posts.models import ApprovalStatus, Post, PostMedia, PostStatus
from publishing.planner import post_publish

from .models import Recurrence
from .recurrence import occurrences

logger = logging.getLogger(__name__)

LEAD = timedelta(minutes=10)
CATCH_UP = timedelta(hours=1)
BATCH = 200


def approval_for(parent: Post) -> str:
    """A repetition of an approved post is approved; in a workspace that needs approval any other
    waits for it; elsewhere none is needed."""
    if parent.approval_status == ApprovalStatus.APPROVED:
        return ApprovalStatus.APPROVED
    if parent.workspace.posts_need_approval:
        return ApprovalStatus.PENDING
    return ApprovalStatus.NOT_REQUIRED


def repetition_create(
    *,
    parent: Post,
    occurrence_at: datetime,
    accounts: list[SocialAccount] | None = None,
    queue_slot_at: datetime | None = None,
) -> Post:
    """A draft copy of ``parent`` for one occurrence: content, options (caption overrides
    included), media (the same assets), targets and author. ``accounts`` narrows the targets to
    those accounts. Raises IntegrityError when this occurrence already has its repetition; call
    inside a transaction."""
    approval = approval_for(parent)
    child = Post(
        workspace_id=parent.workspace_id,
        author_id=parent.author_id,
        title=parent.title,
        caption=parent.caption,
        language=parent.language,
        media_type=parent.media_type,
        caption_mode=parent.caption_mode,
        caption_template=parent.caption_template,
        priority=parent.priority,
        options=dict(parent.options or {}),
        content_hash=parent.content_hash,
        scheduled_at=occurrence_at,
        status=PostStatus.DRAFT,
        parent=parent,
        occurrence_at=occurrence_at,
        approval_status=approval,
        queue_slot_at=queue_slot_at,
        queue_group_id=parent.queue_group_id if queue_slot_at else None,
    )
    if approval == ApprovalStatus.APPROVED:
        child.approval_by_id, child.approval_at = parent.approval_by_id, parent.approval_at
        child.approval_comment = parent.approval_comment
    with transaction.atomic():
        child.save(force_insert=True)
    if accounts is None:
        child.target_groups.set(parent.target_groups.all())
        child.target_accounts.set(parent.target_accounts.all())
    else:
        child.target_accounts.set(accounts)
    PostMedia.objects.bulk_create(
        [PostMedia(post=child, asset_id=item.asset_id, position=item.position) for item in parent.media.all()]
    )
    log_activity(
        action="post.repetition",
        post=child,
        status=LogStatus.SUCCESS,
        message=f"Repetition of post #{parent.pk} for {occurrence_at.isoformat()}.",
        details={"parent": parent.pk, "occurrence_at": occurrence_at.isoformat()},
    )
    return child


def repetition_publish(child: Post, *, now: datetime) -> bool:
    """Publish a new repetition at its occurrence; False (and the reason logged) when it stays a
    draft — waiting for approval, or refused by the planner. Never raises for those."""
    if child.approval_status == ApprovalStatus.PENDING:
        log_activity(
            action="post.repetition_waiting",
            post=child,
            status=LogStatus.INFO,
            message=f"Repetition of post #{child.parent_id} waits for approval before it is published.",
        )
        return False
    at = child.occurrence_at
    try:
        post_publish(post=child, scheduled_at=at if at and at > now else None, now=now)
    except ValidationError as exc:
        log_activity(
            action="post.repetition_failed",
            post=child,
            status=LogStatus.FAILED,
            message=f"Repetition of post #{child.parent_id} was not published: {' '.join(exc.messages)}",
        )
        return False
    return True


def _parent_takes(parent: Post, occurrence: datetime) -> bool:
    """Whether the parent is itself planned or published at ``occurrence`` (a post scheduled for the
    rule's start and repeating from there): a copy would post the same moment twice."""
    return parent.status != PostStatus.DRAFT and parent.scheduled_at == occurrence


def _claim_next(rule_id: int, occurrence: datetime, *, now: datetime) -> Post | None:
    """Move the rule past ``occurrence`` and make its repetition, in one transaction. None when
    nothing was made: another run claimed it first, the rule was stopped or changed meanwhile,
    or every occurrence up to now was too late."""
    with transaction.atomic():
        rule = Recurrence.objects.select_related("post__workspace").filter(pk=rule_id).first()
        if rule is None:  # its post was deleted meanwhile
            return None
        missed = 0
        upcoming = occurrences(rule, after=occurrence, limit=1)
        made_for = occurrence
        # Late by more than CATCH_UP: skip to the first occurrence still worth making.
        while made_for is not None and made_for < now - CATCH_UP:
            missed += 1
            made_for = upcoming[0] if upcoming else None
            upcoming = occurrences(rule, after=made_for, limit=1) if made_for else []
        if made_for is not None and made_for > now + LEAD:
            # Every late one skipped and the next is not due yet: it waits for its own run.
            following, made_for = made_for, None
        else:
            following = upcoming[0] if upcoming else None
        claimed = Recurrence.objects.filter(pk=rule_id, active=True, next_at=occurrence).update(
            next_at=following, active=following is not None, made=F("made") + (1 if made_for else 0)
        )
        if not claimed:
            return None
        if missed:
            minutes = int(CATCH_UP.total_seconds() // 60)
            log_activity(
                action="post.repetition_missed",
                post=rule.post,
                status=LogStatus.INFO,
                message=f"{missed} occurrence(s) were more than {minutes} minutes late and were skipped.",
                details={"missed": missed, "first": occurrence.isoformat()},
            )
        if made_for is None:
            return None
        if _parent_takes(rule.post, made_for):
            # The parent itself goes out at this occurrence: it is that occurrence, not a copy's.
            log_activity(
                action="post.repetition",
                post=rule.post,
                status=LogStatus.INFO,
                message=f"The post itself is published at {made_for.isoformat()}; no repetition is made for it.",
                details={"occurrence_at": made_for.isoformat(), "parent_itself": True},
            )
            return None
        try:
            return repetition_create(parent=rule.post, occurrence_at=made_for)
        except IntegrityError:
            # Made before (the rule was set back to an occurrence it had made): not twice.
            Recurrence.objects.filter(pk=rule_id).update(made=F("made") - 1)
            return None


def repetitions_due(*, now: datetime | None = None) -> int:
    """Make and publish the repetition of every occurrence due within LEAD; the number made."""
    now = now or timezone.now()
    made = 0
    due = Recurrence.objects.filter(active=True, next_at__lte=now + LEAD).order_by("next_at")
    for rule_id, occurrence in list(due.values_list("pk", "next_at")[:BATCH]):
        # One occurrence per rule and run: a rule with several due catches up over the next runs.
        child = _claim_next(rule_id, occurrence, now=now)
        if child is None:
            continue
        made += 1
        try:
            repetition_publish(child, now=now)
        except Exception:
            # The repetition stays a draft (made once, never again); the other rules go on.
            logger.exception("Publishing repetition %s of post %s failed", child.pk, child.parent_id)
    return made
