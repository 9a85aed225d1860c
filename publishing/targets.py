"""Which accounts a post targets, and which of them the next plan still decides about — read by
the planner and by the AI captions that must be written before it plans."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import SocialAccount
from posts.models import Post

from .models import Execution, ExecutionStatus


def target_accounts(post: Post) -> QuerySet[SocialAccount]:
    """Every account the post targets, directly or through a group, once each."""
    return (
        SocialAccount.objects.filter(workspace_id=post.workspace_id)
        .filter(Q(pk__in=post.target_accounts.values("pk")) | Q(group__in=post.target_groups.values("pk")))
        .select_related("workspace", "proxy")
        .order_by("platform", "handle", "pk")
        .distinct()
    )


def accounts_to_plan(post: Post, *, now: datetime | None = None, due_only: bool = False) -> QuerySet[SocialAccount]:
    """The target accounts without an execution or with a blocked one (with ``due_only``: only
    those whose ``next_attempt_at`` has come) — the ones the next plan writes captions for."""
    replannable = Q(status=ExecutionStatus.BLOCKED)
    if due_only:
        replannable &= Q(next_attempt_at__lte=now or timezone.now())
    settled = Execution.objects.filter(post=post).exclude(replannable)
    return target_accounts(post).exclude(pk__in=settled.values("account_id"))
