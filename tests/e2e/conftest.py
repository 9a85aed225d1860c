"""Browser fixtures: a headless Debian Chromium through Playwright against the live server.

``page`` is an English 1280×900 page that records console errors in
``page.console_problems``; ``login(page, url, username)`` signs in through the
admin login form; ``shot(page, name)`` saves a full-page screenshot under
test-artifacts/e2e/; ``run_engine_until`` runs the publishing engine in-process.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from ..support.engine import drain

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
PASSWORD = "pw-Secret-123"  # UserFactory's


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can screenshot a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _require_or_skip(reason: str) -> None:
    if os.environ.get("CROSSPOST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (CROSSPOST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture
def chromium(db_lock):
    """A headless Chromium per test, started after the live server and its data, closed before them."""
    if not Path(CHROMIUM).exists():
        _require_or_skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require_or_skip("browser tests need the playwright package (requirements-dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def db_lock(live_server, monkeypatch):
    """One lock around every request of the live server and every database step of this test.

    With SQLite in memory the server thread and this test share one connection,
    which must never run two statements at once.
    """
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    lock = threading.RLock()
    server = live_server.thread.httpd
    app = server.get_app()

    def serialized(environ, start_response):
        with lock:
            return app(environ, start_response)

    server.set_app(serialized)
    yield lock
    server.set_app(app)


@pytest.fixture
def page(chromium, request):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on(
        "console", lambda message: problems.append(f"console.{message.type}: {message.text}") if message.type == "error" else None
    )
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.console_problems = problems
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        page.screenshot(path=str(ARTIFACTS / f"failure-{request.node.name}.png"), full_page=True)
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def run_engine_until(page, lock, done: Callable[[], bool], timeout: float = 30.0) -> None:
    """Dispatch and publish due executions (as beat and a worker would) until ``done()``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with lock:
            # What the render and publish workers do; everything planned is due (the sandbox's
            # seconds of pacing would only slow the test).
            drain(now=timezone.now() + timedelta(hours=1))
        if done():
            return
        page.wait_for_timeout(300)  # lets the page poll meanwhile
    raise AssertionError("the publishing engine did not get there in time")


def summary(page) -> str:
    return page.get_by_test_id("progress-summary").inner_text()


def login(page, base_url: str, username: str, password: str = PASSWORD, next_path: str = "/") -> None:
    """Sign in through the admin login page the dashboard redirects to."""
    page.goto(f"{base_url}{next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path) + r"$"))
