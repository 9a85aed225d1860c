"""API for social accounts, account groups and proxies. Secrets go in, never out."""

import zoneinfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from crosspost.activity import log_activity
from crosspost.logging import redact
from crosspost.models import LogStatus
from publishing.health import account_check
from publishing.login import LoginUnsupported, account_login
from publishing.proxy_checks import proxy_check

from .api_base import (
    CharField,
    ScopedPrimaryKeyRelatedField,
    WorkspaceOwnedSerializer,
    WorkspaceScopedMixin,
    default_workspace,
    same_workspace_errors,
)
from .models import AccountGroup, Proxy, Role, SocialAccount, Workspace, parse_proxy_url
from .proxies import proxies_import
from .services import (
    account_create,
    account_set_status,
    account_validate,
    proxy_create,
    proxy_update_url,
    secret_to_credentials,
)

# --- Accounts -------------------------------------------------------------------------


class AccountSerializer(WorkspaceOwnedSerializer):
    group = ScopedPrimaryKeyRelatedField(queryset=AccountGroup.objects.all(), required=False, allow_null=True)
    group_name = serializers.SerializerMethodField(help_text="Null without a group.")
    proxy = ScopedPrimaryKeyRelatedField(queryset=Proxy.objects.all(), required=False, allow_null=True)
    proxy_display_url = serializers.SerializerMethodField(help_text="The proxy's URL without credentials; null without one.")
    timezone = serializers.ChoiceField(
        choices=["", *sorted(zoneinfo.available_timezones())],
        required=False,
        help_text="IANA time zone for quiet hours; empty: the workspace's.",
    )
    credentials = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        write_only=True,
        required=False,
        help_text='Secrets as a JSON object, e.g. {"password": "…"}. Write-only; merged into the stored ones '
        "on update, a key set to null is removed.",
    )
    secret = CharField(
        write_only=True,
        required=False,
        style={"input_type": "password"},
        help_text="One secret stored under the platform's key (password, access_token, bot_token, …). Write-only.",
    )
    credential_keys = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Names of the stored secrets, never their values."
    )
    has_session = serializers.SerializerMethodField(help_text="Whether a platform session is stored.")
    proxy_note = serializers.SerializerMethodField(
        help_text="In the answer to a create: the proxy given automatically, or a warning that none was free "
        "(the account is created either way). Empty otherwise."
    )

    class Meta:
        model = SocialAccount
        fields = [
            "id",
            "workspace",
            "platform",
            "handle",
            "external_id",
            "group",
            "group_name",
            "language",
            "timezone",
            "proxy",
            "proxy_display_url",
            "options",
            "device_id",
            "user_agent",
            "status",
            "status_reason",
            "cooldown_until",
            "posts_limit_per_day",
            "warmup_started_at",
            "last_post_at",
            "last_login_at",
            "last_check_at",
            "failed_attempts",
            "credentials",
            "secret",
            "credential_keys",
            "has_session",
            "proxy_note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "cooldown_until",
            "warmup_started_at",
            "last_post_at",
            "last_login_at",
            "last_check_at",
            "failed_attempts",
            "created_at",
            "updated_at",
        ]
        # Uniqueness is checked in validate() with a message naming the handle.
        validators = []

    # Method fields, not source="group.name" with a default: DRF leaves such a field out of a PATCH answer.
    def get_group_name(self, obj: SocialAccount) -> str | None:
        return obj.group.name if obj.group else None

    def get_proxy_display_url(self, obj: SocialAccount) -> str | None:
        return obj.proxy.display_url if obj.proxy else None

    def get_has_session(self, obj: SocialAccount) -> bool:
        return bool(obj.session)

    def get_proxy_note(self, obj: SocialAccount) -> str:
        return getattr(obj, "proxy_note", "")

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        workspace, instance = self.target_workspace, self.instance
        errors = same_workspace_errors(workspace, group=attrs.get("group"), proxy=attrs.get("proxy"))
        platform = attrs.get("platform", instance.platform if instance else None)
        if instance is not None and platform != instance.platform:
            message = "An account's platform cannot change; create a new account instead."
            errors["platform"] = [ErrorDetail(message, code="conflict")]
        if "handle" in attrs:
            attrs["handle"] = attrs["handle"].strip()
            clash = SocialAccount.objects.filter(workspace=workspace, platform=platform, handle=attrs["handle"])
            if instance is not None:
                clash = clash.exclude(pk=instance.pk)
            if clash.exists():
                message = f"A {platform} account with the handle {attrs['handle']!r} already exists in this workspace."
                errors["handle"] = [ErrorDetail(message, code="unique")]
        if errors:
            raise serializers.ValidationError(errors)
        secret = attrs.pop("secret", "")
        if secret:
            attrs["credentials"] = {**attrs.get("credentials", {}), **secret_to_credentials(platform, secret)}
        return attrs

    def create(self, validated_data: dict) -> SocialAccount:
        credentials = {k: v for k, v in validated_data.pop("credentials", {}).items() if v is not None}
        return account_create(credentials=credentials, actor=self.context["request"].user, **validated_data)

    @transaction.atomic
    def update(self, instance: SocialAccount, validated_data: dict) -> SocialAccount:
        actor = self.context["request"].user
        new_status = validated_data.pop("status", None)
        reason = validated_data.pop("status_reason", None)
        changed = list(validated_data)
        if "credentials" in validated_data:
            credentials = dict(instance.credentials or {})
            for key, value in validated_data.pop("credentials").items():
                if value is None:
                    credentials.pop(key, None)
                else:
                    credentials[key] = value
            instance.credentials = credentials
        for name, value in validated_data.items():
            setattr(instance, name, value)
        account_validate(instance)
        if changed:
            # Only the fields sent: status and session are written concurrently by workers.
            instance.save(update_fields=[*changed, "updated_at"])
            log_activity(
                action="account.update", account=instance, actor=actor, status=LogStatus.SUCCESS, details={"fields": changed}
            )
        if new_status is not None or reason is not None:
            account_set_status(account=instance, status=new_status or instance.status, reason=reason or "", actor=actor)
        return instance


class HealthSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()
    account_status = serializers.CharField(allow_null=True, help_text="The account state a failed check implies.")


class AccountCheckSerializer(serializers.Serializer):
    health = HealthSerializer()
    account = AccountSerializer(help_text="The account after the check.")


class AccountViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    """Social accounts. Admins and owners write; secrets are write-only."""

    queryset = SocialAccount.objects.select_related("group", "proxy")
    serializer_class = AccountSerializer
    write_role = Role.ADMIN
    filterset_fields = ["workspace", "platform", "status", "group", "language", "proxy"]
    search_fields = ["handle"]
    ordering_fields = ["platform", "handle", "status", "created_at", "last_post_at"]

    def perform_destroy(self, instance: SocialAccount) -> None:
        log_activity(
            action="account.delete",
            workspace=instance.workspace,
            actor=self.request.user,
            status=LogStatus.SUCCESS,
            details={"platform": instance.platform, "handle": instance.handle},
        )
        instance.delete()

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "AccountLoginResult",
                {
                    "ok": serializers.BooleanField(),
                    "detail": serializers.CharField(),
                    "status": serializers.CharField(help_text="The account's status after the login."),
                    "account": AccountSerializer(),
                },
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def login(self, request, pk=None):
        """Log the account in on its platform now and store the session (with a stored
        session: prove it still works). Success reactivates a login_required account;
        a refusal moves it to login_required. Platforms without sessions answer 409."""
        account = self.get_object()
        try:
            health = account_login(account=account, actor=request.user)
        except LoginUnsupported as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        account = self.get_queryset().get(pk=account.pk)
        return Response(
            {
                "ok": health.ok,
                "detail": health.detail,
                "status": account.status,
                "account": AccountSerializer(account, context=self.get_serializer_context()).data,
            }
        )

    @extend_schema(request=None, responses={200: AccountCheckSerializer})
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        """Check the account on its platform now (through its proxy) and apply the status it implies.

        A failed proxy is first rotated to a free reserve; a passing check recovers
        proxy_error and login_required accounts; banned and disabled ones never change.
        """
        account = self.get_object()
        health = account_check(account=account, actor=request.user)
        account = self.get_queryset().get(pk=account.pk)
        return Response(
            {
                "health": {"ok": health.ok, "detail": redact(health.detail), "account_status": health.account_status},
                "account": AccountSerializer(account, context=self.get_serializer_context()).data,
            }
        )


