"""Dashboard numbers for the user's workspaces: one aggregate query per table."""

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db import models
from django.db.models import Case, Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccountStatus, SocialAccount
from accounts.selectors import scope
from posts.models import Post, PostStatus, Priority

from .models import Execution, ExecutionOutcomeBucket, ExecutionStatus, ExecutionTally
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
    buckets = scope(ExecutionOutcomeBucket.objects.all(), user)
    if workspace_id is not None:
        accounts, posts, executions, tallies, buckets = (
            qs.filter(workspace_id=workspace_id) for qs in (accounts, posts, executions, tallies, buckets)
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
    # The windows add up the outcome buckets' whole hours and count only their partial edge hours.
    windows = outcome_totals(executions, buckets, {"24h": (day_ago, None), "7d": (week_ago, None)})
    day, week = windows["24h"], windows["7d"]
    return {
        "accounts": {
            "total": account_counts["total"],
            "by_status": {s: account_counts[f"n_{s}"] for s in AccountStatus.values},
        },
        "posts": post_counts,
        "executions": {
            "total": sum(by_status.values()),
            "by_status": by_status,
            "success_rate_24h": _rate(day.success, day.failed),
            "success_rate_7d": _rate(week.success, week.failed),
            "avg_publish_seconds_24h": _seconds(day.avg_publish),
            "avg_publish_seconds_7d": _seconds(week.avg_publish),
        },
        "queue": {"by_priority": queue, "total": sum(queue.values())},
    }


HOUR = timedelta(hours=1)
_FINISHED = (ExecutionStatus.SUCCESS, ExecutionStatus.FAILED)


@dataclass(frozen=True)
class Outcomes:
    """Published and failed executions finished in a window, and the published ones' summed time to publish."""

    success: int = 0
    failed: int = 0
    publish_us: int = 0

    def __add__(self, other: "Outcomes") -> "Outcomes":
        return Outcomes(self.success + other.success, self.failed + other.failed, self.publish_us + other.publish_us)

    @property
    def avg_publish(self) -> timedelta | None:
        """The mean time to publish (the executions' ``finished_at - scheduled_for``); None when none published."""
        return timedelta(microseconds=self.publish_us / self.success) if self.success else None


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def _split(start: datetime, end: datetime | None) -> tuple[datetime, datetime | None, list[tuple[datetime, datetime]]]:
    """[start, end) (end None: open) as the buckets' whole UTC hours it covers, [first, last) (last
    None: open), and the partial hours at its edges, which are counted from the executions themselves."""
    first = _ceil_hour(start)
    if end is None:
        return first, None, [(start, first)] if first != start else []
    last = _floor_hour(end)
    if last < first:  # inside one hour: no whole hour (an empty range)
        return first, first, [(start, end)]
    return first, last, [(a, b) for a, b in ((start, first), (last, end)) if a != b]


def _disjoint(hours: tuple[datetime, datetime | None], others: list[tuple[datetime, datetime | None]]) -> bool:
    first, last = hours
    return all((last is not None and last <= a) or (b is not None and b <= first) for a, b in others)


def outcome_totals(
    executions: QuerySet[Execution],
    buckets: QuerySet[ExecutionOutcomeBucket],
    windows: dict[Hashable, tuple[datetime, datetime | None]],
) -> dict[Hashable, Outcomes]:
    """outcome_by_group's figures over all groups together."""
    return {key: groups.get(None, Outcomes()) for key, groups in outcome_by_group(executions, buckets, windows, False).items()}


def outcome_by_group(
    executions: QuerySet[Execution],
    buckets: QuerySet[ExecutionOutcomeBucket],
    windows: dict[Hashable, tuple[datetime, datetime | None]],
    by_group: bool = True,
) -> dict[Hashable, dict[int | None, Outcomes]]:
    """Published and failed executions (and the published ones' time to publish) finished in each
    window ``[start, end)`` (end None: no end), per current account group when ``by_group`` (None:
    no group), else all under None. ``executions`` and ``buckets`` must be scoped alike.

    Exact, in one query whatever the data size: a ``UNION ALL`` of, per window, the sums of the
    ExecutionOutcomeBucket rows of the whole UTC hours inside it (a range of the bucket index) and,
    per partial hour at a window's edge (a window starting "now - 24 h", or a local midnight at a
    :30 offset), the count of its executions (a range of the (workspace, status, finished_at)
    index, at most an hour). One range per part: an OR of ranges would scan the whole window.
    """
    success, failed = Q(status=ExecutionStatus.SUCCESS), Q(status=ExecutionStatus.FAILED)
    # Typed NULLs: PostgreSQL matches a UNION's columns by type.
    no_time, no_us = Cast(Value(None), DurationField()), Cast(Value(None), models.BigIntegerField())
    keys = list(windows)
    labels = {index: [key] for index, key in enumerate(keys)}  # a part's label → the windows its rows add to
    # Windows whose whole hours do not overlap (the chart's days) share one part, labelled per row by
    # a CASE over the hour; overlapping ones (24 h inside 7 days) get a part each.
    layers, edges = [], {}
    for index, (start, end) in enumerate(windows.values()):
        first, last, partial = _split(start, end)
        layer = next((layer for layer in layers if _disjoint((first, last), [w[1:] for w in layer])), None)
        if layer is None:
            layers.append(layer := [])
        layer.append((index, first, last))
        for edge in partial:  # an edge shared by two windows is read once
            edges.setdefault(edge, []).append(keys[index])
    parts = []
    for layer in layers:
        whole = [(index, Q(hour__gte=first) & (Q(hour__lt=last) if last is not None else Q())) for index, first, last in layer]
        label = Case(*(When(hours, then=Value(index)) for index, hours in whole), default=Value(None))
        part = buckets.order_by().filter(
            Q(group_key__gte=0) if by_group else Q(group_key=ExecutionOutcomeBucket.ALL_GROUPS),
            status__in=_FINISHED,
            hour__gte=min(first for _, first, _ in layer),
        )
        if all(last is not None for _, _, last in layer):
            part = part.filter(hour__lt=max(last for _, _, last in layer))
        # Rows between the layer's windows (none for contiguous days) get no label and are skipped below.
        part = part.annotate(label=label)
        part = part.values("label", group=F("group_key") if by_group else Value(0))
        parts.append(
            part.annotate(
                s=Sum("n", filter=success), f=Sum("n", filter=failed), us=Sum("publish_us", filter=success), time=no_time
            )
        )
    # An empty range when every edge is on the hour: the same query shape whatever the time of day.
    earliest = min(start for start, _ in windows.values())
    for number, ((a, b), edge_keys) in enumerate((edges or {(earliest, earliest): []}).items(), start=len(keys)):
        labels[number] = edge_keys
        part = executions.order_by().filter(status__in=_FINISHED, finished_at__gte=a, finished_at__lt=b)
        part = part.annotate(label=Value(number))
        part = part.values("label", group=Coalesce("account__group_id", 0) if by_group else Value(0))
        # finished_at rather than pk: the covering (workspace, status, finished_at) index has every column read.
        parts.append(
            part.annotate(
                s=Count("finished_at", filter=success),
                f=Count("finished_at", filter=failed),
                us=no_us,
                time=Sum(_TIME_TO_PUBLISH, filter=success),
            )
        )
    result = {key: {} for key in windows}
    for row in parts[0].union(*parts[1:], all=True):
        group = row["group"] or None
        publish = int(row["us"] or 0) + (row["time"] or timedelta(0)) // timedelta(microseconds=1)
        found = Outcomes(int(row["s"] or 0), int(row["f"] or 0), publish)
        for key in labels.get(row["label"], ()):
            result[key][group] = result[key].get(group, Outcomes()) + found
    return result


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

    @property
    def title(self) -> str:
        """What the rate is made of, for its tooltip."""
        if self.rate is None:
            return _("Nothing published or failed in the last 30 days")
        return _("%(published)s published of %(finished)s finished in the last 30 days") % {
            "published": self.published,
            "finished": self.finished,
        }


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
