"""The publisher: one execution, one platform call, one recorded outcome.

Exactly-once rests on three rules:

1. a task acts only after a conditional ``queued → posting`` update with the
   lease token the dispatcher gave it; duplicates and stale messages find
   nothing to claim and stop;
2. the outcome is written with a conditional update on the same token;
3. a ``posting`` execution whose lease ran out (its worker died mid-publish)
   becomes ``unconfirmed`` and is reconciled with ``adapter.lookup()`` before
   any retry. Where a platform cannot look up, it waits for an operator.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, JSONField, OuterRef, Subquery
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from accounts.proxies import account_rotate_proxy
from accounts.services import account_set_status
from crosspost.activity import log_activity
from crosspost.models import LogStatus, WebhookEvent
from crosspost.prepared import PreparedGet, PreparedUpdate
from crosspost.webhooks import emit
from media.services import MediaNotReady, MediaUnavailable, media_items_for
from platforms.base import (
    DeliveryUnknown,
    LookupUnsupported,
    PlatformError,
    ProxyFailed,
    PublishRequest,
    PublishResult,
    execution_marker,
)
from platforms.registry import get_adapter
from posts.models import Post, PostMedia, PostStatus, Priority
from posts.options import check_stored_options, platform_post_options

from .adapters import account_snapshot, lookup_request, platform_media
from .models import OPEN_EXECUTION_STATUSES, Execution, ExecutionStatus, PublishingPolicy
from .notifications import notify_post_finished, notify_unconfirmed
from .pacing import DAY, AccountPacing, Pacing, daily_limit_at
from .pipeline import post_finished as pipeline_post_finished
from .planner import policy_for, post_publish
from .selectors import outcome_counts

logger = logging.getLogger(__name__)

BACKOFF_SECONDS = (60, 300, 900, 3600)  # 1 m → 5 m → 15 m → 1 h
# The error code of an unconfirmed execution the platform cannot look up: it needs an operator.
NO_LOOKUP_CODE = "unconfirmed_no_lookup"


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=BACKOFF_SECONDS[min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1])


def execution_publish(execution_id: int, token: str) -> str:
    """Publish one execution. Returns its resulting status (or "stale" when it was not ours)."""
    now = timezone.now()
    claimed = CLAIM.run(pk=execution_id, token=token, now=now, lease=now + timedelta(seconds=settings.PUBLISH_LEASE_SECONDS))
    if not claimed:
        return "stale"
    execution = LOAD_EXECUTION.get(execution_id)
    if execution is None:  # deleted (with its post) since the claim
        return "stale"
    account = execution.account

    try:
        prepared = _prepare(execution, account, token, now)
    except ValidationError as exc:
        # The post itself is wrong (e.g. options saved before they were checked): no retry can help.
        message = " ".join(exc.messages)
        _finish(execution, token, ExecutionStatus.FAILED, error_code="invalid_post", error_message=message)
        return ExecutionStatus.FAILED
    except Exception as exc:
        # Nothing was sent to the platform yet, so this is an ordinary failure with its real
        # reason, retried like a transient one — never a lease that runs out as if the worker died.
        logger.exception("Could not prepare execution %s for publishing", execution_id)
        reason = f"Could not prepare the publish: {type(exc).__name__}: {exc}"
        if execution.attempts < settings.PUBLISH_MAX_ATTEMPTS:
            return _retry_later(execution, token, "prepare_failed", reason, backoff(execution.attempts), now)
        _finish(execution, token, ExecutionStatus.FAILED, error_code="prepare_failed", error_message=reason)
        return ExecutionStatus.FAILED
    if isinstance(prepared, str):
        return prepared
    adapter, request = prepared
    started = time.monotonic()
    try:
        result = adapter.publish(request)
    except PlatformError as error:
        return _record_error(execution, token, error, duration_ms=_ms(started))
    except DeliveryUnknown as exc:
        return _mark_unconfirmed(execution, token, str(exc))
    except Exception as exc:
        # We cannot tell whether the platform accepted the post before this
        # failed: never guess — reconcile like a crash.
        logger.exception("Unexpected error publishing execution %s", execution_id)
        return _mark_unconfirmed(execution, token, f"Unexpected error while publishing: {type(exc).__name__}: {exc}")
    return _record_success(execution, token, result, duration_ms=_ms(started))


def _prepare(execution: Execution, account: SocialAccount, token: str, now: datetime):
    """The adapter and request for a claimed execution, or the status it got instead (str)."""
    blocked = _account_blocks(execution, account, now)
    if blocked:
        return blocked
    check_stored_options(execution.post)  # they may have been stored before they were checked
    options = platform_post_options(execution.post, account.platform)
    media_type, assets = platform_media(
        platform=account.platform,
        media_type=execution.post.media_type,
        assets=assets_of(execution.post),
    )
    try:
        media = media_items_for(assets=assets, platform=account.platform, media_type=media_type)
    except MediaNotReady:
        # Not an attempt: the rendition is (again) being made; look again shortly.
        Execution.objects.filter(pk=execution.pk, lease_token=token).update(
            status=ExecutionStatus.PENDING,
            scheduled_for=now + timedelta(seconds=30),
            attempts=F("attempts") - 1,
            lease_expires_at=None,
            updated_at=now,
        )
        return ExecutionStatus.PENDING
    except MediaUnavailable as exc:
        _finish(execution, token, ExecutionStatus.FAILED, error_code="media_failed", error_message=str(exc))
        return ExecutionStatus.FAILED

    def record(action: str, message: str, details: dict) -> None:
        log_activity(action=action, account=account, execution=execution, message=message, details=details)

    request = PublishRequest(
        account=account_snapshot(account),
        caption=execution.caption,
        media_type=media_type,
        media=media,
        options=options,
        marker=execution_marker(execution.pk),
        record=record,
    )
    return get_adapter(account.platform), request


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _account_blocks(execution: Execution, account: SocialAccount, now: datetime) -> str | None:
    """Re-check the account just before publishing; returns the new status if it blocks."""
    if account.status == AccountStatus.ACTIVE:
        return None
    if account.status == AccountStatus.COOLDOWN:
        if account.cooldown_until and account.cooldown_until > now:
            # Not an attempt: put it back for when the cooldown ends.
            Execution.objects.filter(pk=execution.pk, lease_token=execution.lease_token).update(
                status=ExecutionStatus.PENDING,
                scheduled_for=account.cooldown_until,
                attempts=F("attempts") - 1,
                lease_expires_at=None,
                updated_at=now,
            )
            return ExecutionStatus.PENDING
        return None  # an expired cooldown is lifted by the periodic task; publishing may go ahead
    reason = {
        AccountStatus.LOGIN_REQUIRED: "The account needs a new login",
        AccountStatus.PROXY_ERROR: "The account's proxy is failing",
        AccountStatus.NO_ACCESS: "The account lost the right to post there",
        AccountStatus.BANNED: "The account is banned",
        AccountStatus.DISABLED: "The account is disabled",
    }[account.status]
    # The stored reason is usually a sentence of its own ("Sandbox: injected auth_required."): one full stop.
    detail = f"{reason}: {account.status_reason.strip()}" if account.status_reason.strip() else reason
    detail = detail if detail.endswith((".", "!", "?")) else f"{detail}."
    if account.status == AccountStatus.PROXY_ERROR and execution.attempts < settings.PUBLISH_MAX_ATTEMPTS:
        return _retry_later(execution, execution.lease_token, "account_unavailable", detail, backoff(execution.attempts), now)
    _finish(execution, execution.lease_token, ExecutionStatus.FAILED, error_code="account_unavailable", error_message=detail)
    return ExecutionStatus.FAILED


# The fields of the account's saved policy the daily limit reads (``_cooldown_at_daily_limit``),
# loaded with the execution; absent (None) where the workspace saved no policy for the platform.
DAILY_LIMIT_POLICY_FIELDS = ("daily_limit", "warmup_curve", "warmup_ramp_days")


# One statement loads all a publish reads: the execution, its account (proxy, workspace), the post,
# and the account's saved daily-limit policy (for the cooldown after a success) — compiled to SQL
# once per worker process (crosspost/prepared.py), which saves most of a publish's CPU time.
LOAD_EXECUTION = PreparedGet(
    lambda pk: (
        Execution.objects.select_related("account__proxy", "account__workspace", "post")
        .annotate(**_policy_fields())
        .filter(pk=pk)
    )
)


# The conditional claim of a queued execution by the holder of its lease token (rule 1 above).
CLAIM = PreparedUpdate(
    lambda pk, token, now, lease: (
        Execution.objects.filter(pk=pk, status=ExecutionStatus.QUEUED, lease_token=token),
        {
            "status": ExecutionStatus.POSTING,
            "started_at": now,
            "attempts": F("attempts") + 1,
            "lease_expires_at": lease,
            "updated_at": now,
        },
    ),
    pk=int,
    token=str,
    now=datetime,
    lease=datetime,
)
# After a success: the account posted now, and its run of failures ends.
ACCOUNT_POSTED = PreparedUpdate(
    lambda pk, now: (SocialAccount.objects.filter(pk=pk), {"last_post_at": now, "failed_attempts": 0, "updated_at": now}),
    pk=UUID,
    now=datetime,
)
# The post's media in publishing order (assets_of below).
POST_MEDIA = PreparedGet(lambda post_id: PostMedia.objects.select_related("asset").filter(post_id=post_id).order_by("position"))


def assets_of(post) -> list:
    """media.selectors.assets_of, compiled once: the post's media assets in publishing order."""
    return [media.asset for media in POST_MEDIA.all(post.pk)]


