"""Watched sources, RSS/Atom against a loopback feed server: each entry becomes a post exactly once
across repeated polls, a crash between the post and the cursor, and a 304; the repost rules filter
and transform as configured; quiet hours and the daily cap; an auto-publish source publishes to a
group through the sandbox, a draft source waits for review; failed polls back off and the admin
chat hears of a failing source once."""

from datetime import UTC, datetime, time, timedelta

import pytest
from celery import current_app

from crosspost.celery import app as celery_app
from crosspost.periodic import PERIODIC_TASKS
from media.models import MediaAsset
from platforms import base
from posts.models import PipelineStage, Post, PostStatus, Stage, StageStatus
from publishing.models import Execution, ExecutionStatus
from sources import watched
from sources.models import IngestMode, OriginStatus, Source, SourceItem, SourceKind
from sources.watched import due_sources, watched_poll

from .emulators.rss import FeedEmulator
from .factories import AccountGroupFactory, PublishingPolicyFactory, SocialAccountFactory, png_bytes
from .support.engine import drain
from .test_health_notify import AdminBot


@pytest.fixture
def feed():
    with FeedEmulator() as emulator:
        yield emulator


@pytest.fixture
def eager():
    previous, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def run(django_capture_on_commit_callbacks, eager):
    """Run ``work`` and everything it enqueues after commit (tasks run eagerly, as a worker would)."""

    def go(work):
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    return go


@pytest.fixture
def group(workspace):
    PublishingPolicyFactory(workspace=workspace, fast=True)
    made = AccountGroupFactory(workspace=workspace, name="Shops")
    made.accounts.set([SocialAccountFactory(workspace=workspace), SocialAccountFactory(workspace=workspace)])
    return made


def make_source(workspace, feed, group=None, **fields) -> Source:
    fields = {"name": "Shop blog", "kind": SourceKind.RSS, "options": {"url": feed.feed_url}, "secret": {}, **fields}
    source = Source(workspace=workspace, **fields)
    source.full_clean()
    source.save()
    if group is not None:
        source.target_groups.set([group])
    return source


def poll(run, source) -> int:
    source.refresh_from_db()
    return run(lambda: watched_poll(source=source))


def posts_of(source) -> list[Post]:
    return list(Post.objects.filter(origin__source=source).order_by("pk"))


def test_it_makes_each_entry_a_post_once_across_repeated_polls(run, workspace, feed, group):
    source = make_source(workspace, feed, group)
    feed.publish("First", "Hello from the blog")
    feed.publish("Second", "More news")
    assert poll(run, source) == 2
    assert poll(run, source) == 0
    feed.publish("Third", "Later news")
    assert poll(run, source) == 1
    assert poll(run, source) == 0
    posts = posts_of(source)
    assert [p.caption for p in posts] == ["First\n\nHello from the blog", "Second\n\nMore news", "Third\n\nLater news"]
    origin = posts[2].origin
    assert (origin.remote_id, origin.url, origin.status) == ("tag:feeds.test,2026:3", f"{feed.url}/posts/3", OriginStatus.MADE)
    assert list(posts[0].target_groups.all()) == [group]
    assert PipelineStage.objects.get(post=posts[0], stage=Stage.INGEST).status == StageStatus.DONE


def test_it_sends_etag_and_last_modified_and_a_304_makes_nothing(run, workspace, feed, group):
    source = make_source(workspace, feed, group)
    feed.publish("One")
    poll(run, source)
    source.refresh_from_db()
    assert source.cursor["etag"] and source.cursor["modified"]
    assert poll(run, source) == 0
    conditional = feed.feed_requests()[-1]
    assert conditional.headers["If-None-Match"] == source.cursor["etag"]
    assert conditional.headers["If-Modified-Since"] == source.cursor["modified"]
    assert feed.feed_requests()[0].headers["User-Agent"].startswith("Crosspost/1.0")
    assert len(posts_of(source)) == 1


