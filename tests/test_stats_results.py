"""Showing the statistics: a post's results (totals, rows, views over time), period totals, top
posts, an account's recent performance and the CSV exports — exact numbers from one fixture,
scoped to the member's workspaces, with a fixed number of queries."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from stats import selectors
from stats.models import MetricSnapshot

from .factories import AccountGroupFactory, ExecutionFactory, PostFactory, SocialAccountFactory, WorkspaceFactory

TELEGRAM_NO_VIEWS = "The Bot API gives no view counts."


def snapshot(execution, slot: str, hours: float, **values) -> MetricSnapshot:
    unavailable = values.pop("unavailable", {})
    return MetricSnapshot.objects.create(
        execution=execution,
        slot=slot,
        taken_at=execution.finished_at + timedelta(hours=hours),
        unavailable=unavailable,
        **values,
    )


def published(post, account, *, ago: timedelta, language: str = "en"):
    return ExecutionFactory(post=post, account=account, status="success", finished_at=timezone.now() - ago, language=language)


@pytest.fixture
def world(workspace):
    """A post on VK, YouTube and Telegram (views unavailable there), another post, another workspace's post."""
    group = AccountGroupFactory(workspace=workspace, name="Shops")
    vk = SocialAccountFactory(workspace=workspace, platform="vk", handle="vk_shop", group=group)
    yt = SocialAccountFactory(workspace=workspace, platform="youtube", handle="yt_shop", language="ru")
    tg = SocialAccountFactory(workspace=workspace, platform="telegram", handle="tg_shop", group=group)
    post = PostFactory(workspace=workspace, title="Autumn sale")
    e_vk = published(post, vk, ago=timedelta(days=2))
    e_yt = published(post, yt, ago=timedelta(days=2), language="ru")
    e_tg = published(post, tg, ago=timedelta(days=2))
    snapshot(e_vk, "1h", 1, views=100, likes=5, comments=1)
    snapshot(e_vk, "6h", 6, views=300, likes=9, comments=2)
    snapshot(e_vk, "24h", 24, views=700, likes=20, comments=4)
    snapshot(e_yt, "1h", 1, views=50, likes=2, watch_time_s=120.5)
    snapshot(e_yt, "6h", 6, views=80, likes=3, watch_time_s=300.0)  # its 24h snapshot is not there yet
    no_views = {"views": TELEGRAM_NO_VIEWS}
    snapshot(e_tg, "1h", 1, likes=1, unavailable=no_views)
    snapshot(e_tg, "24h", 24, likes=4, comments=3, unavailable=no_views)
    # Another post of the workspace, published a fortnight ago: fewer views.
    older = PostFactory(workspace=workspace, title="Summer news")
    snapshot(published(older, vk, ago=timedelta(days=14)), "7d", 168, views=400, likes=50)
    # Not published yet: no numbers, no rows.
    ExecutionFactory(post=post, account=SocialAccountFactory(workspace=workspace, platform="tiktok"), status="pending")
    # Another workspace: counted for nobody here.
    stranger = PostFactory(workspace=WorkspaceFactory(), title="Not yours")
    theirs = published(stranger, SocialAccountFactory(workspace=stranger.workspace), ago=timedelta(days=1))
    snapshot(theirs, "24h", 24, views=10**6)
    return {"post": post, "older": older, "vk": vk, "yt": yt, "tg": tg, "group": group, "stranger": stranger}


