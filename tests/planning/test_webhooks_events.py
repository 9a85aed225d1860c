"""Each webhook event sent from where it really happens: a sandbox publish completing, a publish
failing for good, an account's status changing, a source making a post — signed, with the ids,
statuses and remote URLs a receiver needs, and never a secret."""

import pytest

from accounts.models import AccountStatus
from accounts.services import account_set_status
from crosspost.models import WebhookDelivery
from crosspost.webhooks import endpoint_save
from posts.models import Post, PostStatus
from publishing.models import Execution
from publishing.planner import post_publish
from sources.models import Source, SourceKind
from sources.watched import watched_poll
from tests.emulators.rss import FeedEmulator
from tests.emulators.webhook_receiver import signature_valid
from tests.factories import AccountGroupFactory, PostFactory, PostMediaFactory, PublishingPolicyFactory, SocialAccountFactory
from tests.support.engine import drain

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.planning.webhook_support"]


def received(receiver, endpoint, event: str) -> list[dict]:
    """Bodies of the ``event`` deliveries the receiver got, each checked for a valid signature."""
    bodies = []
    for request in receiver.requests:
        if request.headers["X-Crosspost-Event"] == event:
            assert signature_valid(endpoint.plain_secret, request)
            bodies.append(request.json)
    return bodies


def sandbox_post(workspace, accounts):
    PublishingPolicyFactory(workspace=workspace, fast=True)
    post = PostFactory(workspace=workspace, media_type="photo")
    PostMediaFactory(post=post)
    post.target_accounts.set(accounts)
    return post


def test_a_sandbox_publish_completing_sends_post_completed(run, workspace, endpoint, receiver):
    accounts = SocialAccountFactory.create_batch(2, workspace=workspace)
    post = sandbox_post(workspace, accounts)
    run(lambda: (post_publish(post=post), drain()))
    post.refresh_from_db()
    assert post.status == PostStatus.COMPLETED
    [body] = received(receiver, endpoint, "post.completed")
    assert body["workspace"] == workspace.pk and body["data"]["post"] == post.pk
    assert body["data"]["status"] == "completed" and body["data"]["counts"]["published"] == 2
    executions = {e.pk: e for e in Execution.objects.filter(post=post)}
    assert {row["id"]: row["remote_url"] for row in body["data"]["executions"]} == {
        pk: e.remote_url for pk, e in executions.items()
    }
    assert all(row["remote_url"] and row["status"] == "success" for row in body["data"]["executions"])
    assert received(receiver, endpoint, "post.failed") == [] and received(receiver, endpoint, "execution.failed") == []


def test_a_publish_failing_for_good_sends_execution_failed_and_post_failed(run, workspace, endpoint, receiver):
    good = SocialAccountFactory(workspace=workspace)
    rejected = SocialAccountFactory(workspace=workspace, options={"fail": "media_rejected"})
    post = sandbox_post(workspace, [good, rejected])
    run(lambda: (post_publish(post=post), drain()))
    post.refresh_from_db()
    assert post.status == PostStatus.PARTIAL
    [failed] = received(receiver, endpoint, "execution.failed")
    execution = Execution.objects.get(post=post, account=rejected)
    assert failed["data"]["execution"] == execution.pk and failed["data"]["account"] == str(rejected.pk)
    assert failed["data"]["error_code"] == execution.error_code and failed["data"]["platform"] == "sandbox"
    [finished] = received(receiver, endpoint, "post.failed")
    assert finished["data"]["status"] == "partial"
    assert finished["data"]["counts"]["published"] == 1 and finished["data"]["counts"]["failed"] == 1
    assert received(receiver, endpoint, "post.completed") == []
    # The account's token never travels in an event.
    assert all(b"sandbox-secret-token" not in request.body for request in receiver.requests)


def test_a_retried_publish_sends_nothing_until_it_fails_for_good(run, workspace, endpoint, receiver):
    account = SocialAccountFactory(workspace=workspace, options={"fail": "transient"})
    post = sandbox_post(workspace, [account])
    run(lambda: (post_publish(post=post), drain()))
    assert Execution.objects.get(post=post).status == "retry_wait"
    assert received(receiver, endpoint, "execution.failed") == [] and received(receiver, endpoint, "post.failed") == []


def test_an_account_status_change_sends_account_status_changed(run, workspace, endpoint, receiver):
    account = SocialAccountFactory(workspace=workspace)
    run(lambda: account_set_status(account=account, status=AccountStatus.BANNED, reason="Instagram disabled the account"))
    [body] = received(receiver, endpoint, "account.status_changed")
    assert body["data"]["account"] == str(account.pk)
    assert (body["data"]["from"], body["data"]["to"], body["data"]["reason"]) == (
        "active",
        "banned",
        "Instagram disabled the account",
    )
    # The same status again (a new reason) is no change of status: no event.
    run(lambda: account_set_status(account=account, status=AccountStatus.BANNED, reason="still banned"))
    assert len(received(receiver, endpoint, "account.status_changed")) == 1


def test_another_workspaces_event_goes_to_its_own_endpoints_only(run, workspace, endpoint, receiver):
    other = SocialAccountFactory()  # another workspace, with no endpoint
    run(lambda: account_set_status(account=other, status=AccountStatus.DISABLED, reason="paused"))
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_a_source_making_a_post_sends_source_item_created(run, workspace, endpoint, receiver):
    endpoint_save(workspace=workspace, endpoint=endpoint, url=endpoint.url, events=["source.item_created"])
    PublishingPolicyFactory(workspace=workspace, fast=True)
    group = AccountGroupFactory(workspace=workspace, name="Shops")
    group.accounts.set([SocialAccountFactory(workspace=workspace)])
    with FeedEmulator() as feed:
        source = Source(workspace=workspace, name="Shop blog", kind=SourceKind.RSS, options={"url": feed.feed_url}, secret={})
        source.full_clean()
        source.save()
        source.target_groups.set([group])
        feed.publish("First", "Hello from the blog")
        assert run(lambda: watched_poll(source=source)) == 1
    [body] = received(receiver, endpoint, "source.item_created")
    post = Post.objects.get(origin__source=source)
    assert body["data"]["source"] == source.pk and body["data"]["source_kind"] == "rss"
    assert body["data"]["post"] == post.pk and body["workspace"] == workspace.pk
    assert received(receiver, endpoint, "post.completed") == []  # not subscribed