def test_a_poll_that_dies_after_the_post_before_the_cursor_makes_nothing_twice(run, workspace, feed, group, monkeypatch):
    source = make_source(workspace, feed, group)
    feed.publish("Once", "Only once")
    saved = watched.poll_succeeded

    def die(**kwargs):
        raise SystemExit("the worker was killed here")

    monkeypatch.setattr(watched, "poll_succeeded", die)
    with pytest.raises(SystemExit):
        poll(run, source)
    source.refresh_from_db()
    assert source.cursor == {} and len(posts_of(source)) == 1
    monkeypatch.setattr(watched, "poll_succeeded", saved)
    assert poll(run, source) == 0
    assert not feed.feed_requests()[-1].headers.get("If-None-Match")  # the old cursor: the entry came again
    assert len(posts_of(source)) == 1 and SourceItem.objects.filter(source=source).count() == 1


def test_an_atom_feed_with_an_enclosure_becomes_a_photo_post(run, workspace, group):
    with FeedEmulator(atom=True) as feed:
        photo = feed.add_file("drop.png", png_bytes(64, 48), "image/png")
        feed.publish("New drop", "<p>Look <b>at</b> this</p>", media=[photo])
        source = make_source(workspace, feed, group)
        assert poll(run, source) == 1
    post = posts_of(source)[0]
    assert post.caption == "New drop\n\nLook at this"
    assert post.media_type == "photo"
    assert MediaAsset.objects.filter(workspace=workspace).count() == 1


def test_a_broken_media_file_fails_the_item_with_the_reason(run, workspace, feed, group):
    bad = feed.add_file("fake.png", b"not an image at all", "image/png")
    feed.publish("Broken", "Its photo is no photo", media=[bad])
    feed.publish("Fine", "Text only")
    source = make_source(workspace, feed, group)
    assert poll(run, source) == 1
    broken = SourceItem.objects.get(source=source, text__startswith="Broken")
    assert broken.status == OriginStatus.FAILED and broken.post is None
    assert "Unsupported file type" in broken.reason


def test_a_media_server_failure_leaves_the_item_waiting_and_the_next_poll_makes_it(run, workspace, feed, group):
    photo = feed.add_file("late.png", png_bytes(), "image/png")
    feed.publish("Late photo", "x", media=[photo])
    source = make_source(workspace, feed, group)
    feed.fail_files(1)
    assert poll(run, source) == 0
    item = SourceItem.objects.get(source=source)
    assert item.status == OriginStatus.PENDING and "HTTP 500" in item.reason and item.attempts == 1
    source.refresh_from_db()
    assert source.cursor  # the item is stored: the cursor moves on, the item waits
    assert poll(run, source) == 1
    assert SourceItem.objects.get(source=source).status == OriginStatus.MADE


@pytest.mark.parametrize(
    ("rules", "title", "body", "skipped"),
    [
        ({"include": ["sale"]}, "News", "Nothing to buy", "None of the include words"),
        ({"include": ["SALE"]}, "Big Sale", "now", ""),
        ({"exclude": ["giveaway"]}, "Giveaway", "win", "excluded word: giveaway"),
        ({"include_regex": r"\d+%"}, "Discount", "no numbers", "include_regex"),
        ({"exclude_regex": r"^promo"}, "Promo code", "x", "exclude_regex"),
        ({"min_length": 40}, "Short", "", "shorter than min_length 40"),
        ({"require_media": True}, "Text only", "post", "require_media"),
        ({"skip_ads": True}, "Partner", "Реклама. erid: 2Vtzqx", "skip_ads"),
        ({"skip_ads": True}, "Partner", "#ad today", "skip_ads"),
    ],
)
def test_each_rule_filters_as_configured(run, workspace, feed, group, rules, title, body, skipped):
    source = make_source(workspace, feed, group, rules=rules)
    feed.publish(title, body)
    poll(run, source)
    item = SourceItem.objects.get(source=source)
    if skipped:
        assert item.status == OriginStatus.SKIPPED and skipped in item.reason and item.post is None
    else:
        assert item.status == OriginStatus.MADE and item.post is not None


