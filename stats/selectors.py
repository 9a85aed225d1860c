"""Reads of the statistics: the latest numbers of each publication, a post's results, period totals,
top posts and an account's recent performance.

A publication's numbers are those of its latest snapshot (numbers only grow, and a newer
snapshot replaces an older one). A metric is None when not reported — "not available", never 0
— and a sum says how many publications it covers ("n of m report it"). Every function runs a
fixed number of queries whatever the number of executions: the sums are made by the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Platform
from accounts.selectors import scope
from platforms.base import METRICS
from posts.models import Post
from publishing.models import Execution, ExecutionStatus

from .models import MetricSnapshot, Slot

# Likes, comments, shares and saves: what "interactions" adds up (ranks posts after views).
INTERACTIONS = ("likes", "comments", "shares", "saves")
METRIC_LABELS = {
    "views": gettext_lazy("Views"),
    "likes": gettext_lazy("Likes"),
    "comments": gettext_lazy("Comments"),
    "shares": gettext_lazy("Shares"),
    "saves": gettext_lazy("Saves"),
    "watch_time_s": gettext_lazy("Watch time, s"),
}
SLOT_ORDER = {value: index for index, value in enumerate(Slot.values)}
PERIOD_DAYS = {"7d": 7, "30d": 30}
# The longest period a from..to range may span: a year of publications is plenty for a CSV.
MAX_PERIOD_DAYS = 366
RECENT_PUBLICATIONS = 20


# --- periods --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Executions finished in [start, end): ``key`` as given ("7d", "30d" or "YYYY-MM-DD..YYYY-MM-DD")."""

    key: str
    start: datetime
    end: datetime


def period_from(text: str | None, *, default: str = "7d", now: datetime | None = None) -> Period:
    """Parse a period: ``7d``, ``30d`` (up to now) or ``YYYY-MM-DD..YYYY-MM-DD`` (local days, both
    included). Anything else is a ValidationError (code ``period``) naming the allowed values."""
    now = now or timezone.now()
    key = (text or default).strip()
    if key in PERIOD_DAYS:
        return Period(key, now - timedelta(days=PERIOD_DAYS[key]), now)
    first, sep, last = key.partition("..")
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        start = end = None
    if not sep or start is None or end is None:
        raise ValidationError(
            _("Unknown period %(period)r: use 7d, 30d or a range of dates YYYY-MM-DD..YYYY-MM-DD.") % {"period": key},
            code="period",
        )
    if end < start:
        raise ValidationError(_("The period ends before it starts: %(period)s.") % {"period": key}, code="period")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ValidationError(
            _("A period spans at most %(days)d days.") % {"days": MAX_PERIOD_DAYS},
            code="period",
        )
    bounds = [timezone.make_aware(datetime.combine(d, time.min)) for d in (start, end + timedelta(days=1))]
    return Period(key, bounds[0], bounds[1])


# --- numbers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A sum over publications: ``reporting`` of ``of`` report it; ``value`` None when none does."""

    metric: str
    value: float | int | None
    reporting: int
    of: int
    reason: str = ""

    @property
    def label(self) -> str:
        return str(METRIC_LABELS[self.metric])

    @property
    def available(self) -> bool:
        return self.value is not None

    @property
    def partial(self) -> bool:
        return 0 < self.reporting < self.of


def _sums(prefix: str = "") -> dict:
    """Sum and count of reports of every metric (``s_<metric>`` and ``n_<metric>``), and ``n`` rows."""
    annotations = {"n": Count("pk")}
    for metric in METRICS:
        annotations[f"s_{metric}"] = Sum(f"{prefix}{metric}")
        annotations[f"n_{metric}"] = Count(f"{prefix}{metric}")
    return annotations


def _numbers(row: dict, reasons: dict[str, str] | None = None) -> dict[str, Number]:
    total = row["n"] or 0
    numbers = {}
    for metric in METRICS:
        reporting = row[f"n_{metric}"] or 0
        value = row[f"s_{metric}"] if reporting else None
        reason = ""
        if value is None:
            reason = (reasons or {}).get(metric) or (_("Not reported yet.") if not total else _("No account reports it."))
        numbers[metric] = Number(metric, value, reporting, total, reason)
    return numbers


