"""Dashboard numbers for the user's workspaces: one aggregate query per table."""

from datetime import datetime, time, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from accounts.selectors import scope
from posts.models import Post, Priority

from .models import Execution, ExecutionStatus
from .selectors import outcome_counts

# Executions waiting for a worker, by the queue they will go to.
WAITING_STATUSES = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RETRY_WAIT)


def _rate(success: int, failed: int) -> float | None:
    return round(success / (success + failed), 4) if success + failed else None


def overview(user, workspace_id: int | None = None) -> dict:
    """Counts over the workspaces ``user`` may see (or just ``workspace_id`` among them).

    "Today" starts at local midnight in the active time zone. A success rate
    is published / (published + failed) among executions finished in the
    window; cancelled and skipped ones do not count, and it is None when
    nothing finished.
    """
    accounts, posts, executions = (scope(model.objects.all(), user) for model in (SocialAccount, Post, Execution))
    if workspace_id is not None:
        accounts, posts, executions = (qs.filter(workspace_id=workspace_id) for qs in (accounts, posts, executions))

    now = timezone.now()
    midnight = timezone.make_aware(datetime.combine(timezone.localdate(now), time.min))
    day_ago, week_ago = now - timedelta(hours=24), now - timedelta(days=7)

    account_counts = accounts.order_by().aggregate(
        total=Count("pk"), **{f"n_{s}": Count("pk", filter=Q(status=s)) for s in AccountStatus.values}
    )
    post_counts = posts.order_by().aggregate(
        today=Count("pk", filter=Q(created_at__gte=midnight)),
        last_7_days=Count("pk", filter=Q(created_at__gte=week_ago)),
    )
    success, failed = Q(status=ExecutionStatus.SUCCESS), Q(status=ExecutionStatus.FAILED)
    waiting = Q(status__in=WAITING_STATUSES)
    execution_counts = executions.order_by().aggregate(
        total=Count("pk"),
        **{f"n_{s}": Count("pk", filter=Q(status=s)) for s in ExecutionStatus.values},
        success_24h=Count("pk", filter=success & Q(finished_at__gte=day_ago)),
        failed_24h=Count("pk", filter=failed & Q(finished_at__gte=day_ago)),
        success_7d=Count("pk", filter=success & Q(finished_at__gte=week_ago)),
        failed_7d=Count("pk", filter=failed & Q(finished_at__gte=week_ago)),
        **{f"q_{p}": Count("pk", filter=waiting & Q(priority=p)) for p in Priority.values},
    )
    queue = {p: execution_counts[f"q_{p}"] for p in Priority.values}
    return {
        "accounts": {
            "total": account_counts["total"],
            "by_status": {s: account_counts[f"n_{s}"] for s in AccountStatus.values},
        },
        "posts": post_counts,
        "executions": {
            "total": execution_counts["total"],
            "by_status": {s: execution_counts[f"n_{s}"] for s in ExecutionStatus.values},
            "success_rate_24h": _rate(execution_counts["success_24h"], execution_counts["failed_24h"]),
            "success_rate_7d": _rate(execution_counts["success_7d"], execution_counts["failed_7d"]),
        },
        "queue": {"by_priority": queue, "total": sum(queue.values())},
    }


def _outcomes(prefix: str, now: datetime) -> dict:
    """Published and failed counts over 24 h and 7 days, as annotations on rows related to executions."""
    windows = {"24h": now - timedelta(days=1), "7d": now - timedelta(days=7)}
    return {
        f"{outcome}_{window}": Count(
            f"{prefix}pk", filter=Q(**{f"{prefix}status": status, f"{prefix}finished_at__gte": since}), distinct=True
        )
        for window, since in windows.items()
        for outcome, status in (("published", ExecutionStatus.SUCCESS), ("failed", ExecutionStatus.FAILED))
    }


def account_stats(user, workspace_id: int | None = None):
    """Per account: published and failed over 24 h / 7 d (one query per page)."""
    accounts = scope(SocialAccount.objects.select_related("group"), user)
    if workspace_id is not None:
        accounts = accounts.filter(workspace_id=workspace_id)
    return accounts.annotate(**_outcomes("executions__", timezone.now())).order_by("platform", "handle", "pk")


def post_stats(user, workspace_id: int | None = None):
    """Per post: executions by outcome (one query per page), newest first."""
    posts = scope(Post.objects.all(), user)
    if workspace_id is not None:
        posts = posts.filter(workspace_id=workspace_id)
    return posts.annotate(**outcome_counts("executions__")).order_by("-created_at", "-pk")
