"""Approvals: an editor submits, an approver approves or rejects with a comment, and only an
approved post is published — checked at the one gate every front door goes through
(``planner.post_publish``), through the API, on a source's post whose pipeline waits for the
approvers, after an edit that withdraws the approval, in the activity log, and in the Telegram
admin chat (the loopback Telegram emulator)."""

import pytest

from accounts.models import Membership, Role
from crosspost.models import ActivityLog
from posts.models import ApprovalStatus, PipelineStage, Post, PostStatus, Stage, StageStatus
from posts.services import post_set_caption, post_set_media, post_update
from publishing.approvals import may_approve, post_approve, post_reject, post_submit
from publishing.models import Execution
from sources.models import IngestMode

from ..conftest import api_client_for
from ..factories import (
    MediaAssetFactory,
    PostFactory,
    PostMediaFactory,
    SocialAccountFactory,
    UserFactory,
    WorkspaceFactory,
)
from ..test_pipeline import channel, eager, ingest, publish_all, run, source, telegram  # noqa: F401  (fixtures)

V1 = "/api/v1"


def publishable(workspace, **fields) -> Post:
    post = PostFactory(workspace=workspace, **fields)
    PostMediaFactory(post=post)
    post.target_accounts.set([SocialAccountFactory(workspace=workspace)])
    return post


def approver(member, role=Role.EDITOR):
    user = member(role)
    Membership.objects.filter(user=user).update(can_approve=True)
    return user


def trail(post) -> list[str]:
    logs = ActivityLog.objects.filter(post=post, action__in=APPROVAL_ACTIONS).order_by("pk")
    return list(logs.values_list("action", flat=True))


APPROVAL_ACTIONS = ("post.submit", "post.approve", "post.reject", "post.approval_withdrawn", "post.publish")


# --- who approves -------------------------------------------------------------------------------------------


def test_it_lets_admins_owners_and_named_approvers_approve_and_nobody_else(member, workspace):
    assert may_approve(member(Role.OWNER), workspace)
    assert may_approve(member(Role.ADMIN), workspace)
    assert may_approve(approver(member, Role.VIEWER), workspace)  # the named approver, whatever the role
    assert not may_approve(member(Role.EDITOR), workspace)
    assert not may_approve(member(Role.ADMIN, WorkspaceFactory()), workspace)
    assert may_approve(UserFactory(is_superuser=True), workspace)


def test_an_editor_approver_may_not_approve_their_own_post_but_an_admin_may(member, approving):
    author = approver(member)
    post = publishable(approving, author=author)
    post_submit(post=post, actor=author)
    with pytest.raises(Exception) as refused:
        post_approve(post=post, actor=author)
    assert "another approver, an admin or an owner" in str(refused.value)
    admin = member(Role.ADMIN)
    own = publishable(approving, author=admin)
    post_submit(post=own, actor=admin)
    post_approve(post=own, actor=admin)
    assert Post.objects.get(pk=own.pk).approval_status == ApprovalStatus.APPROVED


# --- the API ------------------------------------------------------------------------------------------------


