"""ExecutionTally: the database's triggers keep executions per (workspace, status, priority) exact
through every writer — planner (bulk_create and PostgreSQL's raw unnest insert), dispatcher claims,
publisher outcomes, retries, cancels, sweeps, bulk ``.update()`` and cascaded deletes — and the
overview's figures from it equal the old count over every execution."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.models import Avg, Count, DurationField, Q
from django.utils import timezone

from posts.models import Priority
from publishing import planner
from publishing.dispatcher import claim_due
from publishing.models import Execution, ExecutionStatus, ExecutionTally
from publishing.planner import post_publish
from publishing.publisher import execution_publish, reconcile_unconfirmed, sweep_expired_leases
from publishing.services import execution_cancel, execution_retry, post_cancel
from publishing.stats import _TIME_TO_PUBLISH, WAITING_STATUSES, overview

from .factories import PostFactory, SocialAccountFactory, UserFactory, WorkspaceFactory

TRIGGERS = {"publishing_execution_tally_insert", "publishing_execution_tally_update", "publishing_execution_tally_delete"}


def real_counts() -> dict:
    rows = Execution.objects.order_by().values("workspace", "status", "priority").annotate(n=Count("pk"))
    return {(r["workspace"], r["status"], r["priority"]): r["n"] for r in rows}


def tally() -> dict:
    rows = ExecutionTally.objects.exclude(n=0).values_list("workspace", "status", "priority", "n")
    return {(w, s, p): n for w, s, p, n in rows}


def assert_exact() -> None:
    assert tally() == real_counts()


def post_to(workspace, accounts, **fields):
    post = PostFactory(workspace=workspace, media_type="text", **fields)
    post.target_accounts.set(accounts)
    return post


def far() -> timezone.datetime:
    return timezone.now() + timedelta(days=30)


def walk_through_the_engine(monkeypatch, *, unnest: bool) -> None:
    """Every writer of executions, the tally checked exact after each."""
    monkeypatch.setattr(planner, "_unnest_insert", lambda: unnest)
    workspace, other = WorkspaceFactory(), WorkspaceFactory()
    good = SocialAccountFactory.create_batch(4, workspace=workspace)
    failing = SocialAccountFactory(workspace=workspace, options={"fail": "media_rejected"})
    assert_exact()

    post = post_to(workspace, [*good, failing], priority=Priority.HIGH)
    assert post_publish(post=post).created == 5  # plan
    second = post_to(workspace, good[:2])
    post_publish(post=second)
    post_publish(post=post_to(other, SocialAccountFactory.create_batch(3, workspace=other)))
    assert_exact()
    assert tally()[(workspace.pk, ExecutionStatus.PENDING, Priority.HIGH)] == 5

    claims = claim_due(now=far(), limit=4)  # claim
    assert_exact()
    for claim in claims:  # success / failure
        execution_publish(claim.execution_id, claim.token)
        assert_exact()
    for claim in claim_due(now=far()):
        execution_publish(claim.execution_id, claim.token)
    assert_exact()
    assert Execution.objects.filter(status=ExecutionStatus.FAILED).exists()

    failed = Execution.objects.filter(status=ExecutionStatus.FAILED).first()
    execution_retry(execution=failed)  # retry
    assert_exact()

    third = post_to(workspace, good)
    post_publish(post=third)
    execution_cancel(execution=Execution.objects.filter(post=third).first())  # cancel one
    assert_exact()
    (claim,) = claim_due(now=far(), limit=1)
    post_cancel(post=third)  # cancel a post
    assert_exact()

    # A lost worker: the lease runs out (sweep → unconfirmed), then reconciliation.
    fourth = post_to(workspace, good[:1])
    post_publish(post=fourth)
    (claim,) = [c for c in claim_due(now=far()) if Execution.objects.get(pk=c.execution_id).post_id == fourth.pk]
    Execution.objects.filter(pk=claim.execution_id).update(
        status=ExecutionStatus.POSTING, attempts=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert_exact()
    sweep_expired_leases()
    assert_exact()
    assert tally()[(workspace.pk, ExecutionStatus.UNCONFIRMED, Priority.NORMAL)] >= 1
    reconcile_unconfirmed()
    assert_exact()

    # A bulk update that changes status, priority and nothing relevant.
    Execution.objects.filter(workspace=workspace).update(priority=Priority.LOW)
    Execution.objects.filter(workspace=workspace, status=ExecutionStatus.SUCCESS).update(status=ExecutionStatus.SKIPPED)
    Execution.objects.filter(workspace=workspace).update(caption="edited")
    assert_exact()

    second.delete()  # cascaded delete of a post's executions
    assert_exact()
    workspace.delete()  # and of a whole workspace: no tally rows left behind for it
    assert_exact()
    assert not ExecutionTally.objects.filter(workspace_id=workspace.pk).exists()
    assert tally() and set(tally()) == set(real_counts())


@pytest.mark.django_db
def test_the_tally_follows_every_writer(monkeypatch):
    walk_through_the_engine(monkeypatch, unnest=False)


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_the_tally_follows_every_writer_including_the_raw_insert(monkeypatch):
    walk_through_the_engine(monkeypatch, unnest=True)


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_the_bulk_create_path_is_counted_too(monkeypatch):
    walk_through_the_engine(monkeypatch, unnest=False)


@pytest.mark.django_db
def test_the_triggers_exist_after_all_migrations():
    """SQLite drops a table's triggers when a migration rebuilds the table: a later migration that
    rebuilds publishing_execution must create them again (see migration 0011_p19_tally…)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'publishing_execution'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'publishing_execution'::regclass AND NOT tgisinternal")
        assert TRIGGERS <= {row[0] for row in cursor.fetchall()}