# refresh_post_status: the post's row, locked; and one execution of it still open or waiting, if any.
LOCK_POST = PreparedGet(lambda pk: Post.objects.select_for_update().only("status", "workspace_id").filter(pk=pk))
# Any one will do (no order): the (post, status, …) index finds it without reading the post's others.
UNFINISHED_EXECUTION = PreparedGet(
    lambda post_id: (
        Execution.objects.filter(post_id=post_id, status__in=(*OPEN_EXECUTION_STATUSES, ExecutionStatus.BLOCKED))
        .exclude(status=ExecutionStatus.BLOCKED, next_attempt_at__isnull=True)
        .order_by()
        .only("pk")[:1]
    )
)


def _policy_fields() -> dict[str, Subquery]:
    saved = PublishingPolicy.objects.filter(
        workspace_id=OuterRef("account__workspace_id"), platform=OuterRef("account__platform")
    )
    return {f"policy_{name}": Subquery(saved.values(name)[:1]) for name in DAILY_LIMIT_POLICY_FIELDS}


def _finish(execution: Execution, token: str, status: str, *, refresh: bool = True, **fields) -> bool:
    """Record a final outcome (conditional on the lease token). ``refresh=False``: the caller refreshes
    the post's status itself, last in its transaction (it holds the post's row lock until commit)."""
    now = timezone.now()
    updated = _finish_update(execution.pk, token, status, now, fields)
    if updated:
        if status == ExecutionStatus.FAILED:
            emit(
                WebhookEvent.EXECUTION_FAILED,
                workspace_id=execution.workspace_id,
                payload=lambda: {
                    "execution": execution.pk,
                    "post": execution.post_id,
                    "account": str(execution.account_id),
                    "platform": execution.account.platform,
                    "status": status,
                    "attempts": execution.attempts,
                    "error_code": fields.get("error_code", ""),
                    "error_message": fields.get("error_message", ""),
                },
            )
        if refresh:
            refresh_post_status(execution.post_id)
    return bool(updated)


