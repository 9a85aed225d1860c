"""ExecutionOutcomeBucket: the database's triggers keep published and failed executions per
(workspace, current account group, UTC hour, status) and their summed time to publish exact through
every writer — single and bulk inserts, ``.update()`` moving executions in and out of success/failed
or in time, raw and cascaded deletes, accounts moving group, groups and workspaces deleted — and the
overview's figures read from them (whole hours) plus the partial edge hours equal a direct count
over every execution, in every time zone, with a query count that does not depend on the data."""

import importlib
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce, TruncHour
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import SocialAccount
from dashboard.selectors import daily_outcomes, group_stats, overview_context
from publishing.models import Execution, ExecutionOutcomeBucket, ExecutionStatus
from publishing.stats import overview

from .factories import AccountGroupFactory, ExecutionFactory, PostFactory, SocialAccountFactory, WorkspaceFactory

TRIGGERS = {
    "publishing_execution": {
        "publishing_execution_buckets_insert",
        "publishing_execution_buckets_update",
        "publishing_execution_buckets_delete",
    },
    "accounts_socialaccount": {
        "accounts_socialaccount_buckets_insert",
        "accounts_socialaccount_buckets_update",
        "accounts_socialaccount_buckets_delete",
    },
    "accounts_workspace": {"accounts_workspace_buckets_delete"},
}
SUCCESS, FAILED = ExecutionStatus.SUCCESS, ExecutionStatus.FAILED
PUBLISH_TIME = ExpressionWrapper(F("finished_at") - F("scheduled_for"), output_field=DurationField())


def microseconds(value) -> int:
    if value is None:
        return 0
    return value // timedelta(microseconds=1) if isinstance(value, timedelta) else int(value)


def real_buckets() -> dict:
    rows = (
        Execution.objects.filter(status__in=(SUCCESS, FAILED), finished_at__isnull=False)
        .order_by()
        .values("workspace_id", "status", group=Coalesce("account__group_id", 0), at=TruncHour("finished_at", tzinfo=UTC))
        .annotate(n=Count("pk"), us=Sum(PUBLISH_TIME))
    )
    found = {}
    for r in rows:
        # Each group's row, and the all-groups row of the hour the chart and the windows read.
        for group in (r["group"], ExecutionOutcomeBucket.ALL_GROUPS):
            key = (r["workspace_id"], group, r["at"], r["status"])
            n, us = found.get(key, (0, 0))
            found[key] = (n + r["n"], us + microseconds(r["us"]))
    return found


def buckets() -> dict:
    rows = ExecutionOutcomeBucket.objects.exclude(n=0, publish_us=0).values_list(
        "workspace_id", "group_key", "hour", "status", "n", "publish_us"
    )
    return {(w, g, h, s): (n, us) for w, g, h, s, n, us in rows}


def assert_exact() -> None:
    assert buckets() == real_buckets()


def finished(post, account, status, at, late=timedelta(minutes=3), **fields) -> Execution:
    return Execution(
        workspace=post.workspace,
        post=post,
        account=account,
        language="en",
        status=status,
        scheduled_for=at - late,
        finished_at=at,
        **fields,
    )


def direct(user, start, end=None) -> dict:
    """The old formula: one count over the executions of [start, end)."""
    from accounts.selectors import scope

    window = Q(finished_at__gte=start) & (Q(finished_at__lt=end) if end else Q())
    return (
        scope(Execution.objects.all(), user)
        .filter(window)
        .order_by()
        .aggregate(
            success=Count("pk", filter=Q(status=SUCCESS)),
            failed=Count("pk", filter=Q(status=FAILED)),
            us=Sum(PUBLISH_TIME, filter=Q(status=SUCCESS)),
        )
    )


