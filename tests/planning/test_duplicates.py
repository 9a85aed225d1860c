"""The duplicate warning: the same caption and media to the same account within the workspace's
window is planned all the same, and the plan says so on every front door."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, SocialAccount
from bot.handlers.compose import preview_text
from posts.models import Post
from posts.services import content_hash, hash_content, post_create, post_set_media, post_update
from publishing.duplicates import duplicates_for, post_duplicate_warnings
from publishing.models import Execution, ExecutionStatus
from publishing.planner import post_publish

from ..bot.test_texts import catalog, compiled_catalog  # noqa: F401 - fixtures: django.po + pending-*.po
from ..factories import AccountGroupFactory, MediaAssetFactory, PostFactory, PostMediaFactory, SocialAccountFactory

CAPTION = "Summer sale: everything -20% #sale"


@pytest.fixture
def asset(workspace):
    return MediaAssetFactory(workspace=workspace)


@pytest.fixture
def compose(workspace, asset):
    """A draft made by the composer's service (so its content hash is stored), aimed at ``accounts``."""

    def make(accounts, caption=CAPTION, media=None, **fields):
        return post_create(
            workspace=workspace, caption=caption, media=[asset] if media is None else media, target_accounts=accounts, **fields
        )

    return make


def went_out(post, account, *, at, status=ExecutionStatus.SUCCESS) -> Execution:
    """``post``'s execution on ``account``: published at ``at`` or (an open status) planned for then."""
    finished = at if status == ExecutionStatus.SUCCESS else None
    return Execution.objects.create(
        workspace=post.workspace,
        post=post,
        account=account,
        language="en",
        caption=post.caption,
        status=status,
        scheduled_for=at,
        finished_at=finished,
    )


# --- the content hash ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_hashes_the_caption_as_read_and_the_media_in_order(workspace, compose):
    one, two = MediaAssetFactory.create_batch(2, workspace=workspace)
    post = compose([], caption="  Summer   SALE\n today ", media=[one, two])
    assert post.content_hash == hash_content("summer sale today", [one.sha256, two.sha256])
    assert Post.objects.get(pk=post.pk).content_hash == post.content_hash == content_hash(post)
    # The same words with other spacing and case are the same post; other media or order are not.
    both = [one.sha256, two.sha256]
    assert hash_content("summer sale today", both) == hash_content("Summer sale TODAY", both)
    assert hash_content("summer sale today", [two.sha256, one.sha256]) != post.content_hash
    assert hash_content("summer sale today", [one.sha256]) != post.content_hash
    assert hash_content("summer sale tomorrow", [one.sha256, two.sha256]) != post.content_hash


@pytest.mark.django_db
def test_it_updates_the_hash_when_the_caption_or_media_change(workspace, compose):
    post = compose([])
    first = post.content_hash
    post_update(post=post, title="Only the internal name")
    assert Post.objects.get(pk=post.pk).content_hash == first

    post_update(post=post, caption="Another caption")
    stored = Post.objects.get(pk=post.pk).content_hash
    assert stored != first and stored == content_hash(post)

    other = MediaAssetFactory(workspace=workspace)
    post_set_media(post=post, assets=[other])
    assert Post.objects.get(pk=post.pk).content_hash == hash_content("Another caption", [other.sha256])

    post_update(post=post, caption=CAPTION, media=[other])
    assert Post.objects.get(pk=post.pk).content_hash == hash_content(CAPTION, [other.sha256])


@pytest.mark.django_db
def test_it_fills_the_hash_of_older_posts_in_the_data_migration(workspace):
    migration = importlib.import_module("posts.migrations.0007_i18_export_content_hash")
    old = PostFactory.create_batch(3, workspace=workspace, caption="Older  post")
    for post in old:
        PostMediaFactory(post=post)
    text_only = PostFactory(workspace=workspace, caption="No media")
    assert set(Post.objects.values_list("content_hash", flat=True)) == {""}

    migration.BATCH = 2  # several batches
    migration.fill_content_hash(apps, None)

    for post in [*old, text_only]:
        post.refresh_from_db()
        assert post.content_hash == content_hash(post)
    assert len({post.content_hash for post in old}) == 3  # each has its own picture


