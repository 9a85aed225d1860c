"""Issue 19, a post's progress at a thousand executions: the table lists problems first, filters by
status and pages through every execution exactly once; the counts it is built on (posts_progress,
read from an index) equal the aggregate's; the accounts list reads only the member's workspaces."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus, Role, SocialAccount
from accounts.selectors import primary_membership
from dashboard import selectors
from posts.models import PostStatus
from publishing.models import Execution, ExecutionStatus

from .factories import ExecutionFactory, PostFactory, SocialAccountFactory, WorkspaceFactory
from .test_dashboard import HX, login

pytestmark = pytest.mark.django_db

PROBLEMS = (ExecutionStatus.FAILED, ExecutionStatus.UNCONFIRMED, ExecutionStatus.BLOCKED, ExecutionStatus.RETRY_WAIT)
NEXT = re.compile(r'<a href="\?([^"]*page=\d+)"[^>]*>Next')


def post_with_executions(workspace, n: int, statuses=tuple(ExecutionStatus.values)):
    """A publishing post with ``n`` executions cycling through ``statuses``, scheduled in an order
    unrelated to their ids, and some blocked ones planned again (``next_attempt_at``)."""
    post = PostFactory(workspace=workspace, status=PostStatus.PUBLISHING)
    start = SocialAccount.objects.count()
    accounts = SocialAccount.objects.bulk_create(
        [SocialAccount(workspace=workspace, platform="sandbox", handle=f"table_{start + i}") for i in range(n)]
    )
    now = timezone.now()
    Execution.objects.bulk_create(
        [
            Execution(
                workspace=workspace,
                post=post,
                account=account,
                language="en",
                status=statuses[i % len(statuses)],
                scheduled_for=now + timedelta(minutes=(i * 37) % n),
                next_attempt_at=now if i % 4 == 0 else None,
                error_message=f"boom {i}" if statuses[i % len(statuses)] == ExecutionStatus.FAILED else "",
            )
            for i, account in enumerate(accounts)
        ]
    )
    return post


def expected_order(post, statuses=None) -> list[int]:
    """The table's order spelt out without the selector: problems first, then by schedule and id."""
    rows = Execution.objects.filter(post=post)
    if statuses is not None:
        rows = rows.filter(status__in=statuses)
    rows = list(rows.values_list("pk", "status", "scheduled_for"))
    return [pk for pk, status, at in sorted(rows, key=lambda r: (r[1] not in PROBLEMS, r[2], r[0]))]


def walk(client, post, query: str = "") -> list[int]:
    """Follow the table's Next links from the first page (``query``: its filter); the ids shown."""
    url = reverse("dashboard:post", args=[post.pk]) + (f"?{query}" if query else "")
    seen = []
    for _ in range(50):
        response = client.get(url, **HX)
        assert response.status_code == 200
        seen += [row["pk"] for row in response.context["rows"]]
        found = NEXT.search(response.content.decode())
        if found is None:
            return seen
        url = reverse("dashboard:post", args=[post.pk]) + "?" + found.group(1).replace("&amp;", "&")
    raise AssertionError("the Next links never end")


def test_it_pages_through_every_execution_once_problems_first(client, member, workspace):
    login(client, member, Role.VIEWER)
    post = post_with_executions(workspace, 230)

    assert walk(client, post) == expected_order(post)


