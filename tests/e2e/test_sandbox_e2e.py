"""/sandbox/ in a real browser: paginated (20 a page), styled like the dashboard, images as
thumbnails and videos as players, one account at a time on request."""

from __future__ import annotations

import base64
import uuid

import pytest

from accounts.models import Role
from publishing.models import SandboxPost

from ..factories import MembershipFactory, SocialAccountFactory, UserFactory, png_bytes
from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CAPTION = "A sandbox post with a caption long enough to wrap over a few lines. " * 4


def test_the_sandbox_feed_is_paginated_styled_and_plays_videos(page, live_server, db_lock):
    image = "data:image/png;base64," + base64.b64encode(png_bytes(640, 800, (60, 130, 200))).decode()
    with db_lock:
        user = UserFactory(username="operator")
        workspace = MembershipFactory(user=user, role=Role.ADMIN).workspace
        shop = SocialAccountFactory(workspace=workspace, handle="shop_en")
        blog = SocialAccountFactory(workspace=workspace, handle="blog_de", language="de")
        for i in range(44):
            SandboxPost.objects.create(
                account=shop if i % 2 else blog,
                marker=f"cp-{i}",
                caption=f"#{i} {CAPTION}",
                media_type="carousel",
                media=[{"url": image, "mime": "image/png"}, {"url": image, "mime": "image/png"}],
            )
        # The newest one is a video.
        reel = [{"url": "/files/reel.mp4", "mime": "video/mp4"}]
        SandboxPost.objects.create(account=shop, marker="cp-video", caption="A reel", media_type="reel", media=reel)

    login(page, live_server.url, "operator", next_path="/sandbox/")
    shot(page, "sandbox-01-page-1")
    assert page.locator("link[href*='dashboard.css']").count() == 1  # the dashboard's look
    assert page.locator("article.sandbox-post").count() == 20
    assert page.locator("article.sandbox-post").first.get_attribute("id") is not None
    assert "A reel" in page.locator("article.sandbox-post").first.inner_text()  # newest first
    video = page.locator("video")
    assert video.count() == 1
    assert video.get_attribute("controls") is not None and video.get_attribute("preload") == "metadata"
    assert page.locator("article.sandbox-post img").count() == 38
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3000, height
    assert "Page 1 of 3 (45 rows)" in page.locator("nav.pagination").inner_text()

    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=2")
    page.locator("#sandbox-feed").get_by_text("Page 2 of 3").wait_for()
    assert page.locator("article.sandbox-post").count() == 20
    assert page.locator("video").count() == 0
    shot(page, "sandbox-02-page-2")

    # One account's posts: 22 of blog_de's, 2 pages.
    page.goto(f"{live_server.url}/sandbox/?account={blog.pk}")
    assert page.locator("article.sandbox-post").count() == 20
    assert set(page.locator("article.sandbox-post header strong").all_inner_texts()) == {"blog_de"}
    assert "Page 1 of 2 (22 rows)" in page.locator("nav.pagination").inner_text()
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=2")
    page.locator("#sandbox-feed").get_by_text("Page 2 of 2").wait_for()
    assert page.locator("article.sandbox-post").count() == 2

    # An account id that is not one of the user's: a clear message, every post, no error page.
    for bad in ("999999", uuid.uuid4()):
        page.goto(f"{live_server.url}/sandbox/?account={bad}")
        assert "no such sandbox account" in page.locator("#sandbox-feed").inner_text()
        assert page.locator("article.sandbox-post").count() == 20