# --- the warning in the plan -----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_warns_but_plans_when_the_same_content_went_to_the_account_in_the_window(workspace, compose):
    shop, other = SocialAccountFactory(workspace=workspace, handle="berlin_shop"), SocialAccountFactory(workspace=workspace)
    first = compose([shop])
    went_out(first, shop, at=timezone.now() - timedelta(hours=3))

    second = compose([shop, other])
    plan = post_publish(post=second)

    entries = {entry.handle: entry for entry in plan.entries}
    assert entries["berlin_shop"].status == "planned" and entries[other.handle].status == "planned"
    assert len(entries["berlin_shop"].warnings) == 1
    warning = entries["berlin_shop"].warnings[0]
    assert "went to berlin_shop" in warning and f"(post #{first.pk})" in warning and "planned anyway" in warning
    assert entries[other.handle].warnings == []
    assert Execution.objects.filter(post=second, status=ExecutionStatus.PENDING).count() == 2


@pytest.mark.django_db
def test_it_warns_about_a_duplicate_still_waiting_to_go_out(workspace, compose):
    shop = SocialAccountFactory(workspace=workspace, handle="berlin_shop")
    first = compose([shop])
    went_out(first, shop, at=timezone.now() + timedelta(hours=5), status=ExecutionStatus.PENDING)

    plan = post_publish(post=compose([shop]), dry_run=True)

    assert plan.entries[0].status == "planned"
    assert [w for w in plan.entries[0].warnings if "are planned for berlin_shop" in w and f"#{first.pk}" in w]


@pytest.mark.django_db
def test_it_does_not_warn_outside_the_window_or_for_other_content(workspace, compose):
    shop = SocialAccountFactory(workspace=workspace)
    long_ago = compose([shop])
    went_out(long_ago, shop, at=timezone.now() - timedelta(hours=25))  # window 24 h
    other_media = compose([shop], media=[MediaAssetFactory(workspace=workspace)])
    went_out(other_media, shop, at=timezone.now() - timedelta(hours=1))
    other_caption = compose([shop], caption="Another text")
    went_out(other_caption, shop, at=timezone.now() - timedelta(hours=1))
    failed = compose([shop])
    went_out(failed, shop, at=timezone.now() - timedelta(hours=1), status=ExecutionStatus.FAILED)

    plan = post_publish(post=compose([shop]), dry_run=True)

    assert plan.entries[0].status == "planned" and plan.entries[0].warnings == []


@pytest.mark.django_db
def test_it_measures_the_window_from_the_scheduled_time(workspace, compose):
    shop = SocialAccountFactory(workspace=workspace)
    went_out(compose([shop]), shop, at=timezone.now() - timedelta(hours=1))
    later = compose([shop], scheduled_at=timezone.now() + timedelta(hours=30))
    assert post_publish(post=later, dry_run=True).entries[0].warnings == []

    workspace.duplicate_window_hours = 48
    workspace.save()
    assert len(post_publish(post=Post.objects.get(pk=later.pk), dry_run=True).entries[0].warnings) == 1


@pytest.mark.django_db
def test_it_does_not_warn_about_repetitions_of_the_same_post(workspace, compose):
    shop = SocialAccountFactory(workspace=workspace)
    parent = compose([shop])
    went_out(parent, shop, at=timezone.now() - timedelta(hours=2))
    sibling = compose([shop])
    Post.objects.filter(pk=sibling.pk).update(parent=parent, occurrence_at=timezone.now() - timedelta(hours=1))
    went_out(sibling, shop, at=timezone.now() - timedelta(hours=1))
    repetition = compose([shop])
    Post.objects.filter(pk=repetition.pk).update(parent=parent, occurrence_at=timezone.now())
    repetition.refresh_from_db()

    assert post_publish(post=repetition, dry_run=True).entries[0].warnings == []
    # A post of its own with the same content is still a duplicate of all of them.
    assert len(post_publish(post=compose([shop]), dry_run=True).entries[0].warnings) == 2


@pytest.mark.django_db
def test_it_never_warns_when_the_window_is_zero(workspace, compose):
    workspace.duplicate_window_hours = 0
    workspace.save()
    shop = SocialAccountFactory(workspace=workspace)
    went_out(compose([shop]), shop, at=timezone.now() - timedelta(minutes=10))
    post = compose([shop])

    assert post_publish(post=post, dry_run=True).entries[0].warnings == []
    assert duplicates_for(post, [shop.pk], now=timezone.now()) == {}


@pytest.mark.django_db
def test_it_checks_every_account_in_one_query(workspace, compose):
    def queries_for(count: int) -> int:
        group = AccountGroupFactory(workspace=workspace)
        accounts = SocialAccountFactory.create_batch(count, workspace=workspace, group=group)
        earlier = compose(accounts)
        for account in accounts:
            went_out(earlier, account, at=timezone.now() - timedelta(hours=1))
        post = compose([], target_groups=[group])
        with CaptureQueriesContext(connection) as ctx:
            plan = post_publish(post=post, dry_run=True)
        assert all(len(entry.warnings) == 1 for entry in plan.entries) and len(plan.entries) == count
        return len(ctx.captured_queries)

    assert queries_for(2) == queries_for(12)


