"""Admin for tenants, members, groups, proxies and social accounts.

Secrets are write-only here: account credentials and sessions and the proxy
URL (which carries the proxy password) are accepted by forms but never put on
a page, not even back into a form that failed validation.
"""

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crosspost.models import ActivityLog
from media.models import Rendition
from posts.models import PostMedia
from publishing.health import account_check
from publishing.login import LoginUnsupported, account_login
from publishing.models import ExecutionStatus, SandboxPost
from publishing.proxy_checks import proxy_check
from publishing.stats import SuccessRate, account_success_rates, success_rate_annotations

from .admin_utils import (
    SUPERUSER,
    ReadOnlyInline,
    ScopedRelatedOnlyFieldListFilter,
    WorkspaceModelForm,
    WorkspaceScopedAdmin,
    WriteOnlyTextarea,
    WriteOnlyTextInput,
    add_validation_error,
    badge,
    change_url,
    changelist_url,
    excerpt,
    role_allows,
    status_badge,
)
from .models import (
    PLATFORM_SECRET_KEY,
    AccountEvent,
    AccountGroup,
    AccountStatus,
    Membership,
    Platform,
    Proxy,
    ProxyStatus,
    Role,
    SocialAccount,
    Workspace,
    parse_proxy_url,
)
from .proxies import proxies_import
from .selectors import workspaces_for
from .services import (
    account_create,
    account_set_status,
    account_validate,
    accounts_assign_group,
    accounts_assign_proxy,
    accounts_set_enabled,
    proxy_create,
    proxy_update_url,
    secret_to_credentials,
)

User = get_user_model()
LOGIN_ACTION_LIMIT = 10
PROXY_CHECK_ACTION_LIMIT = 20


def _count_in(model, related_field: str) -> Coalesce:
    """Rows of ``model`` pointing at the outer row, as a subquery (no row multiplication across joins)."""
    rows = (
        model._default_manager.filter(**{related_field: OuterRef("pk")})
        .order_by()
        .values(related_field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows), Value(0))


# --- Workspace and Membership ---------------------------------------------------------


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    workspace_field = "pk"
    view_role = Role.OWNER
    change_role = Role.OWNER
    add_role = SUPERUSER
    delete_role = SUPERUSER
    # Deleting a tenant takes its read-only records (audit trail, renditions, …) with it.
    deletes_with = (AccountEvent, ActivityLog, Rendition, PostMedia, SandboxPost)

    list_display = ("name", "slug", "timezone", "members", "accounts", "created_at")
    search_fields = ("name", "slug")
    readonly_fields = ("created_at", "studio_usage")
    fields = (
        "name",
        "slug",
        "timezone",
        "telegram_admin_chat_id",
        "posts_need_approval",
        "duplicate_window_hours",
        "evergreen_min_gap_days",
        "studio_usage",
        "created_at",
    )

    def annotate_changelist(self, request, queryset):
        return queryset.annotate(n_members=_count_in(Membership, "workspace"), n_accounts=_count_in(SocialAccount, "workspace"))

    @admin.display(description=_("video studio"))
    def studio_usage(self, obj):
        """What the workspace uses of its studio quotas (superusers change them: Studio quotas)."""
        if obj.pk is None:
            return "—"
        from studio.quotas import usage_for  # the admin is an interface: it may read any floor

        usage = usage_for(obj.pk)
        return _(
            "Storage %(used).2f of %(limit).2f GB · recordings this month %(recordings)d of %(per_month)d · "
            "jobs running %(jobs)d of %(at_once)d"
        ) % {
            "used": usage.storage_gb,
            "limit": usage.storage_limit_gb,
            "recordings": usage.recordings_this_month,
            "per_month": usage.limits.recordings_per_month,
            "jobs": usage.jobs_running,
            "at_once": usage.limits.concurrent_jobs,
        }

    @admin.display(description=_("members"), ordering="n_members")
    def members(self, obj):
        return obj.n_members

    @admin.display(description=_("accounts"), ordering="n_accounts")
    def accounts(self, obj):
        return obj.n_accounts


