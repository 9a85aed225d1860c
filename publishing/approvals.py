"""Approvals: in a workspace where posts need approval, an editor submits a post, an approver
approves or rejects it (with a comment), and only an approved post is published.

Who approves (``may_approve``): superusers, the workspace's owners and admins, and members marked
``Membership.can_approve`` whatever their role. An author approves their own post only as an
admin or owner: an editor-approver needs a second pair of eyes.

Approval is of the content: editing an approved post's text, media or options sends it back to
pending (``posts.services`` does that, and the ``approval_requested`` signal brings it here for
the notification). The one check that stops an unapproved post is in ``planner.post_publish``;
these services only move ``Post.approval_*`` and tell people:

* on submit, the approvers — in the workspace's Telegram admin chat and, through the operators'
  bot, each linked approver with Approve/Reject buttons; the dashboard shows "Waiting for your
  approval" from ``approval_status`` (``approvals_waiting_for``);
* on a decision, the author, the same ways.

A source's post that reached the publish stage in such a workspace is submitted by the pipeline
itself (``post_submit`` with no actor) and its publish stage waits for review; approving it
starts that stage again, which publishes it.
"""

from __future__ import annotations

from celery import current_app
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership, Role, Workspace, role_at_least
from accounts.selectors import role_in, scope
from crosspost.activity import log_activity
from crosspost.models import LogStatus
from posts.models import ApprovalStatus, PipelineStage, Post, PostStatus, Stage, StageStatus

from .notifications import notify_approval_decided, notify_approval_requested

# A post can be submitted, approved or rejected only before it is planned for good.
APPROVABLE_STATUSES = (PostStatus.DRAFT, PostStatus.SCHEDULED)
MAX_NAMED_APPROVERS = 5
PUBLISH_STAGE_TASK = "publishing.pipeline_tasks.publish"


def may_approve(user, workspace: Workspace | int) -> bool:
    """Whether ``user`` may approve or reject posts of ``workspace``."""
    workspace_id = getattr(workspace, "pk", workspace)
    role = role_in(user, workspace_id)
    if role is None:
        return False
    if role_at_least(role, Role.ADMIN):
        return True
    return Membership.objects.filter(user=user, workspace_id=workspace_id, can_approve=True).exists()


def approvers_of(workspace: Workspace | int) -> QuerySet:
    """The active users who may approve the workspace's posts (superusers aside)."""
    workspace_id = getattr(workspace, "pk", workspace)
    return (
        get_user_model()
        .objects.filter(is_active=True, memberships__workspace_id=workspace_id)
        .filter(Q(memberships__role__in=(Role.OWNER, Role.ADMIN)) | Q(memberships__can_approve=True))
        .distinct()
        .order_by("username")
    )


def approval_needed(post: Post) -> bool:
    """Whether publishing ``post`` now needs an approval it does not have.

    A post planned before its workspace asked for approvals (never submitted, with executions) is
    not held back: publishing its blocked targets again is not a new publication."""
    if not post.workspace.posts_need_approval or post.approval_status == ApprovalStatus.APPROVED:
        return False
    if post.approval_status == ApprovalStatus.NOT_REQUIRED:
        return not post.executions.exists()
    return True


def approval_refusal(post: Post) -> str:
    """What an operator reads when an unapproved post is refused: who approves, how to ask."""
    names = [user.get_username() for user in approvers_of(post.workspace_id)[: MAX_NAMED_APPROVERS + 1]]
    who = ", ".join(names[:MAX_NAMED_APPROVERS]) + (" …" if len(names) > MAX_NAMED_APPROVERS else "")
    state = {
        ApprovalStatus.PENDING: _("It is waiting for approval."),
        ApprovalStatus.REJECTED: _("It was rejected: change it and submit it again."),
    }.get(post.approval_status, _("Submit it for approval first."))
    return _(
        "Posts of this workspace are published only after approval. %(state)s "
        "Admins, owners and members marked as approvers approve it%(who)s."
    ) % {"state": state, "who": f" ({who})" if who else ""}


def approvals_waiting_for(user) -> QuerySet[Post]:
    """Posts waiting for an approval ``user`` may give (the dashboard's badge and list)."""
    if not user.is_authenticated:
        return Post.objects.none()
    posts = scope(Post.objects.filter(approval_status=ApprovalStatus.PENDING), user)
    if user.is_superuser:
        return posts
    approver_in = Membership.objects.filter(user=user).filter(Q(role__in=(Role.OWNER, Role.ADMIN)) | Q(can_approve=True))
    return posts.filter(workspace__in=approver_in.values("workspace_id"))


def _locked(post: Post) -> Post:
    locked = Post.objects.select_for_update().select_related("workspace").get(pk=post.pk)
    if locked.status not in APPROVABLE_STATUSES:
        raise ValidationError(
            _("Only draft or scheduled posts go through approval; this one is %(status)s.")
            % {"status": locked.get_status_display().lower()},
            code="conflict",
        )
    return locked


