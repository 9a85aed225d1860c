"""The engine with real processes: Celery workers and beat on Redis, PostgreSQL underneath."""

import os
import signal
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db.models import F
from django.utils import timezone

from crosspost.models import Heartbeat
from media.models import MediaStatus, Rendition
from publishing.models import Execution, ExecutionStatus, SandboxPost
from publishing.planner import post_publish

from .emulators.instagram_graph import InstagramGraphEmulator, MediaHost
from .emulators.instagram_private import InstagramPrivateEmulator
from .emulators.pinterest import PinterestEmulator
from .emulators.telegram import TelegramEmulator
from .emulators.tiktok import TikTokEmulator
from .emulators.vk import VkEmulator
from .emulators.youtube import YouTubeEmulator
from .factories import (
    AccountGroupFactory,
    JpegAssetFactory,
    MediaAssetFactory,
    PostFactory,
    PostMediaFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    VideoAssetFactory,
)
from .support.stack import beat, flush_redis, kill_group, manage, stack_env, tasks_sent_to, wait_for, worker

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker():
    url = os.environ["TEST_REDIS_URL"]
    flush_redis(url)
    with tasks_sent_to(url):  # e.g. the render tasks post_publish enqueues, for the workers to run
        yield url
    flush_redis(url)


def fast_sandbox_post(workspace, count: int, start_in: float = 2.0):
    """A post to ``count`` sandbox accounts with pacing fast enough for a test."""
    PublishingPolicyFactory(workspace=workspace, platform="sandbox", fast=True)
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

    # A lease must outlast the publish time limit (settings refuse less), so both are short here; the
    # soft limit (7 s) still lets the 6 s publish run until the worker is killed.
    env = stack_env(broker, tmp_path, PUBLISH_LEASE_SECONDS=15, PUBLISH_TIME_LIMIT_SECONDS=14)
    with worker(env, concurrency=1, log=tmp_path / "worker.log") as proc:
        # The dispatcher leaves the execution pending until the worker has rendered the post's image.
        wait_for(
            lambda: not Rendition.objects.filter(status=MediaStatus.PENDING).exists(), timeout=60, message="the media to render"
        )
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
    wait_for(lambda: timezone.now() > execution.lease_expires_at, timeout=20, message="the lease to expire")
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


# --- exactly once through every platform's emulator ------------------------------------------------
# One builder per case: the emulator(s) started and the settings the workers need (as env vars),
# each account's credentials, options and target (its own chat / wall / creator / channel / board /
# Instagram user), the post's media, and the posts each target received, read from the emulator.


@dataclass(frozen=True)
class EmulatedPlatform:
    platform: str  # SocialAccount.platform
    count: int  # accounts, each with its own target
    start: Callable[[ExitStack], tuple[Any, dict]]  # → (emulator, env for the workers)
    account: Callable[[Any, int], tuple[dict, Any]]  # (emulator, index) → (SocialAccount fields, target)
    delivered: Callable[[Any], Counter]  # posts per target, from the emulator's state
    media_type: str = "text"
    asset: Callable[..., Any] | None = None  # the post's one media asset, a factory taking workspace=
    include: tuple[str, ...] = ()  # modules the worker imports (test seams)


def _telegram() -> EmulatedPlatform:
    def start(stack):
        tg = stack.enter_context(TelegramEmulator())
        return tg, {"TELEGRAM_API_BASE_URL": tg.url}

    def account(tg, index):
        token = f"{700000 + index}:token-{index}"
        tg.add_bot(token, username=f"bot{index}")
        chat = tg.add_chat(username=f"channel{index}", admins=[token])
        return {"credentials": {"bot_token": token}, "options": {"chat_id": f"@channel{index}"}}, chat["id"]

    return EmulatedPlatform("telegram", 60, start, account, lambda tg: Counter(message["chat"]["id"] for message in tg.messages))


def _vk() -> EmulatedPlatform:
    def start(stack):
        vk = stack.enter_context(VkEmulator())
        return vk, {"VK_API_BASE_URL": f"{vk.url}/method"}

    def account(vk, index):
        user_id, group_id = 100 + index, 5000 + index
        vk.add_user(user_id, f"vk-token-{index}")
        vk.add_group(group_id, f"Club {index}", f"club{group_id}", admins={user_id: 3})
        return {"credentials": {"access_token": f"vk-token-{index}"}, "options": {"owner_id": -group_id}}, -group_id

    return EmulatedPlatform(
        "vk", 60, start, account, lambda vk: Counter({owner: len(posts) for owner, posts in vk.walls.items() if posts})
    )


