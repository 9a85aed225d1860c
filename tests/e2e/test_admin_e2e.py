"""The admin in a real browser: every changelist fits the page at 1280×900, in English and Russian.

A superuser opens each registered model's list with rows that make columns
wide (a long post title, a long error message, long reasons and messages);
no table may be wider than the box it sits in, where the last columns would
hide behind a scrollbar. Screenshots go to test-artifacts/e2e/admin-*.png.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import AccountStatus, Role
from publishing.models import ExecutionStatus, SandboxPost

from ..factories import (
    AccountEventFactory,
    AccountGroupFactory,
    ActivityLogFactory,
    ExecutionFactory,
    GlossaryFactory,
    MembershipFactory,
    PostFactory,
    PostMediaFactory,
    ProxyFactory,
    PublishingPolicyFactory,
    RenditionFactory,
    SocialAccountFactory,
    TranslationCacheFactory,
    TranslationSettingsFactory,
    UserFactory,
    WorkspaceFactory,
)
from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LONG_ERROR = (
    "The platform refused the upload: media_rejected — the video's aspect ratio 1:3 is outside the allowed range "
    "(4:5 to 1.91:1) and its duration 187.4 s exceeds the 90 s limit for reels; re-render with allow_trim or pick "
    "another profile. Request id 5f0c8e2a-3d1b-4c55-9a7e-0d6b1f2c3a4b, trace 9c1e7f3a2b4d5e6f."
)

# Width of the table and of the box it sits in; the box scrolls what does not fit.
MEASURE = """() => {
    const table = document.querySelector('#result_list');
    const box = document.querySelector('#changelist-form .results') || document.querySelector('#changelist');
    return {table: table ? table.scrollWidth : 0, box: box.clientWidth};
}"""


def make_rows() -> None:
    workspace = WorkspaceFactory(name="Summer shops worldwide", timezone="Europe/Moscow")
    MembershipFactory(workspace=workspace, role=Role.EDITOR)
    group = AccountGroupFactory(workspace=workspace, name="Shops in the European Union", description="x " * 60)
    proxy = ProxyFactory(workspace=workspace, last_error="connection reset by peer " * 8)
    account = SocialAccountFactory(
        workspace=workspace,
        group=group,
        proxy=proxy,
        handle="summer_shop_official_europe_en",
        status=AccountStatus.LOGIN_REQUIRED,
        status_reason="The platform asked for a login challenge (checkpoint_required) " * 3,
    )
    post = PostFactory(workspace=workspace, title="Summer sale: every sandal and every beach towel half price until Sunday")
    media = PostMediaFactory(post=post)
    RenditionFactory(asset=media.asset, profile="instagram_reel_portrait_9_16", error=LONG_ERROR)
    failed = ExecutionFactory(
        post=post,
        account=account,
        status=ExecutionStatus.FAILED,
        attempts=3,
        error_code="media_rejected",
        error_message=LONG_ERROR,
    )
    for index in range(3):
        other = SocialAccountFactory(workspace=workspace, group=group, handle=f"summer_shop_{index}_second_region")
        ExecutionFactory(post=post, account=other, status=ExecutionStatus.SUCCESS, remote_id=f"1789{index}" * 4)
    AccountEventFactory(account=account, reason=LONG_ERROR)
    ActivityLogFactory(
        workspace=workspace, account=account, post=post, execution=failed, action="execution.publish", message=LONG_ERROR
    )
    PublishingPolicyFactory(workspace=workspace)
    TranslationCacheFactory(source_text=LONG_ERROR, translated_text=LONG_ERROR)
    GlossaryFactory(workspace=workspace)
    TranslationSettingsFactory(workspace=workspace)
    SandboxPost.objects.create(account=account, marker="m-1", caption=LONG_ERROR, media_type="photo")


def changelists() -> list[tuple[str, str]]:
    return sorted(
        (
            f"{model._meta.app_label}-{model._meta.model_name}",
            reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"),
        )
        for model in admin.site._registry
    )


@pytest.mark.parametrize("language", ["en", "ru"])
def test_it_fits_every_changelist_into_the_page(page, live_server, db_lock, language):
    with db_lock:
        UserFactory(username="root", is_superuser=True)
        make_rows()
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    login(page, live_server.url, "root", next_path="/admin/")

    too_wide = {}
    for name, path in changelists():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, f"{path} answered {response.status}"
        assert page.locator("html").get_attribute("lang") == language
        size = page.evaluate(MEASURE)
        shot(page, f"admin-{language}-{name}")
        if size["table"] > size["box"]:
            too_wide[path] = size
    assert not too_wide, f"tables wider than their box: {too_wide}"
    assert not page.console_problems
