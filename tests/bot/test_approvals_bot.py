"""Approvals in the bot: the linked approvers get a submitted post with Approve and Reject buttons
(through the operators' bot, no admin chat needed); Approve approves and publishes, Reject asks for
the comment; the author hears of the decision; a member who may not approve is refused; and the
New-post conversation offers Submit for approval instead of Publish in such a workspace."""

import pytest

from accounts.models import Membership, Role
from crosspost.models import ActivityLog
from posts.models import ApprovalStatus, MediaType, Post
from publishing.approvals import post_submit
from publishing.models import Execution, ExecutionStatus

from ..factories import AccountGroupFactory, PostFactory, PublishingPolicyFactory, SocialAccountFactory
from ..support.bot import running_bot
from .conftest import answer_to, labels
from .test_member_notifications import operators_bot  # noqa: F401  (fixture: the operators' bot, tasks inline)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def approving(workspace):
    workspace.posts_need_approval = True
    workspace.save(update_fields=["posts_need_approval"])
    PublishingPolicyFactory(workspace=workspace, fast=True)
    group = AccountGroupFactory(workspace=workspace, name="Shops")
    SocialAccountFactory(workspace=workspace, group=group, handle="shop_one")
    workspace.shops = group
    return workspace


def text_post(workspace, author, caption: str) -> Post:
    post = PostFactory(workspace=workspace, author=author, title="", caption=caption, media_type=MediaType.TEXT)
    post.target_groups.set([workspace.shops])
    return post


def test_the_approver_gets_the_post_with_buttons_and_approves_and_publishes_it_there(
    operators_bot,  # noqa: F811
    linked,
    member,
    approving,
):
    editor = member(Role.EDITOR, username="ed")
    admin = member(Role.ADMIN, username="ann")
    bystander = member(Role.EDITOR)
    post = text_post(approving, editor, "Autumn sale starts today")
    with running_bot(operators_bot) as bot:
        ann, ed, pete = linked(bot, admin), linked(bot, editor), linked(bot, bystander)
        post_submit(post=post, actor=editor)

        request = ann.wait_reply(contains="waits for approval")
        assert f"Post #{post.pk} «Autumn sale starts today» ({approving}) waits for approval; by ed." in request["text"]
        assert labels(ann, request) == ["✅ Approve and publish", "✖ Reject"]
        # The author and an editor who does not approve are not asked.
        assert ed.quiet(0.5) == [] and pete.quiet(0.5) == []

        answer = answer_to(ann, request, f"ra:{post.pk}:approve")
        assert answer["text"] == f"#{post.pk}: Approved: publishing to 1 account(s); 0 blocked."
        told = ed.wait_reply(contains="was approved by ann")
        assert f"Post #{post.pk}" in told["text"]
    post.refresh_from_db()
    assert (post.approval_status, post.approval_by) == (ApprovalStatus.APPROVED, admin)
    assert Execution.objects.filter(post=post, status=ExecutionStatus.PENDING).count() == 1
    actions = list(ActivityLog.objects.filter(post=post).order_by("pk").values_list("action", flat=True))
    assert actions[actions.index("post.submit") :] == ["post.submit", "post.approve", "post.publish", "bot.review.approve"]
    assert not bot.errors


def test_reject_in_the_bot_asks_for_the_comment_and_the_author_reads_it(operators_bot, linked, member, approving):  # noqa: F811
    editor = member(Role.EDITOR, username="ed")
    approver = member(Role.EDITOR, username="vic")
    Membership.objects.filter(user=approver).update(can_approve=True)
    post = text_post(approving, editor, "Winter sale")
    with running_bot(operators_bot) as bot:
        vic, ed = linked(bot, approver), linked(bot, editor)
        post_submit(post=post, actor=editor)
        request = vic.wait_reply(contains="waits for approval")
        vic.tap_label(request, "Reject")
        vic.wait_edit(request, lambda t: t.startswith(f"Why is #{post.pk}"))
        vic.say("The price is wrong")
        assert vic.wait_reply(contains="rejected")["text"] == f"#{post.pk} rejected; its author was told why."
        told = ed.wait_reply(contains="was rejected by vic")
        assert "Comment: The price is wrong" in told["text"]
    post.refresh_from_db()
    assert (post.approval_status, post.approval_comment) == (ApprovalStatus.REJECTED, "The price is wrong")
    assert post.status == "draft"  # rejected, not cancelled: the author fixes it and submits again
    assert not Execution.objects.exists()
    assert not bot.errors


def test_an_editor_who_may_not_approve_is_refused_in_the_review(operators_bot, linked, member, approving):  # noqa: F811
    editor = member(Role.EDITOR)
    other = member(Role.EDITOR)
    post = text_post(approving, editor, "Needs a yes")
    post_submit(post=post, actor=editor)
    with running_bot(operators_bot) as bot:
        olga = linked(bot, other)
        olga.say("/review")
        queue = olga.wait_reply()
        assert queue["text"].startswith("Drafts waiting for review: 1") and "Needs a yes" in queue["text"]
        olga.tap(queue, f"ra:{post.pk}:open")
        card = olga.wait_edit(queue, lambda t: "Waiting for approval." in t)
        answer = answer_to(olga, card, f"ra:{post.pk}:approve")
        assert answer["text"] == "Not approved."
        olga.wait_edit(card, lambda t: "Not approved: Only admins, owners and members marked as approvers" in t)
    post.refresh_from_db()
    assert post.approval_status == ApprovalStatus.PENDING
    assert not Execution.objects.exists()
    assert not bot.errors


def test_the_new_post_conversation_submits_for_approval_instead_of_publishing(operators_bot, linked, member, approving):  # noqa: F811
    editor = member(Role.EDITOR)
    with running_bot(operators_bot) as bot:
        olga = linked(bot, editor)
        olga.say("/new")
        assert "Send photos or videos" in olga.wait_reply()["text"]
        olga.say("Spring collection")
        caption = olga.wait_reply()
        olga.tap(caption, "np:keep:")
        olga.tap(olga.wait_reply(contains="Which language"), "np:lang:en")
        groups = olga.wait_reply(contains="To which groups")
        olga.tap(groups, f"np:g:{approving.shops.pk}.0")
        groups = olga.wait_edit(groups, lambda t: True)
        olga.tap(groups, "np:gnext:")
        olga.tap(olga.wait_reply(contains="When to publish"), "np:now:")
        preview = olga.wait_reply(contains="Preview of post")
        assert "This workspace needs approval" in preview["text"]
        assert "Publish" not in " ".join(labels(olga, preview))
        olga.tap_label(preview, "Submit for approval")
        assert "was submitted for approval" in olga.wait_reply()["text"]
    post = Post.objects.get()
    assert post.approval_status == ApprovalStatus.PENDING and post.status == "draft"
    assert not Execution.objects.exists()
    assert ActivityLog.objects.filter(post=post, action="bot.post.submit", actor=editor).exists()
    assert not bot.errors
