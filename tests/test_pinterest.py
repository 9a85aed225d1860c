"""The Pinterest adapter against the loopback API v5: image Pins by URL and inline,
multi-image Pins, video Pins through the media upload flow, every documented error
through the real engine, token refresh (Basic client auth, stored encrypted,
reused), lookup on the board after a lost answer, check() — and no token or
secret in any log, message or stored response."""

import base64
import json
import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AccountEvent, AccountStatus
from crosspost.models import ActivityLog
from media.models import Rendition
from platforms import base
from platforms.pinterest import PinterestAdapter
from platforms.registry import get_adapter
from publishing.adapters import account_snapshot, lookup_request
from publishing.models import Execution, ExecutionStatus
from publishing.planner import post_publish
from publishing.publisher import reconcile_unconfirmed

from .emulators.pinterest import FAILURES, PinterestEmulator
from .factories import (
    MediaAssetFactory,
    PostFactory,
    PostMediaFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    VideoAssetFactory,
)
from .support.engine import publish_one as publish
from .support.net import dead_proxy

TOKEN = "pina_SecretAccessToken-never-leaks"
REFRESH = "pinr_SecretRefreshToken-never-leaks"
CLIENT_ID, CLIENT_SECRET = "1500001", "pinterest-client-secret"
CAPTION = "Hello from Crosspost #launch"
MEDIA_HOST = "https://media.crosspost.test"


@pytest.fixture(autouse=True)
def fast(monkeypatch, settings):
    monkeypatch.setattr(PinterestAdapter, "media_poll_interval", 0)
    settings.PUBLIC_MEDIA_BASE_URL = ""


@pytest.fixture
def pin(settings):
    with PinterestEmulator() as emulator:
        settings.PINTEREST_API_BASE_URL = f"{emulator.url}/v5"
        emulator.add_user(TOKEN, refresh_token=REFRESH, username="crosspost")
        yield emulator


@pytest.fixture
def board(pin):
    return pin.add_board(TOKEN, name="Launches")


