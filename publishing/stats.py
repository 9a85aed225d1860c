"""Dashboard numbers for the user's workspaces: one aggregate query per table."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Avg, Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from accounts.selectors import scope
from posts.models import Post, PostStatus, Priority

from .models import Execution, ExecutionStatus, ExecutionTally
from .selectors import outcome_counts

# Executions waiting for a worker, by the queue they will go to.
WAITING_STATUSES = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RETRY_WAIT)


# An account's success rate (its page, the accounts list, the admin) looks this far back.
ACCOUNT_RATE_DAYS = 30


def _rate(success: int, failed: int) -> float | None:
    return round(success / (success + failed), 4) if success + failed else None


def _seconds(duration: timedelta | None) -> float | None:
    return round(duration.total_seconds(), 1) if duration is not None else None


# Time to publish: from the time an execution was scheduled for to its finish, for published ones.
_TIME_TO_PUBLISH = ExpressionWrapper(F("finished_at") - F("scheduled_for"), output_field=DurationField())


def overview(user, workspace_id: int | None = None) -> dict:
    """Counts over the workspaces ``user`` may see (or just ``workspace_id`` among them).

    "Today" starts at local midnight in the active time zone. A success rate
    is published / (published + failed) among executions finished in the
    window; cancelled and skipped ones do not count, and it is None when
    nothing finished. The average time to publish is, over the executions
    published in the window, the mean time from ``scheduled_for`` (when the plan
    wanted it out) to ``finished_at`` (when the platform had it), in seconds:
    pacing, queueing and retries all count. None when nothing was published.
    """
    accounts, posts, executions = (scope(model.objects.all(), user) for model in (SocialAccount, Post, Execution))
    tallies = scope(ExecutionTally.objects.all(), user)
    if workspace_id is not None:
        accounts, posts, executions, tallies = (
            qs.filter(workspace_id=workspace_id) for qs in (accounts, posts, executions, tallies)
        )

    now = timezone.now()
    day_ago, week_ago = now - timedelta(hours=24), now - timedelta(days=7)

    account_counts = accounts.order_by().aggregate(
        total=Count("pk"), **{f"n_{s}": Count("pk", filter=Q(status=s)) for s in AccountStatus.values}
    )
    post_counts = posts_went_out(posts, now=now)
    # All-time counts from the tally the database keeps (a few dozen rows), not from a million executions.
    by_status = dict.fromkeys(ExecutionStatus.values, 0)
    queue = dict.fromkeys(Priority.values, 0)
    for row in tallies.order_by().values("status", "priority").annotate(n=Sum("n")):
        by_status[row["status"]] += int(row["n"])  # PostgreSQL's sum(bigint) is a numeric
        if row["status"] in WAITING_STATUSES:
            queue[row["priority"]] += int(row["n"])
    # The windows read only the week's published and failed executions ((workspace, status, finished_at) index).
    success, failed = Q(status=ExecutionStatus.SUCCESS), Q(status=ExecutionStatus.FAILED)
    window = executions.order_by().filter(status__in=(ExecutionStatus.SUCCESS, ExecutionStatus.FAILED), finished_at__gte=week_ago)
    # finished_at (never null in the window) rather than pk: the covering index has every column read.
    execution_counts = window.aggregate(
        success_24h=Count("finished_at", filter=success & Q(finished_at__gte=day_ago)),
        failed_24h=Count("finished_at", filter=failed & Q(finished_at__gte=day_ago)),
        success_7d=Count("finished_at", filter=success),
        failed_7d=Count("finished_at", filter=failed),
        avg_publish_24h=Avg(_TIME_TO_PUBLISH, filter=success & Q(finished_at__gte=day_ago), output_field=DurationField()),
        avg_publish_7d=Avg(_TIME_TO_PUBLISH, filter=success, output_field=DurationField()),
    )
    return {
        "accounts": {
            "total": account_counts["total"],
            "by_status": {s: account_counts[f"n_{s}"] for s in AccountStatus.values},
        },
        "posts": post_counts,
        "executions": {
            "total": sum(by_status.values()),
            "by_status": by_status,
            "success_rate_24h": _rate(execution_counts["success_24h"], execution_counts["failed_24h"]),
            "success_rate_7d": _rate(execution_counts["success_7d"], execution_counts["failed_7d"]),
            "avg_publish_seconds_24h": _seconds(execution_counts["avg_publish_24h"]),
            "avg_publish_seconds_7d": _seconds(execution_counts["avg_publish_7d"]),
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


@dataclass(frozen=True)
class SuccessRate:
    """An account's published and failed executions finished in the last ACCOUNT_RATE_DAYS days."""

    published: int = 0
    failed: int = 0

    @property
    def finished(self) -> int:
        return self.published + self.failed

    @property
    def rate(self) -> float | None:
        """published / (published + failed); None when nothing finished (cancelled and skipped do not count)."""
        return _rate(self.published, self.failed)

    @property
    def percent(self) -> int | None:
        return round(100 * self.rate) if self.rate is not None else None


def account_success_rates(account_ids, now: datetime | None = None) -> dict:
    """{account id: SuccessRate} for these accounts, in one aggregate query (every id gets one)."""
    account_ids = list(account_ids)
    since = (now or timezone.now()) - timedelta(days=ACCOUNT_RATE_DAYS)
    rows = (
        Execution.objects.filter(
            account_id__in=account_ids,
            status__in=(ExecutionStatus.SUCCESS, ExecutionStatus.FAILED),
            finished_at__gte=since,
        )
        .order_by()
        .values("account_id")
        .annotate(
            published=Count("pk", filter=Q(status=ExecutionStatus.SUCCESS)),
            failed=Count("pk", filter=Q(status=ExecutionStatus.FAILED)),
        )
    )
    rates = {account_id: SuccessRate() for account_id in account_ids}
    for row in rows:
        rates[row["account_id"]] = SuccessRate(published=row["published"], failed=row["failed"])
    return rates


def success_rate_annotations(prefix: str = "executions__", now: datetime | None = None) -> dict:
    """``published_30d`` and ``failed_30d`` as annotations on rows related to executions (the admin's changelist)."""
    since = (now or timezone.now()) - timedelta(days=ACCOUNT_RATE_DAYS)
    return {
        f"{outcome}_{ACCOUNT_RATE_DAYS}d": Count(
            f"{prefix}pk", filter=Q(**{f"{prefix}status": status, f"{prefix}finished_at__gte": since}), distinct=True
        )
        for outcome, status in (("published", ExecutionStatus.SUCCESS), ("failed", ExecutionStatus.FAILED))
    }


def posts_went_out(posts: QuerySet[Post], *, now: datetime | None = None) -> dict[str, int]:
    """Of ``posts``, those that went out today (local midnight on) and in the last 7 days: with
    an execution published in the window, or publishing now. Drafts and posts that only wait
    for their time do not count — they went nowhere yet."""
    now = now or timezone.now()
    midnight = timezone.make_aware(datetime.combine(timezone.localdate(now), time.min))
    week_ago = now - timedelta(days=7)
    published = Execution.objects.filter(post=OuterRef("pk"), status=ExecutionStatus.SUCCESS)
    publishing = Q(status=PostStatus.PUBLISHING)
    return posts.order_by().aggregate(
        today=Count("pk", filter=publishing | Exists(published.filter(finished_at__gte=midnight))),
        last_7_days=Count("pk", filter=publishing | Exists(published.filter(finished_at__gte=week_ago))),
    )