def check_figures(user, now) -> None:
    """Every windowed figure of the overview equals the direct count."""
    today = timezone.localdate(now)
    dates = [today - timedelta(days=13 - i) for i in range(15)]
    bounds = [timezone.make_aware(datetime.combine(d, time.min)) for d in dates]
    chart = daily_outcomes(user, now=now)
    for i, day in enumerate(chart):
        expected = direct(user, bounds[i], bounds[i + 1])
        assert (day.day, day.success, day.failed) == (dates[i], expected["success"], expected["failed"])
    from accounts.selectors import scope

    week_ago = now - timedelta(days=7)
    per_group = {
        row["group"]: (row["s"], row["f"])
        for row in scope(Execution.objects.all(), user)
        .filter(finished_at__gte=week_ago)
        .order_by()
        .values(group=F("account__group_id"))
        .annotate(s=Count("pk", filter=Q(status=SUCCESS)), f=Count("pk", filter=Q(status=FAILED)))
    }
    for row in group_stats(user, now=now):
        assert (row["published_7d"], row["failed_7d"]) == per_group.get(row["id"], (0, 0)), row
    numbers = overview(user)["executions"]
    for window, since in (("24h", timezone.now() - timedelta(days=1)), ("7d", timezone.now() - timedelta(days=7))):
        expected = direct(user, since)
        done = expected["success"] + expected["failed"]
        assert numbers[f"success_rate_{window}"] == (round(expected["success"] / done, 4) if done else None)
        mean = microseconds(expected["us"]) / expected["success"] if expected["success"] else None
        assert numbers[f"avg_publish_seconds_{window}"] == (
            round(timedelta(microseconds=mean).total_seconds(), 1) if mean is not None else None
        )


def walk_through_every_writer(member) -> None:
    user = member()
    workspace = user.memberships.get().workspace
    red, blue = AccountGroupFactory(workspace=workspace), AccountGroupFactory(workspace=workspace)
    accounts = [
        SocialAccountFactory(workspace=workspace, group=red),
        SocialAccountFactory(workspace=workspace, group=red),
        SocialAccountFactory(workspace=workspace, group=blue),
        SocialAccountFactory(workspace=workspace),  # no group
    ]
    elsewhere = WorkspaceFactory()
    stranger = SocialAccountFactory(workspace=elsewhere, group=AccountGroupFactory(workspace=elsewhere))
    now = timezone.now()
    posts = [PostFactory(workspace=workspace) for _ in range(6)]
    assert_exact()

    # One insert at a time, then a bulk insert across many hours (and around "now - 24 h" / "- 7 days").
    ExecutionFactory(post=posts[0], account=accounts[0], status=SUCCESS, scheduled_for=now - timedelta(hours=2), finished_at=now)
    ExecutionFactory(post=posts[0], account=accounts[1])  # pending: not counted
    assert_exact()
    offsets = [timedelta(minutes=m) for m in (1, 59, 61, 24 * 60 - 1, 24 * 60 + 1, 7 * 24 * 60 - 2, 7 * 24 * 60 + 2, 9000)]
    Execution.objects.bulk_create(
        [
            finished(
                post,
                account,
                (SUCCESS, FAILED)[(i + j) % 2],
                now - offsets[(i * 4 + j) % len(offsets)],
                late=timedelta(seconds=7 * i + j),
            )
            for i, post in enumerate(posts[1:])
            for j, account in enumerate(accounts)
        ]
    )
    Execution.objects.create(
        workspace=elsewhere,
        post=PostFactory(workspace=elsewhere),
        account=stranger,
        language="en",
        status=SUCCESS,
        scheduled_for=now - timedelta(minutes=1),
        finished_at=now,
    )
    assert_exact()
    check_figures(user, now)

    # .update(): out of success/failed, into it, in time, a new scheduled_for, and a no-op.
    mine = Execution.objects.filter(workspace=workspace)
    mine.filter(status=SUCCESS, post=posts[1]).update(status=ExecutionStatus.SKIPPED)
    mine.filter(status=ExecutionStatus.PENDING).update(status=FAILED, finished_at=now - timedelta(minutes=30))
    mine.filter(post=posts[2]).update(finished_at=F("finished_at") - timedelta(minutes=45))
    mine.filter(post=posts[3]).update(scheduled_for=F("scheduled_for") - timedelta(seconds=90))
    mine.update(caption="edited")
    assert_exact()
    check_figures(user, now)

    # Accounts move group: one saved, several by a queryset update, one out of any group.
    accounts[0].group = blue
    accounts[0].save()
    SocialAccount.objects.filter(pk__in=[accounts[1].pk, accounts[3].pk]).update(group=blue)
    SocialAccount.objects.filter(pk=accounts[2].pk).update(group=None)
    assert_exact()
    check_figures(user, now)
    blue.delete()  # its accounts' group is set to none
    assert_exact()
    check_figures(user, now)

    # Deletes: a raw one, a post's cascade, an account's cascade.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM publishing_execution WHERE post_id = %s", [posts[4].pk])
    assert_exact()
    posts[5].delete()
    accounts[3].delete()
    assert_exact()
    check_figures(user, now)

    # A workspace's delete leaves no bucket of it behind; the other workspace's stay.
    workspace.delete()
    assert not ExecutionOutcomeBucket.objects.filter(workspace_id=workspace.pk).exists()
    assert_exact()
    assert buckets()


