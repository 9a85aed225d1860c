"""Admin for executions (retry / cancel through the services), publishing
policies and the audit log."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_utils import (
    RelatedSelectFilter,
    ScopedRelatedOnlyFieldListFilter,
    WorkspaceModelForm,
    WorkspaceScopedAdmin,
    change_url,
    distinct_values,
    excerpt,
    status_badge,
)
from accounts.models import Role
from crosspost.activity import scrub
from crosspost.models import ActivityLog, action_label
from posts.models import MediaType

from .models import Execution, ExecutionStatus, PublishingPolicy, SandboxPost
from .publisher import execution_mark_published
from .services import execution_cancel, executions_retry, policy_update

# An execution's caption may change until a worker picks it up.
CAPTION_EDITABLE = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED)


def pretty_json(value) -> str:
    """JSON for reading, with secret-looking keys and substrings redacted."""
    if not value:
        return "-"
    return format_html('<pre class="cp-json">{}</pre>', json.dumps(scrub(value), indent=2, ensure_ascii=False, sort_keys=True))


def remote_link(execution: Execution) -> str:
    """Where the execution was published, linked when the platform gave a URL."""
    if not execution.remote_url:
        return execution.remote_id or "-"
    return format_html(
        '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', execution.remote_url, execution.remote_id or _("open")
    )


class ExecutionForm(WorkspaceModelForm):
    class Meta:
        model = Execution
        fields = ("caption",)
        widgets = {"caption": forms.Textarea(attrs={"rows": 6})}

    def clean(self):
        cleaned = super().clean()
        if "caption" in self.changed_data:
            status = Execution.objects.filter(pk=self.instance.pk).values_list("status", flat=True).first()
            if status not in CAPTION_EDITABLE:
                self.add_error("caption", _("The execution has already started; its caption can no longer change."))
        return cleaned


@admin.register(Execution)
class ExecutionAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = ExecutionForm
    add_role = None
    change_role = Role.EDITOR
    delete_role = Role.ADMIN
    # Few enough columns to fit the page next to the filters; the link, priority and full error are on the execution's page.
    list_display = ("post", "account", "execution_status", "scheduled_for", "attempts", "error_excerpt", "finished_at")
    list_display_links = ("post",)
    list_filter = (
        "status",
        "priority",
        ("account__platform", admin.ChoicesFieldListFilter),
        # A thousand posts: a drop-down of the newest ones, not a thousand links.
        ("post", RelatedSelectFilter),
        ("workspace", ScopedRelatedOnlyFieldListFilter),
        "scheduled_for",
    )
    search_fields = ("account__handle", "post__title", "remote_id", "error_code", "error_message")
    list_select_related = ("post", "account")
    # A filtered list says "N results (Show all)" rather than counting the whole list a second time.
    show_full_result_count = False
    # What the columns and the row titles (post, account, status) read; not the account's encrypted
    # secrets (two Fernet decryptions a row) nor the platform's raw response.
    list_only = (
        *("post", "post__title", "post__caption", "account", "account__platform", "account__handle"),
        *("status", "scheduled_for", "attempts", "error_code", "error_message", "finished_at"),
    )
    ordering = ("-created_at", "-id")
    # No date_hierarchy: its year/month links cost a DISTINCT over a million dates per page; the
    # "scheduled for" filter (today, past 7 days, this month, this year) costs no query.
    actions = ("retry_executions", "cancel_executions", "mark_published")
    fieldsets = (
        (None, {"fields": ("post", "account", "workspace", "language", "execution_status", "priority")}),
        (_("Caption"), {"fields": ("caption", "caption_edited")}),
        (
            _("Timing"),
            {"fields": ("scheduled_for", "attempts", "next_attempt_at", "lease_expires_at", "started_at", "finished_at")},
        ),
        (_("Result"), {"fields": ("remote_id", "remote_link", "error_code", "error_message", "raw_response_pretty")}),
        (None, {"fields": ("created_at", "updated_at")}),
    )
    _readonly = (
        "post",
        "account",
        "workspace",
        "language",
        "execution_status",
        "priority",
        "caption_edited",
        "scheduled_for",
        "attempts",
        "next_attempt_at",
        "lease_expires_at",
        "started_at",
        "finished_at",
        "remote_id",
        "remote_link",
        "error_code",
        "error_message",
        "raw_response_pretty",
        "created_at",
        "updated_at",
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status in CAPTION_EDITABLE:
            return self._readonly
        return (*self._readonly, "caption")

    @admin.display(description=_("platform"), ordering="account__platform")
    def platform(self, obj):
        return obj.account.get_platform_display()

    @admin.display(description=_("status"), ordering="status")
    def execution_status(self, obj):
        return status_badge(obj)

    @admin.display(description=_("link on the platform"))
    def remote_link(self, obj):
        return remote_link(obj)

    @admin.display(description=_("error"))
    def error_excerpt(self, obj):
        if not (obj.error_code or obj.error_message):
            return "-"
        full = ": ".join(part for part in (obj.error_code, obj.error_message) if part)
        return format_html('<span class="cp-error" title="{}">{}</span>', full, excerpt(full, 40))

    @admin.display(description=_("raw response"))
    def raw_response_pretty(self, obj):
        return pretty_json(obj.raw_response)

    def save_model(self, request, obj, form, change):
        if "caption" not in form.changed_data:
            return
        # Conditional on the status: a worker may have claimed the execution since the form was checked.
        updated = Execution.objects.filter(pk=obj.pk, status__in=CAPTION_EDITABLE).update(
            caption=obj.caption, caption_edited=True, updated_at=timezone.now()
        )
        if not updated:
            self.message_user(request, _("The execution started meanwhile; the caption was not changed."), messages.ERROR)

    @admin.action(description=_("Retry selected executions"), permissions=["change"])
    def retry_executions(self, request, queryset):
        executions = self.writable_or_warn(request, queryset).select_related("account", "post")
        retried, problems = executions_retry(executions=executions, actor=request.user)
        if retried:
            self.message_user(
                request,
                ngettext(
                    "Retrying %(count)s execution now, on the low-priority queue.",
                    "Retrying %(count)s executions now, on the low-priority queue.",
                    retried,
                )
                % {"count": retried},
                messages.SUCCESS,
            )
        for problem in problems[:20]:
            self.message_user(request, problem, messages.WARNING)
        if len(problems) > 20:
            self.message_user(request, _("… and %(count)s more not retried.") % {"count": len(problems) - 20}, messages.WARNING)

    @admin.action(description=_("Mark unconfirmed executions as published (checked on the platform)"), permissions=["change"])
    def mark_published(self, request, queryset):
        marked, skipped = 0, 0
        for execution in self.writable_or_warn(request, queryset).select_related("account"):
            try:
                execution_mark_published(execution=execution, actor=request.user)
                marked += 1
            except ValidationError:
                skipped += 1
        if marked:
            self.message_user(
                request,
                ngettext("Marked %(count)s execution as published.", "Marked %(count)s executions as published.", marked)
                % {"count": marked},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)s execution was not unconfirmed and was left as it is.",
                    "%(count)s executions were not unconfirmed and were left as they are.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Cancel selected executions"), permissions=["change"])
    def cancel_executions(self, request, queryset):
        cancelled, problems = 0, []
        for execution in self.writable_or_warn(request, queryset):
            try:
                execution_cancel(execution=execution, actor=request.user)
                cancelled += 1
            except ValidationError as exc:
                problems.append(f"#{execution.pk}: {' '.join(exc.messages)}")
        if cancelled:
            self.message_user(
                request,
                ngettext("Cancelled %(count)s execution.", "Cancelled %(count)s executions.", cancelled) % {"count": cancelled},
                messages.SUCCESS,
            )
        for problem in problems[:20]:
            self.message_user(request, problem, messages.WARNING)
        if len(problems) > 20:
            self.message_user(request, _("… and %(count)s more not cancelled.") % {"count": len(problems) - 20}, messages.WARNING)


@admin.register(PublishingPolicy)
class PublishingPolicyAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    # Few enough columns to fit the page next to the filters; the rest is on each row's page.
    list_display = ("__str__", "min_interval_s", "stagger", "daily_limit", "warmup_ramp_days", "quiet_hours", "updated_at")
    list_filter = ("platform", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("platform", "workspace__name")
    list_select_related = ("workspace",)
    readonly_fields = ("updated_at",)
    fieldsets = (
        (None, {"fields": ("workspace", "platform", "enabled")}),
        (_("Pacing"), {"fields": ("min_interval_s", ("stagger_min_s", "stagger_max_s"), "daily_limit")}),
        (_("Warm-up"), {"fields": ("warmup_curve", "warmup_ramp_days")}),
        (_("Timing"), {"fields": (("quiet_hours_start", "quiet_hours_end"), "optimal_times", "use_optimal_times")}),
        (
            _("Content rules"),
            {"fields": (("hashtag_min", "hashtag_max"), "forbidden_words", "required_hashtags", "caption_template")},
        ),
        (
            _("Media limits"),
            {"fields": (("min_video_duration_s", "max_video_duration_s"), "min_video_quality", "max_file_size_mb")},
        ),
        (None, {"fields": ("updated_at",)}),
    )

    def save_model(self, request, obj, form, change):
        # Through the service: cooldowns the old limits set are re-evaluated under the new ones.
        policy_update(policy=obj, changes={name: form.cleaned_data[name] for name in form.changed_data}, actor=request.user)

    @admin.display(description=_("stagger (s)"))
    def stagger(self, obj):
        return f"{obj.stagger_min_s}–{obj.stagger_max_s}"

    @admin.display(description=_("quiet hours"))
    def quiet_hours(self, obj):
        if obj.quiet_hours_start is None or obj.quiet_hours_end is None:
            return "-"
        return f"{time_format(obj.quiet_hours_start)}–{time_format(obj.quiet_hours_end)}"


class ActionFilter(admin.SimpleListFilter):
    """The logged actions by their human labels (the codes are in each label's tooltip)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        # Skipping through the (action, created_at) index: a DISTINCT would read every logged row.
        actions = distinct_values(model_admin.get_queryset(request), "action")
        return sorted(((action, action_label(action)) for action in actions), key=lambda choice: choice[1])

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(ActivityLog)
class ActivityLogAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    add_role = change_role = delete_role = None
    # Few enough columns to fit the page next to the filters; the rest is on each row's page.
    list_display = ("created_at", "action_label", "log_status", "actor", "account", "post_link", "message_excerpt")
    list_filter = ("status", ActionFilter, ("workspace", ScopedRelatedOnlyFieldListFilter), "created_at")
    search_fields = ("action", "message", "account__handle", "post__title")
    list_select_related = ("actor", "account", "post")
    # A filtered list says "N results (Show all)" rather than counting the whole list a second time.
    show_full_result_count = False
    # What the columns read; not the account's encrypted secrets nor the entry's details.
    list_only = (
        *("created_at", "action", "status", "message", "actor", "actor__username"),
        *("account", "account__platform", "account__handle", "post", "post__title", "post__caption"),
    )
    # No date_hierarchy: a DISTINCT over a million dates per page; the "created" filter costs no query.
    fields = (
        "created_at",
        "workspace",
        "actor",
        "action_label",
        "log_status",
        "account",
        "post",
        "execution",
        "message",
        "details_pretty",
        "duration_ms",
    )
    readonly_fields = fields

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, obj):
        return format_html('<span title="{}">{}</span>', obj.action, obj.get_action_display())

    @admin.display(description=_("status"), ordering="status")
    def log_status(self, obj):
        return status_badge(obj)

    @admin.display(description=_("post"), ordering="post")
    def post_link(self, obj):
        return format_html('<a href="{}">{}</a>', change_url(obj.post), obj.post) if obj.post else "-"

    @admin.display(description=_("message"))
    def message_excerpt(self, obj):
        return format_html('<span title="{}">{}</span>', obj.message, excerpt(obj.message, 60))

    @admin.display(description=_("details"))
    def details_pretty(self, obj):
        return pretty_json(obj.details)


class SandboxMediaTypeFilter(admin.SimpleListFilter):
    """The feed's media type codes, named with the post media types' labels."""

    title = _("media type")
    parameter_name = "media_type"

    def lookups(self, request, model_admin):
        return MediaType.choices

    def queryset(self, request, queryset):
        return queryset.filter(media_type=self.value()) if self.value() else queryset


@admin.register(SandboxPost)
class SandboxPostAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    """The sandbox platform's feed: what a dry run "published". Read-only."""

    workspace_field = "account__workspace"
    add_role = change_role = delete_role = None
    list_display = ("created_at", "account", "marker", "media_type_label", "caption_excerpt")
    list_filter = (SandboxMediaTypeFilter,)
    search_fields = ("marker", "caption", "account__handle")
    list_select_related = ("account",)
    fields = ("created_at", "account", "marker", "media_type", "caption", "media")
    readonly_fields = fields

    @admin.display(description=_("caption"))
    def caption_excerpt(self, obj):
        return excerpt(obj.caption, 90)

    @admin.display(description=_("media type"), ordering="media_type")
    def media_type_label(self, obj):
        # The feed stores the platform-neutral code; people read the post's media type label.
        return MediaType(obj.media_type).label if obj.media_type in MediaType.values else obj.media_type
