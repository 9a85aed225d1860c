"""Issue 19, the dashboard at a million rows: every page in a number of queries that does not grow
with the data (the figures themselves are tests/bench/bench_dashboard.py's), and the activity log's
keyset pages — no row lost or shown twice across "Older" links, filters kept, ties on created_at."""

import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from crosspost.models import ActivityLog
from dashboard import selectors
from tests.factories import ActivityLogFactory, WorkspaceFactory
from tests.test_dashboard import HX, bulk_world, login

OLDER = re.compile(r'href="\?([^"]*before=\d+)"')


def count_queries(client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **headers)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def page_urls(post) -> list[tuple[str, dict]]:
    oldest_shown = ActivityLog.objects.order_by("-created_at", "-id").values_list("id", flat=True)[10]
    return [
        (reverse("dashboard:overview"), {}),
        (reverse("dashboard:overview"), HX),
        (reverse("dashboard:posts"), {}),
        (reverse("dashboard:post", args=[post.pk]), {}),
        (reverse("dashboard:post", args=[post.pk]), HX),
        (reverse("dashboard:accounts"), {}),
        (reverse("dashboard:accounts") + "?status=banned&language=en&page=2", {}),
        (reverse("dashboard:activity"), {}),
        (reverse("dashboard:activity") + f"?before={oldest_shown}", {}),
        (reverse("dashboard:activity") + f"?action=x.y&before={oldest_shown}", HX),
    ]


def test_every_page_reads_in_the_same_number_of_queries_at_two_sizes(client, member, workspace):
    login(client, member, Role.ADMIN)
    small = bulk_world(workspace, accounts=60, executions_per_post=60)
    for url, headers in page_urls(small):
        client.get(url, **headers)  # warm caches (content types, sessions)
    few = [count_queries(client, url, **headers) for url, headers in page_urls(small)]

    big = bulk_world(workspace, accounts=800, executions_per_post=800, posts=3)
    many = [count_queries(client, url, **headers) for url, headers in page_urls(big)]

    assert few == many
    assert max(many) <= 20


def walk(client, url: str) -> list[int]:
    """Follow the activity page's "Older" links from ``url`` to the end; the ids in the order shown."""
    seen = []
    for _ in range(100):
        response = client.get(url, **HX)
        assert response.status_code == 200
        seen += [entry.pk for entry in response.context["page"]]
        older = OLDER.search(response.content.decode())
        if older is None:
            return seen
        url = reverse("dashboard:activity") + "?" + older.group(1).replace("&amp;", "&")
    raise AssertionError("the Older links never end")


def test_keyset_pages_show_every_row_once_in_order_with_ties_and_filters(client, member, workspace):
    login(client, member, Role.VIEWER)
    now = timezone.now()
    rows = ActivityLog.objects.bulk_create(
        [
            ActivityLog(workspace=workspace, action=["a.one", "b.two"][i % 2], status=["info", "failed"][i % 2], message=str(i))
            for i in range(137)
        ]
    )
    # Runs of equal timestamps (one per 7 rows) across page boundaries: the id breaks the tie.
    for i, row in enumerate(rows):
        ActivityLog.objects.filter(pk=row.pk).update(created_at=now - timedelta(seconds=i // 7))
    ActivityLogFactory(workspace=WorkspaceFactory(), action="stranger.action")  # another workspace: never shown
    expected = list(ActivityLog.objects.filter(workspace=workspace).order_by("-created_at", "-id").values_list("id", flat=True))

    assert walk(client, reverse("dashboard:activity")) == expected

    failed = list(
        ActivityLog.objects.filter(workspace=workspace, status="failed")
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
    )
    assert len(failed) > 50  # more than a page, so the filter must survive the "Older" link
    assert walk(client, reverse("dashboard:activity") + "?status=failed") == failed


def test_a_bad_or_unknown_before_reads_the_newest_page(client, member, workspace):
    login(client, member, Role.VIEWER)
    entry = ActivityLogFactory(workspace=workspace, action="a.one")
    for before in ("x", "", "999999999"):
        response = client.get(reverse("dashboard:activity") + f"?before={before}")
        assert response.status_code == 200
    assert [e.pk for e in client.get(reverse("dashboard:activity") + "?before=x").context["page"]] == [entry.pk]
    assert list(client.get(reverse("dashboard:activity") + "?before=999999999").context["page"]) == []


def test_the_action_choices_are_the_distinct_actions_of_the_members_workspaces(member, workspace, django_user_model):
    for action in ("post.publish", "account.check", "account.check", "something.new"):
        ActivityLogFactory(workspace=workspace, action=action)
    ActivityLogFactory(workspace=WorkspaceFactory(), action="stranger.action")
    user = member(Role.VIEWER)
    assert selectors.activity_actions(user) == ["account.check", "post.publish", "something.new"]
    admin = django_user_model.objects.create_superuser("root", "root@example.test", "pw-123-root")
    assert selectors.activity_actions(admin) == ["account.check", "post.publish", "something.new", "stranger.action"]
    assert selectors.activity_actions(member(Role.VIEWER, ws=WorkspaceFactory())) == []