@pytest.fixture
def make_account(workspace, pin, board):
    PublishingPolicyFactory(workspace=workspace, platform="pinterest", fast=True)

    def make(token=TOKEN, refresh=REFRESH, board_id=None, **fields):
        credentials = {"access_token": token, "refresh_token": refresh, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        fields.setdefault("options", {"board_id": board["id"] if board_id is None else board_id})
        return SocialAccountFactory(workspace=workspace, platform="pinterest", credentials=credentials, **fields)

    return make


@pytest.fixture
def account(make_account):
    return make_account(handle="crosspost")


def make_post(account, media_type="photo", *, images=1, caption=CAPTION, options=None, prerendered=True):
    """Videos are a real 4 s clip (Pinterest's minimum) with its pinterest_video rendition made in
    advance, unless ``prerendered=False``: then the engine renders it (drain)."""
    post = PostFactory(workspace=account.workspace, media_type=media_type, caption=caption, options=options or {})
    if media_type in ("video", "reel"):
        renditions = ["pinterest_video"] if prerendered else []
        assets = [VideoAssetFactory(workspace=account.workspace, renditions=renditions)]
    else:
        assets = [MediaAssetFactory(workspace=account.workspace) for _ in range(images)]
    for position, asset in enumerate(assets):
        PostMediaFactory(post=post, asset=asset, position=position)
    post.target_accounts.set([account])
    return post


def renditions(post) -> list[Rendition]:
    """What Pinterest gets: each asset's pinterest_image (4:5 JPEG) or pinterest_video (9:16) rendition."""
    profile = "pinterest_video" if post.media_type in ("video", "reel") else "pinterest_image"
    return [Rendition.objects.get(asset=pm.asset, profile=profile) for pm in post.media.order_by("position")]


def contents(post) -> list[bytes]:
    result = []
    for rendition in renditions(post):
        with rendition.file.open("rb") as handle:
            result.append(handle.read())
    return result


@pytest.mark.django_db
class TestPublish:
    def test_it_pins_a_local_image_inline(self, pin, board, account):
        post = make_post(
            account, options={"pinterest": {"title": "Launch", "link": "https://crosspost.test", "alt_text": "A red card"}}
        )
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (create,) = pin.calls("POST", "/v5/pins")
        assert create.headers["Authorization"] == f"Bearer {TOKEN}"
        assert create.json == {
            "board_id": board["id"],
            "description": CAPTION,
            "media_source": {
                "source_type": "image_base64",
                "content_type": "image/jpeg",
                "data": base64.b64encode(contents(post)[0]).decode(),
            },
            "title": "Launch",
            "link": "https://crosspost.test",
            "alt_text": "A red card",
        }
        (created,) = pin.pins
        assert execution.remote_id == created["id"]
        assert execution.remote_url == f"https://www.pinterest.com/pin/{created['id']}/"
        assert execution.raw_response["source_type"] == "image_base64"
        assert [(r.width, r.height) for r in renditions(post)] == [(1080, 1350)]

    def test_it_pins_an_image_by_its_public_url(self, pin, account, settings):
        settings.PUBLIC_MEDIA_BASE_URL = MEDIA_HOST
        post = make_post(account)
        execution = publish(post)
        source = pin.calls("POST", "/v5/pins")[0].json["media_source"]
        assert source["source_type"] == "image_url" and source["url"] == f"{MEDIA_HOST}{renditions(post)[0].file.url}"
        assert set(source) == {"source_type", "url"}
        assert execution.status == ExecutionStatus.SUCCESS

    def test_it_pins_a_carousel_as_one_multi_image_pin(self, pin, account, settings):
        post = make_post(account, "carousel", images=3)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        source = pin.calls("POST", "/v5/pins")[0].json["media_source"]
        assert source["source_type"] == "multiple_image_base64"
        assert [base64.b64decode(i["data"]) for i in source["items"]] == contents(post)
        settings.PUBLIC_MEDIA_BASE_URL = MEDIA_HOST
        post = make_post(account, "carousel", images=2)
        publish(post)
        source = pin.calls("POST", "/v5/pins")[1].json["media_source"]
        assert source["source_type"] == "multiple_image_urls"
        assert [i["url"] for i in source["items"]] == [f"{MEDIA_HOST}{r.file.url}" for r in renditions(post)]
        assert pin.pins[1]["media"]["media_type"] == "multiple_images"

    @pytest.mark.parametrize("media_type", ["video", "reel"])
    def test_it_uploads_a_video_then_pins_it_once_processed(self, pin, board, account, media_type):
        post = make_post(account, media_type, prerendered=False)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        flow = [(r.method, r.path) for r in pin.requests]
        media_id = execution.raw_response["media_id"]
        assert flow == [
            ("POST", "/v5/media"),
            ("POST", "/media-upload/"),
            ("GET", f"/v5/media/{media_id}"),
            ("GET", f"/v5/media/{media_id}"),
            ("POST", "/v5/pins"),
        ]
        assert pin.requests[0].json == {"media_type": "video"}
        upload = pin.requests[1]
        assert "Authorization" not in upload.headers  # the Pinterest token never goes to the storage host
        assert upload.form["key"] == [pin.media[media_id]["key"]]
        assert upload.form["Content-Type"] == ["multipart/form-data"]
        assert upload.body.find(b'name="file"') > upload.body.find(b'name="x-amz-signature"')
        (video,) = renditions(post)
        assert (video.width, video.height) == (1080, 1920)
        assert upload.files["file"][1:] == ("video/mp4", contents(post)[0])
        assert pin.requests[-1].json["media_source"] == {
            "source_type": "video_id",
            "media_id": media_id,
            "cover_image_key_frame_time": 1,
        }
        assert pin.pins[0]["media"]["media_type"] == "video"

    def test_it_uses_a_cover_image_and_a_board_section_when_given(self, pin, make_account):
        account = make_account()
        account.options = {**account.options, "board_section_id": "4321"}
        account.save()
        post = make_post(account, "video", options={"pinterest": {"cover_image_url": "https://cdn.test/cover.jpg"}})
        assert publish(post).status == ExecutionStatus.SUCCESS
        body = pin.calls("POST", "/v5/pins")[0].json
        assert body["board_section_id"] == "4321"
        assert body["media_source"]["cover_image_url"] == "https://cdn.test/cover.jpg"
        assert "cover_image_key_frame_time" not in body["media_source"]

    def test_it_reports_a_video_pinterest_could_not_process(self, pin, account):
        pin.fail_media()
        execution = publish(make_post(account, "video"))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "media_rejected")
        assert "could not process the video" in execution.error_message
        assert not pin.pins

    def test_it_retries_when_the_media_storage_fails(self, pin, account):
        pin.fail_next({"endpoint": "storage", "status": 503})
        execution = publish(make_post(account, "video"))
        assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "transient")