FINISHABLE = (ExecutionStatus.POSTING, ExecutionStatus.UNCONFIRMED)
# The outcome updates compiled so far, by (status, the other fields' names and kinds): a handful.
_FINISH_UPDATES: dict[tuple, PreparedUpdate] = {}


def _argument_kind(name: str, value) -> type | None:
    if value is None:
        return None  # SQL NULL: left to the ORM
    if isinstance(Execution._meta.get_field(name), JSONField):
        return dict  # any JSON value
    return str if isinstance(value, str) else None


def _outcome_update(pk: int, token: str, status: str, now: datetime, fields: dict) -> tuple:
    """The outcome's UPDATE, conditional on the lease: the rows, and the values they get."""
    rows = Execution.objects.filter(pk=pk, lease_token=token, status__in=FINISHABLE)
    return rows, {"status": status, "finished_at": now, "lease_expires_at": None, "updated_at": now, **fields}


def _finish_update(execution_id: int, token: str, status: str, now: datetime, fields: dict) -> int:
    """_outcome_update run: compiled once per kind of outcome when its fields are text and JSON (a
    success, most failures), else built by the ORM."""
    names = tuple(sorted(fields))
    kinds = tuple(_argument_kind(name, fields[name]) for name in names)
    if None in kinds:
        rows, values = _outcome_update(execution_id, token, status, now, fields)
        return rows.update(**values)
    update = _FINISH_UPDATES.get((status, names, kinds))
    if update is None:
        update = PreparedUpdate(
            lambda pk, token, now, **values: _outcome_update(
                pk, token, status, now, {name: values[f"field_{name}"] for name in names}
            ),
            pk=int,
            token=str,
            now=datetime,
            **{f"field_{name}": kind for name, kind in zip(names, kinds, strict=True)},
        )
        if len(_FINISH_UPDATES) < 100:  # outcomes are a few shapes; never an unbounded cache
            _FINISH_UPDATES[(status, names, kinds)] = update
    return update.run(pk=execution_id, token=token, now=now, **{f"field_{name}": fields[name] for name in names})


