"""Sources: a Telegram channel read by its bot, through the loopback Bot API. Polling and the
webhook; an album (2 photos + 1 video) becomes ONE draft with its 3 media in order; replays,
crashes between download and commit and the 20 MB limit never lose or double a message; the bot
token and the webhook secret never show up in API answers or logs."""

import io
import json
import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import current_app
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Role
from crosspost.celery import app as celery_app
from crosspost.periodic import PERIODIC_TASKS
from media.models import MediaAsset
from platforms import base
from platforms.telegram_ingest import IngestBot
from posts.models import Post, PostStatus
from publishing.models import Execution
from publishing.tasks import publish_post
from sources import services
from sources.models import Delivery, IngestItem, IngestMode, IngestRecord, ItemStatus, Source
from sources.services import source_ingest_due, source_poll

from .emulators.telegram import TelegramEmulator
from .factories import AccountGroupFactory, PublishingPolicyFactory, SocialAccountFactory, WorkspaceFactory, png_bytes
from .test_media import make_video

TOKEN = "7012345678:AAHsourceBotToken_never-leaks-77"
MB = 1024 * 1024


@pytest.fixture
def telegram(settings):
    with TelegramEmulator() as emulator:
        settings.TELEGRAM_API_BASE_URL = emulator.url
        settings.SOURCE_ALBUM_WINDOW_SECONDS = 3
        emulator.add_bot(TOKEN, username="source_bot")
        yield emulator


@pytest.fixture
def channel(telegram):
    return telegram.add_chat(title="Drops", admins=[TOKEN])


@pytest.fixture
def source(workspace, channel):
    options = {"chat_id": str(channel["id"])}
    return Source.objects.create(workspace=workspace, name="Drops", options=options, secret={"bot_token": TOKEN})


@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("video") / "clip.mp4", size=(64, 64), seconds=0.5, fps=5, audio=False).read_bytes()


def later(seconds: float = 10):
    return timezone.now() + timedelta(seconds=seconds)


def post_album(telegram, channel, video_bytes, *, group="13911111111111111"):
    """Three channel_post updates sharing media_group_id; the caption is on the second part."""
    first = telegram.add_file(png_bytes(64, 48, (200, 40, 40)))
    second = telegram.add_file(png_bytes(48, 64, (40, 200, 40)))
    clip = telegram.add_file(video_bytes, suffix="mp4")
    return [
        telegram.channel_post(TOKEN, channel, media_group_id=group, **telegram.photo_content(first)),
        telegram.channel_post(
            TOKEN, channel, media_group_id=group, caption="New drop #art 12345", **telegram.photo_content(second)
        ),
        telegram.channel_post(TOKEN, channel, media_group_id=group, **telegram.video_content(clip)),
    ]


def assert_one_album_post(source):
    posts = list(Post.objects.filter(workspace=source.workspace))
    assert len(posts) == 1
    post = posts[0]
    assert post.status == PostStatus.DRAFT
    assert post.caption == "New drop #art 12345"
    assert post.media_type == "carousel"
    media = list(post.media.order_by("position").select_related("asset"))
    assert [m.asset.kind for m in media] == ["image", "image", "video"]
    assert [(m.asset.width, m.asset.height) for m in media[:2]] == [(64, 48), (48, 64)]
    assert IngestRecord.objects.filter(source=source, post=post).count() == 1
    return post


# --- polling --------------------------------------------------------------------------------------


def test_a_polled_album_becomes_one_draft_with_three_media_in_order(telegram, channel, source, video_bytes):
    updates = post_album(telegram, channel, video_bytes)
    assert source_poll(source=source) == 3
    assert not Post.objects.exists()  # the album's window is still open: more parts may come
    source.refresh_from_db()
    assert source.update_offset == updates[-1]["update_id"] + 1
    assert set(IngestItem.objects.values_list("status", flat=True)) == {ItemStatus.PENDING}

    assert source_poll(source=source, now=later()) == 0
    assert_one_album_post(source)
    assert telegram.updates[TOKEN] == []  # the second getUpdates confirmed them
    assert set(IngestItem.objects.values_list("status", flat=True)) == {ItemStatus.DONE}
    get_updates = [r for r in telegram.requests if r.path.endswith("/getUpdates")]
    assert get_updates[-1].param("offset") == str(updates[-1]["update_id"] + 1)