@pytest.mark.django_db
class TestErrors:
    @pytest.mark.parametrize(
        ("failure", "status", "code", "account_status"),
        [
            ("forbidden", ExecutionStatus.FAILED, "permission_denied", AccountStatus.ACTIVE),
            ("board_not_found", ExecutionStatus.FAILED, "permission_denied", AccountStatus.ACTIVE),
            ("rate_limited", ExecutionStatus.RETRY_WAIT, "rate_limited", AccountStatus.COOLDOWN),
            ("invalid_image", ExecutionStatus.FAILED, "media_rejected", AccountStatus.ACTIVE),
            ("spam_link", ExecutionStatus.FAILED, "content_rejected", AccountStatus.ACTIVE),
            ("server_error", ExecutionStatus.RETRY_WAIT, "transient", AccountStatus.ACTIVE),
            ("unavailable", ExecutionStatus.RETRY_WAIT, "transient", AccountStatus.ACTIVE),
        ],
    )
    def test_it_maps_each_error_to_the_execution_and_the_account(self, pin, account, failure, status, code, account_status):
        pin.fail_next(failure)
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (status, code)
        assert execution.raw_response["message"] == FAILURES[failure][2]
        account.refresh_from_db()
        assert account.status == account_status
        assert AccountEvent.objects.filter(account=account, to_status=account_status).exists() == (account_status != "active")
        assert not pin.pins

    def test_it_rests_the_account_until_the_rate_limit_resets(self, pin, account):
        pin.fail_next("rate_limited")
        before = timezone.now()
        publish(make_post(account))
        account.refresh_from_db()
        assert before + timedelta(seconds=120) <= account.cooldown_until <= timezone.now() + timedelta(seconds=121)

    def test_it_asks_for_a_login_when_even_a_renewed_token_is_refused(self, pin, account):
        pin.fail_next("unauthorized", times=2)
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "auth_required")
        assert len(pin.calls("POST", "/v5/oauth/token")) == 1
        account.refresh_from_db()
        assert account.status == AccountStatus.LOGIN_REQUIRED

    def test_it_asks_for_a_login_when_the_refresh_token_is_refused(self, pin, make_account):
        account = make_account(token="pina_expired", refresh="pinr_revoked")
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "auth_required")
        assert "Invalid refresh token" in execution.error_message
        account.refresh_from_db()
        assert account.status == AccountStatus.LOGIN_REQUIRED

    def test_it_finds_a_pin_whose_answer_was_lost_instead_of_pinning_twice(self, pin, account):
        pin.fail_next({"endpoint": "pins/create", "drop": True})
        execution = publish(make_post(account))
        assert execution.status == ExecutionStatus.UNCONFIRMED
        assert "may exist" in execution.error_message
        assert reconcile_unconfirmed()["published"] == 1
        execution.refresh_from_db()
        (created,) = pin.pins
        assert (execution.status, execution.remote_id) == (ExecutionStatus.SUCCESS, created["id"])
        assert execution.raw_response["found_by"] == "lookup"


