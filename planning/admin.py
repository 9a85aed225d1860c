"""Admin of the queue slots, scoped like every tenant admin: members see their workspaces' slots,
admins and owners add, change and remove them — through the same services as the dashboard and
the API (planning.queue), so the checks and the activity log are the same."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.admin_utils import WorkspaceModelForm, WorkspaceScopedAdmin

from .models import QueueSlot
from .queue import check_group, queue_slot_add, queue_slot_remove, queue_slot_update


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
