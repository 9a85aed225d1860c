"""Issue 13, end to end: a Telegram channel album (2 photos + 1 video naming a Wildberries article)
arrives through the loopback Bot API — by polling and by webhook — and becomes ONE post with its
3 media and product facts, an AI caption per platform (the OpenAI emulator), rendered and
published to the Telegram, VK, Instagram, TikTok and YouTube emulators through the seven pipeline
stages; the admin chat gets one summary with 5 links. Replayed updates make nothing new.

Every hop is the product's own code: ingest (sources.services), the pipeline's stage tasks chained
after commit (eager here), the planner, renditions, the dispatcher and the publisher
(tests.support.engine.drain, as a worker would run them) and finalize's summary."""

import hashlib
import json
import re
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import Role
from crosspost.celery import app as celery_app
from media.models import MediaAsset, Rendition
from media.services import media_upload
from platforms.instagram import graph
from platforms.tiktok import TikTokAdapter
from platforms.vk import VkAdapter
from platforms.youtube import YouTubeAdapter
from posts.models import CaptionMode, Post, Stage
from posts.pipeline import stages_of
from products.models import Product
from publishing.adapters import platform_media
from publishing.models import OPEN_EXECUTION_STATUSES, CaptionStatus, Execution, ExecutionStatus, PostCaption
from sources.models import IngestItem, IngestMode, IngestRecord, Source
from sources.services import source_ingest_due, source_poll

from .emulators.instagram_graph import InstagramGraphEmulator, MediaHost
from .emulators.openai import OpenAIEmulator
from .emulators.telegram import TelegramEmulator
from .emulators.tiktok import TikTokEmulator
from .emulators.vk import VkEmulator
from .emulators.wildberries import SAMPLE_CARD, WildberriesEmulator
from .emulators.youtube import YouTubeEmulator
from .factories import MediaAssetFactory, PublishingPolicyFactory, SocialAccountFactory, png_bytes
from .support.engine import drain
from .support.stack import ROOT, database_url_for_subprocesses, manage, stack_env, wait_for
from .test_media import make_video

SOURCE_TOKEN = "7012345678:AAHsourceBot-reads-the-channel"
PUBLISH_TOKEN = "7023456789:AAHpublishBot-posts-to-the-channel"
ADMIN_TOKEN = "7034567890:AAHadminBot-tells-the-operators"
ARTICLE = 123456789
CAPTION = f"Новое платье из льна — арт. {ARTICLE}"
VK_USER, VK_TOKEN, VK_GROUP = 501, "vk1.a.e2e-user-token", 77
IG_USER, IG_TOKEN = "17841400000000077", "EAAGe2eGraphToken"
TT_TOKEN, TT_REFRESH = "act.e2e!TikTokToken", "rft.e2e!TikTokRefresh"
YT_REFRESH, YT_CLIENT, YT_SECRET = "1//0gE2eRefresh", "e2e.apps.googleusercontent.com", "GOCSPX-e2e"
PLATFORMS = ("instagram", "telegram", "tiktok", "vk", "youtube")


@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("video") / "clip.mp4", size=(64, 64), seconds=3, fps=5, audio=False).read_bytes()


