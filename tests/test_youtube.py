"""The YouTube adapter against the loopback Data API and Google token endpoint:
resumable uploads in 256 KiB chunks, resuming after a dropped connection or a 503
from the acknowledged byte (never from zero), Shorts, metadata limits, every
documented error through the real engine, token refresh (stored encrypted,
reused until expiry), processing checks, lookup by the marker tag — and no token
or secret in any log, message or stored response."""

import json
import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AccountEvent, AccountStatus
from crosspost.models import ActivityLog
from media.models import Rendition
from platforms import base, youtube
from platforms.registry import get_adapter
from platforms.youtube import YouTubeAdapter
from publishing.adapters import account_snapshot, lookup_request
from publishing.models import Execution, ExecutionStatus
from publishing.planner import post_publish
from publishing.publisher import reconcile_unconfirmed

from .emulators.youtube import SCOPE_UPLOAD, UPLOAD, YouTubeEmulator
from .factories import (
    PostFactory,
    PostMediaFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    VideoAssetFactory,
)
from .support.engine import drain, render_pending
from .support.net import dead_proxy

REFRESH = "1//0gSecretRefreshToken-never-leaks"
CLIENT_ID, CLIENT_SECRET = "1234-abc.apps.googleusercontent.com", "GOCSPX-SecretClientSecret"
CAPTION = "Launch day at Crosspost\nEverything you need to know. #launch"
KIB = 1024
CHUNK = 256 * KIB  # YOUTUBE_UPLOAD_CHUNK_BYTES in these tests
PROFILES = {"video": "youtube_video", "reel": "youtube_short", "story": "youtube_short"}


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(YouTubeAdapter, "retry_delay", 0)
    monkeypatch.setattr(YouTubeAdapter, "processing_interval", 0)


