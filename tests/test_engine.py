"""The publishing engine in-process: planner, dispatcher claims, publisher outcomes,
error classes → execution and account transitions, crash reconciliation, cancel, retry."""

import itertools
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AccountEvent, AccountStatus, SocialAccount
from posts.models import PostStatus
from publishing.dispatcher import claim_due
from publishing.models import Execution, ExecutionStatus, SandboxPost
from publishing.planner import post_publish
from publishing.publisher import (
    execution_mark_published,
    execution_publish,
    reconcile_unconfirmed,
    sweep_expired_leases,
)
from publishing.services import execution_retry, post_cancel

from .factories import AccountGroupFactory, PostFactory, PostMediaFactory, SocialAccountFactory
from .support.engine import drain, render_pending


def publish(**kwargs):
    """Plan the post, then render its media as the render task would (a worker's first step)."""
    plan = post_publish(**kwargs)
    render_pending()
    return plan


@pytest.fixture
def post_to(workspace):
    def make(accounts=(), groups=(), media_type="photo", **fields):
        post = PostFactory(workspace=workspace, media_type=media_type, **fields)
        if media_type != "text":
            PostMediaFactory(post=post)
        post.target_accounts.set(accounts)
        post.target_groups.set(groups)
        return post

    return make


@pytest.mark.django_db
class TestPlanner:
    def test_it_expands_groups_and_accounts_once_each(self, workspace, post_to):
        group = AccountGroupFactory(workspace=workspace)
        in_group = SocialAccountFactory.create_batch(3, workspace=workspace, group=group)
        direct = SocialAccountFactory(workspace=workspace)
        post = post_to(accounts=[in_group[0], direct], groups=[group])
        plan = publish(post=post)
        assert plan.created == 4
        assert set(Execution.objects.filter(post=post).values_list("account_id", flat=True)) == {
            a.pk for a in [*in_group, direct]
        }
        post.refresh_from_db()
        assert post.status == PostStatus.PUBLISHING

    def test_it_is_idempotent(self, workspace, post_to):
        accounts = SocialAccountFactory.create_batch(3, workspace=workspace)
        post = post_to(accounts=accounts)
        first = publish(post=post)
        second = publish(post=post)
        assert first.created == 3 and second.created == 0
        assert {e.status for e in second.entries} == {"exists"}
        assert Execution.objects.filter(post=post).count() == 3

    def test_it_plans_without_saving_on_dry_run(self, workspace, post_to):
        post = post_to(accounts=SocialAccountFactory.create_batch(2, workspace=workspace))
        plan = publish(post=post, dry_run=True)
        assert plan.created == 2 and all(e.scheduled_for for e in plan.entries)
        assert not Execution.objects.filter(post=post).exists()
        post.refresh_from_db()
        assert post.status == PostStatus.DRAFT

    def test_it_reports_ineligible_accounts_and_missing_translations(self, workspace, post_to):
        banned = SocialAccountFactory(workspace=workspace, status=AccountStatus.BANNED)
        german = SocialAccountFactory(workspace=workspace, language="de")
        british = SocialAccountFactory(workspace=workspace, language="en-GB")
        post = post_to(accounts=[banned, german, british])
        plan = {e.account_id: e for e in publish(post=post).entries}
        assert plan[str(banned.pk)].status == "blocked" and "banned" in plan[str(banned.pk)].problems[0]
        assert plan[str(german.pk)].status == "blocked"
        assert "No translation provider is configured for de" in plan[str(german.pk)].problems[0]
        assert plan[str(british.pk)].status == "planned"  # en-GB passes through from en
        # The blocked targets are recorded with their reason, permanent ones without a retry time.
        statuses = dict(Execution.objects.filter(post=post).values_list("account_id", "status"))
        assert statuses == {banned.pk: "blocked", german.pk: "blocked", british.pk: "pending"}
        assert not Execution.objects.filter(post=post, status="blocked", next_attempt_at__isnull=False).exists()

    def test_it_reports_adapter_and_policy_problems(self, workspace, post_to):
        from .factories import PublishingPolicyFactory

        PublishingPolicyFactory(workspace=workspace, platform="sandbox", forbidden_words=["casino"], required_hashtags=["#brand"])
        post = post_to(accounts=[SocialAccountFactory(workspace=workspace)], media_type="carousel", caption="Win at the casino")
        problems = publish(post=post, dry_run=True).entries[0].problems
        assert any("carousel needs 2 to 10" in p for p in problems)
        assert any("casino" in p for p in problems)
        assert any("#brand" in p for p in problems)

    def test_it_schedules_at_scheduled_at_with_a_stagger(self, workspace, post_to):
        later = timezone.now() + timedelta(hours=3)
        post = post_to(accounts=SocialAccountFactory.create_batch(4, workspace=workspace), scheduled_at=later)
        plan = publish(post=post, seed=7)
        times = sorted(e.scheduled_for for e in plan.entries)
        assert times[0] == later
        assert all(1 <= (b - a).total_seconds() <= 3 for a, b in itertools.pairwise(times))  # sandbox stagger
        post.refresh_from_db()
        assert post.status == PostStatus.SCHEDULED

    @pytest.mark.postgres
    def test_it_uses_the_same_number_of_queries_for_10_and_1000_accounts(self, workspace, post_to):
        def queries_for(count):
            group = AccountGroupFactory(workspace=workspace)
            SocialAccount.objects.bulk_create(
                [
                    SocialAccount(workspace=workspace, platform="sandbox", handle=f"{group.pk}-{i}", group=group)
                    for i in range(count)
                ]
            )
            post = post_to(groups=[group])
            with CaptureQueriesContext(connection) as ctx:
                plan = post_publish(post=post)
            assert plan.created == count
            return len(ctx.captured_queries)

        assert queries_for(10) == queries_for(1000)


