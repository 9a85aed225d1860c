"""Reads that every query path (admin, API, dashboard, tasks) shares."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .models import ROLE_RANK, Membership, Role, Workspace


def workspaces_for(user: AbstractBaseUser | AnonymousUser, min_role: str = Role.VIEWER) -> QuerySet[Workspace]:
    """Workspaces ``user`` may act in with at least ``min_role`` (superusers: all)."""
    if not user.is_authenticated or not user.is_active:
        return Workspace.objects.none()
    if user.is_superuser:
        return Workspace.objects.all()
    roles = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[Role(min_role)]]
    return Workspace.objects.filter(memberships__user=user, memberships__role__in=roles)


def scope(queryset: QuerySet, user, min_role: str = Role.VIEWER, field: str = "workspace") -> QuerySet:
    """Restrict ``queryset`` to rows in the user's workspaces (superusers: unrestricted)."""
    if user.is_authenticated and user.is_active and user.is_superuser:
        return queryset
    return queryset.filter(**{f"{field}__in": workspaces_for(user, min_role).values("pk")})


def role_in(user, workspace_id: int) -> str | None:
    """The user's role in a workspace (``owner`` for superusers), or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.OWNER
    return Membership.objects.filter(user=user, workspace_id=workspace_id).values_list("role", flat=True).first()


def has_role(user, workspace_id: int, min_role: str) -> bool:
    role = role_in(user, workspace_id)
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role(min_role)]


def primary_membership(user) -> Membership | None:
    """The membership whose time zone a user sees by default (their oldest)."""
    if not user.is_authenticated:
        return None
    return Membership.objects.select_related("workspace").filter(user=user).order_by("created_at", "pk").first()
