"""/api/v1/sources/ (admins and owners manage them; the bot token is write-only),
/api/v1/ingest-records/ (what each Telegram source made, read-only) and /api/v1/source-items/
(what each watched source found: made into a post, or skipped or failed with the reason)."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api_base import (
    CharField,
    JSONObjectField,
    WorkspaceOwnedSerializer,
    WorkspaceScopedMixin,
    same_workspace_errors,
)
from accounts.models import AccountGroup, Role, SocialAccount
from platforms import base

from .kinds import account_errors, options_errors
from .models import IngestRecord, Source, SourceItem, SourceKind
from .rules import rules_errors
from .services import record_retry, source_poll, webhook_connect, webhook_disconnect
from .watched import item_retry, watched_poll


class SourceSerializer(WorkspaceOwnedSerializer):
    bot_token = CharField(write_only=True, required=False, max_length=200, help_text="From @BotFather. Write-only.")
    has_bot_token = serializers.SerializerMethodField()
    options = JSONObjectField(
        required=False,
        help_text='Per kind. telegram: {"chat_id": "-100…"}; rss: {"url": "https://…/feed.xml"}; the others: see the README.',
    )
    rules = JSONObjectField(
        required=False, help_text="Repost rules of a watched source (see the README): filters, transform, quiet hours, daily cap."
    )
    account = serializers.PrimaryKeyRelatedField(
        required=False,
        allow_null=True,
        queryset=SocialAccount.objects.all(),
        help_text="The account a VK wall, YouTube or Instagram source is read through (its proxy included).",
    )
    target_groups = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=AccountGroup.objects.all())
    target_accounts = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=SocialAccount.objects.all())

    class Meta:
        model = Source
        fields = [
            "id",
            "workspace",
            "name",
            "kind",
            "enabled",
            "options",
            "bot_token",
            "has_bot_token",
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
            "delivery",
            "update_offset",
            "next_poll_at",
            "failures",
            "failing",
            "last_polled_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = [
            "delivery",
            "update_offset",
            "next_poll_at",
            "failures",
            "failing",
            "last_polled_at",
            "last_error",
            "created_at",
        ]

    def get_has_bot_token(self, obj: Source) -> bool:
        return bool(obj.bot_token)

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        kind = attrs.get("kind", getattr(self.instance, "kind", SourceKind.TELEGRAM))
        has_token = bool(attrs.get("bot_token")) or bool(self.instance is not None and self.instance.bot_token)
        if kind == SourceKind.TELEGRAM and not has_token:
            raise serializers.ValidationError({"bot_token": ["Give the bot's token (from @BotFather)."]})
        options = attrs.get("options", getattr(self.instance, "options", {}))
        account = attrs.get("account", getattr(self.instance, "account", None))
        errors = {field: [str(message)] for field, message in options_errors(kind, options).items()}
        errors.update(
            {field: [str(message)] for field, message in account_errors(kind, account, self.target_workspace.pk).items()}
        )
        rules = attrs.get("rules", getattr(self.instance, "rules", {}))
        errors.update({field: [str(message)] for field, message in rules_errors(rules).items()})
        errors.update(
            same_workspace_errors(
                self.target_workspace,
                target_groups=attrs.get("target_groups", []),
                target_accounts=attrs.get("target_accounts", []),
            )
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _save(self, instance: Source, validated_data: dict) -> Source:
        token = validated_data.pop("bot_token", None)
        groups = validated_data.pop("target_groups", None)
        accounts = validated_data.pop("target_accounts", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        if token:
            instance.secret = {**(instance.secret or {}), "bot_token": token}
        instance.full_clean()
        instance.save()
        if groups is not None:
            instance.target_groups.set(groups)
        if accounts is not None:
            instance.target_accounts.set(accounts)
        return instance

    def create(self, validated_data: dict) -> Source:
        return self._save(Source(secret={}), validated_data)

    def update(self, instance: Source, validated_data: dict) -> Source:
        return self._save(instance, validated_data)


class SourceItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = SourceItem
        fields = [
            "id",
            "source",
            "remote_id",
            "url",
            "published_at",
            "text",
            "media_urls",
            "is_repost",
            "is_ad",
            "status",
            "reason",
            "attempts",
            "post",
            "found_at",
        ]


class IngestRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = IngestRecord
        fields = ["id", "source", "chat_id", "key", "post", "status", "error", "created_at"]


_WEBHOOK_BODY = inline_serializer(
    "SourceWebhookRequest",
    {"url": serializers.URLField(required=False, help_text="HTTPS URL Telegram calls; default: this server's.")},
)


class SourceViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    queryset = Source.objects.select_related("workspace").prefetch_related("target_groups", "target_accounts")
    serializer_class = SourceSerializer
    write_role = Role.ADMIN
    filterset_fields = ["workspace", "kind", "enabled"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]

    def _platform_call(self, call):
        try:
            call()
        except base.PlatformError as error:
            raise serializers.ValidationError({"detail": error.message}) from None

    @extend_schema(request=_WEBHOOK_BODY, responses=SourceSerializer)
    @action(detail=True, methods=["post"], url_path="webhook")
    def webhook(self, request, pk=None):
        """Deliver by webhook: setWebhook with a fresh secret token (polling stops)."""
        source = self.get_object()
        body = _WEBHOOK_BODY.__class__(data=request.data)
        body.is_valid(raise_exception=True)
        url = body.validated_data.get("url") or request.build_absolute_uri(reverse("source-telegram-webhook", args=[source.pk]))
        if not url.startswith("https://"):
            raise serializers.ValidationError(
                {"url": [f"Telegram only calls HTTPS webhooks; {url} is not one. Give the public HTTPS address of this server."]}
            )
        self._platform_call(lambda: webhook_connect(source=source, url=url))
        return Response(self.get_serializer(source).data)

    @extend_schema(request=None, responses=SourceSerializer)
    @action(detail=True, methods=["post"], url_path="polling")
    def polling(self, request, pk=None):
        """Deliver by long polling: deleteWebhook; the beat calls getUpdates."""
        source = self.get_object()
        self._platform_call(lambda: webhook_disconnect(source=source))
        return Response(self.get_serializer(source).data)

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "SourcePollResult",
            {
                "updates": serializers.IntegerField(required=False, help_text="Telegram: updates received."),
                "posts": serializers.IntegerField(required=False, help_text="Watched kinds: posts made."),
            },
        ),
    )
    @action(detail=True, methods=["post"], url_path="poll")
    def poll(self, request, pk=None):
        """Poll now: one getUpdates round (Telegram, polling), or one fetch of a watched source."""
        source = self.get_object()
        try:
            result = {"posts": watched_poll(source=source)} if source.watched else {"updates": source_poll(source=source)}
        except base.PlatformError as error:
            raise serializers.ValidationError({"detail": error.message}) from None
        return Response(result, status=status.HTTP_200_OK)


class IngestRecordViewSet(WorkspaceScopedMixin, viewsets.ReadOnlyModelViewSet):
    queryset = IngestRecord.objects.select_related("source").order_by("-created_at", "-pk")
    serializer_class = IngestRecordSerializer
    workspace_field = "source__workspace"
    filterset_fields = ["source", "status"]
    ordering_fields = ["created_at"]

    action_roles = {"retry": Role.ADMIN}

    @extend_schema(request=None, responses=inline_serializer("IngestRetryResult", {"retried": serializers.BooleanField()}))
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Try a failed message or album again; its post is made by the next ingest run."""
        record = self.get_object()
        if not record_retry(record=record):
            raise serializers.ValidationError({"detail": "Only a failed record can be retried."}, code="conflict")
        return Response({"retried": True})


class SourceItemViewSet(WorkspaceScopedMixin, viewsets.ReadOnlyModelViewSet):
    """What watched sources found, newest first: each item's status and, when skipped or failed, why."""

    queryset = SourceItem.objects.select_related("source").order_by("-found_at", "-pk")
    serializer_class = SourceItemSerializer
    workspace_field = "source__workspace"
    filterset_fields = ["source", "status"]
    ordering_fields = ["found_at", "published_at"]

    action_roles = {"retry": Role.ADMIN}

    @extend_schema(request=None, responses=inline_serializer("SourceItemRetryResult", {"retried": serializers.BooleanField()}))
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Take a skipped or failed item again (after the rules changed, say); the next poll makes its post."""
        if not item_retry(item=self.get_object()):
            raise serializers.ValidationError({"detail": "Only a skipped or failed item can be taken again."}, code="conflict")
        return Response({"retried": True})
