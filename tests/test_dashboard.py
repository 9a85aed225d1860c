"""The operator dashboard: pages per role, workspace scoping, role and CSRF checks on
HTMX actions, form errors next to their fields, the composer flow through the
services, and a constant number of queries per page."""

import re
import uuid
import zoneinfo
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountEvent, AccountStatus, Membership, Proxy, Role, SocialAccount
from crosspost.models import ActivityLog
from crosspost.tasks import beat
from media.models import MediaAsset
from posts.models import Post, PostStatus
from publishing.models import Execution, ExecutionStatus, SandboxPost

from .factories import (
    AccountGroupFactory,
    ActivityLogFactory,
    ExecutionFactory,
    MediaAssetFactory,
    MembershipFactory,
    PostFactory,
    PostMediaFactory,
    ProxyFactory,
    SocialAccountFactory,
    UserFactory,
    WorkspaceFactory,
    png_bytes,
)
from .support.engine import drain

pytestmark = pytest.mark.django_db

ROLES = [Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER]
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world(workspace):
    """One of everything the pages show, in ``workspace``."""
    group = AccountGroupFactory(workspace=workspace, name="Shops")
    proxy = ProxyFactory(workspace=workspace, max_accounts=5)
    account = SocialAccountFactory(workspace=workspace, group=group, proxy=proxy, handle="berlin_shop")
    post = PostFactory(workspace=workspace, title="Summer sale", status=PostStatus.PUBLISHING)
    PostMediaFactory(post=post)
    failed = ExecutionFactory(
        post=post, account=account, status=ExecutionStatus.FAILED, error_message="Sandbox: injected media_rejected."
    )
    ActivityLogFactory(workspace=workspace, account=account, action="account.check", details={"ok": True})
    AccountEvent.objects.create(account=account, workspace=workspace, from_status="active", to_status="cooldown", reason="429")
    return {"group": group, "proxy": proxy, "account": account, "post": post, "execution": failed}


def pages(world) -> list[str]:
    return [
        reverse("dashboard:overview"),
        reverse("dashboard:compose"),
        reverse("dashboard:posts"),
        reverse("dashboard:post", args=[world["post"].pk]),
        reverse("dashboard:accounts"),
        reverse("dashboard:account", args=[world["account"].pk]),
        reverse("dashboard:proxies"),
        reverse("dashboard:activity"),
    ]


def login(client, member, role=Role.ADMIN, **membership):
    user = member(role)
    if membership:
        Membership.objects.filter(user=user).update(**membership)
    client.force_login(user)
    return user


# --- pages and roles ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_it_renders_every_page_for_each_role(client, member, world, role):
    login(client, member, role)
    for url in pages(world):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"<main>" in response.content
        partial = client.get(url, **HX)
        assert partial.status_code == 200, url
        whole_page_only = url == reverse("dashboard:account", args=[world["account"].pk]) or (
            url == reverse("dashboard:compose") and role == Role.VIEWER
        )
        assert (b"<html" in partial.content) == whole_page_only, url


def test_it_renders_for_a_superuser_without_memberships(client, world):
    client.force_login(UserFactory(is_superuser=True))
    for url in pages(world):
        assert client.get(url).status_code == 200, url