def test_reposts_are_skipped_when_the_rules_say_so(run, workspace, feed, group):
    source = make_source(workspace, feed, group, rules={"skip_reposts": True})
    shared = SourceItem.objects.create(source=source, remote_id="wall-1", text="Shared", is_repost=True)
    own = SourceItem.objects.create(source=source, remote_id="wall-2", text="Own")
    run(lambda: watched.watched_ingest_due(source=source))
    shared.refresh_from_db(), own.refresh_from_db()
    assert shared.status == OriginStatus.SKIPPED and "skip_reposts" in shared.reason
    assert own.status == OriginStatus.MADE


def test_the_transform_renders_the_caption(run, workspace, feed, group):
    rules = {
        "template": "{source}: {text}\n{link}",
        "strip_links": True,
        "strip_hashtags": True,
        "hashtags": ["shop", "#Drops"],
    }
    source = make_source(workspace, feed, group, rules=rules)
    entry = feed.publish("Fresh", "See https://spam.example/x now #old #tags")
    poll(run, source)
    assert posts_of(source)[0].caption == f"Shop blog: Fresh\n\nSee now\n{entry.link}\n\n#shop #Drops"


def test_quiet_hours_schedule_the_post_at_their_end_in_the_workspace_time_zone(run, workspace, feed, group):
    workspace.timezone = "Europe/Moscow"
    workspace.save()
    source = make_source(workspace, feed, group, rules={"quiet_hours": {"start": "23:00", "end": "08:00"}})
    feed.publish("Night post")
    night = datetime(2027, 3, 10, 21, 30, tzinfo=UTC)  # 00:30 in Moscow
    source.refresh_from_db()
    run(lambda: watched_poll(source=source, now=night))
    assert posts_of(source)[0].scheduled_at == datetime(2027, 3, 11, 5, 0, tzinfo=UTC)  # 08:00 in Moscow
    feed.publish("Day post")
    source.refresh_from_db()
    run(lambda: watched_poll(source=source, now=datetime(2027, 3, 11, 9, 0, tzinfo=UTC)))
    assert posts_of(source)[1].scheduled_at is None


def test_the_daily_cap_skips_the_rest_of_the_day_with_the_reason(run, workspace, feed, group):
    source = make_source(workspace, feed, group, rules={"daily_cap": 2})
    for number in range(3):
        feed.publish(f"Post {number}")
    poll(run, source)
    assert len(posts_of(source)) == 2
    capped = SourceItem.objects.get(source=source, status=OriginStatus.SKIPPED)
    assert capped.text == "Post 2" and "Daily cap 2 reached" in capped.reason


def test_an_auto_publish_source_publishes_to_its_group_through_the_sandbox(run, workspace, feed, group):
    source = make_source(workspace, feed, group, mode=IngestMode.PUBLISH)
    feed.publish("Goes out", "by itself")
    poll(run, source)
    for _round in range(5):
        if not run(drain):
            break
    post = posts_of(source)[0]
    post.refresh_from_db()
    assert post.status == PostStatus.COMPLETED
    executions = Execution.objects.filter(post=post)
    assert executions.count() == 2 and set(executions.values_list("status", flat=True)) == {ExecutionStatus.SUCCESS}


def test_a_draft_source_waits_for_review(run, workspace, feed, group):
    source = make_source(workspace, feed, group, mode=IngestMode.DRAFT)
    feed.publish("Review me")
    poll(run, source)
    run(drain)
    post = posts_of(source)[0]
    assert PipelineStage.objects.get(post=post, stage=Stage.PUBLISH).status == StageStatus.REVIEW
    assert Post.objects.get(pk=post.pk).status == PostStatus.DRAFT
    assert not Execution.objects.filter(post=post).exists()