def test_the_api_carries_a_post_from_submit_to_publish_with_refusals_on_the_way(api, member, approving):
    editor = api(Role.EDITOR)
    post = publishable(approving, author=editor.user)

    # Before approval: publishing is refused with who approves and how to ask; a dry run still plans.
    refused = editor.post(f"{V1}/posts/{post.pk}/publish/")
    assert refused.status_code == 409
    assert "Submit it for approval first." in refused.json()["detail"]
    dry = editor.post(f"{V1}/posts/{post.pk}/publish/?dry_run=1")
    assert dry.status_code == 200 and dry.json()["planned"] == 1
    assert "published only after approval" in dry.json()["approval_required"]
    assert not Execution.objects.filter(post=post).exists()

    assert api(Role.VIEWER).post(f"{V1}/posts/{post.pk}/submit/").status_code == 403
    submitted = editor.post(f"{V1}/posts/{post.pk}/submit/")
    assert submitted.status_code == 200 and submitted.json()["approval_status"] == "pending"
    assert editor.post(f"{V1}/posts/{post.pk}/submit/").status_code == 409  # already waiting
    assert "It is waiting for approval." in editor.post(f"{V1}/posts/{post.pk}/publish/").json()["detail"]

    # An editor who is not an approver cannot approve; a reject needs a comment.
    other_editor = api(Role.EDITOR)
    denied = other_editor.post(f"{V1}/posts/{post.pk}/approve/", {}, format="json")
    assert denied.status_code == 403 and "approvers" in denied.json()["detail"]
    named = api_client_for(approver(member))
    blank = named.post(f"{V1}/posts/{post.pk}/reject/", {"comment": "  "}, format="json")
    assert blank.status_code == 400 and "comment" in blank.json()
    assert Post.objects.get(pk=post.pk).approval_status == ApprovalStatus.PENDING

    approved = named.post(f"{V1}/posts/{post.pk}/approve/", {"comment": "Looks good"}, format="json")
    assert approved.status_code == 200, approved.content
    body = approved.json()
    assert (body["approval_status"], body["approval_comment"]) == ("approved", "Looks good")
    assert body["approval_by"] == Post.objects.get(pk=post.pk).approval_by_id and body["approval_at"]
    assert named.post(f"{V1}/posts/{post.pk}/approve/", {}, format="json").status_code == 409

    published = editor.post(f"{V1}/posts/{post.pk}/publish/")
    assert published.status_code == 201 and published.json()["planned"] == 1
    assert trail(post) == ["post.submit", "post.approve", "post.publish"]


def test_the_api_rejects_with_the_comment_and_filters_by_approval(api, member, approving):
    editor = api(Role.EDITOR)
    waiting = publishable(approving, author=editor.user)
    untouched = publishable(approving, author=editor.user)
    editor.post(f"{V1}/posts/{waiting.pk}/submit/")
    admin = api(Role.ADMIN)
    listed = admin.get(f"{V1}/posts/?approval_status=pending").json()["results"]
    assert [p["id"] for p in listed] == [waiting.pk]

    rejected = admin.post(f"{V1}/posts/{waiting.pk}/reject/", {"comment": "Wrong price in the caption"}, format="json")
    assert rejected.status_code == 200
    assert (rejected.json()["approval_status"], rejected.json()["approval_comment"]) == ("rejected", "Wrong price in the caption")
    assert "It was rejected: change it and submit it again." in editor.post(f"{V1}/posts/{waiting.pk}/publish/").json()["detail"]
    # Only a waiting post is rejected; the rejected one is submitted again after the fix.
    assert admin.post(f"{V1}/posts/{untouched.pk}/reject/", {"comment": "No"}, format="json").status_code == 409
    editor.patch(f"{V1}/posts/{waiting.pk}/", {"caption": "Fixed price"}, format="json")
    assert editor.post(f"{V1}/posts/{waiting.pk}/submit/").json()["approval_status"] == "pending"
    assert trail(waiting) == ["post.submit", "post.reject", "post.submit"]


def test_submitting_where_no_approval_is_needed_is_refused_and_publishing_works_as_before(api, workspace):
    editor = api(Role.EDITOR)
    post = publishable(workspace)
    refused = editor.post(f"{V1}/posts/{post.pk}/submit/")
    assert refused.status_code == 409 and "does not need approvals" in refused.json()["detail"]
    assert editor.post(f"{V1}/posts/{post.pk}/publish/").status_code == 201


def test_turning_the_setting_off_lets_a_waiting_post_publish(api, approving):
    editor = api(Role.EDITOR)
    post = publishable(approving)
    editor.post(f"{V1}/posts/{post.pk}/submit/")
    approving.posts_need_approval = False
    approving.save(update_fields=["posts_need_approval"])
    assert editor.post(f"{V1}/posts/{post.pk}/publish/").status_code == 201


