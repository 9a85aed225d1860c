"""Statistics collection: the schedule that thins with age (frozen clock through ``now=``), one
snapshot per slot, a long downtime taking only the latest due slot, a refused metric stored next
to the others, a post gone recorded once and never read again, a rate-limited account paused
until its retry_after, and the same queries per batch whatever its size."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from publishing.models import ExecutionStatus
from stats.models import MetricPause, MetricSnapshot
from stats.services import due_slot, metrics_collect_due
from stats.tasks import collect_metrics

from .factories import ExecutionFactory, SocialAccountFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(days=60)


@pytest.fixture(autouse=True)
def _unpaced(settings):
    settings.STATS_ACCOUNT_INTERVAL_SECONDS = 0


def published(account=None, *, at=T0, remote_id="1", **fields):
    kwargs = {"account": account} if account else {}
    if account:
        kwargs["post__workspace"] = account.workspace
    return ExecutionFactory(
        status=ExecutionStatus.SUCCESS,
        finished_at=at,
        remote_id=remote_id,
        remote_url=f"/sandbox/?post={remote_id}",
        **kwargs,
        **fields,
    )


def slots(execution) -> list[str]:
    return list(MetricSnapshot.objects.filter(execution=execution).order_by("taken_at").values_list("slot", flat=True))


def test_it_follows_the_schedule_that_thins_with_age():
    execution = published()
    timeline = [
        (timedelta(minutes=30), []),
        (timedelta(hours=1), ["1h"]),
        (timedelta(hours=5), ["1h"]),
        (timedelta(hours=6), ["1h", "6h"]),
        (timedelta(hours=23, minutes=59), ["1h", "6h"]),
        (timedelta(hours=24), ["1h", "6h", "24h"]),
        (timedelta(days=3), ["1h", "6h", "24h", "3d"]),
        (timedelta(days=7), ["1h", "6h", "24h", "3d", "7d"]),
        (timedelta(days=30), ["1h", "6h", "24h", "3d", "7d", "30d"]),
        (timedelta(days=45), ["1h", "6h", "24h", "3d", "7d", "30d"]),
    ]
    for age, expected in timeline:
        metrics_collect_due(now=T0 + age)
        assert slots(execution) == expected, age
    first = MetricSnapshot.objects.get(execution=execution, slot="1h")
    assert first.taken_at == T0 + timedelta(hours=1)
    assert first.views is not None and first.unavailable == {"watch_time_s": "The sandbox reports no watch time."}


def test_it_takes_only_the_latest_due_slot_after_a_long_downtime():
    execution = published()
    metrics_collect_due(now=T0 + timedelta(hours=1, minutes=2))
    # Down for two days: 6h and 24h were missed; only 24h is taken, once.
    metrics_collect_due(now=T0 + timedelta(days=2, hours=1))
    metrics_collect_due(now=T0 + timedelta(days=2, hours=2))
    assert slots(execution) == ["1h", "24h"]
    assert due_slot(T0, T0 + timedelta(days=2, hours=1)) == "24h"


def test_it_stores_the_other_metrics_when_one_is_refused():
    account = SocialAccountFactory(options={"metrics_refuse": "saves"})
    execution = published(account)
    metrics_collect_due(now=T0 + timedelta(hours=7))
    snapshot = MetricSnapshot.objects.get(execution=execution)
    assert snapshot.slot == "6h"
    assert snapshot.saves is None and "refused" in snapshot.errors["saves"]
    assert snapshot.views > 0 and snapshot.likes is not None and snapshot.comments is not None and snapshot.shares is not None
    assert set(snapshot.errors) == {"saves"}


def test_it_records_a_post_gone_once_and_never_reads_it_again():
    account = SocialAccountFactory(options={"metrics_fail": "content_rejected"})
    execution = published(account)
    metrics_collect_due(now=T0 + timedelta(hours=1))
    snapshot = MetricSnapshot.objects.get(execution=execution)
    assert snapshot.final and snapshot.views is None and "content_rejected" in snapshot.raw["error"]
    assert "injected content_rejected" in snapshot.errors["views"]
    for age in (timedelta(hours=6), timedelta(days=3), timedelta(days=30)):
        metrics_collect_due(now=T0 + age)
    assert slots(execution) == ["1h"]


def test_it_pauses_a_rate_limited_account_and_reads_the_others():
    limited = SocialAccountFactory(options={"metrics_fail": "rate_limited", "retry_after": 600})
    other = SocialAccountFactory(workspace=limited.workspace)
    first, second = published(limited, remote_id="1"), published(limited, remote_id="2")
    fine = published(other, remote_id="3")
    now = T0 + timedelta(hours=1)
    results = metrics_collect_due(now=now)
    assert results[0].errors == {"rate_limited": 1}  # the second execution of the account was not even tried
    assert slots(fine) == ["1h"] and slots(first) == slots(second) == []
    assert MetricPause.objects.get(account=limited).until == now + timedelta(seconds=600)
    # Paused: not read before retry_after has passed, even though its slot is due.
    limited.options = {}
    limited.save()
    metrics_collect_due(now=now + timedelta(minutes=5))
    assert slots(first) == []
    metrics_collect_due(now=now + timedelta(minutes=11))
    assert slots(first) == slots(second) == ["1h"]


@pytest.mark.parametrize("failure", ["auth_required", "permission_denied"])
def test_it_records_a_failed_slot_and_rests_an_account_its_platform_refuses(failure):
    account = SocialAccountFactory(options={"metrics_fail": failure})
    first, second = published(account, remote_id="1"), published(account, remote_id="2")
    metrics_collect_due(now=T0 + timedelta(hours=1))
    failed = MetricSnapshot.objects.get()  # the first reading failed; the second was not tried
    assert not failed.final and failed.views is None and failure in failed.errors["views"]
    account.options = {}
    account.save()
    metrics_collect_due(now=T0 + timedelta(hours=5))  # resting
    assert MetricSnapshot.objects.count() == 1
    metrics_collect_due(now=T0 + timedelta(hours=8))  # rested: the 6h slot of both
    assert slots(first) == ["1h", "6h"] or slots(second) == ["1h", "6h"]
    assert {slots(first)[-1], slots(second)[-1]} == {"6h"}


def test_it_leaves_a_transient_failure_due_for_the_next_run():
    account = SocialAccountFactory(options={"metrics_fail": "transient"})
    execution = published(account)
    metrics_collect_due(now=T0 + timedelta(hours=1))
    assert slots(execution) == []
    account.options = {}
    account.save()
    metrics_collect_due(now=T0 + timedelta(hours=1, minutes=5))
    assert slots(execution) == ["1h"]


def test_it_reads_nothing_of_executions_that_did_not_publish_or_of_blocked_accounts():
    failed = ExecutionFactory(status=ExecutionStatus.FAILED, finished_at=T0, remote_id="")
    banned = published(SocialAccountFactory(status="banned"))
    metrics_collect_due(now=T0 + timedelta(days=1))
    assert not MetricSnapshot.objects.filter(execution__in=[failed, banned]).exists()


def count_queries(batch_size, now):
    with CaptureQueriesContext(connection) as queries:
        results = metrics_collect_due(now=now, batch_size=batch_size, max_batches=1)
    assert results[0].stored == batch_size
    return len(queries)


def test_it_spends_the_same_queries_on_a_batch_of_any_size():
    accounts = [SocialAccountFactory() for _ in range(3)]
    accounts[1:] = [SocialAccountFactory(workspace=accounts[0].workspace) for _ in range(2)]
    for index in range(40):
        published(accounts[index % 3], remote_id=str(index), at=T0 + timedelta(seconds=index))
    small = count_queries(5, T0 + timedelta(hours=2))
    large = count_queries(30, T0 + timedelta(hours=2))
    assert small == large


def test_it_runs_from_the_periodic_task(settings):
    settings.STATS_BATCH_SIZE = 2
    executions = [published(remote_id=str(i)) for i in range(5)]
    assert collect_metrics() == 5  # three batches of two in one run
    assert all(slots(e) == ["30d"] for e in executions)
