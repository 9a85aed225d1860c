"""The bot's Review, Accounts, Settings and Admin sections, each through a whole conversation."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountEvent, AccountStatus, ProxyStatus, Role
from bot.models import TelegramLink
from crosspost.models import ActivityLog
from posts.models import MediaType, PipelineStage, PostStatus, Stage, StageStatus
from posts.pipeline import pipeline_open, stage_wait_for_review
from publishing.models import Execution, ExecutionStatus
from sources.models import IngestRecord, Source

from ..factories import (
    AccountGroupFactory,
    ExecutionFactory,
    MembershipFactory,
    PostFactory,
    ProxyFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    WorkspaceFactory,
)
from ..support.bot import running_bot
from ..support.stack import wait_for
from .conftest import answer_to, labels

pytestmark = pytest.mark.django_db(transaction=True)


# --- review -------------------------------------------------------------------------------------------------


def draft_for_review(workspace, caption: str, group):
    """A source's text draft whose pipeline stopped at the publish stage, waiting for review."""
    source = Source.objects.get_or_create(
        workspace=workspace, name="Drops", defaults={"options": {"chat_id": "-1001234567890"}, "secret": {"bot_token": "1:x"}}
    )[0]
    post = PostFactory(workspace=workspace, title="", caption=caption, media_type=MediaType.TEXT, status=PostStatus.DRAFT)
    post.target_groups.set([group])
    IngestRecord.objects.create(source=source, chat_id=-1001234567890, key=f"m{post.pk}", post=post)
    pipeline_open(post=post, ingest_started_at=timezone.now())
    PipelineStage.objects.filter(post=post).exclude(stage=Stage.PUBLISH).exclude(stage=Stage.FINALIZE).update(
        status=StageStatus.DONE
    )
    stage_wait_for_review(post_id=post.pk, stage=Stage.PUBLISH, note="The draft waits for an operator to review and publish it.")
    return post


def test_an_editor_approves_edits_and_rejects_drafts_waiting_for_review(telegram, linked, member, workspace):
    editor = member(Role.EDITOR)
    group = AccountGroupFactory(workspace=workspace, name="Shops")
    SocialAccountFactory(workspace=workspace, group=group, handle="shop_one")
    PublishingPolicyFactory(workspace=workspace, fast=True)
    first = draft_for_review(workspace, "New arrivals this week", group)
    second = draft_for_review(workspace, "Winter sale starts", group)
    PostFactory(workspace=workspace, caption="Hand-made draft")  # composed by hand: not a review item
    with running_bot(telegram) as bot:
        olga = linked(bot, editor)
        olga.say("/review")
        queue = olga.wait_reply()
        assert queue["text"].startswith("Drafts waiting for review: 2")
        assert "Hand-made" not in queue["text"]
        assert f"#{first.pk} New arrivals this week · Drops · media 0, targets 1" in queue["text"]

        # Edit the caption: a blank one is refused with the reason, then a good one is saved.
        olga.tap(queue, f"ra:{second.pk}:open")
        card = olga.wait_edit(queue, lambda t: "Source: Drops" in t)
        assert "Winter sale starts" in card["text"] and "Targets: Shops" in card["text"] and "Media: 0" in card["text"]
        olga.tap_label(card, "Edit caption")
        olga.wait_edit(card, lambda t: t.startswith(f"Send the new caption of #{second.pk}"))
        olga.say("   ")
        assert "A text post needs a caption." in olga.wait_reply(contains="not saved")["text"]
        olga.say("Winter sale starts Monday")
        edited = olga.wait_reply(contains="Caption saved.")
        assert "Winter sale starts Monday" in edited["text"]
        second.refresh_from_db()
        assert second.caption == "Winter sale starts Monday"

        # Reject asks first, then cancels the draft (it stays in the history).
        olga.tap_label(edited, "Reject")
        confirm = olga.wait_edit(edited, lambda t: t.startswith(f"Reject draft #{second.pk}"))
        olga.tap_label(confirm, "Yes, reject")
        olga.wait_edit(confirm, lambda t: t == f"Draft #{second.pk} rejected.")

        # Approve and publish: the executions are planned and the pipeline's wait ends.
        olga.say("/review")
        queue = olga.wait_reply()
        assert queue["text"].startswith("Drafts waiting for review: 1")
        olga.tap(queue, f"ra:{first.pk}:open")
        card = olga.wait_edit(queue, lambda t: "New arrivals" in t and "Source:" in t)
        answer = answer_to(olga, card, f"ra:{first.pk}:approve")
        assert answer["text"] == f"#{first.pk}: Approved: publishing to 1 account(s); 0 blocked."
        olga.wait_edit(card, lambda t: "Approved: publishing to 1 account(s)" in t)
        # The approved draft has left the queue: its buttons are out of date.
        answer = answer_to(olga, card, f"ra:{first.pk}:open", forged=True)
        assert "no longer waits for review" in answer["text"]
    second.refresh_from_db()
    assert second.status == PostStatus.CANCELLED
    assert Execution.objects.filter(post=first, status=ExecutionStatus.PENDING).count() == 1
    assert PipelineStage.objects.get(post=first, stage=Stage.PUBLISH).status == StageStatus.DONE
    assert {log.action for log in ActivityLog.objects.filter(actor=editor, action__startswith="bot.review")} == {
        "bot.review.approve",
        "bot.review.edit_caption",
        "bot.review.reject",
    }
    assert not bot.errors