@pytest.mark.django_db
def test_it_keeps_the_buckets_exact_through_every_writer(member):
    walk_through_every_writer(member)


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_keeps_the_buckets_exact_through_every_writer_on_postgresql(member):
    walk_through_every_writer(member)


def around_midnights(user, zone: str, now: datetime | None = None):
    """Outcomes a minute either side of every local midnight and whole hour edge of the chart."""
    workspace = user.memberships.get().workspace
    group = AccountGroupFactory(workspace=workspace)
    accounts = [SocialAccountFactory(workspace=workspace, group=group), SocialAccountFactory(workspace=workspace)]
    now = now or timezone.now()
    with timezone.override(zone):
        today = timezone.localdate(now)
        midnights = [timezone.make_aware(datetime.combine(today - timedelta(days=d), time.min)) for d in range(15)]
    moments = [m + timedelta(minutes=delta) for m in midnights for delta in (-1, 0, 1, 29, 61)]
    moments += [now - timedelta(days=1, minutes=-1), now - timedelta(days=1, minutes=1), now - timedelta(days=7, minutes=-1)]
    posts = [PostFactory(workspace=workspace) for _ in moments]
    Execution.objects.bulk_create(
        [
            finished(post, account, (SUCCESS, FAILED)[(i + j) % 3 == 0], at, late=timedelta(seconds=11 * i + j))
            for i, (post, at) in enumerate(zip(posts, moments, strict=True))
            for j, account in enumerate(accounts)
        ]
    )
    return now


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"])
def test_it_counts_the_partial_hours_at_every_edge_exactly(member, zone):
    """Local midnights at :00, :30 and :45 offsets and the 24 h / 7 day starts: the edges come from
    the executions, the whole hours from the buckets, and every figure equals the direct count."""
    user = member()
    now = around_midnights(user, zone)
    assert_exact()
    with timezone.override(zone):
        check_figures(user, now)
        assert sum(day.success + day.failed for day in daily_outcomes(user, now=now)) > 0


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["America/St_Johns", "Europe/Berlin"])
def test_it_keeps_the_days_exact_across_a_daylight_saving_change(member, zone):
    """A chart whose fortnight holds the autumn change (a 25-hour local day)."""
    user = member()
    now = datetime(2026, 11, 3, 15, 20, tzinfo=UTC)
    around_midnights(user, zone, now=now)
    with timezone.override(zone):
        bounds = [day.day for day in daily_outcomes(user, now=now)]
        assert len(bounds) == 14
        check_figures(user, now)


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["Asia/Kathmandu", "America/St_Johns"])
def test_it_counts_the_partial_hours_at_every_edge_exactly_on_postgresql(member, zone):
    user = member()
    now = around_midnights(user, zone)
    assert_exact()
    with timezone.override(zone):
        check_figures(user, now)


@pytest.mark.django_db
def test_a_viewer_of_one_workspace_never_sees_anothers_buckets(member):
    viewer = member(role="viewer")
    mine = viewer.memberships.get().workspace
    other = WorkspaceFactory()
    now = timezone.now()
    for workspace, n in ((mine, 1), (other, 4)):
        group = AccountGroupFactory(workspace=workspace)
        account = SocialAccountFactory(workspace=workspace, group=group)
        Execution.objects.bulk_create(
            [finished(PostFactory(workspace=workspace), account, SUCCESS, now - timedelta(hours=h + 2)) for h in range(n)]
        )
    assert ExecutionOutcomeBucket.objects.filter(workspace=other).exists()
    check_figures(viewer, now)
    assert sum(day.success for day in daily_outcomes(viewer, now=now)) == 1
    assert [row["published_7d"] for row in group_stats(viewer, now=now)] == [1]
    assert overview(viewer)["executions"]["success_rate_7d"] == 1.0


