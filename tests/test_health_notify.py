"""Account health checks and their transitions, the periodic checks, and admin notifications
sent to a loopback emulator of the Telegram Bot API's sendMessage."""

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountEvent, AccountStatus, Platform, ProxyStatus, Role, SocialAccount
from accounts.services import account_set_status
from crosspost.celery import app as celery_app
from crosspost.models import ActivityLog
from crosspost.periodic import PERIODIC_TASKS
from platforms import base
from platforms.http import http_session
from platforms.registry import ADAPTERS
from platforms.sandbox import SandboxAdapter
from publishing import notification_tasks
from publishing.health import account_check
from publishing.notifications import notify_account_problem, notify_post_finished, notify_proxy_down
from publishing.proxy_checks import proxy_check
from publishing.tasks import check_accounts

from .emulators.base import Emulator, Recorded, Reply
from .emulators.proxies import HttpProxy, IpCheck, Socks5Proxy
from .factories import ExecutionFactory, PostFactory, ProxyFactory, SocialAccountFactory, WorkspaceFactory

V1 = "/api/v1"
BOT_TOKEN = "123456789:AAE-admin-bot-SECRET"
PROXY_PASSWORD = "s3cret-Proxy-Pass"


class AdminBot(Emulator):
    """The Bot API's sendMessage, as the admin bot sees it; ``fail_next(Reply(...))`` injects an error."""

    def handle(self, request: Recorded) -> Reply:
        if request.path != f"/bot{BOT_TOKEN}/sendMessage":
            return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        failure = self.take_failure()
        if failure is not None:
            return failure
        message = {"message_id": len(self.requests), "chat": {"id": request.json["chat_id"]}, "text": request.json["text"]}
        return Reply(200, {"ok": True, "result": message})

    @property
    def messages(self) -> list[tuple[str, str]]:
        return [(r.json["chat_id"], r.json["text"]) for r in self.requests]


@pytest.fixture
def bot(settings):
    with AdminBot() as emulator:
        settings.TELEGRAM_API_BASE_URL = emulator.url
        settings.TELEGRAM_ADMIN_BOT_TOKEN = BOT_TOKEN
        settings.TELEGRAM_ADMIN_CHAT_ID = "-100777"
        # On the Celery app itself too: a test that set ``conf.task_always_eager`` directly
        # (tests/test_media.py) pins it there, and the Django setting no longer reaches it.
        previous = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
        try:
            yield emulator
        finally:
            celery_app.conf.task_always_eager = previous


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the block enqueued after commit, as a real transaction would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def sandbox_account(workspace, *, status=AccountStatus.ACTIVE, fail=None, **fields) -> SocialAccount:
    return SocialAccountFactory(workspace=workspace, status=status, options={"fail": fail} if fail else {}, **fields)


def events(account) -> list[tuple[str, str]]:
    return [(e.from_status, e.to_status) for e in AccountEvent.objects.filter(account=account).order_by("created_at", "pk")]


# --- account_check transitions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "fail", "end"),
    [
        ("active", "auth_required", "login_required"),
        ("active", "challenge_required", "login_required"),
        ("active", "account_banned", "banned"),
        ("proxy_error", "auth_required", "login_required"),
        ("login_required", "account_banned", "banned"),
        ("login_required", None, "active"),  # a passing check proves the login works again
        ("active", None, "active"),
        ("banned", None, "banned"),  # never un-banned by a check
        ("disabled", "account_banned", "disabled"),  # the operator's choice stands
        ("banned", "auth_required", "banned"),
        ("login_required", "auth_required", "login_required"),
    ],
)
def test_it_moves_an_account_to_what_its_check_implies(workspace, start, fail, end):
    account = sandbox_account(workspace, status=start, fail=fail)

    health = account_check(account=account)

    assert health.ok is (fail is None)
    account.refresh_from_db()
    assert account.status == end
    assert account.last_check_at is not None
    assert events(account) == ([(start, end)] if start != end else [])
    assert ActivityLog.objects.get(action="account.check", account=account).status == ("success" if fail is None else "failed")


@pytest.mark.parametrize(
    ("options", "seconds"), [({}, 60), ({"retry_after": 600}, 600), ({"fail_rate": 1.0, "retry_after": 120}, 120)]
)
def test_it_rests_a_rate_limited_account_as_long_as_the_platform_asks(workspace, options, seconds):
    account = SocialAccountFactory(workspace=workspace, options={"fail": "rate_limited", **options})
    account_check(account=account)
    account.refresh_from_db()
    assert account.status == "cooldown"
    expected = timezone.now() + timedelta(seconds=seconds)
    assert expected - timedelta(seconds=10) < account.cooldown_until <= expected