def _record_success(execution: Execution, token: str, result: PublishResult, *, duration_ms: int) -> str:
    with transaction.atomic():
        finished = _finish(
            execution,
            token,
            ExecutionStatus.SUCCESS,
            refresh=False,
            remote_id=result.remote_id[:200],
            remote_url=result.url[:500],
            # Warnings (a step after the post was up failed) stay beside the platform's answer.
            raw_response={**result.raw, "warnings": list(result.warnings)} if result.warnings else result.raw,
            error_code="",
            error_message="",
        )
        account = execution.account
        now = timezone.now()
        ACCOUNT_POSTED.run(pk=account.pk, now=now)
        message = f"Published to {account}: {result.url or result.remote_id}"
        if result.warnings:
            message += " — but " + " ".join(result.warnings)
        log_activity(
            action="execution.publish",
            execution=execution,
            account=account,
            status=LogStatus.SUCCESS,
            message=message,
            details={
                "remote_id": result.remote_id,
                "url": result.url,
                "attempt": execution.attempts,
                **({"warnings": list(result.warnings)} if result.warnings else {}),
            },
            duration_ms=duration_ms,
        )
        _cooldown_at_daily_limit(execution, account, now)
        if finished:
            refresh_post_status(execution.post_id)  # last: it locks the post's row until the commit
    return ExecutionStatus.SUCCESS


def _cooldown_at_daily_limit(execution: Execution, account: SocialAccount, now: datetime) -> None:
    """At the daily limit the account rests until the oldest post leaves the 24 h window.

    One statement: the ``limit``-th most recent success of the last 24 h, if there is one — then the
    account is at its limit and rests until that one is 24 h old. The policy came with the execution.
    """
    if not hasattr(execution, "policy_daily_limit"):  # not loaded by execution_publish: read the saved policy
        saved = PublishingPolicy.objects.filter(workspace_id=account.workspace_id, platform=account.platform)
        policy = policy_for(account.workspace_id, account.platform, {p.platform: p for p in saved})
    elif execution.policy_daily_limit is None:  # the workspace saved no policy for the platform: its default
        policy = policy_for(account.workspace_id, account.platform, {})
    else:
        fields = {name: getattr(execution, f"policy_{name}") for name in DAILY_LIMIT_POLICY_FIELDS}
        policy = PublishingPolicy(workspace_id=account.workspace_id, platform=account.platform, **fields)
    pacing = Pacing.from_policy(policy)
    state = AccountPacing(key=account.pk, limit_override=account.posts_limit_per_day, warmup_started_at=account.warmup_started_at)
    limit = daily_limit_at(pacing, state, now)
    for counted in _limitth_recent_success(limit).all(account=account.pk, since=now - DAY):
        until = counted.finished_at + DAY
        account_set_status(account=account, status=AccountStatus.COOLDOWN, reason=f"daily limit of {limit} reached", until=until)


# One compiled probe per daily limit in use (the limit is the query's OFFSET, which SQL takes literally).
_RECENT_SUCCESS_PROBES: dict[int, PreparedGet] = {}