def latest_snapshots(executions: QuerySet[Execution] | None = None) -> QuerySet[MetricSnapshot]:
    """The newest snapshot of each execution (of ``executions``): one row per execution, one query.

    "No newer snapshot of the same execution": the database answers it with one anti-join over
    the (execution, taken_at) index. Comparing each row with a subquery for the newest id was
    several times slower with a thousand executions; DISTINCT ON on PostgreSQL measured the same
    as this, which works everywhere."""
    newer = MetricSnapshot.objects.filter(execution_id=OuterRef("execution_id")).filter(
        Q(taken_at__gt=OuterRef("taken_at")) | Q(taken_at=OuterRef("taken_at"), pk__gt=OuterRef("pk"))
    )
    snapshots = MetricSnapshot.objects.all()
    if executions is not None:
        snapshots = snapshots.filter(execution__in=executions.values("pk"))
    return snapshots.filter(~Exists(newer))


# --- a post's results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One metric of one publication: its value, or why it is not available."""

    metric: str
    value: float | int | None
    reason: str = ""


@dataclass
class Row:
    """One publication's latest numbers (an account's row of a post, a post's row of an account)."""

    snapshot: MetricSnapshot
    cells: list[Cell] = field(default_factory=list)

    @property
    def execution(self) -> Execution:
        return self.snapshot.execution


def row_of(snapshot: MetricSnapshot) -> Row:
    cells = []
    for metric in METRICS:
        value = getattr(snapshot, metric)
        reason = ""
        if value is None:
            reason = snapshot.unavailable.get(metric) or snapshot.errors.get(metric) or _("Not reported.")
        cells.append(Cell(metric, value, str(reason)))
    return Row(snapshot, cells)


@dataclass(frozen=True)
class Group:
    """Sums over the publications of one platform, language, group or post."""

    key: str
    label: str
    numbers: dict[str, Number]

    @property
    def cells(self) -> list[Number]:
        return [self.numbers[metric] for metric in METRICS]


@dataclass(frozen=True)
class Point:
    """Views summed over the post's snapshots of one slot."""

    slot: str
    label: str
    views: int | None
    reporting: int
    taken_at: datetime | None


@dataclass(frozen=True)
class PostResults:
    totals: dict[str, Number]
    published: int
    by_platform: list[Group]
    by_language: list[Group]
    series: list[Point]

    @property
    def has_data(self) -> bool:
        return any(number.of for number in self.totals.values())

    @property
    def total_cells(self) -> list[Number]:
        return [self.totals[metric] for metric in METRICS]


def post_results(post: Post) -> PostResults:
    """Totals (the latest numbers summed over the post's executions), sums per platform and per
    language, and views over time (per slot). Three queries: the sums come per (platform,
    language) pair — a handful of rows — and are added up here; the per-account rows are
    ``post_result_rows`` (paginate them)."""
    executions = Execution.objects.filter(post=post)
    pairs = list(
        latest_snapshots(executions)
        .order_by()
        .values(platform=F("execution__account__platform"), language=F("execution__language"))
        .annotate(**_sums())
    )
    published = executions.filter(status=ExecutionStatus.SUCCESS).count()
    platforms = dict(Platform.choices)
    by_platform = [
        Group(key, str(platforms.get(key, key)), _numbers(_added(rows))) for key, rows in _grouped(pairs, "platform").items()
    ]
    by_language = [Group(key, key, _numbers(_added(rows))) for key, rows in _grouped(pairs, "language").items()]
    return PostResults(_numbers(_added(pairs)), published, by_platform, by_language, views_series(post))


def _grouped(rows: list[dict], key: str) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda row: row[key]):
        grouped.setdefault(row[key], []).append(row)
    return grouped


def _added(rows: list[dict]) -> dict:
    """``_sums`` rows added together (a sum of no reports stays None)."""
    total = {"n": sum(row["n"] for row in rows)}
    for metric in METRICS:
        total[f"n_{metric}"] = sum(row[f"n_{metric}"] for row in rows)
        values = [row[f"s_{metric}"] for row in rows if row[f"s_{metric}"] is not None]
        total[f"s_{metric}"] = sum(values) if values else None
    return total


