"""The Telegram adapter against the loopback Bot API: the requests each media type
sends, every documented error driven through the real engine to the execution's
and the account's state, check(), lookup(), validate() — and the bot token, which
is part of every URL, never showing up anywhere an operator or a log can see."""

import json
import logging
from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone

from accounts.models import AccountEvent, AccountStatus, SocialAccount
from crosspost.models import ActivityLog
from media.models import Rendition
from platforms import base
from platforms.http import DEFAULT_USER_AGENT
from platforms.registry import get_adapter
from publishing.adapters import account_snapshot, lookup_request
from publishing.models import Execution, ExecutionStatus
from publishing.planner import post_publish
from publishing.publisher import reconcile_unconfirmed
from publishing.tasks import check_accounts

from .emulators.telegram import FAILURES, TelegramEmulator
from .factories import (
    ExecutionFactory,
    ProxyFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
)
from .support.engine import publish_one as publish
from .support.net import unused_port
from .support.posts import make_post as shared_make_post

TOKEN = "7012345678:AAHsecretTokenValue_never-leaks-42"
CHANNEL = "crosspost_news"
CAPTION = "Hello from Crosspost #launch"
MB = 1024 * 1024


@pytest.fixture
def telegram(settings):
    with TelegramEmulator() as emulator:
        settings.TELEGRAM_API_BASE_URL = emulator.url
        emulator.add_bot(TOKEN, username="crosspost_bot")
        yield emulator


@pytest.fixture
def channel(telegram):
    return telegram.add_chat(username=CHANNEL, title="Crosspost News", admins=[TOKEN])


@pytest.fixture
def make_account(workspace):
    PublishingPolicyFactory(workspace=workspace, platform="telegram", fast=True)

    def make(chat_id=f"@{CHANNEL}", token=TOKEN, **fields):
        return SocialAccountFactory(
            workspace=workspace,
            platform="telegram",
            credentials={"bot_token": token},
            options={"chat_id": chat_id},
            **fields,
        )

    return make


@pytest.fixture
def account(make_account, channel):
    return make_account(handle=f"@{CHANNEL}")


make_post = partial(shared_make_post, caption=CAPTION)


def sent(telegram, method):
    return [r for r in telegram.requests if r.path.endswith(f"/{method}")]


def rendition(asset, profile) -> Rendition:
    return Rendition.objects.get(asset=asset, profile=profile)


def file_bytes(row: Rendition) -> bytes:
    with row.file.open("rb") as handle:
        return handle.read()


