"""Instagram through instagrapi (the private API) against the loopback emulator.

Runs the real engine in-process (planner → claim_due → execution_publish) with a
real instagrapi 3.2.2 client whose Instagram hosts are routed to the emulator:
each media type's requests, every documented failure → the execution's and the
account's state, session reuse and relogin, a challenge that never waits for a
human, the stable device, the proxy, lookup, the login action — and no password
or session anywhere an operator or a log can see it.
"""

import builtins
import io
import json
import logging
import sys
import time
from datetime import timedelta
from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import AccountEvent, AccountStatus, Role, SocialAccount
from crosspost.models import ActivityLog
from media.models import Rendition
from platforms import base
from platforms.instagram import private
from platforms.registry import get_adapter
from publishing.adapters import account_snapshot, lookup_request
from publishing.models import Execution, ExecutionStatus
from publishing.planner import post_publish
from publishing.publisher import reconcile_unconfirmed
from publishing.tasks import cleanup_old_sessions

from .emulators.instagram_private import InstagramPrivateEmulator
from .emulators.proxies import HttpProxy
from .factories import (
    ExecutionFactory,
    ProxyFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
)
from .support.engine import publish_one as publish
from .support.posts import make_post as shared_make_post

USERNAME = "crosspost.demo"
PASSWORD = "Pa55word-never-leaks-7"
CAPTION = "Hello from Crosspost #launch"


class _NoSleep:
    """instagrapi sleeps seconds between upload steps; tests do not wait."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def sleep(seconds):
        pass


def no_sleep(monkeypatch) -> None:
    for name, module in list(sys.modules.items()):
        if name.startswith("instagrapi") and getattr(module, "time", None) is time:
            monkeypatch.setattr(module, "time", _NoSleep())


make_post = partial(shared_make_post, caption=CAPTION)


def rendition_bytes(asset, profile) -> bytes:
    with Rendition.objects.get(asset=asset, profile=profile).file.open("rb") as handle:
        return handle.read()


def jpeg_size(data: bytes) -> tuple[int, int]:
    """The size of an uploaded photo (instagrapi re-encodes the file it is given, so compare pictures, not bytes)."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.size


@pytest.fixture
def instagram(monkeypatch, settings):
    settings.INSTAGRAM_PRIVATE_REQUEST_DELAY_SECONDS = 0
    no_sleep(monkeypatch)
    with InstagramPrivateEmulator() as emulator:
        monkeypatch.setattr(private, "client_hooks", [emulator.route])
        emulator.add_user(USERNAME, PASSWORD)
        yield emulator


@pytest.fixture
def make_account(workspace):
    PublishingPolicyFactory(workspace=workspace, platform="instagram", fast=True)

    def make(handle=USERNAME, password=PASSWORD, **fields):
        fields.setdefault("device_id", "android-0123456789abcdef")
        fields.setdefault(
            "user_agent",
            "Instagram 269.0.0.18.75 Android (31/12; 420dpi; 1080x2400; Google; Pixel 6; oriole; gs101; en_US; 314665256)",
        )
        return SocialAccountFactory(
            workspace=workspace, platform="instagram", handle=handle, credentials={"password": password}, **fields
        )

    return make


@pytest.fixture
def account(make_account, instagram):
    return make_account()


def configures(instagram):
    return instagram.calls("/api/v1/media/configure")


def sent_json(request) -> dict:
    return json.loads(request.param("signed_body").removeprefix("SIGNATURE."))


def device_headers(instagram) -> set[tuple[str, str, str, str]]:
    """(device id, android id, family device id, user agent) of every mobile-API request."""
    return {
        (r.headers["X-IG-Device-ID"], r.headers["X-IG-Android-ID"], r.headers["X-IG-Family-Device-ID"], r.headers["User-Agent"])
        for r in instagram.requests
        if "X-IG-Device-ID" in r.headers
    }


