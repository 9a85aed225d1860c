"""The TikTok adapter against the loopback Content Posting API: creator_info first,
chunked FILE_UPLOAD and PULL_FROM_URL videos, photo posts, status polling, every
documented error driven through the real engine to the execution's and the
account's state, the unaudited-app message, token refresh (stored encrypted,
rotated, reused), reconciliation from the recorded publish_id — and no token in
any log, message or stored response."""

import json
import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AccountEvent, AccountStatus, SocialAccount
from crosspost.models import ActivityLog
from media.models import Rendition
from platforms import base, tiktok
from platforms.registry import get_adapter
from platforms.tiktok import UNAUDITED_MESSAGE, TikTokAdapter
from publishing.adapters import account_snapshot, lookup_request
from publishing.models import Execution, ExecutionStatus
from publishing.planner import post_publish
from publishing.publisher import reconcile_unconfirmed

from .emulators.tiktok import TikTokEmulator
from .factories import (
    MediaAssetFactory,
    PostFactory,
    PostMediaFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    VideoAssetFactory,
)
from .support.engine import drain, render_pending
from .support.engine import publish_one as publish
from .support.net import dead_proxy

TOKEN = "act.1!SecretAccessToken-never-leaks"
REFRESH = "rft.1!SecretRefreshToken-never-leaks"
CLIENT_KEY, CLIENT_SECRET = "client-key-1", "client-secret-1"
KIB = 1024
CAPTION = "Hello from Crosspost #launch"
MEDIA_HOST = "https://media.crosspost.test"


@pytest.fixture(autouse=True)
def fast(monkeypatch, settings):
    monkeypatch.setattr(TikTokAdapter, "poll_interval", 0)
    monkeypatch.setattr(TikTokAdapter, "chunk_retry_delay", 0)
    settings.PUBLIC_MEDIA_BASE_URL = MEDIA_HOST


@pytest.fixture
def tt(settings):
    with TikTokEmulator() as emulator:
        settings.TIKTOK_API_BASE_URL = emulator.url
        emulator.add_creator(TOKEN, refresh_token=REFRESH, username="crosspost")
        yield emulator


@pytest.fixture
def make_account(workspace, tt):
    PublishingPolicyFactory(workspace=workspace, platform="tiktok", fast=True)

    def make(token=TOKEN, refresh=REFRESH, **fields):
        credentials = {"access_token": token, "refresh_token": refresh, "client_key": CLIENT_KEY, "client_secret": CLIENT_SECRET}
        fields.setdefault("options", {})
        return SocialAccountFactory(workspace=workspace, platform="tiktok", credentials=credentials, **fields)

    return make


@pytest.fixture
def account(make_account):
    return make_account(handle="@crosspost")


def make_post(account, media_type="video", *, photos=1, caption=CAPTION, options=None, prerendered=True):
    """Videos are a real 4 s clip with its tiktok_video rendition made in advance, unless
    ``prerendered=False``: then the engine renders it (drain)."""
    post = PostFactory(workspace=account.workspace, media_type=media_type, caption=caption, options=options or {})
    if media_type in ("video", "reel"):
        renditions = ["tiktok_video"] if prerendered else []
        assets = [VideoAssetFactory(workspace=account.workspace, renditions=renditions)]
    else:
        assets = [
            MediaAssetFactory(workspace=account.workspace, mime="image/jpeg", original_name=f"p{i}.jpg") for i in range(photos)
        ]
    for position, asset in enumerate(assets):
        PostMediaFactory(post=post, asset=asset, position=position)
    post.target_accounts.set([account])
    return post


def rendition(post) -> Rendition:
    """The tiktok_video rendition of the post's video: the file TikTok gets."""
    return Rendition.objects.get(asset=post.media.get().asset, profile="tiktok_video")


def file_bytes(post) -> bytes:
    with rendition(post).file.open("rb") as handle:
        return handle.read()


