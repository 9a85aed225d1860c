"""YouTube playlists through the real engine and the loopback Data API: a video published with
``playlist_id`` is added to the playlist (playlistItems.insert) after its upload; when YouTube
refuses that, the video stays published, uploaded once, and the refusal is a warning on the
execution — and validate() refuses a playlist id of the wrong shape before anything is sent."""

import pytest

from crosspost.models import ActivityLog
from platforms import base, youtube
from platforms.registry import get_adapter
from platforms.youtube import YouTubeAdapter
from publishing.adapters import account_snapshot
from publishing.models import Execution, ExecutionStatus
from publishing.planner import post_publish

from .emulators.youtube import SCOPE_READONLY, SCOPE_UPLOAD, SCOPE_YOUTUBE, UPLOAD, YouTubeEmulator
from .factories import PostFactory, PostMediaFactory, PublishingPolicyFactory, SocialAccountFactory, VideoAssetFactory
from .support.engine import drain, render_pending

REFRESH = "1//0gSecretRefreshToken-playlists"
CLIENT_ID, CLIENT_SECRET = "1234-abc.apps.googleusercontent.com", "GOCSPX-SecretClientSecret"
CAPTION = "Weekly seminar\nThe recording of this week's seminar."
SCOPES = (SCOPE_UPLOAD, SCOPE_READONLY, SCOPE_YOUTUBE)


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(YouTubeAdapter, "retry_delay", 0)
    monkeypatch.setattr(YouTubeAdapter, "processing_interval", 0)


@pytest.fixture
def yt(settings):
    with YouTubeEmulator() as emulator:
        settings.YOUTUBE_API_BASE_URL = emulator.url
        settings.GOOGLE_OAUTH_TOKEN_URL = f"{emulator.url}/token"
        settings.YOUTUBE_UPLOAD_CHUNK_BYTES = 256 * 1024
        emulator.channel = emulator.add_channel(
            refresh_token=REFRESH, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scopes=SCOPES
        )
        yield emulator


