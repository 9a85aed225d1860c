"""The studio in the admin: sources (credentials write-only), templates, presets, recordings (their
steps, why a template matched, the files kept, the job) with run / cancel / skip actions, quotas
(superusers) and member permissions (workspace admins). Forms check what the services check."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_utils import SUPERUSER, WorkspaceModelForm, WorkspaceScopedAdmin, WriteOnlyTextInput, excerpt, status_badge
from accounts.models import Role

from .models import InputSource, OutputPreset, Recording, RecordingFile, StudioPermission, StudioQuota, Template
from .runner import recording_cancel, recording_run
from .services import clean_preset, clean_template, recording_match, recording_skip, source_sync
from .topics import stamp


class InputSourceForm(WorkspaceModelForm):
    credentials = forms.CharField(
        label=_("Credentials (JSON)"),
        required=False,
        widget=WriteOnlyTextInput(attrs={"size": 80, "autocomplete": "off"}),
        help_text=_(
            'Zoom: {"account_id", "client_id", "client_secret"}; Yandex Disk: {"token"}. '
            "Write-only: leave blank to keep what is stored."
        ),
    )

    class Meta:
        model = InputSource
        fields = ("workspace", "name", "kind", "enabled", "options", "sync_interval_s")

    def clean(self):
        cleaned = super().clean()
        raw = (cleaned.get("credentials") or "").strip()
        try:
            secret = json.loads(raw) if raw else {}
        except ValueError:
            self.add_error("credentials", _("Write the credentials as a JSON object."))
            return cleaned
        if not isinstance(secret, dict):
            self.add_error("credentials", _("Write the credentials as a JSON object."))
            return cleaned
        kind = cleaned.get("kind") or self.instance.kind
        if kind:
            from .inputs.base import clean_source  # the clients' library, loaded when a source is saved

            try:
                options, secret = clean_source(
                    kind, cleaned.get("options") or {}, secret, existing_secret=self.instance.secret or {}
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    self.add_error(
                        "credentials" if field == "secret" else ("options" if field not in self.fields else field), errors
                    )
                return cleaned
            cleaned["options"] = options
            self.instance.options = options
            self.instance.secret = secret
        return cleaned


@admin.register(InputSource)
class InputSourceAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = InputSourceForm
    write_only_fields = ("credentials",)
    list_display = ("name", "kind", "enabled", "last_synced_at", "error_excerpt")
    list_filter = ("kind", "enabled", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name",)
    list_select_related = ("workspace",)
    readonly_fields = ("last_synced_at", "last_error", "created_at")
    actions = ("sync_now",)

    def get_fields(self, request, obj=None):
        return [*InputSourceForm.Meta.fields, "credentials", *self.readonly_fields]

    @admin.display(description=_("last error"))
    def error_excerpt(self, obj):
        return excerpt(obj.last_error, 60)

    @admin.action(description=_("Sync now"))
    def sync_now(self, request, queryset):
        created = 0
        for source in self.writable_or_warn(request, queryset, Role.EDITOR):
            try:
                report = source_sync(source=source, actor=request.user)
            except PermissionDenied as exc:
                self.message_user(request, f"{source}: {exc}", messages.WARNING)
                continue
            created += len(report.created)
            if report.error:
                self.message_user(request, f"{source}: {report.error}", messages.WARNING)
        self.message_user(
            request, ngettext("%(count)d new recording.", "%(count)d new recordings.", created) % {"count": created}
        )


class TemplateForm(WorkspaceModelForm):
    class Meta:
        model = Template
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            clean_template(self.instance)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


@admin.register(Template)
class TemplateAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = TemplateForm
    add_role = change_role = delete_role = Role.EDITOR
    list_display = ("name", "priority", "enabled", "name_regex", "subtitles", "auto_process")
    list_filter = ("enabled", "subtitles", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "name_regex")
    list_select_related = ("workspace",)
    filter_horizontal = ("presets",)
    fieldsets = (
        (None, {"fields": ("workspace", "name", "enabled", "priority", "auto_process")}),
        (
            _("Matching rules"),
            {"fields": ("name_regex", "source", "min_duration_s", "max_duration_s", "weekdays", "time_from", "time_until")},
        ),
        (
            _("Processing"),
            {
                "fields": (
                    "remove_silence",
                    "silence_threshold_db",
                    "silence_min_s",
                    "silence_padding_s",
                    "loudnorm",
                    "target_lufs",
                    "transcribe",
                    "language",
                    "subtitles",
                )
            },
        ),
        (_("Metadata and outputs"), {"fields": ("title_template", "description_template", "presets")}),
    )


class OutputPresetForm(WorkspaceModelForm):
    class Meta:
        model = OutputPreset
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            clean_preset(self.instance, cleaned.get("accounts") or [])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


@admin.register(OutputPreset)
class OutputPresetAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = OutputPresetForm
    add_role = change_role = delete_role = Role.EDITOR
    list_display = ("name", "platform", "group", "privacy", "publish_mode")
    list_filter = ("platform", "publish_mode", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name",)
    list_select_related = ("workspace", "group")
    filter_horizontal = ("accounts",)


class RecordingFileInline(admin.TabularInline):
    model = RecordingFile
    extra = 0
    can_delete = False
    fields = ("kind", "size_bytes", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Recording)
class RecordingAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    add_role = None  # recordings come from sources and uploads (API, dashboard)
    change_role = Role.EDITOR
    delete_role = Role.EDITOR
    list_display = ("display_name", "status_badge", "source", "template", "duration", "finished_step", "created_at")
    list_filter = ("status", ("source", admin.RelatedOnlyFieldListFilter), ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("display_name", "title", "remote_id")
    list_select_related = ("workspace", "source", "template")
    inlines = (RecordingFileInline,)
    fields = (
        "workspace",
        "display_name",
        "template",
        "why",
        "source",
        "remote_id",
        "recorded_at",
        "duration_s",
        "size_bytes",
        "status",
        "finished_step",
        "job",
        "removed_s",
        "trimmed_duration_s",
        "language",
        "title",
        "description",
        "chapters",
        "error",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(f for f in fields if f not in ("display_name", "template"))
    actions = ("run_full", "run_process", "cancel_run", "skip", "match_again")

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return status_badge(obj)

    @admin.display(description=_("duration"), ordering="duration_s")
    def duration(self, obj):
        return "—" if obj.duration_s is None else stamp(obj.duration_s)

    @admin.display(description=_("why this template"))
    def why(self, obj):
        reason = obj.match_reason or {}
        rules = reason.get("rules") or []
        summary = reason.get("summary") or _("Not matched yet.")
        if not rules:
            return summary
        return format_html(
            "{}<ul>{}</ul>",
            summary,
            format_html_join("", "<li>{} {}</li>", (("✓" if r.get("ok") else "✗", r.get("detail", "")) for r in rules)),
        )

    @admin.display(description=_("chapters"))
    def chapters(self, obj):
        chapters = (obj.topics or {}).get("chapters") or []
        return (
            format_html_join(
                "",
                "<div>{} {}</div>",
                ((stamp(c.get("start", 0)), c.get("title", "")) for c in chapters),
            )
            or "—"
        )

    def _each(self, request, queryset, run, done_message):
        done = 0
        for recording in self.writable_or_warn(request, queryset, Role.EDITOR):
            try:
                run(recording)
                done += 1
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{recording}: {text}", messages.WARNING)
        if done:
            self.message_user(request, done_message % {"count": done})

    @admin.action(description=_("Run the whole pipeline"))
    def run_full(self, request, queryset):
        self._each(
            request, queryset, lambda r: recording_run(recording=r, actor=request.user), _("%(count)d recording(s) started.")
        )

    @admin.action(description=_("Remove silences only"))
    def run_process(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda r: recording_run(recording=r, actor=request.user, until="trim"),
            _("%(count)d recording(s) started."),
        )

    @admin.action(description=_("Cancel the running job"))
    def cancel_run(self, request, queryset):
        self._each(
            request, queryset, lambda r: recording_cancel(recording=r, actor=request.user), _("%(count)d job(s) asked to stop.")
        )

    @admin.action(description=_("Skip"))
    def skip(self, request, queryset):
        self._each(
            request, queryset, lambda r: recording_skip(recording=r, actor=request.user), _("%(count)d recording(s) skipped.")
        )

    @admin.action(description=_("Match a template again"))
    def match_again(self, request, queryset):
        self._each(request, queryset, lambda r: recording_match(recording=r), _("%(count)d recording(s) matched again."))


@admin.register(StudioQuota)
class StudioQuotaAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    # A workspace's admins must not raise their own limits: only superusers change quotas.
    add_role = change_role = delete_role = SUPERUSER
    list_display = ("workspace", "storage_gb", "recordings_per_month", "concurrent_jobs")
    list_select_related = ("workspace",)


@admin.register(StudioPermission)
class StudioPermissionAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    list_display = ("user", "workspace", "can_process", "can_transcribe", "can_publish", "can_delete")
    list_filter = (("workspace", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("user__username", "user__email")
    list_select_related = ("workspace", "user")
    raw_id_fields = ("user",)