def old_overview_executions(user) -> dict:
    """The overview's execution figures as they were computed before the tally: one count over all."""
    from accounts.selectors import scope

    now = timezone.now()
    day_ago, week_ago = now - timedelta(hours=24), now - timedelta(days=7)
    success, failed = Q(status=ExecutionStatus.SUCCESS), Q(status=ExecutionStatus.FAILED)
    counts = (
        scope(Execution.objects.all(), user)
        .order_by()
        .aggregate(
            total=Count("pk"),
            **{f"n_{s}": Count("pk", filter=Q(status=s)) for s in ExecutionStatus.values},
            success_24h=Count("pk", filter=success & Q(finished_at__gte=day_ago)),
            failed_24h=Count("pk", filter=failed & Q(finished_at__gte=day_ago)),
            success_7d=Count("pk", filter=success & Q(finished_at__gte=week_ago)),
            failed_7d=Count("pk", filter=failed & Q(finished_at__gte=week_ago)),
            avg_24h=Avg(_TIME_TO_PUBLISH, filter=success & Q(finished_at__gte=day_ago), output_field=DurationField()),
            avg_7d=Avg(_TIME_TO_PUBLISH, filter=success & Q(finished_at__gte=week_ago), output_field=DurationField()),
            **{f"q_{p}": Count("pk", filter=Q(status__in=WAITING_STATUSES, priority=p)) for p in Priority.values},
        )
    )
    return counts


def check_overview_equals_the_old_formula(user) -> None:
    old = old_overview_executions(user)
    new = overview(user)
    assert new["executions"]["total"] == old["total"]
    assert new["executions"]["by_status"] == {s: old[f"n_{s}"] for s in ExecutionStatus.values}
    assert new["queue"]["by_priority"] == {p: old[f"q_{p}"] for p in Priority.values}
    rate = lambda s, f: round(s / (s + f), 4) if s + f else None  # noqa: E731
    assert new["executions"]["success_rate_24h"] == rate(old["success_24h"], old["failed_24h"])
    assert new["executions"]["success_rate_7d"] == rate(old["success_7d"], old["failed_7d"])
    for window in ("24h", "7d"):
        seconds = old[f"avg_{window}"]
        expected = round(seconds.total_seconds(), 1) if seconds is not None else None
        assert new["executions"][f"avg_publish_seconds_{window}"] == expected


def overview_scenario(member) -> None:
    user = member()
    workspace = user.memberships.get().workspace
    elsewhere = WorkspaceFactory()
    accounts = SocialAccountFactory.create_batch(6, workspace=workspace)
    for priority in Priority.values:
        post_publish(post=post_to(workspace, accounts[:4], priority=priority))
    post_publish(post=post_to(elsewhere, SocialAccountFactory.create_batch(2, workspace=elsewhere)))
    check_overview_equals_the_old_formula(user)
    for claim in claim_due(now=far(), limit=7):
        execution_publish(claim.execution_id, claim.token)
    now = timezone.now()
    # Outcomes across the windows: yesterday's, last week's and older ones.
    executions = list(Execution.objects.filter(workspace=workspace, status=ExecutionStatus.SUCCESS))
    for execution, age in zip(executions, (timedelta(hours=30), timedelta(days=10), timedelta(minutes=5)), strict=False):
        Execution.objects.filter(pk=execution.pk).update(finished_at=now - age, scheduled_for=now - age - timedelta(seconds=90))
    pending = Execution.objects.filter(workspace=workspace, status=ExecutionStatus.PENDING).values_list("pk", flat=True)
    Execution.objects.filter(pk__in=list(pending)[:2]).update(status=ExecutionStatus.FAILED, finished_at=now - timedelta(days=2))
    check_overview_equals_the_old_formula(user)
    check_overview_equals_the_old_formula(UserFactory(is_superuser=True, is_staff=True))
    assert overview(user)["executions"]["total"] == Execution.objects.filter(workspace=workspace).count()


@pytest.mark.django_db
def test_the_overview_figures_equal_the_old_count_over_every_execution(member):
    overview_scenario(member)


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_the_overview_figures_equal_the_old_count(member):
    overview_scenario(member)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_concurrent_workers_keep_the_tally_exact_without_deadlock():
    """Threads claim and publish executions of one workspace at once, as workers do, while another
    changes many of them across every (status, priority) in single statements: no deadlock (each
    statement locks its tally rows in key order), and the tally is exact."""
    workspace = WorkspaceFactory()
    accounts = [
        *SocialAccountFactory.create_batch(30, workspace=workspace),
        *SocialAccountFactory.create_batch(10, workspace=workspace, options={"fail": "media_rejected"}),
    ]
    for priority in Priority.values:
        for _ in range(2):
            post_publish(post=post_to(workspace, accounts, priority=priority))
    assert Execution.objects.filter(workspace=workspace).count() == 240
    assert_exact()
    errors = []

    def publisher() -> None:
        try:
            for _ in range(15):
                claims = claim_due(now=far(), limit=6)
                if not claims:
                    break
                for claim in claims:
                    execution_publish(claim.execution_id, claim.token)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    def operator() -> None:
        try:
            for round_ in range(10):
                # One statement over rows of every status and priority of the workspace.
                Execution.objects.filter(workspace=workspace, pk__gte=round_).update(priority=Priority.values[round_ % 3])
                Execution.objects.filter(workspace=workspace, status=ExecutionStatus.FAILED).update(
                    status=ExecutionStatus.SKIPPED
                )
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=publisher) for _ in range(4)] + [threading.Thread(target=operator)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert_exact()
    assert sum(tally().values()) == 240
    assert Execution.objects.filter(workspace=workspace, status=ExecutionStatus.SUCCESS).exists()
