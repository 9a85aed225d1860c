"""Admin of recurring posts: every rule with its next occurrence, and a Stop action. Rules are set
from the post's page in the dashboard or the API (``planning.recurrence.recurrence_set``), which
check them; the admin does not write them by hand."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_utils import ReadOnlyInline, WorkspaceScopedAdmin
from accounts.models import Role

from .models import Recurrence
from .recurrence import describe, recurrence_stop


@admin.register(Recurrence)
class RecurrenceAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    workspace_field = "post__workspace"
    add_role = delete_role = None
    change_role = Role.EDITOR  # the Stop action; the form itself is read-only
    list_display = ("post", "rule", "next_at", "made", "active")
    list_filter = ("active", "frequency")
    list_select_related = ("post__workspace",)
    search_fields = ("post__title", "post__caption")
    date_hierarchy = "next_at"
    fields = ("post", "rule", "frequency", "interval", "weekdays", "starts_at", "until", "count", "made", "next_at", "active")
    readonly_fields = fields
    actions = ("stop_repeating",)

    @admin.display(description=_("rule"))
    def rule(self, obj):
        return describe(obj)

    @admin.action(description=_("Stop repeating the selected posts"), permissions=["change"])
    def stop_repeating(self, request, queryset):
        stopped = 0
        for rule in self.writable_or_warn(request, queryset).select_related("post"):
            if rule.active and recurrence_stop(post=rule.post, actor=request.user) is not None:
                stopped += 1
        self.message_user(
            request,
            ngettext("Stopped %(count)d recurring post.", "Stopped %(count)d recurring posts.", stopped) % {"count": stopped},
            messages.SUCCESS,
        )


class RecurrenceInline(ReadOnlyInline):
    """A post's repetition rule, on the post's admin page."""

    model = Recurrence
    fields = ("rule", "next_at", "made", "active")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("post__workspace")

    @admin.display(description=_("rule"))
    def rule(self, obj):
        return describe(obj)
