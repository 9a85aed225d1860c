"""Reads for the dashboard pages. Every query is scoped to the user's workspaces
and the number of queries of each function does not depend on the data size."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Case, Count, F, Max, OuterRef, Q, QuerySet, Subquery, Value, When, Window
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import (
    NEEDS_ACTION_STATUSES,
    AccountGroup,
    AccountStatus,
    Membership,
    Proxy,
    Role,
    SocialAccount,
    Workspace,
    role_at_least,
)
from accounts.selectors import remembered_roles, remembered_workspace_ids, scope, workspaces_for
from crosspost.models import ActivityLog, Heartbeat
from posts.models import Post
from publishing.approvals import approvals_waiting_for
from publishing.models import Execution, ExecutionOutcomeBucket, ExecutionStatus
from publishing.selectors import OUTCOME_STATUSES, outcome_counts
from publishing.stats import outcome_by_group, outcome_totals, overview, posts_went_out
from sources.models import IngestRecord, ItemStatus, Source, SourceItem

# Account columns a list needs; the encrypted credentials and session are never decrypted for a page.
ACCOUNT_LIST_FIELDS = (
    "id",
    "workspace_id",
    "platform",
    "handle",
    "language",
    "status",
    "status_reason",
    "cooldown_until",
    "last_post_at",
    "last_check_at",
    "failed_attempts",
    "group_id",
    "proxy_id",
)
PROBLEM_STATUSES = (*NEEDS_ACTION_STATUSES, AccountStatus.COOLDOWN)
CHART_DAYS = 14


# --- who may do what ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """The user's role in each workspace, read once per request (superusers: owner everywhere)."""

    superuser: bool
    roles: dict[int, str] = field(default_factory=dict)

    def can(self, workspace_id: int | None, min_role: str) -> bool:
        if self.superuser:
            return True
        role = self.roles.get(workspace_id)
        return role_at_least(role, min_role)

    def can_anywhere(self, min_role: str) -> bool:
        return self.superuser or any(role_at_least(r, min_role) for r in self.roles.values())


def access_for(user) -> Access:
    if not user.is_authenticated or not user.is_active:
        return Access(superuser=False)
    if user.is_superuser:
        return Access(superuser=True)
    remembered = remembered_roles(user)
    if remembered is not None:
        return Access(superuser=False, roles=dict(remembered))
    return Access(superuser=False, roles=dict(Membership.objects.filter(user=user).values_list("workspace_id", "role")))


def workspaces_with_role(user, min_role: str) -> QuerySet[Workspace]:
    return workspaces_for(user, min_role).order_by("name", "pk")


# --- overview -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeartbeatState:
    name: str
    seen_at: datetime | None
    age_s: float | None
    ok: bool


def heartbeats(now: datetime | None = None) -> list[HeartbeatState]:
    """Worker and beat liveness as /health/ judges it (stale after HEARTBEAT_STALE_SECONDS), and the
    Telegram bot's where it is configured (TELEGRAM_BOT_TOKEN)."""
    now = now or timezone.now()
    names = ("worker", "beat", "bot") if settings.TELEGRAM_BOT_TOKEN else ("worker", "beat")
    seen = dict(Heartbeat.objects.filter(name__in=names).values_list("name", "seen_at"))
    states = []
    for name in names:
        at = seen.get(name)
        age = (now - at).total_seconds() if at else None
        states.append(HeartbeatState(name, at, age, age is not None and age <= settings.HEARTBEAT_STALE_SECONDS))
    return states


@dataclass(frozen=True)
class ChartDay:
    day: date
    success: int
    failed: int