def publish_in_three_chunks(post, tt, monkeypatch) -> tuple[Execution, int, int]:
    """Plan and render the post, then lower TikTok's chunk size (ours and the emulator's minimum) to
    a third of the rendition, so that it goes up in 3 chunks; returns (execution, size, chunk size)."""
    assert post_publish(post=post).created == 1
    render_pending()
    size = rendition(post).size
    chunk = size // 3
    monkeypatch.setattr(tiktok, "CHUNK_BYTES", chunk)
    tt.min_chunk = chunk
    drain()
    return Execution.objects.get(post=post), size, chunk


@pytest.mark.django_db
class TestPublish:
    def test_it_uploads_a_video_in_chunks_then_waits_for_publish_complete(self, tt, account, monkeypatch):
        post = make_post(account, prerendered=False)
        execution, size, chunk = publish_in_three_chunks(post, tt, monkeypatch)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert (rendition(post).width, rendition(post).height) == (1080, 1920)  # 9:16

        paths = [r.path.removeprefix("/v2/post/publish/") for r in tt.requests]
        assert paths == [
            "creator_info/query/",
            "video/init/",
            "/upload/video/",
            "/upload/video/",
            "/upload/video/",
            "status/fetch/",
            "status/fetch/",
        ]
        (init,) = tt.calls("video/init")
        assert init.headers["Authorization"] == f"Bearer {TOKEN}"
        assert init.json == {
            "post_info": {
                "title": CAPTION,
                "privacy_level": "SELF_ONLY",
                "disable_comment": False,
                "disable_duet": False,
                "disable_stitch": False,
                "brand_content_toggle": False,
                "brand_organic_toggle": False,
            },
            "source_info": {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk, "total_chunk_count": 3},
        }
        uploads = tt.uploads()
        assert [u.headers["Content-Range"] for u in uploads] == [
            f"bytes 0-{chunk - 1}/{size}",
            f"bytes {chunk}-{2 * chunk - 1}/{size}",
            f"bytes {2 * chunk}-{size - 1}/{size}",  # the last chunk takes the remainder
        ]
        assert all(u.method == "PUT" and u.headers["Content-Type"] == "video/mp4" for u in uploads)
        assert "Authorization" not in uploads[0].headers  # the upload_url carries its own token
        assert b"".join(u.body for u in uploads) == file_bytes(post)

        publish_id = execution.raw_response["publish_id"]
        assert publish_id.startswith("v_pub_file~")
        assert execution.remote_id == publish_id and execution.remote_url == ""  # SELF_ONLY posts get no public id
        assert execution.raw_response["chunks"] == 3
        assert tt.posts[0]["post_info"]["title"] == CAPTION
        logged = ActivityLog.objects.get(execution=execution, action="tiktok.accepted")
        assert logged.details == {"publish_id": publish_id, "source": "FILE_UPLOAD"}

    def test_it_sends_a_small_video_as_one_chunk(self, tt, account):
        post = make_post(account, "reel", prerendered=False)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        size = len(file_bytes(post))
        assert size == rendition(post).size < 5 * KIB * KIB  # below TikTok's 5 MB minimum chunk
        (init,) = tt.calls("video/init")
        assert init.json["source_info"] == {
            "source": "FILE_UPLOAD",
            "video_size": size,
            "chunk_size": size,
            "total_chunk_count": 1,
        }
        (upload,) = tt.uploads()
        assert upload.headers["Content-Range"] == f"bytes 0-{size - 1}/{size}"

    def test_it_links_a_public_post_by_its_post_id(self, tt, make_account):
        account = make_account(options={"privacy_level": "PUBLIC_TO_EVERYONE"})
        execution = publish(make_post(account))
        post_id = tt.posts[0]["id"]
        assert execution.remote_id == str(post_id)
        assert execution.remote_url == f"https://www.tiktok.com/@crosspost/video/{post_id}"
        assert tt.calls("video/init")[0].json["post_info"]["privacy_level"] == "PUBLIC_TO_EVERYONE"

    def test_it_lets_tiktok_pull_a_video_from_its_public_url(self, tt, make_account):
        account = make_account(options={"pull_from_url": True})
        options = {"tiktok": {"disable_duet": True, "video_cover_timestamp_ms": 1500, "is_aigc": True}}
        post = make_post(account, options=options, prerendered=False)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (init,) = tt.calls("video/init")
        url = init.json["source_info"]["video_url"]
        assert init.json["source_info"] == {"source": "PULL_FROM_URL", "video_url": url}
        assert url == f"{MEDIA_HOST}{rendition(post).file.url}"
        assert init.json["post_info"]["disable_duet"] is True
        assert init.json["post_info"]["video_cover_timestamp_ms"] == 1500
        assert init.json["post_info"]["is_aigc"] is True
        assert not tt.uploads()
        assert execution.raw_response["source"] == "PULL_FROM_URL"

    @pytest.mark.parametrize(("media_type", "photos"), [("photo", 1), ("carousel", 3)])
    def test_it_posts_photos_that_tiktok_pulls_by_url(self, tt, make_account, media_type, photos):
        account = make_account(options={"privacy_level": "MUTUAL_FOLLOW_FRIENDS"})
        post = make_post(account, media_type, photos=photos, options={"tiktok": {"title": "Launch day"}})
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (init,) = tt.calls("content/init")
        urls = init.json["source_info"]["photo_images"]
        assert init.json == {
            "media_type": "PHOTO",
            "post_mode": "DIRECT_POST",
            "post_info": {
                "description": CAPTION,
                "privacy_level": "MUTUAL_FOLLOW_FRIENDS",
                "disable_comment": False,
                "auto_add_music": True,
                "brand_content_toggle": False,
                "brand_organic_toggle": False,
                "title": "Launch day",
            },
            "source_info": {"source": "PULL_FROM_URL", "photo_images": urls, "photo_cover_index": 0},
        }
        assets = [pm.asset for pm in post.media.order_by("position")]
        photo_renditions = [Rendition.objects.get(asset=asset, profile="tiktok_photo") for asset in assets]
        assert urls == [f"{MEDIA_HOST}{r.file.url}" for r in photo_renditions]
        assert {(r.width, r.height, r.file.name.rsplit(".", 1)[1]) for r in photo_renditions} == {(1080, 1920, "jpg")}
        post_id = tt.posts[0]["id"]
        assert execution.remote_url == f"https://www.tiktok.com/@crosspost/photo/{post_id}"
        assert execution.raw_response["publish_id"].startswith("p_pub_url~")

    def test_it_keeps_interactions_the_creator_disabled_disabled(self, tt, make_account):
        tt.add_creator("act.quiet", username="quiet", comment_disabled=True, stitch_disabled=True)
        execution = publish(make_post(make_account(token="act.quiet")))
        assert execution.status == ExecutionStatus.SUCCESS
        post_info = tt.calls("video/init")[0].json["post_info"]
        assert (post_info["disable_comment"], post_info["disable_duet"], post_info["disable_stitch"]) == (True, False, True)

    def test_it_refuses_a_privacy_level_the_creator_does_not_offer(self, tt, make_account):
        tt.add_creator("act.private", username="private", private=True)
        account = make_account(token="act.private", options={"privacy_level": "PUBLIC_TO_EVERYONE"})
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "permission_denied")
        assert "FOLLOWER_OF_CREATOR, MUTUAL_FOLLOW_FRIENDS, SELF_ONLY" in execution.error_message
        assert not tt.calls("video/init")

    def test_it_refuses_a_video_longer_than_the_creator_may_post(self, tt, make_account):
        tt.add_creator("act.short", username="short", max_video_post_duration_sec=3)
        execution = publish(make_post(make_account(token="act.short")))  # the rendition lasts 4 s
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "media_rejected")
        assert execution.error_message == "The video lasts 4 s; this TikTok account may post videos up to 3 s."
        assert not tt.calls("video/init")