def _tiktok() -> EmulatedPlatform:
    """A video (its tiktok_video rendition, ~2.6 MB: one FILE_UPLOAD chunk, read from the shared
    MEDIA_ROOT), SELF_ONLY.

    The emulator answers the first status/fetch with PUBLISH_COMPLETE, so the adapter's 5 s
    poll_interval is never slept. (A photo post would only hand TikTok https URLs on a domain
    name, which the emulator does not fetch: the video path exercises more.)
    """

    def start(stack):
        tt = stack.enter_context(TikTokEmulator())
        tt.processing_polls = 0
        return tt, {"TIKTOK_API_BASE_URL": tt.url}

    def account(tt, index):
        tt.add_creator(f"act.token-{index}", refresh_token=f"rft.token-{index}", username=f"creator{index}")
        credentials = {
            "access_token": f"act.token-{index}",
            "refresh_token": f"rft.token-{index}",
            "client_key": "client-key-1",
            "client_secret": "client-secret-1",
        }
        return {"credentials": credentials}, f"creator{index}"

    # Every accepted init (not only the completed ones): a second init for a creator is a duplicate.
    def delivered(tt):
        return Counter(publish["creator"]["creator_username"] for publish in tt.publishes.values())

    return EmulatedPlatform("tiktok", 40, start, account, delivered, "video", VideoAssetFactory)


def _youtube() -> EmulatedPlatform:
    """A video (its youtube_video rendition, ~2.3 MB) in 256 KiB resumable chunks; each channel's own
    refresh token is exchanged at the emulated Google token endpoint first. Processing is reported done
    on the first check, so processing_interval is never slept."""

    def start(stack):
        yt = stack.enter_context(YouTubeEmulator())
        yt.processing_polls = 0
        env = {
            "YOUTUBE_API_BASE_URL": yt.url,
            "GOOGLE_OAUTH_TOKEN_URL": f"{yt.url}/token",
            "YOUTUBE_UPLOAD_CHUNK_BYTES": 256 * 1024,
        }
        return yt, env

    def account(yt, index):
        credentials = {
            "refresh_token": f"1//refresh-{index}",
            "client_id": "cid.apps.googleusercontent.com",
            "client_secret": "s",
        }
        channel = yt.add_channel(title=f"Channel {index}", **credentials)
        return {"credentials": credentials}, channel["id"]

    return EmulatedPlatform(
        "youtube",
        40,
        start,
        account,
        lambda yt: Counter(v["channel"]["id"] for v in yt.videos.values()),
        "video",
        VideoAssetFactory,
    )


def _pinterest() -> EmulatedPlatform:
    """An image Pin sent inline (image_base64: no PUBLIC_MEDIA_BASE_URL), each account pinning to its own board."""

    def start(stack):
        pin = stack.enter_context(PinterestEmulator())
        return pin, {"PINTEREST_API_BASE_URL": f"{pin.url}/v5", "PUBLIC_MEDIA_BASE_URL": ""}

    def account(pin, index):
        token = f"pina_token-{index}"
        pin.add_user(token, refresh_token=f"pinr_token-{index}", username=f"pinner{index}")
        board = pin.add_board(token, name=f"Board {index}")
        credentials = {
            "access_token": token,
            "refresh_token": f"pinr_token-{index}",
            "client_id": "1500001",
            "client_secret": "pinterest-client-secret",
        }
        return {"credentials": credentials, "options": {"board_id": board["id"]}}, board["id"]

    return EmulatedPlatform(
        "pinterest", 40, start, account, lambda pin: Counter(p["board_id"] for p in pin.pins), "photo", MediaAssetFactory
    )