@pytest.mark.parametrize(
    "query, statuses",
    [("status=problems", PROBLEMS), ("status=failed", (ExecutionStatus.FAILED,)), ("status=success", (ExecutionStatus.SUCCESS,))],
)
def test_the_status_filter_shows_exactly_its_executions_on_every_page(client, member, workspace, query, statuses):
    login(client, member, Role.VIEWER)
    post = post_with_executions(workspace, 1050, statuses=(*PROBLEMS, "success", "pending", "queued"))
    expected = expected_order(post, statuses)
    assert len(expected) > 100  # more than a page: the filter must survive the Next link

    assert walk(client, post, query) == expected
    body = client.get(reverse("dashboard:post", args=[post.pk]) + f"?{query}").content.decode()
    pages = -(-len(expected) // 100)
    assert f"Page 1 of {pages}" in body


def test_an_unknown_filter_shows_every_execution(client, member, workspace):
    login(client, member, Role.VIEWER)
    post = post_with_executions(workspace, 30)
    response = client.get(reverse("dashboard:post", args=[post.pk]) + "?status=nonsense", **HX)
    assert [row["pk"] for row in response.context["rows"]] == expected_order(post)


def test_the_filter_links_count_what_they_show(client, member, workspace):
    login(client, member, Role.VIEWER)
    post = post_with_executions(workspace, 40)
    response = client.get(reverse("dashboard:post", args=[post.pk]))
    links = dict(
        re.findall(r'data-filter="([a-z_]*)"[^>]*>[^<(]*\((\d+)\)</a>', response.content.decode()),
    )
    rows = Execution.objects.filter(post=post)
    assert int(links[""]) == rows.count()
    assert int(links["problems"]) == rows.filter(status__in=PROBLEMS).count()
    for status in ExecutionStatus.values:
        assert int(links.get(status, 0)) == rows.filter(status=status).count(), status


def test_the_poll_and_the_row_actions_keep_the_filter_and_page(client, member, workspace):
    login(client, member, Role.EDITOR)
    post = post_with_executions(workspace, 450, statuses=("failed", "pending"))
    url = reverse("dashboard:post", args=[post.pk])
    body = client.get(url + "?status=failed&page=2", **HX).content.decode()

    assert f'hx-get="{url}?status=failed&amp;page=2" hx-vals=' in body and 'hx-trigger="every 2s"' in body
    failed = Execution.objects.filter(post=post, status="failed").order_by("scheduled_for", "pk")[150]
    retry = reverse("dashboard:execution-retry", args=[failed.pk])
    assert f'action="{retry}?status=failed&amp;page=2"' in body

    response = client.post(retry + "?status=failed&page=2")
    assert response.status_code == 302 and response["Location"] == url + "?status=failed&page=2"
    assert Execution.objects.get(pk=failed.pk).status == ExecutionStatus.PENDING


def test_it_shows_another_workspaces_post_to_no_one_whatever_the_filter(client, member, workspace):
    login(client, member, Role.ADMIN)
    stranger = post_with_executions(WorkspaceFactory(), 5)
    for query in ("", "?status=problems", "?status=failed&page=2"):
        assert client.get(reverse("dashboard:post", args=[stranger.pk]) + query, **HX).status_code == 404


def test_posts_progress_equals_the_aggregate_for_every_status(workspace):
    posts = [post_with_executions(workspace, n) for n in (0, 1, 7, 45)]
    posts.append(post_with_executions(workspace, 12, statuses=("blocked",)))  # half of them planned again
    other = ExecutionFactory(post__workspace=WorkspaceFactory(), status="failed").post  # not asked for: not counted

    tallied = selectors.posts_progress([post.pk for post in posts])

    assert set(tallied) == {post.pk for post in posts}
    for post in posts:
        direct = selectors.progress_counts(Execution.objects.filter(post=post))
        assert {k: v or 0 for k, v in tallied[post.pk].items()} == {k: v or 0 for k, v in direct.items()}, post.pk
    assert tallied[posts[-1].pk]["waiting"] == 3 and tallied[posts[-1].pk]["blocked"] == 12
    assert other.pk not in tallied


def test_the_progress_pages_read_in_the_same_number_of_queries_at_two_sizes(client, member, workspace):
    login(client, member, Role.EDITOR)
    small, big = post_with_executions(workspace, 30), post_with_executions(workspace, 1200)

    def queries(post, query: str, **headers) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("dashboard:post", args=[post.pk]) + query, **headers).status_code == 200
        return len(ctx.captured_queries)

    queries(small, "")  # warm caches (content types, sessions)
    for query in ("", "?status=problems", "?status=failed&page=2", "?page=3"):
        for headers in ({}, HX):
            assert queries(small, query, **headers) == queries(big, query, **headers), (query, headers)
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("dashboard:posts"))
    few = len(ctx.captured_queries)
    post_with_executions(workspace, 900)
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("dashboard:posts"))
    assert len(ctx.captured_queries) == few


def test_the_accounts_list_shows_only_the_members_workspaces(client, member, workspace, django_user_model):
    mine = SocialAccountFactory(workspace=workspace, handle="mine", status=AccountStatus.BANNED)
    theirs = SocialAccountFactory(workspace=WorkspaceFactory(), handle="theirs", status=AccountStatus.BANNED)
    login(client, member, Role.VIEWER)

    for query in ("", "?status=banned", "?q=the"):
        shown = {a.pk for a in client.get(reverse("dashboard:accounts") + query).context["page"]}
        assert theirs.pk not in shown
    assert {a.pk for a in client.get(reverse("dashboard:accounts")).context["page"]} == {mine.pk}

    client.force_login(django_user_model.objects.create_superuser("root", "root@example.test", "pw-123-root"))
    assert {a.pk for a in client.get(reverse("dashboard:accounts")).context["page"]} == {mine.pk, theirs.pk}