@pytest.fixture
def admin_bot(settings):
    with AdminBot() as emulator:
        from .test_health_notify import BOT_TOKEN

        settings.TELEGRAM_API_BASE_URL = emulator.url
        settings.TELEGRAM_ADMIN_BOT_TOKEN = BOT_TOKEN
        settings.TELEGRAM_ADMIN_CHAT_ID = "-100777"
        yield emulator


def test_failed_polls_back_off_and_the_admin_chat_hears_once(run, workspace, feed, admin_bot, settings):
    settings.SOURCE_FAILING_AFTER = 3
    source = make_source(workspace, feed, poll_interval_s=60)
    feed.fail_next("500", times=5)
    delays = []
    for _attempt in range(5):
        now = datetime.now(UTC)
        with pytest.raises(base.Transient):
            poll(run, source)
        source.refresh_from_db()
        delays.append((source.next_poll_at - now).total_seconds())
    assert source.failures == 5 and source.failing and "HTTP 500" in source.last_error
    for failures, delay in enumerate(delays, start=1):  # the interval doubled per failure, ±10 % jitter
        assert 0.89 * 60 * 2**failures <= delay <= 1.11 * 60 * 2**failures
    assert len(admin_bot.messages) == 1
    assert "Shop blog" in admin_bot.messages[0][1] and "HTTP 500" in admin_bot.messages[0][1]
    feed.publish("Back")
    assert poll(run, source) == 1
    source.refresh_from_db()
    assert (source.failures, source.failing, source.last_error) == (0, False, "")
    assert 54 <= (source.next_poll_at - source.last_polled_at).total_seconds() <= 66  # the interval ±10 %
    feed.fail_next("500", times=3)
    for _attempt in range(3):
        with pytest.raises(base.Transient):
            poll(run, source)
    assert len(admin_bot.messages) == 2  # failing again after recovering: told again


def test_backoff_is_capped_at_six_hours(run, workspace, feed):
    source = make_source(workspace, feed, poll_interval_s=3600)
    feed.fail_next("500", times=4)
    for _attempt in range(4):
        with pytest.raises(base.Transient):
            poll(run, source)
    source.refresh_from_db()
    assert source.next_poll_at - source.last_polled_at <= timedelta(hours=6, minutes=36)


def test_a_garbled_feed_is_a_clear_error_on_the_source(run, workspace, feed):
    source = make_source(workspace, feed)
    feed.fail_next("garbled")
    with pytest.raises(base.ContentRejected):
        poll(run, source)
    source.refresh_from_db()
    assert "is not an RSS or Atom feed" in source.last_error and "check options.url" in source.last_error


def test_the_beat_polls_only_due_sources(run, workspace, feed, group):
    assert any(p.task == "sources.tasks.poll_watched_sources" and p.queue == "ingest" for p in PERIODIC_TASKS)
    due = make_source(workspace, feed, group)
    later = make_source(workspace, feed, group, name="Later")
    Source.objects.filter(pk=later.pk).update(next_poll_at=datetime.now(UTC) + timedelta(minutes=5))
    feed.publish("Beat")
    assert list(due_sources()) == [due]
    counts = run(lambda: current_app.tasks["sources.tasks.poll_watched_sources"].apply().get())
    assert counts == {"sources": 1, "posts": 1, "errors": 0}
    assert due_sources().count() == 0


def test_options_and_rules_are_validated_with_clear_errors(workspace, feed):
    from django.core.exceptions import ValidationError

    source = Source(workspace=workspace, name="Bad", kind=SourceKind.RSS, options={"url": "ftp://x"}, secret={})
    source.rules = {"include_regex": "(", "template": "{text} {author}", "daily_cap": 0, "quiet_hours": {"start": "25:00"}}
    with pytest.raises(ValidationError) as caught:
        source.full_clean()
    errors = caught.value.message_dict
    assert "options.url" in errors["options"][0]
    rules = errors["rules"][0]
    assert "include_regex is not a valid regular expression" in rules
    assert "not {author}" in rules and "daily_cap must be a whole number" in rules and "quiet_hours must be" in rules


