"""Celery tasks of the publishing engine and of the platform checks of accounts and proxies.
They take ids, are idempotent, and leave every decision to the dispatcher, publisher and
health modules."""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import AccountStatus, Proxy, SocialAccount
from accounts.proxies import proxy_record_check
from platforms.registry import ADAPTERS
from posts.models import Post

from . import dispatcher, publisher
from .health import RECOVERED_REASONS, account_check
from .login import cleanup_old_sessions as retire_old_sessions
from .planner import post_publish
from .proxy_checks import proxy_probe

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def dispatch_due() -> int:
    return dispatcher.dispatch()


# The hard limit is what PUBLISH_LEASE_SECONDS must outlast (settings refuse anything else).
@shared_task(
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.PUBLISH_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.PUBLISH_SOFT_TIME_LIMIT_SECONDS,
)
def publish_execution(execution_id: int, token: str) -> str:
    return publisher.execution_publish(execution_id, token)


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.PUBLISH_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.PUBLISH_SOFT_TIME_LIMIT_SECONDS,
)
def publish_executions(self, batch: list[list]) -> dict[str, int]:
    """Executions that were due at once, in one message (``dispatcher.dispatch``): each is claimed,
    published and recorded on its own, exactly as ``publish_execution`` does, so the exactly-once
    rules hold for every one of them — a duplicate message finds each already claimed.

    The time limits are the task's, for the whole batch: a batch that has run
    ``PUBLISH_BATCH_BUDGET_SECONDS`` starts no more publishes and hands the rest (still queued
    under their leases) to a new message, so a publish never starts near the limit. One that
    raises (the database went away) is logged and left to its lease; the others go ahead.
    """
    started = time.monotonic()
    outcomes: dict[str, int] = {}
    for index, (execution_id, token) in enumerate(batch):
        if index and time.monotonic() - started > settings.PUBLISH_BATCH_BUDGET_SECONDS:
            queue = (self.request.delivery_info or {}).get("routing_key") or "normal"
            publish_executions.apply_async(args=[batch[index:]], queue=queue)
            outcomes["handed_over"] = len(batch) - index
            break
        try:
            outcome = publisher.execution_publish(execution_id, token)
        except SoftTimeLimitExceeded:
            raise  # the batch is out of time: what is left stays queued under its lease
        except Exception:
            logger.exception("Publishing execution %s failed; its lease brings it back", execution_id)
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@shared_task(ignore_result=True)
def replan_blocked() -> dict:
    return publisher.replan_due_blocked()


@shared_task(ignore_result=True)
def sweep_leases() -> dict:
    swept = publisher.sweep_expired_leases()
    swept.update(publisher.reconcile_unconfirmed())
    return swept


# --- health checks ----------------------------------------------------------------------------------

# A run stops starting new checks after this long, well inside CELERY_TASK_SOFT_TIME_LIMIT;
# what is left is checked first by the next run (oldest check first).
CHECK_RUN_BUDGET_SECONDS = 180
# Proxy probes are network waits: they run in threads, the results are written one by one.
PROXY_CHECK_THREADS = 16


# Named as when they lived in accounts.tasks: the beat schedule (crosspost/periodic.py) calls them so.
@shared_task(name="accounts.tasks.check_proxies", ignore_result=True)
def check_proxies() -> dict[str, int]:
    """Check every proxy, the longest-unchecked first; one failing check never stops the others."""
    deadline = time.monotonic() + CHECK_RUN_BUDGET_SECONDS
    proxies = list(Proxy.objects.order_by(F("last_check_at").asc(nulls_first=True), "pk"))
    counts = {"ok": 0, "failed": 0, "errors": 0}
    with ThreadPoolExecutor(max_workers=PROXY_CHECK_THREADS) as pool:
        for start in range(0, len(proxies), PROXY_CHECK_THREADS):
            if time.monotonic() > deadline:
                break
            chunk = proxies[start : start + PROXY_CHECK_THREADS]
            probes = [pool.submit(proxy_probe, proxy.url) for proxy in chunk]
            for proxy, probe in zip(chunk, probes, strict=True):
                try:
                    result = proxy_record_check(proxy=proxy, outcome=probe.result())
                except Exception:
                    logger.exception("Checking proxy %s failed", proxy.display_url)
                    counts["errors"] += 1
                else:
                    counts["ok" if result.ok else "failed"] += 1
    return counts


@shared_task(name="accounts.tasks.check_accounts", ignore_result=True)
def check_accounts() -> dict[str, int]:
    """Check accounts not checked for ACCOUNT_CHECK_INTERVAL_SECONDS (active, proxy_error, login_required, no_access).

    At most ACCOUNT_CHECK_BATCH per run, the longest-unchecked first. Each account
    is claimed with a conditional update of last_check_at, so overlapping runs
    never check one account twice.
    """
    deadline = time.monotonic() + CHECK_RUN_BUDGET_SECONDS
    stale = timezone.now() - timedelta(seconds=settings.ACCOUNT_CHECK_INTERVAL_SECONDS)
    due = (
        SocialAccount.objects.filter(
            # Active accounts, and those a passing check lifts back to active.
            status__in=(AccountStatus.ACTIVE, *RECOVERED_REASONS),
            platform__in=list(ADAPTERS),
        )
        .filter(Q(last_check_at__isnull=True) | Q(last_check_at__lt=stale))
        .order_by(F("last_check_at").asc(nulls_first=True), "pk")
    )
    counts = {"ok": 0, "failed": 0, "errors": 0}
    for pk, last_check_at in list(due.values_list("pk", "last_check_at")[: settings.ACCOUNT_CHECK_BATCH]):
        if time.monotonic() > deadline:
            break
        if not SocialAccount.objects.filter(pk=pk, last_check_at=last_check_at).update(last_check_at=timezone.now()):
            continue  # another run took it
        try:
            health = account_check(account=SocialAccount.objects.select_related("proxy", "workspace").get(pk=pk))
        except Exception:
            logger.exception("Checking account %s failed", pk)
            counts["errors"] += 1
        else:
            counts["ok" if health.ok else "failed"] += 1
    return counts


@shared_task(ignore_result=True)
def cleanup_old_sessions() -> dict[str, int]:
    """Retire Instagram sessions older than INSTAGRAM_SESSION_LIFETIME_DAYS (``login.cleanup_old_sessions``)."""
    return retire_old_sessions()


@shared_task(ignore_result=True)
def publish_post(post_id: int) -> str:
    """Plan and publish a post; a refusal is logged, the post stays a draft.

    Sources now start the pipeline instead (publishing/pipeline.py, whose publish stage plans the
    post); this task stays registered so messages queued by an older release still run."""
    post = Post.objects.filter(pk=post_id).first()
    if post is None:
        return "missing"
    try:
        post_publish(post=post)
    except ValidationError as exc:
        logger.warning("Post %s was not published automatically: %s", post_id, "; ".join(exc.messages))
        return "refused"
    return "planned"