def daily_outcomes(user, days: int = CHART_DAYS, now: datetime | None = None) -> list[ChartDay]:
    """Published and failed executions per local day (the active time zone), oldest first, ``days`` days.

    Day boundaries are local midnights computed here (DST-correct); the database adds up the
    outcome buckets' whole hours and counts the partial hours at the days' edges (publishing.stats.
    outcome_totals): two queries, no per-row time zone conversion.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    dates = [first + timedelta(days=i) for i in range(days + 1)]
    bounds = [timezone.make_aware(datetime.combine(d, time.min)) for d in dates]
    counts = outcome_totals(
        scope(Execution.objects.all(), user),
        scope(ExecutionOutcomeBucket.objects.all(), user),
        {i: (bounds[i], bounds[i + 1]) for i in range(days)},
    )
    return [ChartDay(dates[i], counts[i].success, counts[i].failed) for i in range(days)]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    value: int


@dataclass(frozen=True)
class Chart:
    """Geometry of the posts-over-time SVG, computed here so the template only draws."""

    width: int
    height: int
    plot_top: int
    plot_bottom: int
    maximum: int
    days: list[dict]
    gridlines: list[dict]


def chart_geometry(days: list[ChartDay], width: int = 700, height: int = 200) -> Chart:
    left, right, top, bottom = 36, 8, 10, height - 24
    plot_height = bottom - top
    maximum = max([d.success for d in days] + [d.failed for d in days] + [1])
    # A round upper bound so the grid reads 0 / half / max.
    step = max(1, -(-maximum // 4))
    maximum = step * 4
    slot = (width - left - right) / max(len(days), 1)
    bar = max(2.0, slot * 0.36)

    def scaled(value: int) -> float:
        return round(plot_height * value / maximum, 1)

    out = []
    for index, d in enumerate(days):
        x0 = left + index * slot + (slot - 2 * bar) / 2
        s, f = scaled(d.success), scaled(d.failed)
        out.append(
            {
                "day": d.day,
                "label_x": round(left + index * slot + slot / 2, 1),
                "success": Bar(round(x0, 1), round(bottom - s, 1), s, d.success),
                "failed": Bar(round(x0 + bar, 1), round(bottom - f, 1), f, d.failed),
                "bar_width": round(bar, 1),
            }
        )
    gridlines = [{"y": round(bottom - plot_height * i / 4, 1), "value": step * i} for i in range(5)]
    return Chart(width, height, top, bottom, maximum, out, gridlines)


@dataclass(frozen=True)
class LinePoint:
    x: float
    y: float
    value: int
    label: str
    slot: str


@dataclass(frozen=True)
class LineChart:
    """Geometry of a post's views-over-time SVG: one point per slot whose snapshots report views."""

    width: int
    height: int
    left: int
    bottom: int
    points: list[LinePoint]
    ticks: list[dict]
    gridlines: list[dict]

    @property
    def path(self) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(self.points))


def nice_step(raw: float) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at least ``raw``: gridlines at round numbers (0 / 250 / 500 …)."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= raw:
                return factor * magnitude
        magnitude *= 10


def views_chart(series, width: int = 700, height: int = 220) -> LineChart:
    """Place ``series`` (stats.selectors.Point, in slot order) on evenly spaced slots; a slot whose
    views nobody reports gets its tick but no point."""
    left, right, top, bottom = 56, 40, 10, height - 28  # room on the right for the last slot's label
    plot_height = bottom - top
    reported = [point.views for point in series if point.views is not None]
    step = nice_step(max([*reported, 1]) / 4)
    maximum = step * 4
    spacing = (width - left - right) / max(len(series) - 1, 1)
    ticks, points = [], []
    for index, point in enumerate(series):
        x = round(left + index * spacing if len(series) > 1 else left + (width - left - right) / 2, 1)
        ticks.append({"x": x, "label": point.label})
        if point.views is not None:
            y = round(bottom - plot_height * point.views / maximum, 1)
            points.append(LinePoint(x, y, point.views, point.label, point.slot))
    gridlines = [{"y": round(bottom - plot_height * i / 4, 1), "value": step * i} for i in range(5)]
    return LineChart(width, height, left, bottom, points, ticks, gridlines)


