"""Admin lists an operator can read: titles that name things instead of ids, the newest
executions first, a short error with the full text on hover, labels that say what is shown."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import AccountStatus
from publishing.models import Execution, ExecutionStatus

from .factories import (
    AccountEventFactory,
    ExecutionFactory,
    PostFactory,
    PostMediaFactory,
    RenditionFactory,
    SocialAccountFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LONG_ERROR = "The platform refused the upload: " + "the video is too long for a reel. " * 6


@pytest.fixture
def root(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


@translation.override("en")  # a Russian request of an earlier test leaves Russian active
def test_it_titles_rows_by_what_they_are(workspace):
    post = PostFactory(workspace=workspace, title="Summer sale")
    account = SocialAccountFactory(workspace=workspace, platform="sandbox", handle="@shop_en")
    execution = ExecutionFactory(post=post, account=account, status=ExecutionStatus.SUCCESS)
    assert str(execution) == "«Summer sale» → Sandbox @shop_en (Published)"
    media = PostMediaFactory(post=post, asset__original_name="beach.jpg")
    assert str(media) == "«Summer sale» #1: beach.jpg"
    event = AccountEventFactory(account=account, from_status=AccountStatus.ACTIVE, to_status=AccountStatus.COOLDOWN)
    assert str(event) == "Sandbox @shop_en: Active → Cooldown"
    assert str(account.pk) not in str(execution) + str(event)


def test_it_lists_executions_newest_first_with_short_errors(root, workspace):
    post = PostFactory(workspace=workspace, title="Summer sale")
    old = ExecutionFactory(post=post, status=ExecutionStatus.FAILED, error_code="media_rejected", error_message=LONG_ERROR)
    Execution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    new = ExecutionFactory(post=post, status=ExecutionStatus.SUCCESS, remote_id="178", remote_url="https://example.test/p/178")

    with CaptureQueriesContext(connection) as queries:
        html = root.get(reverse("admin:publishing_execution_changelist")).content.decode()
    rows = re.findall(r"/admin/publishing/execution/(\d+)/change/", html)
    assert rows.index(str(new.pk)) < rows.index(str(old.pk))
    shown = re.search(r'<span class="cp-error" title="([^"]*)">([^<]*)</span>', html)
    assert shown.group(1) == f"media_rejected: {LONG_ERROR}"  # the full text, on hover
    assert len(shown.group(2)) <= 40 and shown.group(2).endswith("…")
    assert len(queries) < 20  # post and account come with the rows

    page = root.get(reverse("admin:publishing_execution_change", args=[new.pk])).content.decode()
    assert "«Summer sale» →" in page
    label = re.search(r'<div class="form-row field-remote_link">.*?<label>(.*?)</label>', page, re.S).group(1)
    assert label.rstrip(":") == "Link on the platform"


def test_it_titles_inline_rows_without_a_query_per_row(root, workspace):
    post = PostFactory(workspace=workspace, title="Summer sale")
    media = PostMediaFactory(post=post)

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert root.get(reverse("admin:posts_post_change", args=[post.pk])).status_code == 200
            assert root.get(reverse("admin:media_mediaasset_change", args=[media.asset.pk])).status_code == 200
        return len(queries)

    ExecutionFactory(post=post)
    RenditionFactory(asset=media.asset)
    queries_for_page()  # warms the per-process caches (content types, session)
    few = queries_for_page()
    ExecutionFactory.create_batch(3, post=post)
    RenditionFactory.create_batch(3, asset=media.asset)
    assert queries_for_page() == few
