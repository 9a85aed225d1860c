"""The VK adapter against the loopback VK API: the requests each media type sends
(upload servers included), every documented error code driven through the real
engine to the execution's and the account's state, check(), lookup() after a lost
answer, validate() — and the access token never showing up in a URL or a log."""

import json
import logging
from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone

from accounts.models import AccountEvent, AccountStatus
from crosspost.models import ActivityLog
from media.models import Rendition
from platforms import base
from platforms.http import DEFAULT_USER_AGENT
from platforms.registry import get_adapter
from platforms.vk import VkAdapter
from publishing.adapters import account_snapshot, lookup_request
from publishing.models import Execution, ExecutionStatus
from publishing.publisher import reconcile_unconfirmed
from publishing.tasks import check_accounts

from .emulators.vk import VkEmulator
from .factories import (
    ExecutionFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    png_bytes,
)
from .support.engine import drain
from .support.engine import publish_one as publish
from .support.posts import make_post as shared_make_post

USER_TOKEN = "vk1.a.userSecretToken_never-leaks_0123456789"
GROUP_TOKEN = "vk1.a.communitySecretToken_9876543210"
USER_ID, GROUP_ID = 100, 1
CAPTION = "Hello from Crosspost #launch"
MB = 1024 * 1024


@pytest.fixture
def vk(settings, monkeypatch):
    monkeypatch.setattr(VkAdapter, "call_interval", 0)  # VK's 3 requests/s do not apply to the emulator
    with VkEmulator() as emulator:
        settings.VK_API_BASE_URL = f"{emulator.url}/method"
        emulator.add_user(USER_ID, USER_TOKEN)
        emulator.add_group(GROUP_ID, "Crosspost", "crosspost", admins={USER_ID: 3})
        yield emulator


@pytest.fixture
def make_account(workspace):
    PublishingPolicyFactory(workspace=workspace, platform="vk", fast=True)

    def make(owner_id=-GROUP_ID, token=USER_TOKEN, **fields):
        return SocialAccountFactory(
            workspace=workspace, platform="vk", credentials={"access_token": token}, options={"owner_id": owner_id}, **fields
        )

    return make


@pytest.fixture
def account(vk, make_account):
    return make_account(handle="club1")


make_post = partial(shared_make_post, caption=CAPTION)


def calls(vk, method=None):
    """The API calls the emulator received (``method``: only those), as {param: value} dicts."""
    found = []
    for request in vk.requests:
        if request.path.startswith("/method/") and (method is None or request.path == f"/method/{method}"):
            found.append({"method": request.path.removeprefix("/method/"), **{k: v[0] for k, v in request.form.items()}})
    return found


def rendition(asset, profile) -> Rendition:
    return Rendition.objects.get(asset=asset, profile=profile)


def file_bytes(row: Rendition) -> bytes:
    with row.file.open("rb") as handle:
        return handle.read()