@pytest.mark.django_db
def test_it_lists_the_duplicates_of_a_published_post(workspace, compose):
    shop = SocialAccountFactory(workspace=workspace, handle="berlin_shop")
    first, second = compose([shop]), compose([shop])
    went_out(first, shop, at=timezone.now() - timedelta(hours=2))
    went_out(second, shop, at=timezone.now() + timedelta(hours=2), status=ExecutionStatus.PENDING)

    warnings = post_duplicate_warnings(second, now=timezone.now())
    assert len(warnings) == 1 and f"#{first.pk}" in warnings[0]
    assert post_duplicate_warnings(compose([shop]), now=timezone.now()) == []  # not published: nothing to compare


# --- on every front door -----------------------------------------------------------------------------


@pytest.fixture
def duplicate(workspace, compose):
    """A draft whose content went to ``berlin_shop`` an hour ago (as post ``first``)."""
    shop = SocialAccountFactory(workspace=workspace, handle="berlin_shop")
    first = compose([shop])
    went_out(first, shop, at=timezone.now() - timedelta(hours=1))
    return {"first": first, "post": compose([shop]), "shop": shop}


@pytest.mark.django_db
def test_it_shows_the_warning_in_the_api_plan(api, duplicate):
    client = api(Role.EDITOR)
    url = f"/api/v1/posts/{duplicate['post'].pk}/publish/"

    dry = client.post(url, {"dry_run": True}, format="json")
    assert dry.status_code == 200, dry.content
    [entry] = dry.json()["accounts"]
    assert entry["status"] == "planned" and f"#{duplicate['first'].pk}" in entry["warnings"][0]

    real = client.post(url, {}, format="json")
    assert real.status_code == 201, real.content
    assert f"#{duplicate['first'].pk}" in real.json()["accounts"][0]["warnings"][0]
    assert Execution.objects.filter(post=duplicate["post"], status=ExecutionStatus.PENDING).count() == 1


@pytest.mark.django_db
def test_it_shows_the_warning_in_the_composer_preview_and_on_the_post_page(client, member, duplicate):
    client.force_login(member(Role.EDITOR))
    post = duplicate["post"]

    preview = client.get(reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1")
    assert preview.status_code == 200
    text = preview.content.decode()
    assert 'data-testid="duplicate-warnings"' in text and f"(post #{duplicate['first'].pk})" in text

    post_publish(post=post)
    page = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
    assert 'data-testid="duplicate-warnings"' in page and f"(post #{duplicate['first'].pk})" in page
    calm = client.get(reverse("dashboard:post", args=[compose_other(duplicate).pk])).content.decode()
    assert 'data-testid="duplicate-warnings"' not in calm


def compose_other(duplicate) -> Post:
    return post_create(workspace=duplicate["post"].workspace, caption="Different", target_accounts=[duplicate["shop"]])


@pytest.mark.django_db
def test_it_shows_the_warning_in_the_admin_publish_message(client, member, duplicate):
    client.force_login(member(Role.EDITOR))
    post = duplicate["post"]

    response = client.post("/admin/posts/post/", {"action": "publish_posts", "_selected_action": [post.pk]}, follow=True)

    text = response.content.decode()
    assert "planned 1 execution" in text and f"(post #{duplicate['first'].pk})" in text
    assert Execution.objects.filter(post=post, status=ExecutionStatus.PENDING).count() == 1


@pytest.mark.django_db
def test_it_shows_the_warning_in_the_bot_preview(duplicate):
    post = duplicate["post"]
    plan = post_publish(post=post, dry_run=True)

    text = preview_text(post.pk, plan, {"caption": post.caption, "lang": "en", "assets": [1]}, "now")

    assert "Possible duplicates" in text and f"(post #{duplicate['first'].pk})" in text
    assert SocialAccount.objects.get(pk=duplicate["shop"].pk).handle in text


@pytest.mark.django_db
@pytest.mark.usefixtures("catalog")
def test_it_speaks_russian_on_the_dashboard_with_the_pending_translations(client, member, duplicate):
    client.force_login(member(Role.EDITOR))
    client.cookies["django_language"] = "ru"
    post = duplicate["post"]

    preview = client.get(reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1").content.decode()
    assert "Возможные повторы" in preview and "Тот же текст и медиа уже ушли в berlin_shop" in preview
    posts = client.get(reverse("dashboard:posts")).content.decode()
    assert "Пост относится ко дню" in posts and "Формат" in posts
    assert "Each post counts" not in posts