@pytest.mark.django_db
class TestPublish:
    def test_it_sends_a_text_post_with_send_message(self, telegram, account):
        post = make_post(account, "text", caption="Launch day", options={"telegram": {"disable_notification": True}})
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS
        (request,) = sent(telegram, "sendMessage")
        assert request.method == "POST" and request.path == f"/bot{TOKEN}/sendMessage"
        assert request.form == {"chat_id": [f"@{CHANNEL}"], "text": ["Launch day"], "disable_notification": ["true"]}
        assert execution.remote_id == "1"
        assert execution.remote_url == f"https://t.me/{CHANNEL}/1"
        assert telegram.messages[0]["text"] == "Launch day"

    def test_it_uploads_a_photo_as_a_multipart_part_with_its_caption(self, telegram, account):
        post = make_post(account, "photo")
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (request,) = sent(telegram, "sendPhoto")
        assert request.headers["Content-Type"].startswith("multipart/form-data")
        assert request.form == {"chat_id": [f"@{CHANNEL}"], "caption": [CAPTION]}
        filename, content_type, data = request.files["photo"]
        photo = rendition(post.media.get().asset, "telegram_photo")  # 4:5, JPEG
        assert (photo.width, photo.height) == (1080, 1350)
        assert data == file_bytes(photo) and content_type == "image/jpeg" and filename == "telegram_photo.jpg"
        assert execution.raw_response["message_ids"] == [1]
        assert telegram.messages[0]["caption"] == CAPTION

    def test_it_uploads_a_video_with_its_dimensions(self, telegram, account):
        post = make_post(account, "video", images=0, videos=1)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (request,) = sent(telegram, "sendVideo")
        clip = rendition(post.media.get().asset, "telegram_video")  # 16:9
        assert request.files["video"][2] == file_bytes(clip)
        assert request.files["video"][:2] == ("telegram_video.mp4", "video/mp4")
        assert {k: v[0] for k, v in request.form.items()} == {
            "chat_id": f"@{CHANNEL}",
            "caption": CAPTION,
            "duration": "4",
            "width": "1920",
            "height": "1080",
            "supports_streaming": "true",
        }

    def test_it_sends_a_carousel_as_one_album_captioned_on_its_first_item(self, telegram, account):
        post = make_post(account, "carousel", images=2, videos=1)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (request,) = sent(telegram, "sendMediaGroup")
        media = json.loads(request.form["media"][0])
        assert [m["type"] for m in media] == ["photo", "photo", "video"]
        assert [m["media"] for m in media] == ["attach://file0", "attach://file1", "attach://file2"]
        assert media[0]["caption"] == CAPTION
        assert all("caption" not in m for m in media[1:])
        assets = [pm.asset for pm in post.media.order_by("position")]
        profiles = ["telegram_photo", "telegram_photo", "telegram_video"]
        renditions = [rendition(a, p) for a, p in zip(assets, profiles, strict=True)]
        assert [request.files[f"file{i}"][2] for i in range(3)] == [file_bytes(r) for r in renditions]
        assert [request.files[f"file{i}"][1] for i in range(3)] == ["image/jpeg", "image/jpeg", "video/mp4"]
        assert (media[2]["width"], media[2]["height"], media[2]["duration"]) == (1920, 1080, 4)
        assert execution.remote_id == "1"
        assert execution.raw_response["message_ids"] == [1, 2, 3]
        assert len({m["media_group_id"] for m in telegram.messages}) == 1

    def test_it_sends_media_by_url_when_there_is_no_local_file(self, telegram, account):
        item = base.MediaItem(path="", url="https://cdn.example.test/a.jpg", kind="image", mime="image/jpeg", size=2000)
        request = base.PublishRequest(
            account=account_snapshot(account), caption="From storage", media_type="photo", media=(item,)
        )
        result = get_adapter("telegram").publish(request)
        (sent_photo,) = sent(telegram, "sendPhoto")
        assert sent_photo.files == {}
        assert sent_photo.form["photo"] == ["https://cdn.example.test/a.jpg"]
        assert result.url == f"https://t.me/{CHANNEL}/1"

    def test_it_links_private_channels_by_internal_id_and_private_chats_not_at_all(self, telegram, make_account):
        telegram.add_chat(chat_id=-1001234567890, title="Private channel", admins=[TOKEN])
        telegram.add_chat(chat_type="private", chat_id=4242, title="Anna")
        adapter = get_adapter("telegram")
        urls = []
        for chat_id in ("-1001234567890", "4242"):
            request = base.PublishRequest(
                account=account_snapshot(make_account(chat_id=chat_id)), caption="Hi", media_type="text"
            )
            urls.append(adapter.publish(request).url)
        assert urls == ["https://t.me/c/1234567890/1", ""]


