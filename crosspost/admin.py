"""Admin for the shared core: the background jobs (read-only; a job is written by what runs it),
the webhook endpoints (secret write-only, shown once; rotate and test actions) and their delivery
log (read-only; redeliver), each scoped to the staff member's workspaces."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_utils import (
    WorkspaceModelForm,
    WorkspaceScopedAdmin,
    WriteOnlyTextInput,
    excerpt,
    status_badge,
)
from accounts.models import Role

from .models import Job, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .webhooks import (
    SUBSCRIBABLE_EVENTS,
    clean_events,
    delivery_redeliver,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_save,
    send_test_event,
    url_problem,
)


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


# --- Webhooks ------------------------------------------------------------------------------------------


class WebhookEndpointForm(WorkspaceModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(value, label) for value, label in WebhookEvent.choices if value in SUBSCRIBABLE_EVENTS],
        widget=forms.CheckboxSelectMultiple,
    )
    new_secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        min_length=16,
        max_length=200,
        widget=WriteOnlyTextInput(attrs={"size": 60}),
        help_text=_(
            "Write-only. Leave blank to keep the stored one (a new endpoint gets a generated secret, shown once after saving)."
        ),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("workspace", "url", "events", "active", "description")

    def clean_url(self):
        url = self.cleaned_data["url"]
        problem = url_problem(url)
        if problem:
            raise ValidationError(problem)
        return url

    def clean_events(self):
        try:
            return clean_events(self.cleaned_data["events"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["events"]) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = WebhookEndpointForm
    view_role = Role.ADMIN
    write_only_fields = ("new_secret",)
    list_display = ("__str__", "url", "workspace", "active", "events_shown", "failure_count", "created_at")
    list_filter = ("active", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("url", "description")
    list_select_related = ("workspace",)
    readonly_fields = ("failure_count", "last_failure", "created_by", "created_at", "updated_at", "deliveries_link")
    actions = ("rotate_secret", "send_test")

    def get_fields(self, request, obj=None):
        return [*WebhookEndpointForm.Meta.fields, "new_secret", *self.readonly_fields]

    @admin.display(description=_("events"))
    def events_shown(self, obj):
        return ", ".join(obj.events)

    @admin.display(description=_("deliveries"))
    def deliveries_link(self, obj):
        if obj.pk is None:
            return "-"
        from accounts.admin_utils import changelist_url

        return format_html(
            '<a href="{}">{}</a>', changelist_url(WebhookDelivery, endpoint__id__exact=str(obj.pk)), _("Delivery log")
        )

    def save_model(self, request, obj, form, change):
        cleaned = form.cleaned_data
        endpoint, shown = endpoint_save(
            workspace=obj.workspace,
            url=cleaned["url"],
            events=cleaned["events"],
            active=cleaned.get("active", True),
            description=cleaned.get("description", ""),
            secret=cleaned.get("new_secret", ""),
            actor=request.user,
            endpoint=WebhookEndpoint.objects.get(pk=obj.pk) if change else None,
        )
        vars(obj).update(vars(endpoint))
        if shown and not change and not cleaned.get("new_secret"):
            self._show_secret(request, endpoint, shown)

    def delete_model(self, request, obj):
        endpoint_delete(endpoint=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            endpoint_delete(endpoint=endpoint, actor=request.user)

    def _show_secret(self, request, endpoint, secret: str) -> None:
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code>",
                _("Signing secret of %(endpoint)s — copy it now, it is not shown again:") % {"endpoint": endpoint},
                secret,
            ),
            messages.WARNING,
        )

    @admin.action(description=_("Rotate the signing secret"))
    def rotate_secret(self, request, queryset):
        for endpoint in self.writable_or_warn(request, queryset):
            self._show_secret(request, endpoint, endpoint_rotate_secret(endpoint=endpoint, actor=request.user))

    @admin.action(description=_("Send a test event"))
    def send_test(self, request, queryset):
        sent = 0
        for endpoint in self.writable_or_warn(request, queryset):
            send_test_event(endpoint=endpoint, actor=request.user)
            sent += 1
        self.message_user(
            request,
            ngettext(
                "A test event is on its way to %(count)d endpoint; see the delivery log.",
                "A test event is on its way to %(count)d endpoints; see the delivery log.",
                sent,
            )
            % {"count": sent},
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    view_role = Role.ADMIN
    add_role = change_role = delete_role = None
    list_display = (
        "event",
        "endpoint",
        "status_badge",
        "attempts",
        "last_status_code",
        "error_excerpt",
        "created_at",
        "delivered_at",
    )
    list_filter = ("status", "event", ("endpoint", admin.RelatedOnlyFieldListFilter))
    search_fields = ("event_id",)
    list_select_related = ("endpoint",)
    readonly_fields = (
        "endpoint",
        "event",
        "event_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "payload_shown",
        "response_excerpt",
        "attempt_log",
        "created_at",
        "delivered_at",
    )
    fields = readonly_fields
    actions = ("redeliver",)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return status_badge(obj)

    @admin.display(description=_("last error"))
    def error_excerpt(self, obj):
        return excerpt(obj.last_error, 60)

    @admin.display(description=_("payload"))
    def payload_shown(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.display(description=_("attempts made"))
    def attempt_log(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.log, indent=2, ensure_ascii=False))

    @admin.action(description=_("Send again (same event id)"))
    def redeliver(self, request, queryset):
        count = 0
        for delivery in self.writable_or_warn(request, queryset, Role.ADMIN).select_related("endpoint__workspace"):
            delivery_redeliver(delivery=delivery, actor=request.user)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d delivery sent again.", "%(count)d deliveries sent again.", count) % {"count": count},
        )