def _copy_back(post: Post, locked: Post) -> None:
    for name in ("approval_status", "approval_comment", "approval_by_id", "approval_at", "updated_at"):
        setattr(post, name, getattr(locked, name))


def _check_approver(post: Post, actor) -> None:
    if not may_approve(actor, post.workspace_id):
        raise PermissionDenied(
            _("Only admins, owners and members marked as approvers may approve or reject posts of this workspace.")
        )
    if post.author_id is not None and post.author_id == getattr(actor, "pk", None):
        role = role_in(actor, post.workspace_id)
        if not role_at_least(role, Role.ADMIN):
            raise PermissionDenied(_("You wrote this post: another approver, an admin or an owner must approve or reject it."))


@transaction.atomic
def post_submit(*, post: Post, actor=None) -> Post:
    """Ask the approvers to approve ``post`` (editors and up; no actor: the pipeline, for a source's post)."""
    if actor is not None and not (role_at_least(role_in(actor, post.workspace_id), Role.EDITOR)):
        raise PermissionDenied(_("Only editors, admins and owners may submit posts for approval."))
    locked = _locked(post)
    if not locked.workspace.posts_need_approval:
        raise ValidationError(_("This workspace does not need approvals: publish the post directly."), code="conflict")
    if locked.approval_status == ApprovalStatus.PENDING:
        raise ValidationError(_("This post is already waiting for approval."), code="conflict")
    if locked.approval_status == ApprovalStatus.APPROVED:
        raise ValidationError(_("This post is already approved: publish it."), code="conflict")
    locked.approval_status = ApprovalStatus.PENDING
    locked.approval_comment = ""
    locked.approval_by = None
    locked.approval_at = None
    locked.save(update_fields=["approval_status", "approval_comment", "approval_by", "approval_at", "updated_at"])
    _copy_back(post, locked)
    log_activity(
        action="post.submit",
        post=locked,
        actor=actor,
        status=LogStatus.INFO,
        message="Submitted for approval." if actor is not None else "Submitted for approval by the pipeline.",
    )
    notify_approval_requested(locked.pk)
    return post


@transaction.atomic
def post_approve(*, post: Post, actor, comment: str = "", publish_waiting: bool = True) -> Post:
    """Approve ``post``: it may be published now. An approver may approve a post nobody submitted.

    A source's post whose publish stage waits for review is published by that stage, started
    again after commit — unless ``publish_waiting`` is False (the caller publishes it itself)."""
    locked = _locked(post)
    _check_approver(locked, actor)
    if locked.approval_status == ApprovalStatus.APPROVED:
        raise ValidationError(_("This post is already approved."), code="conflict")
    if locked.approval_status != ApprovalStatus.PENDING and not locked.workspace.posts_need_approval:
        raise ValidationError(_("This workspace does not need approvals: publish the post directly."), code="conflict")
    _decide(locked, actor, ApprovalStatus.APPROVED, comment)
    _copy_back(post, locked)
    if publish_waiting:
        _resume_pipeline(locked)
    return post


@transaction.atomic
def post_reject(*, post: Post, actor, comment: str) -> Post:
    """Reject a post waiting for approval; ``comment`` (required) tells the author what to change."""
    if not (comment or "").strip():
        raise ValidationError({"comment": _("Say why the post is rejected: the author reads it to fix the post.")})
    locked = _locked(post)
    _check_approver(locked, actor)
    if locked.approval_status != ApprovalStatus.PENDING:
        raise ValidationError(
            _("Only a post waiting for approval can be rejected; this one is %(state)s.")
            % {"state": locked.get_approval_status_display().lower()},
            code="conflict",
        )
    _decide(locked, actor, ApprovalStatus.REJECTED, comment)
    _copy_back(post, locked)
    return post


def _decide(locked: Post, actor, decision: str, comment: str) -> None:
    locked.approval_status = decision
    locked.approval_comment = (comment or "").strip()
    locked.approval_by = actor if getattr(actor, "is_authenticated", False) else None
    locked.approval_at = timezone.now()
    locked.save(update_fields=["approval_status", "approval_comment", "approval_by", "approval_at", "updated_at"])
    approved = decision == ApprovalStatus.APPROVED
    log_activity(
        action="post.approve" if approved else "post.reject",
        post=locked,
        actor=actor,
        status=LogStatus.SUCCESS if approved else LogStatus.INFO,
        message=("Approved." if approved else "Rejected.") + (f" {locked.approval_comment}" if locked.approval_comment else ""),
        details={"comment": locked.approval_comment},
    )
    notify_approval_decided(locked.pk)


def _resume_pipeline(post: Post) -> None:
    """A source's post whose publish stage waits for review goes on: the stage runs again (after
    commit) and, the post being approved now, publishes it."""
    if not PipelineStage.objects.filter(post_id=post.pk, stage=Stage.PUBLISH, status=StageStatus.REVIEW).exists():
        return
    # By name (publishing.pipeline.TASKS): the pipeline imports the planner, which imports this module.
    task = current_app.tasks[PUBLISH_STAGE_TASK]
    post_id = post.pk
    transaction.on_commit(lambda: task.apply_async((post_id,)))
