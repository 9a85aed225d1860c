"""The dashboard in a real browser (Debian Chromium through Playwright) against a live server.

An operator logs in, uploads an image, composes a post to a group of sandbox
accounts, previews the plan, edits the German caption, publishes, and watches
the progress page fill in while this test runs the publishing engine
in-process (the live server has no Celery worker). One account fails; the
operator fixes it and retries from the page; then switches to Russian.
Screenshots go to test-artifacts/e2e/; any console error fails the test.
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

from accounts.models import Role, SocialAccount
from posts.models import Post, PostStatus
from publishing.models import Execution, ExecutionStatus, SandboxPost

from ..emulators.deepl import DeepLEmulator
from ..factories import AccountGroupFactory, MembershipFactory, SocialAccountFactory, UserFactory, png_bytes
from ..support.engine import drain

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
PASSWORD = "pw-Secret-123"  # UserFactory's


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
def deepl(settings):
    with DeepLEmulator() as emulator:
        settings.DEEPL_API_KEY = emulator.auth_key
        settings.DEEPL_SERVER_URL = emulator.url
        settings.OPENAI_API_KEY = ""
        settings.TRANSLATION_MAX_RETRIES = 0
        yield emulator


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


def test_it_composes_publishes_retries_and_switches_to_russian(page, live_server, db_lock, deepl, tmp_path):
    with db_lock:
        user = UserFactory(username="operator")
        member = MembershipFactory(user=user, role=Role.ADMIN)
        workspace = member.workspace
        group = AccountGroupFactory(workspace=workspace, name="Shops")
        for handle in ("shop_en_1", "shop_en_2"):
            SocialAccountFactory(workspace=workspace, group=group, handle=handle, language="en")
        SocialAccountFactory(workspace=workspace, group=group, handle="laden_de", language="de")
        broken = SocialAccountFactory(
            workspace=workspace, group=group, handle="shop_broken", language="en", options={"fail": "media_rejected"}
        )
    image = tmp_path / "summer.png"
    image.write_bytes(png_bytes(320, 240, (250, 170, 30)))

    # Log in through the admin login page the dashboard redirects to.
    page.goto(f"{live_server.url}/compose/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/compose/$"))

    # Upload by the file input: the page's script sends it to /media/upload/ and lists it.
    page.set_input_files("#id_files", str(image))
    page.locator("#media-list .media-item").wait_for()
    assert page.locator("#media-list img.thumb").count() == 1
    page.fill("#id_caption", "Summer sale starts today #summer")
    page.get_by_label("Shops").check()
    shot(page, "01-compose")

    page.get_by_role("button", name="Preview plan").click()
    page.locator("#plan").wait_for()
    assert "/compose/" in page.url and "preview=1" in page.url
    assert page.get_by_test_id("plan-summary").inner_text() == "4 account(s) will post, 0 blocked."
    assert "[DE] Summer sale starts today" in page.locator("#caption-de").input_value()
    shot(page, "02-plan")

    # The German caption, edited by hand.
    page.fill("#caption-de", "Sommerschlussverkauf ab heute #sommer")
    page.get_by_role("button", name="Save de caption").click()
    page.locator("form[data-language=de]", has_text="edited by hand").wait_for()
    assert "Sommerschlussverkauf" in page.locator("tr[data-account=laden_de] .caption-cell").inner_text()
    shot(page, "03-caption-edited")

    page.get_by_role("button", name="Publish").click()
    page.wait_for_url(re.compile(r"/posts/\d+/$"))
    post_url = page.url
    with db_lock:
        post = Post.objects.get()
        assert Execution.objects.filter(post=post).count() == 4
    assert page.locator("#progress[hx-trigger]").count() == 1  # polling while executions are open
    shot(page, "04-progress-start")

    # The engine runs here; the page updates itself by polling (no reload: the URL and the element stay).
    section = page.locator("#progress")
    run_engine_until(page, db_lock, lambda: summary(page).startswith("3/4 published, 0 queued, 1 failed"))
    assert page.url == post_url
    assert page.locator("#progress[hx-trigger]").count() == 0  # finished: polling stopped
    assert page.locator("[data-testid=post-status]").inner_text() == "Partially published"
    failed_row = page.locator("tr[data-status=failed]")
    assert "shop_broken" in failed_row.inner_text() and "media_rejected" in failed_row.inner_text()
    assert page.locator("tr[data-status=success] a", has_text="View post").count() == 3
    shot(page, "05-progress-partial")

    # Fix the account, retry from the page (an HTMX POST with the CSRF header), watch it complete.
    with db_lock:
        SocialAccount.objects.filter(pk=broken.pk).update(options={})
    failed_row.get_by_role("button", name="Retry").click()
    page.locator("#progress[hx-trigger]").wait_for()  # polling again
    run_engine_until(page, db_lock, lambda: summary(page).startswith("4/4 published, 0 queued, 0 failed"))
    assert page.locator("[data-testid=post-status]").inner_text() == "Completed"
    assert section.count() == 1 and page.url == post_url
    shot(page, "06-progress-complete")

    with db_lock:
        assert Post.objects.get().status == PostStatus.COMPLETED
        assert set(Execution.objects.values_list("status", flat=True)) == {ExecutionStatus.SUCCESS}
        captions = dict(SandboxPost.objects.values_list("account__handle", "caption"))
    assert captions == {
        "shop_en_1": "Summer sale starts today #summer",
        "shop_en_2": "Summer sale starts today #summer",
        "shop_broken": "Summer sale starts today #summer",
        "laden_de": "Sommerschlussverkauf ab heute #sommer",
    }

    # Switch to Russian with the header's language switcher (a CSRF-protected POST to /i18n/setlang/).
    page.select_option("#language-switch", "ru")
    page.wait_for_load_state("load")
    page.get_by_role("link", name="Публикации").first.wait_for()
    assert summary(page).startswith("Опубликовано 4/4, в очереди 0, с ошибкой 0")
    assert page.locator("[data-testid=post-status]").inner_text() == "Завершено"
    shot(page, "07-russian-progress")
    page.goto(f"{live_server.url}/")
    page.get_by_role("heading", name="Обзор").wait_for()
    assert page.locator("svg.chart rect.bar-success").count() == 14
    shot(page, "08-russian-overview")

    assert page.console_problems == []


def test_it_filters_accounts_and_applies_a_bulk_action_without_reloading(page, live_server, db_lock):
    with db_lock:
        user = UserFactory(username="admin_op")
        member = MembershipFactory(user=user, role=Role.ADMIN)
        group = AccountGroupFactory(workspace=member.workspace, name="Berlin")
        for i in range(3):
            SocialAccountFactory(workspace=member.workspace, group=group, handle=f"berlin_{i}")
        SocialAccountFactory(workspace=member.workspace, handle="elsewhere")

    page.goto(f"{live_server.url}/accounts/")
    page.fill("#id_username", "admin_op")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/$"))
    page.evaluate("window.__marker = 'same page'")

    page.select_option("#id_group", label="Berlin")
    page.wait_for_url(re.compile(r"group=\d+"))
    page.locator("#accounts-table tbody tr", has_text="elsewhere").wait_for(state="detached")
    assert page.locator("#accounts-table tbody tr").count() == 3

    page.check("input[data-select-all=ids]")
    page.select_option("#id_action", "disable")
    page.get_by_role("button", name="Apply").click()
    page.locator("#flash", has_text="3 account(s) changed.").wait_for()
    assert page.locator("#accounts-table .badge.status-disabled").count() == 3
    assert page.evaluate("window.__marker") == "same page"  # HTMX swapped the table; no reload
    shot(page, "09-accounts-bulk")
    with db_lock:
        assert SocialAccount.objects.filter(status="disabled").count() == 3
    assert page.console_problems == []