@pytest.mark.django_db
class TestPublishing:
    def test_it_logs_in_and_publishes_a_photo(self, instagram, account):
        post = make_post(account)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert len(instagram.calls("send_login_request")) == 1
        (upload,) = instagram.calls("/rupload_igphoto/")
        assert jpeg_size(upload.body) == (1080, 1350)  # the 4:5 rendition, not the 64×48 PNG original
        (configure,) = configures(instagram)
        assert configure.path == "/api/v1/media/configure/"
        assert sent_json(configure)["caption"] == CAPTION
        assert sent_json(configure)["upload_id"] == json.loads(upload.headers["X-Instagram-Rupload-Params"])["upload_id"]
        media = instagram.users[USERNAME].medias[0]
        assert execution.remote_id == media["pk"]
        assert execution.remote_url == f"https://www.instagram.com/p/{media['code']}/"
        assert execution.raw_response["code"] == media["code"]
        account.refresh_from_db()
        assert account.session["authorization_data"]["ds_user_id"] == instagram.users[USERNAME].pk
        assert account.last_login_at is not None

    @pytest.mark.parametrize(
        ("media_type", "images", "videos", "configure_path", "url_part"),
        [
            ("video", 0, 1, "/api/v1/media/configure/", "/p/"),
            ("reel", 0, 1, "/api/v1/media/configure_to_clips/", "/reel/"),
            ("story", 1, 0, "/api/v1/media/configure_to_story/", "/stories/crosspost.demo/"),
            ("story", 0, 1, "/api/v1/media/configure_to_story/", "/stories/crosspost.demo/"),
        ],
    )
    def test_it_publishes_videos_reels_and_stories(
        self, instagram, account, media_type, images, videos, configure_path, url_part
    ):
        post = make_post(account, media_type, images=images, videos=videos)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (configure,) = configures(instagram)
        assert configure.path == configure_path
        assert (configure.query.get("video") == ["1"]) == bool(videos)
        assert sent_json(configure).get("caption") == (None if media_type == "story" and videos else CAPTION)
        if videos:
            # The video bytes, then the thumbnail we extracted, under the same upload id.
            (video,) = [r for r in instagram.calls("/rupload_igvideo/") if r.method == "POST"]
            profile = "instagram_story_video" if media_type == "story" else "instagram_reel"
            assert video.body == rendition_bytes(post.media.get().asset, profile)
            upload_id = sent_json(configure)["upload_id"]
            covers = {
                json.loads(r.headers["X-Instagram-Rupload-Params"])["upload_id"] for r in instagram.calls("/rupload_igphoto/")
            }
            # Feed videos and reels send the thumbnail we took; Instagram cuts a story's cover itself.
            assert (upload_id in covers) == (media_type != "story")
        if media_type == "reel":
            assert len(instagram.calls("/upload_settings/")) == 1
        assert url_part in execution.remote_url

    def test_it_publishes_a_carousel_of_photos_and_a_video(self, instagram, account):
        post = make_post(account, "carousel", images=2, videos=1)
        execution = publish(post)
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        (configure,) = configures(instagram)
        assert configure.path == "/api/v1/media/configure_sidecar/"
        body = sent_json(configure)
        assert body["caption"] == CAPTION
        assert len(body["children_metadata"]) == 3
        assert sum("clips" in child for child in body["children_metadata"]) == 1
        uploads = [r.body for r in instagram.calls("/rupload_igphoto/")]
        assert len(uploads) == 3  # two photos and the video's thumbnail
        assert [jpeg_size(body) for body in uploads[:2]] == [(1080, 1350)] * 2  # the 4:5 renditions
        (upload,) = [r for r in instagram.calls("/rupload_igvideo/") if r.method == "POST"]
        assert upload.body == rendition_bytes(post.media.order_by("position").last().asset, "instagram_feed_video")
        assert instagram.users[USERNAME].medias[0]["media_type"] == 8
        assert execution.remote_url.startswith("https://www.instagram.com/p/")

    def test_it_blocks_a_too_long_caption_before_anything_posts(self, instagram, account):
        post = make_post(account, caption="x" * 2201)
        (entry,) = post_publish(post=post, dry_run=True).entries
        assert entry.status == "blocked"
        assert "2201 characters" in " ".join(entry.problems)
        # Its only target blocked, publishing is refused outright and nothing is created.
        with pytest.raises(ValidationError, match="2201 characters"):
            post_publish(post=post)
        assert not Execution.objects.filter(post=post).exists()
        assert instagram.requests == []


