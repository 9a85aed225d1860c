"""Admin for the ad campaign builder, scoped to the staff member's workspaces like every admin.

The brief is written through campaigns.services (the checks the dashboard and the API use); runs
start, resume and stop through campaigns.runner; an ad edited here is marked ``edited`` (the next
run's validate stage checks it again). Campaign settings keep their secrets write-only: the page
says whether each is set and offers a field to replace it, never the value."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin_utils import (
    ReadOnlyInline,
    WorkspaceModelForm,
    WorkspaceScopedAdmin,
    WriteOnlyTextarea,
    WriteOnlyTextInput,
    add_validation_error,
    status_badge,
)
from accounts.models import Role

from .models import Ad, Campaign, CampaignSettings, Cluster
from .runner import campaign_run
from .services import (
    EDITABLE_FIELDS,
    ad_update,
    campaign_archive,
    campaign_cancel,
    campaign_create,
    campaign_delete,
    campaign_settings_save,
    campaign_update,
    check_service_account,
    clean_brief,
)


class CampaignForm(WorkspaceModelForm):
    # Text: check_target_url (via clean_brief) judges it, with its own messages.
    target_url = forms.CharField(label=_("target URL"), max_length=1024)

    class Meta:
        model = Campaign
        fields = ["workspace", *EDITABLE_FIELDS]

    def clean(self):
        cleaned = super().clean()
        try:
            clean_brief({name: cleaned[name] for name in EDITABLE_FIELDS if name in cleaned})
        except ValidationError as exc:
            add_validation_error(self, exc)
        return cleaned


class ClusterInline(ReadOnlyInline, admin.TabularInline):
    model = Cluster
    fields = ("position", "name", "size", "total_frequency")
    readonly_fields = fields
    show_change_link = False


class AdInline(ReadOnlyInline, admin.TabularInline):
    model = Ad
    fields = ("cluster", "title1", "title2", "text", "display_path", "status", "edited")
    readonly_fields = fields


@admin.register(Campaign)
class CampaignAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = CampaignForm
    add_role = change_role = delete_role = Role.EDITOR
    list_display = ("name", "workspace", "status_badge", "job_progress", "created_at")
    list_filter = ("status", "finished_stage", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "product_description")
    list_select_related = ("workspace", "job")
    readonly_fields = ("status", "finished_stage", "job", "sheet_link", "author", "created_at", "updated_at")
    inlines = (ClusterInline, AdInline)
    actions = ("run", "cancel", "archive")

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return status_badge(obj)

    @admin.display(description=_("build"))
    def job_progress(self, obj):
        job = obj.job
        if job is None:
            return "—"
        return f"{job.get_status_display()} · {job.stage or '—'} · {job.progress}%"

    @admin.display(description=_("Google Sheet"))
    def sheet_link(self, obj):
        return (
            format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', obj.sheet_url, obj.sheet_url)
            if obj.sheet_url
            else "—"
        )

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        if change:
            campaign_update(campaign=obj, actor=request.user, **fields)
        else:
            saved = campaign_create(workspace=form.cleaned_data["workspace"], author=request.user, **fields)
            obj.pk = saved.pk
            obj.refresh_from_db()

    def delete_model(self, request, obj):
        campaign_delete(campaign=obj, actor=request.user)

    def _each(self, request, queryset, call, done: str) -> None:
        for campaign in self.writable_or_warn(request, queryset, Role.EDITOR).select_related("job"):
            try:
                call(campaign)
            except ValidationError as exc:
                self.message_validation_error(request, exc, prefix=f"{campaign}: ")
            else:
                self.message_user(request, f"{campaign}: {done}", messages.SUCCESS)

    @admin.action(description=_("Run (or resume) the selected campaigns"))
    def run(self, request, queryset):
        self._each(request, queryset, lambda c: campaign_run(campaign=c, actor=request.user), _("being built."))

    @admin.action(description=_("Cancel the selected campaigns' runs"))
    def cancel(self, request, queryset):
        self._each(request, queryset, lambda c: campaign_cancel(campaign=c, actor=request.user), _("cancelling."))

    @admin.action(description=_("Archive the selected campaigns"))
    def archive(self, request, queryset):
        self._each(request, queryset, lambda c: campaign_archive(campaign=c, actor=request.user), _("archived."))


class AdForm(WorkspaceModelForm):
    class Meta:
        model = Ad
        fields = ["title1", "title2", "text", "display_path"]


@admin.register(Ad)
class AdAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = AdForm
    workspace_field = "campaign__workspace"
    add_role = delete_role = None  # ads are written by the run
    change_role = Role.EDITOR
    list_display = ("title1", "campaign", "cluster", "status_badge", "edited")
    list_filter = ("status", "edited")
    search_fields = ("title1", "title2", "text", "campaign__name")
    list_select_related = ("campaign", "cluster")
    readonly_fields = ("campaign", "cluster", "status", "problems", "attempts", "edited")

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return status_badge(obj)

    def save_model(self, request, obj, form, change):
        ad_update(ad=obj, actor=request.user, **{name: form.cleaned_data[name] for name in AdForm.Meta.fields})


class CampaignSettingsForm(WorkspaceModelForm):
    new_wordstat_token = forms.CharField(
        label=_("New Wordstat OAuth token"),
        required=False,
        widget=WriteOnlyTextInput(),
        help_text=_("Blank keeps the stored token."),
    )
    remove_wordstat_token = forms.BooleanField(label=_("Remove the stored Wordstat token"), required=False)
    new_google_service_account = forms.CharField(
        label=_("New Google service account key (JSON)"),
        required=False,
        widget=WriteOnlyTextarea(),
        help_text=_("The whole key file. Blank keeps the stored key."),
    )
    remove_google_service_account = forms.BooleanField(label=_("Remove the stored Google key"), required=False)

    class Meta:
        model = CampaignSettings
        fields = ["workspace", "share_with"]

    def changes(self) -> dict:
        data = self.cleaned_data
        changes = {"share_with": data.get("share_with", "")}
        if data.get("remove_wordstat_token"):
            changes["wordstat_token"] = ""
        elif data.get("new_wordstat_token"):
            changes["wordstat_token"] = data["new_wordstat_token"]
        if data.get("remove_google_service_account"):
            changes["google_service_account"] = {}
        elif data.get("new_google_service_account", "").strip():
            changes["google_service_account"] = data["new_google_service_account"]
        return changes

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("new_google_service_account", "").strip() and not cleaned.get("remove_google_service_account"):
            try:
                check_service_account(cleaned["new_google_service_account"])
            except ValidationError as exc:
                add_validation_error(self, ValidationError({"new_google_service_account": exc.messages}))
        return cleaned


@admin.register(CampaignSettings)
class CampaignSettingsAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = CampaignSettingsForm
    write_only_fields = (
        "new_wordstat_token",
        "remove_wordstat_token",
        "new_google_service_account",
        "remove_google_service_account",
    )
    list_display = ("workspace", "wordstat_state", "google_state", "share_with")
    list_select_related = ("workspace",)
    readonly_fields = ("wordstat_state", "google_state")
    fields = (
        "workspace",
        "wordstat_state",
        "new_wordstat_token",
        "remove_wordstat_token",
        "google_state",
        "new_google_service_account",
        "remove_google_service_account",
        "share_with",
    )

    @admin.display(description=_("Wordstat token"))
    def wordstat_state(self, obj):
        return _("set") if obj.wordstat_token else _("not set")

    @admin.display(description=_("Google service account"))
    def google_state(self, obj):
        key = obj.google_service_account if isinstance(obj.google_service_account, dict) else {}
        return _("set (%(email)s)") % {"email": key.get("client_email", "?")} if key else _("not set")

    def save_model(self, request, obj, form, change):
        saved = campaign_settings_save(
            workspace=form.cleaned_data.get("workspace") or obj.workspace, actor=request.user, **form.changes()
        )
        obj.pk = saved.pk