def group_stats(user, now: datetime | None = None, limit: int = 50) -> list[dict]:
    """Per account group (and "no group"): accounts, posts published in 7 days and the 7-day success rate."""
    now = now or timezone.now()
    week_ago = now - timedelta(days=7)
    accounts = dict(
        scope(SocialAccount.objects.all(), user)
        .order_by()
        .values("group_id")
        .annotate(n=Count("pk"))
        .values_list("group_id", "n")
    )
    # The week per current account group: buckets' whole hours and the edge hour's executions.
    week = outcome_by_group(
        scope(Execution.objects.all(), user), scope(ExecutionOutcomeBucket.objects.all(), user), {"7d": (week_ago, None)}
    )["7d"]
    outcomes = {group: {"success": o.success, "failed": o.failed} for group, o in week.items()}
    groups = list(scope(AccountGroup.objects.select_related("workspace"), user).order_by("name", "pk")[:limit])
    rows = []
    for group_id, name, workspace in [(g.pk, g.name, g.workspace) for g in groups] + [(None, None, None)]:
        outcome = outcomes.get(group_id, {"success": 0, "failed": 0})
        if group_id is None and not accounts.get(None) and not (outcome["success"] or outcome["failed"]):
            continue
        done = outcome["success"] + outcome["failed"]
        rows.append(
            {
                "id": group_id,
                "name": name,
                "workspace": workspace,
                "accounts": accounts.get(group_id, 0),
                "published_7d": outcome["success"],
                "failed_7d": outcome["failed"],
                "success_rate": outcome["success"] / done if done else None,
            }
        )
    return rows


def problem_accounts(user, limit: int = 5, now: datetime | None = None) -> list[SocialAccount]:
    """The accounts with the most failed executions in 7 days, then those in a problem state;
    each with ``failures_7d`` and ``last_error`` (its latest failed execution, else its status reason)."""
    now = now or timezone.now()
    week_ago = now - timedelta(days=7)
    accounts = scope(SocialAccount.objects.all(), user)
    failing = list(
        scope(Execution.objects.all(), user)
        .filter(status=ExecutionStatus.FAILED, finished_at__gte=week_ago)
        .order_by()
        .values("account_id")
        .annotate(n=Count("finished_at"), last=Max("finished_at"))
        .order_by("-n", "-last")
        .values_list("account_id", "n")[:limit]
    )
    failures = dict(failing)
    ids = list(failures)
    # Always one query (not only when fewer than ``limit`` fail), so the page's query count is constant.
    in_trouble = accounts.filter(status__in=PROBLEM_STATUSES).exclude(pk__in=ids).order_by("-updated_at")
    ids += list(in_trouble.values_list("pk", flat=True)[:limit])[: limit - len(ids)]
    last_error = (
        Execution.objects.filter(account=OuterRef("pk"), status=ExecutionStatus.FAILED)
        .order_by("-finished_at", "-pk")
        .values("error_message")[:1]
    )
    found = accounts.filter(pk__in=ids).only(*ACCOUNT_LIST_FIELDS).annotate(last_error=Subquery(last_error)).in_bulk()
    result = []
    for pk in ids:
        account = found[pk]
        account.failures_7d = failures.get(pk, 0)
        account.last_error = account.last_error or account.status_reason
        result.append(account)
    return result


def posts_published(user, now: datetime | None = None) -> dict[str, int]:
    """Posts that went out today and in the last 7 days (as the API's stats count them)."""
    return posts_went_out(scope(Post.objects.all(), user), now=now)


def duration_label(seconds: float | None) -> str:
    """A short duration for people: "45 s", "3 min 20 s", "2 h 5 min"; "—" for None."""
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(abs(total), 3600)
    minutes, secs = divmod(rest, 60)
    sign = "−" if total < 0 else ""
    if hours:
        return sign + _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return sign + _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": secs}
    return sign + _("%(seconds)d s") % {"seconds": secs}


def overview_context(user) -> dict:
    numbers = overview(user)  # its "posts" are posts_published's numbers already: not counted twice
    days = daily_outcomes(user)
    return {
        "numbers": numbers,
        "avg_publish": {
            "day": duration_label(numbers["executions"]["avg_publish_seconds_24h"]),
            "week": duration_label(numbers["executions"]["avg_publish_seconds_7d"]),
        },
        "account_statuses": [(value, label, numbers["accounts"]["by_status"][value]) for value, label in AccountStatus.choices],
        "heartbeats": heartbeats(),
        "chart": chart_geometry(days),
        "chart_totals": {"success": sum(d.success for d in days), "failed": sum(d.failed for d in days)},
        "groups": group_stats(user),
        "problem_accounts": problem_accounts(user),
        "needs_attention": needs_attention(user),
        "awaiting_approval": awaiting_approval(user),
    }