@pytest.mark.django_db
class TestSession:
    def test_it_reuses_the_stored_session_without_logging_in_again(self, instagram, account):
        first = publish(make_post(account))
        instagram.requests.clear()
        second = publish(make_post(account, caption="Second post"))
        assert (first.status, second.status) == (ExecutionStatus.SUCCESS, ExecutionStatus.SUCCESS)
        assert instagram.login_calls == []
        assert instagram.calls("qe/sync") == [] and instagram.calls("graphql_www") == []
        assert len(configures(instagram)) == 1

    def test_it_logs_in_once_more_when_the_session_is_gone(self, instagram, account):
        publish(make_post(account))
        old_session = SocialAccount.objects.get(pk=account.pk).session["authorization_data"]["sessionid"]
        instagram.expire_sessions()
        execution = publish(make_post(account, caption="After the logout"))
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert len(instagram.calls("send_login_request")) == 2
        account.refresh_from_db()
        assert account.status == AccountStatus.ACTIVE
        assert account.session["authorization_data"]["sessionid"] != old_session

    @pytest.mark.parametrize("kind", ["login_required", "user_has_logged_out"])
    def test_it_repeats_the_post_after_one_relogin(self, instagram, account, kind):
        instagram.fail("configure", kind)
        execution = publish(make_post(account))
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        assert len(instagram.calls("send_login_request")) == 2
        assert len(instagram.users[USERNAME].medias) == 1

    def test_it_asks_an_operator_when_the_new_session_is_refused_too(self, instagram, account):
        instagram.fail("configure", "login_required", times=2)
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (ExecutionStatus.FAILED, "auth_required")
        assert "again right after a new login" in execution.error_message
        assert len(instagram.calls("send_login_request")) == 2  # the first login and exactly one relogin
        account.refresh_from_db()
        assert account.status == AccountStatus.LOGIN_REQUIRED

    def test_it_keeps_the_same_device_for_every_request(self, instagram, account):
        publish(make_post(account))
        instagram.expire_sessions()  # a relogin must present the same phone too
        publish(make_post(account, caption="Again"))
        (device,) = device_headers(instagram)
        device_id, android_id, family_id, user_agent = device
        assert android_id == account.device_id
        # The stored user agent names an app instagrapi 3.2 cannot log in as: the account's
        # hardware with instagrapi's app — the same string on every call.
        assert user_agent == (
            "Instagram 449.0.0.52.84 Android (31/12; 420dpi; 1080x2400; Google; Pixel 6; oriole; gs101; en_US; 1079242191)"
        )
        assert device_id != family_id
        session = SocialAccount.objects.get(pk=account.pk).session
        assert (session["uuids"]["uuid"], session["uuids"]["phone_id"]) == (device_id, family_id)

    def test_it_sends_a_supported_stored_user_agent_as_it_is(self, instagram, make_account):
        user_agent = (
            "Instagram 449.0.0.52.84 Android (34/14; 480dpi; 1344x2992; Google/google; Pixel 8 Pro; husky; husky; "
            "en_US; 1079242191)"
        )
        account = make_account(user_agent=user_agent, device_id="android-fedcba9876543210")
        publish(make_post(account))
        assert {headers[1:4:2] for headers in device_headers(instagram)} == {("android-fedcba9876543210", user_agent)}

    def test_it_derives_the_device_from_the_account_alone(self, make_account):
        account = make_account()
        first, second = (
            private.device_identity(account_snapshot(account)),
            private.device_identity(account_snapshot(SocialAccount.objects.get(pk=account.pk))),
        )
        assert first == second
        other = private.device_identity(account_snapshot(make_account(handle="other", device_id="android-1111111111111111")))
        assert other["uuids"]["uuid"] != first["uuids"]["uuid"]

    def test_it_goes_through_the_accounts_proxy(self, instagram, make_account, workspace):
        with HttpProxy(credentials=("proxyuser", "proxy-secret")) as proxy:
            record = ProxyFactory(workspace=workspace, host="127.0.0.1", port=proxy.port, url=proxy.url())
            account = make_account(proxy=record)
            execution = publish(make_post(account))
        assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
        client = instagram.clients[-1]
        assert client.private.proxies == client.public.proxies == {"http": proxy.url(), "https": proxy.url()}
        assert len(proxy.relays) == len(instagram.requests)
        assert {relay.target for relay in proxy.relays} == {instagram.url.removeprefix("http://")}
        assert {relay.credentials for relay in proxy.relays} == {("proxyuser", "proxy-secret")}


