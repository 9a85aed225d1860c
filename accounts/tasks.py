"""Background work on accounts."""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from publishing.platforms.registry import ADAPTERS

from .health import account_check
from .models import AccountStatus, Proxy, SocialAccount
from .proxies import proxy_probe, proxy_record_check
from .services import account_set_status

logger = logging.getLogger(__name__)


@shared_task
def lift_expired_cooldowns() -> int:
    """Move accounts whose cooldown has passed back to active; returns how many were lifted.

    Each account is re-read under a row lock and must still be in an expired
    cooldown: an account an operator banned or disabled meanwhile stays as it
    is, and of two overlapping runs only one lifts (and logs) a given account.
    """
    now = timezone.now()
    due = SocialAccount.objects.filter(status=AccountStatus.COOLDOWN, cooldown_until__lte=now)
    lifted = 0
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            account = due.select_for_update(skip_locked=True).filter(pk=pk).first()
            if account is not None:
                lifted += account_set_status(account=account, status=AccountStatus.ACTIVE, reason="cooldown expired")
    return lifted


# --- health checks ----------------------------------------------------------------------------------

# A run stops starting new checks after this long, well inside CELERY_TASK_SOFT_TIME_LIMIT;
# what is left is checked first by the next run (oldest check first).
CHECK_RUN_BUDGET_SECONDS = 180
# Proxy probes are network waits: they run in threads, the results are written one by one.
PROXY_CHECK_THREADS = 16


@shared_task(ignore_result=True)
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


@shared_task(ignore_result=True)
def check_accounts() -> dict[str, int]:
    """Check accounts not checked for ACCOUNT_CHECK_INTERVAL_SECONDS (active, proxy_error, login_required).

    At most ACCOUNT_CHECK_BATCH per run, the longest-unchecked first. Each account
    is claimed with a conditional update of last_check_at, so overlapping runs
    never check one account twice.
    """
    deadline = time.monotonic() + CHECK_RUN_BUDGET_SECONDS
    stale = timezone.now() - timedelta(seconds=settings.ACCOUNT_CHECK_INTERVAL_SECONDS)
    due = (
        SocialAccount.objects.filter(
            status__in=(AccountStatus.ACTIVE, AccountStatus.PROXY_ERROR, AccountStatus.LOGIN_REQUIRED),
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