@pytest.mark.django_db
class TestPublisher:
    def test_it_publishes_due_executions_once(self, workspace, post_to):
        accounts = SocialAccountFactory.create_batch(3, workspace=workspace)
        post = post_to(accounts=accounts)
        publish(post=post)
        results = drain()
        assert set(results.values()) == {ExecutionStatus.SUCCESS}
        assert drain() == {}
        assert SandboxPost.objects.filter(account__in=accounts).count() == 3
        executions = Execution.objects.filter(post=post)
        assert all(e.remote_id and e.remote_url and e.finished_at and e.attempts == 1 for e in executions)
        post.refresh_from_db()
        assert post.status == PostStatus.COMPLETED
        assert all(a.last_post_at for a in SocialAccount.objects.filter(pk__in=[a.pk for a in accounts]))

    def test_it_never_claims_executions_before_they_are_due(self, workspace, post_to):
        post = post_to(accounts=[SocialAccountFactory(workspace=workspace)], scheduled_at=timezone.now() + timedelta(hours=1))
        publish(post=post)
        assert claim_due(now=timezone.now()) == []
        claims = claim_due(now=timezone.now() + timedelta(hours=1))
        assert len(claims) == 1

    def test_it_ignores_a_duplicate_or_stale_message(self, workspace, post_to):
        post = post_to(accounts=[SocialAccountFactory(workspace=workspace)])
        publish(post=post)
        (claim,) = claim_due(now=timezone.now() + timedelta(minutes=1))
        assert execution_publish(claim.execution_id, "not-the-token") == "stale"
        assert execution_publish(claim.execution_id, claim.token) == ExecutionStatus.SUCCESS
        assert execution_publish(claim.execution_id, claim.token) == "stale"
        assert SandboxPost.objects.count() == 1

    def test_it_respects_the_concurrency_cap(self, workspace, post_to, settings):
        settings.MAX_CONCURRENT_PUBLISHES = 2
        publish(post=post_to(accounts=SocialAccountFactory.create_batch(5, workspace=workspace)))
        assert len(claim_due(now=timezone.now() + timedelta(days=1))) == 2
        assert claim_due(now=timezone.now() + timedelta(days=1)) == []

    def test_it_claims_high_priority_first(self, workspace, post_to):
        low = post_to(accounts=[SocialAccountFactory(workspace=workspace)], priority="low")
        high = post_to(accounts=[SocialAccountFactory(workspace=workspace)], priority="high")
        publish(post=low)
        publish(post=high)
        claims = claim_due(now=timezone.now() + timedelta(days=1), limit=1)
        assert Execution.objects.get(pk=claims[0].execution_id).post_id == high.pk
        assert claims[0].queue == "high"