def test_review_is_for_editors_and_their_workspaces(telegram, linked, member, workspace):
    viewer = member(Role.VIEWER)
    editor = member(Role.EDITOR)
    group = AccountGroupFactory(workspace=workspace)
    ours = draft_for_review(workspace, "Ours", group)
    elsewhere = WorkspaceFactory()
    theirs = draft_for_review(elsewhere, "Theirs", AccountGroupFactory(workspace=elsewhere))
    with running_bot(telegram) as bot:
        vera = linked(bot, viewer)
        vera.say("/review")
        assert "editor role" in vera.wait_reply()["text"]
        vera.say("/menu")
        menu = vera.wait_reply()
        assert not any("Review" in label for label in labels(vera, menu))
        answer = answer_to(vera, menu, f"ra:{ours.pk}:approve", forged=True)
        assert answer["show_alert"] and "editor role" in answer["text"]

        olga = linked(bot, editor)
        olga.say("/review")
        queue = olga.wait_reply()
        assert "Theirs" not in queue["text"]
        answer = answer_to(olga, queue, f"ra:{theirs.pk}:approve", forged=True)
        assert answer["text"].startswith("Post not found")
    assert not Execution.objects.exists()
    assert {ours.status, theirs.status} == {PostStatus.DRAFT}


# --- accounts -----------------------------------------------------------------------------------------------


def test_an_admin_pauses_resumes_and_checks_a_problem_account(telegram, linked, member, workspace):
    admin = member(Role.ADMIN)
    locked_out = SocialAccountFactory(
        workspace=workspace, handle="locked_out", status=AccountStatus.LOGIN_REQUIRED, status_reason="Sandbox: login expired"
    )
    resting = SocialAccountFactory(
        workspace=workspace,
        handle="resting",
        status=AccountStatus.COOLDOWN,
        status_reason="rate limited",
        cooldown_until=datetime(2031, 1, 15, 12, 30, tzinfo=UTC),
    )
    SocialAccountFactory(workspace=workspace, handle="healthy")
    with running_bot(telegram) as bot:
        anna = linked(bot, admin)
        anna.say("/accounts")
        listing = anna.wait_reply()
        text = listing["text"]
        assert "locked_out · Login required" in text and "Sandbox: login expired" in text
        # Cooldowns are shown in the member's time zone (the workspace's: Europe/Berlin).
        assert "cooldown until 15.01.2031 13:30 (CET)" in text
        assert "healthy" not in text

        anna.tap(listing, f"ac:{locked_out.pk.hex}:open")
        card = anna.wait_edit(listing, lambda t: "Status: Login required" in t)
        assert {"⏸ Pause", "🩺 Run a check"} <= set(labels(anna, card))

        anna.tap_label(card, "Pause")
        card = anna.wait_edit(card, lambda t: t.startswith("Paused"))
        locked_out.refresh_from_db()
        assert locked_out.status == AccountStatus.DISABLED
        anna.tap_label(card, "Resume")
        card = anna.wait_edit(card, lambda t: t.startswith("Resumed"))
        locked_out.refresh_from_db()
        assert locked_out.status == AccountStatus.ACTIVE

        anna.tap_label(card, "Run a check")
        card = anna.wait_edit(card, lambda t: t.startswith("Check passed"))
    locked_out.refresh_from_db()
    assert locked_out.last_check_at is not None
    assert list(AccountEvent.objects.filter(account=locked_out).order_by("pk").values_list("to_status", flat=True)) == [
        "disabled",
        "active",
    ]
    actions = list(ActivityLog.objects.filter(actor=admin, action__startswith="bot.account").values_list("action", flat=True))
    assert sorted(actions) == ["bot.account.check", "bot.account.pause", "bot.account.resume"]
    assert resting.status == AccountStatus.COOLDOWN


