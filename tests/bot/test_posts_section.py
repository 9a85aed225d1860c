"""Posts & history in the bot: paging, the status filter, a post's card with Retry failed and a
confirmed Cancel, a viewer's read-only card, and forged taps refused."""

import pytest

from accounts.models import Role
from crosspost.models import ActivityLog
from posts.models import PostStatus
from publishing.models import Execution, ExecutionStatus

from ..factories import ExecutionFactory, PostFactory, WorkspaceFactory
from ..support.bot import running_bot
from .conftest import answer_to, labels

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_pages_the_posts_newest_first_and_filters_by_status(telegram, linked, member, workspace):
    editor = member(Role.EDITOR)
    completed = [PostFactory(workspace=workspace, title=f"Done {i}", status=PostStatus.COMPLETED) for i in range(12)]
    failed = [PostFactory(workspace=workspace, title=f"Broke {i}", status=PostStatus.FAILED) for i in range(3)]
    ExecutionFactory(post=completed[-1], status=ExecutionStatus.SUCCESS)
    ExecutionFactory(post=completed[-1], status=ExecutionStatus.FAILED)
    PostFactory(workspace=WorkspaceFactory(), title="Elsewhere")  # another workspace: never listed
    with running_bot(telegram) as bot:
        olga = linked(bot, editor)
        olga.say("/posts")
        page = olga.wait_reply()
        text = page["text"]
        assert "(page 1 of 2)" in text
        # Newest first: the three failed posts, then the latest completed ones; progress x/y per line.
        assert text.index("Broke 2") < text.index("Broke 0") < text.index("Done 11")
        assert f"#{completed[-1].pk} Done 11 · Completed · 1/2" in text
        assert "Done 0" not in text and "Elsewhere" not in text
        assert not any("Prev" in label for label in labels(olga, page))

        olga.tap_label(page, "Next")
        page = olga.wait_edit(page, lambda t: "(page 2 of 2)" in t)
        assert "Done 0" in page["text"] and "Broke" not in page["text"]
        assert not any("Next" in label for label in labels(olga, page))
        olga.tap_label(page, "Prev")
        page = olga.wait_edit(page, lambda t: "(page 1 of 2)" in t)

        olga.tap_label(page, "Failed")
        page = olga.wait_edit(page, lambda t: t.startswith("Posts — Failed"))
        assert all(f"#{post.pk} Broke" in page["text"] for post in failed)
        assert "Done" not in page["text"]
        assert "✓ Failed" in labels(olga, page)

        # A post is opened from the list.
        olga.tap(page, f"pa:{failed[0].pk}:open:failed:1")
        card = olga.wait_edit(page, lambda t: "Status: Failed" in t)
        assert "Nothing planned yet." in card["text"]
        olga.tap_label(card, "Back")
        olga.wait_edit(card, lambda t: t.startswith("Posts — Failed"))
    assert not bot.errors