def test_turning_the_setting_on_does_not_hold_back_a_post_already_planned(api, workspace):
    editor = api(Role.EDITOR)
    post = publishable(workspace)
    late = SocialAccountFactory(workspace=workspace, status="login_required")
    post.target_accounts.add(late)
    assert editor.post(f"{V1}/posts/{post.pk}/publish/").json()["blocked"] == 1
    workspace.posts_need_approval = True
    workspace.save(update_fields=["posts_need_approval"])
    late.status = "active"
    late.save(update_fields=["status"])
    again = editor.post(f"{V1}/posts/{post.pk}/publish/")  # the blocked target, fixed, is planned
    assert again.status_code == 201 and again.json()["planned"] == 1
    # A new post of the workspace is held.
    assert editor.post(f"{V1}/posts/{publishable(workspace).pk}/publish/").status_code == 409


# --- editing withdraws the approval -------------------------------------------------------------------------


def test_editing_the_content_after_approval_sends_the_post_back_to_waiting(member, approving):
    editor, admin = member(Role.EDITOR), member(Role.ADMIN)
    post = publishable(approving, author=editor)
    post_submit(post=post, actor=editor)
    post_approve(post=post, actor=admin)

    # Time and priority are not content: the approval stays.
    post_update(post=Post.objects.get(pk=post.pk), actor=editor, priority="high")
    assert Post.objects.get(pk=post.pk).approval_status == ApprovalStatus.APPROVED

    post_update(post=Post.objects.get(pk=post.pk), actor=editor, caption="A new text nobody approved")
    changed = Post.objects.get(pk=post.pk)
    assert (changed.approval_status, changed.approval_by_id) == (ApprovalStatus.PENDING, None)
    withdrawn = ActivityLog.objects.get(post=post, action="post.approval_withdrawn")
    assert withdrawn.details == {"fields": ["caption"]} and withdrawn.actor == editor

    # Other media too, wherever they are set (the admin's media inline calls post_set_media).
    post_approve(post=changed, actor=admin)
    post_set_media(post=Post.objects.get(pk=post.pk), assets=[MediaAssetFactory(workspace=approving)], actor=editor)
    assert Post.objects.get(pk=post.pk).approval_status == ApprovalStatus.PENDING
    assert ActivityLog.objects.filter(post=post, action="post.approval_withdrawn").order_by("pk").last().details == {
        "fields": ["media"]
    }

    # A caption written by hand for one language is content too.
    post_approve(post=changed, actor=admin)
    post_set_caption(post=changed, language="de", caption="Hallo", actor=editor)
    assert Post.objects.get(pk=post.pk).approval_status == ApprovalStatus.PENDING
    assert trail(post) == [
        "post.submit",
        "post.approve",
        "post.approval_withdrawn",
        "post.approve",
        "post.approval_withdrawn",
        "post.approve",
        "post.approval_withdrawn",
    ]


def test_a_stale_copy_of_the_post_does_not_undo_an_approval(member, approving):
    editor, admin = member(Role.EDITOR), member(Role.ADMIN)
    post = publishable(approving, author=editor)
    stale = Post.objects.get(pk=post.pk)  # loaded before the approval, as a form would be
    post_submit(post=post, actor=editor)
    post_approve(post=post, actor=admin)
    post_update(post=stale, actor=editor, scheduled_at=None, priority="low")
    assert Post.objects.get(pk=post.pk).approval_status == ApprovalStatus.APPROVED


def test_only_draft_or_scheduled_posts_go_through_approval(member, approving):
    post = publishable(approving, status=PostStatus.CANCELLED)
    with pytest.raises(Exception) as refused:
        post_submit(post=post, actor=member(Role.EDITOR))
    assert "this one is cancelled" in str(refused.value)
    with pytest.raises(Exception) as viewer:
        post_submit(post=publishable(approving), actor=member(Role.VIEWER))
    assert "Only editors" in str(viewer.value)
    with pytest.raises(Exception) as no_comment:
        post_reject(post=publishable(approving), actor=member(Role.ADMIN), comment="")
    assert "Say why" in str(no_comment.value)