COOLDOWN, LOGIN_REQUIRED, BANNED, PROXY_ERROR, ACTIVE = (
    AccountStatus.COOLDOWN,
    AccountStatus.LOGIN_REQUIRED,
    AccountStatus.BANNED,
    AccountStatus.PROXY_ERROR,
    AccountStatus.ACTIVE,
)
RETRY, FAILED = ExecutionStatus.RETRY_WAIT, ExecutionStatus.FAILED


@pytest.mark.django_db
class TestErrors:
    @pytest.mark.parametrize(
        ("where", "kind", "status", "code", "account_status", "rest"),
        [
            ("configure", "feedback_required", RETRY, "quota_exceeded", COOLDOWN, timedelta(hours=24)),
            ("configure", "please_wait", RETRY, "rate_limited", COOLDOWN, timedelta(minutes=15)),
            ("configure", "rate_limit", RETRY, "rate_limited", COOLDOWN, timedelta(hours=1)),
            ("configure", "throttled", RETRY, "rate_limited", COOLDOWN, timedelta(minutes=5)),
            ("configure", "challenge_required", FAILED, "challenge_required", LOGIN_REQUIRED, None),
            ("configure", "checkpoint", FAILED, "challenge_required", LOGIN_REQUIRED, None),
            ("configure", "suspended", FAILED, "account_banned", BANNED, None),
            ("configure", "sentry_block", RETRY, "proxy_failed", PROXY_ERROR, None),
            ("configure", "video_too_long", FAILED, "media_rejected", ACTIVE, None),
            ("configure", "media_needs_reupload", FAILED, "media_rejected", ACTIVE, None),
            ("rupload", "upload_error", FAILED, "media_rejected", ACTIVE, None),
            ("rupload", "server_error", RETRY, "transient", ACTIVE, None),
            ("login", "two_factor_required", FAILED, "challenge_required", LOGIN_REQUIRED, None),
            ("login", "challenge_required", FAILED, "challenge_required", LOGIN_REQUIRED, None),
            ("login", "checkpoint", FAILED, "challenge_required", LOGIN_REQUIRED, None),
            ("login", "suspended", FAILED, "account_banned", BANNED, None),
            ("login", "proxy_blocked", RETRY, "proxy_failed", PROXY_ERROR, None),
        ],
    )
    def test_it_maps_each_instagram_refusal_to_the_execution_and_the_account(
        self, instagram, account, where, kind, status, code, account_status, rest
    ):
        instagram.fail(where, kind)
        before = timezone.now()
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (status, code), execution.error_message
        assert execution.raw_response["exception"]
        account.refresh_from_db()
        assert account.status == account_status
        if rest is not None:
            assert before + rest <= account.cooldown_until <= timezone.now() + rest
            assert execution.scheduled_for >= before + rest
        if account_status != ACTIVE:
            assert AccountEvent.objects.filter(account=account, to_status=account_status).exists()
        assert instagram.users[USERNAME].medias == []

    def test_it_reports_a_wrong_password_without_repeating_it(self, instagram, make_account):
        account = make_account(password="not-the-password")
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (FAILED, "auth_required")
        assert "password you entered is incorrect" in execution.error_message
        account.refresh_from_db()
        assert account.status == LOGIN_REQUIRED
        assert "not-the-password" not in json.dumps(execution.raw_response) + execution.error_message + account.status_reason

    def test_it_never_waits_for_a_human_on_a_challenge(self, instagram, account, monkeypatch):
        def no_input(*args):
            raise AssertionError("a worker asked for input")

        monkeypatch.setattr(builtins, "input", no_input)
        instagram.fail("login", "challenge_required")
        execution = publish(make_post(account))
        assert (execution.status, execution.error_code) == (FAILED, "challenge_required")
        client = instagram.clients[-1]
        assert client.with_challenge_flow is False
        for handler in (client.challenge_code_handler, client.change_password_handler):
            with pytest.raises(private.ig.ChallengeRequired):
                handler(USERNAME, 1)
        with pytest.raises(private.ig.ChallengeRequired):
            client.handle_exception(client, private.ig.ChallengeRequired("challenge_required"))

    def test_it_reconciles_a_post_whose_answer_was_lost(self, instagram, account):
        instagram.fail("configure", "lost_answer")
        execution = publish(make_post(account))
        assert execution.status == ExecutionStatus.UNCONFIRMED, execution.error_message
        assert reconcile_unconfirmed()["published"] == 1
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.SUCCESS
        assert execution.remote_id == instagram.users[USERNAME].medias[0]["pk"]
        assert len(instagram.users[USERNAME].medias) == 1

    def test_it_retries_a_post_instagram_never_made_after_a_failed_configure(self, instagram, account):
        instagram.fail("configure", "server_error")
        execution = publish(make_post(account))
        assert execution.status == ExecutionStatus.UNCONFIRMED
        assert reconcile_unconfirmed()["retried"] == 1
        execution.refresh_from_db()
        assert (execution.status, execution.error_code) == (RETRY, "not_found_after_crash")