def test_it_retries_the_failed_executions_and_cancels_after_a_confirmation(telegram, linked, member, workspace):
    editor = member(Role.EDITOR)
    post = PostFactory(workspace=workspace, title="Spring sale", status=PostStatus.PUBLISHING)
    broken = [
        ExecutionFactory(
            post=post,
            status=ExecutionStatus.FAILED,
            error_code="media_rejected",
            error_message="Rejected; token=abcdefabcdefabcdefabcdef1234",
        )
        for _ in range(2)
    ]
    published = ExecutionFactory(post=post, status=ExecutionStatus.SUCCESS)
    waiting = ExecutionFactory(post=post, status=ExecutionStatus.PENDING)
    with running_bot(telegram) as bot:
        olga = linked(bot, editor)
        olga.say("/posts")
        page = olga.wait_reply()
        olga.tap(page, f"pa:{post.pk}:open::1")
        card = olga.wait_edit(page, lambda t: "Spring sale" in t and "Status:" in t)
        text = card["text"]
        assert "▓" in text and "published 1 of 4" in text
        assert "Per platform: Sandbox 1/4" in text
        assert f"✗ {broken[0].account} (Failed): media_rejected: Rejected;" in text
        assert "abcdefabcdefabcdef" not in text  # reasons are redacted
        assert {"🔁 Retry failed", "✖ Cancel post"} <= set(labels(olga, card))

        answer = answer_to(olga, card, f"pa:{post.pk}:retry::1")
        assert answer["text"] == "Retrying 2 failed executions."
        card = olga.wait_edit(card, lambda t: t.startswith("Retrying 2 failed executions."))
        assert set(Execution.objects.filter(pk__in=[e.pk for e in broken]).values_list("status", flat=True)) == {"pending"}
        assert "🔁 Retry failed" not in labels(olga, card)  # nothing failed any more
        assert ActivityLog.objects.filter(action="bot.post.retry_failed", actor=editor, post=post).exists()

        # Cancel asks first; "No" changes nothing.
        olga.tap_label(card, "Cancel post")
        confirm = olga.wait_edit(card, lambda t: t.startswith(f"Cancel post #{post.pk}"))
        olga.tap_label(confirm, "No, keep it")
        card = olga.wait_edit(confirm, lambda t: "Status: Publishing" in t)
        post.refresh_from_db()
        assert post.status == PostStatus.PUBLISHING

        olga.tap_label(card, "Cancel post")
        confirm = olga.wait_edit(card, lambda t: t.startswith(f"Cancel post #{post.pk}"))
        olga.tap_label(confirm, "Yes, cancel")
        card = olga.wait_edit(confirm, lambda t: "Status: Cancelled" in t)
        assert t_startswith(card, "Cancelled 3 waiting execution(s)")
        assert "✖ Cancel post" not in labels(olga, card)
    post.refresh_from_db()
    assert post.status == PostStatus.CANCELLED
    assert Execution.objects.get(pk=waiting.pk).status == ExecutionStatus.CANCELLED
    assert Execution.objects.get(pk=published.pk).status == ExecutionStatus.SUCCESS
    assert ActivityLog.objects.filter(action="bot.post.cancel", actor=editor, post=post, status="success").exists()
    assert not bot.errors


def t_startswith(message: dict, prefix: str) -> bool:
    return message["text"].startswith(prefix)


def test_a_viewer_reads_the_card_without_write_buttons_and_a_forged_write_changes_nothing(telegram, linked, member, workspace):
    viewer = member(Role.VIEWER)
    post = PostFactory(workspace=workspace, title="Read only", status=PostStatus.PUBLISHING)
    failed = ExecutionFactory(post=post, status=ExecutionStatus.FAILED, error_message="boom")
    with running_bot(telegram) as bot:
        vera = linked(bot, viewer)
        vera.say("/posts")
        page = vera.wait_reply()
        vera.tap(page, f"pa:{post.pk}:open::1")
        card = vera.wait_edit(page, lambda t: "Status: Publishing" in t)
        assert "boom" in card["text"]
        assert not any("Retry" in label or "Cancel" in label for label in labels(vera, card))

        for act in ("retry", "cancel", "cancel_ok"):
            answer = answer_to(vera, card, f"pa:{post.pk}:{act}::1", forged=True)
            assert answer["show_alert"] and "editor role" in answer["text"]
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHING
    assert Execution.objects.get(pk=failed.pk).status == ExecutionStatus.FAILED
    assert not ActivityLog.objects.filter(actor=viewer, action__startswith="bot.post").exists()


def test_another_workspaces_post_is_not_found(telegram, linked, member):
    editor = member(Role.EDITOR)
    foreign = PostFactory(workspace=WorkspaceFactory(), title="Theirs", status=PostStatus.PUBLISHING)
    ExecutionFactory(post=foreign, status=ExecutionStatus.FAILED)
    with running_bot(telegram) as bot:
        olga = linked(bot, editor)
        olga.say("/posts")
        page = olga.wait_reply()
        for act in ("open", "retry", "cancel_ok"):
            answer = answer_to(olga, page, f"pa:{foreign.pk}:{act}::1", forged=True)
            assert answer["show_alert"] and answer["text"].startswith("Post not found")
        assert "Theirs" not in olga.current(page)["text"]
    foreign.refresh_from_db()
    assert foreign.status == PostStatus.PUBLISHING
    assert Execution.objects.get(post=foreign).status == ExecutionStatus.FAILED
