"""Admin of planning: recurring posts (every rule with its next occurrence, and a Stop action —
rules are set from the post's page in the dashboard or the API, ``planning.recurrence.recurrence_set``,
which check them) and the queue slots (members see their workspaces' slots; admins and owners add,
change and remove them through the same services as the dashboard and the API, ``planning.queue``,
so the checks and the activity log are the same)."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_utils import ReadOnlyInline, WorkspaceModelForm, WorkspaceScopedAdmin
from accounts.models import Role

from .models import QueueSlot, Recurrence
from .queue import check_group, queue_slot_add, queue_slot_remove, queue_slot_update
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


class QueueSlotForm(WorkspaceModelForm):
    class Meta:
        model = QueueSlot
        fields = ("workspace", "group", "weekday", "time")

    def clean(self):
        data = super().clean()
        workspace = data.get("workspace") or getattr(self.instance, "workspace", None)
        if workspace is not None and data.get("group") is not None:
            try:
                check_group(workspace, data["group"])
            except ValidationError as exc:
                self.add_error("group", exc.message_dict["group"])
        return data


@admin.register(QueueSlot)
class QueueSlotAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = QueueSlotForm
    list_display = ("__str__", "queue_display", "workspace", "created_at")
    list_filter = (("workspace", admin.RelatedOnlyFieldListFilter), "weekday")
    list_select_related = ("workspace", "group")
    ordering = ("workspace", "group", "weekday", "time")
    readonly_fields = ("created_at",)

    def get_readonly_fields(self, request, obj=None):
        # A slot stays in its queue: moving it to another workspace or group is a new slot.
        return ("workspace", "group", "created_at") if obj is not None else ("created_at",)

    @admin.display(description=_("queue"))
    def queue_display(self, obj: QueueSlot) -> str:
        return obj.group.name if obj.group_id else _("the workspace's queue")

    def save_model(self, request, obj, form, change):
        if change:
            saved = queue_slot_update(slot=obj, weekday=obj.weekday, time=obj.time, actor=request.user)
        else:
            saved = queue_slot_add(
                workspace=obj.workspace, group=obj.group, weekday=obj.weekday, time=obj.time, actor=request.user
            )
        vars(obj).update(vars(saved))

    def delete_model(self, request, obj):
        queue_slot_remove(slot=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for slot in queryset.select_related("workspace", "group"):
            queue_slot_remove(slot=slot, actor=request.user)