@pytest.mark.django_db
class TestLookup:
    def _execution(self, account, caption=CAPTION, media_type="photo", started=timedelta(minutes=10)):
        post = make_post(account, media_type, caption=caption)
        return ExecutionFactory(
            post=post, account=account, caption=caption, status="unconfirmed", started_at=timezone.now() - started
        )

    def _add(self, instagram, *, caption, age, media_type=1, story=False):
        user = instagram.users[USERNAME]
        media = instagram._media(user, media_type, caption, "story" if story else "feed")
        media["taken_at"] = int((timezone.now() - age).timestamp())
        (user.stories if story else user.medias).insert(0, media)
        return media

    def test_it_finds_the_post_by_caption_taken_after_the_execution_started(self, instagram, account):
        execution = self._execution(account)
        adapter = get_adapter("instagram")
        self._add(instagram, caption=CAPTION, age=timedelta(days=2))  # same caption, long before
        self._add(instagram, caption="Something else", age=timedelta(minutes=1))
        assert adapter.lookup(lookup_request(execution)) is None
        ours = self._add(instagram, caption="  Hello from   Crosspost #launch ", age=timedelta(minutes=5))
        found = adapter.lookup(lookup_request(execution))
        assert (found.remote_id, found.raw["found_by"]) == (ours["pk"], "lookup")
        assert found.url == f"https://www.instagram.com/p/{ours['code']}/"
        (feed, *_) = [r for r in instagram.calls(f"/feed/user/{instagram.users[USERNAME].pk}/") if r.method == "GET"]
        assert feed.query["count"] == ["20"]

    def test_it_finds_a_story_by_its_kind_and_time(self, instagram, account):
        execution = self._execution(account, media_type="story")
        adapter = get_adapter("instagram")
        self._add(instagram, caption="", age=timedelta(minutes=2), media_type=2, story=True)  # a video: not ours
        assert adapter.lookup(lookup_request(execution)) is None
        ours = self._add(instagram, caption="", age=timedelta(minutes=1), story=True)
        assert adapter.lookup(lookup_request(execution)).remote_id == ours["pk"]