@pytest.mark.django_db
class TestTokens:
    def test_it_renews_a_rejected_token_with_basic_auth_stores_it_encrypted_and_reuses_it(self, pin, account):
        pin.expire(TOKEN)
        assert publish(make_post(account)).status == ExecutionStatus.SUCCESS
        (refresh,) = pin.calls("POST", "/v5/oauth/token")
        assert refresh.headers["Authorization"] == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        assert refresh.form == {"grant_type": ["refresh_token"], "refresh_token": [REFRESH]}
        account.refresh_from_db()
        token = account.credentials["access_token"]
        assert token.startswith("pina_renewed") and account.credentials["refresh_token"].startswith("pinr_renewed")
        with connection.cursor() as cursor:
            cursor.execute("SELECT credentials FROM accounts_socialaccount WHERE id = %s", [account.pk.hex])
            (stored,) = cursor.fetchone()
        assert token not in stored and "renewed" not in stored

        pin.requests.clear()
        assert publish(make_post(account)).status == ExecutionStatus.SUCCESS
        assert not pin.calls("POST", "/v5/oauth/token")
        assert pin.calls("POST", "/v5/pins")[0].headers["Authorization"] == f"Bearer {token}"

    def test_it_asks_apps_older_than_september_2025_for_a_continuous_refresh_token(self, pin, make_account):
        account = make_account()
        account.credentials = {**account.credentials, "continuous_refresh": True}
        account.save()
        pin.expire(TOKEN)
        publish(make_post(account))
        assert pin.calls("POST", "/v5/oauth/token")[0].form["continuous_refresh"] == ["true"]


@pytest.mark.django_db
def test_it_sends_everything_through_the_accounts_proxy(pin, account):
    account.proxy = dead_proxy(account.workspace)
    account.save()
    execution = publish(make_post(account, "video"))
    assert (execution.status, execution.error_code) == (ExecutionStatus.RETRY_WAIT, "proxy_failed")
    account.refresh_from_db()
    assert account.status == AccountStatus.PROXY_ERROR
    assert not pin.requests  # nothing reached the platform around the proxy


@pytest.mark.django_db
def test_it_never_leaks_a_token_or_secret(pin, make_account, caplog):
    caplog.set_level(logging.DEBUG)
    outcomes = [publish(make_post(make_account(), "video")).status]
    pin.expire(TOKEN)
    renewed = make_account()
    outcomes.append(publish(make_post(renewed)).status)
    renewed.refresh_from_db()
    for failure in ("forbidden", "server_error", "invalid_image"):
        pin.fail_next(failure)
        outcomes.append(publish(make_post(make_account(token=renewed.credentials["access_token"]))).status)
    outcomes.append(publish(make_post(make_account(token="pina_gone-Secret", refresh="pinr_gone-Secret"))).status)
    health = get_adapter("pinterest").check(
        account_snapshot(make_account(token="pina_check-Secret", refresh="pinr_check-Secret"))
    )
    assert outcomes == ["success", "success", "failed", "retry_wait", "failed", "failed"]

    renewed.refresh_from_db()
    secrets = [TOKEN, REFRESH, CLIENT_SECRET, renewed.credentials["access_token"], renewed.credentials["refresh_token"]]
    secrets += ["pina_gone-Secret", "pinr_gone-Secret", "pina_check-Secret", "pinr_check-Secret"]
    seen = [caplog.text, health.detail, json.dumps(health.raw)]
    seen += [json.dumps([log.message, log.details]) for log in ActivityLog.objects.all()]
    seen += [json.dumps([e.error_message, e.raw_response, e.remote_url]) for e in Execution.objects.all()]
    seen += [event.reason for event in AccountEvent.objects.all()]
    assert not [s for s in secrets if any(s in text for text in seen)]


@pytest.mark.django_db
class TestLookup:
    def test_it_finds_nothing_when_the_pin_is_not_on_the_board(self, pin, account):
        post = make_post(account)
        post_publish(post=post)
        assert get_adapter("pinterest").lookup(lookup_request(Execution.objects.get(post=post))) is None

    def test_it_leaves_ambiguous_matches_to_an_operator(self, pin, account):
        first = publish(make_post(account))
        Execution.objects.filter(pk=first.pk).update(remote_id="")  # as if never recorded
        pin.fail_next({"endpoint": "pins/create", "drop": True})
        second = publish(make_post(account))
        with pytest.raises(base.LookupUnsupported, match="Several Pins match"):
            get_adapter("pinterest").lookup(lookup_request(second))

    def test_it_skips_pins_other_executions_recorded(self, pin, account):
        publish(make_post(account))
        pin.fail_next({"endpoint": "pins/create", "drop": True})
        lost = publish(make_post(account))
        found = get_adapter("pinterest").lookup(lookup_request(lost))
        assert found.remote_id == pin.pins[1]["id"]