@pytest.mark.django_db
class TestErrors:
    @pytest.mark.parametrize(
        ("failure", "status", "code", "account_status"),
        [
            ("flood", ExecutionStatus.RETRY_WAIT, "rate_limited", AccountStatus.COOLDOWN),
            ("unauthorized", ExecutionStatus.FAILED, "auth_required", AccountStatus.LOGIN_REQUIRED),
            ("kicked", ExecutionStatus.FAILED, "access_lost", AccountStatus.NO_ACCESS),
            ("blocked", ExecutionStatus.FAILED, "access_lost", AccountStatus.NO_ACCESS),
            ("not_enough_rights", ExecutionStatus.FAILED, "access_lost", AccountStatus.NO_ACCESS),
            ("image_process_failed", ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("wrong_file", ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("url_content", ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("caption_too_long", ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("too_large", ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("chat_not_found", ExecutionStatus.FAILED, "content_rejected", AccountStatus.ACTIVE),
            ("server_error", ExecutionStatus.RETRY_WAIT, "transient", AccountStatus.ACTIVE),
        ],
    )
    def test_it_maps_each_bot_api_error_to_the_execution_and_the_account(
        self, telegram, account, failure, status, code, account_status
    ):
        telegram.fail_next(failure)
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (status, code)
        assert FAILURES[failure][1] in execution.error_message
        assert execution.raw_response["description"] == FAILURES[failure][1]
        assert execution.raw_response["error_code"] == FAILURES[failure][0]
        account.refresh_from_db()
        assert account.status == account_status
        events = AccountEvent.objects.filter(account=account, to_status=account_status)
        assert events.exists() == (account_status != AccountStatus.ACTIVE)

    def test_it_rests_the_account_as_long_as_telegram_asks(self, telegram, account):
        telegram.fail_next(TelegramEmulator.error(429, "Too Many Requests: retry after 600", retry_after=600))
        before = timezone.now()
        execution = publish(make_post(account))
        assert execution.status == ExecutionStatus.RETRY_WAIT
        assert execution.raw_response["parameters"] == {"retry_after": 600}
        assert execution.scheduled_for >= before + timedelta(seconds=600)
        account.refresh_from_db()
        assert before + timedelta(seconds=600) <= account.cooldown_until <= timezone.now() + timedelta(seconds=601)

    def test_it_names_the_new_chat_id_after_a_group_became_a_supergroup(self, telegram, account):
        telegram.fail_next(
            TelegramEmulator.error(400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=-1009)
        )
        execution = publish(make_post(account, "text", images=0))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "content_rejected")
        assert "set the account's chat_id to -1009" in execution.error_message

    def test_it_retries_when_telegram_is_unreachable(self, settings, account):
        settings.TELEGRAM_API_BASE_URL = f"http://127.0.0.1:{unused_port()}"
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "transient")
        account.refresh_from_db()
        assert account.status == AccountStatus.ACTIVE

    def test_it_reports_a_failing_proxy(self, telegram, account):
        port = unused_port()
        account.proxy = ProxyFactory(
            workspace=account.workspace, host="127.0.0.1", port=port, url=f"http://user:pw@127.0.0.1:{port}"
        )
        account.save()
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "proxy_failed")
        account.refresh_from_db()
        assert account.status == AccountStatus.PROXY_ERROR
        assert not sent(telegram, "sendPhoto")

    def test_it_leaves_a_message_whose_answer_was_lost_for_an_operator(self, settings, telegram, account):
        settings.HTTP_TIMEOUT_SECONDS = 0.5
        telegram.fail_next({"stall": 1.5, "after": True, "method": "sendPhoto"})
        execution = publish(make_post(account))
        assert execution.status == ExecutionStatus.UNCONFIRMED
        assert "may have been posted" in execution.error_message
        assert len(telegram.messages) == 1  # it did arrive
        assert reconcile_unconfirmed()["left"] == 1
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.UNCONFIRMED
        assert len(sent(telegram, "sendPhoto")) == 1  # never sent again on its own


@pytest.mark.django_db
def test_it_never_leaks_the_bot_token(telegram, channel, make_account, caplog, settings):
    caplog.set_level(logging.DEBUG)
    outcomes = {}
    for failure in (None, "kicked", "image_process_failed", "server_error", "unauthorized"):
        account = make_account()
        if failure:
            telegram.fail_next(failure)
        outcomes[failure] = publish(make_post(account)).status
    account = make_account()
    settings.HTTP_TIMEOUT_SECONDS = 0.5
    telegram.fail_next({"stall": 1.5, "after": True})
    outcomes["lost"] = publish(make_post(account)).status
    port = unused_port()
    account = make_account(proxy=ProxyFactory(host="127.0.0.1", port=port, url=f"http://u:p@127.0.0.1:{port}"))
    outcomes["proxy"] = publish(make_post(account)).status
    health = get_adapter("telegram").check(account_snapshot(make_account(token="7012345678:AAHrevokedButStillSecret")))
    assert outcomes == {
        None: "success",
        "kicked": "failed",
        "image_process_failed": "failed",
        "server_error": "retry_wait",
        "unauthorized": "failed",
        "lost": "unconfirmed",
        "proxy": "retry_wait",
    }

    seen = [caplog.text, health.detail, json.dumps(health.raw)]
    seen += [json.dumps([log.message, log.details]) for log in ActivityLog.objects.all()]
    seen += [json.dumps([e.error_message, e.raw_response, e.remote_url]) for e in Execution.objects.all()]
    seen += [event.reason for event in AccountEvent.objects.all()]
    secrets = [TOKEN, TOKEN.split(":")[1], "AAHrevokedButStillSecret"]
    assert not [s for s in secrets if any(s in text for text in seen)]
    assert "/bot<redacted>/sendPhoto" in caplog.text  # urllib3's request lines are there, redacted


@pytest.mark.django_db
class TestCheck:
    def test_it_confirms_the_bot_may_post_to_the_channel(self, telegram, account):
        health = get_adapter("telegram").check(account_snapshot(account))
        assert health.ok, health.detail
        assert health.detail == f"The bot @crosspost_bot can post to channel Crosspost News (@{CHANNEL})."
        assert [r.path.rsplit("/", 1)[1] for r in telegram.requests] == ["getMe", "getChat", "getChatMember"]
        assert telegram.requests[2].form["user_id"] == [TOKEN.split(":")[0]]
        assert health.raw["member"] == {"status": "administrator", "can_post_messages": True}

    def test_it_reports_a_bot_that_is_no_channel_administrator(self, telegram, channel, account):
        telegram.set_member(channel, TOKEN, "left")
        health = get_adapter("telegram").check(account_snapshot(account))
        assert not health.ok and health.account_status == AccountStatus.NO_ACCESS
        assert "is not an administrator" in health.detail

    def test_it_reports_an_administrator_without_the_right_to_post(self, telegram, channel, account):
        telegram.set_member(channel, TOKEN, "administrator", can_post_messages=False)
        health = get_adapter("telegram").check(account_snapshot(account))
        assert not health.ok
        assert "enable 'Post messages'" in health.detail

    @pytest.mark.parametrize(("status", "ok"), [("member", True), ("administrator", True), ("kicked", False)])
    def test_it_accepts_group_members(self, telegram, make_account, status, ok):
        group = telegram.add_chat(chat_type="supergroup", chat_id=-1005550001, title="Team")
        telegram.set_member(group, TOKEN, status)
        health = get_adapter("telegram").check(account_snapshot(make_account(chat_id="-1005550001")))
        assert health.ok is ok, health.detail

    def test_it_asks_for_a_new_login_when_the_token_is_revoked(self, telegram, make_account):
        health = get_adapter("telegram").check(account_snapshot(make_account(token="7012345678:AAHrevoked")))
        assert not health.ok
        assert health.account_status == AccountStatus.LOGIN_REQUIRED
        assert "@BotFather" in health.detail

    def test_it_raises_what_says_nothing_about_the_account(self, telegram, account):
        telegram.fail_next("flood")
        with pytest.raises(base.RateLimited):
            get_adapter("telegram").check(account_snapshot(account))
        telegram.fail_next(TelegramEmulator.error(502, "Bad Gateway", method="getChatMember"))
        with pytest.raises(base.Transient):
            get_adapter("telegram").check(account_snapshot(account))

    def test_it_reports_a_chat_the_bot_cannot_see(self, telegram, make_account):
        health = get_adapter("telegram").check(account_snapshot(make_account(chat_id="-1009999")))
        assert not health.ok and health.account_status is None
        assert health.detail.startswith("The bot @crosspost_bot cannot reach -1009999")
        assert "chat not found" in health.detail


@pytest.mark.django_db
def test_it_cannot_look_a_message_up(make_account):
    account = make_account()
    adapter = get_adapter("telegram")
    assert adapter.can_lookup is False
    with pytest.raises(base.LookupUnsupported, match="cannot search a chat's history"):
        adapter.lookup(lookup_request(ExecutionFactory(account=account, post__workspace=account.workspace)))
    assert "only sees *updates*" in adapter.lookup.__doc__


def image(size=1000, *, path="/media/a.png", url="", width=640, height=480, kind="image", mime="image/png"):
    return base.MediaItem(path=path, url=url, kind=kind, mime=mime, size=size, width=width, height=height)


def video(size=1000, *, path="/media/a.mp4", url=""):
    return image(size, path=path, url=url, kind="video", mime="video/mp4", width=1080, height=1920)


@pytest.mark.django_db
class TestValidate:
    @pytest.fixture
    def account(self, make_account):
        return make_account()

    def problems(self, account, media_type="photo", caption=CAPTION, media=None):
        media = (image(),) if media is None else tuple(media)
        request = base.PublishRequest(account=account_snapshot(account), caption=caption, media_type=media_type, media=media)
        return [p.code for p in get_adapter("telegram").validate(request)]

    def test_it_accepts_what_telegram_accepts(self, account):
        assert self.problems(account, "text", "x" * 4096, media=()) == []
        assert self.problems(account, "photo", "x" * 1024, media=[image(10 * MB)]) == []
        assert self.problems(account, "video", media=[video(50 * MB)]) == []
        assert self.problems(account, "carousel", media=[image()] * 9 + [video()]) == []

    def test_it_limits_captions_and_texts(self, account):
        assert self.problems(account, "photo", "x" * 1025) == ["caption_too_long"]
        assert self.problems(account, "text", "x" * 4097, media=()) == ["text_too_long"]
        assert self.problems(account, "text", "  ", media=()) == ["empty_text"]

    def test_it_limits_albums_to_2_to_10_items(self, account):
        assert self.problems(account, "carousel", media=[image()] * 11) == ["carousel_size"]
        assert self.problems(account, "carousel", media=[image()]) == ["carousel_size"]

    def test_it_limits_file_sizes(self, account):
        assert self.problems(account, "photo", media=[image(10 * MB + 1)]) == ["photo_too_big"]
        assert self.problems(account, "photo", media=[image(6 * MB, path="", url="https://cdn.test/a.png")]) == ["photo_too_big"]
        assert self.problems(account, "video", media=[video(50 * MB + 1)]) == ["file_too_big"]
        assert self.problems(account, "photo", media=[image(width=9000, height=2000)]) == ["photo_dimensions"]

    def test_it_refuses_reels_and_stories(self, account):
        request = base.PublishRequest(account=account_snapshot(account), caption="", media_type="reel", media=(video(),))
        (problem,) = get_adapter("telegram").validate(request)
        assert problem.message == "A Telegram bot cannot publish a reel: choose text, photo, video or carousel."
        assert self.problems(account, "story", media=[image()]) == ["media_type"]

    def test_it_needs_a_token_and_a_chat(self, make_account):
        assert self.problems(make_account(chat_id="", token="")) == ["bot_token", "chat_id"]
        assert self.problems(make_account(chat_id="my channel")) == ["chat_id"]

    def test_it_blocks_a_too_long_caption_before_anything_posts(self, telegram, account):
        post = make_post(account, "photo", caption="x" * 1025)
        (entry,) = post_publish(post=post, dry_run=True).entries
        assert entry.status == "blocked"
        assert entry.problems == ["The caption has 1025 characters; Telegram allows 1024 under a photo, video or album."]
        assert not telegram.requests


@pytest.mark.django_db
class TestAccessLost:
    def test_it_blocks_a_kicked_bots_account_until_a_check_finds_it_back(self, telegram, channel, account):
        telegram.set_member(channel, TOKEN, "kicked")
        execution = publish(make_post(account, "text", images=0))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "access_lost")
        account.refresh_from_db()
        assert account.status == AccountStatus.NO_ACCESS
        assert "Forbidden: bot was kicked from the channel chat" in account.status_reason
        assert AccountEvent.objects.filter(account=account, from_status="active", to_status="no_access").exists()

        (entry,) = post_publish(post=make_post(account, "text", images=0), dry_run=True).entries
        assert entry.status == "blocked"
        assert entry.problems[0].startswith("The account lost the right to post there: Telegram sendMessage: Forbidden")

        stale = timezone.now() - timedelta(days=1)
        SocialAccount.objects.filter(pk=account.pk).update(last_check_at=stale)
        assert check_accounts() == {"ok": 0, "failed": 1, "errors": 0}  # still kicked: getChat answers 403
        account.refresh_from_db()
        assert account.status == AccountStatus.NO_ACCESS

        telegram.set_member(channel, TOKEN, "administrator", can_post_messages=True)
        SocialAccount.objects.filter(pk=account.pk).update(last_check_at=stale)
        assert check_accounts() == {"ok": 1, "failed": 0, "errors": 0}
        account.refresh_from_db()
        assert account.status == AccountStatus.ACTIVE
        assert publish(make_post(account, "text", images=0)).status == ExecutionStatus.SUCCESS

    def test_it_answers_a_kicked_bot_as_the_bot_api_does(self, telegram, channel, account):
        telegram.set_member(channel, TOKEN, "kicked")
        health = get_adapter("telegram").check(account_snapshot(account))
        assert not health.ok and health.account_status == AccountStatus.NO_ACCESS
        assert health.raw["error"]["error_code"] == 403
        assert health.raw["error"]["description"] == "Forbidden: bot was kicked from the channel chat"

    def test_it_blocks_an_administrator_that_may_no_longer_post(self, telegram, channel, account):
        telegram.set_member(channel, TOKEN, "administrator", can_post_messages=False)
        SocialAccount.objects.filter(pk=account.pk).update(last_check_at=None)
        assert check_accounts() == {"ok": 0, "failed": 1, "errors": 0}
        account.refresh_from_db()
        assert account.status == AccountStatus.NO_ACCESS
        assert "enable 'Post messages'" in account.status_reason


@pytest.mark.django_db
def test_it_introduces_itself_as_crosspost_not_as_an_instagram_phone(telegram, account):
    assert account.user_agent.startswith("Instagram")  # a fingerprint stored before it was cleared
    get_adapter("telegram").check(account_snapshot(account))
    assert {r.headers["User-Agent"] for r in telegram.requests} == {DEFAULT_USER_AGENT}
    assert DEFAULT_USER_AGENT.startswith("Crosspost/")
