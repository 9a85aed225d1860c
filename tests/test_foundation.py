"""Foundation: database constraints, encryption at rest and key rotation, health,
production settings, time zones and log redaction."""

import json
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import override_settings

from accounts.models import Proxy, SocialAccount
from crosspost.crypto import DecryptionError
from crosspost.encryption import check_encryption_canary
from crosspost.logging import RedactSecretsFilter
from posts.models import PostMedia
from publishing.models import Execution

from .factories import (
    AccountGroupFactory,
    ExecutionFactory,
    MediaAssetFactory,
    PostFactory,
    ProxyFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    WorkspaceFactory,
)

ROOT = Path(__file__).resolve().parent.parent


def raw_column(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        pk_value = pk.hex if connection.vendor == "sqlite" and hasattr(pk, "hex") else pk
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk_value])  # noqa: S608 (names are literals)
        return cursor.fetchone()[0]


# --- constraints ---------------------------------------------------------------------------


def assert_violates(make) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


@pytest.mark.django_db
class TestConstraints:
    def test_it_keeps_a_handle_unique_per_platform_per_workspace(self):
        account = SocialAccountFactory(handle="shop", platform="vk")
        assert_violates(lambda: SocialAccountFactory(workspace=account.workspace, handle="shop", platform="vk"))
        # Same handle on another platform or in another workspace is fine.
        SocialAccountFactory(workspace=account.workspace, handle="shop", platform="telegram")
        SocialAccountFactory(handle="shop", platform="vk")

    def test_it_allows_one_execution_per_post_and_account(self):
        execution = ExecutionFactory()
        assert_violates(
            lambda: Execution.objects.create(
                workspace=execution.workspace,
                post=execution.post,
                account=execution.account,
                language="en",
                scheduled_for=execution.scheduled_for,
            )
        )

    def test_it_allows_at_most_ten_media_per_post(self):
        post = PostFactory()
        for position in range(10):
            PostMedia.objects.create(
                post=post, asset=MediaAssetFactory(workspace=post.workspace, content=bytes([position]) * 9), position=position
            )
        extra = MediaAssetFactory(workspace=post.workspace, content=b"eleventh")
        assert_violates(lambda: PostMedia.objects.create(post=post, asset=extra, position=10))
        assert_violates(lambda: PostMedia.objects.create(post=post, asset=extra, position=3))
        assert post.media.count() == 10

    @pytest.mark.parametrize(
        ("factory", "field", "bad"),
        [
            (SocialAccountFactory, "status", "sleeping"),
            (SocialAccountFactory, "platform", "myspace"),
            (PostFactory, "status", "done"),
            (PostFactory, "priority", "urgent"),
            (ExecutionFactory, "status", "ok"),
            (ExecutionFactory, "priority", "asap"),
            (ProxyFactory, "scheme", "ftp"),
        ],
    )
    def test_it_rejects_invalid_statuses_and_priorities(self, factory, field, bad):
        obj = factory()
        model = type(obj)
        assert_violates(lambda: model.objects.filter(pk=obj.pk).update(**{field: bad}))

    def test_it_keeps_group_names_unique_per_workspace(self):
        group = AccountGroupFactory(name="News")
        assert_violates(lambda: AccountGroupFactory(workspace=group.workspace, name="News"))

    def test_it_rejects_an_inverted_stagger_range(self):
        assert_violates(lambda: PublishingPolicyFactory(stagger_min_s=300, stagger_max_s=10))

    def test_it_allows_one_policy_per_platform_and_workspace(self):
        policy = PublishingPolicyFactory(platform="vk")
        assert_violates(lambda: PublishingPolicyFactory(workspace=policy.workspace, platform="vk"))


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_enforces_the_constraints_on_postgresql():
    assert connection.vendor == "postgresql"
    account = SocialAccountFactory(handle="pg", platform="vk")
    assert_violates(lambda: SocialAccountFactory(workspace=account.workspace, handle="pg", platform="vk"))
    execution = ExecutionFactory(account=account, post=PostFactory(workspace=account.workspace))
    assert_violates(lambda: Execution.objects.filter(pk=execution.pk).update(status="bogus"))
    post = execution.post
    asset = MediaAssetFactory(workspace=post.workspace)
    assert_violates(lambda: PostMedia.objects.create(post=post, asset=asset, position=10))


# --- encryption at rest --------------------------------------------------------------------


