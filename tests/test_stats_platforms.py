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
from platforms.vk import VkAdapter
from platforms.youtube import YouTubeAdapter
from publishing.models import ExecutionStatus
from stats.models import MetricSnapshot
from stats.services import metrics_collect_due

from .emulators.vk import VkEmulator
from .emulators.youtube import YouTubeEmulator
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


def test_youtube_it_raises_for_a_video_gone_and_for_the_quota(yt):
    with pytest.raises(base.ContentRejected):
        YouTubeAdapter().metrics(request_for(yt_account(), "vidGONE", "video"))
    video_id = yt.add_video(yt.channel, viewCount=1)
    yt.fail_next({"endpoint": "videos", "status": 403, "reason": "quotaExceeded", "domain": "youtube.quota"})
    with pytest.raises(base.QuotaExceeded):
        YouTubeAdapter().metrics(request_for(yt_account(), video_id, "video"))