def test_it_passes_the_check_of_a_sandbox_account_whose_random_failure_did_not_strike(workspace):
    account = SocialAccountFactory(workspace=workspace, options={"fail": "rate_limited", "fail_rate": 0.0})
    assert account_check(account=account).ok
    account.refresh_from_db()
    assert account.status == "active"


def test_it_lifts_a_cooldown_only_by_expiry(workspace):
    until = timezone.now() + timedelta(hours=2)
    account = sandbox_account(workspace, status=AccountStatus.COOLDOWN, cooldown_until=until)
    assert account_check(account=account).ok
    account.refresh_from_db()
    assert (account.status, account.cooldown_until) == ("cooldown", until)


def test_it_changes_nothing_when_a_check_fails_without_implying_a_state(workspace, monkeypatch):
    def flaky(self, account):
        raise base.Transient("Sandbox: 503 from the platform")

    monkeypatch.setattr(SandboxAdapter, "check", flaky)
    account = sandbox_account(workspace, status=AccountStatus.LOGIN_REQUIRED)
    health = account_check(account=account)
    assert (health.ok, health.account_status) == (False, None)
    account.refresh_from_db()
    assert account.status == "login_required" and events(account) == []


@pytest.mark.parametrize(("proxy_status", "end"), [(ProxyStatus.ACTIVE, "active"), (ProxyStatus.FAILED, "proxy_error")])
def test_it_recovers_a_proxy_error_account_only_when_its_proxy_is_healthy(workspace, proxy_status, end):
    proxy = ProxyFactory(workspace=workspace, status=proxy_status)
    account = sandbox_account(workspace, status=AccountStatus.PROXY_ERROR, proxy=proxy)
    account_check(account=account)
    account.refresh_from_db()
    assert account.status == end


class TestThroughRealProxies:
    """The adapter's check goes through http_session(account), hence through loopback proxies."""

    @pytest.fixture
    def platform(self, monkeypatch):
        with Echo() as emulator:

            def check(self, account):
                http_session(account).get(f"{emulator.url}/me", timeout=5)
                return base.Health(ok=True, detail="reachable")

            monkeypatch.setattr(SandboxAdapter, "check", check)
            yield emulator

    def test_it_rotates_to_a_reserve_proxy_and_recovers_the_account(self, workspace, platform):
        with HttpProxy() as dying, Socks5Proxy(credentials=("u", PROXY_PASSWORD)) as reserve:
            failing = ProxyFactory(workspace=workspace, host="127.0.0.1", port=dying.port, url=dying.url(), country="DE")
            spare = ProxyFactory(
                workspace=workspace, scheme="socks5", host="127.0.0.1", port=reserve.port, url=reserve.url(), country="DE"
            )
            account = sandbox_account(workspace, status=AccountStatus.PROXY_ERROR, proxy=failing)
            dying.kill()

            health = account_check(account=account)

        assert health.ok
        account.refresh_from_db()
        assert (account.status, account.proxy_id) == ("active", spare.pk)
        assert events(account) == [("proxy_error", "active")]
        assert reserve.targets == [platform.url.removeprefix("http://")]
        assert ActivityLog.objects.filter(action="proxy.rotate", account=account).exists()
        failing.refresh_from_db()
        assert failing.status == "failed"

    def test_it_flags_proxy_error_when_no_reserve_is_free(self, workspace, platform, bot, committed):
        with HttpProxy() as dying:
            failing = ProxyFactory(workspace=workspace, host="127.0.0.1", port=dying.port, url=dying.url(), country="DE")
            account = sandbox_account(workspace, proxy=failing)
            dying.kill()
            with committed():
                health = account_check(account=account)

        assert (health.ok, health.account_status) == (False, "proxy_error")
        account.refresh_from_db()
        assert account.status == "proxy_error"
        assert events(account) == [("active", "proxy_error")]
        texts = [text for _, text in bot.messages]
        assert any(text.startswith(f"Proxy {failing.display_url}") and "is down" in text for text in texts)
        assert any(f"Account {account}" in text and "proxy error" in text for text in texts)


class Echo(Emulator):
    def handle(self, request: Recorded) -> Reply:
        return Reply(200, {"path": request.path})


# --- periodic checks ------------------------------------------------------------------------------------------