@pytest.fixture
def yt(settings):
    with YouTubeEmulator() as emulator:
        settings.YOUTUBE_API_BASE_URL = emulator.url
        settings.GOOGLE_OAUTH_TOKEN_URL = f"{emulator.url}/token"
        settings.YOUTUBE_UPLOAD_CHUNK_BYTES = CHUNK
        emulator.add_channel(refresh_token=REFRESH, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        yield emulator


@pytest.fixture
def make_account(workspace, yt):
    PublishingPolicyFactory(workspace=workspace, platform="youtube", fast=True)

    def make(refresh=REFRESH, **fields):
        credentials = {"refresh_token": refresh, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        fields.setdefault("options", {})
        return SocialAccountFactory(workspace=workspace, platform="youtube", credentials=credentials, **fields)

    return make


@pytest.fixture
def account(make_account):
    return make_account(handle="Crosspost Channel")


def make_post(account, media_type="video", *, caption=CAPTION, options=None, prerendered=True):
    """A post of a real 4 s clip: YouTube gets its youtube_video (16:9) or youtube_short (9:16) rendition.
    Made ready in advance unless ``prerendered=False``: then the engine renders it (drain)."""
    post = PostFactory(workspace=account.workspace, media_type=media_type, caption=caption, options=options or {})
    renditions = [PROFILES[media_type]] if prerendered else []
    PostMediaFactory(post=post, asset=VideoAssetFactory(workspace=account.workspace, renditions=renditions))
    post.target_accounts.set([account])
    return post


def publish(post) -> Execution:
    render(post)
    drain()
    return Execution.objects.get(post=post)


def render(post) -> int:
    """Plan the post and render its video; returns the size of the rendition YouTube will get.
    Tests that aim failures at a byte of the upload call this first, then ``publish``."""
    if not Execution.objects.filter(post=post).exists():
        plan = post_publish(post=post)
        assert plan.created == 1, plan.as_dict()
    render_pending()
    return rendition(post).size


def rendition(post) -> Rendition:
    return Rendition.objects.get(asset=post.media.get().asset, profile=PROFILES[post.media_type])


def file_bytes(post) -> bytes:
    with rendition(post).file.open("rb") as handle:
        return handle.read()


def ranges(yt) -> list[str]:
    return [r.headers["Content-Range"] for r in yt.uploads()]


def chunk_ranges(size: int, start: int = 0) -> list[str]:
    """The Content-Range of each chunk when bytes ``start``… of a ``size``-byte file go up in CHUNK pieces."""
    return [f"bytes {first}-{min(first + CHUNK, size) - 1}/{size}" for first in range(start, size, CHUNK)]


def last_chunk(size: int) -> int:
    return (size - 1) // CHUNK * CHUNK


@pytest.mark.django_db
class TestPublish:
    def test_it_uploads_a_video_in_resumable_chunks(self, yt, account):
        post = make_post(account, options={"youtube": {"tags": ["crosspost", "launch day"]}}, prerendered=False)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        video = rendition(post)
        assert (video.width, video.height) == (1920, 1080)  # a plain video goes up 16:9
        size = video.size

        (insert,) = [r for r in yt.requests if r.method == "POST" and r.path == UPLOAD]
        assert insert.query == {"uploadType": ["resumable"], "part": ["snippet,status"]}
        assert insert.headers["X-Upload-Content-Length"] == str(size)
        assert insert.headers["X-Upload-Content-Type"] == "video/mp4"
        assert insert.headers["Content-Type"] == "application/json; charset=UTF-8"
        assert insert.json == {
            "snippet": {
                "title": "Launch day at Crosspost",
                "description": CAPTION,
                "tags": ["crosspost", "launch day", f"cp-{execution.pk}"],
                "categoryId": "22",
                "defaultLanguage": "en",
            },
            "status": {"privacyStatus": "private", "selfDeclaredMadeForKids": False, "containsSyntheticMedia": False},
        }
        assert len(chunk_ranges(size)) >= 4 and ranges(yt) == chunk_ranges(size)
        assert ranges(yt)[:2] == [f"bytes 0-262143/{size}", f"bytes 262144-524287/{size}"]
        assert b"".join(r.body for r in yt.uploads()) == file_bytes(post)
        video_id = execution.remote_id
        assert yt.video_bytes(video_id) == file_bytes(post)
        assert execution.remote_url == f"https://www.youtube.com/watch?v={video_id}"
        assert execution.raw_response["short"] is False
        assert execution.raw_response["processing"] == {"upload_status": "processed", "processing_status": "succeeded"}
        assert execution.raw_response["upload"] == {"chunks": len(chunk_ranges(size)), "resumed": 0}
        polls = [r for r in yt.requests if r.path == "/youtube/v3/videos"]
        assert len(polls) == 2 and polls[0].query["part"] == ["status,processingDetails"]

    def test_it_takes_privacy_category_and_title_from_the_options(self, yt, make_account):
        account = make_account(options={"privacy_status": "unlisted", "category_id": "28", "notify_subscribers": False})
        post = make_post(account, options={"youtube": {"title": "Our <new> release", "privacy_status": "public"}})
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (insert,) = [r for r in yt.requests if r.method == "POST" and r.path == UPLOAD]
        assert insert.query["notifySubscribers"] == ["false"]
        assert insert.json["snippet"]["title"] == "Our ‹new› release"
        assert insert.json["snippet"]["categoryId"] == "28"
        assert insert.json["status"]["privacyStatus"] == "public"

    def test_it_shortens_a_long_first_line_to_a_title_at_a_word(self, yt, account):
        caption = "word " * 40 + "\nsecond line"
        execution = publish(make_post(account, caption=caption))
        title = yt.videos[execution.remote_id]["resource"]["snippet"]["title"]
        assert len(title) <= 100 and title.endswith("word…")

    @pytest.mark.parametrize("media_type", ["reel", "story"])
    def test_it_publishes_a_reel_or_story_as_a_short(self, yt, account, media_type):
        post = make_post(account, media_type, prerendered=False)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        short = rendition(post)
        assert (short.profile, short.width, short.height) == ("youtube_short", 1080, 1920)  # rendered vertical
        assert yt.video_bytes(execution.remote_id) == file_bytes(post)
        snippet = yt.videos[execution.remote_id]["resource"]["snippet"]
        assert snippet["description"] == f"{CAPTION}\n\n#Shorts"
        assert snippet["title"] == "Launch day at Crosspost"
        assert execution.remote_url == f"https://youtube.com/shorts/{execution.remote_id}"
        assert execution.raw_response["short"] is True

    @pytest.mark.parametrize(
        ("width", "height", "duration", "short"),
        [(1080, 1920, 180, True), (1080, 1080, 180, True), (1080, 1920, 181, False), (1920, 1080, 60, False)],
    )
    def test_it_makes_a_short_of_a_vertical_or_square_video_of_up_to_3_minutes(
        self, yt, account, tmp_path, width, height, duration, short
    ):
        # The rule on the media the adapter is given (the engine hands it a 16:9 or 9:16 rendition).
        path = tmp_path / "clip.mp4"
        path.write_bytes(b"\x00" * 1000)
        item = base.MediaItem(str(path), "", "video", "video/mp4", 1000, width, height, float(duration))
        request = base.PublishRequest(
            account=account_snapshot(account), caption=CAPTION, media_type="video", media=(item,), marker="cp-1"
        )
        result = get_adapter("youtube").publish(request)
        description = yt.videos[result.remote_id]["resource"]["snippet"]["description"]
        assert description.endswith("\n\n#Shorts") is short
        assert result.url == (
            f"https://youtube.com/shorts/{result.remote_id}" if short else f"https://www.youtube.com/watch?v={result.remote_id}"
        )


@pytest.mark.django_db
class TestResume:
    def test_it_resumes_after_a_dropped_connection_from_the_byte_youtube_acknowledged(self, yt, account):
        yt.fail_next({"endpoint": "upload", "drop": True, "keep": 100_000, "at": 262144})
        post = make_post(account)
        size = render(post)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        rest = chunk_ranges(size, start=362144)  # 308 Range: bytes=0-362143
        assert ranges(yt) == [
            f"bytes 0-262143/{size}",
            f"bytes 262144-524287/{size}",  # cut off after 100 000 bytes arrived
            f"bytes */{size}",  # where are we?
            *rest,
        ]
        assert rest[0] == f"bytes 362144-624287/{size}"
        assert sum(r.startswith("bytes 0-") for r in ranges(yt)) == 1  # never re-sent from zero
        assert yt.uploads()[2].body == b""
        assert yt.video_bytes(execution.remote_id) == file_bytes(post)
        assert execution.raw_response["upload"] == {"chunks": 2 + len(rest), "resumed": 1}

    def test_it_resumes_after_a_503(self, yt, account):
        yt.fail_next({"endpoint": "upload", "status": 503, "at": 524288})
        post = make_post(account)
        size = render(post)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert ranges(yt) == [
            f"bytes 0-262143/{size}",
            f"bytes 262144-524287/{size}",
            f"bytes 524288-786431/{size}",  # 503
            f"bytes */{size}",
            *chunk_ranges(size, start=524288),  # that chunk again, then the rest
        ]
        assert yt.video_bytes(execution.remote_id) == file_bytes(post)

    def test_it_finds_the_finished_video_when_the_last_answer_is_lost(self, yt, account):
        post = make_post(account)
        size = render(post)
        yt.fail_next({"endpoint": "upload", "drop": True, "after": True, "at": last_chunk(size)})
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert ranges(yt)[-2:] == [f"bytes {last_chunk(size)}-{size - 1}/{size}", f"bytes */{size}"]
        assert len(yt.videos) == 1

    def test_it_gives_up_on_an_upload_that_keeps_failing_and_retries_it_later(self, yt, account, monkeypatch):
        monkeypatch.setattr(YouTubeAdapter, "upload_retries", 2)
        yt.fail_next({"endpoint": "upload", "status": 503}, times=3)
        post = make_post(account)
        execution = publish(post)
        assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "transient")
        assert f"kept failing at byte 0 of {rendition(post).size}" in execution.error_message
        assert not yt.videos

    def test_it_leaves_a_video_whose_end_was_never_confirmed_to_lookup(self, yt, account, monkeypatch):
        monkeypatch.setattr(YouTubeAdapter, "upload_retries", 0)
        post = make_post(account)
        yt.fail_next({"endpoint": "upload", "drop": True, "after": True, "at": last_chunk(render(post))})
        execution = publish(post)
        assert execution.status == ExecutionStatus.UNCONFIRMED
        assert "may exist" in execution.error_message
        assert reconcile_unconfirmed()["published"] == 1
        execution.refresh_from_db()
        (video_id,) = yt.videos
        assert (execution.status, execution.remote_id) == (ExecutionStatus.SUCCESS, video_id)

    def test_it_starts_over_later_when_the_upload_session_expired(self, yt, account):
        yt.fail_next({"endpoint": "upload", "status": 503, "at": 0, "forget": True})
        post = make_post(account)
        execution = publish(post)
        assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "transient")
        assert "upload session expired" in execution.error_message
        size = rendition(post).size
        assert ranges(yt) == [f"bytes 0-262143/{size}", f"bytes */{size}"]


