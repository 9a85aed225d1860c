"""Dates read the same everywhere: one format per language (24-hour), in the member's time zone,
on the dashboard, in the admin and on the sandbox feed."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.models import Membership
from posts.models import Post
from publishing.models import SandboxPost

from .factories import PostFactory, SocialAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english_afterwards():
    """Russian requests leave Russian active in this thread; later tests expect English."""
    yield
    translation.activate("en")


# 09:05 UTC is 12:05 in Moscow, the workspace's time zone; 17:40 UTC is 20:40 there.
CREATED = datetime(2026, 3, 7, 9, 5, tzinfo=UTC)
PUBLISHED = datetime(2026, 3, 7, 17, 40, tzinfo=UTC)
EXPECTED = {
    "en": ("7 Mar 2026, 12:05", "7 Mar 2026, 20:40", "7 March"),
    "ru": ("07.03.2026 12:05", "07.03.2026 20:40", "7 марта"),
}


@pytest.fixture
def dated(workspace, member):
    workspace.timezone = "Europe/Moscow"
    workspace.save()
    user = member()
    post = PostFactory(workspace=workspace, title="Spring sale")
    Post.objects.filter(pk=post.pk).update(created_at=CREATED)
    account = SocialAccountFactory(workspace=workspace, platform="sandbox", handle="shop_en")
    sandbox = SandboxPost.objects.create(account=account, marker="m-1", caption="Spring", media_type="photo")
    SandboxPost.objects.filter(pk=sandbox.pk).update(created_at=PUBLISHED)
    return user


@pytest.mark.parametrize("language", ["en", "ru"])
def test_it_shows_one_date_format_per_language_in_the_members_time_zone(client, dated, language):
    created, published, day = EXPECTED[language]
    client.force_login(dated)
    client.cookies["django_language"] = language

    dashboard = client.get(reverse("dashboard:posts")).content.decode()
    assert created in dashboard
    admin = client.get(reverse("admin:posts_post_changelist")).content.decode()
    assert created in admin
    assert day in admin  # the date drill-down above the list
    sandbox = client.get(reverse("sandbox-feed")).content.decode()
    assert published in sandbox
    for page in (dashboard, admin, sandbox):
        assert "a.m." not in page and "p.m." not in page  # 24-hour, in both languages


def test_it_follows_the_members_own_time_zone(client, dated):
    Membership.objects.filter(user=dated).update(timezone="Asia/Tokyo")  # UTC+9
    client.force_login(dated)
    assert "7 Mar 2026, 18:05" in client.get(reverse("admin:posts_post_changelist")).content.decode()
    assert "7 Mar 2026, 18:05" in client.get(reverse("dashboard:posts")).content.decode()
