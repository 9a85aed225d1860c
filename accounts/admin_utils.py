"""Shared admin machinery: workspace scoping, role-based permissions, write-only
widgets and status badges.

Django's model permissions are not used for tenant data: what a staff member may
see and do is decided by their Membership role in the row's workspace
(superusers: everything). Querysets, dropdowns and bulk actions are all scoped,
so another workspace's rows are never listed, offered or changed.
"""

from collections.abc import Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import InvalidPage, Page, Paginator
from django.db import connections
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext

from crosspost.choices import choice_label

from .models import ROLE_RANK, Membership, Role, Workspace, role_at_least
from .selectors import remembered_roles, scope, workspaces_for

# A role requirement that only superusers meet (creating or deleting a tenant).
SUPERUSER = "superuser"

_ROLES_CACHE = "_crosspost_member_roles"


def member_roles(request) -> dict[int, str]:
    """``{workspace_id: role}`` of the requesting user, read once per request.

    The admin asks for permissions dozens of times per page (sidebar, actions,
    every inline); one query per request keeps pages at a constant query count.
    """
    roles = getattr(request, _ROLES_CACHE, None)
    if roles is None:
        user = request.user
        # A read-only request's roles, read already with the member's time zone (MemberTimezoneMiddleware).
        roles = remembered_roles(user)
        if roles is None:
            active = user.is_authenticated and user.is_active
            roles = dict(Membership.objects.filter(user=user).values_list("workspace_id", "role")) if active else {}
        setattr(request, _ROLES_CACHE, roles)
    return roles


