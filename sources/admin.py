"""Sources in the admin: the bot token is write-only (never shown, never in a form's initial data);
what was ingested (Telegram) and what watched sources found are listed read-only with their
errors and the reasons items were skipped."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_utils import WorkspaceModelForm, WorkspaceScopedAdmin, WriteOnlyTextInput, excerpt, status_badge
from accounts.models import Role
from platforms import base

from .models import IngestItem, IngestRecord, Source, SourceItem, SourceKind
from .services import record_retry, source_poll, webhook_connect, webhook_disconnect
from .watched import item_retry, watched_poll


def _received(count: int) -> str:
    return ngettext("%(count)s update received.", "%(count)s updates received.", count) % {"count": count}


def _made(count: int) -> str:
    return ngettext("%(count)s post made.", "%(count)s posts made.", count) % {"count": count}


class SourceForm(WorkspaceModelForm):
    bot_token = forms.CharField(
        label=_("Bot token"),
        required=False,
        widget=WriteOnlyTextInput(attrs={"size": 60, "autocomplete": "off"}),
        help_text=_("From @BotFather; the bot must be an administrator of the channel. Write-only: leave blank to keep it."),
    )

    class Meta:
        model = Source
        fields = (
            "workspace",
            "name",
            "kind",
            "enabled",
            "options",
            "mode",
            "report_to_channel",
            "caption_mode",
            "caption_template",
            "language",
            "target_groups",
            "target_accounts",
            "priority",
            "window_start",
            "window_end",
            "account",
            "rules",
            "poll_interval_s",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "poll_interval_s" in self.fields:  # Telegram sources have no use for it: empty keeps the default
            self.fields["poll_interval_s"].required = False

    def clean_rules(self):
        return self.cleaned_data.get("rules") or {}

    def clean_poll_interval_s(self):
        value = self.cleaned_data.get("poll_interval_s")
        return Source._meta.get_field("poll_interval_s").default if value is None else value

    def clean(self):
        cleaned = super().clean()
        telegram = cleaned.get("kind", SourceKind.TELEGRAM) == SourceKind.TELEGRAM
        if telegram and not self.instance.bot_token and not (cleaned.get("bot_token") or "").strip():
            self.add_error("bot_token", _("Give the bot's token."))
        return cleaned

    def save(self, commit=True):
        token = (self.cleaned_data.get("bot_token") or "").strip()
        if token:
            self.instance.secret = {**(self.instance.secret or {}), "bot_token": token}
        elif self.instance.secret is None:
            self.instance.secret = {}
        return super().save(commit)


@admin.register(Source)
class SourceAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = SourceForm
    write_only_fields = ("bot_token",)
    # Few enough columns to fit next to the filters in Russian too (as the posts' list); kind and
    # workspace are filters.
    list_display = ("name", "enabled", "mode", "delivery", "last_polled_at", "error_excerpt")
    list_filter = ("kind", "enabled", "failing", "mode", "delivery", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name",)
    list_select_related = ("workspace",)
    readonly_fields = (
        "delivery",
        "update_offset",
        "next_poll_at",
        "failures",
        "failing",
        "last_polled_at",
        "last_error",
        "created_at",
    )
    filter_horizontal = ("target_groups", "target_accounts")

    def get_fields(self, request, obj=None):
        return [*SourceForm.Meta.fields[:5], "bot_token", *SourceForm.Meta.fields[5:], *self.readonly_fields]

    @admin.display(description=_("last error"))
    def error_excerpt(self, obj):
        return excerpt(obj.last_error, 60)

    actions = ("poll_now", "use_webhook", "use_polling")

    def _each(self, request, queryset, run) -> None:
        for source in self.writable_or_warn(request, queryset, Role.ADMIN):
            try:
                message = run(source)
            except base.PlatformError as error:
                self.message_user(request, f"{source}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{source}: {message}", messages.SUCCESS)

    @admin.action(description=_("Poll the selected sources now"))
    def poll_now(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda source: _made(watched_poll(source=source)) if source.watched else _received(source_poll(source=source)),
        )

    @admin.action(description=_("Receive by webhook (setWebhook)"))
    def use_webhook(self, request, queryset):
        def connect(source):
            url = request.build_absolute_uri(reverse("source-telegram-webhook", args=[source.pk]))
            if not url.startswith("https://"):
                raise base.ContentRejected(
                    str(_("Telegram only calls HTTPS webhooks; open the admin over HTTPS or use the API with a URL."))
                )
            webhook_connect(source=source, url=url)
            return _("Telegram now sends updates to %(url)s.") % {"url": url}

        self._each(request, queryset, connect)

    @admin.action(description=_("Receive by polling (deleteWebhook)"))
    def use_polling(self, request, queryset):
        self._each(request, queryset, lambda source: (webhook_disconnect(source=source), _("Polling again."))[1])


class _ReadOnly(WorkspaceScopedAdmin, admin.ModelAdmin):
    workspace_field = "source__workspace"
    add_role = None
    change_role = None
    delete_role = None


@admin.register(IngestRecord)
class IngestRecordAdmin(_ReadOnly):
    list_display = ("source", "key", "post", "record_status", "error_excerpt", "created_at")
    list_filter = ("status",)
    list_select_related = ("source", "post")
    fields = ("source", "chat_id", "key", "post", "status", "error", "created_at")
    readonly_fields = fields
    actions = ("retry",)

    @admin.action(description=_("Try the selected failed records again"))
    def retry(self, request, queryset):
        retried = sum(record_retry(record=record) for record in self.writable(request, queryset, Role.ADMIN))
        self.message_user(
            request,
            ngettext("%(count)s record will be tried again.", "%(count)s records will be tried again.", retried)
            % {"count": retried},
            messages.SUCCESS,
        )

    @admin.display(description=_("status"), ordering="status")
    def record_status(self, obj):
        return status_badge(obj)

    @admin.display(description=_("error"))
    def error_excerpt(self, obj):
        return excerpt(obj.error, 80)


@admin.register(IngestItem)
class IngestItemAdmin(_ReadOnly):
    list_display = ("source", "chat_id", "message_id", "media_group_id", "status", "received_at")
    list_filter = ("status",)
    list_select_related = ("source",)
    fields = ("source", "update_id", "chat_id", "message_id", "media_group_id", "status", "error", "message", "received_at")
    readonly_fields = fields


@admin.register(SourceItem)
class SourceItemAdmin(_ReadOnly):
    list_display = ("source", "remote_id", "published_at", "item_status", "reason_excerpt", "post", "found_at")
    list_filter = ("status",)
    list_select_related = ("source", "post")
    search_fields = ("remote_id", "text")
    fields = (
        "source",
        "remote_id",
        "url",
        "published_at",
        "status",
        "reason",
        "attempts",
        "post",
        "text",
        "media_urls",
        "is_repost",
        "is_ad",
        "found_at",
    )
    readonly_fields = fields
    actions = ("retry",)

    @admin.action(description=_("Take the selected skipped or failed items again"))
    def retry(self, request, queryset):
        retried = sum(item_retry(item=item) for item in self.writable(request, queryset, Role.ADMIN))
        self.message_user(
            request,
            ngettext("%(count)s item will be taken again.", "%(count)s items will be taken again.", retried) % {"count": retried},
            messages.SUCCESS,
        )

    @admin.display(description=_("status"), ordering="status")
    def item_status(self, obj):
        return status_badge(obj)

    @admin.display(description=_("reason"))
    def reason_excerpt(self, obj):
        return excerpt(obj.reason, 80)