def test_it_checks_due_accounts_oldest_first_in_batches(workspace, settings):
    settings.ACCOUNT_CHECK_BATCH = 2
    now = timezone.now()
    never = sandbox_account(workspace, fail="auth_required")
    old = sandbox_account(workspace, status=AccountStatus.PROXY_ERROR)
    older = sandbox_account(workspace, status=AccountStatus.LOGIN_REQUIRED)
    fresh = sandbox_account(workspace)
    resting = sandbox_account(workspace, status=AccountStatus.COOLDOWN, cooldown_until=now + timedelta(hours=1))
    banned = sandbox_account(workspace, status=AccountStatus.BANNED)
    for account, ago in ((old, 7), (older, 9), (fresh, 1), (resting, 9), (banned, 9)):
        SocialAccount.objects.filter(pk=account.pk).update(last_check_at=now - timedelta(hours=ago))

    assert check_accounts() == {"ok": 1, "failed": 1, "errors": 0}
    assert SocialAccount.objects.get(pk=never.pk).status == "login_required"
    assert SocialAccount.objects.get(pk=older.pk).status == "active"
    assert SocialAccount.objects.get(pk=old.pk).last_check_at < now  # beyond this run's batch

    assert check_accounts() == {"ok": 1, "failed": 0, "errors": 0}
    assert SocialAccount.objects.get(pk=old.pk).status == "active"
    assert check_accounts() == {"ok": 0, "failed": 0, "errors": 0}
    for untouched in (fresh, resting, banned):
        assert SocialAccount.objects.get(pk=untouched.pk).last_check_at < now


def test_it_checks_only_platforms_that_have_an_adapter(workspace, monkeypatch):
    monkeypatch.delitem(ADAPTERS, Platform.PINTEREST, raising=False)
    sandbox_account(workspace, platform=Platform.PINTEREST)
    assert check_accounts() == {"ok": 0, "failed": 0, "errors": 0}


def test_it_declares_the_health_checks_and_registers_every_task(db):
    from crosspost.celery import app

    app.loader.import_default_modules()
    declared = {p.task for p in PERIODIC_TASKS}
    assert {"accounts.tasks.check_proxies", "accounts.tasks.check_accounts"} <= declared
    assert "publishing.notification_tasks.send_notification" in app.tasks


# --- notifications -------------------------------------------------------------------------------------------


def test_it_reports_a_finished_post_with_counts_and_links(workspace, bot, committed):
    workspace.telegram_admin_chat_id = "-100555"
    workspace.save()
    post = PostFactory(workspace=workspace, title="Spring launch", status="partial")
    for i in range(12):
        ExecutionFactory(
            post=post, status="success", remote_url=f"https://example.test/p/{i}", finished_at=timezone.now() + timedelta(i)
        )
    for handle in ("shop_a", "shop_b"):
        ExecutionFactory(
            post=post,
            account__handle=handle,
            status="failed",
            error_code="media_rejected",
            error_message="The platform refused the video: too long.",
        )
    ExecutionFactory(post=post, status="cancelled")

    with committed():
        notify_post_finished(post.pk)

    [(chat, text)] = bot.messages
    assert chat == "-100555"  # the workspace's own admin chat wins
    assert f"Post #{post.pk} «Spring launch» finished: partial" in text
    assert "Published 12 of 15, failed 2." in text
    assert [f"https://example.test/p/{i}" in text for i in range(12)] == [True] * 10 + [False] * 2
    assert "…and 2 more." in text
    # The finalize summary says what did not go out, and why.
    assert "shop_a (Failed): media_rejected: The platform refused the video: too long." in text
    assert "shop_b (Failed): media_rejected" in text


def test_it_notifies_account_problems_once_per_transition(workspace, bot, committed):
    account = sandbox_account(workspace)
    with committed():
        account_set_status(account=account, status=AccountStatus.COOLDOWN, reason="rate limited", until=timezone.now())
        account_set_status(account=account, status=AccountStatus.BANNED, reason="Sandbox: injected account_banned.")
        account_set_status(account=account, status=AccountStatus.BANNED, reason="confirmed by support")

    [(chat, text)] = bot.messages
    assert chat == "-100777"
    assert f"Account {account} ({workspace}) is banned." in text
    assert "Reason: Sandbox: injected account_banned." in text


@pytest.mark.parametrize("unset", ["TELEGRAM_ADMIN_BOT_TOKEN", "TELEGRAM_ADMIN_CHAT_ID"])
def test_it_sends_nothing_without_a_token_or_a_chat(workspace, bot, settings, unset, django_capture_on_commit_callbacks):
    setattr(settings, unset, "")
    account = sandbox_account(workspace)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify_account_problem(account, AccountStatus.BANNED, "banned")
        notify_post_finished(PostFactory(workspace=workspace).pk)
        notify_proxy_down(ProxyFactory(workspace=workspace))
    assert callbacks == []
    assert bot.requests == []


