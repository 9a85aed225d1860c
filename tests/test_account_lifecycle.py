"""What happens to an account around the operator's work: the fingerprint it gets at creation,
the proxy it is given, its Instagram session growing old, and cooldowns that follow the policy
that set them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountEvent, AccountStatus, Role, SocialAccount
from accounts.services import account_create, account_set_status
from publishing.models import Execution, ExecutionStatus

from .factories import PostFactory, PublishingPolicyFactory, SocialAccountFactory
from .support.engine import publish_one

V1 = "/api/v1"


# --- cooldowns follow the policy that set them -----------------------------------------------------------------


def rest_at_daily_limit(workspace, limit: int) -> SocialAccount:
    """A sandbox account that published ``limit`` posts and rests at its daily limit."""
    PublishingPolicyFactory(workspace=workspace, fast=True, daily_limit=limit)
    account = SocialAccountFactory(workspace=workspace)
    for _ in range(limit):
        post = PostFactory(workspace=workspace, media_type="text", caption="Hello")
        post.target_accounts.set([account])
        assert publish_one(post).status == ExecutionStatus.SUCCESS
    account.refresh_from_db()
    assert (account.status, account.status_reason) == (AccountStatus.COOLDOWN, f"daily limit of {limit} reached")
    return account


@pytest.mark.django_db
def test_it_lifts_a_daily_limit_cooldown_when_the_policy_raises_the_limit(workspace, api):
    account = rest_at_daily_limit(workspace, 2)
    policy = account.workspace.policies.get(platform="sandbox")
    answer = api(Role.ADMIN).patch(f"{V1}/policies/{policy.pk}/", {"daily_limit": 5}, format="json")
    assert answer.status_code == 200, answer.content
    account.refresh_from_db()
    assert (account.status, account.cooldown_until) == (AccountStatus.ACTIVE, None)
    event = AccountEvent.objects.filter(account=account).first()
    assert (event.from_status, event.to_status) == ("cooldown", "active")
    assert "daily limit of 5" in event.reason


@pytest.mark.django_db
def test_it_recomputes_a_daily_limit_cooldown_under_the_new_limit(workspace, api):
    account = rest_at_daily_limit(workspace, 2)
    first, second = Execution.objects.filter(account=account).order_by("finished_at").values_list("finished_at", flat=True)
    assert account.cooldown_until == first + timedelta(days=1)
    policy = account.workspace.policies.get(platform="sandbox")
    answer = api(Role.ADMIN).patch(f"{V1}/policies/{policy.pk}/", {"daily_limit": 1}, format="json")
    assert answer.status_code == 200, answer.content
    account.refresh_from_db()
    assert account.status == AccountStatus.COOLDOWN
    assert (account.cooldown_until, account.status_reason) == (second + timedelta(days=1), "daily limit of 1 reached")


@pytest.mark.django_db
def test_it_leaves_cooldowns_the_platform_asked_for(workspace, api):
    policy = PublishingPolicyFactory(workspace=workspace, fast=True, daily_limit=2)
    account = SocialAccountFactory(workspace=workspace)
    until = timezone.now() + timedelta(hours=3)
    account_set_status(account=account, status=AccountStatus.COOLDOWN, reason="rate limited", until=until)
    answer = api(Role.ADMIN).patch(f"{V1}/policies/{policy.pk}/", {"daily_limit": 50}, format="json")
    assert answer.status_code == 200, answer.content
    account.refresh_from_db()
    assert (account.status, account.cooldown_until) == (AccountStatus.COOLDOWN, until)


# --- device fingerprints belong to Instagram private-API accounts -----------------------------------------------


@pytest.mark.django_db
def test_it_gives_a_device_fingerprint_to_instagram_private_api_accounts_only(workspace):
    private = account_create(workspace=workspace, platform="instagram", handle="shop", credentials={"password": "pw"})
    graph = account_create(
        workspace=workspace,
        platform="instagram",
        handle="brand",
        credentials={"access_token": "EAAB"},
        options={"ig_user_id": "1784"},
    )
    bot = account_create(workspace=workspace, platform="telegram", handle="@news", credentials={"bot_token": "1:A"})
    wall = account_create(workspace=workspace, platform="vk", handle="club1", credentials={"access_token": "vk1"})
    assert private.device_id.startswith("android-") and private.user_agent.startswith("Instagram ")
    for account in (graph, bot, wall):
        account.refresh_from_db()
        assert (account.device_id, account.user_agent) == ("", ""), account.platform


@pytest.mark.django_db
def test_it_clears_the_fingerprints_stored_outside_instagram(workspace):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("accounts.migrations.0003_clear_device_fingerprints_outside_instagram")
    instagram = SocialAccountFactory(workspace=workspace, platform="instagram")
    telegram = SocialAccountFactory(workspace=workspace, platform="telegram")
    migration.clear_fingerprints(apps, None)
    instagram.refresh_from_db()
    telegram.refresh_from_db()
    assert instagram.device_id and instagram.user_agent
    assert (telegram.device_id, telegram.user_agent) == ("", "")