def _limitth_recent_success(limit: int) -> PreparedGet:
    """The account's ``limit``-th most recent success since ``since``, if it has that many."""
    probe = _RECENT_SUCCESS_PROBES.get(limit)
    if probe is None:
        probe = PreparedGet(
            lambda account, since: (
                Execution.objects.filter(account_id=account, status=ExecutionStatus.SUCCESS, finished_at__gt=since)
                .order_by("-finished_at")
                .only("finished_at")[limit - 1 : limit]
            ),
            account=UUID,
            since=datetime,
        )
        if len(_RECENT_SUCCESS_PROBES) < 1000:  # limits are a handful of values; never an unbounded cache
            _RECENT_SUCCESS_PROBES[limit] = probe
    return probe


def _retry_later(execution: Execution, token: str, code: str, message: str, delay: timedelta, now: datetime, raw=None) -> str:
    updated = Execution.objects.filter(
        pk=execution.pk, lease_token=token, status__in=(ExecutionStatus.POSTING, ExecutionStatus.UNCONFIRMED)
    ).update(
        status=ExecutionStatus.RETRY_WAIT,
        scheduled_for=now + delay,
        next_attempt_at=now + delay,
        priority=Priority.LOW,
        lease_expires_at=None,
        error_code=code,
        error_message=message,
        raw_response=raw or {},
        updated_at=now,
    )
    return ExecutionStatus.RETRY_WAIT if updated else "stale"


def _record_error(execution: Execution, token: str, error: PlatformError, *, duration_ms: int) -> str:
    now = timezone.now()
    account = execution.account
    retryable = not error.permanent and execution.attempts < settings.PUBLISH_MAX_ATTEMPTS
    with transaction.atomic():
        if retryable:
            delay = backoff(execution.attempts)
            if error.retry_after:
                delay = max(delay, timedelta(seconds=error.retry_after))
            until = error.cooldown_until(now)
            if until:
                delay = max(delay, until - now)
            outcome = _retry_later(execution, token, error.code, error.message, delay, now, raw=error.raw)
        else:
            message = error.message
            if not error.permanent:
                message = f"Gave up after {execution.attempts} attempts: {message}"
            _finish(
                execution, token, ExecutionStatus.FAILED, error_code=error.code, error_message=message, raw_response=error.raw
            )
            outcome = ExecutionStatus.FAILED
        if isinstance(error, ProxyFailed):
            # A free reserve proxy takes over: the account stays active and the retry goes through it.
            # With none free, account_rotate_proxy moves the account to proxy_error itself.
            account_rotate_proxy(account=account, reason=error.message)
        elif error.account_status:
            account_set_status(
                account=account, status=error.account_status, reason=error.message, until=error.cooldown_until(now)
            )
        SocialAccount.objects.filter(pk=account.pk).update(failed_attempts=F("failed_attempts") + 1)
        log_activity(
            action="execution.publish",
            execution=execution,
            account=account,
            status=LogStatus.FAILED,
            message=f"{error.code}: {error.message}" + (" — will retry" if outcome == ExecutionStatus.RETRY_WAIT else ""),
            details={"error": error.code, "attempt": execution.attempts, "permanent": error.permanent, "raw": error.raw},
            duration_ms=duration_ms,
        )
    return outcome


def _mark_unconfirmed(execution: Execution, token: str, reason: str) -> str:
    now = timezone.now()
    updated = Execution.objects.filter(pk=execution.pk, lease_token=token, status=ExecutionStatus.POSTING).update(
        status=ExecutionStatus.UNCONFIRMED, error_code="unconfirmed", error_message=reason, lease_expires_at=None, updated_at=now
    )
    if updated:
        log_activity(
            action="execution.unconfirmed",
            execution=execution,
            account=execution.account,
            status=LogStatus.FAILED,
            message=reason,
        )
    return ExecutionStatus.UNCONFIRMED if updated else "stale"


# --- crash safety --------------------------------------------------------------------------------