def queries_of_the_overview(client, user) -> tuple[int, int]:
    client.force_login(user)
    counts = []
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("dashboard:overview"), **headers).status_code == 200
        counts.append(len(ctx.captured_queries))
    return tuple(counts)


@pytest.mark.django_db
def test_the_overview_reads_in_the_same_number_of_queries_at_two_sizes(client, member):
    user = member()
    workspace = user.memberships.get().workspace
    now = timezone.now()

    def add(n: int) -> None:
        group = AccountGroupFactory(workspace=workspace)
        account = SocialAccountFactory(workspace=workspace, group=group)
        Execution.objects.bulk_create(
            [
                finished(PostFactory(workspace=workspace), account, (SUCCESS, FAILED)[i % 2], now - timedelta(minutes=97 * i + 5))
                for i in range(n)
            ]
        )

    add(3)
    small = queries_of_the_overview(client, user)
    add(60)
    assert queries_of_the_overview(client, user) == small
    check_figures(user, now)
    with CaptureQueriesContext(connection) as ctx:
        overview_context(user)
    assert sum("publishing_execution" in q["sql"] and "UNION" in q["sql"] for q in ctx.captured_queries) >= 1


@pytest.mark.django_db
def test_the_triggers_exist_after_all_migrations():
    """SQLite drops a table's triggers when a migration rebuilds the table: a later migration that
    rebuilds one of these tables must create them again (see migration 0013_p19_overview…)."""
    with connection.cursor() as cursor:
        for table, names in TRIGGERS.items():
            if connection.vendor == "sqlite":
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
            else:
                cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [table])
            assert names <= {row[0] for row in cursor.fetchall()}, table


@pytest.mark.django_db
def test_the_migrations_backfill_equals_the_triggers_counts(member):
    """The backfill an existing installation gets rebuilds exactly what the triggers keep."""
    user = member()
    around_midnights(user, "Asia/Kathmandu")
    kept = buckets()
    migration = importlib.import_module("publishing.migrations.0013_p19_overview_outcome_buckets")
    with connection.cursor() as cursor:
        for statement in migration.backfill(connection.vendor):
            cursor.execute(statement)
    assert buckets() == kept == real_buckets()


def concurrently(first, second) -> None:
    """Run ``first`` in a transaction that stays open half a second after it ran, and ``second``
    (in its own connection) while it is open; both must finish without error."""
    import threading

    from django.db import connections, transaction

    errors, started = [], threading.Event()

    def run_first() -> None:
        try:
            with transaction.atomic():
                first()
                started.set()
                threading.Event().wait(0.5)
        except Exception as exc:  # reported below
            errors.append(exc)
            started.set()
        finally:
            connections.close_all()

    def run_second() -> None:
        try:
            started.wait(10)
            second()
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a transaction was still waiting after 60 s (a deadlock?)"
    assert not errors, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("move_first", [True, False])
def test_on_postgresql_a_group_move_and_a_concurrent_outcome_of_the_account_stay_exact(move_first):
    """An operator moves an account to another group while the publisher records an outcome of
    that account in another transaction: whichever commits second sees the other's work."""
    workspace = WorkspaceFactory()
    old, new = AccountGroupFactory(workspace=workspace), AccountGroupFactory(workspace=workspace)
    account = SocialAccountFactory(workspace=workspace, group=old)
    done = finished(PostFactory(workspace=workspace), account, SUCCESS, timezone.now() - timedelta(hours=3))
    done.save()
    pending = ExecutionFactory(post=PostFactory(workspace=workspace), account=account)

    def move() -> None:
        SocialAccount.objects.filter(pk=account.pk).update(group=new)

    def outcome() -> None:
        Execution.objects.filter(pk=pending.pk).update(status=FAILED, finished_at=timezone.now())

    concurrently(move, outcome) if move_first else concurrently(outcome, move)
    assert_exact()
    assert ExecutionOutcomeBucket.objects.filter(group_key=old.pk).exclude(n=0).count() == 0
