"""Admin for the shared core: the background jobs (read-only; a job is written by what runs it),
scoped to the staff member's workspaces."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_utils import WorkspaceScopedAdmin, status_badge

from .models import Job


@admin.register(Job)
class JobAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    add_role = change_role = delete_role = None
    list_display = ("__str__", "kind", "workspace", "status_badge", "stage", "progress", "created_at", "finished_at")
    list_filter = ("status", "kind", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("subject", "message")
    list_select_related = ("workspace",)
    readonly_fields = (
        "workspace",
        "author",
        "kind",
        "subject",
        "status",
        "stage",
        "progress",
        "message",
        "error",
        "result",
        "cancel_requested",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
    )
    fields = readonly_fields

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return status_badge(obj)