@pytest.mark.django_db
class TestCheck:
    def test_it_reports_an_account_that_never_logged_in(self, instagram, account):
        health = get_adapter("instagram").check(account_snapshot(account))
        assert (health.ok, health.account_status) == (False, None)
        assert instagram.requests == []

    def test_it_proves_the_stored_session_works(self, instagram, account):
        publish(make_post(account))
        instagram.requests.clear()
        health = get_adapter("instagram").check(account_snapshot(SocialAccount.objects.get(pk=account.pk)))
        assert health.ok and USERNAME in health.detail
        assert [r.path for r in instagram.requests] == ["/api/v1/accounts/current_user/"]

    def test_it_raises_the_error_a_failed_check_implies(self, instagram, account):
        publish(make_post(account))
        instagram.fail("current_user", "challenge_required")
        with pytest.raises(base.ChallengeRequired):
            get_adapter("instagram").check(account_snapshot(SocialAccount.objects.get(pk=account.pk)))


def login_url(account) -> str:
    return f"/api/v1/accounts/{account.pk}/login/"


@pytest.mark.django_db
class TestLoginAction:
    def test_it_logs_a_login_required_account_in_and_reactivates_it(self, instagram, make_account, api):
        account = make_account(status=AccountStatus.LOGIN_REQUIRED, status_reason="challenge")
        response = api().post(login_url(account))
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["ok"], body["status"], body["account"]["status"]) == (True, "active", "active")
        assert USERNAME in body["detail"]
        account.refresh_from_db()
        assert account.status == AccountStatus.ACTIVE and account.last_login_at is not None
        assert account.session["authorization_data"]["ds_user_id"] == instagram.users[USERNAME].pk
        assert AccountEvent.objects.filter(account=account, from_status="login_required", to_status="active").exists()
        log = ActivityLog.objects.get(action="account.login", account=account)
        assert log.status == "success" and log.actor is not None

    def test_it_moves_an_account_whose_login_is_refused_to_login_required(self, instagram, make_account, api):
        account = make_account(password="wrong-password-123")
        response = api().post(login_url(account))
        body = response.json()
        assert (response.status_code, body["ok"], body["status"]) == (200, False, "login_required")
        assert body["detail"].startswith("auth_required:")
        account.refresh_from_db()
        assert account.status_reason.startswith("login failed: auth_required")
        assert ActivityLog.objects.get(action="account.login", account=account).status == "failed"
        assert "wrong-password-123" not in json.dumps(body)

    def test_it_checks_a_stored_session_instead_of_logging_in_again(self, instagram, account, api):
        publish(make_post(account))
        instagram.requests.clear()
        assert api().post(login_url(account)).json()["ok"] is True
        assert instagram.login_calls == []

    def test_it_answers_409_for_platforms_without_a_login_step(self, api, workspace):
        account = SocialAccountFactory(workspace=workspace, platform="sandbox")
        response = api().post(login_url(account))
        assert response.status_code == 409
        assert "no separate login step" in response.json()["detail"]

    def test_it_needs_the_admin_role(self, instagram, account, api):
        assert api(Role.EDITOR).post(login_url(account)).status_code == 403

    def test_it_logs_in_from_the_admin(self, instagram, make_account, member, client):
        account = make_account(status=AccountStatus.LOGIN_REQUIRED)
        client.force_login(member())
        response = client.post(
            reverse("admin:accounts_socialaccount_changelist"),
            {"action": "log_in", "_selected_action": [str(account.pk)]},
            follow=True,
        )
        assert response.status_code == 200
        assert any(f"Logged in as @{USERNAME}" in str(m) for m in response.context["messages"])
        account.refresh_from_db()
        assert account.status == AccountStatus.ACTIVE