@pytest.mark.django_db
class TestErrors:
    @pytest.mark.parametrize(
        ("failure", "status", "code", "account_status"),
        [
            ("quotaExceeded", ExecutionStatus.RETRY_WAIT, "quota_exceeded", AccountStatus.COOLDOWN),
            ("uploadLimitExceeded", ExecutionStatus.RETRY_WAIT, "quota_exceeded", AccountStatus.COOLDOWN),
            ("rateLimitExceeded", ExecutionStatus.RETRY_WAIT, "rate_limited", AccountStatus.COOLDOWN),
            ("userRateLimitExceeded", ExecutionStatus.RETRY_WAIT, "rate_limited", AccountStatus.COOLDOWN),
            ("forbidden", ExecutionStatus.FAILED, "permission_denied", AccountStatus.ACTIVE),
            ("insufficientPermissions", ExecutionStatus.FAILED, "permission_denied", AccountStatus.ACTIVE),
            ("youtubeSignupRequired", ExecutionStatus.FAILED, "permission_denied", AccountStatus.ACTIVE),
            ("authenticatedUserAccountSuspended", ExecutionStatus.FAILED, "account_banned", AccountStatus.BANNED),
            ("invalidTitle", ExecutionStatus.FAILED, "content_rejected", AccountStatus.ACTIVE),
            ("invalidDescription", ExecutionStatus.FAILED, "content_rejected", AccountStatus.ACTIVE),
            ("invalidTags", ExecutionStatus.FAILED, "content_rejected", AccountStatus.ACTIVE),
            ("mediaBodyRequired", ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("backendError", ExecutionStatus.RETRY_WAIT, "transient", AccountStatus.ACTIVE),
            ("serviceUnavailable", ExecutionStatus.RETRY_WAIT, "transient", AccountStatus.ACTIVE),
        ],
    )
    def test_it_maps_each_error_reason_to_the_execution_and_the_account(self, yt, account, failure, status, code, account_status):
        yt.fail_next(failure)
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (status, code)
        assert execution.raw_response["reason"] == ("backendError" if failure == "serviceUnavailable" else failure)
        account.refresh_from_db()
        assert account.status == account_status
        assert AccountEvent.objects.filter(account=account, to_status=account_status).exists() == (account_status != "active")
        assert not yt.uploads()

    def test_it_rests_the_account_until_the_quota_resets_at_pacific_midnight(self, yt, account):
        yt.fail_next("quotaExceeded")
        execution = publish(make_post(account))
        account.refresh_from_db()
        assert account.cooldown_until == youtube.next_pacific_midnight()
        assert account.cooldown_until.astimezone(youtube.PACIFIC).hour == 0
        assert execution.scheduled_for >= account.cooldown_until

    def test_it_rests_the_account_for_a_day_at_the_channels_upload_limit(self, yt, account):
        yt.fail_next("uploadLimitExceeded")
        before = timezone.now()
        publish(make_post(account))
        account.refresh_from_db()
        assert before + timedelta(hours=24) <= account.cooldown_until <= timezone.now() + timedelta(hours=24)

    @pytest.mark.parametrize(
        ("upload_status", "reason", "code", "account_status"),
        [
            ("rejected", "duplicate", "media_rejected", AccountStatus.ACTIVE),
            ("failed", "codec", "media_rejected", AccountStatus.ACTIVE),
            ("rejected", "uploaderAccountSuspended", "account_banned", AccountStatus.BANNED),
        ],
    )
    def test_it_reports_a_video_youtube_rejected_while_processing(self, yt, account, upload_status, reason, code, account_status):
        yt.reject_next(upload_status, reason)
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, code)
        (video_id,) = yt.videos
        assert video_id in execution.error_message and reason in execution.error_message
        assert execution.raw_response["video_id"] == video_id
        account.refresh_from_db()
        assert account.status == account_status

    def test_it_skips_the_processing_check_without_the_readonly_scope(self, yt, make_account):
        yt.add_channel(refresh_token="1//upload-only", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scopes=(SCOPE_UPLOAD,))
        execution = publish(make_post(make_account(refresh="1//upload-only")))
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert execution.raw_response["processing"] == {"checked": False, "why": "the token lacks youtube.readonly"}