def test_an_editor_sees_problem_accounts_but_cannot_pause_them(telegram, linked, member, workspace):
    editor = member(Role.EDITOR)
    banned = SocialAccountFactory(workspace=workspace, handle="gone", status=AccountStatus.BANNED, status_reason="banned")
    stranger = SocialAccountFactory(workspace=WorkspaceFactory(), handle="stranger", status=AccountStatus.BANNED)
    with running_bot(telegram) as bot:
        olga = linked(bot, editor)
        olga.say("/accounts")
        listing = olga.wait_reply()
        assert "gone" in listing["text"] and "stranger" not in listing["text"]
        olga.tap(listing, f"ac:{banned.pk.hex}:open")
        card = olga.wait_edit(listing, lambda t: "Status: Banned" in t)
        assert not any("Pause" in label or "check" in label for label in labels(olga, card))
        for act in ("pause", "check"):
            answer = answer_to(olga, card, f"ac:{banned.pk.hex}:{act}", forged=True)
            assert answer["show_alert"] and "admin role" in answer["text"]
        answer = answer_to(olga, card, f"ac:{stranger.pk.hex}:open", forged=True)
        assert answer["text"].startswith("Account not found")
    banned.refresh_from_db()
    assert banned.status == AccountStatus.BANNED and banned.last_check_at is None


# --- settings -----------------------------------------------------------------------------------------------


def test_settings_switch_the_language_and_keep_notifications_and_default_groups(telegram, linked, member, workspace):
    editor = member(Role.EDITOR)
    shops = AccountGroupFactory(workspace=workspace, name="Shops")
    AccountGroupFactory(workspace=workspace, name="Blogs")
    watched = WorkspaceFactory()
    MembershipFactory(user=editor, workspace=watched, role=Role.VIEWER)
    AccountGroupFactory(workspace=watched, name="Not mine to post")  # viewer there: not offered
    with running_bot(telegram) as bot:
        olga = linked(bot, editor)
        olga.say("/settings")
        screen = olga.wait_reply()
        assert "Language: English" in screen["text"]

        olga.tap_label(screen, "A post finished")
        screen = olga.wait_edit(screen, lambda t: t.startswith("On: A post finished."))
        olga.tap_label(screen, "An account needs attention")
        screen = olga.wait_edit(screen, lambda t: t.startswith("On: An account needs attention."))
        olga.tap_label(screen, "A post finished")
        screen = olga.wait_edit(screen, lambda t: t.startswith("Off: A post finished."))
        assert "✓ An account needs attention" in labels(olga, screen)
        assert TelegramLink.objects.get(user=editor).notify == ["account_problem"]

        olga.tap_label(screen, "Default groups")
        groups = olga.wait_edit(screen, lambda t: t.startswith("Default groups:"))
        assert not any("Not mine" in label for label in labels(olga, groups))
        olga.tap_label(groups, "Shops")
        groups = olga.wait_edit(groups, lambda t: t.startswith("Added: Shops."))
        assert "✓ Shops" in labels(olga, groups)
        assert list(TelegramLink.objects.get(user=editor).default_groups.all()) == [shops]
        olga.tap_label(groups, "Back")
        screen = olga.wait_edit(groups, lambda t: "Default groups for a new post: Shops" in t)

        # Russian from the next screen on: the shared texts already translated show it (Back, the menu).
        olga.tap_label(screen, "Русский")
        screen = olga.wait_edit(screen, lambda t: ": Русский" in t)
        assert TelegramLink.objects.get(user=editor).language == "ru"
        olga.tap(screen, "se:groups:")
        groups = olga.wait_edit(screen, lambda t: ": Русский" not in t)  # the groups screen has no language line
        assert "← Назад" in labels(olga, groups)
        olga.tap(groups, "menu:menu")
        olga.wait_edit(groups, lambda t: t == "Crosspost — что сделать?")
    link = TelegramLink.objects.get(user=editor)
    assert link.notify == ["account_problem"] and list(link.default_groups.all()) == [shops]
    assert ActivityLog.objects.filter(actor=editor, action="bot.settings.language").count() == 1


# --- admin --------------------------------------------------------------------------------------------------


