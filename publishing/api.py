"""API for executions (read, retry, cancel), publishing policies, the activity log and dashboard stats."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.response import Response

from accounts.api_base import (
    MAX_ID,
    VISIBLE_TEXT,
    CharField,
    DateTimeField,
    DateTimeRangeFilter,
    FullMatchValidator,
    ModelSerializer,
    Pagination,
    ScopedFilterSet,
    WorkspaceOwnedSerializer,
    WorkspaceScopedMixin,
)
from accounts.models import Role, SocialAccount
from crosspost.logging import redact
from crosspost.models import ActivityLog

from .models import Execution, PublishingPolicy
from .publisher import execution_mark_published
from .services import execution_cancel, execution_retry, execution_set_caption, policy_update
from .stats import account_stats as stats_accounts
from .stats import overview as stats_overview
from .stats import post_stats as stats_posts

# --- Executions -----------------------------------------------------------------------


class ExecutionSerializer(ModelSerializer):
    post_title = serializers.CharField(source="post.title", read_only=True)
    account_handle = serializers.CharField(source="account.handle", read_only=True)
    platform = serializers.CharField(source="account.platform", read_only=True)
    # Not format "uri": the sandbox links its feed relatively (/sandbox/?post=7#post-7).
    remote_url = serializers.CharField(read_only=True, help_text="The post on the platform; empty until published.")
    error_message = serializers.SerializerMethodField()

    class Meta:
        model = Execution
        fields = [
            "id",
            "workspace",
            "post",
            "post_title",
            "account",
            "account_handle",
            "platform",
            "language",
            "caption",
            "caption_edited",
            "status",
            "priority",
            "scheduled_for",
            "attempts",
            "next_attempt_at",
            "started_at",
            "finished_at",
            "remote_id",
            "remote_url",
            "error_code",
            "error_message",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_error_message(self, obj: Execution) -> str:
        # Platform errors may quote request URLs with tokens in them.
        return redact(obj.error_message)


def executions_queryset():
    """Executions with what the serializer shows, without decrypting every account's secrets."""
    return Execution.objects.select_related("post", "account").defer("account__credentials", "account__session")


class ExecutionFilter(ScopedFilterSet):
    status = filters.MultipleChoiceFilter(choices=Execution._meta.get_field("status").choices)
    scheduled_for = DateTimeRangeFilter(
        help_text="scheduled_for_after / scheduled_for_before (RFC 3339; without offset: your time zone)."
    )

    class Meta:
        model = Execution
        fields = ["workspace", "status", "post", "account", "account__platform", "priority", "scheduled_for"]


class ExecutionCaptionSerializer(serializers.Serializer):
    caption = CharField(
        trim_whitespace=False, validators=[VISIBLE_TEXT], help_text="Not blank; at most the platform's caption length."
    )


class MarkPublishedSerializer(serializers.Serializer):
    remote_url = serializers.URLField(required=False, allow_blank=True, max_length=500, default="")
    remote_id = CharField(required=False, allow_blank=True, max_length=200, default="")


class ExecutionViewSet(WorkspaceScopedMixin, viewsets.ReadOnlyModelViewSet):
    """One post on one account. Editors and above may retry or cancel."""

    queryset = executions_queryset()
    serializer_class = ExecutionSerializer
    filterset_class = ExecutionFilter
    ordering_fields = ["scheduled_for", "created_at", "finished_at", "status", "priority"]
    action_roles = {"retry": Role.EDITOR, "cancel": Role.EDITOR, "mark_published": Role.EDITOR, "caption": Role.EDITOR}

    @extend_schema(request=None, responses={200: ExecutionSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Send a failed, cancelled, skipped or unconfirmed execution out again, now, on the low queue."""
        execution = execution_retry(execution=self.get_object(), actor=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=execution.pk)).data)

    @extend_schema(request=None, responses={200: ExecutionSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel an execution that has not reached a worker yet."""
        execution = execution_cancel(execution=self.get_object(), actor=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=execution.pk)).data)

    @extend_schema(request=ExecutionCaptionSerializer, responses={200: ExecutionSerializer})
    @action(detail=True, methods=["patch"])
    def caption(self, request, pk=None):
        """Edit the caption of an execution that is still waiting (pending, queued, retry wait)."""
        execution = self.get_object()
        body = ExecutionCaptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        execution = execution_set_caption(execution=execution, caption=body.validated_data["caption"], actor=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=execution.pk)).data)

    @extend_schema(request=MarkPublishedSerializer, responses={200: ExecutionSerializer})
    @action(detail=True, methods=["post"], url_path="mark-published")
    def mark_published(self, request, pk=None):
        """Confirm an unconfirmed execution is live on the platform (after checking it there)."""
        execution = self.get_object()
        body = MarkPublishedSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        execution = execution_mark_published(execution=execution, **body.validated_data, actor=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=execution.pk)).data)


# --- Publishing policies -------------------------------------------------------------------