@pytest.fixture
def account(workspace, yt):
    PublishingPolicyFactory(workspace=workspace, platform="youtube", fast=True)
    credentials = {"refresh_token": REFRESH, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    return SocialAccountFactory(workspace=workspace, platform="youtube", credentials=credentials, options={})


def publish(account, playlist_id: str) -> Execution:
    """Publish a real 4 s clip to ``account`` with ``playlist_id`` through the engine."""
    post = PostFactory(
        workspace=account.workspace, media_type="video", caption=CAPTION, options={"youtube": {"playlist_id": playlist_id}}
    )
    PostMediaFactory(post=post, asset=VideoAssetFactory(workspace=account.workspace, renditions=["youtube_video"]))
    post.target_accounts.set([account])
    assert post_publish(post=post).created == 1
    render_pending()
    drain()
    return Execution.objects.get(post=post)


def uploads_opened(yt) -> int:
    return sum(1 for r in yt.requests if r.path == UPLOAD and r.method == "POST")


@pytest.mark.django_db
class TestPlaylist:
    def test_it_adds_the_uploaded_video_to_the_playlist(self, yt, account):
        playlist_id = yt.add_playlist(yt.channel, "Seminars")
        execution = publish(account, playlist_id)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (insert,) = [r for r in yt.requests if r.path == "/youtube/v3/playlistItems" and r.method == "POST"]
        assert insert.query["part"] == ["snippet"]
        assert insert.json == {
            "snippet": {"playlistId": playlist_id, "resourceId": {"kind": "youtube#video", "videoId": execution.remote_id}}
        }
        # After the upload, never before: the video exists when it is added.
        assert yt.requests.index(insert) > max(i for i, r in enumerate(yt.requests) if r.method == "PUT")
        (item,) = yt.playlists[playlist_id]["items"]
        assert execution.raw_response["playlist"] == {
            "playlist_id": playlist_id,
            "added": True,
            "item_id": item["id"],
            "position": 0,
        }
        assert "warnings" not in execution.raw_response
        listed = youtube._Api(account_snapshot(account)).get(
            "playlistItems", "playlistItems.list", part="snippet,contentDetails", playlistId=playlist_id
        )
        assert [i["contentDetails"]["videoId"] for i in listed["items"]] == [execution.remote_id]
        assert listed["items"][0]["snippet"]["title"] == "Weekly seminar"

    def test_it_adds_each_video_after_the_last(self, yt, account):
        playlist_id = yt.add_playlist(yt.channel)
        first, second = publish(account, playlist_id), publish(account, playlist_id)
        assert [i["snippet"]["resourceId"]["videoId"] for i in yt.playlists[playlist_id]["items"]] == [
            first.remote_id,
            second.remote_id,
        ]
        assert second.raw_response["playlist"]["position"] == 1

    @pytest.mark.parametrize(
        ("case", "why"),
        [
            ("unknown", "the playlist does not exist or the channel cannot see it (check playlist_id)"),
            ("another channel's", "the playlist belongs to another channel"),
            ("quota", "the project's daily YouTube quota is used up"),
            ("scope", "the channel was connected without the youtube scope that editing playlists needs"),
            ("server error", "YouTube playlistItems.insert: backendError (Backend Error)"),
        ],
    )
    def test_it_keeps_the_video_published_when_the_playlist_refuses(self, yt, account, case, why):
        playlist_id = yt.add_playlist(yt.channel)
        if case == "unknown":
            playlist_id = "PL" + "0" * 32
        elif case == "another channel's":
            other = yt.add_channel(refresh_token="1//other", client_id="other", client_secret="other", scopes=SCOPES)
            playlist_id = yt.add_playlist(other)
        elif case == "quota":
            yt.fail_next({"endpoint": "playlistItems.insert", "status": 403, "reason": "quotaExceeded", "message": "Quota."})
        elif case == "scope":
            yt.channel["scopes"] = (SCOPE_UPLOAD, SCOPE_READONLY)
        else:
            yt.fail_next(
                {"endpoint": "playlistItems.insert", "status": 503, "reason": "backendError", "message": "Backend Error"}
            )
        execution = publish(account, playlist_id)

        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert execution.attempts == 1 and uploads_opened(yt) == 1  # published once, never repeated
        assert execution.remote_id in yt.videos
        assert not any(playlist["items"] for playlist in yt.playlists.values())
        (warning,) = execution.raw_response["warnings"]
        assert warning.startswith(f"The video is on YouTube, but it was not added to playlist {playlist_id}: {why}")
        assert warning.endswith("Add it to the playlist in YouTube Studio.")
        assert execution.raw_response["playlist"]["added"] is False
        log = ActivityLog.objects.get(execution=execution, action="execution.publish")
        assert log.status == "success" and warning in log.message and log.details["warnings"] == [warning]

    def test_it_publishes_without_a_playlist_as_before(self, yt, account):
        post = PostFactory(workspace=account.workspace, media_type="video", caption=CAPTION)
        PostMediaFactory(post=post, asset=VideoAssetFactory(workspace=account.workspace, renditions=["youtube_video"]))
        post.target_accounts.set([account])
        post_publish(post=post)
        render_pending()
        drain()
        execution = Execution.objects.get(post=post)
        assert execution.status == ExecutionStatus.SUCCESS
        assert not [r for r in yt.requests if r.path == "/youtube/v3/playlistItems"]
        assert "playlist" not in execution.raw_response and "warnings" not in execution.raw_response


def item():
    return base.MediaItem(
        path="/media/a.mp4", url="", kind="video", mime="video/mp4", size=1000, width=1920, height=1080, duration=60.0
    )


@pytest.mark.django_db
class TestValidate:
    def problems(self, account, **options):
        request = base.PublishRequest(
            account=account_snapshot(account), caption=CAPTION, media_type="video", media=(item(),), options=options
        )
        return [(p.code, p.message) for p in get_adapter("youtube").validate(request)]

    def test_it_accepts_youtube_playlist_ids(self, account):
        assert self.problems(account, playlist_id="PL" + "a1B2_-" * 5 + "xy") == []
        assert self.problems(account, playlist_id="PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf") == []  # PL + 32
        assert self.problems(account, playlist_id="PL1234567890ABCDEF") == []  # PL + 16
        assert self.problems(account, playlist_id="") == []

    @pytest.mark.parametrize(
        "playlist_id", ["PL123", "https://www.youtube.com/playlist?list=PL1234567890ABCDEF", "PL 1234567890", "x" * 65]
    )
    def test_it_refuses_what_is_not_a_playlist_id(self, account, playlist_id):
        ((code, message),) = self.problems(account, playlist_id=playlist_id)
        assert code == "playlist_id"
        assert message.startswith(f"playlist_id {playlist_id!r} is not a YouTube playlist id: copy the part after list=")

    def test_it_wants_a_numeric_category(self, account):
        assert self.problems(account, category_id="27") == []
        assert self.problems(account, category_id="Education") == [
            (
                "category_id",
                "category_id 'Education' is not a YouTube category id: use its number, like 22 (People & Blogs) or 27 "
                "(Education).",
            )
        ]