# --- Groups ------------------------------------------------------------------------------


class AccountGroupSerializer(WorkspaceOwnedSerializer):
    accounts_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = AccountGroup
        fields = ["id", "workspace", "name", "description", "accounts_count", "created_at"]
        read_only_fields = ["created_at"]
        validators = []

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if "name" in attrs:
            clash = AccountGroup.objects.filter(workspace=self.target_workspace, name=attrs["name"])
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise serializers.ValidationError(
                    {"name": [f"A group named {attrs['name']!r} already exists in this workspace."]}, code="unique"
                )
        return attrs

    def create(self, validated_data: dict) -> AccountGroup:
        group = AccountGroup(**validated_data)
        group.full_clean()
        group.save()
        return group

    def update(self, instance: AccountGroup, validated_data: dict) -> AccountGroup:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.full_clean()
        instance.save()
        return instance


class AccountGroupViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    queryset = AccountGroup.objects.annotate(accounts_count=Count("accounts")).order_by("name", "pk")
    serializer_class = AccountGroupSerializer
    write_role = Role.ADMIN
    filterset_fields = ["workspace"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "accounts_count"]

    def perform_create(self, serializer):
        reread_annotated(self, serializer)

    def perform_update(self, serializer):
        reread_annotated(self, serializer)

    @extend_schema(responses=AccountSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filterset_fields=[], search_fields=[], ordering_fields=[])
    def accounts(self, request, pk=None):
        """The accounts of this group, paginated."""
        group = self.get_object()
        accounts = SocialAccount.objects.filter(group=group).select_related("group", "proxy")
        page = self.paginate_queryset(accounts)
        return self.get_paginated_response(AccountSerializer(page, many=True, context=self.get_serializer_context()).data)


def reread_annotated(view, serializer) -> None:
    """Save, then answer with the row as the list shows it (annotations included)."""
    instance = serializer.save()
    serializer.instance = view.get_queryset().get(pk=instance.pk)


# --- Proxies -------------------------------------------------------------------------------