def sweep_expired_leases(*, now: datetime | None = None) -> dict[str, int]:
    """Queued leases that ran out were never picked up: back to pending.
    Posting leases that ran out mean a worker died mid-publish: unconfirmed."""
    now = now or timezone.now()
    requeued = Execution.objects.filter(status=ExecutionStatus.QUEUED, lease_expires_at__lt=now).update(
        status=ExecutionStatus.PENDING, lease_token="", lease_expires_at=None, updated_at=now
    )
    crashed = list(
        Execution.objects.filter(status=ExecutionStatus.POSTING, lease_expires_at__lt=now).select_related("account", "workspace")
    )
    for execution in crashed:
        reason = "The worker stopped while publishing; checking with the platform before any retry."
        _mark_unconfirmed(execution, execution.lease_token, reason)
    return {"requeued": requeued, "unconfirmed": len(crashed)}


def reconcile_unconfirmed(*, limit: int = 200) -> dict[str, int]:
    """Settle unconfirmed executions with ``adapter.lookup()``: found → success, absent → retry.

    Where the platform cannot look up, the execution stays unconfirmed for an
    operator (mark published, or retry) — it is never posted again blindly.
    """
    counts = {"published": 0, "retried": 0, "failed": 0, "left": 0}
    unconfirmed = Execution.objects.filter(status=ExecutionStatus.UNCONFIRMED).select_related(
        "account__proxy", "account__workspace", "post"
    )[:limit]
    for execution in unconfirmed:
        adapter = get_adapter(execution.account.platform)
        try:
            found = adapter.lookup(lookup_request(execution))
        except LookupUnsupported:
            # Only an operator can settle it; they hear about it once (the code changes once).
            marked = (
                Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.UNCONFIRMED)
                .exclude(error_code=NO_LOOKUP_CODE)
                .update(error_code=NO_LOOKUP_CODE, updated_at=timezone.now())
            )
            if marked:
                notify_unconfirmed(execution.pk, execution.workspace_id)
            counts["left"] += 1
            continue
        except PlatformError:
            counts["left"] += 1
            continue
        token = execution.lease_token
        if found is not None:
            _finish(
                execution,
                token,
                ExecutionStatus.SUCCESS,
                remote_id=found.remote_id,
                remote_url=found.url,
                raw_response=found.raw,
                error_code="",
                error_message="",
            )
            log_activity(
                action="execution.reconcile",
                execution=execution,
                account=execution.account,
                status=LogStatus.SUCCESS,
                message="Found on the platform after a crash: marked published.",
            )
            counts["published"] += 1
        elif execution.attempts < settings.PUBLISH_MAX_ATTEMPTS:
            _retry_later(
                execution,
                token,
                "not_found_after_crash",
                "Not on the platform after a crash: retrying.",
                timedelta(0),
                timezone.now(),
            )
            counts["retried"] += 1
        else:
            _finish(
                execution,
                token,
                ExecutionStatus.FAILED,
                error_code="not_found_after_crash",
                error_message=f"Not on the platform after a crash and {execution.attempts} attempts.",
            )
            counts["failed"] += 1
    return counts


def execution_mark_published(*, execution: Execution, remote_url: str = "", remote_id: str = "", actor=None) -> Execution:
    """An operator confirms an unconfirmed execution is live on the platform."""
    if execution.status != ExecutionStatus.UNCONFIRMED:
        raise ValidationError("Only an unconfirmed execution can be marked as published.", code="conflict")
    _finish(
        execution,
        execution.lease_token,
        ExecutionStatus.SUCCESS,
        remote_url=remote_url,
        remote_id=remote_id,
        error_code="",
        error_message="",
    )
    log_activity(
        action="execution.mark_published", execution=execution, account=execution.account, actor=actor, status=LogStatus.SUCCESS
    )
    execution.refresh_from_db()
    return execution


# --- blocked targets ---------------------------------------------------------------------------------