@pytest.mark.django_db
class TestPublish:
    def test_it_posts_text_to_the_community_wall_as_the_community(self, vk, account):
        execution = publish(make_post(account, "text", images=0, caption="Launch day"))
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (call,) = calls(vk)
        assert call == {
            "method": "wall.post",
            "owner_id": "-1",
            "from_group": "1",
            "message": "Launch day",
            "guid": f"cp-{execution.pk}",
            "v": "5.199",
            "access_token": USER_TOKEN,
        }
        assert execution.remote_id == "-1_1"
        assert execution.remote_url == "https://vk.com/wall-1_1"
        assert vk.walls[-1][0]["text"] == "Launch day" and vk.walls[-1][0]["from_id"] == -1

    def test_it_keeps_the_token_out_of_urls(self, vk, account):
        publish(make_post(account, "carousel", images=2))
        assert vk.requests and all(r.method == "POST" and not r.query for r in vk.requests)
        assert all(USER_TOKEN not in r.path for r in vk.requests)
        uploads = [r for r in vk.requests if r.path.startswith("/upload/")]
        assert uploads and all(USER_TOKEN.encode() not in r.body for r in uploads)

    def test_it_uploads_a_photo_and_attaches_it(self, vk, account):
        post = make_post(account, "photo")
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        server, save, wall_post = calls(vk)
        assert (server["method"], server["group_id"]) == ("photos.getWallUploadServer", "1")
        (upload,) = [r for r in vk.requests if r.path.startswith("/upload/photo/")]
        assert list(upload.files) == ["photo"]
        photo = rendition(post.media.get().asset, "vk_photo")  # 4:5, JPEG
        assert (photo.width, photo.height) == (1080, 1350)
        assert upload.files["photo"] == ("vk_photo.jpg", "image/jpeg", file_bytes(photo))
        assert save["method"] == "photos.saveWallPhoto" and save["group_id"] == "1"
        assert save["server"] == "856312" and save["hash"] and save["photo"].startswith("[{")
        (photo,) = vk.photos.values()
        assert wall_post["attachments"] == f"photo-1_{photo['id']}"
        assert wall_post["message"] == CAPTION
        assert vk.walls[-1][0]["attachments"][0]["type"] == "photo"

    def test_it_attaches_every_photo_of_a_carousel(self, vk, account):
        vk.next_id["photo"] = 5
        post = make_post(account, "carousel", images=2)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert [c["method"] for c in calls(vk)] == [
            "photos.getWallUploadServer",
            "photos.saveWallPhoto",
            "photos.saveWallPhoto",
            "wall.post",
        ]
        assert calls(vk, "wall.post")[0]["attachments"] == "photo-1_5,photo-1_6"
        assets = [pm.asset for pm in post.media.order_by("position")]
        assert vk.uploaded == [("photo", "vk_photo.jpg", file_bytes(rendition(a, "vk_photo"))) for a in assets]
        assert execution.raw_response["attachments"] == ["photo-1_5", "photo-1_6"]

    def test_it_uploads_a_video_and_attaches_it(self, vk, account):
        post = make_post(account, "video", images=0, videos=1, caption="Our launch video\nmore details below")
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        save, wall_post = calls(vk)
        assert {k: save[k] for k in ("method", "group_id", "name", "wallpost")} == {
            "method": "video.save",
            "group_id": "1",
            "name": "Our launch video",
            "wallpost": "0",
        }
        (upload,) = [r for r in vk.requests if r.path.startswith("/upload/video/")]
        assert list(upload.files) == ["video_file"]
        clip = rendition(post.media.get().asset, "vk_video")  # 16:9
        assert (clip.width, clip.height) == (1920, 1080)
        assert upload.files["video_file"] == ("vk_video.mp4", "video/mp4", file_bytes(clip))
        (video,) = vk.videos.values()
        assert video["uploaded"]
        assert wall_post["attachments"] == f"video-1_{video['id']}"

    def test_it_mixes_photos_and_videos_in_order(self, vk, account):
        execution = publish(make_post(account, "carousel", images=1, videos=1))
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (photo,) = vk.photos.values()
        (video,) = vk.videos.values()
        assert calls(vk, "wall.post")[0]["attachments"] == f"photo-1_{photo['id']},video-1_{video['id']}"

    def test_it_posts_to_the_users_own_wall(self, vk, make_account):
        account = make_account(owner_id=USER_ID)
        execution = publish(make_post(account, "photo"))
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        server, save, wall_post = calls(vk)
        assert "group_id" not in server and "group_id" not in save
        assert "from_group" not in wall_post
        (photo,) = vk.photos.values()
        assert wall_post["attachments"] == f"photo{USER_ID}_{photo['id']}"
        assert execution.remote_url == f"https://vk.com/wall{USER_ID}_1"

    def test_it_fetches_media_that_lives_only_in_remote_storage(self, vk, account):
        vk.files["remote.png"] = png_bytes(32, 32)
        item = base.MediaItem(path="", url=f"{vk.url}/files/remote.png", kind="image", mime="image/png", size=100)
        request = base.PublishRequest(
            account=account_snapshot(account), caption="From S3", media_type="photo", media=(item,), marker="cp-9"
        )
        result = get_adapter("vk").publish(request)
        assert vk.uploaded == [("photo", "remote.png", vk.files["remote.png"])]
        assert result.remote_id == "-1_1"

    def test_it_does_not_post_twice_when_wall_post_is_repeated(self, vk, account):
        vk.fail_next({"http": 500, "after": True, "method": "wall.post"})
        post = make_post(account, "text", images=0)
        execution = publish(post)
        assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "transient")
        drain()
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.SUCCESS
        assert [c["guid"] for c in calls(vk, "wall.post")] == [f"cp-{execution.pk}"] * 2
        assert len(vk.walls[-1]) == 1 and execution.remote_id == "-1_1"