@pytest.mark.django_db
class TestErrors:
    @pytest.mark.parametrize(
        ("failure", "status", "code", "account_status"),
        [
            ("invalid_param", ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("scope_not_authorized", ExecutionStatus.FAILED, "permission_denied", AccountStatus.ACTIVE),
            ("spam_risk_too_many_posts", ExecutionStatus.RETRY_WAIT, "quota_exceeded", AccountStatus.COOLDOWN),
            ("spam_risk_too_many_pending_share", ExecutionStatus.RETRY_WAIT, "quota_exceeded", AccountStatus.COOLDOWN),
            ("reached_active_user_cap", ExecutionStatus.RETRY_WAIT, "quota_exceeded", AccountStatus.COOLDOWN),
            ("spam_risk_user_banned_from_posting", ExecutionStatus.FAILED, "account_banned", AccountStatus.BANNED),
            ("unaudited_client_can_only_post_to_private_accounts", ExecutionStatus.FAILED, "permission_denied", "active"),
            ("url_ownership_unverified", ExecutionStatus.FAILED, "permission_denied", AccountStatus.ACTIVE),
            ("spam_risk_text", ExecutionStatus.FAILED, "content_rejected", AccountStatus.ACTIVE),
            ("rate_limit_exceeded", ExecutionStatus.RETRY_WAIT, "rate_limited", AccountStatus.COOLDOWN),
            ("internal_error", ExecutionStatus.RETRY_WAIT, "transient", AccountStatus.ACTIVE),
        ],
    )
    def test_it_maps_each_error_code_to_the_execution_and_the_account(self, tt, account, failure, status, code, account_status):
        tt.fail_next(failure)
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (status, code)
        assert execution.raw_response["error"]["code"] == failure
        account.refresh_from_db()
        assert account.status == account_status
        assert AccountEvent.objects.filter(account=account, to_status=account_status).exists() == (account_status != "active")
        assert not tt.posts

    def test_it_explains_the_unaudited_app_restriction_in_plain_words(self, tt, make_account):
        tt.audited = False
        execution = publish(make_post(make_account(options={"privacy_level": "PUBLIC_TO_EVERYONE"})))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "permission_denied")
        assert execution.error_message == UNAUDITED_MESSAGE

    def test_it_reads_the_error_code_of_an_http_200_creator_info_answer(self, tt, account):
        tt.fail_next({"endpoint": "creator_info", "status": 200, "code": "spam_risk_too_many_posts"})
        before = timezone.now()
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "quota_exceeded")
        account.refresh_from_db()
        assert account.status == AccountStatus.COOLDOWN
        assert account.cooldown_until >= before + timedelta(hours=23)
        assert not tt.calls("video/init")

    @pytest.mark.parametrize(
        ("reason", "status", "code", "account_status"),
        [
            ("duration_check_failed", ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("file_format_check_failed", ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("video_pull_failed", ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("spam_risk_text", ExecutionStatus.FAILED, "content_rejected", AccountStatus.ACTIVE),
            ("spam_risk_too_many_posts", ExecutionStatus.RETRY_WAIT, "quota_exceeded", AccountStatus.COOLDOWN),
            ("spam_risk_user_banned_from_posting", ExecutionStatus.FAILED, "account_banned", AccountStatus.BANNED),
            ("auth_removed", ExecutionStatus.FAILED, "auth_required", AccountStatus.LOGIN_REQUIRED),
            ("internal", ExecutionStatus.RETRY_WAIT, "transient", AccountStatus.ACTIVE),
        ],
    )
    def test_it_maps_a_failed_status_to_its_fail_reason(self, tt, account, reason, status, code, account_status):
        tt.fail_publish(reason)
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (status, code)
        assert reason in execution.error_message
        assert execution.raw_response["fail_reason"] == reason
        account.refresh_from_db()
        assert account.status == account_status

    def test_it_sends_a_chunk_again_after_a_5xx(self, tt, account, monkeypatch):
        tt.fail_next({"endpoint": "upload", "status": 503})
        post = make_post(account)
        execution, size, chunk = publish_in_three_chunks(post, tt, monkeypatch)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert [u.headers["Content-Range"] for u in tt.uploads()] == [
            f"bytes 0-{chunk - 1}/{size}",
            f"bytes 0-{chunk - 1}/{size}",
            f"bytes {chunk}-{2 * chunk - 1}/{size}",
            f"bytes {2 * chunk}-{size - 1}/{size}",
        ]
        assert b"".join(u.body for u in tt.uploads()[1:]) == file_bytes(post)

    def test_it_leaves_a_post_still_processing_unconfirmed_then_settles_it_from_its_publish_id(self, tt, account, monkeypatch):
        monkeypatch.setattr(TikTokAdapter, "poll_attempts", 2)
        tt.processing_polls = 5
        execution = publish(make_post(account))
        assert execution.status == ExecutionStatus.UNCONFIRMED
        publish_id = next(iter(tt.publishes))
        assert publish_id in execution.error_message and "still processing" in execution.error_message

        assert reconcile_unconfirmed() == {"published": 0, "retried": 0, "failed": 0, "left": 1}  # still processing
        tt.processing_polls = 0
        assert reconcile_unconfirmed()["published"] == 1
        execution.refresh_from_db()
        assert (execution.status, execution.remote_id) == (ExecutionStatus.SUCCESS, publish_id)
        assert len(tt.calls("video/init")) == 1 and len(tt.posts) == 1  # never posted twice

    def test_it_retries_a_post_tiktok_reports_failed_after_a_crash(self, tt, account, monkeypatch):
        monkeypatch.setattr(TikTokAdapter, "poll_attempts", 1)
        tt.processing_polls = 5
        execution = publish(make_post(account))
        assert execution.status == ExecutionStatus.UNCONFIRMED
        next(iter(tt.publishes.values()))["outcome"] = "internal"
        tt.processing_polls = 0
        assert reconcile_unconfirmed()["retried"] == 1
        execution.refresh_from_db()
        assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "not_found_after_crash")

    def test_it_cannot_look_up_an_execution_tiktok_never_answered(self, tt, account):
        post = make_post(account)
        post_publish(post=post)
        execution = Execution.objects.get(post=post)
        with pytest.raises(base.LookupUnsupported, match="never returned a publish_id"):
            get_adapter("tiktok").lookup(lookup_request(execution))
        assert "cannot list or search a creator's posts" in TikTokAdapter.lookup.__doc__


@pytest.mark.django_db
class TestTokens:
    def test_it_refreshes_an_expired_token_once_stores_it_encrypted_and_reuses_it(self, tt, account):
        tt.expire(TOKEN)
        first = publish(make_post(account))
        assert first.status == ExecutionStatus.SUCCESS, first.error_message
        (refresh,) = [r for r in tt.requests if r.path == "/v2/oauth/token/"]
        assert {k: v[0] for k, v in refresh.form.items()} == {
            "client_key": CLIENT_KEY,
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": REFRESH,
        }
        account.refresh_from_db()
        new_token = account.credentials["access_token"]
        assert new_token.startswith("act.renewed") and account.credentials["refresh_token"].startswith("rft.renewed")
        assert account.credentials["access_token_expires_at"] > timezone.now().timestamp() + 86000
        with connection.cursor() as cursor:
            cursor.execute("SELECT credentials FROM accounts_socialaccount WHERE id = %s", [account.pk.hex])
            (stored,) = cursor.fetchone()
        assert new_token not in stored and "renewed" not in stored and CLIENT_SECRET not in stored

        tt.requests.clear()
        second = publish(make_post(account))
        assert second.status == ExecutionStatus.SUCCESS
        assert not [r for r in tt.requests if r.path == "/v2/oauth/token/"]
        assert {r.headers["Authorization"] for r in tt.requests if "Authorization" in r.headers} == {f"Bearer {new_token}"}

    def test_it_renews_a_token_past_its_stored_expiry_before_calling(self, tt, make_account):
        account = make_account()
        account.credentials = {**account.credentials, "access_token_expires_at": int(timezone.now().timestamp()) - 10}
        account.save()
        execution = publish(make_post(account))
        assert execution.status == ExecutionStatus.SUCCESS
        assert tt.requests[0].path == "/v2/oauth/token/"
        assert not [r for r in tt.requests if r.headers.get("Authorization") == f"Bearer {TOKEN}"]

    def test_it_asks_for_a_new_login_when_the_refresh_token_is_refused(self, tt, make_account):
        account = make_account(token="act.unknown", refresh="rft.revoked")
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "auth_required")
        assert "invalid_grant" in execution.error_message
        account.refresh_from_db()
        assert account.status == AccountStatus.LOGIN_REQUIRED

    def test_it_asks_for_a_new_login_without_a_way_to_renew(self, tt, workspace, make_account):
        account = SocialAccountFactory(workspace=workspace, platform="tiktok", credentials={"access_token": "act.gone"})
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "auth_required")
        assert not [r for r in tt.requests if r.path == "/v2/oauth/token/"]


