# ruff: noqa: F811 — pytest fixtures imported from translations_support and test_health_notify are test arguments here.
"""Never let an operator believe something happened that did not (issue 20):

blocked targets are executions of their own, counted in every total and planned
again by themselves when their cause was temporary; publishing to nobody is an
error, not a success; unconfirmed executions are a visible "needs attention"
state with a one-click resolution.
"""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus, Role
from posts.admin import PostAdmin
from posts.models import Post, PostStatus
from publishing.models import Execution, ExecutionStatus, SandboxPost
from publishing.planner import post_publish
from publishing.publisher import NO_LOOKUP_CODE, reconcile_unconfirmed, replan_due_blocked
from publishing.services import post_resolve_unconfirmed

from .factories import ExecutionFactory, PostFactory, SocialAccountFactory, UserFactory
from .support.engine import drain
from .test_health_notify import bot, committed  # noqa: F401
from .translations_support import _no_providers, deepl_api  # noqa: F401

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def text_post(workspace, accounts, **fields) -> Post:
    post = PostFactory(workspace=workspace, caption="Summer sale", language="en", media_type="text", **fields)
    post.target_accounts.set(accounts)
    return post


def by_status(post) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Execution.objects.filter(post=post).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


# --- 1. blocked targets are first-class ------------------------------------------------------------------


@pytest.fixture
def rate_limited_post(workspace, deepl_api, settings):
    """Two English and three German accounts; DeepL answers the German translation with a 429."""
    settings.TRANSLATION_RETRY_AFTER_SECONDS = 60
    english = [SocialAccountFactory(workspace=workspace, language="en") for _ in range(2)]
    german = [SocialAccountFactory(workspace=workspace, language="de") for _ in range(3)]
    post = text_post(workspace, [*english, *german])
    deepl_api.fail_next(429)
    return post


def test_it_records_blocked_targets_with_their_reason_and_counts_them_in_every_total(rate_limited_post, api):
    post = rate_limited_post
    plan = post_publish(post=post)
    assert (plan.created, plan.blocked) == (2, 3)
    blocked = list(Execution.objects.filter(post=post, status=ExecutionStatus.BLOCKED))
    assert len(blocked) == 3
    for execution in blocked:
        assert "DeepL is rate limiting requests (HTTP 429). Try again in 60 s." in execution.error_message
        assert execution.next_attempt_at is not None and execution.error_code == "blocked_retry_later"

    drain()
    post.refresh_from_db()
    # Both English posts are out, but three German accounts wait for their retry: not finished, not "completed".
    assert post.status == PostStatus.PUBLISHING
    client = api(Role.VIEWER, post.workspace)
    stats = client.get(f"{V1}/stats/posts/").json()["results"]
    (mine,) = [r for r in stats if r["id"] == post.pk]
    assert (mine["total"], mine["published"], mine["blocked"], mine["waiting"]) == (5, 2, 3, 3)


def test_it_plans_blocked_targets_again_after_the_providers_retry_after_and_never_twice(rate_limited_post):
    post = rate_limited_post
    start = timezone.now()
    post_publish(post=post, now=start)
    drain()
    assert replan_due_blocked(now=start + timedelta(seconds=30)) == {"posts": 0, "planned": 0, "blocked": 0, "errors": 0}

    later = start + timedelta(minutes=2)
    assert replan_due_blocked(now=later)["planned"] == 3
    assert replan_due_blocked(now=later)["planned"] == 0  # nothing due any more: the second run plans nothing
    post_publish(post=post, now=later)  # nor does an operator publishing again
    assert by_status(post) == {ExecutionStatus.SUCCESS: 2, ExecutionStatus.PENDING: 3}

    drain()
    post.refresh_from_db()
    assert post.status == PostStatus.COMPLETED
    assert Execution.objects.filter(post=post).count() == 5
    per_account = SandboxPost.objects.values_list("account_id", flat=True)
    assert len(per_account) == 5 and len(set(per_account)) == 5
    assert set(SandboxPost.objects.filter(account__language="de").values_list("caption", flat=True)) == {"[DE] Summer sale"}


def test_it_turns_a_blocked_execution_pending_only_once_when_two_plans_race(rate_limited_post):
    from publishing.planner import _create_executions

    post = rate_limited_post
    start = timezone.now()
    post_publish(post=post, now=start)
    later = start + timedelta(minutes=2)
    # Two runs read the same blocked executions before either writes (as two workers would).
    first, second = (post_publish(post=post, dry_run=True, due_only=True, now=later) for _ in range(2))
    _create_executions(post, first, now=later, due_only=True)
    _create_executions(post, second, now=later, due_only=True)
    assert first.created == 3 and second.created == 0
    assert by_status(post) == {ExecutionStatus.PENDING: 5}
    assert Execution.objects.filter(post=post).values("account_id").distinct().count() == 5


