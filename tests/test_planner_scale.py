"""The planner at scale (issue 19): how it reads accounts and writes executions changed, what it
decides did not. Each plan here is compared with the one the straightforward way gives — every
account read with its workspace and proxy joined and its secrets decrypted, every execution
created by ``bulk_create`` — and its query count does not grow with the number of accounts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AccountStatus, Platform
from platforms.sandbox import SandboxAdapter
from publishing import planner
from publishing.models import Execution, ExecutionStatus, PublishingPolicy
from publishing.planner import post_publish
from publishing.targets import target_accounts

from .factories import AccountGroupFactory, PostFactory, ProxyFactory, SocialAccountFactory

# Platform, credentials, session: with and without what each adapter's validate() reads.
KINDS = [
    (Platform.SANDBOX, {"token": "t"}, {}),
    (Platform.TELEGRAM, {"bot_token": "1:abc"}, {}),
    (Platform.TELEGRAM, {}, {}),
    (Platform.VK, {"access_token": "vk"}, {}),
    (Platform.VK, {"other": "x"}, {}),
    (Platform.TIKTOK, {"access_token": "tt"}, {}),
    (Platform.TIKTOK, {}, {}),
    (Platform.YOUTUBE, {"refresh_token": "r", "client_id": "c", "client_secret": "s"}, {}),
    (Platform.YOUTUBE, {"refresh_token": "r"}, {}),
    (Platform.PINTEREST, {"access_token": "p"}, {}),
    (Platform.INSTAGRAM, {"password": "pw"}, {}),
    (Platform.INSTAGRAM, {}, {"cookies": {"sessionid": "s"}}),
    (Platform.INSTAGRAM, {}, {}),
]


def _straightforward_accounts(post):
    """The accounts as the planner read them before: joined, decrypted, all at once."""
    return iter(list(target_accounts(post)))


def _per_account_way(monkeypatch):
    """Plan as before the shortcuts: model instances, secrets decrypted, every account validated."""
    monkeypatch.setattr(planner, "_accounts", _straightforward_accounts)
    monkeypatch.setattr(SandboxAdapter, "validate_reads_account", True)


def planned_both_ways(post, monkeypatch, seed: int) -> tuple[dict, dict]:
    """The post's dry-run plan, then the one the per-account way gives at the same moment."""
    now = timezone.now()
    plan = post_publish(post=post, dry_run=True, seed=seed, now=now).as_dict()
    _per_account_way(monkeypatch)
    return plan, post_publish(post=post, dry_run=True, seed=seed, now=now).as_dict()


def written_both_ways(post, monkeypatch, seed: int) -> tuple[dict, dict]:
    """The post's executions by account, as written, then as the per-account way and
    ``bulk_create`` write them."""
    now = timezone.now()
    columns = [f.attname for f in Execution._meta.concrete_fields if f.attname not in ("id", "created_at", "updated_at")]

    def rows():
        return {row.pop("account_id"): row for row in Execution.objects.filter(post=post).values(*columns)}

    post_publish(post=post, seed=seed, now=now)
    written = rows()
    Execution.objects.filter(post=post).delete()
    _per_account_way(monkeypatch)
    monkeypatch.setattr(planner, "_unnest_insert", lambda: False)
    post_publish(post=post, seed=seed, now=now)
    return written, rows()


@pytest.fixture
def mixed(workspace):
    """A post aimed at a group of every kind of account, some behind a proxy, some not active,
    some with another post's execution that pacing must respect."""
    group = AccountGroupFactory(workspace=workspace)
    proxy = ProxyFactory(workspace=workspace)
    accounts = []
    for round_ in range(3):
        for index, (platform, credentials, session) in enumerate(KINDS):
            accounts.append(
                SocialAccountFactory(
                    workspace=workspace,
                    group=group,
                    platform=platform,
                    credentials=credentials,
                    session=session,
                    language=("en", "de")[index % 2],
                    proxy=proxy if index % 3 == 0 else None,
                    status=(AccountStatus.ACTIVE, AccountStatus.BANNED, AccountStatus.COOLDOWN)[round_]
                    if index % 4 == 0
                    else AccountStatus.ACTIVE,
                    cooldown_until=timezone.now() + timedelta(hours=2),
                    warmup_started_at=timezone.now() - timedelta(days=index),
                )
            )
    PublishingPolicy.objects.create(
        workspace=workspace, platform=Platform.TELEGRAM, min_interval_s=600, stagger_min_s=30, stagger_max_s=90
    )
    other = PostFactory(workspace=workspace, media_type="text")
    for account in accounts[::5]:
        Execution.objects.create(
            workspace=workspace,
            post=other,
            account=account,
            language=account.language,
            scheduled_for=timezone.now() + timedelta(minutes=20),
            status=ExecutionStatus.PENDING,
        )
    post = PostFactory(workspace=workspace, media_type="text", caption="Hello #launch")
    post.target_groups.set([group])
    return post


@pytest.mark.django_db
def test_a_mixed_plan_is_the_one_the_straightforward_way_gives(mixed, monkeypatch):
    plan, reference = planned_both_ways(mixed, monkeypatch, seed=7)
    assert plan == reference
    statuses = {entry["status"] for entry in plan["accounts"]}
    assert statuses == {"planned", "blocked"}  # the comparison covers both
    problems = " ".join(" ".join(entry["problems"]) for entry in plan["accounts"])
    assert "bot token" in problems and "banned" in problems  # secrets were read where validate() reads them


@pytest.mark.django_db
def test_the_executions_are_the_ones_bulk_create_writes(mixed, monkeypatch):
    """On PostgreSQL the executions are inserted from arrays; on SQLite by ``bulk_create``: the
    rows are the same either way (the PostgreSQL run of this test compares the two)."""
    fast, reference = written_both_ways(mixed, monkeypatch, seed=7)
    assert fast == reference
    assert {row["status"] for row in fast.values()} == {ExecutionStatus.PENDING, ExecutionStatus.BLOCKED}
    assert all(row["raw_response"] == {} and row["attempts"] == 0 for row in fast.values())


@pytest.mark.django_db
def test_publishing_takes_as_many_queries_for_15_accounts_as_for_3(workspace):
    def queries_for(count: int) -> int:
        group = AccountGroupFactory(workspace=workspace)
        proxies = ProxyFactory.create_batch(2, workspace=workspace)
        SocialAccountFactory.create_batch(count, workspace=workspace, group=group, proxy=proxies[count % 2])
        SocialAccountFactory.create_batch(count, workspace=workspace, group=group, platform=Platform.TELEGRAM)
        post = PostFactory(workspace=workspace, media_type="text")
        post.target_groups.set([group])
        with CaptureQueriesContext(connection) as ctx:
            plan = post_publish(post=post)
        assert plan.created == count and plan.blocked == count  # the Telegram ones have no bot token
        assert Execution.objects.filter(post=post).count() == 2 * count
        return len(ctx.captured_queries)

    assert queries_for(3) == queries_for(15)


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_the_executions_are_the_ones_bulk_create_writes(mixed, monkeypatch):
    assert planner._unnest_insert()
    test_the_executions_are_the_ones_bulk_create_writes(mixed, monkeypatch)