@pytest.mark.django_db
class TestEncryption:
    def test_it_never_stores_secrets_in_plaintext(self):
        account = SocialAccountFactory(credentials={"password": "hunter2-Plain"}, session={"sessionid": "sess-987"})
        proxy = ProxyFactory(url="socks5://alice:proxy-Pw-42@203.0.113.9:1080")
        raw_credentials = raw_column("accounts_socialaccount", "credentials", account.pk)
        raw_session = raw_column("accounts_socialaccount", "session", account.pk)
        raw_url = raw_column("accounts_proxy", "url", proxy.pk)
        for raw, secret in [(raw_credentials, "hunter2-Plain"), (raw_session, "sess-987"), (raw_url, "proxy-Pw-42")]:
            assert secret not in raw
            assert raw.startswith("gAAAAA")
        fresh = SocialAccount.objects.get(pk=account.pk)
        assert fresh.credentials == {"password": "hunter2-Plain"}
        assert fresh.session == {"sessionid": "sess-987"}
        assert Proxy.objects.get(pk=proxy.pk).url == "socks5://alice:proxy-Pw-42@203.0.113.9:1080"

    def test_it_rotates_every_row_to_the_new_key(self, settings):
        old_key = settings.FIELD_ENCRYPTION_KEYS[0]
        account = SocialAccountFactory(credentials={"bot_token": "123:abc"})
        proxy = ProxyFactory()
        check_encryption_canary()  # the canary is a row too
        new_key = Fernet.generate_key().decode()

        settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
        call_command("rotate_encryption_keys", stdout=StringIO())

        # With only the new key left, everything still decrypts.
        settings.FIELD_ENCRYPTION_KEYS = [new_key]
        assert SocialAccount.objects.get(pk=account.pk).credentials == {"bot_token": "123:abc"}
        assert Proxy.objects.get(pk=proxy.pk).url == proxy.url
        assert check_encryption_canary() is None
        raw = raw_column("accounts_socialaccount", "credentials", account.pk)
        Fernet(new_key.encode()).decrypt(raw.encode())  # written with the new key
        with pytest.raises(InvalidToken):  # the old key alone no longer decrypts
            Fernet(old_key.encode()).decrypt(raw.encode())

    def test_it_fails_loudly_with_a_wrong_key(self, settings, client):
        account = SocialAccountFactory(credentials={"password": "pw"})
        check_encryption_canary()
        settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        with pytest.raises(DecryptionError, match="FIELD_ENCRYPTION_KEYS"):
            SocialAccount.objects.get(pk=account.pk)
        problem = check_encryption_canary()
        assert problem and "FIELD_ENCRYPTION_KEYS" in problem
        response = client.get("/health/")
        assert response.status_code == 503
        assert response.json()["checks"]["encryption"]["ok"] is False

    def test_it_reports_the_wrong_key_as_a_startup_error(self, settings):
        from django.core.management.base import SystemCheckError

        check_encryption_canary()
        settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        with pytest.raises(SystemCheckError, match=r"crosspost\.E001"):
            call_command("check")

    def test_it_never_serializes_secrets(self):
        SocialAccountFactory(credentials={"password": "dump-me-not"})
        out = StringIO()
        call_command("dumpdata", "accounts.socialaccount", stdout=out)
        assert "dump-me-not" not in out.getvalue()


# --- health ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_reports_healthy_services(client, alive):
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) >= {"database", "broker", "storage", "encryption", "worker", "beat"}


@pytest.mark.django_db
@pytest.mark.parametrize("component", ["worker", "beat"])
def test_it_answers_503_when_a_worker_or_beat_is_dead(client, alive, component):
    from django.utils import timezone

    from crosspost.models import Heartbeat

    Heartbeat.objects.filter(name=component).update(seen_at=timezone.now() - timedelta(minutes=10))
    response = client.get("/health/")
    assert response.status_code == 503
    check = response.json()["checks"][component]
    assert check["ok"] is False and "down or stuck" in check["error"]


@pytest.mark.django_db
def test_it_answers_503_when_the_broker_is_down(client, settings):
    from crosspost.celery import app

    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/health/")
    finally:
        app.conf.broker_url = settings.CELERY_BROKER_URL
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


@pytest.mark.redis
@pytest.mark.django_db
def test_it_round_trips_a_message_through_real_redis(client, alive):
    from kombu import Connection

    from crosspost.celery import app

    url = os.environ["TEST_REDIS_URL"]
    with Connection(url) as conn:
        queue = conn.SimpleQueue("crosspost-test")
        queue.put({"execution": 42})
        message = queue.get(timeout=5)
        assert message.payload == {"execution": 42}
        message.ack()
        queue.close()
    previous = app.conf.broker_url
    app.conf.broker_url = url
    try:
        response = client.get("/health/")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["broker"]["transport"] == "redis"


# --- production settings --------------------------------------------------------------------