def test_it_survives_a_failing_telegram(workspace, bot, committed, caplog, settings):
    bot.fail_next(Reply(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}))
    account = sandbox_account(workspace)
    with caplog.at_level(logging.WARNING), committed():
        assert account_set_status(account=account, status=AccountStatus.LOGIN_REQUIRED, reason="session expired")
    assert len(bot.requests) == 1
    assert "HTTP 500" in caplog.text

    settings.TELEGRAM_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens: connection refused
    with caplog.at_level(logging.WARNING), committed():
        notify_account_problem(account, AccountStatus.LOGIN_REQUIRED, "again")
    assert "ConnectionError" in caplog.text
    assert BOT_TOKEN not in caplog.text and BOT_TOKEN.split(":")[1] not in caplog.text


def test_it_survives_a_broker_outage(workspace, bot, committed, caplog, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(notification_tasks.send_notification, "delay", broken)
    account = sandbox_account(workspace)
    with caplog.at_level(logging.WARNING), committed():
        assert account_set_status(account=account, status=AccountStatus.BANNED, reason="banned")
    assert "Could not enqueue the account_problem admin notification" in caplog.text
    assert SocialAccount.objects.get(pk=account.pk).status == "banned"


def test_it_reports_a_proxy_going_down_without_its_password(workspace, bot, committed, settings, caplog):
    with IpCheck() as ip_check, HttpProxy(credentials=("u", PROXY_PASSWORD)) as loopback:
        settings.PROXY_CHECK_URL = ip_check.url
        proxy = ProxyFactory(workspace=workspace, host="127.0.0.1", port=loopback.port, url=loopback.url())
        SocialAccountFactory.create_batch(2, workspace=workspace, proxy=ProxyFactory(workspace=workspace, max_accounts=2))
        SocialAccountFactory(workspace=workspace, proxy=proxy)
        loopback.kill()
        with caplog.at_level(logging.DEBUG), committed():
            proxy_check(proxy=proxy)
            proxy_check(proxy=proxy)  # still down: reported once

    [(_, text)] = bot.messages
    assert text.startswith(f"Proxy {proxy.display_url} ({workspace}) is down.")
    assert "Accounts using it: 1." in text
    everything = json.dumps(
        [text, caplog.text, list(ActivityLog.objects.values_list("message", "details")), proxy.last_error], default=str
    )
    assert PROXY_PASSWORD not in everything and BOT_TOKEN not in everything


# --- API ----------------------------------------------------------------------------------------------------


def test_it_checks_an_account_from_the_api(api, workspace):
    account = sandbox_account(workspace, fail="account_banned")
    response = api(Role.ADMIN).post(f"{V1}/accounts/{account.pk}/check/")
    assert response.status_code == 200, response.content
    body = response.json()
    detail = "account_banned: Sandbox: injected account_banned."
    assert body["health"] == {"ok": False, "detail": detail, "account_status": "banned"}
    assert body["account"]["status"] == "banned"
    assert body["account"]["last_check_at"] is not None
    assert "sandbox-secret-token" not in response.content.decode()
    assert ActivityLog.objects.get(action="account.check").actor is not None


def test_it_lets_only_admins_check(api, workspace):
    account = sandbox_account(workspace)
    assert api(Role.EDITOR).post(f"{V1}/accounts/{account.pk}/check/").status_code == 403
    other = sandbox_account(WorkspaceFactory())
    assert api(Role.OWNER).post(f"{V1}/accounts/{other.pk}/check/").status_code == 404


@pytest.mark.parametrize("token", ["tok\U000f91c1en", "tok\nen"])
def test_it_asks_for_new_credentials_a_header_cannot_carry(workspace, token, settings):
    # Found by the API fuzzer: a Pinterest token with a character outside Latin-1 made /check/ a 500.
    from .emulators.pinterest import PinterestEmulator

    with PinterestEmulator() as emulator:
        settings.PINTEREST_API_BASE_URL = f"{emulator.url}/v5"
        account = SocialAccountFactory(
            workspace=workspace, platform=Platform.PINTEREST, handle="board", credentials={"access_token": token}
        )
        health = account_check(account=account)
    account.refresh_from_db()
    assert not health.ok and "cannot carry" in health.detail
    assert account.status == AccountStatus.LOGIN_REQUIRED
    assert emulator.requests == []  # nothing left the process