def test_it_sends_anonymous_visitors_to_the_login_page(client, world):
    response = client.get(reverse("dashboard:posts"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/posts/")
    assert client.post(reverse("dashboard:execution-retry", args=[world["execution"].pk])).status_code == 302
    assert not Execution.objects.filter(status=ExecutionStatus.PENDING).exists()


def test_it_hides_the_action_buttons_from_viewers(client, member, world):
    login(client, member, Role.VIEWER)
    post_page = client.get(reverse("dashboard:post", args=[world["post"].pk])).content.decode()
    assert "Retry" not in post_page and "Cancel post" not in post_page
    accounts_page = client.get(reverse("dashboard:accounts")).content.decode()
    assert 'name="ids"' not in accounts_page and "Import accounts from CSV" not in accounts_page
    proxies_page = client.get(reverse("dashboard:proxies")).content.decode()
    assert "/check/" not in proxies_page and "Import proxies" not in proxies_page
    compose_page = client.get(reverse("dashboard:compose")).content.decode()
    assert "compose-form" not in compose_page and "editor role" in compose_page


def test_it_shows_the_action_buttons_to_those_who_may_act(client, member, world):
    login(client, member, Role.ADMIN)
    assert "Retry" in client.get(reverse("dashboard:post", args=[world["post"].pk])).content.decode()
    accounts_page = client.get(reverse("dashboard:accounts")).content.decode()
    assert 'name="ids"' in accounts_page and "Import accounts from CSV" in accounts_page
    assert "/check/" in client.get(reverse("dashboard:proxies")).content.decode()


def test_it_refuses_every_action_to_a_viewer_with_403(client, member, world, workspace):
    login(client, member, Role.VIEWER)
    execution, post, account, proxy = world["execution"], world["post"], world["account"], world["proxy"]
    actions = [
        (reverse("dashboard:execution-retry", args=[execution.pk]), {}),
        (reverse("dashboard:execution-cancel", args=[execution.pk]), {}),
        (reverse("dashboard:post-cancel", args=[post.pk]), {}),
        (reverse("dashboard:post-retry-failed", args=[post.pk]), {}),
        (reverse("dashboard:compose"), {"action": "preview"}),
        (reverse("dashboard:compose-caption", args=[post.pk]), {"language": "en", "caption": "x"}),
        (reverse("dashboard:upload"), {"file": SimpleUploadedFile("a.png", png_bytes())}),
        (reverse("dashboard:accounts-bulk"), {"ids": [account.pk], "action": "disable"}),
        (reverse("dashboard:accounts-import"), {"file": SimpleUploadedFile("a.csv", b"platform,handle,secret,language\n")}),
        (reverse("dashboard:proxy-check", args=[proxy.pk]), {}),
        (reverse("dashboard:proxies-import"), {"text": "http://203.0.113.9:8080"}),
    ]
    for url, data in actions:
        assert client.post(url, data, **HX).status_code == 403, url
    assert Execution.objects.get(pk=execution.pk).status == ExecutionStatus.FAILED
    assert SocialAccount.objects.get(pk=account.pk).status == AccountStatus.ACTIVE
    assert Post.objects.count() == 1 and MediaAsset.objects.count() == 1


def test_it_refuses_an_editor_the_admin_actions(client, member, world):
    login(client, member, Role.EDITOR)
    data = {"ids": [world["account"].pk], "action": "disable"}
    assert client.post(reverse("dashboard:accounts-bulk"), data, **HX).status_code == 403
    assert client.post(reverse("dashboard:proxy-check", args=[world["proxy"].pk]), **HX).status_code == 403


def test_it_checks_the_role_in_the_objects_own_workspace(client, member, world, workspace):
    """Editor elsewhere, viewer here: still 403 on this workspace's execution."""
    user = login(client, member, Role.VIEWER)
    MembershipFactory(user=user, workspace=WorkspaceFactory(), role=Role.OWNER)
    assert client.post(reverse("dashboard:execution-retry", args=[world["execution"].pk]), **HX).status_code == 403
    data = {"ids": [world["account"].pk], "action": "disable"}
    assert client.post(reverse("dashboard:accounts-bulk"), data, **HX).status_code == 403
    assert SocialAccount.objects.get(pk=world["account"].pk).status == AccountStatus.ACTIVE


# --- scoping ------------------------------------------------------------------------------------------------


def test_it_answers_404_for_another_workspaces_objects(client, member, world):
    login(client, member, Role.OWNER, workspace=WorkspaceFactory())
    assert client.get(reverse("dashboard:post", args=[world["post"].pk])).status_code == 404
    assert client.get(reverse("dashboard:account", args=[world["account"].pk])).status_code == 404
    assert client.get(reverse("dashboard:compose-edit", args=[world["post"].pk])).status_code == 404
    assert client.post(reverse("dashboard:execution-retry", args=[world["execution"].pk]), **HX).status_code == 404
    assert client.post(reverse("dashboard:post-cancel", args=[world["post"].pk]), **HX).status_code == 404
    assert client.post(reverse("dashboard:proxy-check", args=[world["proxy"].pk]), **HX).status_code == 404
    assert client.get(reverse("dashboard:account", args=[uuid.uuid4()])).status_code == 404


def test_it_lists_only_the_users_workspaces(client, member, world):
    other = WorkspaceFactory()
    SocialAccountFactory(workspace=other, handle="stranger_account")
    PostFactory(workspace=other, title="Stranger post")
    ActivityLogFactory(workspace=other, action="stranger.action")
    ProxyFactory(workspace=other, host="198.51.100.77")
    login(client, member, Role.VIEWER)
    assert "stranger_account" not in client.get(reverse("dashboard:accounts")).content.decode()
    assert "Stranger post" not in client.get(reverse("dashboard:posts")).content.decode()
    assert "stranger.action" not in client.get(reverse("dashboard:activity")).content.decode()
    assert "198.51.100.77" not in client.get(reverse("dashboard:proxies")).content.decode()
    assert "berlin_shop" in client.get(reverse("dashboard:accounts")).content.decode()


def test_it_does_not_let_a_bulk_action_touch_another_workspace(client, member, world):
    stranger = SocialAccountFactory(workspace=WorkspaceFactory())
    login(client, member, Role.ADMIN)
    client.post(reverse("dashboard:accounts-bulk"), {"ids": [world["account"].pk, stranger.pk], "action": "disable"}, **HX)
    assert SocialAccount.objects.get(pk=stranger.pk).status == AccountStatus.ACTIVE
    assert SocialAccount.objects.get(pk=world["account"].pk).status == AccountStatus.DISABLED


# --- CSRF ---------------------------------------------------------------------------------------------------


def test_it_enforces_csrf_on_htmx_posts(member, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member(Role.EDITOR))
    url = reverse("dashboard:execution-retry", args=[world["execution"].pk])

    assert client.post(url, **HX).status_code == 403
    assert Execution.objects.get(pk=world["execution"].pk).status == ExecutionStatus.FAILED

    page = client.get(reverse("dashboard:post", args=[world["post"].pk]))
    token = str(page.context["csrf_token"])
    assert f'"X-CSRFToken": "{token}"' in page.content.decode()  # hx-headers on <body>
    response = client.post(url, HTTP_X_CSRFTOKEN=token, **HX)
    assert response.status_code == 200
    assert Execution.objects.get(pk=world["execution"].pk).status == ExecutionStatus.PENDING


# --- posts and progress -------------------------------------------------------------------------------------


def test_it_shows_live_progress_and_polls_until_the_post_is_finished(client, member, workspace):
    login(client, member, Role.EDITOR)
    post = PostFactory(workspace=workspace, status=PostStatus.PUBLISHING)
    statuses = ["success"] * 15 + ["queued"] * 3 + ["failed"] * 2
    for status in statuses:
        ExecutionFactory(post=post, status=status, remote_url="https://example.test/p/1" if status == "success" else "")
    url = reverse("dashboard:post", args=[post.pk])

    response = client.get(url, **HX)
    body = response.content.decode()
    assert "Published: 15 · Failed: 2 · Queued: 3" in text_of(body) and "of 20 executions" in body
    assert 'hx-trigger="every 2s"' in body
    assert body.count("View post") == 15
    assert "Published: 15 · Failed: 2 · Queued: 3" in text_of(client.get(reverse("dashboard:posts")).content.decode())
    assert "<html" not in body and body.lstrip().startswith('<section id="progress"')

    Execution.objects.filter(post=post, status="queued").update(status="success")
    Post.objects.filter(pk=post.pk).update(status=PostStatus.PARTIAL)
    body = client.get(url, **HX).content.decode()
    assert "Published: 18 · Failed: 2" in text_of(body) and "Queued" not in text_of(body)
    assert "hx-trigger" not in body  # finished: the region renders without polling


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def test_it_names_every_status_in_the_summary_as_its_rows_do(client, member, workspace):
    login(client, member, Role.EDITOR)
    post = PostFactory(workspace=workspace, status=PostStatus.PUBLISHING)
    for status in ["pending"] * 3 + ["success", "retry_wait", "cancelled"]:
        ExecutionFactory(post=post, status=status)
    body = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
    summary = text_of(re.search(r'data-testid="progress-summary">(.*?)</span> <small', body, re.S).group(1))
    assert summary == "Published: 1 · Waiting to retry: 1 · Pending: 3 · Cancelled: 1"
    # Each number is rows on the page with that very label.
    for label, count in (("Pending", 3), ("Waiting to retry", 1), ("Cancelled", 1), ("Published", 1)):
        assert body.count(f">{label}</span></td>") == count, label
    assert "queued" not in summary.lower()


def test_it_counts_posts_that_went_out_today_not_drafts(client, member, workspace, alive):
    login(client, member, Role.VIEWER)
    now = timezone.now()
    PostFactory.create_batch(3, workspace=workspace)  # drafts
    PostFactory(workspace=workspace, status=PostStatus.SCHEDULED)  # waits for its time
    ExecutionFactory(post__workspace=workspace, post__status=PostStatus.COMPLETED, status="success", finished_at=now)
    ExecutionFactory(post__workspace=workspace, post__status=PostStatus.PUBLISHING, status="pending")
    long_ago = ExecutionFactory(
        post__workspace=workspace, post__status=PostStatus.COMPLETED, status="success", finished_at=now - timedelta(days=3)
    )
    response = client.get(reverse("dashboard:overview"))
    assert response.context["numbers"]["posts"] == {"today": 2, "last_7_days": 3}
    assert re.search(r'data-testid="posts-today">2<', response.content.decode())
    assert long_ago.post.executions.count() == 1


def test_it_retries_and_cancels_executions_through_the_services(client, member, workspace):
    login(client, member, Role.EDITOR)
    post = PostFactory(workspace=workspace, status=PostStatus.PUBLISHING)
    failed = ExecutionFactory(post=post, status=ExecutionStatus.FAILED, error_message="boom")
    waiting = ExecutionFactory(post=post, status=ExecutionStatus.PENDING)

    response = client.post(reverse("dashboard:execution-retry", args=[failed.pk]), **HX)
    assert response.status_code == 200
    assert 'id="progress"' in response.content.decode() and "Retry queued" in response.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.priority) == (ExecutionStatus.PENDING, "low")
    assert ActivityLog.objects.filter(action="execution.retry", execution=failed).exists()

    response = client.post(reverse("dashboard:execution-cancel", args=[waiting.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:post", args=[post.pk])
    assert Execution.objects.get(pk=waiting.pk).status == ExecutionStatus.CANCELLED

    # Retrying something that is not retryable explains why instead of failing.
    refused = client.post(reverse("dashboard:execution-retry", args=[failed.pk]), **HX)
    assert refused.status_code == 409  # swapped all the same (htmx responseHandling in base.html)
    assert "Only failed, cancelled, skipped or unconfirmed executions can be retried" in refused.content.decode()
    assert 'id="progress"' in refused.content.decode()


def test_it_cancels_a_post_and_retries_all_failed(client, member, workspace):
    login(client, member, Role.EDITOR)
    post = PostFactory(workspace=workspace, status=PostStatus.PUBLISHING)
    ExecutionFactory.create_batch(2, post=post, status=ExecutionStatus.FAILED)
    ExecutionFactory(post=post, status=ExecutionStatus.PENDING)
    client.post(reverse("dashboard:post-retry-failed", args=[post.pk]), **HX)
    assert Execution.objects.filter(post=post, status=ExecutionStatus.PENDING).count() == 3
    body = client.post(reverse("dashboard:post-cancel", args=[post.pk]), **HX).content.decode()
    assert "Cancelled 3 waiting execution(s)" in body
    assert Post.objects.get(pk=post.pk).status == PostStatus.CANCELLED


# --- composer -----------------------------------------------------------------------------------------------


def compose_data(**overrides) -> dict:
    data = {
        "title": "Launch",
        "caption": "Hello world #launch",
        "language": "en",
        "media_type": "photo",
        "schedule": "now",
        "priority": "normal",
        "action": "preview",
    }
    data.update(overrides)
    return data


def test_it_uploads_media_and_answers_with_the_carousel_item(client, member, workspace):
    login(client, member, Role.EDITOR)
    response = client.post(reverse("dashboard:upload"), {"file": SimpleUploadedFile("cat.png", png_bytes())}, **HX)
    assert response.status_code == 200
    asset = MediaAsset.objects.get()
    assert f'name="media" value="{asset.pk}"' in response.content.decode()
    assert asset.workspace == workspace and asset.original_name == "cat.png"

    bad = client.post(reverse("dashboard:upload"), {"file": SimpleUploadedFile("x.png", b"not an image")}, **HX)
    assert bad.status_code == 400
    assert "Unsupported file type" in bad.content.decode()


def test_it_previews_the_plan_edits_a_caption_and_publishes(client, member, workspace):
    login(client, member, Role.EDITOR)
    group = AccountGroupFactory(workspace=workspace)
    english = SocialAccountFactory.create_batch(2, workspace=workspace, group=group)
    blocked = SocialAccountFactory(workspace=workspace, group=group, status=AccountStatus.BANNED, handle="banned_one")
    asset = MediaAssetFactory(workspace=workspace)

    response = client.post(reverse("dashboard:compose"), compose_data(media=[asset.pk], target_groups=[group.pk]), **HX)
    assert response.status_code == 200, response.content.decode()[:3000]
    post = Post.objects.get()
    assert post.status == PostStatus.DRAFT and [pm.asset for pm in post.media.all()] == [asset]
    assert response["HX-Push-Url"] == reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1"
    body = response.content.decode()
    assert "2 account(s) will post, 1 blocked." in body
    assert "The account is banned." in body
    assert asset.file.url in body

    response = client.post(
        reverse("dashboard:compose-caption", args=[post.pk]), {"language": "en", "caption": "Edited by hand #launch"}, **HX
    )
    assert response.status_code == 200
    assert "edited by hand" in response.content.decode()
    assert Post.objects.get().options["captions"] == {"en": "Edited by hand #launch"}

    response = client.post(
        reverse("dashboard:compose-edit", args=[post.pk]),
        compose_data(media=[asset.pk], target_groups=[group.pk], action="publish"),
        **HX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("dashboard:post", args=[post.pk])
    executions = Execution.objects.filter(post=post)
    assert {e.account for e in executions.filter(status=ExecutionStatus.PENDING)} == set(english)
    assert {e.caption for e in executions.filter(status=ExecutionStatus.PENDING)} == {"Edited by hand #launch"}
    # The banned account is recorded as blocked, with its reason, not left out.
    assert executions.get(account=blocked).status == ExecutionStatus.BLOCKED
    assert executions.get(account=blocked).error_message == "The account is banned."

    drain()
    assert set(SandboxPost.objects.values_list("caption", flat=True)) == {"Edited by hand #launch"}
    assert Post.objects.get().status == PostStatus.PARTIAL


def test_it_uploads_files_sent_with_the_form_when_javascript_is_off(client, member, workspace):
    login(client, member, Role.EDITOR)
    account = SocialAccountFactory(workspace=workspace)
    files = [SimpleUploadedFile("one.png", png_bytes(color=(1, 2, 3))), SimpleUploadedFile("two.png", png_bytes(color=(4, 5, 6)))]
    data = compose_data(media_type="carousel", target_accounts=[account.pk], files=files)
    response = client.post(reverse("dashboard:compose"), data)
    post = Post.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1"
    assert [pm.asset.original_name for pm in post.media.order_by("position")] == ["one.png", "two.png"]
    page = client.get(response["Location"]).content.decode()
    assert "1 account(s) will post, 0 blocked." in page


def test_it_reorders_the_carousel_without_javascript(client, member, workspace):
    login(client, member, Role.EDITOR)
    first, second = MediaAssetFactory.create_batch(2, workspace=workspace)
    data = compose_data(media=[first.pk, second.pk], move=f"down:{first.pk}")
    body = client.post(reverse("dashboard:compose"), data).content.decode()
    assert body.index(f'value="{second.pk}"') < body.index(f'value="{first.pk}"')
    assert not Post.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({}, "target_groups", "Choose at least one target group or account."),
        ({"language": "english"}, "language", "is not a language code"),
        ({"media_type": "carousel"}, "media", "A carousel needs 2 to 10 photos or videos."),
        ({"media_type": "text", "caption": ""}, "caption", "A text post needs a caption."),
        ({"schedule": "later"}, "date", "Pick the day to publish on."),
        ({"schedule": "later", "date": "2020-01-01", "time": "10:00"}, "time", "This time has passed"),
        ({"schedule": "later", "date": "2099-03-29", "time": "02:30"}, "time", "does not exist in Europe/Berlin"),
        ({"schedule": "later", "date": "2099-10-25", "time": "02:30"}, "time", "happens twice in Europe/Berlin"),
        ({"priority": "urgent"}, "priority", "Select a valid choice"),
    ],
)
def test_it_rejects_bad_input_next_to_the_field(client, member, workspace, overrides, field, message):
    login(client, member, Role.EDITOR)
    asset = MediaAssetFactory(workspace=workspace)
    data = compose_data(media=[asset.pk], **overrides)
    if field != "target_groups":
        data["target_accounts"] = [SocialAccountFactory(workspace=workspace).pk]
    response = client.post(reverse("dashboard:compose"), data, **HX)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    body = response.content.decode()
    block = body[body.index(f'id="field-{field}"') :]
    assert message.split("%")[0] in block[: block.index("</div>") if field not in ("media", "target_groups") else None]
    assert not Post.objects.exists()


def test_it_reads_the_schedule_in_the_operators_time_zone(client, member, workspace):
    login(client, member, Role.EDITOR, timezone="America/New_York")
    account = SocialAccountFactory(workspace=workspace)
    asset = MediaAssetFactory(workspace=workspace)
    day = timezone.now().date() + timedelta(days=30)
    data = compose_data(media=[asset.pk], target_accounts=[account.pk], schedule="later", date=day.isoformat(), time="09:15")
    client.post(reverse("dashboard:compose"), data)
    scheduled = Post.objects.get().scheduled_at
    local = timezone.localtime(scheduled, timezone=zoneinfo.ZoneInfo("America/New_York"))
    assert (local.date(), local.hour, local.minute) == (day, 9, 15)


def test_it_refuses_targets_of_another_workspace(client, member, workspace):
    user = login(client, member, Role.EDITOR)
    other = WorkspaceFactory()
    MembershipFactory(user=user, workspace=other, role=Role.EDITOR)
    stranger = SocialAccountFactory(workspace=other)
    asset = MediaAssetFactory(workspace=workspace)
    data = compose_data(workspace=workspace.pk, media=[asset.pk], target_accounts=[stranger.pk])
    response = client.post(reverse("dashboard:compose"), data, **HX)
    assert response.status_code == 400
    assert "Not in workspace" in " ".join(response.context["form"].errors["target_accounts"])


# --- accounts, proxies, activity ----------------------------------------------------------------------------


def test_it_filters_accounts_with_get_parameters(client, member, workspace):
    login(client, member, Role.VIEWER)
    group = AccountGroupFactory(workspace=workspace, name="Berlin")
    SocialAccountFactory(workspace=workspace, handle="in_group", group=group, language="de")
    SocialAccountFactory(workspace=workspace, handle="banned_acc", status=AccountStatus.BANNED)
    SocialAccountFactory(workspace=workspace, handle="vk_acc", platform="vk")

    def handles(query: str) -> set[str]:
        response = client.get(reverse("dashboard:accounts") + query, **HX)
        return {a.handle for a in response.context["page"]}

    assert handles(f"?group={group.pk}") == {"in_group"}
    assert handles("?status=banned") == {"banned_acc"}
    assert handles("?platform=vk") == {"vk_acc"}
    assert handles("?language=de") == {"in_group"}
    assert handles("?group=none&q=acc") == {"banned_acc", "vk_acc"}


def test_it_paginates_accounts(client, member, workspace):
    login(client, member, Role.VIEWER)
    SocialAccountFactory.create_batch(60, workspace=workspace)
    first = client.get(reverse("dashboard:accounts"))
    assert len(first.context["page"]) == 50 and "Page 1 of 2" in first.content.decode()
    assert len(client.get(reverse("dashboard:accounts") + "?page=2").context["page"]) == 10


def test_it_applies_bulk_actions_through_the_services(client, member, workspace):
    user = login(client, member, Role.ADMIN)
    group = AccountGroupFactory(workspace=workspace)
    proxy = ProxyFactory(workspace=workspace, max_accounts=1)
    accounts = SocialAccountFactory.create_batch(2, workspace=workspace)
    ids = [a.pk for a in accounts]
    url = reverse("dashboard:accounts-bulk")

    client.post(url, {"ids": ids, "action": "disable"}, **HX)
    assert set(SocialAccount.objects.values_list("status", flat=True)) == {AccountStatus.DISABLED}
    assert AccountEvent.objects.filter(to_status=AccountStatus.DISABLED, actor=user).count() == 2

    client.post(url, {"ids": ids, "action": "assign_group", "group": group.pk}, **HX)
    assert set(SocialAccount.objects.values_list("group", flat=True)) == {group.pk}

    body = client.post(url, {"ids": ids, "action": "assign_proxy", "proxy": proxy.pk}, **HX).content.decode()
    assert "allows 1 account(s)" in body  # the service's capacity check, shown to the operator
    assert not SocialAccount.objects.filter(proxy=proxy).exists()

    body = client.post(url, {"ids": ids, "action": "assign_group"}, **HX).content.decode()
    assert "Choose the group to assign" in body

    response = client.post(url, {"ids": ids[:1], "action": "check", "next": "/accounts/?status=disabled"})
    assert response.status_code == 302 and response["Location"] == "/accounts/?status=disabled"
    assert SocialAccount.objects.get(pk=ids[0]).last_check_at is not None


def test_it_imports_accounts_from_csv_and_shows_row_errors(client, member, workspace):
    login(client, member, Role.ADMIN)
    bad = "platform,handle,secret,language\nsandbox,good_one,,en\nmyspace,who,,en\nsandbox,,,xx-yy-zz\n"
    response = client.post(reverse("dashboard:accounts-import"), {"file": SimpleUploadedFile("a.csv", bad.encode())}, **HX)
    body = response.content.decode()
    assert response.status_code == 400
    assert "unknown platform &#x27;myspace&#x27;" in body and "handle is empty" in body
    assert "Nothing was imported" in body
    assert not SocialAccount.objects.exists()

    good = "platform,handle,secret,language,group\nsandbox,shop_one,,en,Shops\nsandbox,shop_two,,de,Shops\n"
    response = client.post(
        reverse("dashboard:accounts-import"),
        {"file": SimpleUploadedFile("a.csv", good.encode()), "create_groups": "on"},
        **HX,
    )
    assert response.status_code == 200
    assert "Created 2 account(s)" in response.content.decode()
    assert set(SocialAccount.objects.values_list("handle", "group__name")) == {("shop_one", "Shops"), ("shop_two", "Shops")}


def test_it_shows_an_accounts_history_and_executions(client, member, world):
    login(client, member, Role.VIEWER)
    body = client.get(reverse("dashboard:account", args=[world["account"].pk])).content.decode()
    assert "429" in body and "Summer sale" in body and "injected media_rejected" in body
    assert "sandbox-secret-token" not in body


def test_it_imports_and_checks_proxies(client, member, workspace, monkeypatch):
    from publishing import proxy_checks as proxy_services

    login(client, member, Role.ADMIN)
    response = client.post(
        reverse("dashboard:proxies-import"),
        {"text": "http://u:secretpw@203.0.113.5:8080\nnot a proxy\n", "max_accounts": 2},
        **HX,
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was imported" in body and "is not supported" in body
    assert "secretpw" not in body.split("row-errors")[1]  # the refused lines are shown without credentials
    response = client.post(
        reverse("dashboard:proxies-import"),
        {"text": "http://u:secretpw@203.0.113.5:8080\n", "max_accounts": 2, "country": "de"},
        **HX,
    )
    assert response.status_code == 200 and "Created 1 of 1 proxies." in response.content.decode()
    proxy = Proxy.objects.get()
    assert (proxy.max_accounts, proxy.country) == (2, "DE")

    monkeypatch.setattr(
        proxy_services,
        "proxy_probe",
        lambda url, **kw: proxy_services.ProbeOutcome(ok=True, exit_ip="203.0.113.5", latency_ms=42),
    )
    body = client.post(reverse("dashboard:proxy-check", args=[proxy.pk]), **HX).content.decode()
    assert body.strip().startswith(f'<tr id="proxy-{proxy.pk}"') and "42 ms" in body


def test_it_filters_the_activity_log_and_shows_details(client, member, workspace):
    login(client, member, Role.VIEWER)
    account = SocialAccountFactory(workspace=workspace, handle="logged_acc")
    ActivityLogFactory(workspace=workspace, action="post.publish", status="success", details={"planned": 3})
    ActivityLogFactory(workspace=workspace, action="account.check", status="failed", account=account)
    old = ActivityLogFactory(workspace=workspace, action="post.cancel")
    ActivityLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))

    def actions(query: str) -> list[str]:
        return [e.action for e in client.get(reverse("dashboard:activity") + query, **HX).context["page"]]

    assert actions("?action=post.publish") == ["post.publish"]
    assert actions("?status=failed") == ["account.check"]
    assert actions("?account=logged") == ["account.check"]
    assert actions(f"?account={account.pk}") == ["account.check"]
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert "post.cancel" not in actions(f"?date_from={since}")
    assert "&quot;planned&quot;: 3" in client.get(reverse("dashboard:activity")).content.decode()
    response = client.get(reverse("dashboard:activity") + "?date_from=2030-01-02&date_to=2030-01-01")
    assert "The end date is before the start date." in response.content.decode()


# --- overview -----------------------------------------------------------------------------------------------


def test_it_shows_the_overview_numbers_chart_groups_and_problem_accounts(client, member, workspace, alive):
    login(client, member, Role.VIEWER)
    group = AccountGroupFactory(workspace=workspace, name="Kiosk")
    sick = SocialAccountFactory(workspace=workspace, group=group, handle="sick_one")
    SocialAccountFactory(workspace=workspace, status=AccountStatus.BANNED, handle="banned_one", status_reason="banned by VK")
    now = timezone.now()
    for status in ("success", "success", "failed"):
        ExecutionFactory(post__workspace=workspace, account=sick, status=status, finished_at=now, error_message="timeout")
    ExecutionFactory(post__workspace=workspace, account=sick, status="pending", priority="high")

    response = client.get(reverse("dashboard:overview"), **HX)
    body = response.content.decode()
    assert 'hx-trigger="every 10s"' in body
    assert "67 %" in body  # 2 of 3 finished in 24 h
    assert "sick_one" in body and "timeout" in body and "banned by VK" in body
    assert "Kiosk" in body
    assert "<svg" in body and "2 published, 1 failed" in body
    assert response.context["numbers"]["queue"]["by_priority"]["high"] == 1
    assert [b.ok for b in response.context["heartbeats"]] == [True, True]


def test_it_reports_a_stale_worker(client, member, settings):
    login(client, member, Role.VIEWER)
    beat("beat")
    body = client.get(reverse("dashboard:overview")).content.decode()
    assert "never seen" in body


def test_it_renders_the_chart_with_a_dot_decimal_in_russian(client, member, workspace):
    login(client, member, Role.VIEWER)
    ExecutionFactory(post__workspace=workspace, status="success", finished_at=timezone.now())
    client.cookies["django_language"] = "ru"
    body = client.get(reverse("dashboard:overview")).content.decode()
    assert "Обзор" in body
    svg = body[body.index("<svg") : body.index("</svg>")]
    assert not any(c.isdigit() and svg[i + 1] == "," and svg[i + 2].isdigit() for i, c in enumerate(svg[:-2]))


# --- i18n ---------------------------------------------------------------------------------------------------


def test_it_switches_the_language_with_a_csrf_protected_post(member, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member(Role.VIEWER))
    page = client.get(reverse("dashboard:posts"))
    assert 'action="/i18n/setlang/"' in page.content.decode()
    assert client.post("/i18n/setlang/", {"language": "ru", "next": "/posts/"}).status_code == 403
    response = client.post(
        "/i18n/setlang/", {"language": "ru", "next": "/posts/", "csrfmiddlewaretoken": str(page.context["csrf_token"])}
    )
    assert response.status_code == 302 and response["Location"] == "/posts/"
    body = client.get("/posts/").content.decode()
    assert "Публикации" in body and "Обзор" in body


@pytest.mark.parametrize("url_name", ["overview", "compose", "posts", "accounts", "proxies", "activity"])
def test_it_has_no_untranslated_headings_in_russian(client, member, world, url_name):
    login(client, member, Role.OWNER)
    client.cookies["django_language"] = "ru"
    body = client.get(reverse(f"dashboard:{url_name}")).content.decode()
    english = ["Overview", "Accounts", "Posts", "Activity", "Proxies", "Previous", "Filter", "Apply", "Import", "Preview plan"]
    visible = body.split("<main>", 1)[1]
    assert not [word for word in english if f">{word}<" in visible or f">{word} " in visible]


# --- constant queries ---------------------------------------------------------------------------------------


def bulk_world(workspace, accounts: int, executions_per_post: int, posts: int = 2) -> Post:
    """``accounts`` accounts across groups and proxies, and ``posts`` posts with executions, by bulk_create."""
    groups = AccountGroupFactory.create_batch(3, workspace=workspace)
    proxies = ProxyFactory.create_batch(3, workspace=workspace, max_accounts=100_000)
    start = SocialAccount.objects.count()
    rows = SocialAccount.objects.bulk_create(
        [
            SocialAccount(
                workspace=workspace,
                platform="sandbox",
                handle=f"bulk_{start + i}",
                group=groups[i % 3],
                proxy=proxies[i % 3],
                status=[AccountStatus.ACTIVE, AccountStatus.BANNED, AccountStatus.COOLDOWN][i % 3],
                credentials={"token": "x"},
            )
            for i in range(accounts)
        ],
        batch_size=500,
    )
    now = timezone.now()
    post = None
    for _ in range(posts):
        post = PostFactory(workspace=workspace, status=PostStatus.PUBLISHING)
        Execution.objects.bulk_create(
            [
                Execution(
                    workspace=workspace,
                    post=post,
                    account=rows[i % len(rows)],
                    language="en",
                    scheduled_for=now - timedelta(hours=i % 300),
                    status=["success", "failed", "pending", "queued"][i % 4],
                    finished_at=now - timedelta(hours=i % 300) if i % 4 < 2 else None,
                    error_message="boom" if i % 4 == 1 else "",
                )
                for i in range(min(executions_per_post, len(rows)))
            ],
            batch_size=500,
        )
        ActivityLog.objects.bulk_create(
            [ActivityLog(workspace=workspace, action="x.y", details={"i": i}) for i in range(executions_per_post)]
        )
    return post


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_it_renders_the_pages_in_a_constant_number_of_queries(client, member, workspace):
    login(client, member, Role.ADMIN)
    small = bulk_world(workspace, accounts=10, executions_per_post=20)
    urls = lambda post: [  # noqa: E731
        reverse("dashboard:overview"),
        reverse("dashboard:accounts"),
        reverse("dashboard:post", args=[post.pk]),
        reverse("dashboard:posts"),
        reverse("dashboard:proxies"),
        reverse("dashboard:activity"),
    ]
    for url in urls(small):
        client.get(url)  # warm caches (content types, sessions)
    few = {url.replace(str(small.pk), "P"): queries(client, url) for url in urls(small)}

    big = bulk_world(workspace, accounts=2_000, executions_per_post=2_000)
    many = {url.replace(str(big.pk), "P"): queries(client, url) for url in urls(big)}

    assert few == many
    assert max(many.values()) <= 20


def test_the_post_page_query_count_does_not_grow_with_executions(client, member, workspace):
    login(client, member, Role.EDITOR)
    post = bulk_world(workspace, accounts=30, executions_per_post=20, posts=1)
    url = reverse("dashboard:post", args=[post.pk])
    client.get(url)
    few = queries(client, url)
    Execution.objects.filter(post=post).delete()
    accounts = list(SocialAccount.objects.all()) + SocialAccount.objects.bulk_create(
        [SocialAccount(workspace=workspace, platform="sandbox", handle=f"more_{i}") for i in range(1_970)]
    )
    Execution.objects.bulk_create(
        [
            Execution(workspace=workspace, post=post, account=a, language="en", scheduled_for=timezone.now(), status="pending")
            for a in accounts
        ],
        batch_size=500,
    )
    assert queries(client, url) == few
    assert queries(client, url + "?page=20") == few


def test_it_imports_csv_with_a_bom_and_windows_line_endings(client, member, workspace):
    login(client, member, Role.ADMIN)
    data = "\ufeffplatform,handle,secret,language\r\nsandbox,bom_shop,,en\r\n".encode()
    response = client.post(reverse("dashboard:accounts-import"), {"file": SimpleUploadedFile("a.csv", data)}, **HX)
    assert response.status_code == 200, response.content.decode()
    assert SocialAccount.objects.filter(handle="bom_shop").exists()


def test_local_dates_are_read_in_the_operators_zone(client, member, workspace):
    # The activity log's date range ends at local midnight, not UTC midnight.
    login(client, member, Role.VIEWER, timezone="Asia/Tokyo")
    entry = ActivityLogFactory(workspace=workspace, action="late.night")
    today_tokyo = timezone.localtime(entry.created_at, timezone=zoneinfo.ZoneInfo("Asia/Tokyo")).date()
    response = client.get(reverse("dashboard:activity") + f"?date_from={today_tokyo}&date_to={today_tokyo}", **HX)
    assert [e.action for e in response.context["page"]] == ["late.night"]


# --- one draft per composing session, and deleting drafts -----------------------------------------


def test_it_saves_one_draft_per_composing_session(client, member, workspace):
    login(client, member, Role.EDITOR)
    account = SocialAccountFactory(workspace=workspace)
    asset = MediaAssetFactory(workspace=workspace)
    page = client.get(reverse("dashboard:compose")).content.decode()
    key = re.search(r'name="draft_key" value="(\w+)"', page).group(1)
    data = compose_data(media=[asset.pk], target_accounts=[account.pk], draft_key=key)
    # The first preview saves the draft; the same page previewed again (back button, a second
    # click, JS off) updates it instead of saving another.
    assert client.post(reverse("dashboard:compose"), data, **HX).status_code == 200
    again = client.post(reverse("dashboard:compose"), {**data, "caption": "Second thoughts"})
    post = Post.objects.get()
    assert again.status_code == 302 and again["Location"] == reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1"
    assert post.caption == "Second thoughts" and post.status == PostStatus.DRAFT
    # A new composer page is a new draft.
    other = re.search(r'name="draft_key" value="(\w+)"', client.get(reverse("dashboard:compose")).content.decode()).group(1)
    assert other != key
    client.post(reverse("dashboard:compose"), {**data, "draft_key": other}, **HX)
    assert Post.objects.count() == 2


def test_it_deletes_a_draft_after_asking_and_keeps_posts_under_way(client, member, workspace):
    login(client, member, Role.EDITOR)
    draft = PostFactory(workspace=workspace, title="Forgotten draft")
    scheduled = PostFactory(workspace=workspace, title="Goes out tonight", status=PostStatus.SCHEDULED)
    listing = client.get(reverse("dashboard:posts")).content.decode()
    assert listing.count('data-testid="delete-post"') == 1
    assert reverse("dashboard:post-delete", args=[draft.pk]) in listing
    assert (
        reverse("dashboard:post-delete", args=[draft.pk])
        in client.get(reverse("dashboard:compose-edit", args=[draft.pk])).content.decode()
    )

    asked = client.get(reverse("dashboard:post-delete", args=[draft.pk]))
    assert asked.status_code == 200 and "Delete “Forgotten draft”?" in asked.content.decode()
    assert Post.objects.filter(pk=draft.pk).exists()  # asking deletes nothing
    done = client.post(reverse("dashboard:post-delete", args=[draft.pk]), follow=True)
    assert "Deleted “Forgotten draft”." in done.content.decode()
    assert not Post.objects.filter(pk=draft.pk).exists()

    refused = client.post(reverse("dashboard:post-delete", args=[scheduled.pk]))
    assert refused.status_code == 409
    assert "A scheduled post cannot be deleted; cancel it first." in refused.content.decode()
    assert Post.objects.filter(pk=scheduled.pk).exists()


def test_it_lets_only_editors_delete_posts(client, member, workspace):
    login(client, member, Role.VIEWER)
    draft = PostFactory(workspace=workspace)
    assert 'data-testid="delete-post"' not in client.get(reverse("dashboard:posts")).content.decode()
    assert client.post(reverse("dashboard:post-delete", args=[draft.pk])).status_code == 403
    assert Post.objects.filter(pk=draft.pk).exists()


# --- "Use the translation" only where there is one, and never without asking -------------------------


def german_draft(workspace) -> Post:
    post = PostFactory(workspace=workspace, caption="Summer sale", options={"captions": {"de": "Mein eigener Text"}})
    post.target_accounts.set([SocialAccountFactory(workspace=workspace, language="de")])
    return post


def test_it_offers_no_translation_when_no_provider_can_translate(client, member, workspace, settings):
    settings.DEEPL_API_KEY = settings.OPENAI_API_KEY = ""
    login(client, member, Role.EDITOR)
    post = german_draft(workspace)
    body = client.get(reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1").content.decode()
    assert "Mein eigener Text" in body
    assert "Use the translation" not in body
    hint = re.search(r'data-testid="no-translation-de">(.*?)</p>', body, re.S).group(1)
    assert "No translation to go back to" in hint and "DEEPL_API_KEY" in hint
    # Sent anyway (an old page): refused, the hand-written caption stays.
    refused = client.post(
        reverse("dashboard:compose-caption", args=[post.pk]), {"language": "de", "reset": "1", "confirm": "1"}, **HX
    )
    assert refused.status_code == 400 and "DEEPL_API_KEY" in refused.content.decode()
    assert Post.objects.get(pk=post.pk).options["captions"] == {"de": "Mein eigener Text"}


def test_it_asks_before_replacing_a_written_caption_with_the_translation(client, member, workspace, deepl):
    login(client, member, Role.EDITOR)
    post = german_draft(workspace)
    url = reverse("dashboard:compose-caption", args=[post.pk])
    body = client.get(reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1").content.decode()
    assert "Use the translation" in body and "hx-confirm=" in body

    # Without JS the first click only asks.
    asked = client.post(url, {"language": "de", "reset": "1"}, follow=True)
    assert asked.redirect_chain[-1][0].endswith("?preview=1&confirm_reset=de")
    page = asked.content.decode()
    assert 'data-testid="confirm-reset-de"' in page and "[DE] Summer sale" in page
    assert Post.objects.get(pk=post.pk).options["captions"] == {"de": "Mein eigener Text"}

    confirmed = client.post(url, {"language": "de", "reset": "1", "confirm": "1"}, **HX)
    assert confirmed.status_code == 200
    assert "captions" not in Post.objects.get(pk=post.pk).options
    assert "[DE] Summer sale" in confirmed.content.decode()