def test_replaying_the_same_updates_creates_nothing_new(telegram, channel, source, video_bytes):
    updates = post_album(telegram, channel, video_bytes)
    source_poll(source=source)
    source_poll(source=source, now=later())
    post = assert_one_album_post(source)

    # Telegram delivers them again (say the offset was lost): same messages, nothing new.
    Source.objects.filter(pk=source.pk).update(update_offset=0)
    source.refresh_from_db()
    for update in updates:
        telegram.updates[TOKEN].append(update)
    assert source_poll(source=source, now=later()) == 3
    assert assert_one_album_post(source) == post
    assert IngestItem.objects.count() == 3


def test_a_crash_between_download_and_commit_loses_nothing_and_doubles_nothing(telegram, channel, source, monkeypatch):
    file_id = telegram.add_file(png_bytes())
    update = telegram.channel_post(TOKEN, channel, caption="Single photo", **telegram.photo_content(file_id))
    real_upload = services.media_upload
    crashes = []

    def crash_once(**kwargs):
        if not crashes:
            crashes.append(1)
            raise RuntimeError("worker killed after the download")
        return real_upload(**kwargs)

    monkeypatch.setattr(services, "media_upload", crash_once)
    with pytest.raises(RuntimeError):
        source_poll(source=source)
    source.refresh_from_db()
    assert source.update_offset == 0  # not advanced: the post was not committed
    assert not Post.objects.exists() and not IngestRecord.objects.exists()
    assert len(telegram.updates[TOKEN]) == 1  # not confirmed either

    assert source_poll(source=source) == 1
    assert source_poll(source=source) == 0
    post = Post.objects.get()
    assert (post.caption, post.media_type, post.media.count()) == ("Single photo", "photo", 1)
    source.refresh_from_db()
    assert source.update_offset == update["update_id"] + 1
    assert IngestRecord.objects.get().post == post