# --- notifications: the Telegram admin chat ----------------------------------------------------------------


def admin_chat_texts(telegram) -> list[str]:  # noqa: F811
    return [m.get("text", "") for m in telegram.messages if m["chat"]["id"] == telegram.admin_chat["id"]]


def test_the_admin_chat_hears_of_a_submission_and_of_the_decision(run, telegram, member, approving):  # noqa: F811
    editor = member(Role.EDITOR, username="ed")
    admin = member(Role.ADMIN, username="ann")
    post = publishable(approving, author=editor, title="Spring drop", caption="New colours")

    run(lambda: post_submit(post=post, actor=editor))
    [asked] = admin_chat_texts(telegram)
    assert f"Post #{post.pk} «Spring drop» ({approving}) waits for approval; by ed." in asked
    assert "New colours" in asked

    run(lambda: post_reject(post=post, actor=admin, comment="Add the price"))
    decided = admin_chat_texts(telegram)[-1]
    assert f"Post #{post.pk} «Spring drop» ({approving}) was rejected by ann." in decided
    assert "Comment: Add the price" in decided and "submit it again" in decided

    # An edit after approval asks the approvers again.
    run(lambda: post_submit(post=post, actor=editor))
    run(lambda: post_approve(post=post, actor=admin))
    assert "was approved by ann." in admin_chat_texts(telegram)[-1]
    run(lambda: post_update(post=Post.objects.get(pk=post.pk), actor=editor, caption="Changed again"))
    assert "waits for approval" in admin_chat_texts(telegram)[-1]
    assert len(admin_chat_texts(telegram)) == 5


# --- sources: the publish stage waits for the approvers ---------------------------------------------------


def test_a_sources_post_waits_for_approval_at_the_publish_stage_and_approving_publishes_it(
    run,  # noqa: F811
    telegram,  # noqa: F811
    channel,  # noqa: F811
    source,  # noqa: F811
    member,
):
    assert source.mode == IngestMode.PUBLISH  # a source that publishes by itself still waits
    workspace = source.workspace
    workspace.posts_need_approval = True
    workspace.save(update_fields=["posts_need_approval"])
    post = ingest(run, source, telegram, channel, text="Fresh from the channel")

    stage = PipelineStage.objects.get(post=post, stage=Stage.PUBLISH)
    assert stage.status == StageStatus.REVIEW and stage.note == "The post waits for approval; approving it publishes it."
    post.refresh_from_db()
    assert (post.status, post.approval_status) == (PostStatus.DRAFT, ApprovalStatus.PENDING)
    assert not Execution.objects.filter(post=post).exists()
    assert any(f"Post #{post.pk}" in t and "waits for approval; by a source." in t for t in admin_chat_texts(telegram))
    submitted = ActivityLog.objects.get(post=post, action="post.submit")
    assert submitted.actor is None and submitted.message == "Submitted for approval by the pipeline."

    run(lambda: post_approve(post=post, actor=member(Role.ADMIN), comment="Go"))
    stage.refresh_from_db()
    assert stage.status == StageStatus.DONE
    assert Execution.objects.filter(post=post).count() == 1
    publish_all(run)
    post.refresh_from_db()
    assert post.status == PostStatus.COMPLETED


def test_a_rejected_sources_post_stays_in_review_with_the_reason(run, telegram, channel, source, member):  # noqa: F811
    workspace = source.workspace
    workspace.posts_need_approval = True
    workspace.save(update_fields=["posts_need_approval"])
    post = ingest(run, source, telegram, channel, text="Not this one")
    run(lambda: post_reject(post=post, actor=member(Role.ADMIN), comment="Off-brand"))
    assert PipelineStage.objects.get(post=post, stage=Stage.PUBLISH).status == StageStatus.REVIEW
    assert not Execution.objects.filter(post=post).exists()


def test_approving_starts_the_pipelines_publish_stage_by_its_task_name():
    from publishing import approvals, pipeline

    assert approvals.PUBLISH_STAGE_TASK == pipeline.TASKS[Stage.PUBLISH]