def test_it_sums_the_latest_numbers_of_each_publication(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        results = selectors.post_results(world["post"])
    totals = results.totals
    assert totals["views"].value == 700 + 80  # VK's 24h, YouTube's 6h; Telegram reports none
    assert (totals["views"].reporting, totals["views"].of) == (2, 3)
    assert totals["views"].partial
    assert totals["likes"].value == 20 + 3 + 4
    assert not totals["likes"].partial
    assert totals["watch_time_s"].value == 300.0
    assert totals["shares"].value is None and totals["shares"].reason
    assert results.published == 3


def test_it_breaks_the_totals_down_by_platform_and_language(world):
    results = selectors.post_results(world["post"])
    by_platform = {group.key: group.numbers for group in results.by_platform}
    assert set(by_platform) == {"vk", "youtube", "telegram"}
    assert by_platform["telegram"]["views"].value is None
    assert by_platform["vk"]["views"].value == 700
    by_language = {group.key: group.numbers["views"].value for group in results.by_language}
    assert by_language == {"en": 700, "ru": 80}


def test_it_draws_views_over_time_one_point_per_slot(world):
    series = selectors.views_series(world["post"])
    assert [(p.slot, p.views, p.reporting) for p in series] == [("1h", 150, 2), ("6h", 380, 2), ("24h", 700, 1)]


def test_it_gives_a_row_per_account_with_the_reason_a_number_is_missing(world):
    rows = [selectors.row_of(s) for s in selectors.post_result_rows(world["post"])]
    assert [row.execution.account.handle for row in rows] == ["tg_shop", "vk_shop", "yt_shop"]
    telegram_views = rows[0].cells[0]
    assert (telegram_views.value, telegram_views.reason) == (None, TELEGRAM_NO_VIEWS)
    assert rows[2].snapshot.slot == "6h"


def test_the_query_count_does_not_grow_with_executions(world, django_assert_max_num_queries):
    post = world["post"]
    for _ in range(20):
        snapshot(published(post, SocialAccountFactory(workspace=post.workspace), ago=timedelta(days=1)), "1h", 1, views=1)
    with django_assert_max_num_queries(5):
        results = selectors.post_results(post)
    assert results.totals["views"].value == 780 + 20
    with django_assert_max_num_queries(1):
        assert len(list(selectors.post_result_rows(post))) == 23


def test_the_period_totals_are_per_group_and_platform(member, world):
    user = member(Role.VIEWER)
    week = selectors.period_from("7d")
    by_platform = {g.key: g.numbers["views"].value for g in selectors.period_totals(user, week, "platform")}
    assert by_platform == {"vk": 700, "youtube": 80, "telegram": None}  # the older post is outside 7 days
    by_group = {g.label: g.numbers["likes"].value for g in selectors.period_totals(user, week, "group")}
    assert by_group == {"Shops": 24, "No group": 3}
    month = {g.key: g.numbers["views"].value for g in selectors.period_totals(user, selectors.period_from("30d"), "platform")}
    assert month["vk"] == 1100


def test_the_top_posts_are_by_views_within_the_period(member, world, django_assert_max_num_queries):
    user = member(Role.VIEWER)
    with django_assert_max_num_queries(2):
        top = selectors.top_posts(user, selectors.period_from("30d"))
    assert [(t.post.title, t.views.value) for t in top] == [("Autumn sale", 780), ("Summer news", 400)]
    assert top[0].interactions == 27 + 7  # likes 27, comments 4 + 3
    assert [t.post.title for t in selectors.top_posts(user, selectors.period_from("7d"))] == ["Autumn sale"]


def test_an_account_shows_its_recent_publications(world):
    rows = selectors.account_recent(world["vk"])
    assert [(row.execution.post.title, row.cells[0].value) for row in rows] == [("Autumn sale", 700), ("Summer news", 400)]


@pytest.mark.parametrize("text", ["1y", "", "2026-01-01", "2026-02-01..2026-01-01", "2020-01-01..2026-01-01", "x..y"])
def test_it_refuses_a_bad_period_naming_what_is_allowed(text):
    with pytest.raises(ValidationError) as caught:
        selectors.period_from(text or "bad")
    assert caught.value.code == "period"


def test_a_range_of_days_includes_both_ends():
    period = selectors.period_from("2026-03-01..2026-03-02")
    assert (period.end - period.start) == timedelta(days=2)


# --- the dashboard -------------------------------------------------------------------------------


def test_the_post_page_shows_results(client, member, world):
    client.force_login(member(Role.VIEWER))
    page = client.get(reverse("dashboard:post", args=[world["post"].pk])).content.decode()
    assert 'data-testid="results"' in page
    assert "2 of 3 accounts report it" in page
    assert f'title="{TELEGRAM_NO_VIEWS}"' in page
    assert page.count('class="point-views"') == 3


def test_the_post_page_says_when_statistics_come(client, member, workspace):
    post = PostFactory(workspace=workspace)
    ExecutionFactory(post=post, status="success", finished_at=timezone.now())
    client.force_login(member(Role.VIEWER))
    page = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
    assert "Statistics come 1 hour after publishing." in page


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_the_post_csv_has_a_row_per_publication(client, member, world):
    client.force_login(member(Role.VIEWER))
    response = client.get(reverse("dashboard:post-results-csv", args=[world["post"].pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header, *rows = read_csv(response)
    assert header[:3] == ["post_id", "post_title", "account_id"]
    by_handle = {row[3]: dict(zip(header, row, strict=True)) for row in rows}
    assert by_handle["tg_shop"]["views"] == ""  # not available, not 0
    assert by_handle["yt_shop"]["watch_time_s"] == "300.0"
    assert by_handle["vk_shop"]["views"] == "700"


def test_the_period_csv_is_scoped_and_checks_the_period(client, member, world):
    client.force_login(member(Role.VIEWER))
    _header, *rows = read_csv(client.get(reverse("dashboard:results-csv") + "?period=30d"))
    assert sorted(row[1] for row in rows) == ["Autumn sale", "Autumn sale", "Autumn sale", "Summer news"]
    refused = client.get(reverse("dashboard:results-csv") + "?period=forever")
    assert refused.status_code == 400
    assert "7d, 30d" in refused.content.decode()


def test_another_workspaces_post_csv_is_a_404(client, member, world):
    client.force_login(member(Role.VIEWER))
    assert client.get(reverse("dashboard:post-results-csv", args=[world["stranger"].pk])).status_code == 404


def test_the_overview_shows_the_top_posts_and_the_totals(client, member, world):
    client.force_login(member(Role.VIEWER))
    week = client.get(reverse("dashboard:overview")).content.decode()
    assert 'data-testid="top-posts"' in week and "Autumn sale" in week and "Summer news" not in week
    month = client.get(reverse("dashboard:overview") + "?period=30d", headers={"HX-Request": "true"}).content.decode()
    assert month.lstrip().startswith('<section id="results"')
    assert month.index("Autumn sale") < month.index("Summer news")
    assert 'data-testid="totals-by-group"' in month and "Shops" in month
    assert 'data-key="telegram"' in month


def test_the_overview_explains_an_unknown_period(client, member, world):
    client.force_login(member(Role.VIEWER))
    response = client.get(reverse("dashboard:overview") + "?period=forever")
    assert response.status_code == 200
    assert "Unknown period" in response.content.decode()


def test_the_overview_does_not_count_the_results_while_polling(client, member, world):
    client.force_login(member(Role.VIEWER))
    full = client.get(reverse("dashboard:overview")).content.decode()
    polled = client.get(reverse("dashboard:overview"), headers={"HX-Request": "true"}).content.decode()
    assert 'id="results"' in full and 'id="results"' not in polled


def test_the_account_page_shows_its_recent_performance(client, member, world):
    client.force_login(member(Role.VIEWER))
    page = client.get(reverse("dashboard:account", args=[world["tg"].pk])).content.decode()
    assert 'data-testid="account-results"' in page
    assert f'title="{TELEGRAM_NO_VIEWS}"' in page


def test_the_csv_keeps_a_title_that_looks_like_a_formula_as_text(client, member, world):
    world["post"].__class__.objects.filter(pk=world["post"].pk).update(title="=HYPERLINK(1)")
    client.force_login(member(Role.VIEWER))
    _header, *rows = read_csv(client.get(reverse("dashboard:post-results-csv", args=[world["post"].pk])))
    assert {row[1] for row in rows} == {"'=HYPERLINK(1)"}
