"""Reading statistics on a schedule that thins with age (``SLOT_OFFSETS``), in batches.

An execution published successfully gets one snapshot per slot: the slot is due once
``finished_at + offset <= now`` and the execution has no snapshot for it. After a long
downtime only the latest due slot is taken — the older ones are skipped, not back-filled with
readings that would all say the same thing. A reading that fails for good (the post is gone,
the account may no longer see it) is stored as a *final* snapshot: no later slot is taken. A
rate limit or quota pauses that account's readings (``MetricPause``) until the platform's
``retry_after``; a failure of the account itself (its login, a challenge, a ban) records the slot
as failed and pauses the account for STATS_ACCOUNT_ERROR_PAUSE_SECONDS (so does a token
without the scope to read statistics); a transient failure leaves
the slot due for the next run.

One batch costs the same few queries whatever its size: the due executions in one query, their
accounts (with proxies and workspaces) in another, the snapshots in one ``bulk_create``, the
pauses in one upsert.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from platforms import base
from platforms.base import METRICS, MetricsRequest
from platforms.registry import UnknownPlatform, get_adapter
from publishing.adapters import account_snapshot
from publishing.models import Execution, ExecutionStatus

from .models import MetricPause, MetricSnapshot, Slot

logger = logging.getLogger(__name__)

SLOT_OFFSETS: dict[str, timedelta] = {
    Slot.H1: timedelta(hours=1),
    Slot.H6: timedelta(hours=6),
    Slot.H24: timedelta(hours=24),
    Slot.D3: timedelta(days=3),
    Slot.D7: timedelta(days=7),
    Slot.D30: timedelta(days=30),
}


def due_slot(finished_at: datetime, now: datetime) -> str | None:
    """The latest slot due for a publication finished at ``finished_at`` (None: not even the first)."""
    due = [slot for slot, offset in SLOT_OFFSETS.items() if finished_at + offset <= now]
    return due[-1] if due else None


def due_executions(*, now: datetime, after: tuple[datetime, int] | None = None, limit: int):
    """Successful executions whose latest due slot has no snapshot yet, oldest first (keyset
    pagination: those after ``(finished_at, id)``): only what a reading needs, the post's media
    type annotated (``post_media_type``); their accounts are loaded once per batch."""
    latest = Case(
        *[When(finished_at__lte=now - offset, then=Value(slot)) for slot, offset in reversed(SLOT_OFFSETS.items())],
        output_field=CharField(),
    )
    paused = MetricPause.objects.filter(account_id=OuterRef("account_id"), until__gt=now)
    queryset = (
        Execution.objects.filter(
            status=ExecutionStatus.SUCCESS,
            finished_at__lte=now - SLOT_OFFSETS[Slot.H1],
            account__status=AccountStatus.ACTIVE,
        )
        .exclude(remote_id="")
        .annotate(due_slot=latest)
        .exclude(Exists(MetricSnapshot.objects.filter(execution_id=OuterRef("pk"), slot=OuterRef("due_slot"))))
        .exclude(Exists(MetricSnapshot.objects.filter(execution_id=OuterRef("pk"), final=True)))
        .exclude(Exists(paused))
        .annotate(post_media_type=F("post__media_type"))
        .only("pk", "account_id", "finished_at", "remote_id", "remote_url")
        .order_by("finished_at", "pk")
    )
    if after is not None:
        at, pk = after
        queryset = queryset.filter(Q(finished_at__gt=at) | Q(finished_at=at, pk__gt=pk))
    return queryset[:limit]


def _spread(executions: list[Execution]) -> list[Execution]:
    """Round-robin over accounts: one account's calls are spaced by everyone else's."""
    by_account: dict[int, list[Execution]] = defaultdict(list)
    for execution in executions:
        by_account[execution.account_id].append(execution)
    queues = list(by_account.values())
    spread = []
    for index in range(max((len(q) for q in queues), default=0)):
        spread += [queue[index] for queue in queues if index < len(queue)]
    return spread


@dataclass
class BatchResult:
    """What one batch did; ``last`` is where the next batch starts (keyset)."""

    fetched: int = 0
    stored: int = 0
    final: int = 0
    paused_accounts: int = 0
    deferred: int = 0  # transient failures and paused accounts: due again next run
    last: tuple[datetime, int] | None = None
    errors: dict[str, int] = field(default_factory=dict)


def _snapshot(execution: Execution, slot: str, now: datetime, reading: base.Metrics, *, final: bool = False) -> MetricSnapshot:
    values = {name: reading.values.get(name) for name in METRICS}
    for name in ("views", "likes", "comments", "shares", "saves"):
        if values[name] is not None:
            values[name] = int(values[name])
    return MetricSnapshot(
        execution=execution,
        slot=slot,
        taken_at=now,
        unavailable=dict(reading.unavailable),
        errors=dict(reading.errors),
        raw=dict(reading.raw),
        final=final,
        **values,
    )


def _failed(error: base.PlatformError) -> base.Metrics:
    """A reading where nothing came: every metric failed for the error's reason."""
    return base.Metrics(errors=dict.fromkeys(METRICS, error.message), raw={"error": error.code, **(error.raw or {})})


