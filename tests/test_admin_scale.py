"""Admin changelists that stay cheap at a million rows (issue 19): the same number of queries
whatever the table's size, counts that are exact or visibly estimated (never a wrong exact figure),
and filters, per-row figures and pages that still show what they did."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import admin_utils
from accounts.admin_utils import EstimatedCountPaginator, round_estimate
from accounts.models import AccountGroup, SocialAccount
from crosspost.models import ActivityLog
from posts.models import Post
from publishing.models import Execution, ExecutionStatus
from publishing.selectors import outcome_counts

from .factories import ActivityLogFactory, PostFactory, SocialAccountFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PAGES = {
    "accounts": reverse("admin:accounts_socialaccount_changelist"),
    "accounts_banned": reverse("admin:accounts_socialaccount_changelist") + "?status__exact=banned",
    "posts": reverse("admin:posts_post_changelist"),
    "posts_failed": reverse("admin:posts_post_changelist") + "?status__exact=failed",
    "executions": reverse("admin:publishing_execution_changelist"),
    "executions_failed": reverse("admin:publishing_execution_changelist") + "?status__exact=failed",
    "executions_page2": reverse("admin:publishing_execution_changelist") + "?p=2",
    "activity": reverse("admin:crosspost_activitylog_changelist"),
    "activity_failed": reverse("admin:crosspost_activitylog_changelist") + "?status__exact=failed",
}


def _grow(workspace, user, *, posts: int, accounts: int) -> None:
    """Add ``posts`` posts × ``accounts`` accounts of executions (and activity) to ``workspace``."""
    start = SocialAccount.objects.count()
    groups = [AccountGroup.objects.get_or_create(workspace=workspace, name=f"G{i}")[0] for i in range(3)]
    made = SocialAccount.objects.bulk_create(
        [
            SocialAccount(
                workspace=workspace,
                platform="sandbox",
                handle=f"scale_{start + i}",
                group=groups[i % 3],
                status=("active", "banned", "cooldown")[i % 3],
                credentials={"token": "t"},
            )
            for i in range(accounts)
        ]
    )
    now = timezone.now()
    statuses = [ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.PENDING, ExecutionStatus.UNCONFIRMED]
    for p in range(posts):
        post = PostFactory(workspace=workspace, author=user, status=("completed", "failed")[p % 2])
        Execution.objects.bulk_create(
            [
                Execution(
                    workspace=workspace,
                    post=post,
                    account=account,
                    language="en",
                    caption="c",
                    status=statuses[(i + p) % len(statuses)],
                    scheduled_for=now,
                    finished_at=now,
                )
                for i, account in enumerate(made)
            ]
        )
    ActivityLog.objects.bulk_create(
        [
            ActivityLog(workspace=workspace, account=made[i % len(made)], action=("account.check", "post.publish")[i % 2])
            for i in range(posts * accounts)
        ]
    )


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize("who", ["member", "superuser"])
def test_every_big_changelist_costs_the_same_queries_at_two_sizes(client, workspace, member, who):
    user = member() if who == "member" else UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    # Another workspace's rows: listed for the superuser, scoped away for the member.
    other = WorkspaceFactory()
    _grow(other, UserFactory(), posts=2, accounts=3)
    _grow(workspace, user, posts=2, accounts=3)
    for url in PAGES.values():
        client.get(url)  # warms the per-process caches (content types, session)
    small = {name: _queries(client, url) for name, url in PAGES.items()}
    _grow(workspace, user, posts=12, accounts=12)  # more than a page of posts and executions
    assert {name: _queries(client, url) for name, url in PAGES.items()} == small


def test_a_small_list_is_counted_exactly(client, workspace, member):
    client.force_login(member())
    _grow(workspace, UserFactory(), posts=1, accounts=7)
    html = client.get(PAGES["accounts"]).content.decode()
    assert re.search(r"\b7 social accounts\b|\b7 accounts\b", html, re.I), "an exact count for a small list"
    assert "about" not in html.split('class="paginator"')[1][:300]


def test_a_long_list_says_about_and_never_shows_an_exact_looking_wrong_figure(client, workspace, member, monkeypatch):
    # A stand-in for PostgreSQL's planner: any database can then take the estimating path.
    monkeypatch.setattr(admin_utils, "EXACT_COUNT_UP_TO", 5)
    monkeypatch.setattr(admin_utils, "can_estimate", lambda alias: True)
    monkeypatch.setattr(admin_utils, "planner_rows", lambda queryset: 12_345)
    client.force_login(member())
    _grow(workspace, UserFactory(), posts=1, accounts=9)

    response = client.get(PAGES["accounts"])
    cl = response.context["cl"]
    assert cl.result_count_estimated and cl.result_count == 12_000  # rounded: it reads as an estimate
    html = response.content.decode()
    paginator = html.split('class="paginator"')[1].split("</p>")[0]
    assert "about 12,000" in paginator and "12345" not in html and "12,345" not in html
    assert "Select all social accounts (about 12,000)" in html or "(about 12,000)" in html
    assert len(cl.result_list) == 9  # every row still listed

    # A filtered list small enough is exact again.
    cl = client.get(PAGES["accounts_banned"]).context["cl"]
    assert not cl.result_count_estimated and cl.result_count == 3


def test_an_estimate_is_never_below_what_was_already_counted(monkeypatch, workspace):
    monkeypatch.setattr(admin_utils, "EXACT_COUNT_UP_TO", 5)
    monkeypatch.setattr(admin_utils, "can_estimate", lambda alias: True)
    monkeypatch.setattr(admin_utils, "planner_rows", lambda queryset: 2)  # a stale planner statistic
    for i in range(8):
        PostFactory(workspace=workspace, title=f"p{i}")
    paginator = EstimatedCountPaginator(Post.objects.order_by("pk"), 3)
    assert paginator.count == 6 and paginator.estimated  # more than 5 seen: "about 6" at least
    # A page past an over-estimated end is empty, not an error.
    assert len(paginator.page(3).object_list) == 2
    assert list(paginator.page(40).object_list) == []


def test_round_estimate_keeps_two_significant_figures():
    assert round_estimate(1_003_412) == 1_000_000
    assert round_estimate(12_345) == 12_000
    assert round_estimate(87) == 87


def test_filters_still_filter_and_offer_only_what_is_listed(client, workspace, member):
    user = member()
    client.force_login(user)
    _grow(workspace, user, posts=2, accounts=4)
    lonely = PostFactory(workspace=workspace, title="No executions")
    foreign = PostFactory(workspace=WorkspaceFactory(), title="Foreign post")
    Execution.objects.create(
        workspace=foreign.workspace,
        post=foreign,
        account=SocialAccountFactory(workspace=foreign.workspace),
        language="en",
        caption="c",
        scheduled_for=timezone.now(),
    )

    response = client.get(PAGES["executions_failed"])
    rows = list(response.context["cl"].result_list)
    assert rows and {row.status for row in rows} == {ExecutionStatus.FAILED}
    assert response.context["cl"].result_count == Execution.objects.filter(workspace=workspace, status="failed").count()
    post_filter = next(spec for spec in response.context["cl"].filter_specs if getattr(spec, "field_path", "") == "post")
    offered = {pk for pk, _label in post_filter.lookup_choices}
    assert offered == set(Execution.objects.filter(workspace=workspace).values_list("post_id", flat=True))
    assert lonely.pk not in offered and foreign.pk not in offered

    response = client.get(PAGES["accounts_banned"])
    assert {a.status for a in response.context["cl"].result_list} == {"banned"}

    ActivityLogFactory(workspace=WorkspaceFactory(), action="foreign.only")
    response = client.get(PAGES["activity"])
    action_filter = next(
        spec for spec in response.context["cl"].filter_specs if getattr(spec, "parameter_name", None) == "action"
    )
    assert {code for code, _label in action_filter.lookup_choices} == {"account.check", "post.publish"}
    response = client.get(PAGES["activity"] + "?action=post.publish")
    assert {row.action for row in response.context["cl"].result_list} == {"post.publish"}


def test_page_figures_match_the_whole_list_aggregates(client, workspace, member):
    user = member()
    client.force_login(user)
    _grow(workspace, user, posts=3, accounts=5)
    rows = client.get(PAGES["posts"]).context["cl"].result_list
    expected = Post.objects.filter(workspace=workspace).annotate(
        total=outcome_counts("executions__")["total"],
        published=outcome_counts("executions__")["published"],
        failed=outcome_counts("executions__")["failed"],
        unconfirmed=outcome_counts("executions__")["unconfirmed"],
    )
    expected = {p.pk: (p.total, p.published, p.failed, p.unconfirmed) for p in expected}
    assert {row.pk: (row.n_executions, row.n_success, row.n_failed, row.n_unconfirmed) for row in rows} == expected

    # Sorted by progress, the whole list is annotated (and ordered) by the database.
    ordered = client.get(PAGES["posts"] + "?o=5").context["cl"].result_list
    assert [row.n_success for row in ordered] == sorted(row.n_success for row in ordered)


@pytest.mark.postgres
def test_postgres_estimates_from_its_planner_and_skips_through_the_action_index(monkeypatch, workspace):
    monkeypatch.setattr(admin_utils, "EXACT_COUNT_UP_TO", 5)
    for i in range(8):
        PostFactory(workspace=workspace, title=f"p{i}")
    paginator = EstimatedCountPaginator(Post.objects.order_by("pk"), 3)
    assert paginator.count >= 6 and paginator.estimated
    for action in ("b.two", "a.one", "b.two", "c.three"):
        ActivityLogFactory(workspace=workspace, action=action)
    assert admin_utils.distinct_values(ActivityLog.objects.filter(workspace=workspace), "action") == ["a.one", "b.two", "c.three"]