def test_it_passes_the_deploy_check_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": Fernet.generate_key().decode() * 2,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "crosspost.example.com",
        "CROSSPOST_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_refuses_to_start_production_without_an_encryption_key(tmp_path):
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "x" * 60, "CROSSPOST_VAR_DIR": str(tmp_path)}
    env.pop("FIELD_ENCRYPTION_KEYS", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr


# --- time zones -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_stores_times_in_utc_across_dst():
    """A post scheduled at 10:00 Berlin time stays at 10:00 local on both sides of the DST switch."""
    berlin = ZoneInfo("Europe/Berlin")
    before = PostFactory(scheduled_at=datetime(2026, 3, 28, 10, 0, tzinfo=berlin))
    after = PostFactory(scheduled_at=datetime(2026, 3, 29, 10, 0, tzinfo=berlin))
    with connection.cursor() as cursor:
        cursor.execute("SELECT scheduled_at FROM posts_post WHERE id IN (%s, %s) ORDER BY id", [before.pk, after.pk])
        stored = [row[0] for row in cursor.fetchall()]
    as_text = [str(value) for value in stored]
    assert as_text[0].startswith("2026-03-28 09:00")
    assert as_text[1].startswith("2026-03-29 08:00")
    for post in (before, after):
        post.refresh_from_db()
        assert post.scheduled_at.astimezone(berlin).hour == 10


@pytest.mark.django_db
def test_it_shows_the_admin_in_the_members_time_zone(client, member):
    user = member("admin")
    membership = user.memberships.get()
    membership.timezone = "Asia/Tokyo"
    membership.save()
    client.force_login(user)
    from django.utils import timezone

    seen = {}

    def capture(request):
        seen["tz"] = timezone.get_current_timezone_name()

    from django.test.signals import template_rendered

    template_rendered.connect(lambda **kw: capture(None), weak=False, dispatch_uid="tzcap")
    try:
        client.get("/admin/")
    finally:
        template_rendered.disconnect(dispatch_uid="tzcap")
    assert seen["tz"] == "Asia/Tokyo"


# --- logs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        (
            "POST https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
            "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        ),
        ("GET /method/wall.post?owner_id=1&access_token=vk1.a.secretvalue&v=5.199", "vk1.a.secretvalue"),
        ("proxy socks5://bob:pr0xyPass@198.51.100.1:1080 failed", "pr0xyPass"),
        ("Authorization: Bearer ya29.a0AfH6SMBx", "ya29.a0AfH6SMBx"),
    ],
)
def test_it_redacts_secrets_from_log_records(message, secret):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (message,), None)
    RedactSecretsFilter().filter(record)
    assert secret not in record.getMessage()


@pytest.mark.django_db
def test_it_scrubs_secrets_from_activity_details():
    from crosspost.activity import log_activity

    entry = log_activity(
        action="account.login",
        workspace=WorkspaceFactory(),
        details={"password": "p@ss", "request": {"url": "https://x/bot1:AAAA/getMe", "token": "t0k"}},
    )
    dumped = json.dumps(entry.details)
    assert "p@ss" not in dumped and "t0k" not in dumped and "AAAA" not in dumped


@override_settings(DEBUG=True)
def test_it_serves_swagger_ui_assets_locally(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"cdn.jsdelivr" not in response.content and b"unpkg.com" not in response.content


@pytest.mark.django_db
def test_it_merges_refreshed_credentials_encrypted():
    from accounts.services import account_save_session, account_update_credentials

    account = SocialAccountFactory(platform="youtube", credentials={"refresh_token": "rt-1", "access_token": "at-old"})
    account_update_credentials(account=account, updates={"access_token": "at-new"})
    account_save_session(account=account, session={"cookie": "c-1"}, logged_in=True)
    fresh = SocialAccount.objects.get(pk=account.pk)
    assert fresh.credentials == {"refresh_token": "rt-1", "access_token": "at-new"}
    assert fresh.session == {"cookie": "c-1"} and fresh.last_login_at is not None
    raw = raw_column("accounts_socialaccount", "credentials", account.pk)
    assert "at-new" not in raw and raw.startswith("gAAAAA")


@pytest.mark.django_db
def test_it_exposes_prometheus_metrics_to_a_scraper_with_the_token(client, settings, alive):
    ExecutionFactory(status="success")
    ExecutionFactory(status="failed", priority="high")
    settings.METRICS_TOKEN = "scrape-secret"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'crosspost_executions{priority="normal",status="success"} 1.0' in text
    assert 'crosspost_executions{priority="high",status="failed"} 1.0' in text
    assert 'crosspost_accounts{platform="sandbox",status="active"} 2.0' in text
    assert 'crosspost_heartbeat_age_seconds{component="worker"}' in text
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


@pytest.mark.django_db
def test_it_keeps_metrics_closed_by_default(client, settings, alive):
    ExecutionFactory(status="success")
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics")
    assert response.status_code == 401
    assert "METRICS_TOKEN" in response.content.decode()
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


@pytest.mark.django_db
def test_it_counts_only_the_members_workspaces_in_metrics(client, member, alive):
    ExecutionFactory(status="success")  # another workspace
    mine = ExecutionFactory(status="failed")
    client.force_login(member(ws=mine.post.workspace))
    text = client.get("/metrics").content.decode()
    assert 'crosspost_executions{priority="normal",status="failed"} 1.0' in text
    assert 'status="success"' not in text
    assert 'crosspost_accounts{platform="sandbox",status="active"} 1.0' in text