def role_allows(request, workspace_id: int | None, min_role: str | None) -> bool:
    """Whether the user holds ``min_role`` in ``workspace_id`` (None: nobody; SUPERUSER: superusers)."""
    user = request.user
    if min_role is None or not (user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    if min_role == SUPERUSER or workspace_id is None:
        return False
    role = member_roles(request).get(workspace_id)
    return role_at_least(role, min_role)


def role_allows_somewhere(request, min_role: str | None) -> bool:
    user = request.user
    if min_role is None or not (user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    if min_role == SUPERUSER:
        return False
    return any(role_at_least(role, min_role) for role in member_roles(request).values())


def lowest_role(*roles: str | None) -> str | None:
    """The least demanding of several role requirements (None entries ignored)."""
    present = [role for role in roles if role is not None]
    if not present:
        return None
    if all(role == SUPERUSER for role in present):
        return SUPERUSER
    return min((role for role in present if role != SUPERUSER), key=lambda role: ROLE_RANK[Role(role)])


def workspace_path(model: type[Model]) -> str | None:
    """The lookup from ``model`` to its workspace, or None if the model is not tenant-owned."""
    if model is Workspace:
        return "pk"
    if any(field.name == "workspace" for field in model._meta.get_fields()):
        return "workspace"
    return None


def scoped_choices(request, queryset: QuerySet, min_role: str | None) -> QuerySet:
    """``queryset`` limited to the user's workspaces where they hold ``min_role``."""
    path = workspace_path(queryset.model)
    if path is None:
        return queryset
    if min_role is None:
        return queryset.none()
    if min_role == SUPERUSER:
        return queryset if request.user.is_superuser else queryset.none()
    return scope(queryset, request.user, min_role, field=path)


def add_validation_error(form: forms.BaseForm, exc: ValidationError) -> None:
    """Put a service's or model's ValidationError on the form, on the named field when the form has it."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        if field == NON_FIELD_ERRORS or field not in form.fields:
            prefix = "" if field == NON_FIELD_ERRORS else f"{field}: "
            form.add_error(None, [f"{prefix}{message}" for error in errors for message in error.messages])
        else:
            form.add_error(field, errors)


def validation_message(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --- Display helpers ---------------------------------------------------------------

_TONES = {
    "ok": {"active", "success", "ready", "completed"},
    "warn": {"cooldown", "retry_wait", "checking", "partial", "pending", "scheduled", "queued", "info"},
    "bad": {"banned", "failed", "proxy_error", "login_required"},
    "busy": {"posting", "publishing", "unconfirmed"},
    "off": {"disabled", "cancelled", "skipped", "draft"},
}
_TONE_OF = {value: tone for tone, values in _TONES.items() for value in values}


def badge(value: str, label: str | None = None) -> str:
    """A coloured status label; the colour says ok / attention / broken / in progress / off."""
    if not value:
        return "-"
    return format_html('<span class="cp-badge cp-badge--{}">{}</span>', _TONE_OF.get(value, "off"), label or value)


def status_badge(obj: Model, field: str = "status") -> str:
    return badge(getattr(obj, field), choice_label(obj, field))


def excerpt(text: str, length: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


def change_url(obj: Model) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def changelist_url(model: type[Model], **params: str) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    if params:
        url += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return url


# --- Write-only widgets ---------------------------------------------------------------


class WriteOnlyTextInput(forms.TextInput):
    """A text input that never renders a value, stored or submitted: the secret goes one way."""

    def __init__(self, attrs=None):
        super().__init__({"autocomplete": "off", "spellcheck": "false", **(attrs or {})})

    def format_value(self, value):
        return None


class WriteOnlyTextarea(forms.Textarea):
    def __init__(self, attrs=None):
        super().__init__({"autocomplete": "off", "spellcheck": "false", "rows": 3, **(attrs or {})})

    def format_value(self, value):
        return None


# --- Forms and admins --------------------------------------------------------------------


class WorkspaceModelForm(forms.ModelForm):
    """Base form of scoped admins.

    ``workspace`` is read-only on change forms; ModelForm would then skip every
    unique constraint that names it (e.g. group name per workspace) and let a
    duplicate through to an IntegrityError. It is validated here anyway.
    """

    # Set by WorkspaceScopedAdmin.get_form: the request the form serves.
    admin_request = None
    always_validate: tuple[str, ...] = ("workspace",)

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        names = {field.name: field.attname for field in self.instance._meta.concrete_fields}
        for name in self.always_validate:
            attname = names.get(name, name)
            if name not in self.fields and name not in self._errors and getattr(self.instance, attname, None) not in (None, ""):
                exclude.discard(name)
        return exclude


class _ScopedFormfields:
    """FK and M2M choices limited to the workspaces where the user may write this model."""

    def write_role(self) -> str | None:
        return lowest_role(self.add_role, self.change_role)

    def _scoped_queryset(self, db_field, request, queryset: QuerySet | None) -> QuerySet | None:
        remote = db_field.remote_field.model
        if workspace_path(remote) is None:
            return queryset
        if queryset is None:
            queryset = self.get_field_queryset(None, db_field, request)
        if queryset is None:
            queryset = remote._default_manager.all()
        return scoped_choices(request, queryset, self.write_role())

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        queryset = self._scoped_queryset(db_field, request, kwargs.get("queryset"))
        if queryset is not None:
            kwargs["queryset"] = queryset
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        queryset = self._scoped_queryset(db_field, request, kwargs.get("queryset"))
        if queryset is not None:
            kwargs["queryset"] = queryset
        return super().formfield_for_manytomany(db_field, request, **kwargs)


# --- Lists of a million rows ------------------------------------------------------------

# Up to this many rows a list's count is exact; above it the count is PostgreSQL's planner estimate,
# shown as "about N". Counting is bounded either way: at most this many rows are read to count.
EXACT_COUNT_UP_TO = 10_000


def round_estimate(value: int) -> int:
    """An estimate to two significant figures (1,003,412 → 1,000,000): it reads as one."""
    digits = len(str(int(value)))
    return int(round(value, 2 - digits)) if digits > 2 else int(value)


def can_estimate(alias: str) -> bool:
    """Whether the database can tell a row estimate without counting (PostgreSQL's planner)."""
    return connections[alias].vendor == "postgresql"


def planner_rows(queryset: QuerySet) -> int:
    """PostgreSQL's estimate of the rows ``queryset`` returns (EXPLAIN, nothing is read)."""
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):  # psycopg returns parsed JSON; a plain string on other drivers
        import json

        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A paginator that never counts a million rows.

    It counts at most ``EXACT_COUNT_UP_TO + 1`` rows (``SELECT COUNT(*) FROM (… LIMIT n)``): when
    fewer, that is the exact count. Above it, on PostgreSQL, ``count`` is the planner's estimate
    (rounded, at least the bound already seen) and ``estimated`` is True so pages say "about N"; an
    exact-looking wrong number is never shown. Pages past an over-estimated end are simply empty.
    """

    estimated = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet) or not can_estimate(queryset.db):
            return super().count
        seen = queryset.order_by().values("pk")[: EXACT_COUNT_UP_TO + 1].count()
        if seen <= EXACT_COUNT_UP_TO:
            return seen
        self.estimated = True
        return max(round_estimate(planner_rows(queryset)), EXACT_COUNT_UP_TO + 1)

    def validate_number(self, number):
        if not self.estimated:
            return super().validate_number(number)
        try:
            number = int(number)
        except (TypeError, ValueError) as exc:
            raise InvalidPage(gettext("That page number is not an integer")) from exc
        if number < 1:
            raise InvalidPage(gettext("That page number is less than 1"))
        return number

    def page(self, number) -> Page:
        number = self.validate_number(number)
        if not self.estimated:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(self.object_list[bottom : bottom + self.per_page], number, self)


class ScopedRelatedOnlyFieldListFilter(admin.RelatedOnlyFieldListFilter):
    """RelatedOnlyFieldListFilter without its ``SELECT DISTINCT`` over the listed table.

    The choices are the same (related objects that some listed row points to), found by one index
    probe per related object (``EXISTS``) instead of a DISTINCT over a million executions.
    """

    def listed(self, field, request, model_admin) -> QuerySet:
        """The related objects some listed row points to."""
        rows = model_admin.get_queryset(request).order_by().filter(**{self.field_path: OuterRef("pk")})
        return field.remote_field.model._default_manager.filter(Exists(rows))

    def field_choices(self, field, request, model_admin):
        queryset = self.listed(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in queryset]


class RelatedSelectFilter(ScopedRelatedOnlyFieldListFilter):
    """A related-object filter for lists whose rows point to hundreds of objects (executions → posts).

    Instead of a link per object (a thousand links, each with its query string, on every page) it is
    one drop-down of the ``max_choices`` newest objects (highest key first) that some listed row
    points to, and a button; the selected object is offered even when it is older. Walking the key's
    index backwards, the database stops after ``max_choices`` probes instead of probing every
    object and sorting (1.5 ms instead of 16 ms for a thousand posts). The
    other active filters, the search and the sorting ride along as hidden fields. Objects beyond the
    newest are found by the list's search (the executions' search matches the post's title).
    """

    template = "admin/cp_select_filter.html"
    max_choices = 200

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        # The drop-down's "All" submits an empty value: no filter, not an invalid one.
        if self.lookup_val is not None and not any(self.lookup_val):
            self.used_parameters.pop(self.lookup_kwarg, None)
            self.lookup_val = None

    def field_choices(self, field, request, model_admin):
        listed = self.listed(field, request, model_admin)
        choices = list(listed.order_by("-pk")[: self.max_choices])
        wanted = {str(value) for value in self.lookup_val or ()} - {str(obj.pk) for obj in choices}
        if wanted:
            try:
                choices += list(listed.filter(pk__in=wanted))
            except (ValueError, ValidationError):  # not a key: the filter itself reports it
                pass
        return [(obj.pk, str(obj)) for obj in choices]

    def choices(self, changelist):
        # Read by the template: the list's other parameters, kept when this filter's form is sent.
        own = (self.lookup_kwarg, self.lookup_kwarg_isnull)
        self.hidden_params = [
            (name, value)
            for name, values in sorted(changelist.filter_params.items())
            if not name.startswith(own)
            for value in values
        ]
        selected = {str(value) for value in self.lookup_val or ()}
        yield {"selected": not selected, "value": "", "display": gettext("All")}
        for pk, label in self.lookup_choices:
            yield {"selected": str(pk) in selected, "value": pk, "display": label}


def distinct_values(queryset: QuerySet, field: str) -> list:
    """The distinct values of an indexed column, by skipping through its index on PostgreSQL (a
    recursive query, one index probe per value) instead of reading every row."""
    queryset = queryset.order_by()
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return list(queryset.values_list(field, flat=True).distinct().order_by(field))
    column = connection.ops.quote_name(queryset.model._meta.get_field(field).column)
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    first = queryset.exclude(**{f"{field}__isnull": True}).order_by(field).values_list(field, flat=True)[:1]
    after = (
        queryset.extra(where=[f"{table}.{column} > cp_prev.value"])  # noqa: S610 (names quoted, no user input)
        .order_by(field)
        .values_list(field, flat=True)[:1]
    )
    first_sql, first_params = first.query.sql_with_params()
    after_sql, after_params = after.query.sql_with_params()
    # Both parts are the ORM's compiled SQL; their parameters stay apart.
    sql = f"WITH RECURSIVE cp_prev(value) AS (({first_sql}) UNION ALL SELECT ({after_sql}) FROM cp_prev WHERE cp_prev.value IS NOT NULL) SELECT value FROM cp_prev WHERE value IS NOT NULL"  # noqa: S608, E501
    with connection.cursor() as cursor:
        cursor.execute(sql, (*first_params, *after_params))
        return [row[0] for row in cursor.fetchall()]


def page_names(model_admin, request) -> list[str]:
    """The names of ``model_admin.annotate_changelist``'s aggregates."""
    return list(model_admin.annotate_changelist(request, model_admin.model._default_manager.none()).query.annotations)


class AnnotatedChangeList(ChangeList):
    """A changelist whose rows carry the admin's ``annotate_changelist`` aggregates.

    Only the listed page is annotated: the rows are read plain, then one query aggregates for the
    page's rows alone (a hundred accounts' executions, not a million). Only when a column sorts by
    an aggregate must the whole (filtered, searched) list be annotated to be ordered. The list
    filters' choices and the totals always run on the plain queryset. Totals are counted by
    ``EstimatedCountPaginator``: exact up to ``EXACT_COUNT_UP_TO`` rows, "about N" above.
    """

    def _aggregate_names(self, request) -> list[str]:
        if not hasattr(self, "_aggregates"):
            self._aggregates = page_names(self.model_admin, request)
        return self._aggregates

    def _orders_by_aggregate(self, request) -> bool:
        names = set(self._aggregate_names(request))
        if not names:
            return False
        for field in self.get_ordering(request, self.root_queryset):
            name = field if isinstance(field, str) else getattr(getattr(field, "expression", None), "name", None)
            if isinstance(name, str) and name.lstrip("-") in names:
                return True
        return False

    def get_queryset(self, request, exclude_parameters=None):
        if not self._orders_by_aggregate(request):
            return super().get_queryset(request, exclude_parameters)
        plain = self.root_queryset
        self.root_queryset = self.model_admin.annotate_changelist(request, plain)
        try:
            return super().get_queryset(request, exclude_parameters)
        finally:
            self.root_queryset = plain

    def get_results(self, request):
        # The listed rows with only the columns the list shows (encrypted secrets cost a decryption each).
        listed = self.queryset
        if self.model_admin.list_only:
            listed = listed.only(*self.model_admin.list_only)
        paginator = self.model_admin.get_paginator(request, listed, self.list_per_page)
        result_count = paginator.count
        estimated = getattr(paginator, "estimated", False)
        full_result_count, full_estimated = None, False
        # Filtered or searched (the member's own scope is no filter): else the page's count is the
        # whole list's, and the search line need not offer "Show all".
        filtered = self.queryset.query.where != self.root_queryset.query.where
        if self.model_admin.show_full_result_count and (filtered or estimated):  # count the whole list too
            # Only counted: ordered by pk so that a model without Meta.ordering raises no pagination warning.
            full = self.model_admin.get_paginator(request, self.root_queryset.order_by("pk"), self.list_per_page)
            full_result_count, full_estimated = full.count, getattr(full, "estimated", False)
        elif not filtered:
            full_result_count = result_count
        can_show_all = not estimated and result_count <= self.list_max_show_all
        multi_page = result_count > self.list_per_page
        if (self.show_all and can_show_all) or not multi_page:
            result_list = listed._clone()
        else:
            try:
                result_list = paginator.page(self.page_num).object_list
            except InvalidPage as exc:
                raise IncorrectLookupParameters from exc
        self.result_count = result_count
        self.result_count_estimated = estimated
        self.result_count_display = number_format(result_count, force_grouping=True)
        # An estimated total is not shown as a number: the search line offers "Show all" instead.
        self.show_full_result_count = self.model_admin.show_full_result_count and not full_estimated
        self.show_admin_actions = not self.show_full_result_count or bool(full_result_count)
        self.full_result_count = full_result_count
        self.result_list = result_list
        self.can_show_all = can_show_all
        self.multi_page = multi_page
        self.paginator = paginator
        if not self._orders_by_aggregate(request):
            self._annotate_page(request, result_list)

    def _annotate_page(self, request, result_list) -> None:
        names = self._aggregate_names(request)
        rows = list(result_list)  # fills the page's result cache: the template reads these objects
        if not names or not rows:
            return
        values = self.model_admin.page_aggregates(request, [row.pk for row in rows])
        for row in rows:
            for name in names:
                setattr(row, name, values[row.pk][name])


class WorkspaceScopedAdmin(_ScopedFormfields):
    """Mixin for ModelAdmins of tenant-owned models (put it before admin.ModelAdmin).

    ``workspace_field`` is the lookup from the model to its workspace
    (``"workspace"``, ``"asset__workspace"``, ``"pk"`` for Workspace itself).
    Each ``*_role`` is the Membership role needed in the row's workspace; None
    means nobody (read-only audit data), SUPERUSER means superusers only.
    """

    workspace_field = "workspace"
    view_role: str | None = Role.VIEWER
    add_role: str | None = Role.ADMIN
    change_role: str | None = Role.ADMIN
    delete_role: str | None = Role.ADMIN
    # Fields holding secrets: offered only to users who may change the object, never shown read-only.
    write_only_fields: tuple[str, ...] = ()
    # The only columns the changelist reads (with list_select_related's relations): a hundred rows of three
    # joined models parse a few columns instead of some sixty (dates are the dearest to read).
    # Every column, title and badge of the list must be among them, or each row costs a query.
    list_only: tuple[str, ...] = ()
    # Audit rows that are read-only in their own admin but go when their owner is deleted.
    deletes_with: tuple[type[Model], ...] = ()
    form = WorkspaceModelForm

    # -- scoping

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        user = request.user
        if user.is_superuser or self.view_role in (None, SUPERUSER) or not (user.is_active and user.is_staff):
            return scope(queryset, user, self.view_role, self.workspace_field)
        # The member's workspaces as literal ids (read once per request for the permissions anyway):
        # the planner then uses the (workspace, …) indexes, which an IN (subquery) hides from it.
        ids = sorted(ws for ws, role in member_roles(request).items() if role_at_least(role, self.view_role))
        return queryset.filter(**{f"{self.workspace_field}__in": ids})

    def get_changelist(self, request, **kwargs):
        return AnnotatedChangeList

    def action_checkbox(self, obj):
        """Django's row checkbox, the same HTML, without rendering a form widget template per row
        (a third of a 100-row list's rendering time)."""
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return EstimatedCountPaginator(queryset, per_page, orphans, allow_empty_first_page)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if getattr(cl, "result_count_estimated", False):
            # Django's note reads "All 1000000 selected": an estimate must not look exact.
            response.context_data["selection_note_all"] = gettext("All selected (about %(total_count)s)") % {
                "total_count": cl.result_count_display
            }
        return response

    def annotate_changelist(self, request, queryset: QuerySet) -> QuerySet:
        """Per-row aggregates for list columns, so display methods never query per row."""
        return queryset

    def page_aggregates(self, request, pks: list) -> dict:
        """``{pk: {name: value}}`` of ``annotate_changelist``'s aggregates for one page's rows (one
        query). An admin may answer faster, as long as the values are the same."""
        page = self.model._default_manager.filter(pk__in=pks)
        return {
            item["pk"]: item
            for item in self.annotate_changelist(request, page).order_by().values("pk", *page_names(self, request))
        }

    def workspace_id_of(self, obj: Model) -> int | None:
        *path, last = self.workspace_field.split("__")
        if last == "pk":
            return obj.pk
        for part in path:
            obj = getattr(obj, part)
            if obj is None:
                return None
        return getattr(obj, f"{last}_id")

    def writable(self, request, queryset: QuerySet, role: str | None = None) -> QuerySet:
        """The selected rows the user may change, as a plain queryset for services.

        Plain: without list annotations (GROUP BY), which row locks
        (SELECT … FOR UPDATE) and updates in services do not accept.
        """
        plain = self.model._default_manager.filter(pk__in=queryset.order_by().values("pk"))
        role = role or self.change_role
        if role is None:
            return plain.none()
        if role == SUPERUSER:
            return plain if request.user.is_superuser else plain.none()
        return scope(plain, request.user, role, self.workspace_field)

    def writable_or_warn(self, request, queryset: QuerySet, role: str | None = None) -> QuerySet:
        allowed = self.writable(request, queryset, role)
        skipped = queryset.count() - allowed.count()
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)s selected item is in a workspace where your role does not allow this; it was left alone.",
                    "%(count)s selected items are in a workspace where your role does not allow this; they were left alone.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )
        return allowed

    def message_validation_error(self, request, exc: ValidationError, prefix: str = "") -> None:
        self.message_user(request, f"{prefix}{validation_message(exc)}", messages.ERROR)

    # -- permissions (roles, not Django model permissions)

    def _allowed(self, request, min_role: str | None, obj: Model | None = None) -> bool:
        if obj is None:
            return role_allows_somewhere(request, min_role)
        return role_allows(request, self.workspace_id_of(obj), min_role)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff and (request.user.is_superuser or bool(member_roles(request)))

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, self.view_role, obj)

    def has_add_permission(self, request):
        return self._allowed(request, self.add_role)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, self.change_role, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, self.delete_role, obj)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        owned = {str(model._meta.verbose_name) for model in self.deletes_with}
        return deleted, counts, {name for name in perms_needed if str(name) not in owned}, protected

    # -- forms

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.admin_request = request
        return form

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        # Moving a row between tenants would strand its relations: the workspace is chosen once.
        if obj is not None and self.workspace_field == "workspace" and "workspace" not in readonly:
            readonly.append("workspace")
        return readonly

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self.write_only_fields or self._form_is_writable(request, obj):
            return fieldsets
        return _without_fields(fieldsets, self.write_only_fields)

    def _form_is_writable(self, request, obj) -> bool:
        return self.has_add_permission(request) if obj is None else self.has_change_permission(request, obj)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if self.workspace_field == "workspace" and "workspace" not in initial and self.add_role not in (None, SUPERUSER):
            choices = list(workspaces_for(request.user, self.add_role).values_list("pk", flat=True)[:2])
            if len(choices) == 1:
                initial["workspace"] = choices[0]
        return initial