@pytest.mark.django_db
def test_it_never_leaks_the_password_or_the_session(instagram, make_account, api, caplog):
    caplog.set_level(logging.DEBUG)
    account = make_account()
    publish(make_post(account, "reel", images=0, videos=1))
    instagram.fail("configure", "feedback_required")
    publish(make_post(account, caption="Blocked"))
    instagram.expire_sessions()
    api().post(login_url(account))
    wrong = make_account(handle="second.account", password="Wr0ng-" + PASSWORD)
    instagram.add_user("second.account", "something-else")
    publish(make_post(wrong, caption="Refused"))
    api().post(login_url(wrong))
    account.refresh_from_db()
    secrets = [PASSWORD, "Wr0ng-" + PASSWORD, "something-else", *instagram.sessions]
    secrets.append(account.session["authorization_data"]["sessionid"])
    seen = {
        "logs": caplog.text,
        "activity": json.dumps(list(ActivityLog.objects.values("message", "details")), default=str),
        "executions": json.dumps(list(Execution.objects.values("error_message", "raw_response", "remote_url")), default=str),
        "events": json.dumps(list(AccountEvent.objects.values_list("reason", flat=True))),
        "api": json.dumps(api().get(f"/api/v1/accounts/{account.pk}/").json()),
    }
    assert len(secrets) >= 4
    for where, text in seen.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {where}"
    assert "Bearer IGT" not in caplog.text


@pytest.mark.django_db
class TestValidate:
    @pytest.fixture
    def check(self, make_account):
        account = make_account()

        def run(media_type="photo", media=None, caption=CAPTION, **account_fields):
            for name, value in account_fields.items():
                setattr(account, name, value)
            item = base.MediaItem(
                path="", url="/files/a.jpg", kind="image", mime="image/jpeg", size=1000, width=1080, height=1080
            )
            request = base.PublishRequest(
                account=account_snapshot(account), caption=caption, media_type=media_type, media=media or (item,)
            )
            return [p.code for p in get_adapter("instagram").validate(request)]

        return run

    def test_it_accepts_what_instagram_accepts(self, check):
        assert check() == []

    def test_it_limits_the_caption(self, check):
        assert check(caption="x" * 2201) == ["caption_too_long"]
        assert check(caption=" ".join(f"#tag{i}" for i in range(31))) == ["too_many_hashtags"]
        assert check(caption=" ".join(f"@user{i}" for i in range(21))) == ["too_many_mentions"]
        assert check(caption=" ".join(f"#tag{i}" for i in range(30))) == []

    def test_it_counts_and_types_the_media(self, check):
        image = base.MediaItem(path="", url="/f/a.jpg", kind="image", mime="image/jpeg", size=1, width=100, height=100)
        video = base.MediaItem(path="", url="/f/a.mp4", kind="video", mime="video/mp4", size=1, duration=5)
        assert check("carousel", (image,)) == ["media_count"]
        assert check("carousel", (image,) * 11) == ["media_count"]
        assert check("carousel", (image, video)) == []
        assert check("photo", (video,)) == ["media_kind"]
        assert check("reel", (image,)) == ["media_kind"]
        assert check("text") == ["media_type"]

    def test_it_knows_what_the_private_api_takes(self, check):
        gif = base.MediaItem(path="", url="/f/a.gif", kind="image", mime="image/gif", size=1, width=100, height=100)
        tall = base.MediaItem(path="", url="/f/a.jpg", kind="image", mime="image/jpeg", size=1, width=1080, height=1920)
        assert check("photo", (gif,)) == ["media_format"]
        assert check("photo", (tall,)) == ["aspect_ratio"]
        assert check("story", (tall,)) == []
        assert check(credentials={}, session={}) == ["credentials"]
        assert check(credentials={}, session={"authorization_data": {"ds_user_id": "1"}}) == []