@pytest.fixture
def eager(settings):
    """Tasks enqueued after commit (publish_post, render_asset, send_notification) run in-process."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def platforms(settings, monkeypatch, eager):
    """Every emulator the journey touches, with the settings pointing at them and no waiting between polls."""
    monkeypatch.setattr(VkAdapter, "call_interval", 0)
    monkeypatch.setattr(graph, "POLL_DELAYS", (0,) * 6)
    monkeypatch.setattr(TikTokAdapter, "poll_interval", 0)
    monkeypatch.setattr(TikTokAdapter, "chunk_retry_delay", 0)
    monkeypatch.setattr(YouTubeAdapter, "retry_delay", 0)
    monkeypatch.setattr(YouTubeAdapter, "processing_interval", 0)
    card = {**SAMPLE_CARD, "id": ARTICLE}
    with (
        TelegramEmulator() as telegram,
        VkEmulator() as vk,
        MediaHost(settings.MEDIA_ROOT) as host,
        InstagramGraphEmulator(processing_polls=1) as meta,
        TikTokEmulator() as tiktok,
        YouTubeEmulator() as youtube,
        WildberriesEmulator({ARTICLE: card}) as wildberries,
        OpenAIEmulator() as openai,
    ):
        settings.OPENAI_API_KEY = openai.api_key
        settings.OPENAI_BASE_URL = openai.url + "/v1"
        settings.DEEPL_API_KEY = ""
        settings.TELEGRAM_API_BASE_URL = telegram.url
        settings.VK_API_BASE_URL = f"{vk.url}/method"
        settings.PUBLIC_MEDIA_BASE_URL = host.url
        settings.INSTAGRAM_GRAPH_BASE_URL = meta.base_url
        settings.TIKTOK_API_BASE_URL = tiktok.url
        settings.YOUTUBE_API_BASE_URL = youtube.url
        settings.GOOGLE_OAUTH_TOKEN_URL = f"{youtube.url}/token"
        settings.WB_CARD_BASE_URL = wildberries.url
        settings.TELEGRAM_ADMIN_BOT_TOKEN = ADMIN_TOKEN
        settings.SOURCE_ALBUM_WINDOW_SECONDS = 3
        for token, name in ((SOURCE_TOKEN, "drops_reader_bot"), (PUBLISH_TOKEN, "drops_poster_bot"), (ADMIN_TOKEN, "ops_bot")):
            telegram.add_bot(token, username=name)
        vk.add_user(VK_USER, VK_TOKEN)
        vk.add_group(VK_GROUP, "Drops", "drops", admins={VK_USER: 3})
        meta.add_account(IG_USER, IG_TOKEN, "drops.shop")
        tiktok.add_creator(TT_TOKEN, refresh_token=TT_REFRESH, username="drops")
        youtube.add_channel(refresh_token=YT_REFRESH, client_id=YT_CLIENT, client_secret=YT_SECRET)
        yield {
            "telegram": telegram,
            "vk": vk,
            "instagram": meta,
            "tiktok": tiktok,
            "youtube": youtube,
            "wb": wildberries,
            "openai": openai,
        }


@pytest.fixture
def journey(workspace, platforms):
    """A channel the source bot administers, a shop channel the publishing bot posts to, the admin chat,
    five accounts on their emulators with unpaced policies, and a source publishing automatically to them."""
    telegram = platforms["telegram"]
    channel = telegram.add_chat(title="Drops", admins=[SOURCE_TOKEN])
    shop = telegram.add_chat(title="Drops shop", username="drops_shop", admins=[PUBLISH_TOKEN])
    admin_chat = telegram.add_chat(chat_type="group", title="Operators", members=[ADMIN_TOKEN])
    workspace.telegram_admin_chat_id = str(admin_chat["id"])
    workspace.save(update_fields=["telegram_admin_chat_id"])
    accounts = [
        SocialAccountFactory(
            workspace=workspace,
            platform="telegram",
            handle="@drops_shop",
            credentials={"bot_token": PUBLISH_TOKEN},
            options={"chat_id": "@drops_shop"},
        ),
        SocialAccountFactory(
            workspace=workspace,
            platform="vk",
            handle="club77",
            credentials={"access_token": VK_TOKEN},
            options={"owner_id": -VK_GROUP},
        ),
        SocialAccountFactory(
            workspace=workspace,
            platform="instagram",
            handle="drops.shop",
            credentials={"access_token": IG_TOKEN},
            options={"ig_user_id": IG_USER},
        ),
        SocialAccountFactory(
            workspace=workspace,
            platform="tiktok",
            handle="@drops",
            credentials={"access_token": TT_TOKEN, "refresh_token": TT_REFRESH, "client_key": "ck", "client_secret": "cs"},
            options={"privacy_level": "PUBLIC_TO_EVERYONE"},  # a public post has a link
        ),
        SocialAccountFactory(
            workspace=workspace,
            platform="youtube",
            handle="Drops",
            credentials={"refresh_token": YT_REFRESH, "client_id": YT_CLIENT, "client_secret": YT_SECRET},
            options={},
        ),
    ]
    for platform in PLATFORMS:
        PublishingPolicyFactory(workspace=workspace, platform=platform, fast=True)
    source = Source.objects.create(
        workspace=workspace,
        name="Drops",
        options={"chat_id": str(channel["id"])},
        secret={"bot_token": SOURCE_TOKEN},
        mode=IngestMode.PUBLISH,
        caption_mode=CaptionMode.AI,
    )
    source.target_accounts.set(accounts)
    return {"channel": channel, "shop": shop, "admin_chat": admin_chat, "source": source, "accounts": accounts}


def post_album(telegram, channel, video_bytes) -> list[dict]:
    """2 photos + 1 video sharing a media_group_id, the caption (with the WB article) on the first part."""
    first = telegram.add_file(png_bytes(64, 48, (200, 40, 40)))
    second = telegram.add_file(png_bytes(48, 64, (40, 200, 40)))
    clip = telegram.add_file(video_bytes, suffix="mp4")
    group = "13913131313131313"
    return [
        telegram.channel_post(SOURCE_TOKEN, channel, media_group_id=group, caption=CAPTION, **telegram.photo_content(first)),
        telegram.channel_post(SOURCE_TOKEN, channel, media_group_id=group, **telegram.photo_content(second)),
        telegram.channel_post(SOURCE_TOKEN, channel, media_group_id=group, **telegram.video_content(clip)),
    ]


def later():
    """A moment past the album window: every part has arrived."""
    return timezone.now() + timedelta(seconds=10)


def deliver_by_polling(source, telegram, client, updates, *, replay=False):
    """getUpdates rounds, as the beat runs them."""
    if replay:  # Telegram hands them out again, as after a lost offset
        Source.objects.filter(pk=source.pk).update(update_offset=0)
        source.refresh_from_db()
        telegram.updates[SOURCE_TOKEN].extend(updates)
    assert source_poll(source=source, now=later()) == len(updates)  # stored, the album made past its window
    assert source_poll(source=source, now=later()) == 0  # the next getUpdates confirms them


def deliver_by_webhook(source, telegram, client, updates, *, replay=False):
    """Telegram POSTs each update (again, on a replay: it retries what it thinks failed)."""
    for update in updates:
        response = client.post(
            f"/hooks/telegram/{source.pk}/",
            update,
            content_type="application/json",
            headers={"X-Telegram-Bot-Api-Secret-Token": source.webhook_secret},
        )
        assert response.status_code == 200, response.content
    source_ingest_due(source=source, now=later())  # the album's window has passed


DELIVERIES = {"polling": deliver_by_polling, "webhook": deliver_by_webhook}


def run_engine(post, rounds: int = 10) -> list[Execution]:
    """Dispatch and publish (renders included) until every execution of ``post`` is terminal."""
    for _round in range(rounds):
        drain()
        executions = list(Execution.objects.filter(post=post).select_related("account"))
        if executions and all(e.status not in OPEN_EXECUTION_STATUSES for e in executions):
            return executions
    pytest.fail(f"executions not terminal: {[(e.account.platform, e.status, e.error_message) for e in executions]}")


def summaries(telegram, admin_chat) -> list[str]:
    return [m.get("text", "") for m in telegram.messages if m["chat"]["id"] == admin_chat["id"]]


@pytest.mark.django_db(transaction=True)  # real commits: every on_commit hop runs as in production
@pytest.mark.parametrize("delivery", ["polling", "webhook"])
def test_an_album_from_the_channel_is_published_everywhere_once(delivery, api, client, platforms, journey, video_bytes):
    telegram, source = platforms["telegram"], journey["source"]
    if delivery == "webhook":
        response = api(Role.ADMIN, source.workspace).post(
            f"/api/v1/sources/{source.pk}/webhook/",
            {"url": f"https://crosspost.example/hooks/telegram/{source.pk}/"},
            format="json",
        )
        assert response.status_code == 200, response.content
        source.refresh_from_db()
    deliver = DELIVERIES[delivery]

    updates = post_album(telegram, journey["channel"], video_bytes)
    deliver(source, telegram, client, updates)

    # One post, its 3 media in the album's order, the product it names with the facts fetched.
    post = Post.objects.get()
    media = list(post.media.order_by("position").select_related("asset"))
    assert [m.asset.kind for m in media] == ["image", "image", "video"]
    assert [(m.asset.width, m.asset.height) for m in media[:2]] == [(64, 48), (48, 64)]
    assert post.caption == CAPTION
    assert post.options["product"] == {"marketplace": "wildberries", "article": ARTICLE}
    assert IngestRecord.objects.get(source=source).post == post

    executions = run_engine(post)
    product = Product.objects.get(marketplace="wildberries", article=ARTICLE)
    assert (product.title, product.error_code) == (SAMPLE_CARD["name"], "")
    assert [r.param("nm") for r in platforms["wb"].requests] == [str(ARTICLE)]  # asked once, then cached
    rendered = set(Rendition.objects.filter(asset__post_media__post=post, status="ready").values_list("profile", flat=True))
    assert {"instagram_feed_image", "instagram_feed_video", "tiktok_video", "youtube_video", "vk_video"} <= rendered

    # One AI caption per platform (all five accounts write English: five LLM calls, not one per
    # account or per attempt), written with the product's facts, and each published as stored.
    calls = platforms["openai"].completion_calls
    asked = sorted((p["platform"], p["language"]) for p in map(platforms["openai"].user_payload, calls))
    assert asked == [(platform, "en") for platform in PLATFORMS]
    assert all(platforms["openai"].user_payload(call)["facts"]["title"] == SAMPLE_CARD["name"] for call in calls)
    captions = {c.platform: c for c in PostCaption.objects.filter(post=post)}
    assert sorted(captions) == list(PLATFORMS)
    assert all(c.status == CaptionStatus.OK and c.language == "en" for c in captions.values())
    assert {e.account.platform: e.caption for e in executions} == {p: c.caption for p, c in captions.items()}
    assert all(e.caption != CAPTION for e in executions)  # never the raw channel text

    # The seven stages, in order, each with its start and end.
    stages = stages_of(post)
    assert [s.stage for s in stages] == list(Stage.values)
    assert [s.status for s in stages] == ["done"] * 7, [(s.stage, s.status, s.error) for s in stages]
    assert all(s.started_at and s.finished_at and s.started_at <= s.finished_at for s in stages)
    assert [s.started_at for s in stages] == sorted(s.started_at for s in stages)

    by_platform = {e.account.platform: e for e in executions}
    assert {p: (e.status, e.error_message) for p, e in by_platform.items()} == dict.fromkeys(
        PLATFORMS, (ExecutionStatus.SUCCESS, "")
    )
    links = sorted(e.remote_url for e in executions)
    assert all(link.startswith("https://") for link in links), links

    # Each platform got it in the form it takes: the album where albums may mix photos and videos,
    # the video where they may not (TikTok photo posts, YouTube).
    [album] = [r for r in telegram.requests if r.path == f"/bot{PUBLISH_TOKEN}/sendMediaGroup"]
    assert [item["type"] for item in json.loads(album.param("media"))] == ["photo", "photo", "video"]
    [wall_post] = [r for r in platforms["vk"].requests if r.path == "/method/wall.post"]
    assert len(wall_post.param("attachments").split(",")) == 3
    assert len([r for r in platforms["instagram"].requests if r.path.endswith("/media_publish")]) == 1
    assert len(platforms["tiktok"].calls("video/init")) == 1
    assert len(platforms["youtube"].uploads()) >= 1

    # One summary in the admin chat, with the five links.
    [summary] = summaries(telegram, journey["admin_chat"])
    assert sorted(re.findall(r"https://\S+", summary)) == links
    assert "Published 5 of 5, failed 0." in summary

    # The same updates again: nothing new anywhere.
    executions_before = Execution.objects.count()
    deliver(source, telegram, client, updates, replay=True)
    drain()
    assert Post.objects.count() == 1 and IngestItem.objects.count() == 3
    assert Execution.objects.count() == executions_before
    assert len(summaries(telegram, journey["admin_chat"])) == 1
    assert len(platforms["openai"].completion_calls) == len(PLATFORMS)  # the stored captions serve again


@pytest.mark.parametrize(
    ("platform", "kinds", "expected"),
    [
        ("youtube", ["image", "image", "video"], ("video", [2])),
        ("tiktok", ["image", "image", "video"], ("video", [2])),
        ("pinterest", ["video", "image", "video"], ("video", [0])),
        ("tiktok", ["image", "image"], ("carousel", [0, 1])),  # a photo post, as it is
        ("instagram", ["image", "image", "video"], ("carousel", [0, 1, 2])),
        ("telegram", ["image", "video"], ("carousel", [0, 1])),
        ("youtube", ["image", "image"], ("carousel", [0, 1])),  # nothing it can take: validate() says so
    ],
)
def test_an_album_goes_to_each_platform_in_the_form_it_takes(workspace, platform, kinds, expected):
    assets = [MediaAssetFactory(workspace=workspace, kind=kind) for kind in kinds]
    media_type, chosen = platform_media(platform=platform, media_type="carousel", assets=assets)
    assert (media_type, [assets.index(asset) for asset in chosen]) == expected
    assert platform_media(platform=platform, media_type="photo", assets=assets[:1]) == ("photo", assets[:1])


# --- a real crash -----------------------------------------------------------------------------------


def stored_files(root) -> set[str]:
    return {str(path.relative_to(root)) for path in Path(root).rglob("*") if path.is_file()}


@pytest.mark.postgres  # the ingest runs in child processes: they need the test database on a server
@pytest.mark.django_db(transaction=True)
def test_killing_the_ingest_process_mid_download_loses_nothing_and_doubles_nothing(workspace, settings, video_bytes, tmp_path):
    """``manage.py poll_sources`` is SIGKILLed while it downloads the album's last file — after the
    updates were stored and the first files fetched, before the post's transaction. The next run
    makes the post once, with every file, and leaves no file behind that no row points at."""
    with TelegramEmulator() as telegram:
        telegram.add_bot(SOURCE_TOKEN, username="drops_reader_bot")
        channel = telegram.add_chat(title="Drops", admins=[SOURCE_TOKEN])
        source = Source.objects.create(
            workspace=workspace, name="Drops", options={"chat_id": str(channel["id"])}, secret={"bot_token": SOURCE_TOKEN}
        )
        first, second = telegram.add_file(png_bytes(64, 48)), telegram.add_file(png_bytes(48, 64))
        clip = telegram.add_file(video_bytes, suffix="mp4", stall=60)
        group = "13900000000000042"
        updates = [
            telegram.channel_post(SOURCE_TOKEN, channel, media_group_id=group, caption=CAPTION, **telegram.photo_content(first)),
            telegram.channel_post(SOURCE_TOKEN, channel, media_group_id=group, **telegram.photo_content(second)),
            telegram.channel_post(SOURCE_TOKEN, channel, media_group_id=group, **telegram.video_content(clip)),
        ]
        env = stack_env(
            "filesystem://localhost/",
            tmp_path / "var",
            TELEGRAM_API_BASE_URL=telegram.url,
            SOURCE_ALBUM_WINDOW_SECONDS=0,  # the album is made in the same run that stores it
            LOG_LEVEL="WARNING",
        )
        command = [sys.executable, "manage.py", "poll_sources", "--source", str(source.pk)]
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            clip_path = telegram.files[clip]["path"]
            wait_for(lambda: any(r.path.endswith(clip_path) for r in telegram.requests), 60, message="the video's download")
            child.send_signal(signal.SIGKILL)  # no handler, no finally: what an OOM kill or a power cut does
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
        assert child.returncode == -signal.SIGKILL
        downloaded = [r.path for r in telegram.requests if r.path.startswith("/file/")]
        assert [path.rsplit("/", 2)[-2:] for path in downloaded] == [
            telegram.files[file_id]["path"].split("/") for file_id in (first, second, clip)
        ]  # the photos were in, the video on its way
        assert not Post.objects.exists() and not IngestRecord.objects.exists()
        items = IngestItem.objects.filter(source=source)
        assert [(i.status, i.attempts) for i in items] == [("pending", 1)] * 3  # stored, tried once: nothing lost

        output = manage(env, "poll_sources", "--source", str(source.pk))
        assert "0 updates" in output  # the updates were stored before the crash, none is asked for again

    post = Post.objects.get()
    assert post.caption == CAPTION
    media = list(post.media.order_by("position").select_related("asset"))
    assert [m.asset.kind for m in media] == ["image", "image", "video"]
    assert IngestRecord.objects.get(source=source).post == post
    assert set(IngestItem.objects.values_list("status", flat=True)) == {"done"}
    source.refresh_from_db()
    assert source.update_offset == updates[-1]["update_id"] + 1
    assert stored_files(settings.MEDIA_ROOT) == {m.asset.file.name for m in media}  # no orphan, none missing


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_killing_the_ingest_process_while_it_stores_the_files_leaves_no_orphan_file(workspace, settings, video_bytes, tmp_path):
    """The other end of the window: ``poll_sources`` has downloaded the album and written two files
    to storage when it is SIGKILLed inside the transaction that would record them (held there by
    this test's uncommitted asset row with the second photo's hash: the unique index makes the
    insert wait). The next run makes the post once, and storage keeps exactly the files its rows name."""
    with TelegramEmulator() as telegram:
        telegram.add_bot(SOURCE_TOKEN, username="drops_reader_bot")
        channel = telegram.add_chat(title="Drops", admins=[SOURCE_TOKEN])
        source = Source.objects.create(
            workspace=workspace, name="Drops", options={"chat_id": str(channel["id"])}, secret={"bot_token": SOURCE_TOKEN}
        )
        updates = post_album(telegram, channel, video_bytes)
        second = telegram.files[updates[1]["channel_post"]["photo"][-1]["file_id"]]["content"]
        env = stack_env(
            "filesystem://localhost/", tmp_path / "var", TELEGRAM_API_BASE_URL=telegram.url, SOURCE_ALBUM_WINDOW_SECONDS=0
        )
        command = [sys.executable, "manage.py", "poll_sources", "--source", str(source.pk)]
        url = database_url_for_subprocesses()
        with psycopg.connect(url) as blocker, psycopg.connect(url, autocommit=True) as watcher:
            blocker.execute(
                "INSERT INTO media_mediaasset (workspace_id, file, original_name, sha256, mime, kind, size, codecs, status, "
                "error, created_at) VALUES (%s, 'held.png', '', %s, 'image/png', 'image', 1, '{}', 'ready', '', now())",
                [workspace.pk, hashlib.sha256(second).hexdigest()],
            )
            child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                wait_for(lambda: watcher.execute(waiting).fetchone()[0], 60, message="the ingest waiting on the lock")
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=10)
            finally:
                if child.poll() is None:
                    child.kill()
            blocker.rollback()
        assert child.returncode == -signal.SIGKILL
        assert not Post.objects.exists() and not MediaAsset.objects.exists()
        assert len(stored_files(settings.MEDIA_ROOT)) == 2  # written, their rows never committed

        manage(env, "poll_sources", "--source", str(source.pk))

    post = Post.objects.get()
    media = list(post.media.order_by("position").select_related("asset"))
    assert [m.asset.kind for m in media] == ["image", "image", "video"]
    assert stored_files(settings.MEDIA_ROOT) == {m.asset.file.name for m in media}  # taken over, not copied


@pytest.mark.parametrize(("left_behind", "taken_over"), [("same", True), ("truncated", False)])
def test_an_upload_takes_over_a_stored_copy_of_the_same_bytes_only(workspace, settings, left_behind, taken_over):
    content = png_bytes(40, 30, (1, 2, 3))
    sha256 = hashlib.sha256(content).hexdigest()
    name = f"assets/{workspace.pk}/{sha256[:2]}/{sha256}.png"
    default_storage.save(name, ContentFile(content if left_behind == "same" else content[:-10]))

    asset, created = media_upload(workspace=workspace, file=SimpleUploadedFile("p.png", content))

    assert created and (asset.file.name == name) is taken_over
    assert asset.file.read() == content
    assert len(stored_files(settings.MEDIA_ROOT)) == (1 if taken_over else 2)