@pytest.mark.django_db
class TestTokens:
    def test_it_stores_the_access_token_encrypted_and_reuses_it_until_it_expires(self, yt, account):
        assert publish(make_post(account)).status == ExecutionStatus.SUCCESS
        (refresh,) = [r for r in yt.requests if r.path == "/token"]
        assert {k: v[0] for k, v in refresh.form.items()} == {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": REFRESH,
        }
        account.refresh_from_db()
        token = account.credentials["access_token"]
        assert token.startswith("ya29.") and account.credentials["access_token_expires_at"] > timezone.now().timestamp() + 3500
        with connection.cursor() as cursor:
            cursor.execute("SELECT credentials FROM accounts_socialaccount WHERE id = %s", [account.pk.hex])
            (stored,) = cursor.fetchone()
        assert token not in stored and REFRESH not in stored and "ya29" not in stored

        yt.requests.clear()
        assert publish(make_post(account)).status == ExecutionStatus.SUCCESS
        assert not [r for r in yt.requests if r.path == "/token"]
        assert {r.headers["Authorization"] for r in yt.requests} == {f"Bearer {token}"}

        account.credentials = {**account.credentials, "access_token_expires_at": int(timezone.now().timestamp()) + 30}
        account.save()
        yt.requests.clear()
        assert publish(make_post(account)).status == ExecutionStatus.SUCCESS
        assert yt.requests[0].path == "/token"  # about to expire: renewed first

    def test_it_renews_a_token_google_rejects_once(self, yt, account):
        publish(make_post(account))
        yt.expire_access_tokens()
        yt.requests.clear()
        execution = publish(make_post(account))
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert [r.path for r in yt.requests[:3]] == [UPLOAD, "/token", UPLOAD]

    def test_it_asks_for_a_login_when_a_renewed_token_is_rejected_too(self, yt, account):
        expires_at = int(timezone.now().timestamp()) + 3000
        account.credentials = {**account.credentials, "access_token": "ya29.revoked", "access_token_expires_at": expires_at}
        account.save()
        yt.fail_next({"endpoint": "insert", "status": 401, "reason": "authError", "message": "Invalid Credentials"})
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "auth_required")
        assert [r.path for r in yt.requests] == [UPLOAD, "/token", UPLOAD]  # renewed once, then given up
        account.refresh_from_db()
        assert account.status == AccountStatus.LOGIN_REQUIRED

    def test_it_asks_for_re_consent_when_google_refuses_the_refresh_token(self, yt, make_account):
        account = make_account(refresh="1//revoked")
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "auth_required")
        assert "invalid_grant" in execution.error_message and "re-consent needed" in execution.error_message
        account.refresh_from_db()
        assert account.status == AccountStatus.LOGIN_REQUIRED
        assert "re-consent needed" in account.status_reason

    def test_it_names_a_wrong_oauth_client(self, yt, workspace, make_account):
        account = make_account()
        account.credentials = {**account.credentials, "client_secret": "GOCSPX-wrong"}
        account.save()
        execution = publish(make_post(account))
        assert execution.error_code == "auth_required"
        assert "invalid_client" in execution.error_message and "client_id and client_secret" in execution.error_message

    def test_it_retries_when_the_token_endpoint_is_down(self, yt, account):
        yt.fail_next({"endpoint": "token", "status": 503, "reason": "server_error"})
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "transient")
        account.refresh_from_db()
        assert account.status == AccountStatus.ACTIVE