validate_clock_time = FullMatchValidator(
    r"^([01]\d|2[0-3]):[0-5]\d$", message="%(value)r is not a time of day as HH:MM (e.g. 09:00).", code="clock"
)


class PublishingPolicySerializer(WorkspaceOwnedSerializer):
    warmup_curve = serializers.ListField(child=serializers.IntegerField(min_value=0), required=False)
    optimal_times = serializers.ListField(
        child=CharField(trim_whitespace=False, validators=[validate_clock_time]), required=False
    )
    forbidden_words = serializers.ListField(child=CharField(), required=False)
    required_hashtags = serializers.ListField(child=CharField(), required=False)

    class Meta:
        model = PublishingPolicy
        fields = [
            "id",
            "workspace",
            "platform",
            "enabled",
            "min_interval_s",
            "stagger_min_s",
            "stagger_max_s",
            "daily_limit",
            "warmup_curve",
            "warmup_ramp_days",
            "quiet_hours_start",
            "quiet_hours_end",
            "optimal_times",
            "use_optimal_times",
            "hashtag_min",
            "hashtag_max",
            "forbidden_words",
            "required_hashtags",
            "caption_template",
            "min_video_duration_s",
            "max_video_duration_s",
            "min_video_quality",
            "max_file_size_mb",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
        validators = []

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        instance = self.instance

        def value(name: str):
            if name in attrs:
                return attrs[name]
            return getattr(instance, name) if instance is not None else PublishingPolicy._meta.get_field(name).get_default()

        errors = {}
        if instance is not None and "platform" in attrs and attrs["platform"] != instance.platform:
            message = "A policy's platform cannot change; create a policy for the other platform."
            errors["platform"] = [ErrorDetail(message, code="conflict")]
        elif "platform" in attrs:
            clash = PublishingPolicy.objects.filter(workspace=self.target_workspace, platform=attrs["platform"])
            if clash.exists():
                message = f"This workspace already has a {attrs['platform']} policy; edit that one."
                errors["platform"] = [ErrorDetail(message, code="unique")]
        if value("stagger_min_s") > value("stagger_max_s"):
            errors["stagger_min_s"] = ["stagger_min_s must not be greater than stagger_max_s."]
        if value("hashtag_min") > value("hashtag_max"):
            errors["hashtag_min"] = ["hashtag_min must not be greater than hashtag_max."]
        if value("daily_limit") < 1:
            errors["daily_limit"] = ["The daily limit is at least 1 post."]
        shortest, longest = value("min_video_duration_s"), value("max_video_duration_s")
        if shortest is not None and longest is not None and shortest > longest:
            errors["min_video_duration_s"] = ["min_video_duration_s must not be greater than max_video_duration_s."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def create(self, validated_data: dict) -> PublishingPolicy:
        return self._write(PublishingPolicy(), validated_data)

    def update(self, instance: PublishingPolicy, validated_data: dict) -> PublishingPolicy:
        return self._write(instance, validated_data)

    def _write(self, policy: PublishingPolicy, validated_data: dict) -> PublishingPolicy:
        return policy_update(policy=policy, changes=validated_data, actor=self.context["request"].user)


class PublishingPolicyViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    """Pacing and content rules per platform and workspace. Admins and owners write."""

    queryset = PublishingPolicy.objects.all()
    serializer_class = PublishingPolicySerializer
    write_role = Role.ADMIN
    filterset_fields = ["workspace", "platform"]
    ordering_fields = ["platform", "updated_at"]
    ordering = ["workspace", "platform"]


# --- Activity log ----------------------------------------------------------------------------


class ActivityLogSerializer(ModelSerializer):
    actor = serializers.SerializerMethodField(help_text="Who did it; null for the system (workers, beat).")

    class Meta:
        model = ActivityLog
        fields = [
            "id",
            "workspace",
            "actor",
            "account",
            "post",
            "execution",
            "action",
            "status",
            "message",
            "details",
            "duration_ms",
            "created_at",
        ]
        read_only_fields = fields

    def get_actor(self, obj: ActivityLog) -> str | None:
        return obj.actor.username if obj.actor else None


class ActivityLogFilter(ScopedFilterSet):
    created_at = DateTimeRangeFilter(help_text="created_at_after / created_at_before (RFC 3339).")
    action = filters.CharFilter(help_text="Exact action, or a prefix ending in a dot (e.g. 'account.').", method="filter_action")

    class Meta:
        model = ActivityLog
        fields = ["workspace", "action", "status", "account", "post", "execution", "created_at"]

    def filter_action(self, queryset, name, value):
        if value.endswith("."):
            return queryset.filter(action__startswith=value)
        return queryset.filter(action=value)


class ActivityLogViewSet(WorkspaceScopedMixin, viewsets.ReadOnlyModelViewSet):
    """The audit trail, newest first. Details never hold secrets (scrubbed when written)."""

    queryset = ActivityLog.objects.select_related("actor")
    serializer_class = ActivityLogSerializer
    filterset_class = ActivityLogFilter
    search_fields = ["message"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]


# --- Dashboard numbers ---------------------------------------------------------------------


def _counts() -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField())


OverviewSerializer = inline_serializer(
    "StatsOverview",
    {
        "accounts": inline_serializer("AccountStats", {"total": serializers.IntegerField(), "by_status": _counts()}),
        "posts": inline_serializer("PostStats", {"today": serializers.IntegerField(), "last_7_days": serializers.IntegerField()}),
        "executions": inline_serializer(
            "ExecutionStats",
            {
                "total": serializers.IntegerField(),
                "by_status": _counts(),
                "success_rate_24h": serializers.FloatField(allow_null=True),
                "success_rate_7d": serializers.FloatField(allow_null=True),
                "avg_publish_seconds_24h": serializers.FloatField(
                    allow_null=True,
                    help_text="Average time to publish, in seconds: from scheduled_for to finished_at over the executions "
                    "published in the last 24 hours (null when none was).",
                ),
                "avg_publish_seconds_7d": serializers.FloatField(allow_null=True, help_text="The same over the last 7 days."),
            },
        ),
        "queue": inline_serializer("QueueStats", {"by_priority": _counts(), "total": serializers.IntegerField()}),
    },
)


class AccountStatsRowSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    platform = serializers.CharField()
    handle = serializers.CharField()
    group = serializers.CharField(source="group.name", default=None, allow_null=True)
    status = serializers.CharField()
    last_post_at = DateTimeField(allow_null=True)
    published_24h = serializers.IntegerField()
    failed_24h = serializers.IntegerField()
    published_7d = serializers.IntegerField()
    failed_7d = serializers.IntegerField()
    success_rate_7d = serializers.SerializerMethodField()

    def get_success_rate_7d(self, obj) -> float | None:
        done = obj.published_7d + obj.failed_7d
        return round(obj.published_7d / done, 4) if done else None


class PostStatsRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField()
    created_at = DateTimeField()
    finished_at = DateTimeField(allow_null=True)
    total = serializers.IntegerField()
    published = serializers.IntegerField()
    failed = serializers.IntegerField()
    open = serializers.IntegerField(help_text="Not finished yet: pending, queued, posting, waiting to retry, unconfirmed.")
    stopped = serializers.IntegerField(help_text="Cancelled or skipped.")
    blocked = serializers.IntegerField(help_text="Target accounts the planner could not publish to; the reason is on each.")
    waiting = serializers.IntegerField(help_text="Of the blocked: those planned again by themselves (a temporary cause).")
    unconfirmed = serializers.IntegerField(
        help_text="Needs attention: published or not, the platform could not confirm; check it there, then settle them."
    )


WORKSPACE_PARAMETER = OpenApiParameter(
    "workspace",
    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    description="Only this workspace (one of yours; another id counts nothing).",
)


def _workspace_param(request) -> int | None:
    workspace = request.query_params.get("workspace")
    if workspace is None:
        return None
    if not (workspace.isascii() and workspace.isdigit() and 1 <= int(workspace) <= MAX_ID):
        raise ValidationError({"workspace": [f"A workspace id is a whole number from 1 to {MAX_ID}."]})
    return int(workspace)


class StatsViewSet(WorkspaceScopedMixin, viewsets.ViewSet):
    """Dashboard numbers over the workspaces you belong to."""

    pagination_class = Pagination

    def get_queryset(self):
        """Only for schema generation: each action scopes its own rows (publishing.stats)."""
        return SocialAccount.objects.none()

    def _page(self, queryset, serializer_class):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)

    @extend_schema(
        parameters=[WORKSPACE_PARAMETER],
        responses=AccountStatsRowSerializer(many=True),
        filters=False,
    )
    @action(detail=False, methods=["get"])
    def accounts(self, request):
        """Per account: published and failed executions over 24 h and 7 days, and the 7-day success rate."""
        return self._page(stats_accounts(request.user, workspace_id=_workspace_param(request)), AccountStatsRowSerializer)

    @extend_schema(
        parameters=[WORKSPACE_PARAMETER],
        responses=PostStatsRowSerializer(many=True),
        filters=False,
    )
    @action(detail=False, methods=["get"])
    def posts(self, request):
        """Per post, newest first: executions in total, published, failed, still open and stopped."""
        return self._page(stats_posts(request.user, workspace_id=_workspace_param(request)), PostStatsRowSerializer)

    @extend_schema(
        parameters=[WORKSPACE_PARAMETER],
        responses=OverviewSerializer,
    )
    @action(detail=False, methods=["get"])
    def overview(self, request):
        """Accounts by status, posts today and in the last 7 days, executions by status,
        success rates and average times to publish over 24 h and 7 days, and the queue depth by priority."""
        return Response(stats_overview(request.user, workspace_id=_workspace_param(request)))
