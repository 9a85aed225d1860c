"""Shared fixtures. PostgreSQL/Redis-marked tests run against real servers that
scripts/test.sh starts; with CROSSPOST_REQUIRE_SERVICES=1 a missing server is a
failure, never a silent skip."""

import os

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Role

from .factories import MembershipFactory, UserFactory, WorkspaceFactory


def _require_or_skip(reason: str) -> None:
    if os.environ.get("CROSSPOST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (CROSSPOST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _services_for_marked_tests(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        if os.environ.get("CROSSPOST_DB_PASS") == "postgres":
            _require_or_skip("this test needs PostgreSQL (DATABASE_URL=postgres://…)")
        pytest.skip("runs in the PostgreSQL pass of scripts/test.sh")
    if request.node.get_closest_marker("redis") and not os.environ.get("TEST_REDIS_URL"):
        _require_or_skip("this test needs Redis (TEST_REDIS_URL)")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """API throttles count in the cache: every test starts with none of another test's requests."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.CELERY_TASK_ALWAYS_EAGER = False


@pytest.fixture(autouse=True)
def _fast_video_renders(settings):
    """The fastest x264 preset that still encodes H.264 High: renders stay real, tests stay quick."""
    settings.MEDIA_X264_PRESET = "superfast"


@pytest.fixture
def celery_eager(settings):
    """Celery runs tasks in the calling process, on the app itself too (``conf.task_always_eager``)."""
    from celery import current_app

    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    current_app.conf.task_always_eager = previous


@pytest.fixture
def workspace(db):
    return WorkspaceFactory()


@pytest.fixture
def member(db, workspace):
    """Make a user with ``role`` in ``workspace`` (default: the ``workspace`` fixture)."""

    def make(role: str = Role.ADMIN, ws=None, **user_fields):
        return MembershipFactory(role=role, workspace=ws or workspace, user=UserFactory(**user_fields)).user

    return make


def api_client_for(user) -> APIClient:
    client = APIClient()
    token = RefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def api(member):
    """An API client authenticated by JWT as a member with ``role``."""

    def make(role: str = Role.ADMIN, ws=None):
        user = member(role, ws)
        client = api_client_for(user)
        client.user = user
        return client

    return make


@pytest.fixture
def alive(db):
    """Fresh worker and beat heartbeats, as a running stack would record them."""
    from crosspost.tasks import beat

    beat("worker")
    beat("beat")


@pytest.fixture
def deepl(settings):
    """A loopback DeepL the translation settings point at (no OpenAI, no retries)."""
    from .emulators.deepl import DeepLEmulator

    with DeepLEmulator() as emulator:
        settings.DEEPL_API_KEY = emulator.auth_key
        settings.DEEPL_SERVER_URL = emulator.url
        settings.OPENAI_API_KEY = ""
        settings.TRANSLATION_MAX_RETRIES = 0
        yield emulator
