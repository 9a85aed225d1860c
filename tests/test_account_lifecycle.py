"""What happens to an account around the operator's work: the fingerprint it gets at creation,
the proxy it is given, its Instagram session growing old, and cooldowns that follow the policy
that set them."""

import io
import threading
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.imports import accounts_import_csv
from accounts.models import AccountEvent, AccountStatus, Role, SocialAccount
from accounts.services import account_create, account_set_status, language_countries
from publishing.models import Execution, ExecutionStatus

from .factories import PostFactory, ProxyFactory, PublishingPolicyFactory, SocialAccountFactory, WorkspaceFactory
from .support.engine import publish_one
from .test_admin import form_data
from .test_dashboard import HX, login

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
def test_it_lifts_a_daily_limit_cooldown_when_the_admin_raises_the_limit(workspace, client, member):
    account = rest_at_daily_limit(workspace, 2)
    policy = account.workspace.policies.get(platform="sandbox")
    client.force_login(member(Role.ADMIN))
    change = reverse("admin:publishing_publishingpolicy_change", args=[policy.pk])
    data = form_data(client.get(change))
    data["daily_limit"] = 3
    assert client.post(change, data).status_code == 302
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


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


# --- a new account gets a free healthy proxy -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "countries"),
    [("de", ["DE"]), ("pt-BR", ["BR", "PT"]), ("en", ["US", "GB"]), ("en-GB", ["GB", "US"]), ("uk", ["UA"]), ("", [])],
)
def test_it_guesses_where_an_account_posts_from_by_its_language(language, countries):
    assert language_countries(language) == countries


@pytest.mark.django_db
def test_it_gives_a_new_account_a_free_healthy_proxy_of_its_country(workspace):
    taken = ProxyFactory(workspace=workspace, country="DE", max_accounts=1)
    SocialAccountFactory(workspace=workspace, proxy=taken)
    ProxyFactory(workspace=workspace, country="DE", status="failed")
    ProxyFactory(workspace=WorkspaceFactory(), country="DE")  # another workspace's
    us = ProxyFactory(workspace=workspace, country="US", max_accounts=5)
    german = ProxyFactory(workspace=workspace, country="DE", max_accounts=2)

    account = account_create(workspace=workspace, platform="telegram", handle="@news", language="de")
    assert account.proxy == german and not account.proxy_missing
    assert german.display_url in account.proxy_note
    assert SocialAccount.objects.get(pk=account.pk).proxy == german

    other = account_create(workspace=workspace, platform="vk", handle="club7", language="fi")  # no Finnish proxy: any
    assert other.proxy == us  # least loaded first
    third = account_create(workspace=workspace, platform="vk", handle="club8", language="de")
    assert third.proxy == german  # its second slot
    assert account_create(workspace=workspace, platform="vk", handle="club9", language="de").proxy == us


@pytest.mark.django_db
def test_it_creates_the_account_without_a_proxy_and_says_so_when_none_is_free(workspace, api):
    full = ProxyFactory(workspace=workspace, max_accounts=1)
    SocialAccountFactory(workspace=workspace, proxy=full)
    ProxyFactory(workspace=workspace, status="failed")
    client = api(Role.ADMIN)
    answer = client.post(
        f"{V1}/accounts/",
        {"workspace": workspace.pk, "platform": "telegram", "handle": "@news", "secret": "1:A", "options": {"chat_id": "@news"}},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["proxy"] is None
    assert "No healthy proxy with a free slot" in answer.json()["proxy_note"]
    assert SocialAccount.objects.get(pk=answer.json()["id"]).proxy is None

    ProxyFactory(workspace=workspace, country="DE")
    answer = client.post(
        f"{V1}/accounts/", {"workspace": workspace.pk, "platform": "vk", "handle": "club1", "secret": "vk1"}, format="json"
    )
    assert answer.json()["proxy_display_url"] and "was assigned automatically" in answer.json()["proxy_note"]
    assert client.get(f"{V1}/accounts/{answer.json()['id']}/").json()["proxy_note"] == ""


@pytest.mark.django_db
def test_it_gives_sandbox_accounts_no_proxy(workspace):
    ProxyFactory(workspace=workspace)
    account = account_create(workspace=workspace, platform="sandbox", handle="demo")
    assert (account.proxy, account.proxy_note) == (None, "")


@pytest.mark.django_db
def test_it_warns_in_the_admin_when_no_proxy_was_free(client, member, workspace):
    client.force_login(member(Role.ADMIN))
    add = reverse("admin:accounts_socialaccount_add")
    data = form_data(client.get(add))
    data.update({"workspace": workspace.pk, "platform": "telegram", "handle": "@news", "new_secret": "123:ABC"})
    response = client.post(add, data)
    assert response.status_code == 302
    assert SocialAccount.objects.get(handle="@news").proxy is None
    (message,) = [m for m in get_messages(response.wsgi_request) if "proxy" in m.message]
    assert message.level_tag == "warning" and "No healthy proxy with a free slot" in message.message


@pytest.mark.django_db
def test_it_never_gives_a_row_without_a_proxy_one_a_later_row_names(workspace):
    named = ProxyFactory(workspace=workspace, host="203.0.113.5", port=8080, max_accounts=1)
    spare = ProxyFactory(workspace=workspace, max_accounts=1)
    csv = (
        "platform,handle,secret,language,group,proxy_url\n"
        "vk,club1,tok1,en,,\n"
        "vk,club2,tok2,en,,\n"
        "vk,club3,tok3,en,,http://203.0.113.5:8080\n"
    )
    report = accounts_import_csv(workspace=workspace, stream=io.StringIO(csv))
    assert report.errors == [] and report.created == 3
    assert (report.proxies_assigned, report.without_proxy) == (1, ["club2"])
    proxies = dict(SocialAccount.objects.filter(workspace=workspace).values_list("handle", "proxy"))
    assert proxies == {"club1": spare.pk, "club2": None, "club3": named.pk}


@pytest.mark.django_db
def test_it_warns_in_the_dashboard_import_about_accounts_left_without_a_proxy(client, member, workspace):
    ProxyFactory(workspace=workspace, country="DE", max_accounts=1)
    login(client, member, Role.ADMIN)
    csv = "platform,handle,secret,language\nvk,club1,tok1,de\nvk,club2,tok2,de\n"
    response = client.post(reverse("dashboard:accounts-import"), {"file": SimpleUploadedFile("a.csv", csv.encode())}, **HX)
    body = response.content.decode()
    assert response.status_code == 200 and "Created 2 account(s)" in body
    assert "1 account without a proxy in the file was given a free one." in body
    assert "No healthy proxy with a free slot was left for club2" in body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_gives_the_last_free_proxy_slot_to_one_of_two_accounts_created_at_once():
    workspace = WorkspaceFactory()
    proxy = ProxyFactory(workspace=workspace, max_accounts=1)
    barrier = threading.Barrier(2)
    results = {}

    def create(handle):
        try:
            barrier.wait()
            results[handle] = account_create(workspace=workspace, platform="vk", handle=handle).proxy_id
        except Exception as exc:
            results[handle] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(handle,)) for handle in ("club1", "club2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results.values(), key=str) == sorted([None, proxy.pk], key=str), results
    assert proxy.accounts.count() == 1