def awaiting_approval(user, limit: int = 10) -> dict:
    """Posts waiting for an approval the user may give, oldest request first, and how many in all:
    the dashboard's "Waiting for your approval" (there is no stored notification: the state is the list)."""
    posts = approvals_waiting_for(user).order_by("updated_at", "pk")
    return first_and_total(posts.only("id", "title", "caption", "workspace_id", "status"), limit)


def needs_attention(user, limit: int = 10) -> dict:
    """Posts with unconfirmed executions (only an operator can settle them), most recent first,
    each with ``n_unconfirmed``; and how many posts that is in all. Two queries."""
    posts = (
        scope(Post.objects.all(), user)
        .filter(executions__status=ExecutionStatus.UNCONFIRMED)
        .annotate(n_unconfirmed=Count("executions", filter=Q(executions__status=ExecutionStatus.UNCONFIRMED)))
        .order_by("-updated_at", "-pk")
    )
    return first_and_total(posts.only("id", "title", "caption", "workspace_id", "status"), limit)


def first_and_total(posts: QuerySet[Post], limit: int) -> dict:
    """The first ``limit`` posts and how many there are in all, in one query (a window count)."""
    shown = list(posts.annotate(n_total=Window(Count("pk")))[:limit])
    return {"posts": shown, "total": shown[0].n_total if shown else 0}


# --- posts ------------------------------------------------------------------------------------------------


# The order a progress summary names the statuses in: outcomes first, then what is still under way.
SUMMARY_ORDER = (
    ExecutionStatus.SUCCESS,
    ExecutionStatus.FAILED,
    ExecutionStatus.BLOCKED,
    ExecutionStatus.UNCONFIRMED,
    ExecutionStatus.POSTING,
    ExecutionStatus.RETRY_WAIT,
    ExecutionStatus.QUEUED,
    ExecutionStatus.PENDING,
    ExecutionStatus.CANCELLED,
    ExecutionStatus.SKIPPED,
)


def status_counts() -> dict[str, Count]:
    """One count per execution status, for ``aggregate``/``annotate`` (keys ``n_<status>``)."""
    return {f"n_{status}": Count("pk", filter=Q(status=status)) for status in ExecutionStatus.values}


def progress_counts(queryset: QuerySet[Execution]) -> dict:
    """Published / open / failed / cancelled+skipped / blocked / unconfirmed / total over ``queryset``,
    and the count of every status (``statuses``), in one aggregate."""
    counts = queryset.order_by().aggregate(**outcome_counts(), **status_counts())
    return with_percentages(counts)


def with_percentages(counts: dict) -> dict:
    total = counts["total"] or 0
    for key in ("published", "open", "failed", "stopped", "blocked"):
        counts[f"{key}_pct"] = round(100 * (counts[key] or 0) / total, 2) if total else 0
    # The summary names statuses with the rows' own labels, so each number is rows one can count:
    # Published always, every other status only when some execution is in it.
    ordered = list(SUMMARY_ORDER) + [s for s in ExecutionStatus if s not in SUMMARY_ORDER]
    counts["statuses"] = [
        {"value": status.value, "label": status.label, "count": counts.get(f"n_{status.value}") or 0}
        for status in ordered
        if status == ExecutionStatus.SUCCESS or counts.get(f"n_{status.value}")
    ]
    return counts


def posts_list(user, awaiting_my_approval: bool = False) -> QuerySet[Post]:
    """Posts of the user's workspaces, newest first (only those waiting for the user's approval)."""
    posts = approvals_waiting_for(user) if awaiting_my_approval else scope(Post.objects.all(), user)
    return posts.select_related("workspace", "author").order_by("-created_at", "-pk")


def attach_progress(posts: list[Post]) -> None:
    """Set ``post.progress`` (counts as progress_counts gives them) on a page of posts, in one query."""
    progress = posts_progress([post.pk for post in posts])
    for post in posts:
        post.progress = progress[post.pk]


# The tally's row for blocked executions planned again by themselves (a temporary cause); no status
# is spelt so.
WAITING_TALLY = "~waiting"