def replan_due_blocked(*, now: datetime | None = None, limit: int = 50) -> dict[str, int]:
    """Plan again the blocked executions whose ``next_attempt_at`` has come (a temporary cause).

    Per post: ``post_publish(due_only=True)`` turns each into pending when its cause has
    passed (a conditional update: two runs never both do it), or sets its next attempt —
    none after the last, and then the post may finish. Never creates a second execution.
    """
    now = now or timezone.now()
    post_ids = list(
        Execution.objects.filter(status=ExecutionStatus.BLOCKED, next_attempt_at__lte=now)
        .exclude(post__status=PostStatus.CANCELLED)
        .order_by("next_attempt_at")
        .values_list("post_id", flat=True)
        .distinct()[:limit]
    )
    counts = {"posts": 0, "planned": 0, "blocked": 0, "errors": 0}
    posts = Post.objects.select_related("workspace").in_bulk(post_ids)  # one query, not one per post
    for post_id in dict.fromkeys(post_ids):
        post = posts.get(post_id)
        if post is None:
            continue
        try:
            plan = post_publish(post=post, due_only=True, now=now)
        except ValidationError as exc:
            # The post cannot be planned at all any more (its targets were removed): stop waiting.
            Execution.objects.filter(post_id=post_id, status=ExecutionStatus.BLOCKED).update(
                next_attempt_at=None, error_message=" ".join(exc.messages), updated_at=now
            )
            counts["errors"] += 1
        else:
            counts["planned"] += plan.created
            counts["blocked"] += sum(1 for e in plan.entries if e.status == "blocked" and not e.unchanged)
        counts["posts"] += 1
        refresh_post_status(post_id)
    return counts


# --- post status -----------------------------------------------------------------------------------


def refresh_post_status(post_id: int) -> str:
    """The post's status follows its executions: publishing → completed / partial / failed.

    Blocked executions count in the total, so a post with any ends partial (or failed).
    """
    # No savepoint of its own inside a caller's transaction (two statements per execution saved);
    # outside one, this is the transaction.
    with transaction.atomic(savepoint=False):
        # Lock the post before counting: of two executions finishing at once, the
        # second waits and then sees the first as finished, so the post never stays
        # "publishing" with nothing open.
        post = LOCK_POST.get(post_id)
        if post is None:
            raise Post.DoesNotExist(f"Post {post_id} does not exist.")
        # While one execution is still open or waiting (the usual case for all but the last to
        # finish), the post is not done: one indexed probe instead of counting all its executions.
        if UNFINISHED_EXECUTION.get(post_id) is not None:
            return post.status
        counts = Execution.objects.filter(post_id=post_id).aggregate(**outcome_counts())
        # A target blocked for a temporary cause will be planned again: the post is not done yet.
        if counts["open"] or counts["waiting"] or not counts["total"]:
            return post.status
        if post.status == PostStatus.CANCELLED:
            new = PostStatus.CANCELLED
        elif counts["published"] == counts["total"]:
            new = PostStatus.COMPLETED
        elif counts["published"]:
            new = PostStatus.PARTIAL
        else:
            new = PostStatus.FAILED
        now = timezone.now()
        # Conditional on the status changing: of two executions finishing at once, only one notifies.
        if Post.objects.filter(pk=post_id).exclude(status=new).update(status=new, finished_at=now, updated_at=now):
            # A source's post reports through its pipeline's finalize stage (admin chat and channel).
            if not pipeline_post_finished(post_id):
                notify_post_finished(post_id)
            _emit_post_finished(post, new, counts)
        else:
            Post.objects.filter(pk=post_id).update(finished_at=now, updated_at=now)
        return new


def _emit_post_finished(post: Post, status: str, counts: dict) -> None:
    """post.completed, or post.failed for a post that failed or partly failed (a cancelled one sends nothing)."""
    if status == PostStatus.COMPLETED:
        event = WebhookEvent.POST_COMPLETED
    elif status in (PostStatus.FAILED, PostStatus.PARTIAL):
        event = WebhookEvent.POST_FAILED
    else:
        return

    def payload() -> dict:
        executions = Execution.objects.filter(post_id=post.pk).order_by("pk")
        return {
            "post": post.pk,
            "status": status,
            "counts": {key: counts[key] for key in ("total", "published", "failed", "stopped", "blocked")},
            "executions": [
                {
                    "id": row["pk"],
                    "account": str(row["account_id"]),
                    "platform": row["account__platform"],
                    "status": row["status"],
                    "remote_url": row["remote_url"],
                    "error_code": row["error_code"],
                }
                for row in executions.values("pk", "account_id", "account__platform", "status", "remote_url", "error_code")
            ],
        }

    emit(event, workspace_id=post.workspace_id, payload=payload)