@pytest.mark.django_db
def test_it_sends_everything_through_the_accounts_proxy(yt, account):
    account.proxy = dead_proxy(account.workspace)
    account.save()
    execution = publish(make_post(account))
    assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "proxy_failed")
    account.refresh_from_db()
    assert account.status == AccountStatus.PROXY_ERROR
    assert not yt.requests  # nothing reached the platform around the proxy


@pytest.mark.django_db
def test_it_never_leaks_a_token_or_secret(yt, make_account, caplog):
    caplog.set_level(logging.DEBUG)
    outcomes = [publish(make_post(make_account())).status]
    yt.fail_next({"endpoint": "upload", "drop": True, "keep": 1000, "at": 262144})
    outcomes.append(publish(make_post(make_account())).status)
    for failure in ("forbidden", "backendError", "invalidTitle"):
        yt.fail_next(failure)
        outcomes.append(publish(make_post(make_account())).status)
    outcomes.append(publish(make_post(make_account(refresh="1//revoked-Secret"))).status)
    health = get_adapter("youtube").check(account_snapshot(make_account(refresh="1//check-Secret")))
    assert outcomes == ["success", "success", "failed", "retry_wait", "failed", "failed"]

    secrets = [REFRESH, CLIENT_SECRET, "1//revoked-Secret", "1//check-Secret", *yt.access_tokens]
    seen = [caplog.text, health.detail, json.dumps(health.raw)]
    seen += [json.dumps([log.message, log.details]) for log in ActivityLog.objects.all()]
    seen += [json.dumps([e.error_message, e.raw_response, e.remote_url]) for e in Execution.objects.all()]
    seen += [event.reason for event in AccountEvent.objects.all()]
    assert not [s for s in secrets if any(s in text for text in seen)]


