"""The dispatcher: claims due executions and hands them to the publisher queues.

Run by celery-beat every ``DISPATCH_EVERY_SECONDS`` (at most ``DISPATCH_INTERVAL_SECONDS``).
It claims what is due within ``DISPATCH_INTERVAL_SECONDS`` — at least until its
next run; those are enqueued with their ETA, so an execution is not up to one
run late — and leases them: status ``queued``,
a new lease token, and a lease that covers the ETA. Claiming uses
``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several dispatchers
never claim the same row; on SQLite the connection's IMMEDIATE transactions
serialise writers, which is the safe equivalent there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from media.selectors import renditions_pending
from posts.models import Post, PostStatus, Priority

from .models import Execution, ExecutionStatus

PRIORITY_RANK = Case(
    When(priority=Priority.HIGH, then=Value(0)),
    When(priority=Priority.NORMAL, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


@dataclass(frozen=True)
class Claim:
    execution_id: int
    token: str
    eta: datetime
    queue: str


def queue_for(priority: str, attempts: int) -> str:
    """Retries go to the low queue so fresh posts are not held up behind them."""
    return Priority.LOW if attempts > 0 else priority


def claim_due(*, now: datetime | None = None, limit: int = 500) -> list[Claim]:
    """Claim due executions (up to the concurrency cap) and return what to enqueue."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.DISPATCH_INTERVAL_SECONDS)
    in_flight = Execution.objects.filter(status__in=(ExecutionStatus.QUEUED, ExecutionStatus.POSTING)).count()
    capacity = min(limit, settings.MAX_CONCURRENT_PUBLISHES - in_flight)
    if capacity <= 0:
        return []
    token = uuid.uuid4().hex
    with transaction.atomic():
        due = Execution.objects.filter(
            status__in=(ExecutionStatus.PENDING, ExecutionStatus.RETRY_WAIT), scheduled_for__lte=horizon
        ).exclude(renditions_pending())  # executions wait in pending until their media is rendered
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        rows = list(
            due.annotate(rank=PRIORITY_RANK)
            .order_by("rank", "scheduled_for", "pk")
            .values_list("pk", "scheduled_for", "priority", "attempts", "post_id")[:capacity]
        )
        if not rows:
            return []
        Execution.objects.filter(pk__in=[r[0] for r in rows]).update(
            status=ExecutionStatus.QUEUED,
            lease_token=token,
            lease_expires_at=horizon + timedelta(seconds=settings.QUEUED_LEASE_SECONDS),
            updated_at=now,
        )
        Post.objects.filter(pk__in={r[4] for r in rows}, status=PostStatus.SCHEDULED).update(
            status=PostStatus.PUBLISHING, updated_at=now
        )
    return [Claim(pk, token, scheduled_for, queue_for(priority, attempts)) for pk, scheduled_for, priority, attempts, _ in rows]


def dispatch(*, now: datetime | None = None) -> int:
    """Claim and enqueue; returns the number of executions sent to the publisher.

    What is due already goes in batches of up to ``PUBLISH_BATCH_SIZE`` per message (per queue, in
    claim order): a message costs the worker about as much CPU as the publish itself
    (tests/bench/bench_engine.py), and a burst of due executions is exactly when that counts. What
    is due later goes one per message, with its own ETA, so each starts on time.
    """
    # By name: the tasks module imports the dispatcher.
    publish_execution = current_app.tasks["publishing.tasks.publish_execution"]
    publish_executions = current_app.tasks["publishing.tasks.publish_executions"]
    now = now or timezone.now()
    claims = claim_due(now=now)
    due: dict[str, list[list]] = {}
    for claim in claims:
        if claim.eta > now:
            publish_execution.apply_async(args=[claim.execution_id, claim.token], eta=claim.eta, queue=claim.queue)
        else:
            due.setdefault(claim.queue, []).append([claim.execution_id, claim.token])
    size = max(1, settings.PUBLISH_BATCH_SIZE)
    for queue, batch in due.items():
        for start in range(0, len(batch), size):
            chunk = batch[start : start + size]
            if len(chunk) == 1:
                publish_execution.apply_async(args=chunk[0], queue=queue)
            else:
                publish_executions.apply_async(args=[chunk], queue=queue)
    return len(claims)
