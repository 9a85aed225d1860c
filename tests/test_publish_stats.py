"""Average time to publish (overview, API) and each account's 30-day success rate (its page, the
accounts list, the admin), with exact numbers from one fixture and a constant number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from publishing.stats import account_success_rates, overview

from .factories import ExecutionFactory, PostFactory, SocialAccountFactory, WorkspaceFactory

V1 = "/api/v1"


@pytest.fixture
def history(workspace):
    """Executions of three accounts: (status, finished this long ago, published this long after scheduled_for)."""
    now = timezone.now()
    alpha = SocialAccountFactory(workspace=workspace, handle="alpha")
    bravo = SocialAccountFactory(workspace=workspace, handle="bravo")
    charlie = SocialAccountFactory(workspace=workspace, handle="charlie")  # nothing finished
    rows = [
        (alpha, "success", timedelta(hours=1), timedelta(seconds=60)),
        (alpha, "success", timedelta(hours=2), timedelta(seconds=120)),
        (alpha, "failed", timedelta(hours=3), timedelta(seconds=1000)),  # failures have no time to publish
        (alpha, "success", timedelta(days=3), timedelta(seconds=600)),
        (alpha, "success", timedelta(days=40), timedelta(seconds=7)),  # older than every window
        (bravo, "failed", timedelta(days=10), timedelta(seconds=9)),
        (bravo, "success", timedelta(days=20), timedelta(seconds=5)),
        (bravo, "cancelled", timedelta(days=1), timedelta(seconds=3)),  # neither success nor failure
    ]
    for account, status, ago, late in rows:
        finished = now - ago
        ExecutionFactory(
            post=PostFactory(workspace=workspace),
            account=account,
            status=status,
            finished_at=finished,
            scheduled_for=finished - late,
        )
    ExecutionFactory(post=PostFactory(workspace=workspace), account=bravo, status="pending")
    # Another workspace's execution counts for nobody here.
    other = ExecutionFactory(post__workspace=WorkspaceFactory(), status="success", finished_at=now)
    other.__class__.objects.filter(pk=other.pk).update(scheduled_for=now - timedelta(hours=5))
    return {"alpha": alpha, "bravo": bravo, "charlie": charlie, "other": other.account}


def test_the_overview_has_the_average_time_to_publish(member, history):
    numbers = overview(member(Role.VIEWER))["executions"]
    assert numbers["avg_publish_seconds_24h"] == 90.0  # (60 + 120) / 2
    assert numbers["avg_publish_seconds_7d"] == 260.0  # (60 + 120 + 600) / 3
    assert numbers["success_rate_24h"] == pytest.approx(0.6667)
    assert numbers["success_rate_7d"] == 0.75


def test_the_overview_has_no_average_when_nothing_was_published(member, workspace):
    numbers = overview(member(Role.VIEWER))["executions"]
    assert numbers["avg_publish_seconds_24h"] is None and numbers["avg_publish_seconds_7d"] is None


def test_the_api_overview_reports_the_average_time_to_publish(api, history):
    data = api(Role.VIEWER).get(f"{V1}/stats/overview/").json()["executions"]
    assert (data["avg_publish_seconds_24h"], data["avg_publish_seconds_7d"]) == (90.0, 260.0)


def test_account_success_rates_over_30_days_in_one_query(history):
    ids = [history[name].pk for name in ("alpha", "bravo", "charlie")]
    with CaptureQueriesContext(connection) as queries:
        rates = account_success_rates(ids)
    assert len(queries) == 1
    alpha, bravo, charlie = (rates[pk] for pk in ids)
    assert (alpha.published, alpha.failed, alpha.rate, alpha.percent) == (3, 1, 0.75, 75)
    assert (bravo.published, bravo.failed, bravo.rate, bravo.percent) == (1, 1, 0.5, 50)
    assert (charlie.finished, charlie.rate, charlie.percent) == (0, None, None)


def test_the_dashboard_shows_the_averages_and_the_rates(client, member, history):
    client.force_login(member(Role.VIEWER))

    body = client.get(reverse("dashboard:overview")).content.decode()
    assert "Avg. time to publish" in body
    assert "<dd>1 min 30 s</dd>" in body and "<dd>4 min 20 s</dd>" in body

    body = client.get(reverse("dashboard:account", args=[history["alpha"].pk])).content.decode()
    assert "Success rate, 30 days" in body
    assert '3 published of 4 finished in the last 30 days">75 %</span>' in body

    def accounts_page():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("dashboard:accounts"))
        return response.content.decode(), len(queries)

    body, count = accounts_page()
    assert "Success rate, 30 days" in body
    assert '3 published of 4 finished in the last 30 days">75 %</span>' in body
    assert '1 published of 2 finished in the last 30 days">50 %</span>' in body
    assert body.count('data-testid="success-rate"') == 3
    # More accounts with executions: the same number of queries (one aggregate per page).
    for i in range(4):
        account = SocialAccountFactory(workspace=history["alpha"].workspace, handle=f"delta_{i}")
        ExecutionFactory(post__workspace=account.workspace, account=account, status="failed", finished_at=timezone.now())
    body, more = accounts_page()
    assert body.count('data-testid="success-rate"') == 7
    assert more == count


def test_the_admin_shows_the_rate_in_the_changelist_and_on_the_change_page(client, member, history):
    client.force_login(member(Role.ADMIN))
    changelist = reverse("admin:accounts_socialaccount_changelist")

    def page():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(changelist)
        assert response.status_code == 200
        return response.content.decode(), len(queries)

    body, count = page()
    assert "success rate, 30 days" in body.lower()
    assert '3 published of 4 finished in the last 30 days">75 %</span>' in body
    assert '1 published of 2 finished in the last 30 days">50 %</span>' in body
    for i in range(4):
        account = SocialAccountFactory(workspace=history["alpha"].workspace, handle=f"delta_{i}")
        ExecutionFactory(post__workspace=account.workspace, account=account, status="success", finished_at=timezone.now())
    body, more = page()
    assert body.count('finished in the last 30 days">100 %</span>') == 4
    assert more == count

    body = client.get(reverse("admin:accounts_socialaccount_change", args=[history["bravo"].pk])).content.decode()
    assert '1 published of 2 finished in the last 30 days">50 %</span>' in body