def metrics_collect_batch(
    *, now: datetime | None = None, batch_size: int | None = None, after: tuple[datetime, int] | None = None
) -> BatchResult:
    """Read the statistics of one batch of due executions and store them as snapshots."""
    now = now or timezone.now()
    batch_size = batch_size or settings.STATS_BATCH_SIZE
    executions = list(due_executions(now=now, after=after, limit=batch_size))
    result = BatchResult(fetched=len(executions))
    if not executions:
        return result
    result.last = (executions[-1].finished_at, executions[-1].pk)
    # One query for the batch's accounts (credentials decrypted once per account, not per row).
    owners = SocialAccount.objects.select_related("proxy", "workspace").in_bulk({e.account_id for e in executions})
    snapshots: list[MetricSnapshot] = []
    pauses: dict[int, tuple[datetime, str]] = {}
    accounts: dict[int, base.AccountSnapshot] = {}
    last_call: dict[int, float] = {}
    interval = settings.STATS_ACCOUNT_INTERVAL_SECONDS
    for execution in _spread(executions):
        account_id = execution.account_id
        if account_id in pauses:
            result.deferred += 1
            continue
        slot = due_slot(execution.finished_at, now)
        try:
            adapter = get_adapter(owners[account_id].platform)
        except UnknownPlatform:
            continue
        if account_id not in accounts:
            accounts[account_id] = account_snapshot(owners[account_id])
        wait = last_call.get(account_id, float("-inf")) + interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        request = MetricsRequest(
            account=accounts[account_id],
            remote_id=execution.remote_id,
            url=execution.remote_url,
            media_type=execution.post_media_type,
            published_at=execution.finished_at,
        )
        try:
            reading = adapter.metrics(request)
        except (base.RateLimited, base.QuotaExceeded) as error:
            until = error.cooldown_until(now) or now + timedelta(minutes=1)
            pauses[account_id] = (until, error.message)
            result.deferred += 1
            result.errors[error.code] = result.errors.get(error.code, 0) + 1
            continue
        except base.PlatformError as error:
            result.errors[error.code] = result.errors.get(error.code, 0) + 1
            if not error.permanent:  # transient, proxy: the slot stays due for the next run
                result.deferred += 1
            elif error.account_status is not None or isinstance(error, base.PermissionDenied):
                # The account itself (login, challenge, ban, a token without the read scope): this slot
                # is recorded as failed and the account rests; its checks, not statistics, decide what
                # becomes of it — once reconnected, its later slots are read again.
                snapshots.append(_snapshot(execution, slot, now, _failed(error)))
                pauses[account_id] = (now + timedelta(seconds=settings.STATS_ACCOUNT_ERROR_PAUSE_SECONDS), error.message)
            else:
                # The post is gone or may no longer be read: recorded once, never retried.
                snapshots.append(_snapshot(execution, slot, now, _failed(error), final=True))
                result.final += 1
            continue
        finally:
            last_call[account_id] = time.monotonic()
        snapshots.append(_snapshot(execution, slot, now, reading))
    with transaction.atomic():
        # Another run may have taken the same slot meanwhile: the first reading stays.
        MetricSnapshot.objects.bulk_create(snapshots, ignore_conflicts=True)
        if pauses:
            MetricPause.objects.bulk_create(
                [MetricPause(account_id=pk, until=until, reason=reason[:1000]) for pk, (until, reason) in pauses.items()],
                update_conflicts=True,
                unique_fields=["account"],
                update_fields=["until", "reason"],
            )
    result.stored = len(snapshots) - result.final
    result.paused_accounts = len(pauses)
    return result


def metrics_collect_due(
    *, now: datetime | None = None, batch_size: int | None = None, max_batches: int | None = None
) -> list[BatchResult]:
    """Batches of due readings until none is left (or ``max_batches``); each batch starts after the
    last execution of the one before, so a deferred execution is not read twice in one run."""
    now = now or timezone.now()
    batch_size = batch_size or settings.STATS_BATCH_SIZE
    max_batches = max_batches or settings.STATS_MAX_BATCHES
    results, after = [], None
    for _ in range(max_batches):
        batch = metrics_collect_batch(now=now, batch_size=batch_size, after=after)
        if batch.fetched:
            results.append(batch)
        if batch.fetched < batch_size:
            break
        after = batch.last
    if results:
        logger.info(
            "statistics read",
            extra={
                "stored": sum(r.stored for r in results),
                "final": sum(r.final for r in results),
                "deferred": sum(r.deferred for r in results),
                "batches": len(results),
            },
        )
    return results
