"""VK video albums and privacy through the real engine and the loopback VK API: ``album_id``
goes to video.save and the video lands in the wall owner's album; an album the owner does not
have is VK's error 204 and the post fails before anything is posted; ``privacy_view`` goes with
a video on the user's own page; validate() refuses what VK would."""

import pytest

from platforms import base, options
from platforms.registry import get_adapter
from platforms.vk import VkAdapter
from posts.options import post_options_problems
from publishing.adapters import account_snapshot
from publishing.models import ExecutionStatus

from .emulators.vk import VkEmulator
from .factories import PublishingPolicyFactory, SocialAccountFactory
from .support.engine import publish_one as publish
from .support.posts import make_post

USER_TOKEN = "vk1.a.userSecretToken_albums_0123456789"
USER_ID, GROUP_ID = 100, 1
CAPTION = "Weekly seminar\nThe recording of this week's seminar."


@pytest.fixture
def vk(settings, monkeypatch):
    monkeypatch.setattr(VkAdapter, "call_interval", 0)
    with VkEmulator() as emulator:
        settings.VK_API_BASE_URL = f"{emulator.url}/method"
        emulator.add_user(USER_ID, USER_TOKEN)
        emulator.add_group(GROUP_ID, "Crosspost", "crosspost", admins={USER_ID: 3})
        yield emulator


@pytest.fixture
def make_account(workspace, vk):
    PublishingPolicyFactory(workspace=workspace, platform="vk", fast=True)

    def make(owner_id=-GROUP_ID):
        return SocialAccountFactory(
            workspace=workspace, platform="vk", credentials={"access_token": USER_TOKEN}, options={"owner_id": owner_id}
        )

    return make


def video_post(account, **vk_options):
    return make_post(account, "video", images=0, videos=1, caption=CAPTION, options={"vk": vk_options})


def saves(vk) -> list[dict]:
    return [{k: v[0] for k, v in r.form.items()} for r in vk.requests if r.path == "/method/video.save"]


@pytest.mark.django_db
class TestAlbum:
    @pytest.mark.parametrize("as_text", [False, True])
    def test_it_saves_the_video_into_the_communitys_album(self, vk, make_account, as_text):
        album = vk.add_video_album(-GROUP_ID, "Seminars")
        execution = publish(video_post(make_account(), album_id=str(album) if as_text else album))
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (save,) = saves(vk)
        assert (save["group_id"], save["album_id"]) == ("1", str(album))
        assert "privacy_view" not in save
        (video,) = vk.videos.values()
        assert video["album_ids"] == [album] and vk.video_albums[-GROUP_ID][album]["videos"] == [video["id"]]
        assert execution.raw_response["attachments"] == [f"video-1_{video['id']}"]

    def test_it_fails_before_posting_when_the_album_is_not_the_owners(self, vk, make_account):
        users_album = vk.add_video_album(USER_ID)  # the user's, not the community's
        execution = publish(video_post(make_account(), album_id=users_album))
        assert execution.status == ExecutionStatus.FAILED
        assert execution.error_code == "permission_denied"
        assert "VK video.save error 204: Access denied. VK refused the video album: check options.album_id" in (
            execution.error_message
        )
        assert not vk.walls[-GROUP_ID] and not vk.videos
        assert not [r for r in vk.requests if r.path.startswith("/upload/")]

    def test_it_sends_privacy_view_with_a_video_on_the_users_own_page(self, vk, make_account):
        album = vk.add_video_album(USER_ID)
        execution = publish(video_post(make_account(owner_id=USER_ID), album_id=album, privacy_view="friends"))
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (save,) = saves(vk)
        assert (save["album_id"], save["privacy_view"]) == (str(album), "friends") and "group_id" not in save
        (video,) = vk.videos.values()
        assert video["privacy_view"] == ["friends"] and video["album_ids"] == [album]

    def test_it_sends_neither_without_the_options(self, vk, make_account):
        execution = publish(video_post(make_account()))
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (save,) = saves(vk)
        assert "album_id" not in save and "privacy_view" not in save


def clip():
    return base.MediaItem(path="/media/a.mp4", url="", kind="video", mime="video/mp4", size=1000)


@pytest.mark.django_db
class TestValidate:
    def problems(self, account, **vk_options):
        request = base.PublishRequest(
            account=account_snapshot(account), caption=CAPTION, media_type="video", media=(clip(),), options=vk_options
        )
        return [(p.code, p.message) for p in get_adapter("vk").validate(request)]

    def test_it_accepts_album_ids_and_privacy_categories(self, make_account):
        assert self.problems(make_account(), album_id=45) == []
        assert self.problems(make_account(), album_id="45") == []
        assert self.problems(make_account(owner_id=USER_ID), privacy_view="only_me") == []

    @pytest.mark.parametrize("album_id", ["-3", "0", "abc", 2**31, True])
    def test_it_refuses_what_is_not_an_album_id(self, make_account, album_id):
        ((code, message),) = self.problems(make_account(), album_id=album_id)
        assert code == "album_id" and message.startswith(f"album_id {album_id!r} is not a VK video album id")

    def test_it_refuses_privacy_view_vk_does_not_take(self, make_account):
        assert self.problems(make_account(owner_id=USER_ID), privacy_view="public") == [
            (
                "privacy_view",
                "privacy_view 'public' must be one of all, friends, friends_of_friends, friends_of_friends_only, nobody, "
                "only_me.",
            )
        ]
        ((code, message),) = self.problems(make_account(), privacy_view="friends")
        assert code == "privacy_view" and message.startswith("privacy_view applies only to videos on a user's own page")


def test_post_options_take_an_album_id_as_a_number_or_digits():
    assert post_options_problems({"vk": {"album_id": 45, "privacy_view": "all"}}) == []
    assert post_options_problems({"vk": {"album_id": "45"}}) == []
    assert post_options_problems({"vk": {"album_id": "forty"}}) == [f"options.vk.album_id must be a {options.DIGITS}."]
    assert post_options_problems({"vk": {"album_id": True}}) == [f"options.vk.album_id must be a {options.DIGITS}."]
    assert post_options_problems({"youtube": {"playlist_id": "PL1234567890ABCDEF"}}) == []
    assert post_options_problems({"youtube": {"playlist_id": 5}}) == ["options.youtube.playlist_id must be a string."]