@pytest.mark.django_db
class TestErrors:
    @pytest.mark.parametrize(
        ("code", "status", "error_code", "account_status"),
        [
            (5, ExecutionStatus.FAILED, "auth_required", AccountStatus.LOGIN_REQUIRED),
            (6, ExecutionStatus.RETRY_WAIT, "rate_limited", AccountStatus.COOLDOWN),
            (9, ExecutionStatus.RETRY_WAIT, "quota_exceeded", AccountStatus.COOLDOWN),
            (29, ExecutionStatus.RETRY_WAIT, "quota_exceeded", AccountStatus.COOLDOWN),
            (214, ExecutionStatus.RETRY_WAIT, "quota_exceeded", AccountStatus.COOLDOWN),
            (14, ExecutionStatus.FAILED, "challenge_required", AccountStatus.LOGIN_REQUIRED),
            (17, ExecutionStatus.FAILED, "challenge_required", AccountStatus.LOGIN_REQUIRED),
            (18, ExecutionStatus.FAILED, "account_banned", AccountStatus.BANNED),
            (22, ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            (100, ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            (121, ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            (129, ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            (7, ExecutionStatus.FAILED, "permission_denied", AccountStatus.ACTIVE),
            (15, ExecutionStatus.FAILED, "access_lost", AccountStatus.NO_ACCESS),
            (200, ExecutionStatus.FAILED, "permission_denied", AccountStatus.ACTIVE),
            (203, ExecutionStatus.FAILED, "access_lost", AccountStatus.NO_ACCESS),
            (1, ExecutionStatus.RETRY_WAIT, "transient", AccountStatus.ACTIVE),
            (10, ExecutionStatus.RETRY_WAIT, "transient", AccountStatus.ACTIVE),
        ],
    )
    def test_it_maps_each_vk_error_to_the_execution_and_the_account(self, vk, account, code, status, error_code, account_status):
        vk.fail_next({"code": code, "method": "wall.post"})
        execution = publish(make_post(account, "photo"))
        assert (execution.status, execution.error_code) == (status, error_code)
        assert execution.error_message.startswith(f"VK wall.post error {code}:") or "Gave up" in execution.error_message
        assert execution.raw_response["error_code"] == code
        assert {"key": "method", "value": "wall.post"} in execution.raw_response["request_params"]
        account.refresh_from_db()
        assert account.status == account_status
        events = AccountEvent.objects.filter(account=account, to_status=account_status)
        assert events.exists() == (account_status != AccountStatus.ACTIVE)

    def test_it_keeps_the_captcha_for_the_operator(self, vk, account):
        vk.fail_next(14)
        execution = publish(make_post(account, "text", images=0))
        assert execution.error_code == "challenge_required"
        assert execution.raw_response["captcha_img"].startswith(f"{vk.url}/captcha.php?sid=")
        assert execution.raw_response["captcha_sid"]

    def test_it_rests_the_account_for_a_day_at_a_quota(self, vk, account):
        vk.fail_next({"code": 29, "method": "wall.post"})
        before = timezone.now()
        execution = publish(make_post(account, "text", images=0))
        account.refresh_from_db()
        assert before + timedelta(hours=24) <= account.cooldown_until <= timezone.now() + timedelta(hours=24)
        assert execution.scheduled_for >= before + timedelta(hours=24)

    def test_it_waits_a_second_when_vk_says_too_many_requests(self, vk, account):
        vk.fail_next(6)
        before = timezone.now()
        publish(make_post(account, "text", images=0))
        account.refresh_from_db()
        assert before + timedelta(seconds=1) <= account.cooldown_until <= timezone.now() + timedelta(seconds=2)

    def test_it_fails_an_upload_the_upload_server_refuses(self, vk, account):
        vk.fail_next({"reject": True, "method": "upload.photo"})
        execution = publish(make_post(account, "photo"))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "media_rejected")
        assert not calls(vk, "photos.saveWallPhoto") and not calls(vk, "wall.post")

    def test_it_fails_a_video_the_upload_server_refuses(self, vk, account):
        vk.fail_next({"reject": True, "method": "upload.video"})
        execution = publish(make_post(account, "video", images=0, videos=1))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "media_rejected")
        assert "invalid file" in execution.error_message

    def test_it_retries_on_a_server_error(self, vk, account):
        vk.fail_next({"http": 502, "method": "photos.getWallUploadServer"})
        execution = publish(make_post(account, "photo"))
        assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "transient")

    def test_it_asks_for_a_user_token_when_given_a_community_token(self, vk, make_account):
        vk.add_group_token(GROUP_TOKEN, GROUP_ID)
        account = make_account(token=GROUP_TOKEN)
        execution = publish(make_post(account, "text", images=0))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "auth_required")
        assert "error 27" in execution.error_message
        account.refresh_from_db()
        assert account.status == AccountStatus.LOGIN_REQUIRED

    def test_it_refuses_a_community_the_user_does_not_edit(self, vk, make_account):
        vk.add_group(2, "Someone else's", admins={USER_ID: 1})
        execution = publish(make_post(make_account(owner_id=-2), "text", images=0))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "access_lost")


