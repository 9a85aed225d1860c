"""Admin for executions (retry / cancel through the services), publishing
policies and the audit log."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin_utils import WorkspaceModelForm, WorkspaceScopedAdmin, change_url, excerpt, status_badge
from accounts.models import Role
from crosspost.activity import scrub
from crosspost.models import ActivityLog

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
        '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', execution.remote_url, execution.remote_id or "open"
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
                self.add_error("caption", "The execution has already started; its caption can no longer change.")
        return cleaned


@admin.register(Execution)
class ExecutionAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = ExecutionForm
    add_role = None
    change_role = Role.EDITOR
    delete_role = Role.ADMIN
    list_display = (
        "id",
        "post",
        "account",
        "platform",
        "execution_status",
        "priority",
        "scheduled_for",
        "attempts",
        "remote_link",
        "error_excerpt",
        "finished_at",
    )
    list_filter = (
        "status",
        "priority",
        ("account__platform", admin.ChoicesFieldListFilter),
        ("post", admin.RelatedOnlyFieldListFilter),
        ("workspace", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("account__handle", "post__title", "remote_id", "error_code", "error_message")
    list_select_related = ("post", "account")
    date_hierarchy = "scheduled_for"
    actions = ("retry_executions", "cancel_executions", "mark_published")
    fieldsets = (
        (None, {"fields": ("post", "account", "workspace", "language", "execution_status", "priority")}),
        ("Caption", {"fields": ("caption", "caption_edited")}),
        (
            "Timing",
            {"fields": ("scheduled_for", "attempts", "next_attempt_at", "lease_expires_at", "started_at", "finished_at")},
        ),
        ("Result", {"fields": ("remote_id", "remote_link", "error_code", "error_message", "raw_response_pretty")}),
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

    @admin.display(description="platform", ordering="account__platform")
    def platform(self, obj):
        return obj.account.get_platform_display()

    @admin.display(description="status", ordering="status")
    def execution_status(self, obj):
        return status_badge(obj)

    @admin.display(description="published at")
    def remote_link(self, obj):
        return remote_link(obj)

    @admin.display(description="error")
    def error_excerpt(self, obj):
        if not (obj.error_code or obj.error_message):
            return "-"
        return format_html('<span title="{}">{}</span>', obj.error_message, excerpt(f"{obj.error_code} {obj.error_message}", 70))

    @admin.display(description="raw response")
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
            self.message_user(request, "The execution started meanwhile; the caption was not changed.", messages.ERROR)

    @admin.action(description="Retry selected executions", permissions=["change"])
    def retry_executions(self, request, queryset):
        executions = self.writable_or_warn(request, queryset).select_related("account", "post")
        retried, problems = executions_retry(executions=executions, actor=request.user)
        if retried:
            self.message_user(request, f"Retrying {retried} execution(s) now, on the low-priority queue.", messages.SUCCESS)
        for problem in problems[:20]:
            self.message_user(request, problem, messages.WARNING)
        if len(problems) > 20:
            self.message_user(request, f"… and {len(problems) - 20} more not retried.", messages.WARNING)

    @admin.action(description="Mark unconfirmed executions as published (checked on the platform)", permissions=["change"])
    def mark_published(self, request, queryset):
        marked, skipped = 0, 0
        for execution in self.writable_or_warn(request, queryset).select_related("account"):
            try:
                execution_mark_published(execution=execution, actor=request.user)
                marked += 1
            except ValidationError:
                skipped += 1
        if marked:
            self.message_user(request, f"Marked {marked} execution(s) as published.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} execution(s) were not unconfirmed and were left as they are.", messages.WARNING
            )

    @admin.action(description="Cancel selected executions", permissions=["change"])
    def cancel_executions(self, request, queryset):
        cancelled, problems = 0, []
        for execution in self.writable_or_warn(request, queryset):
            try:
                execution_cancel(execution=execution, actor=request.user)
                cancelled += 1
            except ValidationError as exc:
                problems.append(f"#{execution.pk}: {' '.join(exc.messages)}")
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} execution(s).", messages.SUCCESS)
        for problem in problems[:20]:
            self.message_user(request, problem, messages.WARNING)
        if len(problems) > 20:
            self.message_user(request, f"… and {len(problems) - 20} more not cancelled.", messages.WARNING)


@admin.register(PublishingPolicy)
class PublishingPolicyAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "platform",
        "min_interval_s",
        "stagger",
        "daily_limit",
        "warmup_ramp_days",
        "quiet_hours",
        "updated_at",
        "workspace",
    )
    list_filter = ("platform", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("platform", "workspace__name")
    list_select_related = ("workspace",)
    readonly_fields = ("updated_at",)
    fieldsets = (
        (None, {"fields": ("workspace", "platform")}),
        ("Pacing", {"fields": ("min_interval_s", ("stagger_min_s", "stagger_max_s"), "daily_limit")}),
        ("Warm-up", {"fields": ("warmup_curve", "warmup_ramp_days")}),
        ("Timing", {"fields": (("quiet_hours_start", "quiet_hours_end"), "optimal_times")}),
        (
            "Content rules",
            {"fields": (("hashtag_min", "hashtag_max"), "forbidden_words", "required_hashtags", "caption_template")},
        ),
        (None, {"fields": ("updated_at",)}),
    )

    def save_model(self, request, obj, form, change):
        # Through the service: cooldowns the old limits set are re-evaluated under the new ones.
        policy_update(policy=obj, changes={name: form.cleaned_data[name] for name in form.changed_data}, actor=request.user)

    @admin.display(description="stagger (s)")
    def stagger(self, obj):
        return f"{obj.stagger_min_s}–{obj.stagger_max_s}"

    @admin.display(description="quiet hours")
    def quiet_hours(self, obj):
        if obj.quiet_hours_start is None or obj.quiet_hours_end is None:
            return "-"
        return f"{obj.quiet_hours_start:%H:%M}–{obj.quiet_hours_end:%H:%M}"


@admin.register(ActivityLog)
class ActivityLogAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    add_role = change_role = delete_role = None
    list_display = (
        "created_at",
        "action",
        "log_status",
        "actor",
        "account",
        "post_link",
        "execution",
        "message_excerpt",
        "duration_ms",
        "workspace",
    )
    list_filter = ("status", "action", ("workspace", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("action", "message", "account__handle", "post__title")
    list_select_related = ("actor", "account", "post", "execution", "workspace")
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "workspace",
        "actor",
        "action",
        "log_status",
        "account",
        "post",
        "execution",
        "message",
        "details_pretty",
        "duration_ms",
    )
    readonly_fields = fields

    @admin.display(description="status", ordering="status")
    def log_status(self, obj):
        return status_badge(obj)

    @admin.display(description="post", ordering="post")
    def post_link(self, obj):
        return format_html('<a href="{}">{}</a>', change_url(obj.post), obj.post) if obj.post else "-"

    @admin.display(description="message")
    def message_excerpt(self, obj):
        return excerpt(obj.message, 90)

    @admin.display(description="details")
    def details_pretty(self, obj):
        return pretty_json(obj.details)


@admin.register(SandboxPost)
class SandboxPostAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    """The sandbox platform's feed: what a dry run "published". Read-only."""

    workspace_field = "account__workspace"
    add_role = change_role = delete_role = None
    list_display = ("created_at", "account", "marker", "media_type", "caption_excerpt")
    list_filter = ("media_type",)
    search_fields = ("marker", "caption", "account__handle")
    list_select_related = ("account",)
    fields = ("created_at", "account", "marker", "media_type", "caption", "media")
    readonly_fields = fields

    @admin.display(description="caption")
    def caption_excerpt(self, obj):
        return excerpt(obj.caption, 90)