@pytest.mark.django_db
class TestOldSessions:
    def logged_in(self, account, days_ago: int) -> SocialAccount:
        """``account`` after a real login whose session is ``days_ago`` days old."""
        assert publish(make_post(account)).status == ExecutionStatus.SUCCESS
        SocialAccount.objects.filter(pk=account.pk).update(last_login_at=timezone.now() - timedelta(days=days_ago))
        return SocialAccount.objects.get(pk=account.pk)

    def test_it_replaces_a_session_older_than_its_lifetime_by_a_new_login(self, instagram, account, settings):
        settings.INSTAGRAM_SESSION_LIFETIME_DAYS = 90
        old = self.logged_in(account, 91)
        instagram.requests.clear()
        assert cleanup_old_sessions() == {"refreshed": 1, "cleared": 0, "in_use": 0, "failed": 0}
        account.refresh_from_db()
        assert len(instagram.login_calls) == 1
        assert account.session["authorization_data"]["sessionid"] != old.session["authorization_data"]["sessionid"]
        assert account.last_login_at > timezone.now() - timedelta(minutes=1)
        assert account.status == AccountStatus.ACTIVE
        log = ActivityLog.objects.get(action="account.session_expired", account=account)
        assert log.message.startswith("The Instagram session was 91 days old") and "replaced by a new login" in log.message
        assert cleanup_old_sessions() == {"refreshed": 0, "cleared": 0, "in_use": 0, "failed": 0}  # young again

    def test_it_leaves_a_session_younger_than_its_lifetime(self, instagram, account, settings):
        settings.INSTAGRAM_SESSION_LIFETIME_DAYS = 30
        session = self.logged_in(account, 29).session
        assert cleanup_old_sessions() == {"refreshed": 0, "cleared": 0, "in_use": 0, "failed": 0}
        assert SocialAccount.objects.get(pk=account.pk).session == session

    def test_it_clears_the_session_and_asks_for_a_login_when_no_password_is_stored(self, instagram, account):
        self.logged_in(account, 120)
        SocialAccount.objects.filter(pk=account.pk).update(credentials={})
        instagram.requests.clear()
        assert cleanup_old_sessions()["cleared"] == 1
        account.refresh_from_db()
        assert (account.session, account.status) == ({}, AccountStatus.LOGIN_REQUIRED)
        assert "no password is stored" in account.status_reason
        assert AccountEvent.objects.filter(account=account, from_status="active", to_status="login_required").exists()
        assert instagram.login_calls == []

    def test_it_moves_an_account_whose_new_login_is_refused_to_login_required(self, instagram, account):
        self.logged_in(account, 100)
        SocialAccount.objects.filter(pk=account.pk).update(credentials={"password": "changed-by-the-owner-1"})
        assert cleanup_old_sessions()["failed"] == 1
        account.refresh_from_db()
        assert not account.session.get("authorization_data")  # the old login is gone
        assert account.status == AccountStatus.LOGIN_REQUIRED
        assert ActivityLog.objects.get(action="account.session_expired", account=account).status == "failed"

    @pytest.mark.parametrize("status", [ExecutionStatus.POSTING, ExecutionStatus.QUEUED])
    def test_it_never_touches_a_session_while_the_account_publishes(self, instagram, account, status):
        old = self.logged_in(account, 100)
        ExecutionFactory(account=account, post__workspace=account.workspace, status=status)
        instagram.requests.clear()
        assert cleanup_old_sessions()["in_use"] == 1
        account.refresh_from_db()
        assert account.session == old.session and account.status == AccountStatus.ACTIVE
        assert instagram.requests == []

    def test_it_is_declared_as_a_periodic_task_with_a_90_day_default(self):
        from django.conf import settings

        from crosspost.periodic import PERIODIC_TASKS

        assert "publishing.tasks.cleanup_old_sessions" in {p.task for p in PERIODIC_TASKS}
        assert settings.INSTAGRAM_SESSION_LIFETIME_DAYS == 90
