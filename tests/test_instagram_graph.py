"""Instagram through the Graph API (business and creator accounts) against the loopback
Graph emulator, with MEDIA_ROOT served on a loopback "public" host Meta fetches from:
the containers each media type creates, status polling, the publishing limit,
carousel children, every documented error code → the execution's and the account's
state through the real engine, lookup, check, login — and the token in no log."""

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountStatus
from crosspost.models import ActivityLog
from media.models import Rendition
from media.services import profile_for_kind, profiles_for
from platforms import base
from platforms.instagram import graph
from platforms.registry import get_adapter
from publishing.adapters import account_snapshot, lookup_request
from publishing.models import Execution, ExecutionStatus
from publishing.planner import post_publish
from publishing.publisher import reconcile_unconfirmed

from .emulators.instagram_graph import InstagramGraphEmulator, MediaHost
from .factories import (
    ExecutionFactory,
    JpegAssetFactory,
    PostFactory,
    PostMediaFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    VideoAssetFactory,
)
from .support.engine import drain, render_pending
from .support.engine import publish_one as publish

TOKEN = "EAAGraphLongLivedToken_never-leaks_1234567890"
IG_USER_ID = "17841400000000001"
USERNAME = "crosspost.business"
CAPTION = "Hello from Crosspost #launch"


@pytest.fixture
def host(settings):
    with MediaHost(settings.MEDIA_ROOT) as server:
        settings.PUBLIC_MEDIA_BASE_URL = server.url
        yield server


@pytest.fixture
def meta(settings, monkeypatch, host):
    monkeypatch.setattr(graph, "POLL_DELAYS", (0,) * 6)
    with InstagramGraphEmulator(processing_polls=2) as emulator:
        settings.INSTAGRAM_GRAPH_BASE_URL = emulator.base_url
        emulator.add_account(IG_USER_ID, TOKEN, USERNAME)
        yield emulator


@pytest.fixture
def make_account(workspace):
    PublishingPolicyFactory(workspace=workspace, platform="instagram", fast=True)

    def make(token=TOKEN, ig_user_id=IG_USER_ID, **fields):
        return SocialAccountFactory(
            workspace=workspace,
            platform="instagram",
            handle=USERNAME,
            credentials={"access_token": token},
            options={"ig_user_id": ig_user_id},
            **fields,
        )

    return make


@pytest.fixture
def account(make_account, meta):
    return make_account()


def make_post(account, media_type="photo", *, images=1, videos=0, caption=CAPTION, prerendered=True):
    """Videos are a real 4 s clip whose rendition is made in advance, unless ``prerendered=False``:
    then the engine renders it (drain)."""
    post = PostFactory(workspace=account.workspace, media_type=media_type, caption=caption)
    assets = [JpegAssetFactory(workspace=account.workspace) for _ in range(images)]
    renditions = [profile_for_kind(profiles_for("instagram", media_type), "video").name] if videos and prerendered else []
    assets += [VideoAssetFactory(workspace=account.workspace, renditions=renditions) for _ in range(videos)]
    for position, asset in enumerate(assets):
        PostMediaFactory(post=post, asset=asset, position=position)
    post.target_accounts.set([account])
    return post, assets


def created(meta):
    return meta.calls("POST", f"/{IG_USER_ID}/media")


def rendition(asset, profile) -> Rendition:
    return Rendition.objects.get(asset=asset, profile=profile)


def public(settings, asset, profile) -> str:
    """The public URL of ``asset``'s rendition for ``profile``: what Meta is told to fetch."""
    return f"{settings.PUBLIC_MEDIA_BASE_URL}{rendition(asset, profile).file.url}"


