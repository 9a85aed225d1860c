"""State changes of posts, executions and policies that operators trigger: cancel, reschedule,
edits that move a scheduled post, retry, caption edits, settling unconfirmed executions and
policy changes."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccountStatus, SocialAccount
from accounts.services import account_set_status
from crosspost.activity import log_activity
from crosspost.models import LogStatus
from posts.models import Post, PostStatus, Priority
from posts.services import check_scheduled_at, post_update

from .models import Execution, ExecutionStatus, PublishingPolicy
from .pacing import DAY, AccountPacing, Pacing, daily_limit_at
from .planner import pace_accounts
from .prompts import CAPTION_LIMITS
from .publisher import execution_mark_published, refresh_post_status

# Executions that have not reached a worker yet can be cancelled outright (a blocked one then
# waits for no automatic re-plan).
CANCELLABLE = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RETRY_WAIT, ExecutionStatus.BLOCKED)
RETRYABLE = (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.SKIPPED, ExecutionStatus.UNCONFIRMED)
FINISHED_POST_STATUSES = (PostStatus.COMPLETED, PostStatus.PARTIAL, PostStatus.FAILED, PostStatus.CANCELLED)
# Executions whose caption may still change: no worker has picked them up.
CAPTION_EDITABLE = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RETRY_WAIT)


@transaction.atomic
def post_cancel(*, post: Post, actor=None) -> dict:
    """Cancel a post: queued executions stop; those already posting finish and are reported.

    Returns ``{"cancelled": n, "in_flight": m}``.
    """
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.status in FINISHED_POST_STATUSES:
        raise ValidationError(
            f"The post is already {post.get_status_display().lower()}; there is nothing to cancel.", code="conflict"
        )
    now = timezone.now()
    cancelled = Execution.objects.filter(post=post, status__in=CANCELLABLE).update(
        status=ExecutionStatus.CANCELLED, finished_at=now, error_message="Cancelled by an operator.", updated_at=now
    )
    in_flight = Execution.objects.filter(post=post, status=ExecutionStatus.POSTING).count()
    post.status = PostStatus.CANCELLED
    post.finished_at = now if not in_flight else None
    post.save(update_fields=["status", "finished_at", "updated_at"])
    log_activity(
        action="post.cancel",
        post=post,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"Cancelled {cancelled} execution(s); {in_flight} already posting will finish.",
        details={"cancelled": cancelled, "in_flight": in_flight},
    )
    return {"cancelled": cancelled, "in_flight": in_flight}


# A reschedule moves the post's executions that no worker has reached: pending ones get a new
# paced time, blocked ones stay blocked and follow the post's time. The rest are left alone.
RESCHEDULABLE_POST_STATUSES = (PostStatus.DRAFT, PostStatus.SCHEDULED)


def post_reschedule(
    *, post: Post, scheduled_at: datetime | None, actor=None, now: datetime | None = None, keep_queue_slot: bool = False
) -> dict:
    """Move a draft or scheduled post to ``scheduled_at`` and re-plan its waiting executions.

    In one transaction, with the post row and its executions locked: pending executions get a new
    ``scheduled_for`` by the planner's pacing (other posts' busy times count, this post's old ones
    do not); blocked ones keep their block and follow the new time; queued, posting and finished
    ones are left alone and reported. No execution is created or deleted.

    A moved post leaves its queue slot, unless ``keep_queue_slot`` (the queue itself moving it into
    the slot it has just claimed).

    Returns ``{"post", "scheduled_at", "moved": [...], "left": [...]}``; a ValidationError for a
    past time, a missing one, or a post that is no longer waiting.
    """
    now = now or timezone.now()
    if scheduled_at is None:
        raise ValidationError({"scheduled_at": _("Pick the new time.")}, code="required")
    try:
        check_scheduled_at(scheduled_at, now=now)
    except ValidationError as exc:
        raise ValidationError({"scheduled_at": exc}) from None
    with transaction.atomic():
        post = Post.objects.select_for_update().select_related("workspace").get(pk=post.pk)
        if post.status not in RESCHEDULABLE_POST_STATUSES:
            raise ValidationError(
                _("Only draft or scheduled posts can be moved; this one is %(status)s.")
                % {"status": post.get_status_display().lower()},
                code="conflict",
            )
        previous = post.scheduled_at
        result = _replan_executions(post, scheduled_at=scheduled_at, now=now)
        post.scheduled_at = scheduled_at
        fields = ["scheduled_at", "updated_at"]
        if not keep_queue_slot:
            # A post moved by hand no longer holds its queue slot.
            post.queue_slot_at, post.queue_group = None, None
            fields += ["queue_slot_at", "queue_group"]
        post.save(update_fields=fields)
        log_activity(
            action="post.reschedule",
            post=post,
            actor=actor,
            status=LogStatus.SUCCESS,
            message=f"Moved to {scheduled_at.isoformat()}: {len(result['moved'])} execution(s) re-planned, "
            f"{len(result['left'])} left as they were.",
            details={
                "from": previous.isoformat() if previous else None,
                "to": scheduled_at.isoformat(),
                "moved": len(result["moved"]),
                "left": len(result["left"]),
            },
        )
    return {"post": post.pk, "scheduled_at": scheduled_at, **result}


def _replan_executions(post: Post, *, scheduled_at: datetime, now: datetime) -> dict:
    """New times for ``post``'s pending and blocked executions (called holding the post's row lock)."""
    executions = list(
        Execution.objects.select_for_update(of=("self",))
        .filter(post=post)
        .select_related("account", "account__workspace")
        .order_by("account__platform", "account__handle", "account__pk")
    )
    pending = [e for e in executions if e.status == ExecutionStatus.PENDING]
    times = pace_accounts(post, [e.account for e in pending], start=scheduled_at, now=now)
    moved, left, changed = [], [], []
    for execution in executions:
        if execution.status == ExecutionStatus.PENDING:
            execution.scheduled_for = times[execution.account_id]
        elif execution.status == ExecutionStatus.BLOCKED:
            # A temporary block is planned again at its next attempt, which then starts at the new time.
            execution.scheduled_for = max(scheduled_at, execution.next_attempt_at or scheduled_at)
        else:
            left.append({"execution": execution.pk, "account": execution.account.handle, "status": execution.status})
            continue
        execution.updated_at = now
        changed.append(execution)
        moved.append(
            {
                "execution": execution.pk,
                "account": execution.account.handle,
                "status": execution.status,
                "scheduled_for": execution.scheduled_for,
            }
        )
    Execution.objects.bulk_update(changed, ["scheduled_for", "updated_at"])
    return {"moved": moved, "left": left}


@transaction.atomic
def post_edit(*, post: Post, actor=None, **changes) -> Post:
    """``posts.services.post_update`` for a post that may already be planned: when the edit moves
    a scheduled post's ``scheduled_at``, its waiting executions are re-planned the way
    :func:`post_reschedule` does, in the same transaction. Every front door that edits posts
    (API, admin) comes through here, so a new time never leaves executions at the old one."""
    before = Post.objects.filter(pk=post.pk).values_list("status", "scheduled_at").first()
    post = post_update(post=post, actor=actor, **changes)
    if before is None or "scheduled_at" not in changes:
        return post
    status, previous = before
    if status == PostStatus.SCHEDULED and post.scheduled_at != previous:
        # Emptied ("as soon as possible"): the executions move to now.
        post_reschedule(post=post, scheduled_at=post.scheduled_at or timezone.now(), actor=actor)
        post.refresh_from_db()
    return post


@transaction.atomic
def execution_cancel(*, execution: Execution, actor=None) -> Execution:
    execution = Execution.objects.select_for_update().get(pk=execution.pk)
    if execution.status not in CANCELLABLE:
        raise ValidationError(
            f"An execution that is {execution.get_status_display().lower()} cannot be cancelled"
            + (" — it is being published right now and will be reported when done." if execution.status == "posting" else "."),
            code="conflict",
        )
    execution.status = ExecutionStatus.CANCELLED
    execution.finished_at = timezone.now()
    execution.error_message = "Cancelled by an operator."
    execution.save(update_fields=["status", "finished_at", "error_message", "updated_at"])
    # It may have been the last one open (or the last blocked one waiting for a retry).
    refresh_post_status(execution.post_id)
    log_activity(action="execution.cancel", execution=execution, account=execution.account, actor=actor, status=LogStatus.SUCCESS)
    return execution


@transaction.atomic
def execution_retry(*, execution: Execution, actor=None) -> Execution:
    """Send a failed, cancelled, skipped or unconfirmed execution out again, now, on the low queue.

    An ``unconfirmed`` execution may already be live on the platform; retrying
    it is the operator's explicit decision after checking.
    """
    execution = Execution.objects.select_for_update().get(pk=execution.pk)
    if execution.status not in RETRYABLE:
        raise ValidationError(
            f"Only failed, cancelled, skipped or unconfirmed executions can be retried; this one is "
            f"{execution.get_status_display().lower()}.",
            code="conflict",
        )
    previous = execution.status
    now = timezone.now()
    execution.status = ExecutionStatus.PENDING
    execution.priority = Priority.LOW
    execution.scheduled_for = now
    execution.next_attempt_at = None
    execution.lease_expires_at = None
    execution.finished_at = None
    execution.error_code = ""
    execution.error_message = ""
    execution.save()
    Post.objects.filter(pk=execution.post_id).exclude(status=PostStatus.PUBLISHING).update(
        status=PostStatus.PUBLISHING, finished_at=None, updated_at=now
    )
    log_activity(
        action="execution.retry",
        execution=execution,
        account=execution.account,
        actor=actor,
        status=LogStatus.SUCCESS,
        details={"from": previous},
    )
    return execution


def executions_retry(*, executions, actor=None) -> tuple[int, list[str]]:
    """Retry many; returns (retried, problems) so bulk actions can report both."""
    retried, problems = 0, []
    for execution in executions:
        try:
            execution_retry(execution=execution, actor=actor)
            retried += 1
        except ValidationError as exc:
            problems.append(f"#{execution.pk}: {' '.join(exc.messages)}")
    return retried, problems


RESOLVE_PUBLISHED, RESOLVE_RETRY = "published", "retry"
RESOLUTIONS = (RESOLVE_PUBLISHED, RESOLVE_RETRY)


def post_resolve_unconfirmed(*, post: Post, resolution: str, actor=None) -> dict:
    """Settle every unconfirmed execution of ``post`` at once, after the operator checked the platform.

    ``published``: they are live (each becomes published); ``retry``: they are not (each is sent
    out again). Returns ``{"resolved": n, "problems": [...]}``; a ValidationError when there is
    nothing to settle or the resolution is unknown.
    """
    if resolution not in RESOLUTIONS:
        raise ValidationError({"resolution": _("Choose %(choices)s.") % {"choices": " or ".join(RESOLUTIONS)}}, code="invalid")
    unconfirmed = list(Execution.objects.filter(post=post, status=ExecutionStatus.UNCONFIRMED).select_related("account"))
    if not unconfirmed:
        raise ValidationError(_("This post has no unconfirmed executions."), code="conflict")
    if resolution == RESOLVE_RETRY:
        resolved, problems = executions_retry(executions=unconfirmed, actor=actor)
    else:
        resolved, problems = 0, []
        for execution in unconfirmed:
            try:
                execution_mark_published(execution=execution, actor=actor)
                resolved += 1
            except ValidationError as exc:  # a worker or another operator settled it meanwhile
                problems.append(f"#{execution.pk}: {' '.join(exc.messages)}")
    log_activity(
        action="post.resolve_unconfirmed",
        post=post,
        actor=actor,
        status=LogStatus.SUCCESS if resolved else LogStatus.INFO,
        message=f"{resolution}: {resolved} unconfirmed execution(s) settled.",
        details={"resolution": resolution, "resolved": resolved, "problems": len(problems)},
    )
    return {"resolved": resolved, "problems": problems}


@transaction.atomic
def execution_set_caption(*, execution: Execution, caption: str, actor=None) -> Execution:
    """Replace one execution's caption before it is published; marks it ``caption_edited``."""
    execution = Execution.objects.select_for_update().select_related("account").get(pk=execution.pk)
    if execution.status not in CAPTION_EDITABLE:
        raise ValidationError(
            f"The caption can change only while the execution waits to be published; this one is "
            f"{execution.get_status_display().lower()}.",
            code="conflict",
        )
    if not caption or not caption.strip():
        raise ValidationError({"caption": "A caption cannot be empty."})
    limit = CAPTION_LIMITS.get(execution.account.platform)
    if limit and len(caption) > limit:
        platform = execution.account.get_platform_display()
        raise ValidationError({"caption": f"{platform} accepts at most {limit} characters; this has {len(caption)}."})
    previous = execution.caption
    execution.caption = caption
    execution.caption_edited = True
    execution.save(update_fields=["caption", "caption_edited", "updated_at"])
    log_activity(
        action="execution.caption_edit",
        execution=execution,
        account=execution.account,
        actor=actor,
        status=LogStatus.SUCCESS,
        details={"previous_length": len(previous), "length": len(caption)},
    )
    return execution


