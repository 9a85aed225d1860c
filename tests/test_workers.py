"""The engine with real processes: Celery workers and beat on Redis, PostgreSQL underneath."""

import os
import signal
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from crosspost.models import Heartbeat
from publishing.models import Execution, ExecutionStatus, SandboxPost
from publishing.planner import post_publish

from .factories import AccountGroupFactory, PostFactory, PostMediaFactory, PublishingPolicyFactory, SocialAccountFactory
from .support.stack import beat, flush_redis, kill_group, manage, stack_env, wait_for, worker

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker():
    url = os.environ["TEST_REDIS_URL"]
    flush_redis(url)
    yield url
    flush_redis(url)


def fast_sandbox_post(workspace, count: int, start_in: float = 2.0):
    """A post to ``count`` sandbox accounts with pacing fast enough for a test."""
    PublishingPolicyFactory(
        workspace=workspace,
        platform="sandbox",
        min_interval_s=1,
        stagger_min_s=0,
        stagger_max_s=0,
        daily_limit=100,
        warmup_curve=[100],
        warmup_ramp_days=0,
    )
    group = AccountGroupFactory(workspace=workspace)
    SocialAccountFactory.create_batch(count, workspace=workspace, group=group)
    post = PostFactory(workspace=workspace, scheduled_at=timezone.now() + timedelta(seconds=start_in))
    PostMediaFactory(post=post)
    post.target_groups.set([group])
    return post


def test_it_publishes_500_executions_exactly_once_with_4_worker_processes(workspace, broker, tmp_path):
    post = fast_sandbox_post(workspace, 500, start_in=3.0)
    # Spread the executions over a few seconds so the dispatcher works in several rounds.
    plan = post_publish(post=post)
    assert plan.created == 500
    executions = list(Execution.objects.filter(post=post).order_by("pk"))
    for index, execution in enumerate(executions):
        Execution.objects.filter(pk=execution.pk).update(scheduled_for=post.scheduled_at + timedelta(milliseconds=10 * index))

    env = stack_env(broker, tmp_path, DISPATCH_INTERVAL_SECONDS=1, LEASE_SWEEP_INTERVAL_SECONDS=2, HEARTBEAT_INTERVAL_SECONDS=1)
    manage(env, "setup_periodic_tasks")
    with worker(env, concurrency=4, log=tmp_path / "worker.log"), beat(env, log=tmp_path / "beat.log"):
        wait_for(
            lambda: not Execution.objects.filter(post=post).exclude(status=ExecutionStatus.SUCCESS).exists(),
            timeout=180,
            message="every execution to succeed",
        )
        # Liveness reached /health/'s data through the real beat and worker.
        assert {h.name for h in Heartbeat.objects.all()} == {"worker", "beat"}

    markers = Counter(SandboxPost.objects.filter(account__workspace=workspace).values_list("marker", flat=True))
    assert len(markers) == 500
    assert max(markers.values()) == 1, "an execution was published twice"
    assert set(markers) == {f"cp-{e.pk}" for e in executions}
    assert Execution.objects.filter(post=post, attempts=1).count() == 500
    # Never early: each post appeared at or after its execution's scheduled time.
    early = Execution.objects.filter(post=post, started_at__lt=F("scheduled_for"))
    assert not early.exists()
    post.refresh_from_db()
    assert post.status == "completed"