@pytest.mark.django_db
class TestPublishing:
    def test_it_publishes_a_photo_meta_fetches_from_the_public_url(self, settings, meta, host, account):
        post, (asset,) = make_post(account)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        paths = [(r.method, r.path.removeprefix("/v21.0/")) for r in meta.requests]
        (media,) = meta.published()
        assert paths == [
            ("GET", f"{IG_USER_ID}/content_publishing_limit"),
            ("POST", f"{IG_USER_ID}/media"),
            ("GET", next(iter(meta.containers))),
            ("POST", f"{IG_USER_ID}/media_publish"),
            ("GET", media.id),
        ]
        (create,) = created(meta)
        photo = rendition(asset, "instagram_feed_image")
        assert (photo.width, photo.height) == (1080, 1350)  # 4:5 JPEG
        assert create.form["image_url"] == [public(settings, asset, "instagram_feed_image")]
        assert create.form["caption"] == [CAPTION]
        assert "media_type" not in create.form
        assert [r.path for r in host.requests] == [photo.file.url]
        assert meta.calls("POST", "/media_publish")[0].form["creation_id"] == [media.container_id]
        assert (execution.remote_id, execution.remote_url) == (media.id, media.permalink)
        assert execution.raw_response["container_id"] == media.container_id
        # The token travels in POST bodies, never in a URL that proxies or logs could keep.
        assert all("access_token" not in r.query for r in meta.requests if r.method == "POST")
        assert all(r.param("access_token") == TOKEN for r in meta.requests)

    @pytest.mark.parametrize(
        ("media_type", "images", "videos", "profile", "fields"),
        [
            ("video", 0, 1, "instagram_reel", {"media_type": "REELS", "share_to_feed": "true", "caption": CAPTION}),
            ("reel", 0, 1, "instagram_reel", {"media_type": "REELS", "share_to_feed": "true", "caption": CAPTION}),
            ("story", 1, 0, "instagram_story_image", {"media_type": "STORIES"}),
            ("story", 0, 1, "instagram_story_video", {"media_type": "STORIES"}),
        ],
    )
    def test_it_creates_the_container_each_media_type_needs(
        self, settings, meta, account, media_type, images, videos, profile, fields
    ):
        post, (asset,) = make_post(account, media_type, images=images, videos=videos, prerendered=False)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (create,) = created(meta)
        url_field = "video_url" if videos else "image_url"
        url = public(settings, asset, profile)
        assert {k: v[0] for k, v in create.form.items() if k != "access_token"} == {url_field: url, **fields}
        assert (rendition(asset, profile).width, rendition(asset, profile).height) == (1080, 1920)  # 9:16
        container = next(iter(meta.containers))
        # A video is processed: IN_PROGRESS twice, then FINISHED.
        assert len(meta.calls("GET", f"/{container}")) == (3 if videos else 1)
        assert execution.remote_url == meta.published()[0].permalink

    def test_it_publishes_a_carousel_from_its_children(self, settings, meta, account):
        post, assets = make_post(account, "carousel", images=2, videos=1, prerendered=False)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        *children, parent = created(meta)
        profiles = ["instagram_feed_image", "instagram_feed_image", "instagram_feed_video"]  # all 4:5
        urls = [public(settings, a, p) for a, p in zip(assets, profiles, strict=True)]
        assert [c.form.get("image_url", c.form.get("video_url"))[0] for c in children] == urls
        assert all(c.form["is_carousel_item"] == ["true"] and "caption" not in c.form for c in children)
        assert [c.form.get("media_type") for c in children] == [None, None, ["VIDEO"]]
        child_ids = list(meta.containers)[:3]
        assert parent.form["media_type"] == ["CAROUSEL"]
        assert parent.form["children"] == [",".join(child_ids)]
        assert parent.form["caption"] == [CAPTION]
        assert execution.raw_response["children"] == child_ids
        assert meta.published()[0].media_type == "CAROUSEL_ALBUM"

    def test_it_waits_when_meta_says_the_media_is_not_ready(self, meta, account):
        meta.fail("publish", 9007, 2207027, message="The media is not ready for publishing")
        execution = publish(make_post(account)[0])
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert len(meta.calls("POST", "/media_publish")) == 2


@pytest.mark.django_db
class TestPublishingLimit:
    def test_it_rests_the_account_until_the_window_frees(self, meta, account):
        oldest = timezone.now() - timedelta(hours=20)
        for hours in (20, 10, 1):
            meta.add_published(IG_USER_ID, caption=f"earlier {hours}", when=timezone.now() - timedelta(hours=hours))
        meta.accounts[IG_USER_ID].quota_total = meta.accounts[IG_USER_ID].quota_usage = 3
        execution = publish(make_post(account)[0])
        assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "quota_exceeded")
        assert "3 of 3 posts" in execution.error_message
        assert created(meta) == []
        account.refresh_from_db()
        assert account.status == AccountStatus.COOLDOWN
        frees = oldest + timedelta(hours=24)
        assert abs(account.cooldown_until - frees) < timedelta(seconds=5)
        assert execution.scheduled_for >= frees - timedelta(seconds=5)

    def test_it_publishes_below_the_limit(self, meta, account):
        meta.accounts[IG_USER_ID].quota_usage = 49
        assert publish(make_post(account)[0]).status == ExecutionStatus.SUCCESS
        assert meta.accounts[IG_USER_ID].quota_usage == 50


E = ExecutionStatus


