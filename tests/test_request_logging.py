"""django.request lines that repeat the access log are DEBUG; errors keep their level; each record once."""

import logging

import pytest
from django.test import override_settings
from django.urls import path

from crosspost.logging import RequestLogFilter


def _boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", _boom)]


def _request_records(caplog):
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "django.request"]


@pytest.mark.django_db
def test_a_404_is_not_a_warning_and_the_startup_health_503_is_not_an_error(client, caplog):
    caplog.set_level(logging.INFO)
    assert client.get("/no-such-page/").status_code == 404
    assert client.get("/health/").status_code == 503  # no worker or beat heartbeat in a test
    assert _request_records(caplog) == []


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__, DEBUG_PROPAGATE_EXCEPTIONS=False)
def test_a_500_is_still_an_error_with_its_traceback(client, caplog):
    client.raise_request_exception = False
    caplog.set_level(logging.INFO)
    assert client.get("/boom/").status_code == 500
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage()) for r in records] == [("ERROR", "Internal Server Error: /boom/")]
    assert records[0].exc_info is not None


def test_the_django_logger_prints_through_the_root_handler_only():
    # Django's default config gives "django" a console handler of its own: every line came out twice.
    assert logging.getLogger("django").handlers == []
    assert any(isinstance(f, RequestLogFilter) for f in logging.getLogger("django.request").filters)


def test_debug_level_shows_the_lowered_lines():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/x/",), None)
    record.status_code = 404
    logger = logging.getLogger("django.request")
    old = logger.level
    try:
        logger.setLevel(logging.DEBUG)
        assert RequestLogFilter().filter(record) and record.levelname == "DEBUG"
    finally:
        logger.setLevel(old)