@pytest.mark.parametrize("published_before_crash", [False, True])
def test_it_reconciles_a_worker_killed_mid_publish_without_a_duplicate(workspace, broker, tmp_path, published_before_crash):
    post = fast_sandbox_post(workspace, 1, start_in=0)
    account = post.target_groups.get().accounts.get()
    account.options = {"delay_after_ms": 6000} if published_before_crash else {"delay_ms": 6000}
    account.save()
    post_publish(post=post)
    execution = Execution.objects.get(post=post)

    env = stack_env(broker, tmp_path, PUBLISH_LEASE_SECONDS=2)
    with worker(env, concurrency=1, log=tmp_path / "worker.log") as proc:
        manage(env, "dispatch_now")
        wait_for(
            lambda: Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.POSTING).exists(),
            timeout=30,
            message="the publish to start",
        )
        if published_before_crash:
            wait_for(
                lambda: SandboxPost.objects.filter(marker=f"cp-{execution.pk}").exists(),
                timeout=10,
                message="the platform to accept the post",
            )
        kill_group(proc, signal.SIGKILL)  # the whole worker, children included, mid-publish

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.POSTING
    wait_for(lambda: timezone.now() > execution.lease_expires_at, timeout=10, message="the lease to expire")
    account.options = {}
    account.save()

    out = manage(env, "dispatch_now", "--sweep")
    assert "'unconfirmed': 1" in out
    with worker(env, concurrency=1, log=tmp_path / "worker2.log"):
        manage(env, "dispatch_now")
        wait_for(
            lambda: Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.SUCCESS).exists(),
            timeout=60,
            message="the execution to settle",
        )

    execution.refresh_from_db()
    assert SandboxPost.objects.filter(marker=f"cp-{execution.pk}").count() == 1
    if published_before_crash:
        assert execution.raw_response.get("found_by") == "lookup" and execution.attempts == 1
    else:
        assert execution.attempts == 2


@pytest.mark.parametrize("platform", ["telegram", "vk"])
def test_it_publishes_exactly_once_through_a_platform_emulator(workspace, broker, tmp_path, platform):
    """4 worker processes, 60 accounts each with its own chat/wall: one post arrives per target."""
    from .emulators.telegram import TelegramEmulator
    from .emulators.vk import VkEmulator

    count = 60
    PublishingPolicyFactory(
        workspace=workspace,
        platform=platform,
        min_interval_s=1,
        stagger_min_s=0,
        stagger_max_s=0,
        daily_limit=100,
        warmup_curve=[100],
        warmup_ramp_days=0,
    )
    group = AccountGroupFactory(workspace=workspace)
    emulator = TelegramEmulator() if platform == "telegram" else VkEmulator()
    with emulator:
        targets = []
        for index in range(count):
            if platform == "telegram":
                token = f"{700000 + index}:token-{index}"
                emulator.add_bot(token, username=f"bot{index}")
                chat = emulator.add_chat(username=f"channel{index}", admins=[token])
                credentials, options, target = {"bot_token": token}, {"chat_id": f"@channel{index}"}, chat["id"]
            else:
                user_id, group_id = 100 + index, 5000 + index
                emulator.add_user(user_id, f"vk-token-{index}")
                emulator.add_group(group_id, f"Club {index}", f"club{group_id}", admins={user_id: 3})
                credentials, options, target = {"access_token": f"vk-token-{index}"}, {"owner_id": -group_id}, -group_id
            SocialAccountFactory(
                workspace=workspace,
                platform=platform,
                group=group,
                handle=f"{platform}{index}",
                credentials=credentials,
                options=options,
            )
            targets.append(target)
        post = PostFactory(workspace=workspace, media_type="text", caption="Exactly once #test")
        post.target_groups.set([group])
        assert post_publish(post=post).created == count

        base_url = emulator.url if platform == "telegram" else f"{emulator.url}/method"
        env = stack_env(broker, tmp_path, DISPATCH_INTERVAL_SECONDS=1, TELEGRAM_API_BASE_URL=base_url, VK_API_BASE_URL=base_url)
        with worker(env, concurrency=4, log=tmp_path / "worker.log"):
            for _ in range(30):
                manage(env, "dispatch_now")
                if not Execution.objects.filter(post=post).exclude(status=ExecutionStatus.SUCCESS).exists():
                    break
            wait_for(
                lambda: not Execution.objects.filter(post=post).exclude(status=ExecutionStatus.SUCCESS).exists(),
                timeout=120,
                message="every execution to succeed",
            )
        if platform == "telegram":
            delivered = Counter(message["chat"]["id"] for message in emulator.messages)
        else:
            delivered = Counter({owner: len(posts) for owner, posts in emulator.walls.items()})
    assert set(delivered) == set(targets)
    assert max(delivered.values()) == 1, "a target received the post twice"
    assert Execution.objects.filter(post=post, attempts=1).count() == count