ERROR_CASES = [
    # code, execution status after the first attempt, account status after it
    ("rate_limited", ExecutionStatus.RETRY_WAIT, AccountStatus.COOLDOWN),
    ("quota_exceeded", ExecutionStatus.RETRY_WAIT, AccountStatus.COOLDOWN),
    ("transient", ExecutionStatus.RETRY_WAIT, AccountStatus.ACTIVE),
    ("proxy_failed", ExecutionStatus.RETRY_WAIT, AccountStatus.PROXY_ERROR),
    ("auth_required", ExecutionStatus.FAILED, AccountStatus.LOGIN_REQUIRED),
    ("challenge_required", ExecutionStatus.FAILED, AccountStatus.LOGIN_REQUIRED),
    ("account_banned", ExecutionStatus.FAILED, AccountStatus.BANNED),
    ("media_rejected", ExecutionStatus.FAILED, AccountStatus.ACTIVE),
    ("content_rejected", ExecutionStatus.FAILED, AccountStatus.ACTIVE),
    ("permission_denied", ExecutionStatus.FAILED, AccountStatus.ACTIVE),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("code", "execution_status", "account_status"), ERROR_CASES)
def test_it_applies_each_error_class(workspace, post_to, code, execution_status, account_status):
    account = SocialAccountFactory(workspace=workspace, options={"fail": code, "retry_after": 120})
    post = post_to(accounts=[account])
    publish(post=post)
    before = timezone.now()
    drain()
    execution = Execution.objects.get(post=post)
    account.refresh_from_db()
    assert execution.status == execution_status
    assert execution.error_code == code and execution.error_message
    assert execution.raw_response == {"injected": code}
    assert account.status == account_status
    if account_status != AccountStatus.ACTIVE:
        event = AccountEvent.objects.filter(account=account).latest("created_at")
        assert (event.from_status, event.to_status) == (AccountStatus.ACTIVE, account_status)
    if execution_status == ExecutionStatus.RETRY_WAIT:
        assert execution.priority == "low"
        assert execution.scheduled_for >= before + timedelta(seconds=60)  # first backoff step
        if code == "rate_limited":
            assert execution.scheduled_for >= before + timedelta(seconds=120)  # the platform's retry_after
            assert account.cooldown_until >= before + timedelta(seconds=120)
    else:
        post.refresh_from_db()
        assert post.status == PostStatus.FAILED
    assert not SandboxPost.objects.exists()


@pytest.mark.django_db
def test_it_ends_the_message_of_an_account_that_needs_a_login_with_one_full_stop(workspace, post_to):
    account = SocialAccountFactory(workspace=workspace, options={"fail": "auth_required"})
    publish(post=post_to(accounts=[account]))
    later = post_to(accounts=[account])
    publish(post=later)
    drain()  # the first publish loses the login; the second finds the account needing one
    execution = Execution.objects.get(post=later)
    assert execution.error_code == "account_unavailable"
    assert execution.error_message == "The account needs a new login: Sandbox: injected auth_required."


@pytest.mark.django_db
def test_it_backs_off_then_gives_up_after_max_attempts(workspace, post_to, settings):
    settings.PUBLISH_MAX_ATTEMPTS = 4
    account = SocialAccountFactory(workspace=workspace, options={"fail": "transient"})
    post = post_to(accounts=[account])
    publish(post=post)
    delays = []
    for _ in range(4):
        start = timezone.now()
        drain()
        execution = Execution.objects.get(post=post)
        if execution.status == ExecutionStatus.RETRY_WAIT:
            delays.append(round((execution.scheduled_for - start).total_seconds() / 60))
    assert delays == [1, 5, 15]
    assert execution.status == ExecutionStatus.FAILED and execution.attempts == 4
    assert "Gave up after 4 attempts" in execution.error_message


@pytest.mark.django_db
def test_it_recovers_after_a_transient_failure(workspace, post_to):
    account = SocialAccountFactory(workspace=workspace, options={"fail": "transient", "fail_times": 1})
    post = post_to(accounts=[account])
    publish(post=post)
    drain()
    assert Execution.objects.get(post=post).status == ExecutionStatus.RETRY_WAIT
    drain()
    execution = Execution.objects.get(post=post)
    assert execution.status == ExecutionStatus.SUCCESS and execution.attempts == 2
    assert SandboxPost.objects.count() == 1


@pytest.mark.django_db
def test_it_cools_an_account_down_at_its_daily_limit(workspace, post_to):
    account = SocialAccountFactory(workspace=workspace, posts_limit_per_day=2)
    for _ in range(2):
        publish(post=post_to(accounts=[account]))
        drain()
    account.refresh_from_db()
    assert account.status == AccountStatus.COOLDOWN
    assert "daily limit of 2" in account.status_reason
    assert account.cooldown_until > timezone.now() + timedelta(hours=23)
    third = post_to(accounts=[account])
    (entry,) = publish(post=third).entries
    assert entry.scheduled_for >= account.cooldown_until