@pytest.mark.django_db
class TestLookup:
    def test_it_finds_the_post_whose_answer_was_lost(self, settings, vk, account):
        settings.HTTP_TIMEOUT_SECONDS = 0.5
        vk.fail_next({"stall": 1.5, "after": True, "method": "wall.post"})
        execution = publish(make_post(account, "carousel", images=2))
        assert execution.status == ExecutionStatus.UNCONFIRMED
        assert "may exist" in execution.error_message
        assert reconcile_unconfirmed() == {"published": 1, "retried": 0, "failed": 0, "left": 0}
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.SUCCESS
        assert (execution.remote_id, execution.remote_url) == ("-1_1", "https://vk.com/wall-1_1")
        assert execution.raw_response["found_by"] == "lookup"
        assert len(calls(vk, "wall.post")) == 1

    def test_it_answers_none_when_the_post_is_not_there(self, vk, account):
        execution = ExecutionFactory(account=account, post=make_post(account, "text", images=0), caption=CAPTION)
        vk.walls[-1].append({"id": 7, "owner_id": -1, "date": int(timezone.now().timestamp()), "text": "Another post"})
        assert get_adapter("vk").lookup(lookup_request(execution)) is None
        assert calls(vk) == [{"method": "wall.get", "owner_id": "-1", "count": "100", "v": "5.199", "access_token": USER_TOKEN}]

    def test_it_ignores_older_posts_and_posts_of_other_executions(self, vk, account):
        now = int(timezone.now().timestamp())
        recorded = ExecutionFactory(account=account, post=make_post(account, "text", images=0), remote_id="-1_2")
        execution = ExecutionFactory(account=account, post=make_post(account, "text", images=0), caption=CAPTION)
        vk.walls[-1] += [
            {"id": 1, "owner_id": -1, "date": now - 86400, "text": CAPTION},  # before the execution existed
            {"id": 2, "owner_id": -1, "date": now, "text": CAPTION},  # the other execution's
            {"id": 3, "owner_id": -1, "date": now, "text": CAPTION, "attachments": [{"type": "photo", "photo": {}}]},
        ]
        assert recorded.remote_id == "-1_2"
        assert get_adapter("vk").lookup(lookup_request(execution)) is None
        vk.walls[-1].append({"id": 4, "owner_id": -1, "date": now, "text": f"  {CAPTION}\n"})
        assert get_adapter("vk").lookup(lookup_request(execution)).remote_id == "-1_4"

    def test_it_leaves_ambiguous_matches_to_an_operator(self, vk, account):
        execution = ExecutionFactory(account=account, post=make_post(account, "text", images=0), caption=CAPTION)
        now = int(timezone.now().timestamp())
        vk.walls[-1] += [{"id": i, "owner_id": -1, "date": now, "text": CAPTION} for i in (1, 2)]
        with pytest.raises(base.LookupUnsupported, match="Several VK posts match"):
            get_adapter("vk").lookup(lookup_request(execution))


