"""Retry-After as platforms send it: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), parsed in one place."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from platforms import base, pinterest, tiktok
from platforms.http import retry_after_seconds


def http_date(seconds_from_now: int) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120), (" 30 ", 30), ("0", 1), ("1.5", 1.5), (None, 60), ("", 60), ("soon", 60), ("nan", 60), ("inf", 60)],
)
def test_delay_seconds_and_garbage(value, expected):
    assert retry_after_seconds(value, 60) == expected


def test_an_http_date_is_the_seconds_until_it():
    assert 295 <= retry_after_seconds(http_date(300), 60) <= 300


def test_an_http_date_in_the_past_gives_the_default():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 60) == 60


def test_tiktok_rate_limit_honours_an_http_date():
    error = tiktok.error_for("rate_limit_exceeded", "TikTok: slow down", status=429, retry_after=http_date(600))
    assert isinstance(error, base.RateLimited)
    assert 590 <= error.retry_after <= 600


def _response(headers: dict) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    return response


def test_pinterest_reads_retry_after_as_a_date_or_the_rate_limit_reset():
    assert 590 <= pinterest._retry_after(_response({"Retry-After": http_date(600)})) <= 600
    assert pinterest._retry_after(_response({"X-RateLimit-Reset": "42"})) == 42
    assert pinterest._retry_after(_response({})) == 60