@pytest.mark.django_db
def test_it_sends_everything_through_the_accounts_proxy(tt, account):
    account.proxy = dead_proxy(account.workspace)
    account.save()
    execution = publish(make_post(account))
    assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "proxy_failed")
    account.refresh_from_db()
    assert account.status == AccountStatus.PROXY_ERROR
    assert not tt.requests  # nothing reached the platform around the proxy


@pytest.mark.django_db
def test_it_never_leaks_a_token_or_secret(tt, make_account, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    outcomes = [publish_in_three_chunks(make_post(make_account()), tt, monkeypatch)[0].status]
    tt.expire(TOKEN)
    renewed = make_account()
    outcomes.append(publish(make_post(renewed)).status)
    for failure in ("scope_not_authorized", "internal_error", "spam_risk_user_banned_from_posting"):
        tt.fail_next(failure)
        outcomes.append(
            publish(make_post(make_account(token=SocialAccount.objects.get(pk=renewed.pk).credentials["access_token"]))).status
        )
    outcomes.append(publish(make_post(make_account(token="act.revoked-Secret", refresh="rft.revoked-Secret"))).status)
    health = get_adapter("tiktok").check(account_snapshot(make_account(token="act.check-Secret", refresh="rft.check-Secret")))
    assert outcomes == ["success", "success", "failed", "retry_wait", "failed", "failed"]

    renewed.refresh_from_db()
    secrets = [TOKEN, REFRESH, CLIENT_SECRET, renewed.credentials["access_token"], renewed.credentials["refresh_token"]]
    secrets += ["act.revoked-Secret", "rft.revoked-Secret", "act.check-Secret", "rft.check-Secret"]
    secrets += [p["upload_token"] for p in tt.publishes.values() if "upload_token" in p]
    seen = [caplog.text, health.detail, json.dumps(health.raw)]
    seen += [json.dumps([log.message, log.details]) for log in ActivityLog.objects.all()]
    seen += [json.dumps([e.error_message, e.raw_response, e.remote_url]) for e in Execution.objects.all()]
    seen += [event.reason for event in AccountEvent.objects.all()]
    assert not [s for s in secrets if any(s in text for text in seen)]
    assert "upload_token=<redacted>" in caplog.text  # urllib3's request lines are there, redacted


@pytest.mark.django_db
class TestCheck:
    def test_it_reports_the_creator_and_their_privacy_options(self, tt, account):
        health = get_adapter("tiktok").check(account_snapshot(account))
        assert health.ok, health.detail
        assert health.detail == "@crosspost can post to TikTok (SELF_ONLY)."
        assert health.raw["privacy_level_options"] == ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]

    def test_it_flags_a_privacy_level_the_creator_does_not_offer(self, tt, make_account):
        tt.add_creator("act.private", username="private", private=True)
        health = get_adapter("tiktok").check(
            account_snapshot(make_account(token="act.private", options={"privacy_level": "PUBLIC_TO_EVERYONE"}))
        )
        assert not health.ok and health.account_status is None
        assert "does not offer the privacy level PUBLIC_TO_EVERYONE" in health.detail

    def test_it_asks_for_a_login_when_the_token_cannot_be_renewed(self, tt, make_account):
        health = get_adapter("tiktok").check(account_snapshot(make_account(token="act.gone", refresh="rft.gone")))
        assert not health.ok and health.account_status == AccountStatus.LOGIN_REQUIRED


