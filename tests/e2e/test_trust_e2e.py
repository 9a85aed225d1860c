"""Issue 20 in a real browser: the dashboard never lets an operator believe something happened
that did not. Publishing to nobody is a red error that keeps the operator on the plan; a post
whose publishes the platform could not confirm says it needs attention, and one click settles it.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from accounts.models import AccountStatus, Role
from posts.models import Post, PostStatus
from publishing.models import Execution, ExecutionStatus

from ..factories import AccountGroupFactory, ExecutionFactory, MembershipFactory, PostFactory, SocialAccountFactory, UserFactory
from .conftest import login, shot, summary

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_it_says_in_red_that_nothing_was_published_and_stays_on_the_plan(page, live_server, db_lock):
    with db_lock:
        member = MembershipFactory(user=UserFactory(username="editor"), role=Role.EDITOR)
        group = AccountGroupFactory(workspace=member.workspace, name="Banned ones")
        SocialAccountFactory(workspace=member.workspace, group=group, handle="gone_1", status=AccountStatus.BANNED)
    login(page, live_server.url, "editor", next_path="/compose/")
    page.fill("#id_caption", "Nobody will see this")
    page.locator("#id_media_type").select_option("text")
    page.get_by_label("Banned ones").check()
    page.get_by_role("button", name="Preview plan").click()
    page.locator("#plan").wait_for()
    assert page.get_by_test_id("plan-summary").inner_text() == "0 account(s) will post, 1 blocked."

    page.get_by_role("button", name="Publish").click()
    error = page.locator("#flash .message.error")
    error.wait_for()
    assert "Nothing was published" in error.inner_text() and "gone_1: The account is banned." in error.inner_text()
    assert page.locator("#flash .message.success").count() == 0
    assert re.search(r"/compose/\d+/\?preview=1$", page.url)
    page.locator("#plan").wait_for()  # still on the plan, with the reason per account
    shot(page, "trust-01-nothing-published")
    with db_lock:
        assert Post.objects.get().status == PostStatus.DRAFT
        assert not Execution.objects.exists()
    assert page.console_problems == []


def test_it_flags_unconfirmed_executions_and_settles_them_in_one_click(page, live_server, db_lock):
    with db_lock:
        member = MembershipFactory(user=UserFactory(username="operator"), role=Role.EDITOR)
        post = PostFactory(workspace=member.workspace, status=PostStatus.PUBLISHING, title="Telegram drop")
        for handle in ("channel_1", "channel_2"):
            account = SocialAccountFactory(workspace=member.workspace, handle=handle)
            ExecutionFactory(
                post=post,
                account=account,
                status=ExecutionStatus.UNCONFIRMED,
                error_code="unconfirmed_no_lookup",
                error_message="The answer was lost.",
            )
        ExecutionFactory(post=post, status=ExecutionStatus.SUCCESS, finished_at=timezone.now())

    login(page, live_server.url, "operator", next_path="/")
    attention = page.get_by_test_id("overview-needs-attention")
    assert "Telegram drop" in attention.inner_text()
    shot(page, "trust-02-overview-attention")
    attention.get_by_role("link", name="Telegram drop").click()
    page.wait_for_url(re.compile(rf"/posts/{post.pk}/$"))

    badge = page.get_by_test_id("needs-attention")
    assert "Needs attention: 2 unconfirmed" in badge.inner_text()
    assert "check the accounts on the platform" in badge.inner_text()
    shot(page, "trust-03-post-attention")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Mark all as published (I checked)").click()
    page.locator("[data-testid=post-status]", has_text="Completed").wait_for()
    assert page.get_by_test_id("needs-attention").count() == 0
    assert summary(page) == "Published: 3"
    assert "Marked 2 unconfirmed execution(s) as published." in page.locator("#flash").inner_text()
    shot(page, "trust-04-settled")
    with db_lock:
        assert set(Execution.objects.filter(post=post).values_list("status", flat=True)) == {ExecutionStatus.SUCCESS}
    assert page.console_problems == []
