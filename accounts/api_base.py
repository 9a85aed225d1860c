"""Shared API building blocks: pagination, workspace scoping, role permissions,
service-error translation (400 or 409), RFC 3339 times and local-time input.

DEFAULT_PAGINATION_CLASS points here and rest_framework.generics reads it while
being imported, so this module must not import rest_framework.generics or
.viewsets: viewsets live in each app's api.py."""

import re
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views import defaults
from django_filters import rest_framework as django_filters
from django_filters.rest_framework import DjangoFilterBackend, FilterSet
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters, permissions, serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.settings import api_settings

from .middleware import activate_member_timezone
from .models import Role, Workspace
from .selectors import has_role, scope, workspaces_for

# The largest id a (Big)AutoField holds; a larger one is refused before it reaches the database
# (SQLite raises OverflowError on it).
MAX_ID = 2**63 - 1


class Pagination(PageNumberPagination):
    """``page`` from 1 (past the last page: 404), ``page_size`` from 1 to 500; anything else is a
    400 naming the parameter (DRF would silently fall back to the default size or answer 404)."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request) -> int:
        return self._number(request, self.page_size_query_param, self.page_size, self.max_page_size)

    def get_page_number(self, request, paginator) -> int | str:
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return paginator.num_pages
        return self._number(request, self.page_query_param, 1)

    @staticmethod
    def _number(request, name: str, default: int, maximum: int | None = None) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= (maximum or int(raw))):
            allowed = f"from 1 to {maximum}" if maximum else "from 1"
            raise ValidationError({name: [f"Expected a whole number {allowed}, not {raw!r}."]})
        return int(raw)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: JSON under /api/ (the body DRF gives its own 404s), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


# --- Refusals: 400 for a malformed request, 409 for one that conflicts with stored data ------------

# Error codes of refusals that depend on what is stored, not on the request's shape: an id
# that is not (or no longer) there, a duplicate, an object whose state forbids the change.
CONFLICT_CODES = frozenset({"does_not_exist", "unique", "unique_together", "conflict", "approval_required"})


class Conflict(ValidationError):
    """409: the request is well formed but conflicts with stored data. Same body as a 400."""

    status_code = 409
    default_code = "conflict"


def _error_codes(detail: Any) -> set[str]:
    if isinstance(detail, dict):
        return set().union(*map(_error_codes, detail.values()))
    if isinstance(detail, list):
        return set().union(*map(_error_codes, detail))
    return {getattr(detail, "code", None) or "invalid"}


def refusal(exc: ValidationError) -> ValidationError:
    """``exc`` as a 409 when every error in it is a conflict (see CONFLICT_CODES), else unchanged."""
    codes = _error_codes(exc.detail)
    return Conflict(exc.detail) if codes and codes <= CONFLICT_CODES else exc


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    """A Django ValidationError from a service as a DRF one that keeps the field names and error codes.

    Errors without a field become ``{"detail": "…"}``; model-level errors
    (``__all__``) become ``non_field_errors``.
    """
    if hasattr(exc, "error_dict"):
        return ValidationError(
            {
                (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): _details(errors)
                for field, errors in exc.error_dict.items()
            }
        )
    codes = {error.code for error in exc.error_list}
    code = codes.pop() if len(codes) == 1 and None not in codes else "invalid"
    return ValidationError({"detail": ErrorDetail(" ".join(exc.messages), code=code)})


def _details(errors: list[DjangoValidationError]) -> list[ErrorDetail]:
    return [ErrorDetail(message, code=error.code or "invalid") for error in errors for message in error.messages]


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
            if not 0 < workspace_id <= MAX_ID:
                return True  # no such workspace: the serializer says so
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


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.Filter):
    """A related object's id (or the workspace's)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class DateTimeRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    """``<name>_after`` / ``<name>_before``: RFC 3339; without an offset, in the member's time zone.

    Bounds are compared in UTC: RFC 3339 allows offsets up to ±23:59, PostgreSQL only up to
    ±15:59, so a bound such as ``…+16:00`` is converted before it reaches the database.
    """

    def filter(self, qs: QuerySet, value: slice | None) -> QuerySet:
        if value:
            value = slice(self._in_utc(value.start, "after"), self._in_utc(value.stop, "before"))
        return super().filter(qs, value)

    def _in_utc(self, value: datetime | None, suffix: str) -> datetime | None:
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError(
                {f"{self.field_name}_{suffix}": [f"{value.isoformat()} is outside the calendar once converted to UTC."]}
            ) from None


