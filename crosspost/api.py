"""Shared API building blocks: pagination, workspace scoping, role permissions,
service-error translation and local-time input.

DEFAULT_PAGINATION_CLASS points here and rest_framework.generics reads it while
being imported, so this module must not import rest_framework.generics or
.viewsets: viewsets live in each app's api.py."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django_filters.filters import QuerySetRequestMixin
from django_filters.rest_framework import DjangoFilterBackend, FilterSet
from drf_spectacular.utils import inline_serializer
from rest_framework import filters, permissions, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.settings import api_settings

from accounts.middleware import activate_member_timezone
from accounts.models import Role, Workspace
from accounts.selectors import has_role, scope, workspaces_for


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


# The body of every "detail" answer (errors from actions, 501s), for the schema.
DetailSerializer = inline_serializer("Detail", {"detail": serializers.CharField()})


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    """A Django ValidationError from a service as a DRF one that keeps the field names.

    Errors without a field become ``{"detail": "…"}``; model-level errors
    (``__all__``) become ``non_field_errors``.
    """
    if hasattr(exc, "error_dict"):
        return ValidationError(
            {
                (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
                for field, messages in exc.message_dict.items()
            }
        )
    return ValidationError({"detail": " ".join(exc.messages)})


class WorkspaceRolePermission(permissions.BasePermission):
    """Reads need membership (the scoped queryset does that); writes need the view's role.

    Object writes check the role in the object's workspace; creates check it in
    the workspace named in the body, or require it in at least one workspace
    when none is named (the serializer then picks it or asks to choose).
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        role = view.required_role()
        if role == Role.VIEWER or getattr(view, "detail", False):
            return True
        workspace_id = request.data.get("workspace") if hasattr(request.data, "get") else None
        if workspace_id not in (None, ""):
            try:
                workspace_id = int(workspace_id)
            except (TypeError, ValueError):
                return True  # the serializer reports the malformed id as a field error
            if not has_role(request.user, workspace_id, role):
                self.message = f"You need the {role} role in workspace {workspace_id} to do this."
                return False
            return True
        if not workspaces_for(request.user, role).exists():
            self.message = f"You need the {role} role in a workspace to do this."
            return False
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        role = view.required_role()
        if role == Role.VIEWER:
            return True
        if not has_role(request.user, obj.workspace_id, role):
            self.message = f"You need the {role} role in this object's workspace to do this."
            return False
        return True


class ScopedFilterSet(FilterSet):
    """Related-object filters accept only ids from the user's workspaces, so a filter
    cannot reveal whether another workspace's id exists."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = getattr(self.request, "user", None)
        for filter_ in self.filters.values():
            if isinstance(filter_, QuerySetRequestMixin) and isinstance(filter_.queryset, QuerySet) and user is not None:
                model = filter_.queryset.model
                if model is Workspace:
                    filter_.queryset = workspaces_for(user)
                elif any(field.name == "workspace" for field in model._meta.get_fields()):
                    filter_.queryset = scope(filter_.queryset, user)


class ScopedFilterBackend(DjangoFilterBackend):
    filterset_base = ScopedFilterSet


class WorkspaceScopedMixin:
    """For every viewset: rows of the user's workspaces only, role checks, the member's time zone.

    ``write_role`` is needed for unsafe methods; ``action_roles`` overrides it
    per action (e.g. ``{"retry": Role.EDITOR}``).
    """

    permission_classes = [WorkspaceRolePermission]
    filter_backends = [ScopedFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    write_role: str = Role.ADMIN
    action_roles: dict[str, str] = {}
    workspace_field = "workspace"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # JWT authenticates here, after MemberTimezoneMiddleware saw an anonymous user:
        # naive datetimes in the body are read, and output is written, in the member's zone.
        activate_member_timezone(request.user)

    def required_role(self) -> str:
        action = getattr(self, "action", None)
        if action in self.action_roles:
            return self.action_roles[action]
        if self.request.method in permissions.SAFE_METHODS:
            return Role.VIEWER
        return self.write_role

    def get_queryset(self) -> QuerySet:
        return scope(super().get_queryset(), self.request.user, field=self.workspace_field)

    def handle_exception(self, exc):
        if isinstance(exc, DjangoValidationError):
            exc = as_drf_error(exc)
        return super().handle_exception(exc)


def default_workspace(request, role: str) -> Workspace:
    """The only workspace where the user has ``role``; a field error when there are several."""
    candidates = list(workspaces_for(request.user, role)[:2])
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ValidationError({"workspace": [f"You have the {role} role in no workspace."]})
    raise ValidationError({"workspace": ["Choose a workspace: you belong to several."]})


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related id limited to the requesting user's workspaces, with a message that says so."""

    default_error_messages = {
        "does_not_exist": 'No {model} with id "{pk_value}" in your workspaces.',
    }

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        request = self.context.get("request")
        return scope(queryset, request.user) if request is not None else queryset.none()

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            return self.get_queryset().get(pk=data)
        except ObjectDoesNotExist:
            self.fail("does_not_exist", model=self.get_queryset().model._meta.verbose_name, pk_value=data)
        except (TypeError, ValueError, DjangoValidationError):
            self.fail("incorrect_type", data_type=type(data).__name__)