def test_quiet_hours_spanning_midnight_parse():
    from sources.rules import quiet_hours

    assert quiet_hours({"quiet_hours": {"start": "23:00", "end": "08:00"}}) == (time(23), time(8))


# --- interfaces: the origin shown, options and rules validated ---------------------------------------


def test_the_api_shows_the_origin_and_what_each_source_found(run, api, workspace, feed, group):
    from accounts.models import Role

    source = make_source(workspace, feed, group, rules={"exclude": ["skip"]})
    entry = feed.publish("Kept")
    feed.publish("Please skip me")
    poll(run, source)
    client = api(Role.VIEWER, workspace)
    post = posts_of(source)[0]
    body = client.get(f"/api/v1/posts/{post.pk}/").json()
    assert body["origin"] == {"source": source.pk, "remote_id": entry.guid, "url": entry.link}
    items = client.get(f"/api/v1/source-items/?source={source.pk}").json()["results"]
    assert {(i["status"], i["reason"]) for i in items} == {
        ("made", ""),
        ("skipped", "The text has an excluded word: skip."),
    }


def test_the_api_creates_an_rss_source_without_a_bot_token_and_says_what_is_wrong(api, workspace, feed):
    from accounts.models import Role

    client = api(Role.ADMIN, workspace)
    bad = client.post(
        "/api/v1/sources/",
        {"name": "Blog", "kind": "rss", "options": {"url": "not a url"}, "rules": {"exclude_regex": "[", "colour": 1}},
        format="json",
    )
    assert bad.status_code == 400
    errors = bad.json()
    assert "options.url" in errors["options"][0]
    rules = errors["rules"][0]
    assert "exclude_regex is not a valid regular expression" in rules and "Unknown rules: colour" in rules
    good = client.post(
        "/api/v1/sources/",
        {"name": "Blog", "kind": "rss", "options": {"url": feed.feed_url}, "rules": {"daily_cap": 3}, "poll_interval_s": 600},
        format="json",
    )
    assert good.status_code == 201, good.content
    assert good.json()["poll_interval_s"] == 600 and good.json()["has_bot_token"] is False
    too_often = client.patch(f"/api/v1/sources/{good.json()['id']}/", {"poll_interval_s": 10}, format="json")
    assert too_often.status_code == 400 and "poll_interval_s" in too_often.json()


def test_the_api_refuses_an_account_of_another_workspace_or_platform(api, workspace, feed):
    from accounts.models import Role

    from .factories import WorkspaceFactory

    client = api(Role.ADMIN, workspace)
    stranger = SocialAccountFactory(workspace=WorkspaceFactory())
    response = client.post(
        "/api/v1/sources/",
        {"name": "Blog", "kind": "rss", "options": {"url": feed.feed_url}, "account": stranger.pk},
        format="json",
    )
    assert response.status_code == 400 and "account" in response.json()


def test_the_admin_shows_the_origin_on_the_post_and_the_reason_on_the_item(run, client, member, workspace, feed, group):
    from django.urls import reverse

    from accounts.models import Role

    source = make_source(workspace, feed, group, rules={"min_length": 20})
    feed.publish("A long enough title for the rule")
    feed.publish("Short")
    poll(run, source)
    client.force_login(member(Role.ADMIN))
    post = posts_of(source)[0]
    page = client.get(reverse("admin:posts_post_change", args=[post.pk])).content.decode()
    assert "tag:feeds.test,2026:1" in page and f"{feed.url}/posts/1" in page
    skipped = SourceItem.objects.get(source=source, status=OriginStatus.SKIPPED)
    page = client.get(reverse("admin:sources_sourceitem_change", args=[skipped.pk])).content.decode()
    assert "shorter than min_length 20" in page
    assert client.get(reverse("admin:sources_sourceitem_changelist")).status_code == 200
    assert client.get(reverse("admin:sources_source_change", args=[source.pk])).status_code == 200