# The reason the publisher gives a cooldown it derived from the policy's daily limit
# (``publisher._cooldown_at_daily_limit``: "daily limit of N reached").
DAILY_LIMIT_REASON_PREFIX = "daily limit of "


@transaction.atomic
def policy_update(*, policy: PublishingPolicy, changes: dict | None = None, actor=None) -> PublishingPolicy:
    """Save a publishing policy (new or changed) and re-evaluate the cooldowns it set.

    ``changes`` are applied before validation; admin forms pass an instance they already
    filled and no changes. Cooldowns that came from the policy's daily limit are recomputed
    from the new values (see :func:`policy_recompute_cooldowns`).
    """
    for name, value in (changes or {}).items():
        setattr(policy, name, value)
    policy.full_clean()
    policy.save()
    recomputed = policy_recompute_cooldowns(policy=policy, actor=actor)
    log_activity(
        action="policy.update",
        workspace=policy.workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        details={"platform": policy.platform, "fields": sorted(changes or {}), "cooldowns_recomputed": recomputed},
    )
    return policy


def policy_recompute_cooldowns(*, policy: PublishingPolicy, actor=None) -> int:
    """Cooldowns set under the policy's old daily limit (or warm-up) follow its current values.

    Each account of the policy's workspace and platform resting at its daily limit is
    re-read under a row lock: still at the (new) limit, it rests until the oldest post of
    the 24 h window leaves it; under it, it becomes active through ``account_set_status``.
    Cooldowns the platform asked for (rate limits, quotas) are not the policy's and stay.
    Returns how many accounts changed.
    """
    now = timezone.now()
    pacing = Pacing.from_policy(policy)
    resting = SocialAccount.objects.filter(
        workspace_id=policy.workspace_id,
        platform=policy.platform,
        status=AccountStatus.COOLDOWN,
        status_reason__startswith=DAILY_LIMIT_REASON_PREFIX,
    )
    changed = 0
    for account in resting.select_for_update():
        state = AccountPacing(
            key=account.pk, limit_override=account.posts_limit_per_day, warmup_started_at=account.warmup_started_at
        )
        limit = daily_limit_at(pacing, state, now)
        recent = list(
            Execution.objects.filter(account=account, status=ExecutionStatus.SUCCESS, finished_at__gt=now - DAY)
            .order_by("finished_at")
            .values_list("finished_at", flat=True)
        )
        until = recent[len(recent) - limit] + DAY if len(recent) >= limit else None
        if until is not None and until > now:
            reason = f"{DAILY_LIMIT_REASON_PREFIX}{limit} reached"
            target = AccountStatus.COOLDOWN
        else:
            reason, until = f"the publishing policy changed: under the daily limit of {limit}", None
            target = AccountStatus.ACTIVE
        changed += account_set_status(
            account=account, status=target, reason=reason, until=until, actor=actor, from_statuses=(AccountStatus.COOLDOWN,)
        )
    return changed