def _without_fields(fieldsets, names: Iterable[str]):
    names = set(names)
    result = []
    for title, options in fieldsets:
        fields = [
            tuple(f for f in field if f not in names) if isinstance(field, (list, tuple)) else field
            for field in options.get("fields", ())
            if not (isinstance(field, str) and field in names)
        ]
        result.append((title, {**options, "fields": fields}))
    return result


class WorkspaceScopedInline(_ScopedFormfields):
    """Mixin for inlines; permissions follow the role in the parent object's workspace."""

    parent_workspace_field = "workspace"
    view_role: str | None = Role.VIEWER
    add_role: str | None = Role.ADMIN
    change_role: str | None = Role.ADMIN
    delete_role: str | None = Role.ADMIN

    def _allowed(self, request, min_role: str | None, obj: Model | None) -> bool:
        if obj is None:
            return role_allows_somewhere(request, min_role)
        return role_allows(request, getattr(obj, f"{self.parent_workspace_field}_id"), min_role)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, self.view_role, obj)

    def has_add_permission(self, request, obj):
        return self._allowed(request, self.add_role, obj)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, self.change_role, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, self.delete_role, obj)


class ReadOnlyInline(WorkspaceScopedInline, admin.TabularInline):
    """A list of related rows shown on the parent's page; changed elsewhere, through services."""

    add_role = change_role = delete_role = None
    extra = 0
    show_change_link = True
    can_delete = False
