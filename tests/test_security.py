"""Brute-force protection: login lockout on the API and the admin, API throttles."""

import os
import subprocess
import sys

import pytest
from axes.models import AccessAttempt
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.models import Role

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
PASSWORD = "pw-Secret-123"  # UserFactory's


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def token(username: str, password: str, ip: str = "198.51.100.7"):
    return APIClient(REMOTE_ADDR=ip).post(f"{V1}/auth/token/", {"username": username, "password": password}, format="json")


def test_it_answers_429_with_retry_after_to_repeated_wrong_passwords_on_the_token_endpoint(member, settings):
    user = member(Role.VIEWER)
    codes = [token(user.username, f"wrong-{i}").status_code for i in range(19)]
    limit = settings.AXES_FAILURE_LIMIT
    assert codes[: limit - 1] == [401] * (limit - 1)
    assert codes[limit - 1 :] == [429] * (19 - limit + 1)
    locked = token(user.username, PASSWORD)  # even the right password, from the attacking client (20th request)
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 60
    assert "Try again in" in locked.json()["detail"]


def test_it_does_not_lock_out_others_because_of_someone_elses_failures(member):
    victim, other = member(Role.VIEWER), member(Role.VIEWER)
    for i in range(10):
        token(victim.username, f"wrong-{i}", ip="203.0.113.66")
    assert token(other.username, PASSWORD, ip="192.0.2.10").status_code == 200  # another user, another client
    assert token(victim.username, PASSWORD, ip="192.0.2.10").status_code == 200  # the same user from their own client


def test_it_never_stores_the_tried_password(member):
    user = member(Role.VIEWER)
    token(user.username, "hunter2-tried")
    attempt = AccessAttempt.objects.get(username=user.username)
    assert "hunter2-tried" not in f"{attempt.get_data} {attempt.post_data}"


def test_it_forgets_failures_after_a_successful_login(member, settings):
    user = member(Role.VIEWER)
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        token(user.username, f"wrong-{i}")
    assert token(user.username, PASSWORD).status_code == 200
    assert token(user.username, "wrong-again").status_code == 401  # the count started again


def test_it_locks_the_admin_login_likewise(client, member, settings):
    user = member(Role.ADMIN, is_staff=True)
    for i in range(settings.AXES_FAILURE_LIMIT):
        response = client.post("/admin/login/", {"username": user.username, "password": f"wrong-{i}"}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 60
    assert b"Too many failed logins" in response.content
    right = {"username": user.username, "password": PASSWORD}
    refused = client.post("/admin/login/?next=/admin/", right, REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 429
    elsewhere = client.post("/admin/login/?next=/admin/", right, REMOTE_ADDR="192.0.2.44")
    assert elsewhere.status_code == 302 and elsewhere["Location"] == "/admin/"


def test_it_throttles_token_requests_per_client_across_usernames(db):
    rate = int(api_settings.DEFAULT_THROTTLE_RATES["auth"].split("/")[0])
    codes = [token(f"sprayed-{i}", "guess", ip="198.51.100.99").status_code for i in range(rate + 1)]
    assert codes[:rate] == [401] * rate
    assert codes[rate] == 429
    assert token("sprayed-x", "guess", ip="198.51.100.100").status_code == 401  # another client is not slowed


def test_it_throttles_a_user_past_the_user_rate(api, monkeypatch):
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "user", "3/min")
    client = api(Role.VIEWER)
    codes = [client.get(f"{V1}/accounts/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get(f"{V1}/accounts/")
    assert int(response["Retry-After"]) > 0


def test_it_refuses_a_publish_lease_shorter_than_the_task_time_limit():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "crosspost.settings", "PUBLISH_LEASE_SECONDS": "120"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "(PUBLISH_TIME_LIMIT_SECONDS, 300 s); use at least 330" in result.stderr
    assert "PUBLISH_LEASE_SECONDS (120) must be longer than the publish task's hard time limit" in result.stderr