def test_the_admin_section_is_refused_to_non_admins(telegram, linked, member):
    editor = member(Role.EDITOR)
    with running_bot(telegram) as bot:
        olga = linked(bot, editor)
        olga.say("/admin")
        assert "admin role" in olga.wait_reply()["text"]
        olga.say("/menu")
        menu = olga.wait_reply()
        assert not any("Admin" in label for label in labels(olga, menu))
        answer = answer_to(olga, menu, "menu:admin", forged=True)
        assert answer["show_alert"] and "admin role" in answer["text"]
        assert olga.current(menu)["text"] == menu["text"]


def test_an_admin_sees_numbers_queues_failing_proxies_and_heartbeats(telegram, linked, member, workspace):
    admin = member(Role.ADMIN)
    watched = WorkspaceFactory()
    MembershipFactory(user=admin, workspace=watched, role=Role.EDITOR)  # not counted: editor there
    post = PostFactory(workspace=workspace, status=PostStatus.PUBLISHING)
    ExecutionFactory(post=post, status=ExecutionStatus.SUCCESS, finished_at=timezone.now())
    ExecutionFactory(post=post, status=ExecutionStatus.FAILED, finished_at=timezone.now())
    ExecutionFactory(post=post, status=ExecutionStatus.PENDING, scheduled_for=timezone.now() - timedelta(minutes=1))
    ExecutionFactory(post=post, status=ExecutionStatus.PENDING, scheduled_for=timezone.now() + timedelta(hours=2))
    ExecutionFactory(post=PostFactory(workspace=watched), status=ExecutionStatus.FAILED)
    SocialAccountFactory(workspace=workspace, status=AccountStatus.BANNED)
    ProxyFactory(
        workspace=workspace,
        host="10.9.9.9",
        url="http://proxyuser:Sup3rSecret@10.9.9.9:8080",
        status=ProxyStatus.FAILED,
        last_error="ProxyError: http://proxyuser:Sup3rSecret@10.9.9.9:8080 refused",
        last_check_at=timezone.now(),
    )
    with running_bot(telegram) as bot:
        anna = linked(bot, admin)
        anna.say("/menu")
        menu = anna.wait_reply()
        anna.tap_label(menu, "Admin")
        screen = anna.wait_edit(menu, lambda t: t.startswith("Admin overview"))
        text = screen["text"]
        assert "Admin overview (1 workspace(s) you administer)" in text
        assert "Posts published: today 1, 7 days 1" in text
        assert "Executions: 2 waiting, 1 failed, 0 blocked" in text
        assert "Accounts needing action: 1" in text
        assert "Queue: 1 due now, 0 publishing now, 0 renders waiting" in text
        assert "🌐 http://10.9.9.9:8080" in text and "Sup3rSecret" not in text
        assert "worker: never seen" in text and "beat: never seen" in text
        answer = answer_to(anna, screen, "menu:admin")  # Refresh: nothing changed, nothing breaks
        assert not answer["show_alert"]
    assert not bot.errors


def test_a_slow_platform_check_holds_up_only_the_member_who_asked(telegram, linked, member, workspace, settings):
    """The check waits on the platform in a pooled thread, not in the ORM thread every member's
    screens share: another member is served while it waits."""
    settings.TELEGRAM_API_BASE_URL = telegram.url
    channel_token = "7056789012:AAHchannelBot-slow-platform"
    telegram.add_bot(channel_token, username="shop_poster_bot")
    telegram.add_chat(title="Shop", username="slow_shop", admins=[channel_token])
    account = SocialAccountFactory(
        workspace=workspace,
        platform="telegram",
        handle="@slow_shop",
        credentials={"bot_token": channel_token},
        options={"chat_id": "@slow_shop"},
        status=AccountStatus.LOGIN_REQUIRED,
        status_reason="token revoked?",
    )
    with running_bot(telegram) as bot:
        anna, boris = linked(bot, member(Role.ADMIN)), linked(bot, member(Role.VIEWER))
        anna.say("/accounts")
        listing = anna.wait_reply()
        anna.tap(listing, f"ac:{account.pk.hex}:open")
        card = anna.wait_edit(listing, lambda t: "Status: Login required" in t)
        telegram.fail_next({"stall": 4.0, "after": True, "method": "getMe"})  # the platform answers in 4 s
        anna.tap_label(card, "Run a check")
        wait_for(lambda: any(r.path.endswith("/getMe") and channel_token in r.path for r in telegram.requests), 10)
        boris.say("/menu")
        boris.wait_reply()  # served while Anna's check still waits on the platform
        assert not anna.current(card)["text"].startswith("Check")
        anna.wait_edit(card, lambda t: t.startswith("Check passed"), timeout=20)