class _StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0) only: django-filter's own boolean field reads anything else as "no filter"."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = _StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs["widget"] = forms.TextInput  # the value as sent, for the field to judge
        super().__init__(*args, **kwargs)


class ScopedFilterSet(FilterSet):
    """Filters over rows already limited to the user's workspaces.

    A related object is filtered by its plain id: an id of another workspace, or of no object
    at all, matches nothing (an empty page, never a hint whether it exists). A parameter sent
    with an empty value is refused unless it is free text: "no filter" is the parameter left out.
    """

    @classmethod
    def filter_for_lookup(cls, field, lookup_type):
        if isinstance(field, models.ForeignKey) and lookup_type == "exact":
            return (django_filters.UUIDFilter if isinstance(field.target_field, models.UUIDField) else IdFilter), {}
        if isinstance(field, models.BooleanField) and lookup_type == "exact":
            return StrictBooleanFilter, {}
        return super().filter_for_lookup(field, lookup_type)

    def get_form_class(self) -> type[forms.Form]:
        return type(f"{type(self).__name__}Form", (_NoEmptyParametersForm, super().get_form_class()), {})


class _NoEmptyParametersForm(forms.Form):
    def clean(self) -> dict:
        cleaned = super().clean()
        for name, field in self.fields.items():
            if type(field) is forms.CharField or not hasattr(self.data, "getlist"):
                continue
            suffixes = getattr(field.widget, "suffixes", None)
            for parameter in [f"{name}_{suffix}" for suffix in suffixes] if suffixes else [name]:
                if "" in self.data.getlist(parameter):
                    self._errors[parameter] = self.error_class(["Give a value, or leave the parameter out to not filter by it."])
        return cleaned


class ScopedFilterBackend(DjangoFilterBackend):
    filterset_base = ScopedFilterSet


class SearchFilter(filters.SearchFilter):
    """DRF's, with its refusal (a NUL character) keyed by the parameter like every other 400."""

    def get_search_terms(self, request) -> list[str]:
        try:
            return super().get_search_terms(request)
        except ValidationError as exc:
            raise ValidationError({self.search_param: exc.detail}) from None


class WorkspaceScopedMixin:
    """For every viewset: rows of the user's workspaces only, role checks, the member's time zone.

    ``write_role`` is needed for unsafe methods; ``action_roles`` overrides it
    per action (e.g. ``{"retry": Role.EDITOR}``).
    """

    permission_classes = [WorkspaceRolePermission]
    filter_backends = [ScopedFilterBackend, SearchFilter, filters.OrderingFilter]
    write_role: str = Role.ADMIN
    action_roles: dict[str, str] = {}
    workspace_field = "workspace"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # JWT authenticates here, after MemberTimezoneMiddleware saw an anonymous user:
        # naive datetimes in the body are read, and output is written, in the member's zone.
        activate_member_timezone(request.user, remember_roles=request.method in permissions.SAFE_METHODS)

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
        if isinstance(exc, ValidationError):
            exc = refusal(exc)
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


# --- Fields and model serializers -------------------------------------------------------------


class FullMatchValidator(RegexValidator):
    """A RegexValidator that needs the whole value to match. Python's ``$`` also matches before a
    final newline, ECMAScript's (the schema's ``pattern``) does not: this way the two agree."""

    def __call__(self, value) -> None:
        if not self.regex.fullmatch(str(value)):
            raise DjangoValidationError(self.message, code=self.code, params={"value": value})


# Text with at least one character that is not whitespace — in Python (str.strip) and in the
# schema's ECMAScript regex alike, so the two never disagree on what is blank.
VISIBLE_TEXT = RegexValidator(
    r"[^\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]",
    message="Give some text, not only spaces.",
    code="blank",
)