class ProxySerializer(WorkspaceOwnedSerializer):
    url = CharField(
        write_only=True,
        help_text="scheme://[user:password@]host:port with scheme http, https or socks5. Write-only; stored encrypted.",
    )
    display_url = serializers.CharField(read_only=True, help_text="The URL without credentials.")
    accounts_count = serializers.IntegerField(read_only=True)
    last_error = serializers.SerializerMethodField()

    class Meta:
        model = Proxy
        fields = [
            "id",
            "workspace",
            "url",
            "display_url",
            "scheme",
            "host",
            "port",
            "has_credentials",
            "country",
            "status",
            "latency_ms",
            "success_rate",
            "last_check_at",
            "exit_ip",
            "last_error",
            "accounts_count",
            "max_accounts",
            "created_at",
        ]
        read_only_fields = [
            "scheme",
            "host",
            "port",
            "has_credentials",
            "status",
            "latency_ms",
            "success_rate",
            "last_check_at",
            "exit_ip",
            "created_at",
        ]
        validators = []

    def get_last_error(self, obj: Proxy) -> str:
        # Library errors quote the proxy URL, credentials included.
        return redact(obj.last_error)

    def validate_url(self, value: str) -> str:
        try:
            self._parsed_url = parse_proxy_url(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value

    def validate_country(self, value: str) -> str:
        value = value.strip().upper()
        if value and not (len(value) == 2 and value.isalpha()):
            raise serializers.ValidationError("Use a two-letter ISO 3166-1 country code such as DE.")
        return value

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        errors = {}
        if "url" in attrs:
            parsed = self._parsed_url
            clash = Proxy.objects.filter(
                workspace=self.target_workspace, scheme=parsed["scheme"], host=parsed["host"], port=parsed["port"]
            )
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                message = f"{parsed['scheme']}://{parsed['host']}:{parsed['port']} is already a proxy in this workspace."
                errors["url"] = [ErrorDetail(message, code="unique")]
        if self.instance is not None and "max_accounts" in attrs:
            used = self.instance.accounts.count()
            if attrs["max_accounts"] < used:
                message = f"{used} accounts use this proxy; move some first or keep max_accounts ≥ {used}."
                errors["max_accounts"] = [ErrorDetail(message, code="conflict")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def create(self, validated_data: dict) -> Proxy:
        return proxy_create(actor=self.context["request"].user, **validated_data)

    @transaction.atomic
    def update(self, instance: Proxy, validated_data: dict) -> Proxy:
        if "url" in validated_data:
            proxy_update_url(proxy=instance, url=validated_data.pop("url"))
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.full_clean()
        instance.save()
        log_activity(
            action="proxy.update",
            workspace=instance.workspace,
            actor=self.context["request"].user,
            status=LogStatus.SUCCESS,
            details={"proxy": instance.display_url},
        )
        return instance


class ProxyCheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    status = serializers.CharField()
    exit_ip = serializers.IPAddressField(allow_null=True)
    latency_ms = serializers.IntegerField(allow_null=True)
    success_rate = serializers.FloatField()
    error = serializers.CharField()
    accounts_to_recheck = serializers.ListField(
        child=serializers.CharField(), help_text="proxy_error accounts of a recovered proxy, due for an account check."
    )


class ProxyCheckSerializer(serializers.Serializer):
    result = ProxyCheckResultSerializer()
    proxy = ProxySerializer(help_text="The proxy after the check.")


class ProxyImportSerializer(serializers.Serializer):
    workspace = serializers.PrimaryKeyRelatedField(
        queryset=Workspace.objects.all(), required=False, help_text="Optional when you are an admin of one workspace only."
    )
    text = CharField(
        trim_whitespace=False, style={"base_template": "textarea.html"}, help_text="One proxy URL per line; # starts a comment."
    )
    country = CharField(required=False, allow_blank=True, default="", help_text="ISO country code for all of them.")
    max_accounts = serializers.IntegerField(min_value=1, default=1)
    skip_invalid = serializers.BooleanField(default=False, help_text="Import the good lines and report the bad ones.")


class ProxyImportReportSerializer(serializers.Serializer):
    lines = serializers.IntegerField(help_text="Proxy lines read.")
    created = serializers.IntegerField()
    proxies = serializers.ListField(child=serializers.DictField(), help_text="id and display_url of each created proxy.")
    errors = serializers.ListField(child=serializers.DictField(), help_text="line, text (credentials redacted) and message.")


class ProxyViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    queryset = Proxy.objects.annotate(accounts_count=Count("accounts")).order_by("host", "port", "pk")
    serializer_class = ProxySerializer
    write_role = Role.ADMIN
    filterset_fields = ["workspace", "scheme", "status", "country"]
    search_fields = ["host"]
    ordering_fields = ["host", "port", "status", "latency_ms", "success_rate", "last_check_at", "accounts_count"]

    def perform_create(self, serializer):
        reread_annotated(self, serializer)

    def perform_update(self, serializer):
        reread_annotated(self, serializer)

    @extend_schema(request=None, responses={200: ProxyCheckSerializer})
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        """Fetch PROXY_CHECK_URL through the proxy now: exit IP, latency, status and success rate."""
        proxy = self.get_object()
        result = proxy_check(proxy=proxy, actor=request.user)
        proxy = self.get_queryset().get(pk=proxy.pk)
        return Response(
            {
                "result": {**result.as_dict(), "error": redact(result.error)},
                "proxy": ProxySerializer(proxy, context=self.get_serializer_context()).data,
            }
        )

    @extend_schema(request=ProxyImportSerializer, responses={201: ProxyImportReportSerializer, 400: ProxyImportReportSerializer})
    @action(detail=False, methods=["post"], url_path="import", url_name="import")
    def import_proxies(self, request):
        """Import many proxies: one URL per line; blank lines and # comments are ignored.

        Every line is validated first; with any bad line nothing is imported (400 with
        line-numbered errors) unless ``skip_invalid`` is true.
        """
        serializer = ProxyImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = data.get("workspace") or default_workspace(request, Role.ADMIN)
        report = proxies_import(
            workspace=workspace,
            text=data["text"],
            country=data["country"],
            max_accounts=data["max_accounts"],
            skip_invalid=data["skip_invalid"],
            actor=request.user,
        )
        refused = bool(report.errors) and not data["skip_invalid"]
        return Response(report.as_dict(), status=status.HTTP_400_BAD_REQUEST if refused else status.HTTP_201_CREATED)