def posts_progress(post_ids: list[int]) -> dict[int, dict]:
    """{post id: the numbers progress_counts gives over its executions} for these posts, in one query.

    progress_counts' one aggregate reads every execution row from the table (a thousand a post,
    scattered over as many pages); this counts (post, status) pairs from the (post, status,
    finished_at) index alone, and the few blocked rows for ``waiting`` (the only number that needs
    a column outside it), then derives the outcomes here: 25 posts × 1,000 executions 41 → 7 ms."""
    executions = Execution.objects.filter(post_id__in=post_ids).order_by()
    by_status = executions.values_list("post_id", "status").annotate(n=Count("*"))
    waiting = (
        executions.filter(status=ExecutionStatus.BLOCKED, next_attempt_at__isnull=False)
        .annotate(tag=Value(WAITING_TALLY))
        .values_list("post_id", "tag")
        .annotate(n=Count("*"))
    )
    tallies: dict[int, dict[str, int]] = {post_id: {} for post_id in post_ids}
    for post_id, status, n in by_status.union(waiting, all=True):
        tallies[post_id][status] = n
    return {post_id: progress_from_tally(tally) for post_id, tally in tallies.items()}


def progress_from_tally(tally: dict[str, int]) -> dict:
    """progress_counts' numbers from {status: count} (and WAITING_TALLY: blocked, planned again)."""

    def of(*statuses) -> int:
        return sum(tally.get(status, 0) for status in statuses)

    counts = {f"n_{status}": of(status) for status in ExecutionStatus.values}
    counts.update(
        total=of(*ExecutionStatus.values),
        waiting=of(WAITING_TALLY),
        **{outcome: of(*statuses) for outcome, statuses in OUTCOME_STATUSES.items()},
    )
    return with_percentages(counts)


# The executions an operator has to look at first on a post's progress: those that failed, wait for
# a decision or are about to be tried again, ahead of the hundreds that went fine.
PROBLEM_EXECUTION_STATUSES = (
    ExecutionStatus.FAILED,
    ExecutionStatus.UNCONFIRMED,
    ExecutionStatus.BLOCKED,
    ExecutionStatus.RETRY_WAIT,
)
# The progress table's filters besides the statuses themselves.
PROBLEMS_FILTER = "problems"
EXECUTION_ROW_FIELDS = (
    "id",
    "status",
    "language",
    "attempts",
    "scheduled_for",
    "next_attempt_at",
    "remote_url",
    "error_code",
    "error_message",
    "account_id",
)


def execution_filter(value: str | None) -> str:
    """The progress table's filter named by ``?status=``: "problems", a status, or "" (all) for
    anything else."""
    if value == PROBLEMS_FILTER or value in ExecutionStatus.values:
        return value
    return ""


def filtered_count(counts: dict, status_filter: str) -> int:
    """How many executions ``status_filter`` shows, read from progress_counts' numbers (no COUNT)."""
    if not status_filter:
        return counts["total"] or 0
    statuses = PROBLEM_EXECUTION_STATUSES if status_filter == PROBLEMS_FILTER else (status_filter,)
    return sum(counts.get(f"n_{status}") or 0 for status in statuses)


def post_executions(post: Post, status_filter: str = "") -> QuerySet:
    """The post's executions as plain rows (EXECUTION_ROW_FIELDS and the account's ``handle`` and
    ``platform``), problems first, then in the order they are scheduled; only those
    ``status_filter`` (execution_filter's) names.

    Plain rows rather than model instances: a page of them is a hundred rows, and the page only
    shows them. The account's columns are subqueries rather than a join: PostgreSQL sorts the
    post's executions, keeps the page and only then looks up a hundred accounts, where a join
    hashed all 10,000 accounts first (EXPLAIN ANALYZE on bulk_data: 24 ms → 3 ms)."""
    rows = Execution.objects.filter(post=post)
    if status_filter == PROBLEMS_FILTER:
        rows = rows.filter(status__in=PROBLEM_EXECUTION_STATUSES)
    elif status_filter:
        rows = rows.filter(status=status_filter)
    problem_first = Case(When(status__in=PROBLEM_EXECUTION_STATUSES, then=Value(0)), default=Value(1))
    account = SocialAccount.objects.filter(pk=OuterRef("account_id"))
    return rows.order_by(problem_first, "scheduled_for", "pk").values(
        *EXECUTION_ROW_FIELDS,
        handle=Subquery(account.values("handle")),
        platform=Subquery(account.values("platform")),
    )


# --- accounts and proxies ----------------------------------------------------------------------------------