def stored_files(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return [str(path) for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_an_album_crashing_mid_ingest_is_made_once_on_the_next_run(telegram, channel, source, video_bytes, monkeypatch, settings):
    post_album(telegram, channel, video_bytes)
    source_poll(source=source)
    real_upload = services.media_upload
    calls = []

    def crash_on_the_third(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("crash")
        return real_upload(**kwargs)

    monkeypatch.setattr(services, "media_upload", crash_on_the_third)
    with pytest.raises(RuntimeError):
        source_ingest_due(source=source, now=later())
    assert not Post.objects.exists() and not IngestRecord.objects.exists() and not MediaAsset.objects.exists()
    assert stored_files(settings) == []  # the two files stored before the crash went with their rows
    assert source_ingest_due(source=source, now=later()) == 1
    assert source_ingest_due(source=source, now=later()) == 0
    assert_one_album_post(source)


def test_a_download_that_fails_is_retried_and_the_offset_waits(telegram, channel, source):
    file_id = telegram.add_file(png_bytes(), fail_downloads=1)
    telegram.channel_post(TOKEN, channel, caption="Retry me", **telegram.photo_content(file_id))
    with pytest.raises(base.Transient):
        source_poll(source=source)
    source.refresh_from_db()
    assert source.update_offset == 0 and "Internal Server Error" in source.last_error
    assert source_poll(source=source) == 1
    assert Post.objects.get().caption == "Retry me"
    source.refresh_from_db()
    assert source.last_error == ""


def test_a_file_that_never_downloads_is_recorded_as_failed_and_stops_holding_up_the_source(telegram, channel, source, settings):
    settings.SOURCE_INGEST_MAX_ATTEMPTS = 2
    file_id = telegram.add_file(png_bytes(), fail_downloads=100)
    telegram.channel_post(TOKEN, channel, caption="Broken", **telegram.photo_content(file_id))
    for _attempt in range(2):
        with pytest.raises(base.Transient):
            source_poll(source=source)
    telegram.channel_post(TOKEN, channel, text="Next one")
    assert source_poll(source=source) == 2
    record = IngestRecord.objects.get(status=ItemStatus.FAILED)
    assert "Gave up after 2 attempts" in record.error and "Internal Server Error" in record.error
    assert Post.objects.get().caption == "Next one"


def test_a_file_over_20_mb_gives_a_clear_error_on_the_ingest_record(telegram, channel, source):
    file_id = telegram.add_file(b"\x00" * 16, size=25 * MB, suffix="mp4")
    update = telegram.channel_post(TOKEN, channel, caption="Too big", **telegram.video_content(file_id))
    assert source_poll(source=source) == 1
    record = IngestRecord.objects.get()
    assert record.status == ItemStatus.FAILED and record.post is None
    assert "20 MB" in record.error and "TELEGRAM_API_BASE_URL" in record.error
    assert IngestItem.objects.get().status == ItemStatus.FAILED
    assert not Post.objects.exists()
    source.refresh_from_db()
    assert source.update_offset == update["update_id"] + 1  # recorded, so nothing is lost by moving on


@pytest.fixture
def local_server(settings, tmp_path):
    """A local Bot API server (--local --dir): getFile answers a path on its disk, no 20 MB limit."""
    with TelegramEmulator(local_dir=str(tmp_path / "bot-api")) as emulator:
        settings.TELEGRAM_API_BASE_URL = emulator.url
        settings.TELEGRAM_LOCAL_FILES_DIR = str(tmp_path / "bot-api")
        emulator.add_bot(TOKEN, username="source_bot")
        yield emulator


def test_a_local_bot_api_server_serves_files_over_20_mb_from_its_shared_directory(local_server, workspace):
    channel = local_server.add_chat(title="Drops", admins=[TOKEN])
    source = Source.objects.create(
        workspace=workspace, name="Drops", options={"chat_id": str(channel["id"])}, secret={"bot_token": TOKEN}
    )
    image = png_bytes(64, 48)
    file_id = local_server.add_file(image, size=25 * MB)  # reported as 25 MB: over the public limit
    local_server.channel_post(TOKEN, channel, caption="Big one", **local_server.photo_content(file_id))

    assert source_poll(source=source) == 1
    post = Post.objects.get()
    [media] = post.media.select_related("asset")
    assert media.asset.file.read() == image
    assert not [r for r in local_server.requests if r.path.startswith("/file/")]  # read from the disk, not over HTTP


def test_a_local_servers_file_needs_its_directory_shared_and_stays_inside_it(local_server, workspace, settings, tmp_path):
    channel = local_server.add_chat(title="Drops", admins=[TOKEN])
    source = Source.objects.create(
        workspace=workspace, name="Drops", options={"chat_id": str(channel["id"])}, secret={"bot_token": TOKEN}
    )
    settings.TELEGRAM_LOCAL_FILES_DIR = ""
    file_id = local_server.add_file(png_bytes(8, 8))
    local_server.channel_post(TOKEN, channel, caption="Not shared", **local_server.photo_content(file_id))
    source_poll(source=source)
    assert "TELEGRAM_LOCAL_FILES_DIR" in IngestRecord.objects.get().error and not Post.objects.exists()

    settings.TELEGRAM_LOCAL_FILES_DIR = str(tmp_path / "elsewhere")
    bot = IngestBot(TOKEN)
    with pytest.raises(base.MediaRejected, match="outside TELEGRAM_LOCAL_FILES_DIR"):
        bot.download(bot.get_file(file_id))


def test_a_failed_record_is_retried_once_the_file_can_be_fetched(
    api, telegram, channel, source, django_capture_on_commit_callbacks
):
    file_id = telegram.add_file(png_bytes(), size=25 * MB)
    telegram.channel_post(TOKEN, channel, caption="Big", **telegram.photo_content(file_id))
    source_poll(source=source)
    record = IngestRecord.objects.get()
    assert record.status == ItemStatus.FAILED
    telegram.files[file_id]["size"] = len(telegram.files[file_id]["content"])  # now served (a local Bot API server)
    client = api(Role.ADMIN, source.workspace)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/api/v1/ingest-records/{record.pk}/retry/")
    assert response.status_code == 200, response.content
    assert not IngestRecord.objects.exists()
    assert source_ingest_due(source=source) == 1
    assert Post.objects.get().caption == "Big"
    done = IngestRecord.objects.get()
    assert api(Role.ADMIN, source.workspace).post(f"/api/v1/ingest-records/{done.pk}/retry/").status_code == 409
    assert api(Role.EDITOR, source.workspace).post(f"/api/v1/ingest-records/{done.pk}/retry/").status_code == 403


def test_an_edit_of_a_message_never_seen_makes_no_post(telegram, channel, source):
    old = {"message_id": 77, "date": 1, "chat": {"id": channel["id"], "type": "channel"}, "text": "old"}
    telegram.push_update(TOKEN, {"edited_channel_post": {**old, "text": "old, edited"}})
    assert source_poll(source=source) == 1
    assert not IngestItem.objects.exists() and not Post.objects.exists()


def test_a_file_over_the_upload_limit_is_refused_before_it_is_downloaded(telegram, channel, source, settings):
    settings.MAX_UPLOAD_SIZE_MB = 1
    file_id = telegram.add_file(png_bytes(), size=3 * MB)
    telegram.channel_post(TOKEN, channel, caption="Heavy", **telegram.photo_content(file_id))
    assert source_poll(source=source) == 1
    assert "MAX_UPLOAD_SIZE_MB" in IngestRecord.objects.get().error
    assert not [r for r in telegram.requests if r.path.startswith("/file/")]


def test_an_edit_updates_the_caption_of_a_draft_only(telegram, channel, source):
    file_id = telegram.add_file(png_bytes())
    update = telegram.channel_post(TOKEN, channel, caption="Frist", **telegram.photo_content(file_id))
    source_poll(source=source)
    post = Post.objects.get()
    telegram.channel_post(TOKEN, channel, edit_of=update["channel_post"], caption="First")
    source_poll(source=source)
    post.refresh_from_db()
    assert post.caption == "First"
    assert Post.objects.count() == 1

    Post.objects.filter(pk=post.pk).update(status=PostStatus.COMPLETED)
    telegram.channel_post(TOKEN, channel, edit_of=update["channel_post"], caption="Too late")
    source_poll(source=source)
    post.refresh_from_db()
    assert post.caption == "First"


def test_a_message_with_nothing_to_post_is_recorded_with_the_reason(telegram, channel, source):
    telegram.channel_post(TOKEN, channel, sticker={"file_id": "CAAC1", "file_unique_id": "S1", "width": 512, "height": 512})
    assert source_poll(source=source) == 1
    record = IngestRecord.objects.get()
    assert record.status == ItemStatus.FAILED and "nothing to post" in record.error
    assert not Post.objects.exists()


def test_posts_from_other_chats_and_other_updates_are_ignored(telegram, channel, source):
    other = telegram.add_chat(title="Elsewhere", admins=[TOKEN])
    telegram.channel_post(TOKEN, other, text="Not ours")
    telegram.push_update(TOKEN, {"message": {"message_id": 1, "chat": {"id": 5, "type": "private"}, "text": "hi"}})
    assert source_poll(source=source) == 2
    assert not IngestItem.objects.exists() and not Post.objects.exists()


def test_a_text_post_is_a_text_draft_with_the_sources_targets_and_priority(telegram, channel, source):
    group = AccountGroupFactory(workspace=source.workspace)
    source.target_groups.set([group])
    Source.objects.filter(pk=source.pk).update(priority="high", language="ru")
    source.refresh_from_db()
    telegram.channel_post(TOKEN, channel, text="Just words")
    source_poll(source=source)
    post = Post.objects.get()
    assert (post.media_type, post.caption, post.priority, post.language) == ("text", "Just words", "high", "ru")
    assert post.ingest_records.get().source == source
    assert list(post.target_groups.all()) == [group]


def test_the_product_a_message_names_goes_onto_its_post(telegram, channel, source):
    telegram.channel_post(TOKEN, channel, text="Новая коллекция! #арт 123456789")
    hidden = "Платье дня: смотрите здесь"
    telegram.channel_post(
        TOKEN,
        channel,
        text=hidden,
        entities=[{"type": "text_link", "offset": 0, "length": 6, "url": "https://www.ozon.ru/product/plate-987654321/"}],
    )
    telegram.channel_post(TOKEN, channel, text="Just words")
    source_poll(source=source)
    options = [post.options for post in Post.objects.order_by("pk")]
    assert options == [
        {"product": {"marketplace": "wildberries", "article": 123456789}},
        {"product": {"marketplace": "ozon", "article": 987654321}},
        {},
    ]


def test_the_emulated_get_updates_follows_the_documented_offset_limit_and_timeout(telegram, channel):
    bot = IngestBot(TOKEN)
    first, second, third = (telegram.channel_post(TOKEN, channel, text=f"n{i}") for i in range(3))
    assert [u.update_id for u in bot.get_updates(limit=2)] == [first["update_id"], second["update_id"]]
    assert [u.update_id for u in bot.get_updates(offset=second["update_id"])] == [second["update_id"], third["update_id"]]
    assert [u.update_id for u in bot.get_updates(offset=-1)] == [third["update_id"]]  # the rest is forgotten
    assert bot.get_updates(offset=third["update_id"] + 1) == []
    later_update = threading.Timer(0.3, lambda: telegram.channel_post(TOKEN, channel, text="late"))
    later_update.start()
    started = time.monotonic()
    updates = bot.get_updates(offset=third["update_id"] + 1, timeout=3)
    assert [u.message["text"] for u in updates] == ["late"] and time.monotonic() - started < 2.5
    assert bot.get_webhook_info().url == ""


def test_a_source_that_publishes_automatically_gets_its_post_planned_after_commit(
    telegram, channel, source, django_capture_on_commit_callbacks, monkeypatch
):
    account = SocialAccountFactory(workspace=source.workspace)
    PublishingPolicyFactory(workspace=source.workspace, fast=True)
    source.target_accounts.set([account])
    Source.objects.filter(pk=source.pk).update(mode=IngestMode.PUBLISH)
    source.refresh_from_db()
    telegram.channel_post(TOKEN, channel, text="Straight out")
    with django_capture_on_commit_callbacks() as on_commit:
        source_poll(source=source)
    assert Post.objects.get().status == PostStatus.DRAFT  # nothing ran before the commit
    assert len(on_commit) == 1
    previous, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    try:
        # The commit: the pipeline's first task, found by name, runs as a worker would, and each
        # stage starts the next after its own commit, up to the publish stage.
        with django_capture_on_commit_callbacks(execute=True):
            on_commit[0]()
    finally:
        celery_app.conf.task_always_eager = previous
    post = Post.objects.get()
    assert post.status != PostStatus.DRAFT
    assert list(Execution.objects.filter(post=post).values_list("account_id", flat=True)) == [account.pk]


def test_publish_post_plans_the_post_or_says_why_not(workspace, caplog):
    post = Post.objects.create(workspace=workspace, caption="No targets", media_type="text")
    assert publish_post(post.pk) == "refused"
    assert "was not published automatically" in caplog.text
    assert publish_post(987654) == "missing"


# --- webhook --------------------------------------------------------------------------------------


def connect_webhook(api, source, telegram):
    client = api(Role.ADMIN, source.workspace)
    response = client.post(f"/api/v1/sources/{source.pk}/webhook/", {"url": "https://crosspost.example/hooks/x/"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["delivery"] == "webhook"
    source.refresh_from_db()
    assert telegram.webhooks[TOKEN] == {"url": "https://crosspost.example/hooks/x/", "secret_token": source.webhook_secret}
    return source


def test_an_album_by_webhook_becomes_one_draft_and_replays_change_nothing(api, client, telegram, channel, source, video_bytes):
    connect_webhook(api, source, telegram)
    updates = post_album(telegram, channel, video_bytes)
    url = f"/hooks/telegram/{source.pk}/"
    for _round in range(2):  # Telegram retries a delivery it thinks failed
        for update in updates:
            response = client.post(
                url, update, content_type="application/json", headers={"X-Telegram-Bot-Api-Secret-Token": source.webhook_secret}
            )
            assert response.status_code == 200
    assert IngestItem.objects.count() == 3
    assert source_ingest_due(source=source, now=later()) == 1
    assert source_ingest_due(source=source, now=later()) == 0
    assert_one_album_post(source)


def test_a_webhook_with_a_wrong_or_missing_secret_is_refused_and_stores_nothing(api, client, telegram, channel, source):
    connect_webhook(api, source, telegram)
    update = telegram.channel_post(TOKEN, channel, text="Forged")
    url = f"/hooks/telegram/{source.pk}/"
    assert client.post(url, update, content_type="application/json").status_code == 403
    last = source.webhook_secret[-1]
    wrong = {"X-Telegram-Bot-Api-Secret-Token": source.webhook_secret[:-1] + ("y" if last == "x" else "x")}
    assert client.post(url, update, content_type="application/json", headers=wrong).status_code == 403
    assert client.post("/hooks/telegram/999999/", update, content_type="application/json", headers=wrong).status_code == 403
    assert not IngestItem.objects.exists()
    right = {"X-Telegram-Bot-Api-Secret-Token": source.webhook_secret}
    assert client.post(url, "not json", content_type="application/json", headers=right).status_code == 400
    assert client.post(url, [1], content_type="application/json", headers=right).status_code == 400


def test_a_second_poller_conflict_keeps_the_offset_and_says_why(telegram, channel, source):
    telegram.channel_post(TOKEN, channel, text="Wait for me")
    conflict = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
    telegram.fail_next(telegram.error(409, conflict, method="getUpdates"))
    with pytest.raises(base.PlatformError):
        source_poll(source=source)
    source.refresh_from_db()
    assert source.update_offset == 0 and "another process" in source.last_error
    assert source_poll(source=source) == 1
    assert Post.objects.get().caption == "Wait for me"


def test_polling_while_a_webhook_is_set_says_why(api, telegram, channel, source):
    connect_webhook(api, source, telegram)
    with pytest.raises(base.PlatformError):
        source_poll(source=source)
    source.refresh_from_db()
    assert "webhook" in source.last_error
    client = api(Role.ADMIN, source.workspace)
    response = client.post(f"/api/v1/sources/{source.pk}/polling/")
    assert response.status_code == 200 and response.json()["delivery"] == "polling"
    assert TOKEN not in telegram.webhooks
    telegram.channel_post(TOKEN, channel, text="Back to polling")
    assert source_poll(source=source) == 1


# --- API, admin, secrets --------------------------------------------------------------------------


def test_the_api_creates_sources_and_never_shows_the_token(api, workspace):
    client = api(Role.ADMIN)
    body = {"name": "Drops", "options": {"chat_id": "-1001234567890"}, "bot_token": TOKEN, "mode": "publish"}
    response = client.post("/api/v1/sources/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["has_bot_token"] is True and "bot_token" not in data and TOKEN not in response.content.decode()
    source = Source.objects.get()
    assert source.bot_token == TOKEN and source.delivery == Delivery.POLLING
    listed = client.get("/api/v1/sources/")
    assert listed.status_code == 200 and TOKEN not in listed.content.decode()
    assert "webhook_secret" not in listed.content.decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "options": {"chat_id": "@drops"}, "bot_token": TOKEN}, "options"),
        ({"name": "x", "options": {"chat_id": "-100", "extra": 1}, "bot_token": TOKEN}, "options"),
        ({"name": "x", "options": [], "bot_token": TOKEN}, "options"),
        ({"name": "x", "options": {"chat_id": "-100"}}, "bot_token"),
        ({"name": "x", "options": {"chat_id": "-100"}, "bot_token": TOKEN, "kind": "myspace"}, "kind"),
        ({"name": "x", "options": {"chat_id": "-100"}, "bot_token": TOKEN, "window_start": "09:00"}, "window_end"),
        ({"name": "x", "options": {"chat_id": "-100"}, "bot_token": TOKEN, "language": "russian!"}, "language"),
    ],
)
def test_bad_source_input_is_a_400_naming_the_field(api, workspace, body, field):
    response = api(Role.ADMIN).post("/api/v1/sources/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_only_admins_and_owners_manage_sources_and_targets_stay_in_the_workspace(api, workspace, source):
    body = {"name": "x", "options": {"chat_id": "-100"}, "bot_token": TOKEN}
    assert api(Role.EDITOR).post("/api/v1/sources/", body, format="json").status_code == 403
    stranger = AccountGroupFactory(workspace=WorkspaceFactory())
    response = api(Role.ADMIN).post("/api/v1/sources/", {**body, "target_groups": [stranger.pk]}, format="json")
    assert response.status_code in (400, 409) and "target_groups" in response.json()
    assert api(Role.VIEWER).get(f"/api/v1/sources/{source.pk}/").status_code == 200
    assert api(Role.VIEWER, WorkspaceFactory()).get(f"/api/v1/sources/{source.pk}/").status_code == 404


def test_the_token_never_reaches_the_logs(telegram, channel, source, caplog):
    caplog.set_level(logging.DEBUG)
    file_id = telegram.add_file(b"\x00", size=25 * MB, suffix="mp4")
    telegram.channel_post(TOKEN, channel, **telegram.video_content(file_id))
    telegram.fail_next("unauthorized")
    with pytest.raises(base.AuthRequired) as raised:
        source_poll(source=source)
    assert TOKEN not in str(raised.value)
    source_poll(source=source)
    photo = telegram.add_file(png_bytes())
    telegram.channel_post(TOKEN, channel, caption="Downloaded", **telegram.photo_content(photo))
    source_poll(source=source)
    assert Post.objects.get().caption == "Downloaded"
    assert "/file/bot" in caplog.text  # urllib3 logged the download…
    assert TOKEN not in caplog.text  # …without the token
    assert TOKEN not in IngestRecord.objects.get(status=ItemStatus.FAILED).error


def test_the_admin_keeps_the_token_write_only(admin_client, source):
    page = admin_client.get(f"/admin/sources/source/{source.pk}/change/")
    assert page.status_code == 200
    assert TOKEN not in page.content.decode()
    assert admin_client.get("/admin/sources/ingestrecord/").status_code == 200


def test_a_webhook_must_be_https_and_telegram_refusals_are_a_400(api, telegram, source):
    client = api(Role.ADMIN, source.workspace)
    response = client.post(f"/api/v1/sources/{source.pk}/webhook/", {}, format="json")  # testserver is plain http
    assert response.status_code == 400 and "HTTPS" in response.json()["url"][0]
    telegram.fail_next(
        telegram.error(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook", method="setWebhook")
    )
    response = client.post(f"/api/v1/sources/{source.pk}/webhook/", {"url": "https://x.example/h/"}, format="json")
    assert response.status_code == 400 and "bad webhook" in response.json()["detail"]
    source.refresh_from_db()
    assert source.delivery == Delivery.POLLING and not source.webhook_secret


def test_the_admin_adds_a_source_with_a_write_only_token(admin_client, workspace, channel):
    form = {
        "workspace": workspace.pk,
        "name": "From admin",
        "kind": "telegram",
        "enabled": "on",
        "options": json.dumps({"chat_id": str(channel["id"])}),
        "bot_token": TOKEN,
        "mode": "draft",
        "caption_mode": "original",
        "language": "ru",
        "priority": "normal",
    }
    response = admin_client.post("/admin/sources/source/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    source = Source.objects.get(name="From admin")
    assert source.bot_token == TOKEN
    response = admin_client.post(f"/admin/sources/source/{source.pk}/change/", {**form, "bot_token": ""})
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.bot_token == TOKEN  # blank keeps it
    response = admin_client.post("/admin/sources/source/add/", {**form, "name": "No token", "bot_token": ""})
    assert response.status_code == 200 and not Source.objects.filter(name="No token").exists()


def test_admin_actions_poll_and_switch_delivery(admin_client, telegram, channel, source):
    telegram.channel_post(TOKEN, channel, text="From the admin")
    changelist = "/admin/sources/source/"
    response = admin_client.post(changelist, {"action": "poll_now", "_selected_action": [source.pk]}, follow=True)
    assert "1 update received." in response.content.decode()
    assert Post.objects.get().caption == "From the admin"
    response = admin_client.post(changelist, {"action": "use_webhook", "_selected_action": [source.pk]}, follow=True)
    assert "HTTPS" in response.content.decode() and TOKEN not in telegram.webhooks
    response = admin_client.post(changelist, {"action": "use_webhook", "_selected_action": [source.pk]}, follow=True, secure=True)
    source.refresh_from_db()
    assert source.delivery == Delivery.WEBHOOK
    assert telegram.webhooks[TOKEN]["url"] == f"https://testserver/hooks/telegram/{source.pk}/"
    assert source.webhook_secret not in response.content.decode()
    admin_client.post(changelist, {"action": "use_polling", "_selected_action": [source.pk]})
    source.refresh_from_db()
    assert source.delivery == Delivery.POLLING and TOKEN not in telegram.webhooks


def test_the_poll_command_reads_every_polling_source(telegram, channel, source):
    telegram.channel_post(TOKEN, channel, text="By command")
    out = io.StringIO()
    call_command("poll_sources", stdout=out)
    assert "1 updates" in out.getvalue()
    assert Post.objects.get().caption == "By command"
    with pytest.raises(CommandError):
        call_command("poll_sources", "--source", "999999")


def test_polling_is_a_periodic_task():
    names = {periodic.task for periodic in PERIODIC_TASKS}
    assert "sources.tasks.poll_sources" in names
    assert "sources.tasks.poll_sources" in current_app.tasks
    assert "publishing.tasks.publish_post" in current_app.tasks


def test_a_boolean_filter_takes_true_or_false_only(api, workspace):
    # Found by the API fuzzer: ?enabled=null was read as "no filter" and answered 200.
    client = api(Role.VIEWER)
    assert client.get("/api/v1/sources/?enabled=null").status_code == 400
    assert "true or false" in str(client.get("/api/v1/sources/?enabled=yes").json())
    assert client.get("/api/v1/sources/?enabled=true").status_code == 200
    assert client.get("/api/v1/sources/?enabled=false").status_code == 200