@pytest.mark.django_db
class TestCheck:
    def test_it_confirms_an_editor_may_post_as_the_community(self, vk, account):
        health = get_adapter("vk").check(account_snapshot(account))
        assert health.ok, health.detail
        assert health.detail == "Ivan Petrov (id100) can post to Crosspost (vk.com/crosspost) as the community."
        assert [c["method"] for c in calls(vk)] == ["users.get", "groups.getById"]
        assert health.raw["group"]["admin_level"] == 3

    @pytest.mark.parametrize("level", [None, 1])
    def test_it_reports_a_user_who_may_not_post_as_the_community(self, vk, make_account, level):
        vk.add_group(2, "Other", "other", admins={USER_ID: level} if level else {})
        health = get_adapter("vk").check(account_snapshot(make_account(owner_id=-2)))
        assert not health.ok and health.account_status == AccountStatus.NO_ACCESS
        assert health.detail == "Ivan Petrov (id100) is not an editor or administrator of Other (vk.com/other): make them one."

    def test_it_checks_user_walls(self, vk, make_account):
        vk.add_user(200, "other-token", first_name="Anna", open_wall=False)
        assert get_adapter("vk").check(account_snapshot(make_account(owner_id=USER_ID))).ok
        health = get_adapter("vk").check(account_snapshot(make_account(owner_id=200)))
        assert not health.ok and "may not post to the wall of id200" in health.detail

    def test_it_asks_for_a_new_login_when_the_token_is_invalid(self, vk, make_account):
        health = get_adapter("vk").check(account_snapshot(make_account(token="vk1.a.expired")))
        assert not health.ok
        assert health.account_status == AccountStatus.LOGIN_REQUIRED
        assert "error 5" in health.detail

    def test_it_refuses_a_community_token(self, vk, make_account):
        vk.add_group_token(GROUP_TOKEN, GROUP_ID)
        health = get_adapter("vk").check(account_snapshot(make_account(token=GROUP_TOKEN)))
        assert not health.ok and health.account_status == AccountStatus.LOGIN_REQUIRED
        assert "not a user access token" in health.detail

    def test_it_raises_what_says_nothing_about_the_account(self, vk, account):
        vk.fail_next({"code": 6, "method": "groups.getById"})
        with pytest.raises(base.RateLimited):
            get_adapter("vk").check(account_snapshot(account))

    def test_it_reports_a_banned_account(self, vk, account):
        vk.fail_next(18)
        health = get_adapter("vk").check(account_snapshot(account))
        assert (health.ok, health.account_status) == (False, AccountStatus.BANNED)


@pytest.mark.django_db
def test_it_never_leaks_the_access_token(vk, make_account, caplog):
    caplog.set_level(logging.DEBUG)
    for failure in (None, {"code": 100, "method": "wall.post"}, 14, 6, 5):
        account = make_account()
        if failure:
            vk.fail_next(failure)
        publish(make_post(account, "photo"))
    health = get_adapter("vk").check(account_snapshot(make_account(token="vk1.a.revokedButSecret")))
    seen = [caplog.text, health.detail, json.dumps(health.raw)]
    seen += [json.dumps([log.message, log.details]) for log in ActivityLog.objects.all()]
    seen += [json.dumps([e.error_message, e.raw_response, e.remote_url]) for e in Execution.objects.all()]
    seen += [event.reason for event in AccountEvent.objects.all()]
    assert Execution.objects.filter(status=ExecutionStatus.SUCCESS).count() == 1
    assert not [s for s in (USER_TOKEN, "vk1.a.revokedButSecret") if any(s in text for text in seen)]