def test_it_keeps_waiting_while_the_provider_still_refuses_then_gives_up_partial(rate_limited_post, deepl_api, settings):
    from publishing.planner import BLOCKED_MAX_REPLANS

    post = rate_limited_post
    now = timezone.now()
    post_publish(post=post, now=now)
    drain()
    for _ in range(BLOCKED_MAX_REPLANS):
        now += timedelta(hours=2)
        deepl_api.fail_next(429)
        replan_due_blocked(now=now)
    post.refresh_from_db()
    assert by_status(post) == {ExecutionStatus.SUCCESS: 2, ExecutionStatus.BLOCKED: 3}
    assert not Execution.objects.filter(post=post, next_attempt_at__isnull=False).exists()
    assert post.status == PostStatus.PARTIAL


def test_it_finishes_the_post_when_the_operator_cancels_the_blocked_targets_it_waited_for(rate_limited_post):
    from publishing.services import execution_cancel

    post = rate_limited_post
    post_publish(post=post)
    drain()
    for execution in Execution.objects.filter(post=post, status=ExecutionStatus.BLOCKED):
        execution_cancel(execution=execution)
    post.refresh_from_db()
    assert post.status == PostStatus.PARTIAL
    assert replan_due_blocked(now=timezone.now() + timedelta(hours=1))["posts"] == 0


def test_it_ends_partial_with_permanently_blocked_targets_until_the_operator_publishes_again(workspace, client, member):
    banned = SocialAccountFactory(workspace=workspace, status=AccountStatus.BANNED)
    active = SocialAccountFactory(workspace=workspace)
    post = text_post(workspace, [banned, active])
    post_publish(post=post)
    drain()
    post.refresh_from_db()
    assert post.status == PostStatus.PARTIAL  # not "completed": one target got nothing
    execution = Execution.objects.get(post=post, account=banned)
    assert execution.status == ExecutionStatus.BLOCKED and execution.error_message == "The account is banned."
    assert execution.next_attempt_at is None
    assert replan_due_blocked(now=timezone.now() + timedelta(days=2))["posts"] == 0  # never by itself

    banned.status = AccountStatus.ACTIVE
    banned.save()
    client.force_login(member(Role.EDITOR))
    response = client.post(reverse("dashboard:post-publish-again", args=[post.pk]), follow=True)
    assert "Publishing to 1 account(s); 0 blocked." in response.content.decode()
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHING
    drain()
    post.refresh_from_db()
    assert post.status == PostStatus.COMPLETED
    assert Execution.objects.filter(post=post).count() == 2 and SandboxPost.objects.count() == 2


def test_it_does_not_let_a_blocked_execution_take_a_pacing_slot(workspace):
    from publishing.planner import busy_times

    banned = SocialAccountFactory(workspace=workspace, status=AccountStatus.BANNED)
    post_publish(post=text_post(workspace, [banned, SocialAccountFactory(workspace=workspace)]))
    assert banned.pk not in busy_times([banned.pk], timezone.now())


def test_it_shows_blocked_targets_in_the_progress_summary_and_the_posts_list(client, member, workspace):
    banned = SocialAccountFactory(workspace=workspace, status=AccountStatus.BANNED)
    post = text_post(workspace, [banned, SocialAccountFactory(workspace=workspace)])
    post_publish(post=post)
    drain()
    client.force_login(member(Role.VIEWER))
    page = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
    for html in (page, client.get(reverse("dashboard:posts")).content.decode()):
        assert re.search(r'data-status="success">Published: 1<.*data-status="blocked">Blocked: 1<', html, re.S)
    assert "of 2 executions" in page


# --- 2. publishing to nobody is an error ---------------------------------------------------------------------


def test_it_refuses_to_publish_when_every_target_is_blocked_and_creates_nothing(workspace, api):
    banned = SocialAccountFactory(workspace=workspace, handle="gone", status=AccountStatus.BANNED)
    post = text_post(workspace, [banned])
    with pytest.raises(ValidationError, match="Nothing was published"):
        post_publish(post=post)
    response = api(Role.EDITOR, workspace).post(f"{V1}/posts/{post.pk}/publish/")
    assert response.status_code == 400
    assert "gone: The account is banned." in str(response.json())
    assert not Execution.objects.filter(post=post).exists()
    post.refresh_from_db()
    assert post.status == PostStatus.DRAFT


def test_it_keeps_the_composer_on_the_plan_with_an_error_when_nothing_can_be_published(client, member, workspace):
    banned = SocialAccountFactory(workspace=workspace, status=AccountStatus.BANNED)
    post = text_post(workspace, [banned])
    client.force_login(member(Role.EDITOR))
    data = {
        "title": "Launch",
        "caption": "Summer sale",
        "schedule": "now",
        "language": "en",
        "media_type": "text",
        "target_accounts": [str(banned.pk)],
        "priority": "normal",
        "action": "publish",
    }
    response = client.post(reverse("dashboard:compose-edit", args=[post.pk]), data, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0].endswith(f"/compose/{post.pk}/?preview=1")
    assert 'class="message error' in page and "Nothing was published" in page
    assert "Publishing to 0 account(s)" not in page
    assert not Execution.objects.filter(post=post).exists()


