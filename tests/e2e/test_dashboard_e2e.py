"""The dashboard in a real browser (Debian Chromium through Playwright) against a live server.

An operator logs in, uploads an image, composes a post to a group of sandbox
accounts, previews the plan, edits the German caption, publishes, and watches
the progress page fill in while this test runs the publishing engine
in-process (the live server has no Celery worker). One account fails; the
operator fixes it and retries from the page; then switches to Russian.
Screenshots go to test-artifacts/e2e/; any console error fails the test.
"""

from __future__ import annotations

import re

import pytest

from accounts.models import Role, SocialAccount
from posts.models import Post, PostStatus
from publishing.models import Execution, ExecutionStatus, SandboxPost

from ..factories import AccountGroupFactory, MembershipFactory, SocialAccountFactory, UserFactory, png_bytes
from .conftest import PASSWORD, run_engine_until, shot, summary

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


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
    run_engine_until(page, db_lock, lambda: summary(page) == "Published: 3 · Failed: 1")
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
    run_engine_until(page, db_lock, lambda: summary(page) == "Published: 4")
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
    assert summary(page) == "Опубликовано: 4"
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