def test_the_accounts_rows_show_the_labels_and_links_of_each_account(client, member, workspace):
    account = SocialAccountFactory(workspace=workspace, handle="labelled", status=AccountStatus.BANNED, platform="telegram")
    ExecutionFactory(post__workspace=workspace, account=account, status="success", finished_at=timezone.now())
    ExecutionFactory(post__workspace=workspace, account=account, status="failed", finished_at=timezone.now())
    login(client, member, Role.VIEWER)
    body = client.get(reverse("dashboard:accounts")).content.decode()
    row = re.search(r"<tr>\s*<td><a href=\"([^\"]+)\">labelled</a>(.*?)</tr>", body, re.S)

    assert row.group(1) == reverse("dashboard:account", args=[account.pk])
    assert ">Banned</span>" in row.group(2) and "Telegram" in row.group(2) and ">never<" in row.group(2)
    assert 'title="1 published of 2 finished in the last 30 days">50 %</span>' in row.group(2)


def seen_version(body: str) -> str:
    return re.search(r"hx-vals='\{\"seen\": \"([0-9a-f]+)\"\}'", body).group(1)


def test_the_poll_of_an_unchanged_region_is_answered_204_and_a_change_is_sent(client, member, workspace):
    login(client, member, Role.EDITOR)
    post = post_with_executions(workspace, 150, statuses=("pending", "success", "failed"))
    url = reverse("dashboard:post", args=[post.pk])
    version = seen_version(client.get(url + "?status=failed").content.decode())

    unchanged = client.get(url, {"status": "failed", "seen": version}, **HX)
    assert unchanged.status_code == 204 and unchanged.content == b""

    # A row on the shown page changes without any count changing: the region is sent again.
    row = Execution.objects.filter(post=post, status="failed").order_by("scheduled_for", "pk").first()
    Execution.objects.filter(pk=row.pk).update(attempts=7)
    changed = client.get(url, {"status": "failed", "seen": version}, **HX)
    assert changed.status_code == 200 and f'id="execution-{row.pk}"' in changed.content.decode()
    version = seen_version(changed.content.decode())
    assert client.get(url, {"status": "failed", "seen": version}, **HX).status_code == 204

    # A count changes (an execution elsewhere finishes): sent again, with the new number.
    Execution.objects.filter(post=post, status="pending").filter(
        pk=Execution.objects.filter(post=post, status="pending").values("pk")[:1]
    ).update(status="success")
    changed = client.get(url, {"status": "failed", "seen": version}, **HX)
    assert changed.status_code == 200
    assert f"Published: {Execution.objects.filter(post=post, status='success').count()}" in changed.content.decode()


def test_the_poll_sends_the_region_when_another_page_or_a_flash_is_due(client, member, workspace):
    login(client, member, Role.EDITOR)
    post = post_with_executions(workspace, 150, statuses=("pending", "failed"))
    url = reverse("dashboard:post", args=[post.pk])
    version = seen_version(client.get(url).content.decode())

    assert client.get(url, {"page": "2", "seen": version}, **HX).status_code == 200  # another page: other rows
    assert client.get(url, {"seen": "0" * 20}, **HX).status_code == 200  # a stale version
    assert client.get(url, {"seen": version}).status_code == 200  # a full page load is never 204

    version = seen_version(client.get(url).content.decode())
    pending = Execution.objects.filter(post=post, status="pending").first()
    client.post(reverse("dashboard:execution-retry", args=[pending.pk]))  # refused: nothing changes but a flash waits
    assert Execution.objects.get(pk=pending.pk).status == "pending"
    response = client.get(url, {"seen": version}, **HX)
    assert response.status_code == 200 and "can be retried" in response.content.decode()
    assert client.get(url, {"seen": version}, **HX).status_code == 204  # the flash was shown once


def test_the_language_choices_are_the_distinct_languages_of_the_members_accounts(member, workspace, django_user_model):
    for language in ("en", "de", "de", "pt-BR", "fr"):
        SocialAccountFactory(workspace=workspace, language=language)
    SocialAccountFactory(workspace=WorkspaceFactory(), language="ja")  # another workspace: not offered
    user = member(Role.VIEWER)

    walked = selectors.account_languages(user)

    direct = sorted(set(SocialAccount.objects.filter(workspace=workspace).values_list("language", flat=True)))
    assert walked == direct
    primary_membership(user, remember_roles=True)  # as a page's request: the ids it read already
    assert selectors.account_languages(user) == direct
    root = django_user_model.objects.create_superuser("root", "root@example.test", "pw-123-root")
    assert "ja" in selectors.account_languages(root)
    stranger = member(Role.VIEWER, ws=WorkspaceFactory())
    assert selectors.account_languages(stranger) == []