@pytest.mark.django_db
class TestLookupAndCheck:
    def test_it_finds_a_video_by_its_marker_tag(self, yt, account):
        execution = publish(make_post(account))
        found = get_adapter("youtube").lookup(lookup_request(execution))
        assert (found.remote_id, found.url) == (execution.remote_id, f"https://www.youtube.com/watch?v={execution.remote_id}")
        unpublished = make_post(account)
        post_publish(post=unpublished)
        assert get_adapter("youtube").lookup(lookup_request(Execution.objects.get(post=unpublished))) is None

    def test_it_cannot_look_up_without_the_readonly_scope(self, yt, make_account):
        yt.add_channel(refresh_token="1//upload-only", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scopes=(SCOPE_UPLOAD,))
        execution = publish(make_post(make_account(refresh="1//upload-only")))
        with pytest.raises(base.LookupUnsupported, match=r"grant youtube\.readonly"):
            get_adapter("youtube").lookup(lookup_request(execution))

    def test_it_checks_the_token_and_the_channel(self, yt, account, make_account):
        health = get_adapter("youtube").check(account_snapshot(account))
        assert health.ok and health.detail == "YouTube channel Crosspost Channel is connected."
        revoked = get_adapter("youtube").check(account_snapshot(make_account(refresh="1//revoked")))
        assert not revoked.ok and revoked.account_status == AccountStatus.LOGIN_REQUIRED
        yt.add_channel(refresh_token="1//upload-only", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scopes=(SCOPE_UPLOAD,))
        limited = get_adapter("youtube").check(account_snapshot(make_account(refresh="1//upload-only")))
        assert limited.ok and "youtube.readonly" in limited.detail


def item(**fields):
    values = {"path": "/media/a.mp4", "url": "", "kind": "video", "mime": "video/mp4", "size": 1000}
    values |= {"width": 1920, "height": 1080, "duration": 60.0}
    return base.MediaItem(**{**values, **fields})


@pytest.mark.django_db
class TestValidate:
    def problems(self, account, media_type="video", media=None, caption=CAPTION, options=None):
        media = (item(),) if media is None else tuple(media)
        request = base.PublishRequest(
            account=account_snapshot(account), caption=caption, media_type=media_type, media=media, options=options or {}
        )
        return [p.code for p in get_adapter("youtube").validate(request)]

    def test_it_accepts_what_youtube_accepts(self, account):
        assert self.problems(account) == []
        assert self.problems(account, "reel", [item(width=1080, height=1920, duration=180)]) == []
        assert self.problems(account, caption="é" * 2500) == []  # 5000 bytes

    def test_it_wants_reels_and_stories_to_qualify_as_shorts(self, account):
        assert self.problems(account, "reel") == ["not_a_short"]
        assert self.problems(account, "story", [item(width=1080, height=1920, duration=181)]) == ["not_a_short"]

    def test_it_checks_the_metadata(self, account):
        assert self.problems(account, caption="é" * 2501) == ["caption_too_long"]
        assert self.problems(account, "reel", [item(width=1080, height=1920)], caption="é" * 2497) == ["caption_too_long"]
        assert self.problems(account, caption="  \n ") == ["title"]
        assert self.problems(account, options={"youtube": {"title": "x" * 101}}) == ["title"]
        assert self.problems(account, options={"youtube": {"tags": ["a" * 490]}}) == ["tags"]
        assert self.problems(account, options={"youtube": {"privacy_status": "friends"}}) == ["privacy_status"]

    def test_it_needs_one_video_and_the_oauth_credentials(self, account, workspace):
        assert self.problems(account, "photo") == ["media_type"]
        assert self.problems(account, media=[item(), item()]) == ["media_count"]
        bare = SocialAccountFactory(workspace=workspace, platform="youtube", credentials={"refresh_token": "1//x"})
        (problem,) = get_adapter("youtube").validate(
            base.PublishRequest(account=account_snapshot(bare), caption=CAPTION, media_type="video", media=(item(),))
        )
        assert (
            problem.message == "The account lacks client_id, client_secret: connect the YouTube channel (OAuth, offline access)."
        )


def test_it_counts_tags_the_way_youtube_does():
    assert youtube.tags_length(["Foo Baz", "abc"]) == 9 + 1 + 3
    assert youtube.chunk_bytes() % (256 * KIB) == 0
