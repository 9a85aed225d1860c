"""Read-only admin of statistics: what was read when, and what failed (snapshots are written by
the collector only, ``stats.services``)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_utils import WorkspaceScopedAdmin, badge, excerpt

from .models import MetricPause, MetricSnapshot


class _ReadOnly(WorkspaceScopedAdmin, admin.ModelAdmin):
    add_role = None
    change_role = None
    delete_role = None


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(_ReadOnly):
    workspace_field = "execution__workspace"
    # Fits a 1280 px screen in both languages: comments, shares, saves and watch time are on the snapshot's page.
    list_display = ("publication", "slot", "taken_at", "views", "likes", "outcome")
    list_filter = ("slot", "final", "execution__account__platform")
    list_select_related = ("execution__post", "execution__account")
    date_hierarchy = "taken_at"
    search_fields = ("execution__remote_id", "execution__post__caption")
    fields = (
        "execution",
        "slot",
        "taken_at",
        "views",
        "likes",
        "comments",
        "shares",
        "saves",
        "watch_time_s",
        "unavailable",
        "errors",
        "final",
        "raw",
    )
    readonly_fields = fields

    @admin.display(description=_("publication"), ordering="execution_id")
    def publication(self, obj):
        """The post (shortened) and the account's platform: the execution's full name is too wide here."""
        return f"{excerpt(str(obj.execution.post), 32)} · {obj.execution.account.get_platform_display()}"

    @admin.display(description=_("outcome"))
    def outcome(self, obj):
        if obj.final:
            return badge("failed", _("last reading"))
        if obj.errors:
            return badge("retry_wait", _("%(count)s failed") % {"count": len(obj.errors)})
        return badge("success", _("read"))


@admin.register(MetricPause)
class MetricPauseAdmin(_ReadOnly):
    workspace_field = "account__workspace"
    list_display = ("account", "until", "reason")
    list_select_related = ("account",)
    fields = ("account", "until", "reason")
    readonly_fields = fields