def video(**fields):
    values = {"path": "/media/a.mp4", "url": "", "kind": "video", "mime": "video/mp4", "size": 1000, "duration": 10.0}
    return base.MediaItem(**{**values, **fields})


def photo(**fields):
    values = {"path": "/media/a.jpg", "url": f"{MEDIA_HOST}/files/a.jpg", "kind": "image", "mime": "image/jpeg", "size": 1000}
    return base.MediaItem(**{**values, **fields})


@pytest.mark.django_db
class TestValidate:
    def problems(self, account, media_type="video", media=None, caption=CAPTION, options=None):
        media = (video(),) if media is None else tuple(media)
        request = base.PublishRequest(
            account=account_snapshot(account), caption=caption, media_type=media_type, media=media, options=options or {}
        )
        return [p.code for p in get_adapter("tiktok").validate(request)]

    def test_it_accepts_what_tiktok_accepts(self, account):
        assert self.problems(account) == []
        assert self.problems(account, "reel", caption="😀" * 1100) == []
        assert self.problems(account, "photo", [photo()]) == []
        assert self.problems(account, "carousel", [photo()] * 35) == []

    def test_it_counts_the_caption_in_utf16_units(self, account):
        assert self.problems(account, caption="😀" * 1101) == ["caption_too_long"]

    def test_it_checks_videos(self, account):
        assert self.problems(account, media=[video(mime="video/x-msvideo")]) == ["video_format"]
        assert self.problems(account, media=[video(duration=601)]) == ["video_too_long"]
        assert self.problems(account, media=[video(size=5 * 1024**3)]) == ["video_too_big"]
        assert self.problems(account, media=[video(path="", url="/files/a.mp4")]) == []  # PUBLIC_MEDIA_BASE_URL makes it public
        assert self.problems(account, media=[video(path="", url="http://10.0.0.1/a.mp4")]) == ["media_missing"]
        assert self.problems(account, media=[photo()]) == ["media_count"]

    def test_it_checks_photos(self, account, settings):
        assert self.problems(account, "photo", [photo(mime="image/png")]) == ["photo_format"]
        assert self.problems(account, "photo", [photo(size=21 * 1024 * 1024)]) == ["photo_too_big"]
        assert self.problems(account, "carousel", [photo()]) == ["media_count"]
        assert self.problems(account, "carousel", [photo()] * 36) == ["media_count"]
        assert self.problems(account, "photo", [photo()], options={"tiktok": {"title": "x" * 91}}) == ["title_too_long"]
        settings.PUBLIC_MEDIA_BASE_URL = ""
        assert self.problems(account, "photo", [photo(url="/files/a.jpg")]) == ["public_url"]

    def test_it_refuses_text_and_stories(self, account):
        assert self.problems(account, "text", media=[]) == ["media_type"]
        assert self.problems(account, "story") == ["media_type"]

    def test_it_needs_a_token(self, workspace):
        account = SocialAccountFactory(workspace=workspace, platform="tiktok", credentials={})
        assert self.problems(account) == ["access_token"]


def test_it_plans_chunks_by_tiktoks_rules():
    mb = 1024 * 1024
    assert tiktok.chunk_plan(3 * mb) == (3 * mb, 1)
    assert tiktok.chunk_plan(50_000_123, 10_000_000) == (10_000_000, 5)
    assert tiktok.chunk_ranges(50_000_123, 10_000_000, 5)[-1] == (40_000_000, 50_000_122)
    size = 4 * 1024 * mb
    chunk, count = tiktok.chunk_plan(size)
    assert count <= 1000 and 5 * mb <= chunk <= 64 * mb and size - (count - 1) * chunk <= 128 * mb
