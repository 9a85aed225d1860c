"""Each platform's statistics against its loopback emulator: what ``Adapter.metrics`` asks for
(the documented method, fields and parameters), how the answer maps onto the one vocabulary
(views, likes, comments, shares, saves, watch time), what is "not available" and why, a metric
the platform refuses stored as an error next to the others, and the errors that stop or pause
collection — with the secrets never in what is kept."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from platforms import base
from platforms.base import METRICS, AccountSnapshot, MetricsRequest
from platforms.instagram import private
from platforms.pinterest import PinterestAdapter
from platforms.registry import get_adapter
from platforms.sandbox import sandbox_metrics
from platforms.tiktok import TikTokAdapter
from platforms.vk import VkAdapter
from platforms.youtube import YouTubeAdapter
from publishing.models import ExecutionStatus
from stats.models import MetricSnapshot
from stats.services import metrics_collect_due

from .emulators.instagram_graph import InstagramGraphEmulator
from .emulators.instagram_private import InstagramPrivateEmulator
from .emulators.pinterest import PinterestEmulator
from .emulators.tiktok import TikTokEmulator
from .emulators.vk import VkEmulator
from .emulators.youtube import SCOPE_UPLOAD, YouTubeEmulator
from .factories import ExecutionFactory, SocialAccountFactory

PUBLISHED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def request_for(account: AccountSnapshot, remote_id: str, media_type: str = "photo") -> MetricsRequest:
    return MetricsRequest(account=account, remote_id=remote_id, media_type=media_type, published_at=PUBLISHED)


def covered(reading: base.Metrics) -> set[str]:
    """Every metric is accounted for: a value, "not available" with a reason, or an error."""
    return set(reading.values) | set(reading.unavailable) | set(reading.errors)


def assert_no_secret(reading: base.Metrics, *secrets: str) -> None:
    text = json.dumps([reading.values, reading.unavailable, reading.errors, reading.raw])
    for secret in secrets:
        assert secret not in text


# --- VK: wall.getById ----------------------------------------------------------------------------

VK_TOKEN = "vk1.a.userSecretToken_never-leaks_0123456789"


@pytest.fixture
def vk(settings, monkeypatch):
    monkeypatch.setattr(VkAdapter, "call_interval", 0)
    with VkEmulator() as emulator:
        settings.VK_API_BASE_URL = f"{emulator.url}/method"
        emulator.add_user(100, VK_TOKEN)
        emulator.add_group(1, "Crosspost", "crosspost", admins={100: 3})
        yield emulator


def vk_account(token=VK_TOKEN) -> AccountSnapshot:
    return AccountSnapshot(id=1, platform="vk", credentials={"access_token": token}, options={"owner_id": -1})


def vk_post(vk) -> str:
    result = VkAdapter().publish(base.PublishRequest(account=vk_account(), caption="Hello", media_type="text", marker="cp-1"))
    return result.remote_id


def test_vk_it_reads_views_likes_reposts_and_comments_with_wall_getbyid(vk):
    remote_id = vk_post(vk)
    owner, post = map(int, remote_id.split("_"))
    vk.set_counters(owner, post, views=1520, likes=87, reposts=12, comments=9)
    reading = VkAdapter().metrics(request_for(vk_account(), remote_id))
    assert reading.values == {"views": 1520, "likes": 87, "shares": 12, "comments": 9}
    assert set(reading.unavailable) == {"saves", "watch_time_s"}
    assert covered(reading) == set(METRICS)
    call = [r for r in vk.requests if r.path == "/method/wall.getById"][-1]
    assert call.form["posts"] == [remote_id] and call.form["v"] == ["5.199"]
    assert "access_token" not in call.query  # in the body, never in the URL
    assert_no_secret(reading, VK_TOKEN)


def test_vk_it_says_not_available_when_vk_leaves_views_out(vk):
    remote_id = vk_post(vk)
    owner, post = map(int, remote_id.split("_"))
    vk.set_counters(owner, post, views=None, likes=3)
    reading = VkAdapter().metrics(request_for(vk_account(), remote_id))
    assert "views" not in reading.values and "views" in reading.unavailable
    assert reading.values["likes"] == 3


def test_vk_it_raises_a_permanent_error_for_a_post_gone(vk):
    vk_post(vk)
    with pytest.raises(base.ContentRejected) as error:
        VkAdapter().metrics(request_for(vk_account(), "-1_999"))
    assert error.value.permanent


def test_vk_it_maps_vk_errors_rate_limit_and_lost_token(vk):
    remote_id = vk_post(vk)
    vk.fail_next({"code": 6, "method": "wall.getById"})
    with pytest.raises(base.RateLimited):
        VkAdapter().metrics(request_for(vk_account(), remote_id))
    with pytest.raises(base.AuthRequired) as error:
        VkAdapter().metrics(request_for(vk_account("vk1.a.revoked"), remote_id))
    assert "vk1.a.revoked" not in json.dumps(error.value.raw)


@pytest.mark.django_db
def test_vk_it_is_stored_by_the_collector(vk, settings):
    settings.STATS_ACCOUNT_INTERVAL_SECONDS = 0
    remote_id = vk_post(vk)
    owner, post = map(int, remote_id.split("_"))
    vk.set_counters(owner, post, views=40, likes=2, reposts=1, comments=0)
    account = SocialAccountFactory(platform="vk", credentials={"access_token": VK_TOKEN}, options={"owner_id": -1})
    execution = ExecutionFactory(
        post__workspace=account.workspace,
        account=account,
        status=ExecutionStatus.SUCCESS,
        finished_at=timezone.now() - timedelta(hours=2),
        remote_id=remote_id,
    )
    metrics_collect_due()
    snapshot = MetricSnapshot.objects.get(execution=execution)
    assert (snapshot.slot, snapshot.views, snapshot.likes, snapshot.shares, snapshot.comments) == ("1h", 40, 2, 1, 0)
    assert snapshot.saves is None and "saves" in snapshot.unavailable
    assert VK_TOKEN not in json.dumps(snapshot.raw)


# --- YouTube: videos.list part=statistics ----------------------------------------------------------

YT_REFRESH = "1//0gSecretRefreshToken-never-leaks"
YT_CLIENT, YT_SECRET = "1234-abc.apps.googleusercontent.com", "GOCSPX-SecretClientSecret"


@pytest.fixture
def yt(settings):
    with YouTubeEmulator() as emulator:
        settings.YOUTUBE_API_BASE_URL = emulator.url
        settings.GOOGLE_OAUTH_TOKEN_URL = f"{emulator.url}/token"
        emulator.channel = emulator.add_channel(refresh_token=YT_REFRESH, client_id=YT_CLIENT, client_secret=YT_SECRET)
        yield emulator


def yt_account() -> AccountSnapshot:
    credentials = {"refresh_token": YT_REFRESH, "client_id": YT_CLIENT, "client_secret": YT_SECRET}
    return AccountSnapshot(
        id=1, platform="youtube", credentials=credentials, update_credentials=lambda renew: renew(credentials) or credentials
    )


def test_youtube_it_reads_views_likes_and_comments_from_videos_list(yt):
    video_id = yt.add_video(yt.channel, viewCount=12034, likeCount=310, commentCount=27)
    reading = YouTubeAdapter().metrics(request_for(yt_account(), video_id, "video"))
    assert reading.values == {"views": 12034, "likes": 310, "comments": 27}
    assert set(reading.unavailable) == {"shares", "saves", "watch_time_s"}
    assert "Analytics API" in reading.unavailable["watch_time_s"]
    call = [r for r in yt.requests if r.path == "/youtube/v3/videos"][-1]
    assert call.query["part"] == ["statistics"] and call.query["id"] == [video_id]
    assert_no_secret(reading, YT_REFRESH, YT_SECRET)


def test_youtube_it_stores_the_rest_when_the_owner_hides_likes(yt):
    video_id = yt.add_video(yt.channel, viewCount=50, likeCount=None, commentCount=4)
    reading = YouTubeAdapter().metrics(request_for(yt_account(), video_id, "video"))
    assert reading.values == {"views": 50, "comments": 4}
    assert "likeCount" in reading.errors["likes"]


def test_youtube_it_asks_for_the_readonly_scope_it_needs(yt):
    video_id = yt.add_video(yt.channel, viewCount=1)
    yt.channel["scopes"] = (SCOPE_UPLOAD,)
    with pytest.raises(base.PermissionDenied) as error:
        YouTubeAdapter().metrics(request_for(yt_account(), video_id, "video"))
    assert "youtube.readonly" in error.value.message


def test_youtube_it_raises_for_a_video_gone_and_for_the_quota(yt):
    with pytest.raises(base.ContentRejected):
        YouTubeAdapter().metrics(request_for(yt_account(), "vidGONE", "video"))
    video_id = yt.add_video(yt.channel, viewCount=1)
    yt.fail_next({"endpoint": "videos", "status": 403, "reason": "quotaExceeded", "domain": "youtube.quota"})
    with pytest.raises(base.QuotaExceeded):
        YouTubeAdapter().metrics(request_for(yt_account(), video_id, "video"))


# --- Instagram Graph: GET /{media}/insights ----------------------------------------------------------

IG_TOKEN = "EAAGraphLongLivedToken_never-leaks_1234567890"
IG_USER = "17841400000000001"


@pytest.fixture
def meta(settings):
    with InstagramGraphEmulator() as emulator:
        settings.INSTAGRAM_GRAPH_BASE_URL = emulator.base_url
        emulator.add_account(IG_USER, IG_TOKEN, "crosspost.shop")
        yield emulator


def ig_account() -> AccountSnapshot:
    return AccountSnapshot(id=1, platform="instagram", credentials={"access_token": IG_TOKEN}, options={"ig_user_id": IG_USER})


def ig_media(meta, product="FEED", kind="IMAGE", when=None) -> str:
    return meta.add_published(IG_USER, caption="Hi", when=when or datetime.now(UTC), product=product, kind=kind).id


def insights_asked(meta) -> list[list[str]]:
    return [r.query["metric"][0].split(",") for r in meta.requests if r.path.endswith("/insights")]


def test_instagram_graph_it_reads_the_insights_of_a_feed_post(meta):
    media_id = ig_media(meta)
    meta.set_insights(media_id, views=900, reach=700, likes=55, comments=6, saved=14, shares=3, total_interactions=78)
    reading = get_adapter("instagram").metrics(request_for(ig_account(), media_id, "photo"))
    assert reading.values == {"views": 900, "likes": 55, "comments": 6, "saves": 14, "shares": 3}
    assert reading.raw["insights"]["reach"] == 700 and reading.errors == {}
    assert set(reading.unavailable) == {"watch_time_s"}
    assert "impressions" not in insights_asked(meta)[0]  # deprecated since v22 for media after July 2024
    assert_no_secret(reading, IG_TOKEN)


def test_instagram_graph_it_stores_the_rest_when_meta_refuses_one_metric(meta):
    media_id = ig_media(meta, "REELS", "VIDEO")
    meta.set_insights(
        media_id, views=5000, reach=4100, likes=300, comments=20, saved=41, shares=17, ig_reels_video_view_total_time=61500
    )
    meta.refuse_metric("shares", "(#100) The metric shares is not supported for this media type")
    reading = get_adapter("instagram").metrics(request_for(ig_account(), media_id, "reel"))
    assert reading.values == {"views": 5000, "likes": 300, "comments": 20, "saves": 41, "watch_time_s": 61.5}
    assert "shares is not supported" in reading.errors["shares"]
    assert reading.raw["insights"]["reach"] == 4100 and set(reading.errors) == {"shares"}
    asked = insights_asked(meta)
    assert "shares" in asked[0] and "shares" not in asked[1] and len(asked) == 2


@pytest.mark.django_db
def test_instagram_graph_it_collects_a_snapshot_with_the_refused_metric_under_errors(meta, settings):
    settings.STATS_ACCOUNT_INTERVAL_SECONDS = 0
    media_id = ig_media(meta)
    meta.set_insights(media_id, views=10, likes=2, comments=1, saved=0, shares=0)
    meta.refuse_metric("saved", "(#100) Starting from version v22.0 and above, the saved metric is no longer supported.")
    account = SocialAccountFactory(platform="instagram", credentials={"access_token": IG_TOKEN}, options={"ig_user_id": IG_USER})
    execution = ExecutionFactory(
        post__workspace=account.workspace,
        post__media_type="photo",
        account=account,
        status=ExecutionStatus.SUCCESS,
        finished_at=timezone.now() - timedelta(hours=7),
        remote_id=media_id,
    )
    metrics_collect_due()
    snapshot = MetricSnapshot.objects.get(execution=execution)
    assert (snapshot.slot, snapshot.views, snapshot.likes, snapshot.comments, snapshot.shares) == ("6h", 10, 2, 1, 0)
    assert snapshot.saves is None and "saved metric is no longer supported" in snapshot.errors["saves"]
    assert not snapshot.final


def test_instagram_graph_it_asks_a_story_for_what_stories_have(meta):
    media_id = ig_media(meta, "STORY", "IMAGE")
    meta.set_insights(media_id, views=80, reach=70, shares=1, total_interactions=2)
    reading = get_adapter("instagram").metrics(request_for(ig_account(), media_id, "story"))
    assert reading.values == {"views": 80, "shares": 1}
    assert {"likes", "comments", "saves", "watch_time_s"} <= set(reading.unavailable)
    assert len(insights_asked(meta)) == 1  # nothing the story matrix refuses was asked


def test_instagram_graph_it_reports_not_enough_viewers_as_errors_and_throttling_as_a_rate_limit(meta):
    media_id = ig_media(meta)
    meta.fail("insights", 10, message="(#10) Not enough viewers for the media to show insights")
    reading = get_adapter("instagram").metrics(request_for(ig_account(), media_id, "photo"))
    assert reading.values == {} and "Not enough viewers" in reading.errors["views"]
    meta.fail("insights", 4, message="(#4) Application request limit reached")
    with pytest.raises(base.RateLimited):
        get_adapter("instagram").metrics(request_for(ig_account(), media_id, "photo"))


# --- Instagram private API (instagrapi): media/{pk}/info/ ---------------------------------------------

IG_PASSWORD = "correct horse battery staple"


@pytest.fixture
def instagram(monkeypatch, settings):
    settings.INSTAGRAM_PRIVATE_REQUEST_DELAY_SECONDS = 0
    with InstagramPrivateEmulator() as emulator:
        monkeypatch.setattr(private, "client_hooks", [emulator.route])
        emulator.add_user("crosspost.private", IG_PASSWORD)
        yield emulator


def logged_in_private_account(instagram) -> tuple[AccountSnapshot, dict]:
    sessions: dict = {}
    account = AccountSnapshot(
        id=1,
        platform="instagram",
        handle="crosspost.private",
        credentials={"password": IG_PASSWORD},
        device_id="android-0123456789abcdef",
        save_session=lambda session, logged_in: sessions.update(session),
    )
    assert get_adapter("instagram").login(account).ok
    return AccountSnapshot(**{**account.__dict__, "session": dict(sessions)}), sessions


def test_instagram_private_it_reads_likes_comments_and_plays_with_media_info(instagram):
    account, _ = logged_in_private_account(instagram)
    user = instagram.users["crosspost.private"]
    reel = instagram._media(user, 2, "Hi", "clips")
    user.medias.insert(0, reel)
    instagram.set_counts(reel["pk"], like_count=42, comment_count=5, play_count=1234)
    logins = len(instagram.login_calls)
    reading = get_adapter("instagram").metrics(request_for(account, f"{reel['pk']}_{user.pk}", "reel"))
    assert reading.values == {"likes": 42, "comments": 5, "views": 1234}
    assert {"shares", "saves", "watch_time_s"} <= set(reading.unavailable)
    assert instagram.calls(f"/api/v1/media/{reel['pk']}/info/") and len(instagram.login_calls) == logins
    assert_no_secret(reading, IG_PASSWORD)


def test_instagram_private_it_never_logs_in_to_read_statistics(instagram):
    account = AccountSnapshot(id=1, platform="instagram", handle="crosspost.private", credentials={"password": IG_PASSWORD})
    with pytest.raises(base.AuthRequired):
        get_adapter("instagram").metrics(request_for(account, "3100000000000000001"))
    assert instagram.login_calls == []


def test_instagram_private_it_keeps_the_rest_when_likes_are_hidden_and_raises_for_a_media_gone(instagram):
    account, _ = logged_in_private_account(instagram)
    user = instagram.users["crosspost.private"]
    photo = instagram._media(user, 1, "Hi", "feed")
    user.medias.insert(0, photo)
    instagram.set_counts(photo["pk"], like_and_view_counts_disabled=True, comment_count=2)
    reading = get_adapter("instagram").metrics(request_for(account, photo["pk"]))
    assert reading.values == {"comments": 2} and "hides" in reading.errors["likes"]
    assert "views" in reading.unavailable
    with pytest.raises(base.PlatformError) as error:
        get_adapter("instagram").metrics(request_for(account, "3199999999999999999"))
    assert error.value.permanent


# --- TikTok: POST /v2/video/query/ --------------------------------------------------------------------

TT_TOKEN = "act.TikTokSecretAccessToken-never-leaks"


@pytest.fixture
def tiktok(settings):
    with TikTokEmulator() as emulator:
        settings.TIKTOK_API_BASE_URL = emulator.url
        emulator.creator = emulator.add_creator(TT_TOKEN, username="crosspost")
        yield emulator


def tt_account() -> AccountSnapshot:
    return AccountSnapshot(id=1, platform="tiktok", credentials={"access_token": TT_TOKEN})


def test_tiktok_it_reads_views_likes_comments_and_shares_with_video_query(tiktok):
    post = tiktok.add_post(tiktok.creator, view_count=8800, like_count=640, comment_count=31, share_count=22)
    reading = TikTokAdapter().metrics(request_for(tt_account(), str(post["id"]), "video"))
    assert reading.values == {"views": 8800, "likes": 640, "comments": 31, "shares": 22}
    assert set(reading.unavailable) == {"saves", "watch_time_s"}
    call = [r for r in tiktok.requests if r.path == "/v2/video/query/"][-1]
    assert call.query["fields"] == ["id,view_count,like_count,comment_count,share_count"]
    assert call.json == {"filters": {"video_ids": [str(post["id"])]}}
    assert call.headers["Authorization"] == f"Bearer {TT_TOKEN}" and TT_TOKEN not in json.dumps(call.query)
    assert_no_secret(reading, TT_TOKEN)


def test_tiktok_it_says_not_available_for_a_post_without_a_public_video_id(tiktok):
    post = tiktok.add_post(tiktok.creator, public=False)
    reading = TikTokAdapter().metrics(request_for(tt_account(), post["publish_id"], "video"))
    assert reading.values == {} and "only for public posts" in reading.unavailable["views"]
    assert covered(reading) == set(METRICS)
    assert not [r for r in tiktok.requests if r.path == "/v2/video/query/"]


def test_tiktok_it_finds_the_video_id_of_a_post_that_went_public(tiktok):
    post = tiktok.add_post(tiktok.creator, view_count=5)
    reading = TikTokAdapter().metrics(request_for(tt_account(), post["publish_id"], "video"))
    assert reading.values["views"] == 5 and reading.raw["video_id"] == str(post["id"])


def test_tiktok_it_raises_without_the_video_list_scope_and_for_a_video_gone(tiktok):
    post = tiktok.add_post(tiktok.creator)
    with pytest.raises(base.ContentRejected):
        TikTokAdapter().metrics(request_for(tt_account(), "7399999999999999999", "video"))
    tiktok.creator["no_video_list"] = True
    with pytest.raises(base.PermissionDenied) as error:
        TikTokAdapter().metrics(request_for(tt_account(), str(post["id"]), "video"))
    assert "video.list" in error.value.message


# --- Pinterest: GET /v5/pins/{id}/analytics -------------------------------------------------------------

PIN_TOKEN = "pina_SecretPinterestToken-never-leaks"


@pytest.fixture
def pinterest(settings):
    with PinterestEmulator() as emulator:
        settings.PINTEREST_API_BASE_URL = f"{emulator.url}/v5"
        emulator.add_user(PIN_TOKEN, username="crosspost")
        emulator.add_board(PIN_TOKEN)
        yield emulator


def pin_account(token=PIN_TOKEN) -> AccountSnapshot:
    return AccountSnapshot(id=1, platform="pinterest", credentials={"access_token": token})


def recent(published_days_ago: int = 2) -> datetime:
    return timezone.now() - timedelta(days=published_days_ago)


def test_pinterest_it_reads_impressions_saves_reactions_and_comments_from_pin_analytics(pinterest):
    pin = pinterest.add_pin(PIN_TOKEN, IMPRESSION=2400, SAVE=75, PIN_CLICK=90, TOTAL_REACTIONS=12, TOTAL_COMMENTS=4)
    request = MetricsRequest(account=pin_account(), remote_id=pin["id"], media_type="photo", published_at=recent())
    reading = PinterestAdapter().metrics(request)
    assert reading.values == {"views": 2400, "saves": 75, "likes": 12, "comments": 4}
    assert set(reading.unavailable) == {"shares", "watch_time_s"}
    call = [r for r in pinterest.requests if r.path.endswith("/analytics")][-1]
    assert call.query["metric_types"] == ["IMPRESSION,SAVE,PIN_CLICK,OUTBOUND_CLICK,TOTAL_COMMENTS,TOTAL_REACTIONS"]
    assert call.query["start_date"] == [recent().date().isoformat()]
    assert call.query["end_date"] == [timezone.now().date().isoformat()]
    assert_no_secret(reading, PIN_TOKEN)


def test_pinterest_it_reads_watch_time_of_a_video_pin_and_keeps_the_rest_when_one_lags(pinterest):
    pin = pinterest.add_pin(
        PIN_TOKEN, video=True, IMPRESSION=500, VIDEO_V50_WATCH_TIME=125000, TOTAL_REACTIONS=3, TOTAL_COMMENTS=0
    )
    request = MetricsRequest(account=pin_account(), remote_id=pin["id"], media_type="video", published_at=recent(200))
    reading = PinterestAdapter().metrics(request)
    assert reading.values == {"views": 500, "watch_time_s": 125.0, "likes": 3, "comments": 0}
    assert "SAVE" in reading.errors["saves"]  # not in the answer: stored as an error, the rest kept
    call = [r for r in pinterest.requests if r.path.endswith("/analytics")][-1]
    assert call.query["start_date"] == [(timezone.now().date() - timedelta(days=90)).isoformat()]  # Pinterest's 90-day limit


def test_pinterest_it_raises_for_a_pin_gone_and_for_a_rate_limit(pinterest):
    with pytest.raises(base.ContentRejected):
        PinterestAdapter().metrics(MetricsRequest(account=pin_account(), remote_id="813744226420799999", published_at=recent()))
    pin = pinterest.add_pin(PIN_TOKEN, IMPRESSION=1)
    pinterest.fail_next({"endpoint": "pins/analytics", "status": 429, "code": 8, "headers": {"Retry-After": "30"}})
    with pytest.raises(base.RateLimited):
        PinterestAdapter().metrics(MetricsRequest(account=pin_account(), remote_id=pin["id"], published_at=recent()))


# --- Telegram and the sandbox ----------------------------------------------------------------------------


def test_telegram_it_says_every_metric_is_not_available_without_calling_telegram(settings):
    settings.TELEGRAM_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens: a call would fail
    account = AccountSnapshot(id=1, platform="telegram", credentials={"bot_token": "123:secret"}, options={"chat_id": "@c"})
    reading = get_adapter("telegram").metrics(request_for(account, "@c/42"))
    assert reading.values == {} and reading.errors == {}
    assert set(reading.unavailable) == set(METRICS) and "Bot API" in reading.unavailable["views"]


def test_sandbox_it_gives_numbers_that_grow_with_age_and_repeat_for_the_same_age():
    account = AccountSnapshot(id=1, platform="sandbox")
    day1 = get_adapter("sandbox").metrics(
        MetricsRequest(account=account, remote_id="7", published_at=timezone.now() - timedelta(days=1))
    )
    day7 = get_adapter("sandbox").metrics(
        MetricsRequest(account=account, remote_id="7", published_at=timezone.now() - timedelta(days=7))
    )
    assert 0 < day1.values["views"] < day7.values["views"]
    assert set(day1.values) == {"views", "likes", "comments", "shares", "saves"}
    again = sandbox_metrics("7", PUBLISHED, now=PUBLISHED + timedelta(days=1))
    assert again.values == sandbox_metrics("7", PUBLISHED, now=PUBLISHED + timedelta(days=1)).values