@pytest.mark.django_db
class TestErrors:
    @pytest.mark.parametrize(
        ("where", "code", "subcode", "http", "status", "error_code", "account_status"),
        [
            ("create", 190, 463, 400, E.FAILED, "auth_required", AccountStatus.LOGIN_REQUIRED),
            ("create", 4, None, 400, E.RETRY_WAIT, "rate_limited", AccountStatus.COOLDOWN),
            ("create", 17, None, 400, E.RETRY_WAIT, "rate_limited", AccountStatus.COOLDOWN),
            ("create", 32, None, 400, E.RETRY_WAIT, "rate_limited", AccountStatus.COOLDOWN),
            ("publish", 613, None, 400, E.RETRY_WAIT, "rate_limited", AccountStatus.COOLDOWN),
            ("publish", 9, 2207042, 400, E.RETRY_WAIT, "quota_exceeded", AccountStatus.COOLDOWN),
            ("create", 368, None, 400, E.RETRY_WAIT, "quota_exceeded", AccountStatus.COOLDOWN),
            ("create", 10, None, 403, E.FAILED, "permission_denied", AccountStatus.ACTIVE),
            ("create", 200, None, 403, E.FAILED, "permission_denied", AccountStatus.ACTIVE),
            ("create", 36003, 2207009, 400, E.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("create", 36004, 2207010, 400, E.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("create", 352, 2207026, 400, E.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("create", 9004, 2207052, 400, E.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("create", 100, 2207028, 400, E.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("create", 1, None, 500, E.RETRY_WAIT, "transient", AccountStatus.ACTIVE),
            ("limit", 2, None, 503, E.RETRY_WAIT, "transient", AccountStatus.ACTIVE),
            ("create", 100, None, 400, E.FAILED, "content_rejected", AccountStatus.ACTIVE),
        ],
    )
    def test_it_maps_each_graph_error_to_the_execution_and_the_account(
        self, meta, account, where, code, subcode, http, status, error_code, account_status
    ):
        meta.fail(where, code, subcode, status=http)
        execution = publish(make_post(account)[0])
        assert (execution.status, execution.error_code) == (status, error_code), execution.error_message
        assert execution.raw_response["code"] == code
        account.refresh_from_db()
        assert account.status == account_status
        assert meta.published() == []

    def test_it_rests_as_long_as_meta_says_after_throttling(self, meta, account):
        usage = {"1234": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 42}]}
        meta.fail("create", 80002, headers={"X-Business-Use-Case-Usage": json.dumps(usage)})
        before = timezone.now()
        publish(make_post(account)[0])
        account.refresh_from_db()
        assert before + timedelta(minutes=42) <= account.cooldown_until <= timezone.now() + timedelta(minutes=42)

    def test_it_rejects_media_meta_cannot_fetch(self, meta, account):
        post, (asset,) = make_post(account)
        assert post_publish(post=post).created == 1
        render_pending()
        photo = rendition(asset, "instagram_feed_image")
        photo.file.storage.delete(photo.file.name)  # gone after rendering: Meta's fetch fails
        drain()
        execution = Execution.objects.get(post=post)
        assert (execution.status, execution.error_code) == (E.FAILED, "media_rejected")
        assert "2207052" in execution.error_message
        assert meta.fetches[0][1] == 404

    def test_it_rejects_media_meta_could_not_process(self, meta, account):
        meta.container_outcomes.append("ERROR:2207026: unsupported video format")
        execution = publish(make_post(account, "reel", images=0, videos=1)[0])
        assert (execution.status, execution.error_code) == (E.FAILED, "media_rejected")
        assert "2207026" in execution.error_message

    @pytest.mark.parametrize(("outcome", "message"), [("EXPIRED", "expired"), ("STUCK", "still processing")])
    def test_it_tries_again_later_when_a_container_expires_or_takes_too_long(self, meta, account, outcome, message):
        meta.container_outcomes.append(outcome)
        execution = publish(make_post(account, "reel", images=0, videos=1)[0])
        assert (execution.status, execution.error_code) == (E.RETRY_WAIT, "transient")
        assert message in execution.error_message
        assert meta.calls("POST", "/media_publish") == []

    def test_it_reconciles_a_publish_whose_answer_was_lost(self, meta, account):
        meta.lose_publish_answers = 1
        execution = publish(make_post(account)[0])
        assert execution.status == E.UNCONFIRMED, execution.error_message
        assert reconcile_unconfirmed()["published"] == 1
        execution.refresh_from_db()
        (media,) = meta.published()
        assert (execution.status, execution.remote_id, execution.remote_url) == (E.SUCCESS, media.id, media.permalink)


@pytest.mark.django_db
class TestLookup:
    def test_it_finds_the_post_by_caption_and_time(self, meta, account):
        post, _ = make_post(account)
        execution = ExecutionFactory(
            post=post, account=account, status="unconfirmed", started_at=timezone.now() - timedelta(minutes=5)
        )
        adapter = get_adapter("instagram")
        meta.add_published(IG_USER_ID, caption=CAPTION, when=timezone.now() - timedelta(days=1))
        meta.add_published(IG_USER_ID, caption="Another post", when=timezone.now())
        assert adapter.lookup(lookup_request(execution)) is None
        ours = meta.add_published(IG_USER_ID, caption=CAPTION, when=timezone.now() - timedelta(minutes=1))
        found = adapter.lookup(lookup_request(execution))
        assert (found.remote_id, found.url, found.raw["found_by"]) == (ours.id, ours.permalink, "lookup")
        assert meta.calls("GET", f"/{IG_USER_ID}/media")[-1].query["limit"] == ["20"]

    def test_it_finds_a_story_among_the_stories(self, meta, account):
        post, _ = make_post(account, "story")
        execution = ExecutionFactory(
            post=post, account=account, status="unconfirmed", started_at=timezone.now() - timedelta(minutes=5)
        )
        meta.add_published(IG_USER_ID, caption="", when=timezone.now(), product="STORY", kind="VIDEO")
        assert get_adapter("instagram").lookup(lookup_request(execution)) is None
        ours = meta.add_published(IG_USER_ID, caption="", when=timezone.now(), product="STORY")
        assert get_adapter("instagram").lookup(lookup_request(execution)).remote_id == ours.id


@pytest.mark.django_db
class TestCheckAndLogin:
    def test_it_checks_the_token_and_the_limit(self, meta, account):
        meta.accounts[IG_USER_ID].quota_usage = 7
        health = get_adapter("instagram").check(account_snapshot(account))
        assert health.ok
        assert health.detail == f"The token works for @{USERNAME}; 7 of 50 API posts used in 24 h."

    def test_it_asks_for_a_new_token_when_it_stops_working(self, meta, make_account):
        with pytest.raises(base.AuthRequired):
            get_adapter("instagram").check(account_snapshot(make_account(token="EAArevoked")))

    def test_it_logs_a_graph_account_in_by_proving_the_token(self, meta, make_account, api):
        account = make_account(status=AccountStatus.LOGIN_REQUIRED)
        body = api().post(f"/api/v1/accounts/{account.pk}/login/").json()
        assert (body["ok"], body["status"]) == (True, "active")
        account.refresh_from_db()
        assert account.last_login_at is not None and not account.session


@pytest.mark.django_db
class TestValidate:
    @pytest.fixture
    def check(self, make_account, settings):
        settings.PUBLIC_MEDIA_BASE_URL = "https://media.example.com"
        account = make_account()

        def run(media_type="photo", media=None, caption=CAPTION):
            item = base.MediaItem(
                path="", url="/files/a.jpg", kind="image", mime="image/jpeg", size=1000, width=1080, height=1080
            )
            request = base.PublishRequest(
                account=account_snapshot(account), caption=caption, media_type=media_type, media=media or (item,)
            )
            return [p.code for p in get_adapter("instagram").validate(request)]

        return run

    def test_it_accepts_what_the_graph_api_accepts(self, check):
        assert check() == []

    def test_it_needs_a_public_url_for_every_item(self, check, settings):
        settings.PUBLIC_MEDIA_BASE_URL = ""
        assert check() == ["media_url"]
        signed = base.MediaItem(
            path="", url="https://s3.example.com/a.jpg?X-Amz-Signature=1", kind="image", mime="image/jpeg", size=1
        )
        assert check(media=(signed,)) == []

    def test_it_takes_jpeg_images_only(self, check):
        png = base.MediaItem(path="", url="/files/a.png", kind="image", mime="image/png", size=1000, width=100, height=100)
        assert check(media=(png,)) == ["media_format"]

    def test_it_checks_sizes_and_durations(self, check):
        def video(seconds, size=1000):
            return base.MediaItem(path="", url="/files/a.mp4", kind="video", mime="video/mp4", size=size, duration=seconds)

        big = base.MediaItem(path="", url="/files/a.jpg", kind="image", mime="image/jpeg", size=9 * 1024 * 1024)
        assert check(media=(big,)) == ["media_size"]
        assert check("reel", (video(2),)) == ["media_duration"]
        assert check("reel", (video(60),)) == []
        assert check("story", (video(61),)) == ["media_duration"]
        assert check("story", (video(30, size=101 * 1024 * 1024),)) == ["media_size"]


@pytest.mark.django_db
def test_it_never_leaks_the_token(meta, make_account, api, caplog):
    caplog.set_level(logging.DEBUG)
    account = make_account()
    publish(make_post(account)[0])
    meta.fail("create", 190, 463)
    publish(make_post(account, caption="Refused")[0])
    api().post(f"/api/v1/accounts/{account.pk}/login/")
    seen = {
        "logs": caplog.text,
        "activity": json.dumps(list(ActivityLog.objects.values("message", "details")), default=str),
        "executions": json.dumps(list(Execution.objects.values("error_message", "raw_response")), default=str),
        "api": json.dumps(api().get(f"/api/v1/accounts/{account.pk}/").json()),
    }
    assert "access_token=<redacted>" in caplog.text  # urllib3 logged the GET request lines, redacted
    for where, text in seen.items():
        assert TOKEN not in text, f"the token leaked into {where}"