def test_the_admin_form_validates_rules(client, member, workspace, feed):
    from django.urls import reverse

    from accounts.models import Role

    client.force_login(member(Role.ADMIN))
    data = {
        "workspace": workspace.pk,
        "name": "Blog",
        "kind": "rss",
        "enabled": "on",
        "options": f'{{"url": "{feed.feed_url}"}}',
        "mode": "draft",
        "caption_mode": "original",
        "language": "en",
        "priority": "normal",
        "rules": '{"template": "{title}"}',
        "poll_interval_s": "300",
    }
    response = client.post(reverse("admin:sources_source_add"), data)
    assert response.status_code == 200
    assert "template knows {text}, {link} and {source} only, not {title}" in response.content.decode()
    data["rules"] = '{"template": "{text}\\n{link}"}'
    response = client.post(reverse("admin:sources_source_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Source.objects.get(name="Blog").rules == {"template": "{text}\n{link}"}


def test_the_dashboard_shows_what_a_source_found_and_the_posts_origin(run, client, member, workspace, feed, group):
    from django.urls import reverse

    from accounts.models import Role

    source = make_source(workspace, feed, group, rules={"require_media": True})
    feed.publish("Text only")
    poll(run, source)
    client.force_login(member(Role.VIEWER))
    page = client.get(reverse("dashboard:source", args=[source.pk])).content.decode()
    assert "No photo or video (require_media)." in page and 'data-testid="source-items"' in page
    Source.objects.filter(pk=source.pk).update(rules={})
    SourceItem.objects.filter(source=source).update(status=OriginStatus.PENDING, reason="")
    source.refresh_from_db()
    run(lambda: watched.watched_ingest_due(source=source))
    post = posts_of(source)[0]
    page = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
    assert 'data-testid="origin"' in page and "tag:feeds.test,2026:1" in page and source.name in page


def test_the_dashboard_polls_a_watched_source_now(run, client, member, workspace, feed, group):
    from django.urls import reverse

    from accounts.models import Role

    source = make_source(workspace, feed, group)
    feed.publish("Now")
    client.force_login(member(Role.ADMIN))
    response = run(lambda: client.post(reverse("dashboard:source-poll", args=[source.pk]), follow=True))
    assert "1 post made." in response.content.decode()
    assert len(posts_of(source)) == 1


def test_the_dashboard_creates_and_edits_an_rss_source_and_names_bad_rules(client, member, workspace, feed):
    from django.urls import reverse

    from accounts.models import Role

    client.force_login(member(Role.ADMIN))
    data = {
        "workspace": workspace.pk,
        "name": "Blog",
        "kind": "rss",
        "chat_id": "",
        "bot_token": "",
        "options": f'{{"url": "{feed.feed_url}"}}',
        "account": "",
        "rules": '{"include_regex": "("}',
        "poll_interval_s": "600",
        "language": "en",
        "mode": "publish",
        "caption_mode": "original",
        "caption_template": "",
        "priority": "normal",
        "window_start": "",
        "window_end": "",
    }
    response = client.post(reverse("dashboard:source-new"), data)
    assert response.status_code == 400
    assert "include_regex is not a valid regular expression" in response.content.decode()
    response = client.post(reverse("dashboard:source-new"), {**data, "rules": '{"daily_cap": 5}'})
    assert response.status_code == 302, response.content.decode()[:3000]
    source = Source.objects.get(name="Blog")
    assert (source.kind, source.options, source.rules, source.poll_interval_s) == (
        "rss",
        {"url": feed.feed_url},
        {"daily_cap": 5},
        600,
    )
    assert source.bot_token == ""
    edit = client.get(reverse("dashboard:source-edit", args=[source.pk]))
    assert edit.status_code == 200 and feed.feed_url in edit.content.decode()
    response = client.post(reverse("dashboard:source-edit", args=[source.pk]), {**data, "rules": "", "name": "Blog 2"})
    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.name, source.rules, source.kind) == ("Blog 2", {}, "rss")


def test_a_slow_feed_times_out_as_a_transient_error_and_backs_off(run, workspace, feed, settings):
    settings.HTTP_TIMEOUT_SECONDS = 0.5
    feed.slow_seconds = 2
    source = make_source(workspace, feed)
    feed.fail_next("slow")
    with pytest.raises(base.Transient):
        poll(run, source)
    source.refresh_from_db()
    assert source.failures == 1 and "Network error" in source.last_error and source.next_poll_at > source.last_polled_at


def test_the_api_polls_a_watched_source_now(run, api, workspace, feed, group):
    from accounts.models import Role

    source = make_source(workspace, feed, group)
    feed.publish("Via the API")
    client = api(Role.ADMIN, workspace)
    response = run(lambda: client.post(f"/api/v1/sources/{source.pk}/poll/"))
    assert response.status_code == 200 and response.json() == {"posts": 1}
    feed.fail_next("garbled")
    response = run(lambda: client.post(f"/api/v1/sources/{source.pk}/poll/"))
    assert response.status_code == 400 and "is not an RSS or Atom feed" in response.json()["detail"]
    assert api(Role.EDITOR, workspace).post(f"/api/v1/sources/{source.pk}/poll/").status_code == 403


# --- a VK wall, through a VK account (the loopback VK API's wall.get) --------------------------------


@pytest.fixture
def vk_wall(settings, monkeypatch):
    from platforms.feeds.vk_wall import VkWallFetcher

    from .emulators.vk import VkEmulator

    monkeypatch.setattr(VkWallFetcher, "call_interval", 0)  # VK's 3 requests/s do not apply to the emulator
    with VkEmulator() as emulator:
        settings.VK_API_BASE_URL = f"{emulator.url}/method"
        emulator.add_user(100, "vk1.a.reader-token-never-leaks")
        emulator.add_group(1, "Source Community", "sourceclub")
        yield emulator


def test_a_vk_wall_source_makes_each_new_wall_post_a_post_once_even_across_a_crash(run, workspace, group, vk_wall, monkeypatch):
    reader = SocialAccountFactory(
        workspace=workspace, platform="vk", credentials={"access_token": "vk1.a.reader-token-never-leaks"}
    )
    vk_wall.add_wall_post(-1, "Before the source existed")
    source = Source(
        workspace=workspace, name="Community wall", kind=SourceKind.VK_WALL, options={"owner_id": -1}, secret={}, account=reader
    )
    source.full_clean()
    source.save()
    source.target_groups.set([group])

    assert poll(run, source) == 0  # connecting a wall does not repost its history
    first = vk_wall.add_wall_post(-1, "New collection is in")
    vk_wall.add_wall_post(-1, "Shared from elsewhere", copy_history=[{"id": 5, "owner_id": -2, "text": "theirs"}])
    assert poll(run, source) == 2
    assert poll(run, source) == 0

    vk_wall.add_wall_post(-1, "Weekend sale")
    saved = watched.poll_succeeded
    monkeypatch.setattr(watched, "poll_succeeded", lambda **kwargs: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        poll(run, source)  # the post is committed, the cursor is not
    monkeypatch.setattr(watched, "poll_succeeded", saved)
    assert poll(run, source) == 0  # the same wall post again: nothing new

    posts = posts_of(source)
    assert [p.caption.splitlines()[0] for p in posts] == ["New collection is in", "Shared from elsewhere", "Weekend sale"]
    assert posts[0].origin.url == f"https://vk.com/wall-1_{first['id']}"
    assert SourceItem.objects.filter(source=source).count() == 3
    gets = [r for r in vk_wall.requests if r.path == "/method/wall.get"]
    assert gets and all(r.form["access_token"] == ["vk1.a.reader-token-never-leaks"] for r in gets)