@pytest.mark.django_db
class TestCrashSafety:
    def crash_mid_publish(self, workspace, post_to, settings, *, published: bool):
        """Claim and start a publish, then 'lose the worker' by letting the lease expire."""
        account = SocialAccountFactory(workspace=workspace)
        post = post_to(accounts=[account])
        publish(post=post)
        (claim,) = claim_due(now=timezone.now() + timedelta(minutes=1))
        Execution.objects.filter(pk=claim.execution_id).update(
            status=ExecutionStatus.POSTING, attempts=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        if published:
            SandboxPost.objects.create(account=account, marker=f"cp-{claim.execution_id}", caption="x", media_type="photo")
        return claim

    def test_it_marks_a_lost_publish_unconfirmed_and_finds_it(self, workspace, post_to, settings):
        claim = self.crash_mid_publish(workspace, post_to, settings, published=True)
        assert sweep_expired_leases() == {"requeued": 0, "unconfirmed": 1}
        assert Execution.objects.get(pk=claim.execution_id).status == ExecutionStatus.UNCONFIRMED
        assert reconcile_unconfirmed()["published"] == 1
        execution = Execution.objects.get(pk=claim.execution_id)
        assert execution.status == ExecutionStatus.SUCCESS and execution.raw_response["found_by"] == "lookup"
        assert drain() == {} and SandboxPost.objects.count() == 1

    def test_it_retries_a_lost_publish_that_never_happened(self, workspace, post_to, settings):
        claim = self.crash_mid_publish(workspace, post_to, settings, published=False)
        sweep_expired_leases()
        assert reconcile_unconfirmed()["retried"] == 1
        drain()
        assert Execution.objects.get(pk=claim.execution_id).status == ExecutionStatus.SUCCESS
        assert SandboxPost.objects.count() == 1

    def test_it_leaves_unconfirmed_executions_for_an_operator_when_lookup_is_impossible(
        self, workspace, post_to, settings, monkeypatch
    ):
        from platforms.base import LookupUnsupported
        from platforms.sandbox import SandboxAdapter

        def cannot_look_up(self, execution):
            raise LookupUnsupported("this platform has no search")

        monkeypatch.setattr(SandboxAdapter, "lookup", cannot_look_up)
        claim = self.crash_mid_publish(workspace, post_to, settings, published=False)
        sweep_expired_leases()
        assert reconcile_unconfirmed()["left"] == 1
        assert drain() == {}
        execution = execution_mark_published(
            execution=Execution.objects.get(pk=claim.execution_id), remote_url="https://x.test/p/1"
        )
        assert execution.status == ExecutionStatus.SUCCESS

    def test_it_requeues_a_claim_whose_message_was_lost(self, workspace, post_to):
        publish(post=post_to(accounts=[SocialAccountFactory(workspace=workspace)]))
        (claim,) = claim_due(now=timezone.now() + timedelta(minutes=1))
        Execution.objects.filter(pk=claim.execution_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        assert sweep_expired_leases()["requeued"] == 1
        assert execution_publish(claim.execution_id, claim.token) == "stale"  # the old message is void
        assert list(drain().values()) == [ExecutionStatus.SUCCESS]


@pytest.mark.django_db
class TestCancelAndRetry:
    def test_it_cancels_queued_executions_and_lets_in_flight_ones_finish(self, workspace, post_to):
        from platforms.base import PublishResult
        from publishing.publisher import _record_success

        post = post_to(accounts=SocialAccountFactory.create_batch(3, workspace=workspace))
        publish(post=post)
        queued, in_flight = claim_due(now=timezone.now() + timedelta(minutes=1), limit=2)
        Execution.objects.filter(pk=in_flight.execution_id).update(status=ExecutionStatus.POSTING)

        assert post_cancel(post=post) == {"cancelled": 2, "in_flight": 1}
        assert execution_publish(queued.execution_id, queued.token) == "stale"  # its message arrives too late
        assert drain() == {}
        # The worker that was publishing finishes and is reported.
        execution = Execution.objects.get(pk=in_flight.execution_id)
        _record_success(execution, in_flight.token, PublishResult(remote_id="42", url="https://x.test/42"), duration_ms=5)
        statuses = sorted(Execution.objects.filter(post=post).values_list("status", flat=True))
        assert statuses == [ExecutionStatus.CANCELLED, ExecutionStatus.CANCELLED, ExecutionStatus.SUCCESS]
        post.refresh_from_db()
        assert post.status == PostStatus.CANCELLED and post.finished_at is not None
        with pytest.raises(ValidationError, match="already cancelled"):
            post_cancel(post=post)

    def test_it_cancels_and_retries_one_execution(self, workspace, post_to):
        from publishing.services import execution_cancel

        post = post_to(accounts=SocialAccountFactory.create_batch(2, workspace=workspace))
        publish(post=post)
        first, second = Execution.objects.filter(post=post)
        execution_cancel(execution=first)
        assert list(drain().values()) == [ExecutionStatus.SUCCESS]
        first.refresh_from_db()
        assert first.status == ExecutionStatus.CANCELLED
        with pytest.raises(ValidationError):
            execution_retry(execution=Execution.objects.get(pk=second.pk))  # a success is not retried
        execution_retry(execution=first)
        assert list(drain().values()) == [ExecutionStatus.SUCCESS]
        post.refresh_from_db()
        assert post.status == PostStatus.COMPLETED

    def test_it_retries_a_failed_execution(self, workspace, post_to):
        account = SocialAccountFactory(workspace=workspace, options={"fail": "media_rejected"})
        post = post_to(accounts=[account])
        publish(post=post)
        drain()
        execution = Execution.objects.get(post=post)
        assert execution.status == ExecutionStatus.FAILED
        SocialAccount.objects.filter(pk=account.pk).update(options={})
        execution_retry(execution=execution)
        drain()
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.SUCCESS
        post.refresh_from_db()
        assert post.status == PostStatus.COMPLETED


@pytest.mark.django_db
def test_it_publishes_the_operators_caption_through_the_policy_template(workspace, post_to):
    from .factories import PublishingPolicyFactory

    PublishingPolicyFactory(
        workspace=workspace, platform="sandbox", caption_template="{description}\n\n{hashtags}", required_hashtags=["#brand"]
    )
    account = SocialAccountFactory(workspace=workspace, language="de")
    post = post_to(accounts=[account], caption="Hello world #launch", options={"captions": {"de": "Hallo Welt #start"}})
    publish(post=post)
    drain()
    execution = Execution.objects.get(post=post)
    assert execution.status == ExecutionStatus.SUCCESS
    published = SandboxPost.objects.get(account=account).caption
    assert published == execution.caption
    assert published.startswith("Hallo Welt") and "#start" in published and "#brand" in published
    assert "Hello world" not in published


@pytest.mark.django_db
class TestRenditions:
    def test_it_holds_executions_until_their_media_is_rendered_and_publishes_the_rendition(self, workspace, post_to):
        from media.models import Rendition

        post = post_to(accounts=SocialAccountFactory.create_batch(2, workspace=workspace))
        post_publish(post=post)  # renditions requested, not rendered yet
        assert Rendition.objects.filter(asset__post_media__post=post, status="pending").count() == 1
        assert claim_due(now=timezone.now() + timedelta(days=1)) == []
        assert set(drain().values()) == {ExecutionStatus.SUCCESS}  # drain renders first, like the worker
        media = SandboxPost.objects.first().media[0]
        assert (media["width"], media["height"]) == (1080, 1350)  # the sandbox's 4:5 rendition, not the 64×48 original
        assert media["url"].startswith("http") or "/renditions/" in media["url"]

    def test_it_fails_only_the_executions_whose_rendition_failed(self, workspace, post_to):
        from media.models import Rendition

        post = post_to(accounts=SocialAccountFactory.create_batch(2, workspace=workspace))
        post_publish(post=post)
        Rendition.objects.filter(asset__post_media__post=post).update(status="failed", error="the encoder gave up")
        results = drain()
        assert set(results.values()) == {ExecutionStatus.FAILED}
        execution = Execution.objects.filter(post=post).first()
        assert execution.error_code == "media_failed" and "the encoder gave up" in execution.error_message
        text = post_to(accounts=[SocialAccountFactory(workspace=workspace)], media_type="text", caption="No media here")
        publish(post=text)
        assert set(drain().values()) == {ExecutionStatus.SUCCESS}


@pytest.mark.django_db
def test_it_requeues_a_render_whose_message_was_lost(workspace, post_to, django_capture_on_commit_callbacks):
    from media.models import Rendition
    from media.services import renders_requeue_stale

    post = post_to(accounts=[SocialAccountFactory(workspace=workspace)])
    post_publish(post=post)  # its render message is "lost": on_commit callbacks do not run here
    Rendition.objects.update(updated_at=timezone.now() - timedelta(minutes=11))
    with django_capture_on_commit_callbacks() as callbacks:
        assert renders_requeue_stale() == 1
    assert len(callbacks) == 1  # one render_asset enqueued for the asset
    with django_capture_on_commit_callbacks() as callbacks:
        assert renders_requeue_stale() == 0  # touched: not again until the next period
    assert not callbacks
