"""The New-post conversation, driven through the Telegram emulator by a member tapping and typing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from bot.models import ConversationState, ProgressMessage, TelegramLink
from crosspost.models import ActivityLog
from media.models import MediaAsset
from posts.models import MediaType, Post, PostStatus
from publishing.models import Execution, ExecutionStatus

from ..factories import AccountGroupFactory, SocialAccountFactory, WorkspaceFactory, png_bytes
from ..support.bot import Person, running_bot
from ..support.engine import drain

pytestmark = pytest.mark.django_db(transaction=True)

OLGA = 4242


def linked(user, telegram_user_id: int = OLGA) -> TelegramLink:
    return TelegramLink.objects.create(user=user, telegram_user_id=telegram_user_id, chat_id=telegram_user_id, language="en")


def group_with_accounts(workspace, name: str, count: int = 2, language: str = "en"):
    group = AccountGroupFactory(workspace=workspace, name=name)
    accounts = [SocialAccountFactory(workspace=workspace, group=group, language=language) for _ in range(count)]
    return group, accounts


def texts_post(olga: Person) -> dict:
    """From /new to the groups step with a text post in English; returns the groups message."""
    olga.say("/new")
    assert "Send photos or videos" in olga.wait_reply()["text"]
    olga.say("Autumn sale starts today")
    caption = olga.wait_reply()
    assert "Autumn sale starts today" in caption["text"]
    olga.tap(caption, "np:keep:")
    language = olga.wait_reply(contains="Which language")
    olga.tap(language, "np:lang:en")
    return olga.wait_reply(contains="To which groups")


def test_it_composes_an_album_to_two_groups_and_shows_live_progress_to_100_percent(telegram, workspace, member):
    editor = member(Role.EDITOR)
    linked(editor)
    alpha, alpha_accounts = group_with_accounts(workspace, "Alpha", 2, "en")
    beta, beta_accounts = group_with_accounts(workspace, "Beta", 2, "en")
    first = telegram.add_file(png_bytes(color=(10, 20, 30)), suffix="jpg")
    second = telegram.add_file(png_bytes(color=(200, 100, 0)), suffix="jpg")

    with running_bot(telegram) as bot:
        olga = Person(telegram, bot.token, telegram.add_user(OLGA, language_code="en"))
        olga.say("/new")
        assert "Send photos or videos" in olga.wait_reply()["text"]
        olga.send_album([telegram.photo_content(first), telegram.photo_content(second)], caption="Fresh autumn drop")
        ack = olga.wait_reply(contains="Received")
        olga.wait_edit(ack, lambda text: "Received 2 media files" in text)
        assert olga.quiet(0.5) == []  # one acknowledgement for the whole album, edited, not one per photo
        olga.tap_label(ack, "Next")

        caption = olga.wait_reply()
        assert "Fresh autumn drop" in caption["text"]  # the album's caption is the default
        olga.tap(caption, "np:keep:")
        language = olga.wait_reply(contains="Which language")
        assert "en" in {b["text"] for b in olga.buttons(language)}
        olga.tap(language, "np:lang:en")

        groups = olga.wait_reply(contains="To which groups")
        olga.tap(groups, f"np:g:{alpha.pk}.0")
        olga.wait_edit(groups, lambda text: "1 group selected" in text)
        olga.tap(groups, f"np:g:{beta.pk}.0")
        olga.wait_edit(groups, lambda text: "2 groups selected" in text)
        assert sum("✓" in b["text"] for b in olga.buttons(groups)) == 2
        olga.tap(groups, "np:gnext:")

        when = olga.wait_reply(contains="When to publish")
        assert workspace.timezone in when["text"]  # the member's own time zone: the workspace's
        olga.tap(when, "np:now:")
        preview = olga.wait_reply(contains="Preview of post")
        assert "2 media files" in preview["text"]
        assert "4 accounts in total — 4 will publish, 0 blocked" in preview["text"]
        assert "Languages: en (4)" in preview["text"]
        post = Post.objects.get()
        assert post.status == PostStatus.DRAFT

        olga.tap_label(preview, "Publish")
        assert "Published: 4 accounts will post it" in olga.wait_reply()["text"]
        progress = olga.wait_reply(contains="published")
        assert "0/4 published" in progress["text"]
        row = ProgressMessage.objects.get()
        assert (row.post_id, row.message_id, row.chat_id) == (post.pk, progress["message_id"], OLGA)

        assert sorted(drain().values()) == ["success"] * 4
        final = olga.wait_edit(progress, lambda text: "100%" in text and "Links:" in text, timeout=20)
        assert "4/4 published" in final["text"]
        assert "Finished: completed." in final["text"]

    post.refresh_from_db()
    assert post.status == PostStatus.COMPLETED
    assert (post.author, post.caption, post.language, post.media_type) == (editor, "Fresh autumn drop", "en", MediaType.CAROUSEL)
    assert set(post.target_groups.all()) == {alpha, beta}
    ordered = [pm.asset for pm in post.media.order_by("position")]
    assert [asset.pk for asset in ordered] == sorted(MediaAsset.objects.values_list("pk", flat=True))
    assert [(a.width, a.height) for a in ordered] == [(64, 48), (64, 48)]
    executions = Execution.objects.filter(post=post)
    assert {e.account_id for e in executions} == {a.pk for a in alpha_accounts + beta_accounts}
    assert {e.status for e in executions} == {ExecutionStatus.SUCCESS}
    assert all(e.remote_url and e.remote_url in final["text"] for e in executions)
    assert ProgressMessage.objects.get().finished
    actions = set(ActivityLog.objects.filter(actor=editor).values_list("action", flat=True))
    assert {"bot.media.upload", "bot.post.preview", "bot.post.publish"} <= actions
    assert not ConversationState.objects.exclude(state="").exists()


def test_it_cancels_with_the_command_and_the_button_leaving_no_post(telegram, workspace, member):
    editor = member(Role.EDITOR)
    linked(editor)
    group, _accounts = group_with_accounts(workspace, "Alpha")

    with running_bot(telegram) as bot:
        olga = Person(telegram, bot.token, telegram.add_user(OLGA, language_code="en"))
        groups = texts_post(olga)
        olga.say("/help")  # a command mid-conversation is a command, not an answer
        assert "What you can do here" in olga.wait_reply()["text"]
        olga.say("/cancel")
        assert "Cancelled." in olga.wait_reply()["text"]
        assert not ConversationState.objects.exclude(state="").exists()
        olga.answers_seen = len(telegram.callback_answers)
        olga.tap(groups, f"np:g:{group.pk}.0")  # a button of the cancelled conversation does nothing
        assert "no longer active" in olga.wait_answer()["text"]

        # From the menu up to the preview (which makes a draft), then the Cancel button: the draft goes too.
        olga.say("/menu")
        olga.tap(olga.wait_reply(contains="what would you like"), "menu:new")
        olga.wait_reply(contains="Send photos or videos")
        olga.say("Autumn sale starts today")
        olga.tap(olga.wait_reply(contains="Keep it"), "np:keep:")
        olga.tap(olga.wait_reply(contains="Which language"), "np:lang:en")
        groups = olga.wait_reply(contains="To which groups")
        olga.tap(groups, f"np:g:{group.pk}.0")
        olga.wait_edit(groups, lambda text: "1 group selected" in text)
        olga.tap(groups, "np:gnext:")
        olga.tap(olga.wait_reply(contains="When to publish"), "np:now:")
        preview = olga.wait_reply(contains="Preview of post")
        assert Post.objects.filter(status=PostStatus.DRAFT).count() == 1
        olga.tap_label(preview, "Cancel")
        olga.wait_edit(preview, lambda text: text == "Cancelled.")

    assert not Post.objects.exists()
    assert not ConversationState.objects.exclude(state="").exists()
    assert ActivityLog.objects.filter(actor=editor, action="bot.cancel").count() == 2
    assert ActivityLog.objects.filter(actor=editor, action="bot.post.discard").exists()


def test_it_resumes_after_a_restart_in_the_middle_and_publishes(telegram, workspace, member):
    editor = member(Role.EDITOR)
    linked(editor)
    group, accounts = group_with_accounts(workspace, "Alpha", 3)

    with running_bot(telegram) as bot:
        olga = Person(telegram, bot.token, telegram.add_user(OLGA, language_code="en"))
        groups = texts_post(olga)
        olga.tap(groups, f"np:g:{group.pk}.0")
        olga.wait_edit(groups, lambda text: "1 group selected" in text)
        olga.tap(groups, "np:gnext:")
        when = olga.wait_reply(contains="When to publish")

    # A new process: nothing in memory, the conversation is in the database.
    with running_bot(telegram) as bot:
        olga = Person(telegram, bot.token, olga.user)
        olga.tap(when, "np:now:")
        preview = olga.wait_reply(contains="Preview of post")
        assert "3 accounts in total" in preview["text"]
        olga.tap_label(preview, "Publish")
        assert "Published: 3 accounts" in olga.wait_reply()["text"]

    post = Post.objects.get()
    assert (post.caption, post.media_type, post.status) == ("Autumn sale starts today", MediaType.TEXT, PostStatus.PUBLISHING)
    assert {e.account_id for e in Execution.objects.filter(post=post)} == {a.pk for a in accounts}


def test_a_viewer_cannot_publish(telegram, workspace, member):
    viewer = member(Role.VIEWER)
    linked(viewer)
    group_with_accounts(workspace, "Alpha")

    with running_bot(telegram) as bot:
        ivan = Person(telegram, bot.token, telegram.add_user(OLGA, language_code="en"))
        ivan.say("/new")
        assert "viewer" in ivan.wait_reply()["text"]
        ivan.say("A text that must not become a post")
        # No conversation was started: the text is not taken as a post, the bot offers the menu.
        assert "did not understand" in ivan.wait_reply()["text"]
    assert not Post.objects.exists()
    assert not ConversationState.objects.exclude(state="").exists()


def test_bad_inputs_get_a_message_saying_what_to_fix_and_the_conversation_goes_on(telegram, member, settings):
    workspace = WorkspaceFactory(timezone="Europe/Berlin")
    other = WorkspaceFactory(name="Zeta")
    editor = member(Role.EDITOR, workspace)
    member_role = editor.memberships.create(workspace=other, role=Role.EDITOR)
    assert member_role.pk
    link = linked(editor)
    group, _accounts = group_with_accounts(workspace, "Alpha")
    stranger_group, _ = group_with_accounts(WorkspaceFactory(), "Stranger")
    link.default_groups.add(group)
    huge = telegram.add_file(png_bytes(), size=25 * 1024 * 1024, suffix="jpg")

    with running_bot(telegram) as bot:
        olga = Person(telegram, bot.token, telegram.add_user(OLGA, language_code="en"))
        olga.say("/new")
        choice = olga.wait_reply(contains="In which workspace")  # an editor in two workspaces picks one
        olga.tap(choice, f"np:ws:{workspace.pk}")
        olga.wait_reply(contains="Send photos or videos")
        olga.say(**telegram.photo_content(huge))
        assert "over 20 MB" in olga.wait_reply()["text"]
        olga.say("Winter sale")
        olga.tap(olga.wait_reply(contains="Winter sale"), "np:keep:")
        olga.wait_reply(contains="Which language")
        olga.say("not a language!")
        assert "is not a language code" in olga.wait_reply()["text"]
        olga.say("de")
        groups = olga.wait_reply(contains="To which groups")
        assert "1 group selected" in groups["text"]  # the member's default group, pre-selected
        assert f"np:g:{stranger_group.pk}.0" not in {b["callback_data"] for b in olga.buttons(groups)}
        olga.tap(groups, f"np:g:{group.pk}.0")  # unselect it
        olga.wait_edit(groups, lambda text: "0 groups selected" in text)
        olga.answers_seen = len(telegram.callback_answers)
        olga.tap(groups, "np:gnext:")
        assert "Pick at least one group" in olga.wait_answer()["text"]
        olga.tap(groups, f"np:g:{group.pk}.0")
        olga.wait_edit(groups, lambda text: "1 group selected" in text)
        olga.tap(groups, "np:gnext:")

        olga.tap(olga.wait_reply(contains="When to publish"), "np:pick:")
        assert "Europe/Berlin" in olga.wait_reply()["text"]
        olga.say("tomorrow-ish")
        assert "could not read" in olga.wait_reply()["text"]
        olga.say("2020-01-01 10:00")
        assert "This time has passed" in olga.wait_reply()["text"]
        olga.say("2030-03-31 02:30")  # the clocks jump from 02:00 to 03:00 in Berlin that night
        assert "does not exist in Europe/Berlin" in olga.wait_reply()["text"]
        olga.say("2030-10-27 02:30")  # …and go back from 03:00 to 02:00 that night
        assert "happens twice" in olga.wait_reply()["text"]
        olga.say("2030-12-24 18:30")
        preview = olga.wait_reply(contains="Preview of post")
        assert "24 Dec 2030, 18:30 (Europe/Berlin)" in preview["text"]
        # No translation provider here: the English accounts cannot get the German caption, and say so.
        assert "2 accounts in total — 0 will publish, 2 blocked" in preview["text"]
        assert "No translation provider is configured for en" in preview["text"]
        olga.tap_label(preview, "Publish")  # nothing can be published: said, and the preview stays usable
        refusal = olga.wait_reply()
        assert "Not published: Nothing was published: all 2 target accounts are blocked." in refusal["text"]
        olga.tap_label(refusal, "Save as draft")
        assert "Saved as draft" in olga.wait_reply()["text"]

    post = Post.objects.get()
    assert (post.status, post.language, post.workspace) == (PostStatus.DRAFT, "de", workspace)
    assert timezone.localtime(post.scheduled_at, timezone.get_fixed_timezone(60)).hour == 18  # 18:30 in Berlin (UTC+1)
    assert post.scheduled_at - timezone.now() > timedelta(days=365)
    assert ActivityLog.objects.filter(actor=editor, action="bot.post.draft").exists()


def test_the_next_free_slot_keeps_clear_of_the_accounts_other_posts(telegram, workspace, member):
    from bot.schedule import next_free_slot
    from publishing.models import PublishingPolicy

    group, accounts = group_with_accounts(workspace, "Alpha", 2)
    PublishingPolicy.objects.create(workspace=workspace, platform="sandbox", min_interval_s=3600)
    now = timezone.now().replace(minute=2, second=0, microsecond=0)
    other = Post.objects.create(workspace=workspace, caption="x")
    Execution.objects.create(
        workspace=workspace,
        post=other,
        account=accounts[0],
        language="en",
        status=ExecutionStatus.PENDING,
        scheduled_for=now + timedelta(minutes=20),
    )
    slot = next_free_slot(workspace_id=workspace.pk, group_ids=[group.pk], now=now)
    # The boundary after now + 5 min is :15, but that is within an hour of the pending post at :22.
    assert slot == now.replace(minute=0) + timedelta(hours=1, minutes=30)
    assert next_free_slot(workspace_id=workspace.pk, group_ids=[], now=now) == now.replace(minute=15)


def test_an_album_over_the_limit_keeps_ten_and_back_leaves_the_preview_without_a_draft(telegram, workspace, member):
    editor = member(Role.EDITOR)
    linked(editor)
    group, _accounts = group_with_accounts(workspace, "Alpha")
    files = [telegram.add_file(png_bytes(color=(n * 20, 0, 0)), suffix="jpg") for n in range(11)]

    with running_bot(telegram) as bot:
        olga = Person(telegram, bot.token, telegram.add_user(OLGA, language_code="en"))
        olga.say("/new")
        olga.wait_reply(contains="Send photos or videos")
        olga.send_album([telegram.photo_content(f) for f in files])
        ack = olga.wait_reply(contains="Received")
        olga.wait_edit(ack, lambda text: "at most 10 media" in text)
        assert "Received 10 media files" in olga.current(ack)["text"]
        olga.tap_label(ack, "Next")
        caption = olga.wait_reply(contains="Send the caption")
        olga.tap_label(caption, "No caption")
        olga.tap(olga.wait_reply(contains="Which language"), "np:lang:en")
        groups = olga.wait_reply(contains="To which groups")
        olga.tap(groups, "np:back:language")  # Back: the question again
        olga.tap(olga.wait_reply(contains="Which language"), "np:lang:en")
        groups = olga.wait_reply(contains="To which groups")
        olga.tap(groups, f"np:g:{group.pk}.0")
        olga.wait_edit(groups, lambda text: "1 group selected" in text)
        olga.tap(groups, "np:gnext:")
        olga.tap(olga.wait_reply(contains="When to publish"), "np:slot:")
        preview = olga.wait_reply(contains="Preview of post")
        assert "10 media files" in preview["text"]
        assert Post.objects.get().media.count() == 10
        olga.tap_label(preview, "Back")
        olga.wait_reply(contains="When to publish")
        assert not Post.objects.exists()  # the preview's draft went with it


def test_a_single_video_makes_a_video_post_and_many_groups_come_in_pages(telegram, workspace, member):
    from ..support.media import mp4_bytes
    from ..support.stack import wait_for

    editor = member(Role.EDITOR)
    linked(editor)
    groups = [AccountGroupFactory(workspace=workspace, name=f"Group {n:02d}") for n in range(11)]
    SocialAccountFactory(workspace=workspace, group=groups[-1])
    clip = telegram.add_file(mp4_bytes(), suffix="mp4")

    with running_bot(telegram) as bot:
        olga = Person(telegram, bot.token, telegram.add_user(OLGA, language_code="en"))
        olga.say("/new")
        olga.wait_reply(contains="Send photos or videos")
        olga.say(caption="A short clip", **telegram.video_content(clip))
        ack = olga.wait_reply(contains="Received 1 media file.")
        olga.tap_label(ack, "Next")
        olga.tap(olga.wait_reply(contains="A short clip"), "np:keep:")
        olga.tap(olga.wait_reply(contains="Which language"), "np:lang:en")
        page = olga.wait_reply(contains="To which groups")
        labels = [b["text"] for b in olga.buttons(page)]
        assert "Group 00 · 0" in labels and "Group 08 · 0" not in labels and "1/2" in labels
        olga.tap_label(page, "›")
        wait_for(lambda: "2/2" in [b["text"] for b in olga.buttons(page)], 10, message="the second page")
        olga.tap(page, f"np:g:{groups[-1].pk}.1")
        olga.wait_edit(page, lambda text: "1 group selected" in text)
        assert "✓ Group 10 · 1" in [b["text"] for b in olga.buttons(page)]  # still on the second page
        olga.tap(page, "np:gnext:")
        olga.tap(olga.wait_reply(contains="When to publish"), "np:now:")
        preview = olga.wait_reply(contains="Preview of post")
        assert "1 media file" in preview["text"] and "1 account in total" in preview["text"]
        olga.tap_label(preview, "Save as draft")
        olga.wait_reply(contains="Saved as draft")

    post = Post.objects.get()
    assert (post.media_type, post.caption) == (MediaType.VIDEO, "A short clip")
    assert post.media.get().asset.kind == "video"