class WorkspaceOwnedSerializer(serializers.ModelSerializer):
    """``workspace`` is optional on create (the user's only suitable one) and fixed afterwards.

    After ``validate()`` the target workspace is in ``attrs["workspace"]`` on
    create and in ``self.target_workspace`` either way, so subclasses can check
    that related objects belong to it.
    """

    workspace = serializers.PrimaryKeyRelatedField(
        queryset=Workspace.objects.all(),
        required=False,
        help_text="Workspace id. Optional when you have the needed role in exactly one workspace; fixed after creation.",
    )

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if self.instance is not None:
            moved = attrs.pop("workspace", None)
            if moved is not None and moved.pk != self.instance.workspace_id:
                raise ValidationError({"workspace": ["An object cannot move to another workspace; create a new one there."]})
            self.target_workspace = self.instance.workspace
            return attrs
        request = self.context["request"]
        view = self.context["view"]
        if "workspace" not in attrs:
            attrs["workspace"] = default_workspace(request, view.required_role())
        self.target_workspace = attrs["workspace"]
        return attrs


def same_workspace_errors(workspace: Workspace, **related) -> dict[str, list[str]]:
    """Field errors for related objects (single or iterables) outside ``workspace``."""
    errors = {}
    for field, value in related.items():
        objects = value if isinstance(value, (list, tuple, set, QuerySet)) else [value]
        strangers = [obj for obj in objects if obj is not None and obj.workspace_id != workspace.pk]
        if strangers:
            names = ", ".join(f"{obj} (#{obj.pk})" for obj in strangers)
            errors[field] = [f"Not in workspace {workspace}: {names}. Pick objects from the same workspace."]
    return errors


class LocalDateTimeField(serializers.DateTimeField):
    """An ISO datetime; without an offset it is read in the member's time zone.

    A wall-clock time that does not exist there (clocks jump forward) or exists
    twice (clocks go back) is refused rather than silently shifted.
    """

    default_error_messages = {
        "nonexistent": "{value} does not exist in {zone}: the clocks jump forward at the daylight-saving change. "
        "Pick another time or give an explicit UTC offset.",
        "ambiguous": "{value} happens twice in {zone}: the clocks go back at the daylight-saving change. "
        "Give an explicit UTC offset (e.g. {first} or {second}).",
    }

    def enforce_timezone(self, value: datetime) -> datetime:
        zone = self.timezone if hasattr(self, "timezone") else self.default_timezone()
        if zone is None or timezone.is_aware(value):
            return super().enforce_timezone(value)
        first, second = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
        shown = value.strftime("%Y-%m-%d %H:%M")
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
            self.fail("nonexistent", value=shown, zone=_zone_name(zone))
        if first.utcoffset() != second.utcoffset():
            self.fail(
                "ambiguous",
                value=shown,
                zone=_zone_name(zone),
                first=first.isoformat()[-6:],
                second=second.isoformat()[-6:],
            )
        return first


def _zone_name(zone) -> str:
    return zone.key if isinstance(zone, ZoneInfo) else str(zone)