def accounts_list(user) -> QuerySet[SocialAccount]:
    """The user's accounts by platform and handle. On a page (a read-only request, whose workspaces
    scope() puts in as a list of ids) PostgreSQL reads the first page in order from the (workspace,
    platform, handle) index instead of sorting every account (14 ms → 0.4 ms at 10,000 accounts)."""
    return (
        scope(SocialAccount.objects.all(), user)
        .select_related("group", "proxy", "workspace")
        .only(
            *ACCOUNT_LIST_FIELDS,
            "group__id",
            "group__name",
            "proxy__id",
            "proxy__scheme",
            "proxy__host",
            "proxy__port",
            "proxy__status",
            "proxy__latency_ms",
            "workspace__id",
            "workspace__name",
        )
        .order_by("platform", "handle", "pk")
    )


def account_page(user) -> QuerySet[SocialAccount]:
    """One account with what its page shows (no secrets)."""
    return accounts_list(user).only(
        *ACCOUNT_LIST_FIELDS,
        "timezone",
        "posts_limit_per_day",
        "warmup_started_at",
        "last_login_at",
        "created_at",
        "group__id",
        "group__name",
        "proxy__id",
        "proxy__scheme",
        "proxy__host",
        "proxy__port",
        "proxy__status",
        "proxy__latency_ms",
        "workspace__id",
        "workspace__name",
    )


def account_languages(user) -> list[str]:
    """The distinct languages of the user's accounts, in order, walked along the (workspace,
    language) index: a query whose cost grows with the number of languages, not of accounts
    (10,000 accounts: a DISTINCT 4–8 ms, this ~0.1 ms)."""
    return distinct_in_workspaces(SocialAccount._meta.db_table, "language", visible_workspace_ids(user))


def groups_for(user, min_role: str = Role.VIEWER) -> list[AccountGroup]:
    return list(scope(AccountGroup.objects.select_related("workspace"), user, min_role).order_by("name", "pk"))


def free_proxies(user, min_role: str = Role.ADMIN, limit: int = 200) -> list[Proxy]:
    """Proxies that can take another account (fewer accounts than max_accounts), for assignment lists."""
    return list(
        scope(Proxy.objects.all(), user, min_role)
        .annotate(used=Count("accounts"))
        .filter(used__lt=F("max_accounts"))
        .only("id", "workspace_id", "scheme", "host", "port", "max_accounts", "status")
        .order_by("host", "port", "pk")[:limit]
    )


def proxies_list(user) -> QuerySet[Proxy]:
    return (
        scope(Proxy.objects.select_related("workspace"), user)
        .annotate(accounts_count=Count("accounts"))
        .defer("url")
        .order_by("host", "port", "pk")
    )


# --- sources --------------------------------------------------------------------------------------------------


def sources_list(user) -> QuerySet[Source]:
    """The user's sources with what they made: posts (done records with a post) and failed messages."""
    return (
        scope(Source.objects.select_related("workspace"), user)
        .defer("secret", "webhook_secret")
        .annotate(
            posts_made=Count("records", filter=Q(records__status=ItemStatus.DONE, records__post__isnull=False), distinct=True),
            failed_messages=Count("items", filter=Q(items__status=ItemStatus.FAILED), distinct=True),
        )
        .order_by("name", "pk")
    )


def source_records(source: Source, limit: int = 50) -> list[IngestRecord]:
    return list(IngestRecord.objects.filter(source=source).select_related("post").order_by("-created_at", "-pk")[:limit])


def source_items(source: Source, limit: int = 50) -> list[SourceItem]:
    """What a watched source found, newest first, with why an item was skipped or failed."""
    return list(SourceItem.objects.filter(source=source).select_related("post").order_by("-found_at", "-pk")[:limit])


def post_origin(post: Post) -> SourceItem | None:
    return SourceItem.objects.select_related("source").filter(post=post).first()


# --- activity ---------------------------------------------------------------------------------------------------