def image(size=1000, *, mime="image/png", width=640, height=480, path="/media/a.png", url=""):
    return base.MediaItem(path=path, url=url, kind="image", mime=mime, size=size, width=width, height=height)


def video(size=1000):
    return base.MediaItem(path="/media/a.mp4", url="", kind="video", mime="video/mp4", size=size, width=1080, height=1920)


@pytest.mark.django_db
class TestValidate:
    @pytest.fixture
    def account(self, make_account):
        return make_account()

    def problems(self, account, media_type="photo", caption=CAPTION, media=None):
        media = (image(),) if media is None else tuple(media)
        request = base.PublishRequest(account=account_snapshot(account), caption=caption, media_type=media_type, media=media)
        return [p.code for p in get_adapter("vk").validate(request)]

    def test_it_accepts_what_vk_accepts(self, account):
        assert self.problems(account, "text", media=()) == []
        assert self.problems(account, "photo", media=[image(50 * MB, mime="image/jpeg")]) == []
        assert self.problems(account, "video", media=[video(2000 * MB)]) == []
        assert self.problems(account, "carousel", media=[image(mime="image/gif")] * 9 + [video()]) == []

    def test_it_limits_a_post_to_10_media(self, account):
        assert self.problems(account, "carousel", media=[image()] * 11) == ["carousel_size"]

    def test_it_checks_photos(self, account):
        assert self.problems(account, "photo", media=[image(50 * MB + 1)]) == ["photo_too_big"]
        assert self.problems(account, "photo", media=[image(mime="image/webp")]) == ["photo_format"]
        assert self.problems(account, "photo", media=[image(width=100, height=2100)]) == ["photo_dimensions"]
        assert self.problems(account, "photo", media=[image(path="", url="")]) == ["media_missing"]
        assert self.problems(account, "photo", media=[image(), image()]) == ["media_count"]

    def test_it_limits_the_text(self, account):
        assert self.problems(account, "text", caption="x" * 16385, media=()) == ["caption_too_long"]
        assert self.problems(account, "text", caption=" ", media=()) == ["empty_text"]

    def test_it_refuses_reels_and_stories(self, account):
        assert self.problems(account, "reel", media=[video()]) == ["media_type"]
        assert self.problems(account, "story", media=[image()]) == ["media_type"]

    def test_it_needs_a_token_and_a_wall(self, make_account):
        assert self.problems(make_account(token="", owner_id=None)) == ["access_token", "owner_id"]
        assert self.problems(make_account(owner_id="club1")) == ["owner_id"]


@pytest.mark.django_db
def test_it_blocks_an_account_whose_user_no_longer_edits_the_community_until_they_do(vk, make_account):
    vk.add_group(2, "Other", "other", admins={USER_ID: 1})
    account = make_account(owner_id=-2)
    execution = publish(make_post(account, "text", images=0))
    assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "access_lost")
    account.refresh_from_db()
    assert account.status == AccountStatus.NO_ACCESS
    assert "error 15" in account.status_reason

    vk.groups[2]["managers"][USER_ID] = 2
    assert check_accounts() == {"ok": 1, "failed": 0, "errors": 0}
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


@pytest.mark.django_db
def test_it_introduces_itself_as_crosspost_not_as_an_instagram_phone(vk, account):
    assert account.user_agent.startswith("Instagram")  # a fingerprint stored before it was cleared
    publish(make_post(account, "photo"))
    assert {r.headers["User-Agent"] for r in vk.requests} == {DEFAULT_USER_AGENT}