class CharField(serializers.CharField):
    """Text, and only text: DRF would take a JSON number or boolean as its string (``0`` as "0").

    A field that trims whitespace and may not be blank refuses whitespace alone; VISIBLE_TEXT
    puts that in the schema as a pattern.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.trim_whitespace and not self.allow_blank and not self.read_only:
            self.validators.append(VISIBLE_TEXT)

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class DateTimeField(serializers.DateTimeField):
    """An RFC 3339 datetime.

    Read: with an offset it is kept in UTC (RFC 3339 allows offsets up to ±23:59, PostgreSQL
    only up to ±15:59). Written: in the member's time zone, or in UTC where that zone's offset
    is not whole minutes (local mean time before ~1900, e.g. +00:53:28, which RFC 3339 cannot
    write) or the local date would leave the calendar (31 December 9999 east of UTC).
    """

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_aware(value):
            try:
                return value.astimezone(UTC)
            except OverflowError:
                self.fail("overflow")
        return super().enforce_timezone(value)

    def to_representation(self, value):
        if not isinstance(value, datetime):
            return super().to_representation(value)
        if timezone.is_aware(value):
            zone = getattr(self, "timezone", None) or self.default_timezone() or UTC
            try:
                local = value.astimezone(zone)
            except OverflowError:
                local = None
            value = local if local is not None and local.utcoffset().total_seconds() % 60 == 0 else value.astimezone(UTC)
        shown = value.isoformat()
        return shown[:-6] + "Z" if shown.endswith("+00:00") else shown


_CLOCK_TIME = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"


@extend_schema_field({"type": "string", "pattern": _CLOCK_TIME, "example": "22:00"})
class ClockTimeField(serializers.TimeField):
    """A time of day, HH:MM[:SS[.ffffff]], read in the account's time zone: a UTC offset is refused,
    since it would be silently dropped (and RFC 3339's ``time`` format would require one)."""

    default_error_messages = {"clock": "Give a time of day as HH:MM or HH:MM:SS, without a UTC offset, e.g. 22:00."}

    def to_internal_value(self, value) -> time:
        if isinstance(value, str) and not re.fullmatch(_CLOCK_TIME, value):
            self.fail("clock")
        return super().to_internal_value(value)


class JSONField(serializers.JSONField):
    """A JSON column. In a form the text ``null`` parses to None after DRF's own null check,
    so it is checked again here: a NOT NULL column refuses it with a 400, not a database error."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value is None and not self.allow_null:
            self.fail("null")
        return value


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JSONObjectField(JSONField):
    """A JSON column that holds an object (its model default is ``dict``)."""

    default_error_messages = {"not_an_object": "Expected a JSON object, not {type}."}

    def to_internal_value(self, data) -> dict:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}
            self.fail("not_an_object", type=kinds.get(type(value), "null"))
        return value


class StrictBooleanField(serializers.BooleanField):
    """true or false, as JSON spells them: DRF's BooleanField also takes 0, 1, "yes", "on"…, which
    the schema's ``boolean`` does not allow (the API fuzzer sends them)."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class ModelSerializer(serializers.ModelSerializer):
    """The API's model serializer: strict text, RFC 3339 datetimes, wall-clock times, and JSON columns
    that obey NOT NULL (objects where the column's default is ``dict``)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: CharField,
        models.TextField: CharField,
        models.DateTimeField: DateTimeField,
        models.TimeField: ClockTimeField,
        models.JSONField: JSONField,
    }

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if field_class is JSONField and model_field.default is dict:
            field_class = JSONObjectField
        return field_class, kwargs


class WorkspaceOwnedSerializer(ModelSerializer):
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
                message = "An object cannot move to another workspace; create a new one there."
                raise ValidationError({"workspace": [message]}, code="conflict")
            self.target_workspace = self.instance.workspace
            return attrs
        request = self.context["request"]
        view = self.context["view"]
        if "workspace" not in attrs:
            attrs["workspace"] = default_workspace(request, view.required_role())
        self.target_workspace = attrs["workspace"]
        return attrs


def same_workspace_errors(workspace: Workspace, **related) -> dict[str, list[ErrorDetail]]:
    """Field errors for related objects (single or iterables) outside ``workspace``."""
    errors = {}
    for field, value in related.items():
        objects = value if isinstance(value, (list, tuple, set, QuerySet)) else [value]
        strangers = [obj for obj in objects if obj is not None and obj.workspace_id != workspace.pk]
        if strangers:
            names = ", ".join(f"{obj} (#{obj.pk})" for obj in strangers)
            message = f"Not in workspace {workspace}: {names}. Pick objects from the same workspace."
            errors[field] = [ErrorDetail(message, code="conflict")]
    return errors


class LocalDateTimeField(DateTimeField):
    """An RFC 3339 datetime; without an offset it is read in the member's time zone.

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


class JSONErrorsMixin:
    """For views that also answer a file (CSV, XLSX) through content negotiation: a refusal — not
    found, forbidden, bad input — is JSON saying what to fix, even when the file's format was asked
    for (``?format=csv``), as the schema documents it."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if getattr(getattr(self.request, "accepted_renderer", None), "format", "json") != "json":
            from rest_framework import renderers

            self.request.accepted_renderer = renderers.JSONRenderer()
            self.request.accepted_media_type = "application/json"
        return response
