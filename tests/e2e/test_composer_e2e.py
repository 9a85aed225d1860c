"""The composer and the other dashboard forms in a real browser: every refusal is on the page.

htmx does not swap a 4xx answer by default, so a form answered "400, here are your errors"
used to do nothing at all on click. These tests click as an operator does, with JavaScript
and without, and read the message the server sent.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountGroup, Role
from posts.models import Post

from ..factories import AccountGroupFactory, MembershipFactory, SocialAccountFactory, UserFactory
from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSED = "This time has passed; pick a later one or choose Now."
NO_MEDIA = "Add a photo or video, or choose the media type Text."
NO_TARGETS = "Choose at least one target group or account."
NO_TEXT = "A text post needs a caption."


def operator(lock, role=Role.EDITOR, username="editor"):
    with lock:
        member = MembershipFactory(user=UserFactory(username=username), role=role)
        group = AccountGroupFactory(workspace=member.workspace, name="Shops")
        SocialAccountFactory(workspace=member.workspace, group=group, handle="shop_en")
    return member


def unexpected(problems: list[str]) -> list[str]:
    """Console problems other than Chromium's own note of each 400 answer (the refusals under test)."""
    return [p for p in problems if "the server responded with a status of 400" not in p]


def yesterday() -> str:
    return (timezone.localdate() - timedelta(days=1)).isoformat()


def test_it_shows_every_composer_error_in_place(page, live_server, db_lock, tmp_path):
    operator(db_lock)
    login(page, live_server.url, "editor", next_path="/compose/")

    # A file that is no photo or video: the drop zone says why.
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"not an image at all")
    page.set_input_files("#id_files", str(fake))
    page.locator(".upload-errors", has_text="Unsupported file type").wait_for()
    assert page.locator("#media-list .media-item").count() == 0

    # A photo post for yesterday with no photo: both problems, next to their fields.
    page.fill("#id_caption", "Summer sale")
    page.get_by_label("Shops").check()
    page.check("input[name=schedule][value=later]")
    page.fill("#id_date", yesterday())
    page.fill("#id_time", "10:00")
    page.get_by_role("button", name="Preview plan").click()
    page.locator("#field-time .field-error", has_text=PASSED).wait_for()
    assert page.locator("#field-media .field-error").inner_text() == NO_MEDIA
    shot(page, "composer-errors-past-and-no-media")

    # No target: the form as the operator left it, with the one new error.
    page.check("input[name=schedule][value=now]")
    page.select_option("#id_media_type", "text")
    page.get_by_label("Shops").uncheck()
    page.get_by_role("button", name="Preview plan").click()
    page.locator("#field-target_groups .field-error", has_text=NO_TARGETS).wait_for()
    assert page.locator("#id_caption").input_value() == "Summer sale"
    assert page.locator(".field-error", has_text=PASSED).count() == 0

    # A text post needs its text.
    page.get_by_label("Shops").check()
    page.fill("#id_caption", "")
    page.get_by_role("button", name="Preview plan").click()
    page.locator("#field-caption .field-error", has_text=NO_TEXT).wait_for()

    with db_lock:
        assert not Post.objects.exists()  # nothing refused was saved
    assert unexpected(page.console_problems) == []


def test_it_shows_composer_errors_without_javascript(chromium, live_server, db_lock):
    operator(db_lock)
    context = chromium.new_context(java_script_enabled=False, locale="en-US")
    page = context.new_page()
    try:
        login(page, live_server.url, "editor", next_path="/compose/")
        page.fill("#id_caption", "Summer sale")
        page.check("input[name=schedule][value=later]")
        page.fill("#id_date", yesterday())
        page.fill("#id_time", "10:00")
        page.get_by_role("button", name="Preview plan").click()
        page.locator("#field-time .field-error", has_text=PASSED).wait_for()
        assert page.locator("#field-media .field-error").inner_text() == NO_MEDIA
        assert page.locator("#field-target_groups .field-error").inner_text() == NO_TARGETS
    finally:
        context.close()


