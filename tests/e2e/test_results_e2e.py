"""A post's Results and the overview's top posts in a real browser (Debian Chromium through
Playwright) against a live server: snapshots of three platforms at three slots; the totals, the
per-account table, the views chart (one point per slot, its values the sums), Telegram's "not
available" views with the reason; the overview's top posts in order and its 30-day toggle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from stats.models import MetricSnapshot

from ..factories import ExecutionFactory, MembershipFactory, PostFactory, SocialAccountFactory, UserFactory
from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NO_VIEWS = "The Bot API gives no view counts."
HOURS = {"1h": 1, "6h": 6, "24h": 24}


def published_with(post, account, ago: timedelta, numbers: dict[str, dict]):
    """An execution of ``post`` on ``account`` with a snapshot per slot of ``numbers``."""
    execution = ExecutionFactory(post=post, account=account, status="success", finished_at=timezone.now() - ago)
    for slot, values in numbers.items():
        values = dict(values)
        MetricSnapshot.objects.create(
            execution=execution,
            slot=slot,
            taken_at=execution.finished_at + timedelta(hours=HOURS[slot]),
            unavailable=values.pop("unavailable", {}),
            **values,
        )
    return execution


def test_it_shows_a_posts_results_and_the_top_posts(page, live_server, db_lock):
    with db_lock:
        user = UserFactory(username="analyst")
        workspace = MembershipFactory(user=user, role=Role.VIEWER).workspace
        vk = SocialAccountFactory(workspace=workspace, platform="vk", handle="vk_shop")
        yt = SocialAccountFactory(workspace=workspace, platform="youtube", handle="yt_shop", language="ru")
        tg = SocialAccountFactory(workspace=workspace, platform="telegram", handle="tg_shop")
        post = PostFactory(workspace=workspace, title="Autumn sale", status="completed")
        two_days = timedelta(days=2)
        published_with(post, vk, two_days, {"1h": {"views": 100, "likes": 5}, "6h": {"views": 300}, "24h": {"views": 700}})
        published_with(post, yt, two_days, {"1h": {"views": 50}, "6h": {"views": 80, "likes": 3}, "24h": {"views": 90}})
        tg_views = {"unavailable": {"views": NO_VIEWS}}
        published_with(post, tg, two_days, {slot: {**tg_views, "likes": 1} for slot in HOURS})
        runner_up = PostFactory(workspace=workspace, title="Summer news", status="completed")
        published_with(runner_up, vk, timedelta(days=3), {"24h": {"views": 400}})
        old = PostFactory(workspace=workspace, title="Spring archive", status="completed")
        published_with(old, vk, timedelta(days=20), {"24h": {"views": 5000}})

    login(page, live_server.url, "analyst", next_path=f"/posts/{post.pk}/")
    results = page.get_by_test_id("results")
    totals = page.get_by_test_id("results-totals").locator("tr.totals")
    assert totals.locator('[data-metric="views"]').first.inner_text() == "790"  # 700 + 90; Telegram has none
    assert "2 of 3 accounts report it" in totals.inner_text()
    rows = page.get_by_test_id("results-accounts").locator("tbody tr")
    assert [rows.nth(i).get_attribute("data-handle") for i in range(rows.count())] == ["tg_shop", "vk_shop", "yt_shop"]
    telegram_views = rows.nth(0).locator('.not-available[data-metric="views"]')
    assert telegram_views.inner_text() == "not available"
    assert telegram_views.get_attribute("title") == NO_VIEWS

    chart = page.get_by_test_id("views-chart")
    assert chart.locator("title").first.text_content() == "Views over time"
    points = chart.locator("circle.point-views")
    assert [(points.nth(i).get_attribute("data-slot"), points.nth(i).get_attribute("data-value")) for i in range(3)] == [
        ("1h", "150"),
        ("6h", "380"),
        ("24h", "790"),
    ]
    assert points.count() == 3
    ys = [float(points.nth(i).get_attribute("cy")) for i in range(3)]
    assert ys[0] > ys[1] > ys[2]  # more views higher up
    assert results.is_visible()
    shot(page, "results-01-post")
    assert page.console_problems == []

    page.goto(f"{live_server.url}/")
    top = page.get_by_test_id("top-posts").locator("tbody tr")
    assert [top.nth(i).locator("a").first.inner_text() for i in range(top.count())] == ["Autumn sale", "Summer news"]
    page.locator('[data-period="30d"]').click()
    page.wait_for_function("document.querySelector('[data-period=\"30d\"]').getAttribute('aria-current') === 'true'")
    top = page.get_by_test_id("top-posts").locator("tbody tr")
    assert [top.nth(i).locator("a").first.inner_text() for i in range(top.count())] == [
        "Spring archive",
        "Autumn sale",
        "Summer news",
    ]
    assert "tg_shop" not in page.get_by_test_id("totals-by-platform").inner_text()
    telegram = page.get_by_test_id("totals-by-platform").locator('tr[data-key="telegram"]')
    assert telegram.locator('.not-available[data-metric="views"]').count() == 1
    shot(page, "results-02-overview")
    assert page.console_problems == []