# --- 3. unconfirmed executions need attention -----------------------------------------------------------------


@pytest.fixture
def unconfirmed_post(workspace):
    post = PostFactory(workspace=workspace, status=PostStatus.PUBLISHING, title="Lost answers")
    executions = [
        ExecutionFactory(post=post, status=ExecutionStatus.UNCONFIRMED, error_code="unconfirmed", error_message="Lost.")
        for _ in range(2)
    ]
    ExecutionFactory(post=post, status=ExecutionStatus.SUCCESS, finished_at=timezone.now())
    return post, executions


def test_it_notifies_once_when_an_unconfirmed_execution_cannot_be_looked_up(unconfirmed_post, bot, committed, monkeypatch):
    from platforms.base import LookupUnsupported
    from platforms.sandbox import SandboxAdapter

    def cannot_look_up(self, request):
        raise LookupUnsupported("this platform has no search")

    monkeypatch.setattr(SandboxAdapter, "lookup", cannot_look_up)
    post, _executions = unconfirmed_post
    with committed():
        assert reconcile_unconfirmed()["left"] == 2
    with committed():
        reconcile_unconfirmed()  # the next sweep tells nobody again
    assert len(bot.messages) == 2
    assert all("needs attention" in text and "could not confirm" in text for _chat, text in bot.messages)
    assert set(Execution.objects.filter(post=post, status="unconfirmed").values_list("error_code", flat=True)) == {NO_LOOKUP_CODE}
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHING


def test_it_marks_all_unconfirmed_executions_of_a_post_published(unconfirmed_post):
    post, _executions = unconfirmed_post
    assert post_resolve_unconfirmed(post=post, resolution="published") == {"resolved": 2, "problems": []}
    post.refresh_from_db()
    assert post.status == PostStatus.COMPLETED
    with pytest.raises(ValidationError, match="no unconfirmed executions"):
        post_resolve_unconfirmed(post=post, resolution="published")


def test_it_retries_all_unconfirmed_executions_of_a_post(unconfirmed_post):
    post, executions = unconfirmed_post
    assert post_resolve_unconfirmed(post=post, resolution="retry")["resolved"] == 2
    assert set(Execution.objects.filter(pk__in=[e.pk for e in executions]).values_list("status", flat=True)) == {"pending"}
    with pytest.raises(ValidationError):
        post_resolve_unconfirmed(post=post, resolution="maybe")


def test_it_resolves_unconfirmed_executions_through_the_api(unconfirmed_post, api, workspace):
    post, _executions = unconfirmed_post
    client = api(Role.EDITOR, workspace)
    assert client.post(f"{V1}/posts/{post.pk}/resolve-unconfirmed/", {"resolution": "sure"}, format="json").status_code == 400
    response = client.post(f"{V1}/posts/{post.pk}/resolve-unconfirmed/", {"resolution": "published"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "completed", "resolved": 2, "problems": []}
    again = client.post(f"{V1}/posts/{post.pk}/resolve-unconfirmed/", {"resolution": "retry"}, format="json")
    assert again.status_code == 409


def test_it_resolves_unconfirmed_executions_with_the_admin_action(unconfirmed_post):
    from django.contrib.messages.storage.fallback import FallbackStorage

    post, _executions = unconfirmed_post
    request = RequestFactory().post("/admin/posts/post/")
    request.user = UserFactory(is_superuser=True, is_staff=True)
    request.session = {}
    request._messages = FallbackStorage(request)
    PostAdmin(Post, site).retry_unconfirmed(request, Post.objects.filter(pk=post.pk))
    assert by_status(post) == {ExecutionStatus.PENDING: 2, ExecutionStatus.SUCCESS: 1}
    assert "2 unconfirmed executions sent out again" in " ".join(str(m) for m in request._messages)


def test_it_shows_needs_attention_on_the_post_the_posts_list_and_the_overview(unconfirmed_post, client, member):
    post, _executions = unconfirmed_post
    client.force_login(member(Role.EDITOR))
    for url in (reverse("dashboard:post", args=[post.pk]), reverse("dashboard:posts"), reverse("dashboard:overview")):
        page = client.get(url).content.decode()
        assert "Needs attention" in page, url
        assert reverse("dashboard:post", args=[post.pk]) in page
    detail = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
    assert "Needs attention: 2 unconfirmed" in detail and "check the accounts on the platform" in detail

    response = client.post(reverse("dashboard:post-unconfirmed-published", args=[post.pk]))
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.status == PostStatus.COMPLETED
    assert "Needs attention" not in client.get(reverse("dashboard:overview")).content.decode()