def views_series(post: Post) -> list[Point]:
    """Per slot with a snapshot, in slot order: views summed over the executions that report them
    (None when none of that slot's snapshots does). One query."""
    rows = (
        MetricSnapshot.objects.filter(execution__post=post)
        .order_by()
        .values("slot")
        .annotate(s_views=Sum("views"), reporting=Count("views"), taken_at=Min("taken_at"))
    )
    labels = dict(Slot.choices)
    points = [
        Point(
            slot=row["slot"],
            label=str(labels.get(row["slot"], row["slot"])),
            views=row["s_views"] if row["reporting"] else None,
            reporting=row["reporting"],
            taken_at=row["taken_at"],
        )
        for row in rows
    ]
    return sorted(points, key=lambda point: SLOT_ORDER.get(point.slot, len(SLOT_ORDER)))


def post_result_rows(post: Post) -> QuerySet[MetricSnapshot]:
    """The latest snapshot of each of the post's executions, with its account: by platform, handle."""
    snapshots = latest_snapshots(Execution.objects.filter(post=post))
    return publications(snapshots).order_by("execution__account__platform", "execution__account__handle", "pk")


# --- periods: totals and top posts --------------------------------------------------------------------


def period_executions(user, period: Period, workspace_id: int | None = None) -> QuerySet[Execution]:
    """The user's published executions that finished within ``period``."""
    executions = scope(Execution.objects.all(), user).filter(
        status=ExecutionStatus.SUCCESS, finished_at__gte=period.start, finished_at__lt=period.end
    )
    if workspace_id is not None:
        executions = executions.filter(workspace_id=workspace_id)
    return executions


TOTALS_BY = {
    "group": ("execution__account__group_id", "execution__account__group__name"),
    "platform": ("execution__account__platform", "execution__account__platform"),
}


def period_totals(user, period: Period, by: str, workspace_id: int | None = None) -> list[Group]:
    """Sums of the latest numbers per account group (``by="group"``; key "" for accounts in none)
    or per platform, over publications finished within ``period``. One query."""
    if by not in TOTALS_BY:
        raise ValidationError(_("Unknown grouping %(by)r: use group or platform.") % {"by": by}, code="by")
    key, name = TOTALS_BY[by]
    rows = (
        latest_snapshots(period_executions(user, period, workspace_id))
        .order_by()
        .values(key, name)
        .annotate(**_sums())
        .order_by(name, key)
    )
    platforms = dict(Platform.choices)
    groups = []
    for row in rows:
        if by == "platform":
            groups.append(Group(row[key], str(platforms.get(row[key], row[key])), _numbers(row)))
        else:
            groups.append(Group(str(row[key] or ""), row[name] or _("No group"), _numbers(row)))
    return groups


@dataclass
class TopPost:
    post: Post
    publications: int
    numbers: dict[str, Number]

    @property
    def views(self) -> Number:
        return self.numbers["views"]

    @property
    def interactions(self) -> int | None:
        values = [self.numbers[m].value for m in INTERACTIONS if self.numbers[m].value is not None]
        return sum(values) if values else None


def _interactions_sum():
    return sum((Coalesce(Sum(m), 0) for m in INTERACTIONS[1:]), start=Coalesce(Sum(INTERACTIONS[0]), 0))


def top_posts_queryset(user, period: Period, workspace_id: int | None = None):
    """Per post (values rows with ``post_id`` and sums), most viewed first, then by interactions."""
    return (
        latest_snapshots(period_executions(user, period, workspace_id))
        .order_by()
        .values(post_id=F("execution__post_id"))
        .annotate(**_sums(), interactions=_interactions_sum(), last=Max("execution__finished_at"))
        .order_by(F("s_views").desc(nulls_last=True), "-interactions", "-last", "-post_id")
    )


