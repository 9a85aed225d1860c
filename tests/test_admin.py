"""The Django admin: scoping to workspaces, role permissions, write-only secrets,
bulk actions through the services, and constant-query changelists."""

from datetime import timedelta

import pytest
from django import forms
from django.contrib import admin
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountEvent, AccountGroup, Membership, Proxy, Role, SocialAccount, Workspace
from accounts.services import account_create, proxy_create
from crosspost.models import ActivityLog
from media.models import MediaAsset, Rendition
from posts.models import PipelineStage, Post, PostMedia, PostStatus
from publishing.models import Execution, ExecutionStatus, PublishingPolicy, SandboxPost
from translations.models import Glossary, TranslationCache, TranslationSettings

from .factories import (
    AccountEventFactory,
    AccountGroupFactory,
    ActivityLogFactory,
    ExecutionFactory,
    GlossaryFactory,
    MediaAssetFactory,
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
    png_bytes,
)

pytestmark = pytest.mark.django_db

OWN_APPS = {"accounts", "posts", "media", "publishing", "translations"}
MODELS = sorted((model for model in admin.site._registry if model._meta.app_label in OWN_APPS), key=lambda m: m._meta.label)
# Nobody adds these through the admin: audit rows, pipeline output, planner output.
NO_ADD = {AccountEvent, ActivityLog, Rendition, TranslationCache, Execution, PostMedia, SandboxPost, PipelineStage}
# What a workspace admin may not see at all.
ADMIN_CANNOT_VIEW = {Workspace, TranslationCache}
SECRET_PASSWORD = "S3cret-Value"
SECRET_SESSION = "sess-xyz"
PROXY_PASSWORD = "proxyPW"


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def one_of_each(ws: Workspace) -> dict:
    """A row of every registered model in ``ws``."""
    group = AccountGroupFactory(workspace=ws)
    proxy = ProxyFactory(workspace=ws)
    account = SocialAccountFactory(workspace=ws, group=group, proxy=proxy)
    post = PostFactory(workspace=ws)
    post_media = PostMediaFactory(post=post)
    execution = ExecutionFactory(post=post, account=account, status=ExecutionStatus.FAILED, raw_response={"ok": False})
    return {
        Workspace: ws,
        Membership: MembershipFactory(workspace=ws, role=Role.EDITOR),
        AccountGroup: group,
        Proxy: proxy,
        SocialAccount: account,
        AccountEvent: AccountEventFactory(account=account),
        Post: post,
        PostMedia: post_media,
        PipelineStage: PipelineStage.objects.create(post=post, stage="captionize", status="failed", error="OpenAI: down."),
        MediaAsset: post_media.asset,
        Rendition: RenditionFactory(asset=post_media.asset),
        Execution: execution,
        PublishingPolicy: PublishingPolicyFactory(workspace=ws),
        ActivityLog: ActivityLogFactory(workspace=ws, account=account, post=post, execution=execution),
        TranslationCache: TranslationCacheFactory(),
        Glossary: GlossaryFactory(workspace=ws),
        TranslationSettings: TranslationSettingsFactory(workspace=ws),
        SandboxPost: SandboxPost.objects.create(account=account, marker="m-1", caption="hi", media_type="photo"),
    }