class MembershipForm(WorkspaceModelForm):
    user = forms.ModelChoiceField(
        label=_("User"),
        queryset=User.objects.all(),
        to_field_name=User.USERNAME_FIELD,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"invalid_choice": _("There is no user with this username.")},
        help_text=_("The operator's username (a superuser creates user logins)."),
    )

    class Meta:
        model = Membership
        fields = ("user", "workspace", "role", "timezone", "can_approve")

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        workspace = cleaned.get("workspace") or (self.instance.workspace if self.instance.workspace_id else None)
        if role and workspace and not role_allows(self.admin_request, workspace.pk, role):
            self.add_error("role", _("You can grant at most your own role in this workspace."))
        return cleaned


@admin.register(Membership)
class MembershipAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = MembershipForm
    list_display = ("user", "workspace", "role", "can_approve", "timezone", "created_at")
    list_filter = ("role", "can_approve", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "user__email", "workspace__name")
    list_select_related = ("user", "workspace")
    readonly_fields = ("created_at",)
    fields = ("user", "workspace", "role", "can_approve", "timezone", "created_at")

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, "user"] if obj is not None else readonly

    def _outranks(self, request, obj) -> bool:
        # Nobody edits or removes a membership above their own role (an admin cannot demote the owner).
        return obj is None or role_allows(request, obj.workspace_id, obj.role)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._outranks(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._outranks(request, obj)


# --- Account groups --------------------------------------------------------------------


class GroupAccountsInline(ReadOnlyInline):
    model = SocialAccount
    fk_name = "group"
    fields = ("handle", "platform", "account_status", "language", "proxy_display", "last_post_at")
    readonly_fields = fields
    verbose_name_plural = _("accounts in this group")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("proxy")

    @admin.display(description=_("status"))
    def account_status(self, obj):
        return status_badge(obj)

    @admin.display(description=_("proxy"))
    def proxy_display(self, obj):
        return obj.proxy.display_url if obj.proxy else "-"


@admin.register(AccountGroup)
class AccountGroupAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    list_display = ("name", "workspace", "accounts_count", "description_excerpt", "created_at")
    list_filter = (("workspace", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name", "description")
    list_select_related = ("workspace",)
    readonly_fields = ("created_at",)
    fields = ("workspace", "name", "description", "created_at")
    inlines = (GroupAccountsInline,)

    def annotate_changelist(self, request, queryset):
        return queryset.annotate(n_accounts=Count("accounts"))

    @admin.display(description=_("accounts"), ordering="n_accounts")
    def accounts_count(self, obj):
        return obj.n_accounts

    @admin.display(description=_("description"))
    def description_excerpt(self, obj):
        return excerpt(obj.description, 60)


# --- Proxies ------------------------------------------------------------------------------


class ProxyForm(WorkspaceModelForm):
    url = forms.CharField(
        label=_("Proxy URL"),
        required=False,
        widget=WriteOnlyTextInput(attrs={"size": 60, "placeholder": "http://user:password@203.0.113.5:8080"}),
        help_text=_(
            "scheme://user:password@host:port (http, https or socks5). Write-only: the stored URL is never "
            "shown. Leave blank to keep it."
        ),
    )

    class Meta:
        model = Proxy
        fields = ("workspace", "url", "country", "max_accounts")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The stored URL carries the password: keep it out of the form altogether.
        self.initial.pop("url", None)

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        if not url:
            if self.instance.pk:
                return self.instance.url
            raise ValidationError(_("Enter the proxy URL, e.g. http://user:password@203.0.113.5:8080."))
        try:
            parse_proxy_url(url)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        return url

    def clean_country(self):
        return self.cleaned_data["country"].strip().upper()

    def _post_clean(self):
        super()._post_clean()
        url = self.cleaned_data.get("url")
        if not url or self._errors:
            return
        try:
            proxy_update_url(proxy=self.instance, url=url)
            # scheme/host/port are not form fields, so ModelForm skipped the endpoint's unique constraint.
            self.instance.validate_constraints()
        except ValidationError as exc:
            add_validation_error(self, exc)


class ProxyImportForm(forms.Form):
    workspace = forms.ModelChoiceField(label=_("Workspace"), queryset=Workspace.objects.none())
    text = forms.CharField(
        label=_("Proxy URLs"),
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "placeholder": "socks5://user:pass@203.0.113.5:1080"}),
        help_text=_(
            "One URL per line (http, https or socks5, with credentials if needed); blank lines and # comments are ignored."
        ),
    )
    country = forms.CharField(
        label=_("Country"), max_length=2, required=False, help_text=_("ISO code for every imported proxy, e.g. DE.")
    )
    max_accounts = forms.IntegerField(label=_("Maximum accounts per proxy"), min_value=1, initial=1)
    skip_invalid = forms.BooleanField(
        label=_("Skip invalid lines"), required=False, help_text=_("Import the valid lines even if some are bad.")
    )


@admin.register(Proxy)
class ProxyAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = ProxyForm
    write_only_fields = ("url",)
    actions = ("check_proxies",)
    change_list_template = "admin/accounts/proxy/change_list.html"
    # Few enough columns to fit the page next to the filters; the rest is on each row's page.
    list_display = ("display_url", "country", "proxy_status", "latency_ms", "success_pct", "usage", "last_check_at")
    list_filter = ("status", "scheme", "country", "has_credentials", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("host", "country", "exit_ip")
    list_select_related = ("workspace",)
    readonly_fields = (
        "display_url",
        "scheme",
        "host",
        "port",
        "has_credentials",
        "proxy_status",
        "last_check_at",
        "latency_ms",
        "success_rate",
        "exit_ip",
        "last_error",
        "created_at",
    )
    fieldsets = (
        (None, {"fields": ("workspace", "url", "country", "max_accounts")}),
        (
            _("Endpoint and health"),
            {
                "fields": (
                    "display_url",
                    ("scheme", "host", "port", "has_credentials"),
                    "proxy_status",
                    ("latency_ms", "success_rate", "exit_ip"),
                    "last_check_at",
                    "last_error",
                    "created_at",
                )
            },
        ),
    )

    def annotate_changelist(self, request, queryset):
        return queryset.annotate(n_accounts=Count("accounts"))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        return fieldsets[:1] if obj is None else fieldsets

    @admin.action(description=_("Check selected proxies now"), permissions=["change"])
    def check_proxies(self, request, queryset):
        proxies = list(self.writable_or_warn(request, queryset)[:PROXY_CHECK_ACTION_LIMIT])
        for proxy in proxies:
            result = proxy_check(proxy=proxy, actor=request.user)
            if result.ok:
                detail = _("exit IP %(ip)s, %(ms)s ms") % {"ip": result.exit_ip, "ms": result.latency_ms}
            else:
                detail = result.error
            self.message_user(
                request,
                f"{proxy.display_url}: {ProxyStatus(result.status).label.lower()} — {detail}",
                messages.SUCCESS if result.ok else messages.ERROR,
            )
        if queryset.count() > PROXY_CHECK_ACTION_LIMIT:
            self.message_user(
                request,
                _("Checked the first %(limit)s; select the others next.") % {"limit": PROXY_CHECK_ACTION_LIMIT},
                messages.WARNING,
            )

    def get_urls(self):
        from django.urls import path

        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="accounts_proxy_import"),
            *super().get_urls(),
        ]

    def import_view(self, request):
        """Paste a list of proxy URLs; every line is validated before anything is imported."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        writable = workspaces_for(request.user, self.add_role or Role.ADMIN)
        form = ProxyImportForm(request.POST or None)
        form.fields["workspace"].queryset = writable
        if writable.count() == 1:
            form.fields["workspace"].initial = writable.first()
        report = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                report = proxies_import(
                    workspace=data["workspace"],
                    text=data["text"],
                    country=data["country"],
                    max_accounts=data["max_accounts"],
                    skip_invalid=data["skip_invalid"],
                    actor=request.user,
                )
            except ValidationError as exc:
                form.add_error("text", exc)
            else:
                if report.created:
                    self.message_user(
                        request,
                        ngettext("Imported %(count)s proxy.", "Imported %(count)s proxies.", len(report.created))
                        % {"count": len(report.created)},
                        messages.SUCCESS,
                    )
                if not report.errors:
                    return redirect("admin:accounts_proxy_changelist")
                if not report.created:
                    self.message_user(
                        request, _("Nothing was imported: fix the lines below (or tick “skip invalid”)."), messages.ERROR
                    )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import proxies"),
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/accounts/proxy/import.html", context)

    @admin.display(description=_("URL"), ordering="host")
    def display_url(self, obj):
        return obj.display_url

    @admin.display(description=_("status"), ordering="status")
    def proxy_status(self, obj):
        return status_badge(obj)

    @admin.display(description=_("success"), ordering="success_rate")
    def success_pct(self, obj):
        return f"{obj.success_rate:.0%}"

    @admin.display(description=_("accounts / max"), ordering="n_accounts")
    def usage(self, obj):
        text = f"{obj.n_accounts} / {obj.max_accounts}"
        return badge("failed", text) if obj.n_accounts > obj.max_accounts else text

    def save_model(self, request, obj, form, change):
        if not change:
            created = proxy_create(
                workspace=obj.workspace,
                url=form.cleaned_data["url"],
                country=obj.country,
                max_accounts=obj.max_accounts,
                actor=request.user,
            )
            vars(obj).update(vars(created))
            return
        # Only what the form edits: the health checker updates status and latency concurrently.
        fields = [name for name in ("url", "country", "max_accounts") if name in form.changed_data]
        if "url" in fields:
            fields += ["scheme", "host", "port", "has_credentials"]
        if fields:
            obj.save(update_fields=fields)


# --- Social accounts ------------------------------------------------------------------------


class SocialAccountForm(WorkspaceModelForm):
    new_secret = forms.CharField(
        label=_("New secret"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=format_lazy(
            _("The platform's main secret: {keys}. Blank keeps the stored one."),
            keys=", ".join(f"{Platform(p).label} → {key}" for p, key in PLATFORM_SECRET_KEY.items()),
        ),
    )
    credentials_json = forms.CharField(
        label=_("More credentials (JSON)"),
        required=False,
        widget=WriteOnlyTextarea(attrs={"placeholder": '{"access_token": "…", "refresh_token": "…"}'}),
        help_text=_("A JSON object merged into the stored credentials (same keys are replaced). Write-only; blank keeps them."),
    )
    always_validate = ("workspace", "platform")

    class Meta:
        model = SocialAccount
        exclude = ("credentials", "session")

    def clean_credentials_json(self):
        raw = self.cleaned_data["credentials_json"].strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            # The message names the position, never the content: it is a secret.
            raise ValidationError(
                _("Invalid JSON: %(error)s (line %(line)s, column %(column)s).")
                % {"error": exc.msg, "line": exc.lineno, "column": exc.colno}
            ) from None
        if not isinstance(value, dict):
            raise ValidationError(
                _('Enter a JSON object such as {"password": "…"}, not a JSON %(type)s.') % {"type": type(value).__name__}
            )
        return value

    def clean(self):
        cleaned = super().clean()
        platform = cleaned.get("platform") or self.instance.platform
        updates = dict(cleaned.get("credentials_json") or {})
        if cleaned.get("new_secret") and platform:
            updates.update(secret_to_credentials(platform, cleaned["new_secret"]))
        self.credential_updates = updates
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if self._errors:
            return
        try:
            # Group and proxy in the account's workspace, proxy capacity: the service's own rules.
            account_validate(self.instance)
        except ValidationError as exc:
            add_validation_error(self, exc)


class ProxyStatusFilter(admin.SimpleListFilter):
    title = _("proxy status")
    parameter_name = "proxy_status"

    def lookups(self, request, model_admin):
        return [*ProxyStatus.choices, ("none", _("No proxy"))]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(proxy__isnull=True)
        if self.value() in ProxyStatus.values:
            return queryset.filter(proxy__status=self.value())
        return queryset


class AssignForm(forms.Form):
    target = forms.ModelChoiceField(queryset=None, required=False)

    def __init__(self, *args, queryset, label, empty_label, label_from_instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["target"]
        field.queryset, field.label, field.empty_label = queryset, label, empty_label
        if label_from_instance:
            field.label_from_instance = label_from_instance


def _proxy_choice_label(proxy: Proxy) -> str:
    return _("%(url)s — %(used)s/%(max)s used, %(status)s") % {
        "url": proxy.display_url,
        "used": proxy.n_accounts,
        "max": proxy.max_accounts,
        "status": proxy.get_status_display().lower(),
    }


def _success_rate_html(rate: SuccessRate):
    """The rate in percent, with the counts on hover; "-" when nothing finished in the window."""
    if rate.rate is None:
        return "-"
    title = _("%(published)s published of %(finished)s finished in the last 30 days") % {
        "published": rate.published,
        "finished": rate.finished,
    }
    return format_html('<span title="{}">{} %</span>', title, rate.percent)


@admin.register(SocialAccount)
class SocialAccountAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = SocialAccountForm
    write_only_fields = ("new_secret", "credentials_json")
    deletes_with = (AccountEvent, SandboxPost)
    # Few enough columns to fit the page next to the filters; the rest is on each row's page.
    list_display = ("account_name", "account_status", "group", "proxy_display", "last_post_at", "posts_24h", "success_rate_30d")
    list_filter = (
        "platform",
        "status",
        ("group", ScopedRelatedOnlyFieldListFilter),
        "language",
        ProxyStatusFilter,
        ("workspace", ScopedRelatedOnlyFieldListFilter),
    )
    search_fields = ("handle", "external_id", "group__name")
    autocomplete_fields = ("group", "proxy")
    list_select_related = ("group", "proxy")
    # A filtered list says "N results (Show all)" rather than counting the whole list a second time.
    show_full_result_count = False
    # What the columns read: the title (platform, handle), the status and its reason, the group, the
    # proxy; not the encrypted secrets (two Fernet decryptions a row).
    list_only = (
        *("platform", "handle", "status", "status_reason", "last_post_at"),
        *("group", "group__name", "proxy", "proxy__scheme", "proxy__host", "proxy__port", "proxy__status"),
    )
    actions = ("enable_accounts", "disable_accounts", "assign_group", "assign_proxy", "check_accounts", "log_in")
    readonly_fields = (
        "credential_keys",
        "session_stored",
        "device_id",
        "user_agent",
        "created_at",
        "updated_at",
        "last_post_at",
        "last_login_at",
        "last_check_at",
        "failed_attempts",
        "cooldown_until",
        "recent_events",
        "success_rate",
    )
    fieldsets = (
        (None, {"fields": ("workspace", "platform", "handle", "external_id", "language", "timezone", "group", "proxy")}),
        (
            _("Status and limits"),
            {
                "fields": (
                    "status",
                    "status_reason",
                    "cooldown_until",
                    "failed_attempts",
                    "posts_limit_per_day",
                    "warmup_started_at",
                )
            },
        ),
        (_("Secrets (write-only)"), {"fields": ("credential_keys", "session_stored", "new_secret", "credentials_json")}),
        (_("Target options"), {"fields": ("options",)}),
        (
            _("Device and activity"),
            {
                "fields": (
                    "device_id",
                    "user_agent",
                    "last_post_at",
                    "success_rate",
                    "last_login_at",
                    "last_check_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
        (_("Recent status changes"), {"fields": ("recent_events",)}),
    )
    # Filled in by account_create on add.
    _create_fields = ("external_id", "timezone", "status", "status_reason", "posts_limit_per_day", "warmup_started_at")

    def annotate_changelist(self, request, queryset):
        since = timezone.now() - timedelta(hours=24)
        published = Q(executions__status=ExecutionStatus.SUCCESS, executions__finished_at__gte=since)
        # The 30-day success rate counts over the same join, in the changelist's own query.
        return queryset.annotate(n_posts_24h=Count("executions", filter=published, distinct=True), **success_rate_annotations())

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, "platform"] if obj is not None else readonly

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            hidden = {"device_id", "recent_events"}
            return [(title, opts) for title, opts in fieldsets if hidden.isdisjoint(opts["fields"])]
        return fieldsets

    # -- columns

    @admin.display(description=_("account"), ordering="handle")
    def account_name(self, obj):
        return str(obj)  # platform and handle in one column

    @admin.display(description=_("status"), ordering="status")
    def account_status(self, obj):
        if not obj.status_reason:
            return status_badge(obj)
        return format_html('<span title="{}">{}</span>', obj.status_reason, status_badge(obj))

    @admin.display(description=_("proxy"), ordering="proxy__host")
    def proxy_display(self, obj):
        if obj.proxy is None:
            return "-"
        return format_html("{} {}", obj.proxy.display_url, status_badge(obj.proxy))

    @admin.display(description=_("posts 24 h"), ordering="n_posts_24h")
    def posts_24h(self, obj):
        return obj.n_posts_24h

    @admin.display(description=_("success rate, 30 days"), ordering="published_30d")
    def success_rate_30d(self, obj):
        return _success_rate_html(SuccessRate(published=obj.published_30d, failed=obj.failed_30d))

    # -- read-only form fields

    @admin.display(description=_("stored credentials"))
    def credential_keys(self, obj):
        return ", ".join(obj.credential_keys) or _("none")

    @admin.display(description=_("session stored"))
    def session_stored(self, obj):
        return _("yes") if obj.session else _("no")

    @admin.display(description=_("success rate, 30 days"))
    def success_rate(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return _success_rate_html(account_success_rates([obj.pk])[obj.pk])

    @admin.display(description=_("recent status changes"))
    def recent_events(self, obj):
        events = list(obj.events.select_related("actor")[:10])
        if not events:
            return _("none")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    date_format(timezone.localtime(e.created_at), "SHORT_DATETIME_FORMAT"),
                    e.get_from_status_display() or "∅",
                    e.get_to_status_display(),
                    excerpt(e.reason, 100),
                    e.actor or _("system"),
                )
                for e in events
            ),
        )
        link = changelist_url(AccountEvent, account__id__exact=obj.pk)
        return format_html('<table class="cp-events">{}</table><p><a href="{}">{}</a></p>', rows, link, _("All status changes"))

    # -- saving through the services

    def save_model(self, request, obj, form, change):
        updates = getattr(form, "credential_updates", {})
        if not change:
            created = account_create(
                workspace=obj.workspace,
                platform=obj.platform,
                handle=obj.handle,
                language=obj.language,
                group=obj.group,
                proxy=obj.proxy,
                credentials=updates,
                options=obj.options,
                actor=request.user,
                **{name: form.cleaned_data[name] for name in self._create_fields if name in form.cleaned_data},
            )
            vars(obj).update(vars(created))
            if created.proxy_note:
                self.message_user(request, created.proxy_note, messages.WARNING if created.proxy_missing else messages.INFO)
            return

        new_status, new_reason = obj.status, obj.status_reason
        obj.status, obj.status_reason = form.initial.get("status", obj.status), form.initial.get("status_reason", "")
        model_fields = {f.name for f in SocialAccount._meta.concrete_fields}
        # Only what the form changed: workers update session, counters and timestamps concurrently.
        fields = [name for name in form.changed_data if name in model_fields and name not in ("status", "status_reason")]
        if updates:
            obj.credentials = {**(obj.credentials or {}), **updates}
            fields.append("credentials")
        if fields:
            obj.save(update_fields=[*fields, "updated_at"])
        if (new_status, new_reason) != (obj.status, obj.status_reason):
            until = obj.cooldown_until if new_status == AccountStatus.COOLDOWN else None
            account_set_status(account=obj, status=new_status, reason=new_reason, until=until, actor=request.user)

    # -- bulk actions

    @admin.action(description=_("Enable selected accounts"), permissions=["change"])
    def enable_accounts(self, request, queryset):
        changed = accounts_set_enabled(accounts=self.writable_or_warn(request, queryset), enabled=True, actor=request.user)
        self.message_user(
            request,
            ngettext("Enabled %(count)s account.", "Enabled %(count)s accounts.", changed) % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Disable selected accounts"), permissions=["change"])
    def disable_accounts(self, request, queryset):
        changed = accounts_set_enabled(accounts=self.writable_or_warn(request, queryset), enabled=False, actor=request.user)
        self.message_user(
            request,
            ngettext("Disabled %(count)s account.", "Disabled %(count)s accounts.", changed) % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Check selected accounts on their platform now"), permissions=["change"])
    def check_accounts(self, request, queryset):
        """Each check is a platform round trip made while the operator waits: a few accounts at a time."""
        accounts = self.writable_or_warn(request, queryset).select_related("proxy", "workspace")
        if accounts.count() > LOGIN_ACTION_LIMIT:
            self.message_user(
                request,
                _("Checking the first %(limit)s accounts; select the others next.") % {"limit": LOGIN_ACTION_LIMIT},
                messages.WARNING,
            )
        for account in accounts[:LOGIN_ACTION_LIMIT]:
            health = account_check(account=account, actor=request.user)
            account.refresh_from_db(fields=["status"])
            self.message_user(
                request,
                _("%(account)s: %(detail)s — now %(status)s.")
                % {
                    "account": account,
                    "detail": health.detail or (_("ok") if health.ok else _("failed")),
                    "status": account.get_status_display().lower(),
                },
                messages.SUCCESS if health.ok else messages.ERROR,
            )

    @admin.action(description=_("Log in selected accounts on their platform"), permissions=["change"])
    def log_in(self, request, queryset):
        """Each login is a platform round trip made while the operator waits: a few accounts at a time."""
        accounts = self.writable_or_warn(request, queryset).select_related("proxy", "workspace")
        if accounts.count() > LOGIN_ACTION_LIMIT:
            self.message_user(
                request,
                _("Logging in the first %(limit)s accounts; select the others next.") % {"limit": LOGIN_ACTION_LIMIT},
                messages.WARNING,
            )
        for account in accounts[:LOGIN_ACTION_LIMIT]:
            try:
                health = account_login(account=account, actor=request.user)
            except LoginUnsupported as exc:
                self.message_user(request, f"{account}: {exc}", messages.WARNING)
                continue
            self.message_user(request, f"{account}: {health.detail}", messages.SUCCESS if health.ok else messages.ERROR)

    @admin.action(description=_("Assign a group to selected accounts…"), permissions=["change"])
    def assign_group(self, request, queryset):
        return self._bulk_assign(
            request,
            queryset,
            action="assign_group",
            title=_("Assign a group"),
            choices=lambda ws: AccountGroup.objects.filter(workspace_id=ws),
            label=_("Group"),
            empty_label=_("— no group (remove from group) —"),
            apply=lambda accounts, target: accounts_assign_group(accounts=accounts, group=target, actor=request.user),
        )

    @admin.action(description=_("Assign a proxy to selected accounts…"), permissions=["change"])
    def assign_proxy(self, request, queryset):
        return self._bulk_assign(
            request,
            queryset,
            action="assign_proxy",
            title=_("Assign a proxy"),
            choices=lambda ws: Proxy.objects.filter(workspace_id=ws).annotate(n_accounts=Count("accounts")),
            label=_("Proxy"),
            empty_label=_("— no proxy (direct connection) —"),
            apply=lambda accounts, target: accounts_assign_proxy(accounts=accounts, proxy=target, actor=request.user),
            label_from_instance=_proxy_choice_label,
        )

    def _bulk_assign(self, request, queryset, *, action, title, choices, label, empty_label, apply, label_from_instance=None):
        """Intermediate page: pick the group/proxy (of the accounts' one workspace), then call the service."""
        accounts = self.writable_or_warn(request, queryset)
        workspace_ids = list(accounts.order_by().values_list("workspace_id", flat=True).distinct()[:2])
        if not workspace_ids:
            self.message_user(request, _("No selected account can be changed by you."), messages.WARNING)
            return None
        if len(workspace_ids) > 1:
            self.message_user(request, _("Select accounts of one workspace at a time."), messages.ERROR)
            return None
        form_kwargs = {
            "queryset": choices(workspace_ids[0]),
            "label": label,
            "empty_label": empty_label,
            "label_from_instance": label_from_instance,
        }
        if "apply" in request.POST:
            form = AssignForm(request.POST, **form_kwargs)
            if form.is_valid():
                target = form.cleaned_data["target"]
                try:
                    count = apply(accounts, target)
                except ValidationError as exc:
                    self.message_validation_error(request, exc)
                    return None
                done = ngettext(
                    "%(what)s: %(target)s — %(count)s account updated.",
                    "%(what)s: %(target)s — %(count)s accounts updated.",
                    count,
                )
                shown = target if target is not None else _("none")
                self.message_user(request, done % {"what": label, "target": shown, "count": count}, messages.SUCCESS)
                return None
        else:
            form = AssignForm(**form_kwargs)
        count = accounts.count()
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "objects": accounts.select_related("group", "proxy")[:25],
            "count": count,
            "action": action,
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/accounts/socialaccount/bulk_assign.html", context)


@admin.register(AccountEvent)
class AccountEventAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    add_role = change_role = delete_role = None
    list_display = ("created_at", "account_link", "from_badge", "to_badge", "reason_excerpt", "until", "actor")
    list_filter = (
        "to_status",
        "from_status",
        ("account__platform", admin.ChoicesFieldListFilter),
        ("workspace", admin.RelatedOnlyFieldListFilter),
        "created_at",
    )
    search_fields = ("account__handle", "reason")
    list_select_related = ("account", "actor", "workspace")

    @admin.display(description=_("account"), ordering="account__handle")
    def account_link(self, obj):
        return format_html('<a href="{}">{}</a>', change_url(obj.account), obj.account)

    @admin.display(description=_("from"), ordering="from_status")
    def from_badge(self, obj):
        return badge(obj.from_status, obj.get_from_status_display())

    @admin.display(description=_("to"), ordering="to_status")
    def to_badge(self, obj):
        return badge(obj.to_status, obj.get_to_status_display())

    @admin.display(description=_("reason"))
    def reason_excerpt(self, obj):
        return excerpt(obj.reason, 80)