def top_posts_of(rows: list[dict]) -> list[TopPost]:
    """TopPost objects for a page of ``top_posts_queryset`` rows, their posts in one query."""
    posts = Post.objects.only("id", "title", "caption", "workspace_id", "status").in_bulk([row["post_id"] for row in rows])
    return [TopPost(posts[row["post_id"]], row["n"], _numbers(row)) for row in rows if row["post_id"] in posts]


def top_posts(user, period: Period, limit: int = 10, workspace_id: int | None = None) -> list[TopPost]:
    """The ``limit`` most viewed posts (then by interactions) over publications finished in ``period``. Two queries."""
    return top_posts_of(list(top_posts_queryset(user, period, workspace_id)[:limit]))


# --- an account's recent performance ------------------------------------------------------------------


_PUBLICATION_FIELDS = (
    *METRICS,
    "slot",
    "taken_at",
    "unavailable",
    "errors",
    "execution__id",
    "execution__post_id",
    "execution__account_id",
    "execution__language",
    "execution__finished_at",
    "execution__remote_url",
    "execution__post__id",
    "execution__post__title",
    "execution__post__caption",
    "execution__account__id",
    "execution__account__handle",
    "execution__account__platform",
)


def publications(snapshots: QuerySet[MetricSnapshot]) -> QuerySet[MetricSnapshot]:
    """``snapshots`` with their execution, post and account (what a publication's row shows)."""
    return snapshots.select_related("execution", "execution__post", "execution__account").only(*_PUBLICATION_FIELDS)


def period_publications(user, period: Period, workspace_id: int | None = None) -> QuerySet[MetricSnapshot]:
    """The latest snapshot of each of the user's publications finished within ``period``, oldest first."""
    snapshots = latest_snapshots(period_executions(user, period, workspace_id))
    return publications(snapshots).order_by("execution__finished_at", "pk")


def account_recent_queryset(account) -> QuerySet[MetricSnapshot]:
    """The latest snapshot of each of the account's publications, newest publication first."""
    snapshots = latest_snapshots(Execution.objects.filter(account=account, status=ExecutionStatus.SUCCESS))
    return publications(snapshots).order_by(F("execution__finished_at").desc(nulls_last=True), "-pk")


def account_recent(account, limit: int = RECENT_PUBLICATIONS) -> list[Row]:
    """The account's last ``limit`` publications that have a snapshot, with their latest numbers. One query."""
    return [row_of(snapshot) for snapshot in account_recent_queryset(account)[:limit]]


def account_totals(account, period: Period) -> dict[str, Number]:
    """The account's sums over its publications finished within ``period``. One query."""
    executions = Execution.objects.filter(
        account=account, status=ExecutionStatus.SUCCESS, finished_at__gte=period.start, finished_at__lt=period.end
    )
    return _numbers(latest_snapshots(executions).order_by().aggregate(**_sums()))


# --- raw snapshots ------------------------------------------------------------------------------------


def snapshots_for(user, *, post_id: int | None = None, account_id=None, since: datetime | None = None) -> QuerySet:
    """Every snapshot of the user's executions (optionally of one post / account, taken since), oldest first."""
    snapshots = MetricSnapshot.objects.filter(execution__in=scope(Execution.objects.all(), user).values("pk"))
    if post_id is not None:
        snapshots = snapshots.filter(execution__post_id=post_id)
    if account_id is not None:
        snapshots = snapshots.filter(execution__account_id=account_id)
    if since is not None:
        snapshots = snapshots.filter(taken_at__gte=since)
    return snapshots.select_related("execution", "execution__account").order_by("taken_at", "pk")


# --- repetitions compared ---------------------------------------------------------------------------


def repetition_totals(post: Post) -> dict[int, dict[str, Number]]:
    """The latest numbers summed per post over ``post`` and its repetitions (``Post.parent``), by
    post id — one query, so a recurring post's page can compare its occurrences. A post without
    publications yet has no entry."""
    executions = Execution.objects.filter(Q(post=post) | Q(post__parent=post))
    rows = latest_snapshots(executions).order_by().values(post_id=F("execution__post_id")).annotate(**_sums())
    return {row["post_id"]: _numbers(row) for row in rows}