def test_it_shows_import_and_bulk_errors_in_place(page, live_server, db_lock, tmp_path):
    operator(db_lock, role=Role.ADMIN, username="admin_op")
    login(page, live_server.url, "admin_op", next_path="/accounts/")

    # A bulk action with no account ticked.
    page.select_option("#bulk-form select[name=action]", "disable")
    page.locator("#bulk-form button[type=submit]").first.click()
    page.locator("#flash .message.error", has_text="Select at least one account.").wait_for()

    # A CSV with a bad row: nothing imported, the row and its problem on the page.
    bad = tmp_path / "accounts.csv"
    bad.write_text("platform,handle,secret,language\nmyspace,someone,pw,en\n", encoding="utf-8")
    page.set_input_files("#import input[type=file]", str(bad))
    page.locator("#import").get_by_role("button", name="Import").click()
    page.get_by_test_id("import-report").wait_for()
    assert "Nothing was imported" in page.get_by_test_id("import-report").inner_text()
    assert "myspace" in page.locator("#import .row-errors").inner_text()

    # A proxy line that is no URL.
    page.goto(f"{live_server.url}/proxies/")
    page.fill("#id_text", "not a proxy at all")
    page.locator("#proxy-import").get_by_role("button", name="Import").click()
    page.locator("#proxy-import .row-errors").wait_for()
    assert "scheme" in page.locator("#proxy-import .row-errors").inner_text()
    shot(page, "proxy-import-error")
    assert unexpected(page.console_problems) == []


def test_it_keeps_one_draft_per_session_and_deletes_it_after_asking(page, live_server, db_lock):
    operator(db_lock)
    login(page, live_server.url, "editor", next_path="/compose/")
    page.select_option("#id_media_type", "text")
    page.fill("#id_caption", "Summer sale")
    page.get_by_label("Shops").check()
    page.get_by_role("button", name="Preview plan").click()
    page.locator("#plan").wait_for()
    # Back to the page as it was before the preview, and preview again: the same draft.
    page.go_back()
    page.wait_for_url(f"{live_server.url}/compose/")
    page.select_option("#id_media_type", "text")
    page.get_by_label("Shops").check()
    page.fill("#id_caption", "Summer sale, second thoughts")
    page.get_by_role("button", name="Preview plan").click()
    page.locator("#plan").wait_for()
    with db_lock:
        post = Post.objects.get()
        assert post.caption == "Summer sale, second thoughts"

    page.get_by_role("link", name="Delete draft").click()
    page.get_by_role("heading", name="Delete “Summer sale, second thoughts”?").wait_for()
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{live_server.url}/posts/")
    page.locator("#flash", has_text="Deleted “Summer sale, second thoughts”.").wait_for()
    with db_lock:
        assert not Post.objects.exists()
    assert unexpected(page.console_problems) == []


def test_it_asks_before_the_translation_replaces_a_written_caption(page, live_server, db_lock, deepl):
    member = operator(db_lock)
    with db_lock:
        SocialAccountFactory(
            workspace=member.workspace,
            group=AccountGroup.objects.get(workspace=member.workspace),
            handle="laden_de",
            language="de",
        )
    login(page, live_server.url, "editor", next_path="/compose/")
    page.select_option("#id_media_type", "text")
    page.fill("#id_caption", "Summer sale")
    page.get_by_label("Shops").check()
    page.get_by_role("button", name="Preview plan").click()
    page.locator("#plan").wait_for()
    # An empty caption is refused in place.
    page.fill("#caption-de", "  ")
    page.get_by_role("button", name="Save de caption").click()
    page.locator("form[data-language=de] .field-error", has_text="A caption cannot be empty").wait_for()
    page.fill("#caption-de", "Sommerschlussverkauf")
    page.get_by_role("button", name="Save de caption").click()
    page.locator("form[data-language=de]", has_text="edited by hand").wait_for()

    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    page.get_by_role("button", name="Use the translation").click()
    assert questions == ["Replace the de caption you wrote with the translation? Your text is lost."]
    assert page.locator("#caption-de").input_value() == "Sommerschlussverkauf"

    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.get_by_role("button", name="Use the translation").click()
    page.locator("form[data-language=de]", has_text="translated by").wait_for()
    assert page.locator("#caption-de").input_value() == "[DE] Summer sale"
    assert page.get_by_role("button", name="Use the translation").count() == 0
    assert unexpected(page.console_problems) == []