def visible_workspace_ids(user) -> list[int] | None:
    """The ids of the workspaces ``user`` may see, read once (None: a superuser sees every one).

    A list rather than scope()'s subquery where the planner must see the values: with
    ``workspace_id IN (1)`` PostgreSQL reads a newest-first index in order and stops after a page;
    with a subquery it sorts every row first."""
    if user.is_authenticated and user.is_active and user.is_superuser:
        return None
    remembered = remembered_workspace_ids(user)  # read by this request already: no query
    if remembered is not None:
        return remembered
    return list(workspaces_for(user).values_list("pk", flat=True))


def activity_list(user, workspace_ids: list[int] | None = None) -> QuerySet[ActivityLog]:
    """The user's activity log, newest first; ``workspace_ids`` as visible_workspace_ids gives them
    (read here when not given)."""
    if workspace_ids is None:
        workspace_ids = visible_workspace_ids(user)
    rows = ActivityLog.objects.all() if workspace_ids is None else ActivityLog.objects.filter(workspace_id__in=workspace_ids)
    return (
        rows.select_related("actor", "account", "post", "workspace")
        .only(
            "id",
            "workspace_id",
            "action",
            "status",
            "message",
            "details",
            "duration_ms",
            "created_at",
            "execution_id",
            "actor__id",
            "actor__username",
            "account__id",
            "account__handle",
            "account__platform",
            "post__id",
            "post__title",
            "post__caption",
            "workspace__id",
            "workspace__name",
        )
        .order_by("-created_at", "-id")
    )


def activity_actions(user, workspace_ids: list[int] | None = None) -> list[str]:
    """The distinct actions logged in the user's workspaces, in order.

    A plain DISTINCT reads every row (a million on a busy installation); this walks the
    (workspace, action) index from one action to the next instead: a query whose cost grows with the
    number of distinct actions (a few dozen), not with the log.
    """
    ids = visible_workspace_ids(user) if workspace_ids is None else workspace_ids
    return distinct_in_workspaces(ActivityLog._meta.db_table, "action", ids)


def distinct_in_workspaces(table: str, column: str, workspace_ids: list[int] | None) -> list[str]:
    """The distinct non-null values of ``column`` in ``table``'s rows of ``workspace_ids`` (None:
    every row), in order, by walking a (workspace, ``column``) index from one value to the next."""
    if workspace_ids is None:
        where, params = "", []
    elif not workspace_ids:
        return []
    else:
        where, params = f"workspace_id IN ({', '.join(['%s'] * len(workspace_ids))}) AND ", list(workspace_ids)
    # Only the (model-given) table and column names and %s placeholders are formatted in; the ids go
    # as parameters.
    sql = f"""
        WITH RECURSIVE walk(value) AS (
            SELECT (SELECT MIN({column}) FROM {table} WHERE {where}1 = 1)
            UNION ALL
            SELECT (SELECT MIN({column}) FROM {table} WHERE {where}{column} > walk.value) FROM walk WHERE walk.value IS NOT NULL
        )
        SELECT value FROM walk WHERE value IS NOT NULL
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params + params)
        return [row[0] for row in cursor.fetchall()]


@dataclass
class KeysetPage:
    """One page of a newest-first list read by keyset (``?before=<id>``): no COUNT and no OFFSET,
    so the tenth page costs what the first does. Iterates like a Paginator page."""

    rows: list
    before: int | None  # the id this page starts below (None: the newest page)
    has_next: bool

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def has_previous(self) -> bool:
        return self.before is not None

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def next_before(self) -> int | None:
        return self.rows[-1].pk if self.has_next else None


def keyset_page(queryset: QuerySet[ActivityLog], before: str | None, size: int) -> KeysetPage:
    """Rows of ``queryset`` (ordered by -created_at, -id) older than the row ``before`` names; a
    ``before`` that is not a number reads the newest page. One query (the anchor is a subquery)."""
    try:
        anchor = int(before) if before else None
    except ValueError:
        anchor = None
    if anchor is not None:
        at = ActivityLog.objects.filter(pk=anchor).values("created_at")[:1]
        # "(created_at, id) < anchor's" spelt so the newest-first index reads from the anchor down:
        # a range on created_at, then the anchor's own instant trimmed to smaller ids.
        queryset = queryset.filter(created_at__lte=Subquery(at)).exclude(created_at=Subquery(at), id__gte=anchor)
    rows = list(queryset[: size + 1])
    return KeysetPage(rows=rows[:size], before=anchor, has_next=len(rows) > size)


def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