@pytest.mark.django_db
class TestCheck:
    def test_it_checks_the_token_and_the_board(self, pin, account):
        health = get_adapter("pinterest").check(account_snapshot(account))
        assert health.ok, health.detail
        assert health.detail == "Pinterest @crosspost can pin to the board Launches."
        assert [r.path for r in pin.requests] == ["/v5/user_account", f"/v5/boards/{account.options['board_id']}"]

    def test_it_reports_a_missing_board(self, pin, make_account):
        assert "options.board_id is not set" in get_adapter("pinterest").check(account_snapshot(make_account(options={}))).detail
        health = get_adapter("pinterest").check(account_snapshot(make_account(board_id="999")))
        assert not health.ok and health.account_status is None and "Board not found" in health.detail

    def test_it_asks_for_a_login_when_the_token_cannot_be_renewed(self, pin, make_account):
        health = get_adapter("pinterest").check(account_snapshot(make_account(token="pina_gone", refresh="pinr_gone")))
        assert not health.ok and health.account_status == AccountStatus.LOGIN_REQUIRED


def image(**fields):
    values = {"path": "/media/a.png", "url": "/files/a.png", "kind": "image", "mime": "image/png", "size": 1000}
    return base.MediaItem(**{**values, **fields})


def video(**fields):
    values = {"path": "/media/a.mp4", "url": "", "kind": "video", "mime": "video/mp4", "size": 1000, "duration": 10.0}
    return base.MediaItem(**{**values, **fields})


@pytest.mark.django_db
class TestValidate:
    def problems(self, account, media_type="photo", media=None, caption=CAPTION, options=None):
        media = (image(),) if media is None else tuple(media)
        request = base.PublishRequest(
            account=account_snapshot(account), caption=caption, media_type=media_type, media=media, options=options or {}
        )
        return [p.code for p in get_adapter("pinterest").validate(request)]

    def test_it_accepts_what_pinterest_accepts(self, account):
        assert self.problems(account, caption="x" * 800) == []
        assert self.problems(account, "carousel", [image()] * 5) == []
        assert self.problems(account, "video", [video()]) == []
        assert self.problems(account, "reel", [video(duration=900)]) == []

    def test_it_needs_a_board(self, make_account):
        assert self.problems(make_account(options={})) == ["board_id"]
        assert self.problems(make_account(board_id="my board")) == ["board_id"]

    def test_it_checks_text_limits(self, account):
        assert self.problems(account, caption="x" * 801) == ["caption_too_long"]
        options = {"pinterest": {"title": "t" * 101, "alt_text": "a" * 501, "link": "l" * 2049}}
        assert self.problems(account, options=options) == ["title_too_long", "alt_text_too_long", "link_too_long"]

    def test_it_checks_media(self, account, settings):
        assert self.problems(account, "carousel", [image()] * 6) == ["media_count"]
        assert self.problems(account, "carousel", [image()]) == ["media_count"]
        assert self.problems(account, "photo", [video()]) == ["media_count"]
        assert self.problems(account, "video", [video(duration=3.5)]) == ["video_duration"]
        assert self.problems(account, "photo", [image(mime="image/webp")]) == ["image_format"]
        assert self.problems(account, "photo", [image(size=21 * 1024 * 1024)]) == ["image_too_big"]
        settings.PUBLIC_MEDIA_BASE_URL = MEDIA_HOST
        assert self.problems(account, "photo", [image(mime="image/webp")]) == []  # fetched by URL: any type Pinterest reads

    def test_it_refuses_text_and_stories(self, account):
        assert self.problems(account, "text", []) == ["media_type"]
        assert self.problems(account, "story") == ["media_type"]