def form_data(response) -> dict:
    """The POST data a browser would send back for an admin change form, unchanged."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            key, value = form.add_prefix(name), form[name].value()
            if isinstance(field.widget, forms.MultiWidget):
                parts = value if isinstance(value, list) else field.widget.decompress(value)
                for index, part in enumerate(parts):
                    data[f"{key}_{index}"] = "" if part is None else str(part)
            elif isinstance(field, forms.ModelMultipleChoiceField):
                data[key] = [str(v) for v in value or ()]
            elif isinstance(field, forms.BooleanField):
                if value:
                    data[key] = "on"
            elif isinstance(value, (list, tuple)):
                data[key] = [str(v) for v in value]
            else:
                data[key] = "" if value is None else str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form)
        for form in formset.forms:
            add(form)
    return data


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def superuser(db):
    return UserFactory(is_superuser=True)


# --- every page renders -------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_it_renders_every_admin_page_for_a_superuser(client, superuser, workspace, model):
    objects = one_of_each(workspace)
    client.force_login(superuser)

    assert client.get(url(model, "changelist")).status_code == 200
    assert client.get(url(model, "change", objects[model].pk)).status_code == 200
    assert client.get(url(model, "add")).status_code == (403 if model in NO_ADD else 200)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_it_renders_every_admin_page_for_a_workspace_admin(client, member, workspace, model):
    objects = one_of_each(workspace)
    client.force_login(member(Role.ADMIN))

    changelist = client.get(url(model, "changelist"))
    change = client.get(url(model, "change", objects[model].pk))
    add = client.get(url(model, "add"))

    if model in ADMIN_CANNOT_VIEW:
        assert changelist.status_code == 403
        assert change.status_code in (302, 403)
        assert add.status_code == 403
    else:
        assert changelist.status_code == 200
        assert change.status_code == 200
        assert add.status_code == (403 if model in NO_ADD else 200)


def test_it_lists_only_the_models_a_member_may_see_on_the_index(client, member):
    client.force_login(member(Role.VIEWER))

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    listed = {m["object_name"] for app in response.context["app_list"] for m in app["models"]}
    assert {"SocialAccount", "Post", "Execution", "ActivityLog"} <= listed
    assert not listed & {"Workspace", "TranslationCache", "User"}


def test_it_shows_nothing_to_staff_without_a_membership(client):
    client.force_login(UserFactory())

    response = client.get(reverse("admin:index"))

    assert response.context["app_list"] == []
    assert client.get(url(SocialAccount, "changelist")).status_code == 403


# --- workspace isolation ----------------------------------------------------------------


def test_it_keeps_other_workspaces_out_of_changelists_and_change_pages(client, member, workspace):
    mine = one_of_each(workspace)
    other_ws = WorkspaceFactory(name="Bravo Workspace")
    group = AccountGroupFactory(workspace=other_ws, name="Bravo group")
    proxy = ProxyFactory(workspace=other_ws, host="198.51.100.77")
    account = SocialAccountFactory(workspace=other_ws, handle="bravo_handle", group=group, proxy=proxy)
    post = PostFactory(workspace=other_ws, title="Bravo post", caption="bravo caption")
    execution = ExecutionFactory(post=post, account=account, error_message="bravo error")
    log = ActivityLogFactory(workspace=other_ws, message="bravo log line", account=account)
    event = AccountEventFactory(account=account, reason="bravo reason")
    client.force_login(member(Role.ADMIN))

    for model, obj in [
        (SocialAccount, account),
        (AccountGroup, group),
        (Proxy, proxy),
        (Post, post),
        (Execution, execution),
        (ActivityLog, log),
        (AccountEvent, event),
    ]:
        listing = client.get(url(model, "changelist"))
        assert listing.status_code == 200
        shown = list(listing.context["cl"].result_list)
        assert obj not in shown
        assert mine[model] in shown
        content = listing.content.decode()
        for foreign in ("bravo", "Bravo", "198.51.100.77"):
            assert foreign not in content, (model, foreign)

        change = client.get(url(model, "change", obj.pk))
        assert change.status_code == 302
        assert change["Location"] == reverse("admin:index")
        assert client.post(url(model, "change", obj.pk), {"caption": "hijack"}).status_code in (302, 403)
        assert client.get(url(model, "delete", obj.pk)).status_code in (302, 403)


def test_it_offers_only_the_members_workspaces_groups_and_proxies(client, member, workspace):
    own_group = AccountGroupFactory(workspace=workspace, name="Alpha group")
    AccountGroupFactory(name="Foreign group")
    own_proxy = ProxyFactory(workspace=workspace)
    foreign_proxy = ProxyFactory(host="203.0.113.99")
    client.force_login(member(Role.ADMIN))

    form = client.get(url(SocialAccount, "add")).context["adminform"].form
    assert list(form.fields["workspace"].queryset) == [workspace]
    assert list(form.fields["group"].queryset) == [own_group]
    assert list(form.fields["proxy"].queryset) == [own_proxy]

    search = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "accounts", "model_name": "socialaccount", "field_name": "proxy", "term": ""},
    )
    ids = {row["id"] for row in search.json()["results"]}
    assert ids == {str(own_proxy.pk)}
    assert foreign_proxy.display_url not in search.content.decode()


def test_it_refuses_a_group_of_another_workspace_on_save(client, member, workspace):
    account = SocialAccountFactory(workspace=workspace)
    other_ws = WorkspaceFactory()
    foreign_group = AccountGroupFactory(workspace=other_ws)
    user = member(Role.ADMIN)
    MembershipFactory(user=user, workspace=other_ws, role=Role.ADMIN)
    client.force_login(user)
    data = form_data(client.get(url(SocialAccount, "change", account.pk)))

    response = client.post(url(SocialAccount, "change", account.pk), {**data, "group": foreign_group.pk})

    assert response.status_code == 200
    assert "group" in response.context["adminform"].form.errors
    account.refresh_from_db()
    assert account.group is None


# --- roles ----------------------------------------------------------------------------------


def test_it_lets_a_viewer_look_but_not_change(client, member, workspace):
    account = SocialAccountFactory(workspace=workspace)
    post = PostFactory(workspace=workspace, title="Original")
    client.force_login(member(Role.VIEWER))

    assert client.get(url(SocialAccount, "change", account.pk)).status_code == 200
    assert client.get(url(Post, "change", post.pk)).status_code == 200
    assert client.post(url(Post, "change", post.pk), {"title": "Changed"}).status_code == 403
    assert client.post(url(SocialAccount, "change", account.pk), {"handle": "x"}).status_code == 403
    assert client.post(url(SocialAccount, "add"), {"handle": "x"}).status_code == 403
    assert client.get(url(Post, "add")).status_code == 403
    listing = client.get(url(SocialAccount, "changelist"))
    assert "disable_accounts" not in listing.content.decode()
    response = client.post(
        url(SocialAccount, "changelist"), {"action": "disable_accounts", "_selected_action": [str(account.pk)]}
    )
    account.refresh_from_db()
    assert account.status == "active"
    assert response.status_code == 200
    post.refresh_from_db()
    assert post.title == "Original"


def test_it_lets_an_editor_change_posts_but_not_accounts(client, member, workspace):
    account = SocialAccountFactory(workspace=workspace, handle="keep_me")
    post = PostFactory(workspace=workspace, title="Draft title")
    PostMediaFactory(post=post)
    client.force_login(member(Role.EDITOR))
    data = form_data(client.get(url(Post, "change", post.pk)))

    response = client.post(url(Post, "change", post.pk), {**data, "title": "Edited by editor"})

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    post.refresh_from_db()
    assert post.title == "Edited by editor"
    assert post.media.count() == 1
    assert ActivityLog.objects.filter(action="post.update", post=post).exists()
    assert client.post(url(SocialAccount, "change", account.pk), {"handle": "stolen"}).status_code == 403
    assert client.get(url(SocialAccount, "add")).status_code == 403
    account.refresh_from_db()
    assert account.handle == "keep_me"


def test_it_creates_a_post_with_its_author_and_media_through_the_service(client, member, workspace):
    user = member(Role.EDITOR)
    group = AccountGroupFactory(workspace=workspace)
    first, second = MediaAssetFactory(workspace=workspace), MediaAssetFactory(workspace=workspace)
    client.force_login(user)
    data = form_data(client.get(url(Post, "add")))
    data.update(
        {
            "workspace": workspace.pk,
            "title": "Launch",
            "caption": "We are live",
            "target_groups": [group.pk],
            "media-TOTAL_FORMS": "2",
            "media-0-asset": second.pk,
            "media-0-position": "1",
            "media-1-asset": first.pk,
            "media-1-position": "0",
        }
    )

    response = client.post(url(Post, "add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    post = Post.objects.get(title="Launch")
    assert post.author == user
    assert post.status == PostStatus.DRAFT
    assert list(post.target_groups.all()) == [group]
    assert [m.asset for m in post.media.order_by("position")] == [first, second]


def test_it_makes_a_post_read_only_once_it_is_publishing(client, member, workspace):
    post = PostFactory(workspace=workspace, status=PostStatus.PUBLISHING)
    client.force_login(member(Role.OWNER))

    response = client.get(url(Post, "change", post.pk))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert client.post(url(Post, "change", post.pk), {"title": "x"}).status_code == 403


def test_it_does_not_let_an_admin_grant_the_owner_role(client, member, workspace):
    newcomer = UserFactory(username="newcomer")
    client.force_login(member(Role.ADMIN))

    response = client.post(url(Membership, "add"), {"user": "newcomer", "workspace": workspace.pk, "role": Role.OWNER})

    assert response.status_code == 200
    assert "role" in response.context["adminform"].form.errors
    response = client.post(url(Membership, "add"), {"user": "newcomer", "workspace": workspace.pk, "role": Role.EDITOR})
    assert response.status_code == 302
    assert Membership.objects.get(user=newcomer).role == Role.EDITOR


# --- secrets ----------------------------------------------------------------------------------


@pytest.fixture
def secret_account(workspace):
    proxy = proxy_create(workspace=workspace, url=f"http://u:{PROXY_PASSWORD}@1.2.3.4:8080", max_accounts=3)
    group = AccountGroupFactory(workspace=workspace)
    account = account_create(
        workspace=workspace,
        platform="instagram",
        handle="secretive",
        group=group,
        proxy=proxy,
        credentials={"password": SECRET_PASSWORD},
    )
    account.session = {"cookie": SECRET_SESSION}
    account.save()
    return account


@pytest.mark.parametrize("role", [None, Role.ADMIN, Role.VIEWER])
def test_it_never_renders_secrets(client, member, superuser, secret_account, role):
    client.force_login(superuser if role is None else member(role))
    proxy, group = secret_account.proxy, secret_account.group
    pages = [
        url(SocialAccount, "changelist"),
        url(SocialAccount, "change", secret_account.pk),
        url(SocialAccount, "history", secret_account.pk),
        url(Proxy, "changelist"),
        url(Proxy, "change", proxy.pk),
        url(AccountGroup, "change", group.pk),
        url(AccountEvent, "changelist"),
        url(ActivityLog, "changelist"),
        reverse("admin:autocomplete") + "?app_label=accounts&model_name=socialaccount&field_name=proxy&term=1.2",
    ]
    if role != Role.VIEWER:
        pages += [url(SocialAccount, "delete", secret_account.pk), url(Proxy, "delete", proxy.pk)]

    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        content = response.content.decode()
        for secret in (SECRET_PASSWORD, SECRET_SESSION, PROXY_PASSWORD):
            assert secret not in content, (page, secret)

    change = client.get(url(SocialAccount, "change", secret_account.pk)).content.decode()
    assert "password" in change  # the key's name, not its value
    assert "session stored" in change.lower()


def test_it_updates_credentials_from_the_write_only_field_and_keeps_them_when_blank(client, member, secret_account):
    client.force_login(member(Role.ADMIN))
    page = url(SocialAccount, "change", secret_account.pk)
    data = form_data(client.get(page))
    assert data["new_secret"] == "" and data["credentials_json"] == ""

    response = client.post(page, {**data, "new_secret": "N3w-Password"})

    assert response.status_code == 302
    secret_account.refresh_from_db()
    assert secret_account.credentials == {"password": "N3w-Password"}
    assert secret_account.session == {"cookie": SECRET_SESSION}

    response = client.post(page, {**data, "language": "de"})

    assert response.status_code == 302
    secret_account.refresh_from_db()
    assert secret_account.credentials == {"password": "N3w-Password"}
    assert secret_account.language == "de"

    response = client.post(page, {**data, "credentials_json": '{"totp_seed": "JBSWY3DP"}'})

    assert response.status_code == 302
    secret_account.refresh_from_db()
    assert secret_account.credentials == {"password": "N3w-Password", "totp_seed": "JBSWY3DP"}


def test_it_rejects_invalid_credentials_json_without_echoing_secrets(client, member, secret_account):
    client.force_login(member(Role.ADMIN))
    page = url(SocialAccount, "change", secret_account.pk)
    data = form_data(client.get(page))

    response = client.post(page, {**data, "new_secret": "Typed-Secret-1", "credentials_json": '{"token": "Typed-Secret-2",}'})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["credentials_json"]
    assert "Invalid JSON" in errors[0] and "line 1" in errors[0]
    content = response.content.decode()
    assert "Typed-Secret-1" not in content and "Typed-Secret-2" not in content
    response = client.post(page, {**data, "credentials_json": '["not", "an", "object"]'})
    assert "JSON object" in response.context["adminform"].form.errors["credentials_json"][0]
    secret_account.refresh_from_db()
    assert secret_account.credentials == {"password": SECRET_PASSWORD}


def test_it_creates_accounts_through_the_service(client, member, workspace):
    client.force_login(member(Role.ADMIN))
    data = form_data(client.get(url(SocialAccount, "add")))
    data.update({"workspace": workspace.pk, "platform": "telegram", "handle": " @channel ", "new_secret": "123:ABC"})

    response = client.post(url(SocialAccount, "add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    account = SocialAccount.objects.get(handle="@channel")
    assert account.credentials == {"bot_token": "123:ABC"}
    assert (account.device_id, account.user_agent) == ("", "")  # a device fingerprint is for Instagram only
    assert AccountEvent.objects.filter(account=account, reason="created").exists()
    assert response["Location"] == url(SocialAccount, "changelist")


def test_it_changes_status_through_the_service(client, member, workspace):
    account = SocialAccountFactory(workspace=workspace)
    client.force_login(member(Role.ADMIN))
    data = form_data(client.get(url(SocialAccount, "change", account.pk)))

    response = client.post(url(SocialAccount, "change", account.pk), {**data, "status": "banned", "status_reason": "checkpoint"})

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.status, account.status_reason) == ("banned", "checkpoint")
    event = AccountEvent.objects.get(account=account)
    assert (event.from_status, event.to_status, event.reason) == ("active", "banned", "checkpoint")


def test_it_keeps_the_proxy_url_write_only(client, member, workspace):
    proxy = proxy_create(workspace=workspace, url=f"http://u:{PROXY_PASSWORD}@1.2.3.4:8080")
    ProxyFactory(workspace=workspace, host="5.6.7.8", port=3128)
    client.force_login(member(Role.ADMIN))
    page = url(Proxy, "change", proxy.pk)
    data = form_data(client.get(page))
    assert data["url"] == ""

    assert client.post(page, {**data, "country": "fr"}).status_code == 302
    proxy.refresh_from_db()
    assert proxy.url == f"http://u:{PROXY_PASSWORD}@1.2.3.4:8080"
    assert proxy.country == "FR"

    response = client.post(page, {**data, "url": "ftp://x:y@host:21"})
    assert "not supported" in response.context["adminform"].form.errors["url"][0]
    assert "x:y" not in response.content.decode()

    response = client.post(page, {**data, "url": "http://5.6.7.8:3128"})
    assert response.status_code == 200
    assert "already exists" in str(response.context["adminform"].form.errors)

    assert client.post(page, {**data, "url": "socks5://v:w@9.9.9.9:1080"}).status_code == 302
    proxy.refresh_from_db()
    assert (proxy.scheme, proxy.host, proxy.port, proxy.url) == ("socks5", "9.9.9.9", 1080, "socks5://v:w@9.9.9.9:1080")


def test_it_creates_proxies_through_the_service(client, member, workspace):
    client.force_login(member(Role.ADMIN))

    response = client.post(
        url(Proxy, "add"), {"workspace": workspace.pk, "url": "http://a:b@10.9.8.7:8000", "country": "de", "max_accounts": "2"}
    )

    assert response.status_code == 302
    proxy = Proxy.objects.get(host="10.9.8.7")
    assert (proxy.has_credentials, proxy.country, proxy.max_accounts) == (True, "DE", 2)
    assert ActivityLog.objects.filter(action="proxy.create").exists()
    response = client.post(url(Proxy, "add"), {"workspace": workspace.pk, "url": "", "max_accounts": "1"})
    assert "url" in response.context["adminform"].form.errors


# --- bulk actions -------------------------------------------------------------------------------


def test_it_enables_and_disables_accounts_with_events(client, member, workspace):
    accounts = SocialAccountFactory.create_batch(3, workspace=workspace)
    foreign = SocialAccountFactory()
    client.force_login(member(Role.ADMIN))
    selected = [str(a.pk) for a in accounts[:2]] + [str(foreign.pk)]

    response = client.post(url(SocialAccount, "changelist"), {"action": "disable_accounts", "_selected_action": selected})

    assert response.status_code == 302
    assert set(SocialAccount.objects.filter(status="disabled")) == set(accounts[:2])
    assert AccountEvent.objects.filter(to_status="disabled").count() == 2
    foreign.refresh_from_db()
    assert foreign.status == "active"

    client.post(url(SocialAccount, "changelist"), {"action": "enable_accounts", "_selected_action": selected})

    assert SocialAccount.objects.filter(status="active").count() == 4
    events = AccountEvent.objects.filter(to_status="active", from_status="disabled")
    assert events.count() == 2
    assert all(e.actor is not None for e in events)


def test_it_assigns_a_group_through_an_intermediate_page(client, member, workspace):
    accounts = SocialAccountFactory.create_batch(2, workspace=workspace)
    group = AccountGroupFactory(workspace=workspace, name="Target group")
    AccountGroupFactory(name="Elsewhere group")
    client.force_login(member(Role.ADMIN))
    selected = {"action": "assign_group", "_selected_action": [str(a.pk) for a in accounts]}

    page = client.post(url(SocialAccount, "changelist"), selected)

    assert page.status_code == 200
    assert list(page.context["form"].fields["target"].queryset) == [group]
    assert "Elsewhere group" not in page.content.decode()

    response = client.post(url(SocialAccount, "changelist"), {**selected, "apply": "1", "target": group.pk})

    assert response.status_code == 302
    assert SocialAccount.objects.filter(group=group).count() == 2


def test_it_refuses_to_overfill_a_proxy_and_changes_nothing(client, member, workspace):
    accounts = SocialAccountFactory.create_batch(2, workspace=workspace)
    proxy = ProxyFactory(workspace=workspace, max_accounts=1)
    client.force_login(member(Role.ADMIN))
    selected = {"action": "assign_proxy", "_selected_action": [str(a.pk) for a in accounts]}

    page = client.post(url(SocialAccount, "changelist"), selected)
    assert "0/1 used" in page.content.decode()
    response = client.post(url(SocialAccount, "changelist"), {**selected, "apply": "1", "target": proxy.pk}, follow=True)

    assert any("max_accounts" in m or "allows 1 account" in m for m in messages_of(response))
    assert not SocialAccount.objects.filter(proxy=proxy).exists()


def test_it_refuses_to_assign_across_workspaces(client, member, workspace):
    other_ws = WorkspaceFactory()
    user = member(Role.ADMIN)
    MembershipFactory(user=user, workspace=other_ws, role=Role.ADMIN)
    accounts = [SocialAccountFactory(workspace=workspace), SocialAccountFactory(workspace=other_ws)]
    client.force_login(user)

    response = client.post(
        url(SocialAccount, "changelist"),
        {"action": "assign_group", "_selected_action": [str(a.pk) for a in accounts]},
        follow=True,
    )

    assert any("one workspace" in m for m in messages_of(response))


def test_it_cancels_posts_and_retries_executions(client, member, workspace):
    post = PostFactory(workspace=workspace, status=PostStatus.PUBLISHING)
    queued = ExecutionFactory(post=post, status=ExecutionStatus.QUEUED)
    failed = ExecutionFactory(post=PostFactory(workspace=workspace), status=ExecutionStatus.FAILED)
    done = ExecutionFactory(post=failed.post, status=ExecutionStatus.SUCCESS)
    client.force_login(member(Role.EDITOR))

    client.post(url(Post, "changelist"), {"action": "cancel_posts", "_selected_action": [post.pk]})
    response = client.post(
        url(Execution, "changelist"), {"action": "retry_executions", "_selected_action": [failed.pk, done.pk]}, follow=True
    )

    post.refresh_from_db()
    queued.refresh_from_db()
    failed.refresh_from_db()
    assert post.status == PostStatus.CANCELLED
    assert queued.status == ExecutionStatus.CANCELLED
    assert failed.status == ExecutionStatus.PENDING
    shown = messages_of(response)
    assert any("Retrying 1 execution" in m for m in shown)
    assert any(f"#{done.pk}" in m for m in shown)


def test_it_lets_a_caption_change_only_before_publishing(client, member, workspace):
    pending = ExecutionFactory(post=PostFactory(workspace=workspace), caption="Old")
    failed = ExecutionFactory(post=pending.post, status=ExecutionStatus.FAILED, caption="Old", raw_response={"error": 1})
    client.force_login(member(Role.EDITOR))

    response = client.post(url(Execution, "change", pending.pk), {"caption": "Hand-written"})

    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.caption, pending.caption_edited) == ("Hand-written", True)
    page = client.get(url(Execution, "change", failed.pk))
    assert "caption" not in page.context["adminform"].form.fields
    assert "&quot;error&quot;: 1" in page.content.decode()
    client.post(url(Execution, "change", failed.pk), {"caption": "Nope"})
    failed.refresh_from_db()
    assert failed.caption == "Old"


def test_it_uploads_media_through_the_service(client, member, workspace):
    client.force_login(member(Role.EDITOR))
    upload = SimpleUploadedFile("photo.png", png_bytes(120, 90), content_type="image/png")

    response = client.post(url(MediaAsset, "add"), {"workspace": workspace.pk, "upload": upload})

    assert response.status_code == 302
    asset = MediaAsset.objects.get()
    assert (asset.width, asset.height, asset.status, asset.original_name) == (120, 90, "ready", "photo.png")
    bad = SimpleUploadedFile("notes.txt", b"just text", content_type="text/plain")
    response = client.post(url(MediaAsset, "add"), {"workspace": workspace.pk, "upload": bad})
    assert "Unsupported file type" in response.context["adminform"].form.errors["upload"][0]
    listing = client.get(url(MediaAsset, "changelist")).content.decode()
    assert asset.file.url in listing


def test_it_counts_posts_of_the_last_24_hours(client, superuser, workspace):
    account = SocialAccountFactory(workspace=workspace)
    now = timezone.now()
    for status, finished in [("success", now), ("success", now - timedelta(hours=3)), ("success", now - timedelta(days=2))]:
        ExecutionFactory(post=PostFactory(workspace=workspace), account=account, status=status, finished_at=finished)
    ExecutionFactory(post=PostFactory(workspace=workspace), account=account, status="failed", finished_at=now)
    client.force_login(superuser)

    response = client.get(url(SocialAccount, "changelist"))

    [row] = response.context["cl"].result_list
    assert row.n_posts_24h == 2


# --- constant queries -------------------------------------------------------------------------------


def _queries_for(client, page: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(page)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _bulk_accounts(workspace, count: int, start: int, groups, proxies, posts) -> None:
    accounts = SocialAccount.objects.bulk_create(
        [
            SocialAccount(
                workspace=workspace,
                platform="sandbox",
                handle=f"bulk_{start + i}",
                language=("en", "de", "fr")[i % 3],
                group=groups[i % len(groups)],
                proxy=proxies[i % len(proxies)],
                credentials={"token": "t"},
                status=("active", "cooldown", "banned")[i % 3],
            )
            for i in range(count)
        ]
    )
    now = timezone.now()
    Execution.objects.bulk_create(
        [
            Execution(
                workspace=workspace,
                post=post,
                account=account,
                language="en",
                scheduled_for=now,
                status=ExecutionStatus.SUCCESS,
                finished_at=now,
            )
            for account in accounts
            for post in posts
        ]
    )


def test_it_lists_accounts_with_a_constant_number_of_queries(client, member, workspace):
    groups = AccountGroupFactory.create_batch(3, workspace=workspace)
    proxies = ProxyFactory.create_batch(3, workspace=workspace, max_accounts=1000)
    posts = PostFactory.create_batch(2, workspace=workspace)
    client.force_login(member(Role.ADMIN))
    page = url(SocialAccount, "changelist")
    _bulk_accounts(workspace, 20, 0, groups, proxies, posts)
    client.get(page)

    few = _queries_for(client, page)
    _bulk_accounts(workspace, 1980, 20, groups, proxies, posts)
    many = _queries_for(client, page)

    assert few == many
    assert _queries_for(client, page + "?status__exact=active&o=8") == few


def test_it_lists_posts_and_executions_with_a_constant_number_of_queries(client, member, workspace):
    user = member(Role.ADMIN)
    accounts = SocialAccountFactory.create_batch(3, workspace=workspace)
    client.force_login(user)

    def add_posts(count: int) -> None:
        for _ in range(count):
            post = PostFactory(workspace=workspace, author=user)
            for account in accounts:
                ExecutionFactory(post=post, account=account, status="success", remote_url="https://example.test/p/1")

    add_posts(5)
    for page in (url(Post, "changelist"), url(Execution, "changelist"), url(ActivityLog, "changelist")):
        client.get(page)
    few = {page: _queries_for(client, page) for page in (url(Post, "changelist"), url(Execution, "changelist"))}
    add_posts(200)
    many = {page: _queries_for(client, page) for page in few}

    assert few == many


@pytest.mark.django_db
def test_it_publishes_a_post_from_the_admin_and_reports_blocked_accounts(client, member, workspace):
    from publishing.models import Execution

    from .factories import PostMediaFactory, SocialAccountFactory

    user = member("editor")
    client.force_login(user)
    english = SocialAccountFactory.create_batch(2, workspace=workspace)
    german = SocialAccountFactory(workspace=workspace, language="de", handle="berlin_shop")
    post = PostFactory(workspace=workspace)
    PostMediaFactory(post=post)
    post.target_accounts.set([*english, german])
    url = "/admin/posts/post/"

    preview = client.post(url, {"action": "preview_plans", "_selected_action": [post.pk]}, follow=True)
    text = preview.content.decode()
    assert "would plan 2 executions" in text and "berlin_shop" in text and "No translation provider" in text
    assert not Execution.objects.filter(post=post).exists()

    published = client.post(url, {"action": "publish_posts", "_selected_action": [post.pk]}, follow=True)
    assert "planned 2 executions" in published.content.decode()
    assert Execution.objects.filter(post=post, status="pending").count() == 2
    assert Execution.objects.get(post=post, account=german).status == "blocked"
    post.refresh_from_db()
    assert post.status == "publishing"


@pytest.mark.django_db
def test_it_checks_accounts_and_proxies_from_the_admin(client, member, workspace, settings):
    from .factories import SocialAccountFactory
    from .support.net import dead_proxy

    client.force_login(member("admin"))
    healthy = SocialAccountFactory(workspace=workspace)
    locked_out = SocialAccountFactory(workspace=workspace, options={"fail": "auth_required"})
    response = client.post(
        "/admin/accounts/socialaccount/",
        {"action": "check_accounts", "_selected_action": [healthy.pk, locked_out.pk]},
        follow=True,
    )
    assert response.status_code == 200
    locked_out.refresh_from_db()
    healthy.refresh_from_db()
    assert (healthy.status, locked_out.status) == ("active", "login_required")
    assert "now login required" in response.content.decode()

    proxy = dead_proxy(workspace)
    port = proxy.port
    settings.PROXY_CHECK_TIMEOUT_SECONDS = 2
    response = client.post("/admin/accounts/proxy/", {"action": "check_proxies", "_selected_action": [proxy.pk]}, follow=True)
    proxy.refresh_from_db()
    assert proxy.status == "failed" and proxy.last_check_at is not None
    import re

    notes = re.findall(r'<li class="(?:success|error|warning|info)">(.*?)</li>', response.content.decode())
    assert any(f"://127.0.0.1:{port}: failed" in note and "refused the connection" in note for note in notes), notes


@pytest.mark.django_db
def test_it_imports_a_proxy_list_only_when_every_line_is_valid(client, member, workspace):
    from accounts.models import Proxy

    client.force_login(member("admin"))
    page = client.get("/admin/accounts/proxy/import/")
    assert page.status_code == 200
    bad = client.post(
        "/admin/accounts/proxy/import/",
        {"workspace": workspace.pk, "text": "socks5://a:b@198.51.100.1:1080\nftp://198.51.100.2:21\n", "max_accounts": 1},
    )
    assert bad.status_code == 200 and "line" in bad.content.decode() and "ftp" in bad.content.decode()
    assert not Proxy.objects.filter(workspace=workspace).exists()
    good = client.post(
        "/admin/accounts/proxy/import/",
        {
            "workspace": workspace.pk,
            "text": "# reserve\nsocks5://a:b@198.51.100.1:1080\nhttp://198.51.100.2:3128\n",
            "country": "DE",
            "max_accounts": 2,
        },
    )
    assert good.status_code == 302
    assert set(Proxy.objects.filter(workspace=workspace).values_list("host", "country", "max_accounts")) == {
        ("198.51.100.1", "DE", 2),
        ("198.51.100.2", "DE", 2),
    }
    assert "a:b" not in client.get("/admin/accounts/proxy/").content.decode()
    client.force_login(member("viewer"))
    assert client.get("/admin/accounts/proxy/import/").status_code == 403


@pytest.mark.django_db
def test_it_queues_failed_renditions_again_from_the_admin(client, member, workspace, django_capture_on_commit_callbacks):
    from .factories import RenditionFactory

    failed = RenditionFactory(asset__workspace=workspace, status="failed", error="too long for the profile")
    ready = RenditionFactory(asset__workspace=workspace, profile="image_1x1", status="ready")
    client.force_login(member("viewer"))
    denied = client.post("/admin/media/rendition/", {"action": "render_again", "_selected_action": [failed.pk]})
    assert denied.status_code == 200  # the action is not offered to a viewer: the changelist comes back
    failed.refresh_from_db()
    assert failed.status == "failed"

    client.force_login(member("editor"))
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/admin/media/rendition/", {"action": "render_again", "_selected_action": [failed.pk, ready.pk]}, follow=True
        )
    assert "Queued 1 failed rendition for rendering" in response.content.decode()
    failed.refresh_from_db()
    ready.refresh_from_db()
    assert (failed.status, failed.error, ready.status) == ("pending", "", "ready")
    assert len(callbacks) == 1  # one render task for the asset


def test_it_deletes_only_drafts_and_finished_posts_in_the_admin(client, superuser, workspace):
    client.force_login(superuser)
    draft = PostFactory(workspace=workspace)
    scheduled = PostFactory(workspace=workspace, status=PostStatus.SCHEDULED)
    # Django's own confirmation page first, then the delete through post_delete.
    assert "Are you sure" in client.get(url(Post, "delete", draft.pk)).content.decode()
    client.post(url(Post, "delete", draft.pk), {"post": "yes"})
    assert not Post.objects.filter(pk=draft.pk).exists()
    assert client.get(url(Post, "delete", scheduled.pk)).status_code == 403
    # The bulk action refuses it too (and says why) instead of deleting executions mid-flight.
    response = client.post(
        url(Post, "changelist"), {"action": "delete_selected", "_selected_action": [scheduled.pk], "post": "yes"}, follow=True
    )
    assert response.status_code in (200, 403)
    assert Post.objects.filter(pk=scheduled.pk).exists()