def _instagram_graph() -> EmulatedPlatform:
    """A JPEG photo Meta fetches from PUBLIC_MEDIA_BASE_URL: MEDIA_ROOT served on loopback (MediaHost).

    An image container is FINISHED when created, so graph.POLL_DELAYS is never slept."""

    def start(stack):
        meta = stack.enter_context(InstagramGraphEmulator())
        host = stack.enter_context(MediaHost(django_settings.MEDIA_ROOT))
        return meta, {"INSTAGRAM_GRAPH_BASE_URL": meta.base_url, "PUBLIC_MEDIA_BASE_URL": host.url}

    def account(meta, index):
        ig_user_id, token = f"{17841400000000000 + index}", f"EAAGraphToken-{index}"
        meta.add_account(ig_user_id, token, f"business{index}")
        return {"credentials": {"access_token": token}, "options": {"ig_user_id": ig_user_id}}, ig_user_id

    return EmulatedPlatform(
        "instagram", 40, start, account, lambda meta: Counter(m.owner for m in meta.media.values()), "photo", JpegAssetFactory
    )


def _instagram_private() -> EmulatedPlatform:
    """instagrapi logs in with each account's password and uploads a photo.

    instagrapi has no base-URL setting: the adapter's ``client_hooks`` test seam is a list in
    the process's memory, so the worker imports tests.support.worker_seams, which appends the
    emulator's URL-rewriting hook in every pool process (INSTAGRAM_PRIVATE_EMULATOR_URL). Fewer
    accounts: instagrapi's photo_upload sleeps 3 s before configuring, in every publish.
    """

    def start(stack):
        ig = stack.enter_context(InstagramPrivateEmulator())
        return ig, {"INSTAGRAM_PRIVATE_EMULATOR_URL": ig.url, "INSTAGRAM_PRIVATE_REQUEST_DELAY_SECONDS": 0}

    def account(ig, index):
        username, password = f"instagram{index}", f"Pa55word-{index}"
        ig.add_user(username, password)
        return {"handle": username, "credentials": {"password": password}}, username

    return EmulatedPlatform(
        "instagram",
        12,
        start,
        account,
        lambda ig: Counter({user.username: len(user.medias) for user in ig.users.values() if user.medias}),
        "photo",
        MediaAssetFactory,
        include=("tests.support.worker_seams",),
    )


EMULATED = {
    "telegram": _telegram,
    "vk": _vk,
    "tiktok": _tiktok,
    "youtube": _youtube,
    "pinterest": _pinterest,
    "instagram-graph": _instagram_graph,
    "instagram-private": _instagram_private,
}


@pytest.mark.parametrize("case", list(EMULATED))
def test_it_publishes_exactly_once_through_a_platform_emulator(workspace, broker, tmp_path, settings, case):
    """4 worker processes, one account per target on a loopback platform emulator: one post arrives per target."""
    spec = EMULATED[case]()
    PublishingPolicyFactory(workspace=workspace, platform=spec.platform, fast=True)
    group = AccountGroupFactory(workspace=workspace)
    with ExitStack() as stack:
        emulator, platform_env = spec.start(stack)
        for name, value in platform_env.items():  # the planner validates here with what the workers get
            if hasattr(django_settings, name):
                setattr(settings, name, value)
        targets = []
        for index in range(spec.count):
            fields, target = spec.account(emulator, index)
            SocialAccountFactory(
                workspace=workspace, platform=spec.platform, group=group, **{"handle": f"{case}{index}", "options": {}, **fields}
            )
            targets.append(target)
        post = PostFactory(workspace=workspace, media_type=spec.media_type, caption="Exactly once #test")
        if spec.asset:
            PostMediaFactory(post=post, asset=spec.asset(workspace=workspace))
        post.target_groups.set([group])
        plan = post_publish(post=post)
        assert plan.created == spec.count, plan.as_dict()

        env = stack_env(
            broker, tmp_path, DISPATCH_INTERVAL_SECONDS=1, MEDIA_X264_PRESET=settings.MEDIA_X264_PRESET, **platform_env
        )
        with worker(env, concurrency=4, log=tmp_path / "worker.log", include=spec.include):
            for _ in range(30):
                manage(env, "dispatch_now")
                if not Execution.objects.filter(post=post).exclude(status=ExecutionStatus.SUCCESS).exists():
                    break
            wait_for(
                lambda: not Execution.objects.filter(post=post).exclude(status=ExecutionStatus.SUCCESS).exists(),
                timeout=120,
                message="every execution to succeed",
            )
        delivered = spec.delivered(emulator)
    assert dict(delivered) == dict.fromkeys(targets, 1), "a target received the post more or less than once"
    assert Execution.objects.filter(post=post, attempts=1).count() == spec.count
    post.refresh_from_db()
    assert post.status == "completed"
