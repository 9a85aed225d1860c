"""Approvals in the dashboard (Django test client: the buttons each member sees, the refusals, the
composer's Publish turned into Submit for approval, "Waiting for your approval") and in the admin
(the changelist actions, the reject page asking for a comment, the settings where they are edited)."""

from django.urls import reverse

from accounts.models import Membership, Role, Workspace
from posts.models import ApprovalStatus, Post
from publishing.approvals import post_approve, post_submit
from publishing.models import Execution

from ..test_dashboard import compose_data
from .test_approvals import publishable


def as_member(client, member, role, can_approve=False):
    user = member(role)
    if can_approve:
        Membership.objects.filter(user=user).update(can_approve=True)
    client.force_login(user)
    return user


def page(client, post) -> str:
    response = client.get(reverse("dashboard:post", args=[post.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- dashboard ----------------------------------------------------------------------------------------------


def test_the_dashboard_shows_each_member_the_approval_buttons_they_may_press(client, member, approving):
    author = member(Role.EDITOR)
    post = publishable(approving, author=author)

    client.force_login(author)
    html = page(client, post)
    assert 'data-testid="approval-submit"' in html and 'data-testid="approval-approve"' not in html
    response = client.post(reverse("dashboard:post-submit", args=[post.pk]), follow=True)
    assert "Submitted for approval: the approvers were told." in response.content.decode()
    assert Post.objects.get(pk=post.pk).approval_status == ApprovalStatus.PENDING
    assert 'data-testid="approval-submit"' not in page(client, post)

    as_member(client, member, Role.VIEWER)
    html = page(client, post)
    assert "Waiting for approval" in html and 'data-testid="approval-approve"' not in html
    assert client.post(reverse("dashboard:post-submit", args=[post.pk])).status_code == 403

    # An editor who is not an approver: no buttons, and a forged approve is refused with the reason.
    as_member(client, member, Role.EDITOR)
    assert 'data-testid="approval-approve"' not in page(client, post)
    refused = client.post(reverse("dashboard:post-approve", args=[post.pk]), HTTP_HX_REQUEST="true")
    assert refused.status_code == 409
    assert Post.objects.get(pk=post.pk).approval_status == ApprovalStatus.PENDING

    # A viewer marked as approver approves; the author then publishes from the post page.
    as_member(client, member, Role.VIEWER, can_approve=True)
    html = page(client, post)
    assert 'data-testid="approval-approve"' in html and 'data-testid="approval-reject"' in html
    client.post(reverse("dashboard:post-approve", args=[post.pk]))
    assert Post.objects.get(pk=post.pk).approval_status == ApprovalStatus.APPROVED

    client.force_login(author)
    html = page(client, post)
    assert 'data-testid="approval-publish"' in html
    client.post(reverse("dashboard:post-publish-again", args=[post.pk]))
    assert Execution.objects.filter(post=post).count() == 1


def test_the_dashboard_refuses_publishing_before_approval_and_a_reject_needs_a_comment(client, member, approving):
    author = member(Role.EDITOR)
    post = publishable(approving, author=author)
    client.force_login(author)
    response = client.post(reverse("dashboard:post-publish-again", args=[post.pk]), follow=True)
    assert "published only after approval" in response.content.decode()
    assert not Execution.objects.filter(post=post).exists()

    post_submit(post=post, actor=author)
    as_member(client, member, Role.ADMIN)
    blank = client.post(reverse("dashboard:post-reject", args=[post.pk]), {"comment": " "}, follow=True)
    assert "Say why the post is rejected" in blank.content.decode()
    client.post(reverse("dashboard:post-reject", args=[post.pk]), {"comment": "Wrong photo"})
    rejected = Post.objects.get(pk=post.pk)
    assert (rejected.approval_status, rejected.approval_comment) == (ApprovalStatus.REJECTED, "Wrong photo")
    assert "Wrong photo" in page(client, post)


def test_the_composers_publish_submits_for_approval_in_such_a_workspace(client, member, approving):
    author = member(Role.EDITOR)
    post = publishable(approving, author=author)
    client.force_login(author)
    edit = reverse("dashboard:compose-edit", args=[post.pk])
    form = client.get(edit).content.decode()
    assert "Submit for approval" in form
    data = compose_data(
        target_accounts=[a.pk for a in post.target_accounts.all()],
        media=[m.asset_id for m in post.media.all()],
        action="publish",
    )
    response = client.post(edit, data)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:post", args=[post.pk])
    assert Post.objects.get(pk=post.pk).approval_status == ApprovalStatus.PENDING
    assert not Execution.objects.filter(post=post).exists()


def test_approvers_see_what_waits_for_them_on_the_overview_and_the_posts_list(client, member, approving):
    waiting = publishable(approving, title="Needs a yes")
    post_submit(post=waiting, actor=member(Role.EDITOR))
    publishable(approving, title="Just a draft")

    as_member(client, member, Role.ADMIN)
    overview = client.get(reverse("dashboard:overview")).content.decode()
    assert 'data-testid="overview-awaiting-approval"' in overview and "Needs a yes" in overview
    listing = client.get(reverse("dashboard:posts")).content.decode()
    assert "Waiting for your approval (1)" in listing
    mine = client.get(reverse("dashboard:posts") + "?approval=mine").content.decode()
    assert "Needs a yes" in mine and "Just a draft" not in mine

    as_member(client, member, Role.EDITOR)  # not an approver: nothing waits for them
    assert "overview-awaiting-approval" not in client.get(reverse("dashboard:overview")).content.decode()
    assert "Waiting for your approval" not in client.get(reverse("dashboard:posts")).content.decode()


# --- admin --------------------------------------------------------------------------------------------------


CHANGELIST = "/admin/posts/post/"


def test_the_admin_actions_submit_approve_and_reject_and_refuse_a_non_approver(client, member, approving):
    author = member(Role.EDITOR)
    first, second = publishable(approving, author=author), publishable(approving, author=author)
    client.force_login(author)
    selected = [str(first.pk), str(second.pk)]
    response = client.post(CHANGELIST, {"action": "submit_posts", "_selected_action": selected}, follow=True)
    assert "Submitted:" in response.content.decode()
    assert set(Post.objects.filter(pk__in=selected).values_list("approval_status", flat=True)) == {"pending"}

    # The author, an editor and no approver, cannot approve.
    response = client.post(CHANGELIST, {"action": "approve_posts", "_selected_action": [str(first.pk)]}, follow=True)
    assert "approvers may approve or reject" in response.content.decode()
    assert Post.objects.get(pk=first.pk).approval_status == ApprovalStatus.PENDING

    as_member(client, member, Role.EDITOR, can_approve=True)
    client.post(CHANGELIST, {"action": "approve_posts", "_selected_action": [str(first.pk)]})
    assert Post.objects.get(pk=first.pk).approval_status == ApprovalStatus.APPROVED

    # Reject asks for the comment first; nothing changes until it is given.
    asked = client.post(CHANGELIST, {"action": "reject_posts", "_selected_action": [str(second.pk)]})
    assert asked.status_code == 200 and 'name="comment"' in asked.content.decode()
    assert Post.objects.get(pk=second.pk).approval_status == ApprovalStatus.PENDING
    empty = client.post(
        CHANGELIST, {"action": "reject_posts", "_selected_action": [str(second.pk)], "reject_apply": "1", "comment": ""}
    )
    assert empty.status_code == 200 and Post.objects.get(pk=second.pk).approval_status == ApprovalStatus.PENDING
    done = client.post(
        CHANGELIST,
        {"action": "reject_posts", "_selected_action": [str(second.pk)], "reject_apply": "1", "comment": "Too long"},
        follow=True,
    )
    assert "Rejected:" in done.content.decode()
    rejected = Post.objects.get(pk=second.pk)
    assert (rejected.approval_status, rejected.approval_comment) == (ApprovalStatus.REJECTED, "Too long")

    # The admin's Publish action is held at the same gate.
    client.force_login(author)
    held = client.post(CHANGELIST, {"action": "publish_posts", "_selected_action": [str(second.pk)]}, follow=True)
    assert "published only after approval" in held.content.decode()
    assert not Execution.objects.filter(post=second).exists()
    client.post(CHANGELIST, {"action": "publish_posts", "_selected_action": [str(first.pk)]})
    assert Execution.objects.filter(post=first).count() == 1


def test_the_admin_filters_by_approval_and_edits_the_new_settings(client, member, approving):
    waiting = publishable(approving, title="Waiting one")
    post_submit(post=waiting, actor=member(Role.EDITOR))
    publishable(approving, title="Other one")
    owner = as_member(client, member, Role.OWNER)
    listing = client.get(CHANGELIST + "?approval_status__exact=pending").content.decode()
    assert "Waiting one" in listing and "Other one" not in listing
    # The list shows each post's approval under its status.
    everything = client.get(CHANGELIST).content.decode()
    assert "<small>Waiting for approval</small>" in everything

    form = client.get(f"/admin/accounts/workspace/{approving.pk}/change/").content.decode()
    for name in ("posts_need_approval", "duplicate_window_hours", "evergreen_min_gap_days"):
        assert f'name="{name}"' in form
    response = client.post(
        f"/admin/accounts/workspace/{approving.pk}/change/",
        {
            "name": approving.name,
            "slug": approving.slug,
            "timezone": approving.timezone,
            "telegram_admin_chat_id": "",
            "duplicate_window_hours": 12,
            "evergreen_min_gap_days": 45,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Workspace.objects.get(pk=approving.pk)
    assert (saved.posts_need_approval, saved.duplicate_window_hours, saved.evergreen_min_gap_days) == (False, 12, 45)

    membership = Membership.objects.get(user=owner)
    assert 'name="can_approve"' in client.get(f"/admin/accounts/membership/{membership.pk}/change/").content.decode()
    post_approve(post=waiting, actor=owner)  # the owner approves, as every owner may
    assert Post.objects.get(pk=waiting.pk).approval_status == ApprovalStatus.APPROVED
