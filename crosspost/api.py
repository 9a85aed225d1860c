"""/api/v1/jobs/: the product's background jobs (a campaign build, …), newest first, scoped to the
member's workspaces; ``{id}/cancel/`` asks a queued or running job to stop (editors and above).

/api/v1/webhooks/ and /api/v1/webhook-deliveries/: a workspace's outgoing webhooks and their delivery
log, for its admins and owners (crosspost/webhooks.py)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api_base import (
    CharField,
    ModelSerializer,
    ScopedFilterSet,
    StrictBooleanField,
    WorkspaceOwnedSerializer,
    WorkspaceScopedMixin,
)
from accounts.models import Role
from accounts.selectors import scope

from .jobs import job_request_cancel
from .models import Job, WebhookDelivery, WebhookEndpoint
from .webhooks import (
    SUBSCRIBABLE_EVENTS,
    delivery_redeliver,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_save,
    send_test_event,
)


class JobSerializer(ModelSerializer):
    finished = serializers.BooleanField(read_only=True, help_text="Completed, failed or cancelled.")

    class Meta:
        model = Job
        fields = [
            "id",
            "workspace",
            "kind",
            "subject",
            "status",
            "finished",
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
        ]
        read_only_fields = fields


class JobFilter(ScopedFilterSet):
    class Meta:
        model = Job
        fields = ["workspace", "kind", "status"]


class JobViewSet(WorkspaceScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Background jobs: where each is (stage, progress 0–100, message) and how it ended (error, result)."""

    queryset = Job.objects.all()
    serializer_class = JobSerializer
    filterset_class = JobFilter
    search_fields = ["subject", "message"]
    ordering_fields = ["created_at", "updated_at"]
    ordering = ["-created_at", "-id"]
    action_roles = {"cancel": Role.EDITOR}

    @extend_schema(request=None, responses={200: JobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Ask the job to stop: a queued one is cancelled at once, a running one at its next step.
        409 when it has already finished."""
        job = job_request_cancel(job=self.get_object(), actor=request.user)
        return Response(JobSerializer(job, context=self.get_serializer_context()).data)


# --- Webhooks: /api/v1/webhooks/ (admins) and /api/v1/webhook-deliveries/ (the delivery log) ---------------


class WebhookEndpointSerializer(WorkspaceOwnedSerializer):
    """An endpoint. ``secret`` is write-only: the answer to a create (or to ``rotate-secret``) shows
    it once in ``signing_secret``; every other answer only says that one is set."""

    url = serializers.URLField(max_length=500, help_text="http(s) URL on the public internet that receives the events.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE_EVENTS),
        allow_empty=False,
        help_text="Events to send: " + ", ".join(SUBSCRIBABLE_EVENTS) + ".",
    )
    active = StrictBooleanField(required=False, default=True)
    description = CharField(max_length=200, required=False, allow_blank=True, default="")
    secret = CharField(
        write_only=True,
        required=False,
        min_length=16,
        max_length=200,
        help_text="Signing secret (write-only). Left out on create: one is generated and shown once.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "workspace",
            "url",
            "events",
            "active",
            "description",
            "secret",
            "failure_count",
            "last_failure",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["failure_count", "last_failure", "created_at", "updated_at"]

    def create(self, validated_data: dict) -> WebhookEndpoint:
        endpoint, shown = endpoint_save(actor=self.context["request"].user, **validated_data)
        endpoint.shown_secret = shown
        return endpoint

    def update(self, instance: WebhookEndpoint, validated_data: dict) -> WebhookEndpoint:
        validated_data.pop("workspace", None)
        endpoint, shown = endpoint_save(
            workspace=instance.workspace,
            actor=self.context["request"].user,
            endpoint=instance,
            url=validated_data.get("url", instance.url),
            events=validated_data.get("events", instance.events),
            active=validated_data.get("active", instance.active),
            description=validated_data.get("description", instance.description),
            secret=validated_data.get("secret", ""),
        )
        endpoint.shown_secret = shown
        return endpoint


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    signing_secret = serializers.SerializerMethodField(
        help_text="The signing secret, shown this once: store it to verify X-Crosspost-Signature."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "signing_secret"]

    def get_signing_secret(self, endpoint: WebhookEndpoint) -> str:
        return getattr(endpoint, "shown_secret", "")


class WebhookDeliverySerializer(ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "workspace",
            "endpoint",
            "event",
            "event_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "response_excerpt",
            "log",
            "payload",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields


class WebhookEndpointFilter(ScopedFilterSet):
    class Meta:
        model = WebhookEndpoint
        fields = ["workspace", "active"]


class WebhookDeliveryFilter(ScopedFilterSet):
    class Meta:
        model = WebhookDelivery
        fields = ["workspace", "endpoint", "event", "status"]


class WebhookEndpointViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    """Outgoing webhooks of a workspace (admins and owners only, reading included: the URLs are
    integration details). Each delivery is a signed POST; see the README for the headers."""

    queryset = WebhookEndpoint.objects.select_related("workspace")
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilter
    write_role = Role.ADMIN
    search_fields = ["url", "description"]
    ordering_fields = ["created_at", "url"]
    ordering = ["id"]

    def get_queryset(self):
        return scope(WebhookEndpoint.objects.select_related("workspace"), self.request.user, Role.ADMIN)

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return WebhookEndpointCreatedSerializer
        return super().get_serializer_class()

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        endpoint_delete(endpoint=instance, actor=self.request.user)

    @extend_schema(request=None, responses={200: WebhookEndpointCreatedSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new signing secret, shown once in ``signing_secret``; the old one stops signing at once."""
        endpoint = self.get_object()
        endpoint.shown_secret = endpoint_rotate_secret(endpoint=endpoint, actor=request.user)
        return Response(WebhookEndpointCreatedSerializer(endpoint, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a ``ping`` event to this endpoint now (whatever it subscribes to); the answer is its delivery."""
        delivery = send_test_event(endpoint=self.get_object(), actor=request.user)
        return Response(WebhookDeliverySerializer(delivery, context=self.get_serializer_context()).data, status=202)


class WebhookDeliveryViewSet(WorkspaceScopedMixin, viewsets.ReadOnlyModelViewSet):
    """The delivery log: every event sent (or to be sent) to an endpoint, its attempts and the
    receiver's last answer. ``{id}/redeliver/`` sends the same event again (same event id)."""

    queryset = WebhookDelivery.objects.all()
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter
    action_roles = {"redeliver": Role.ADMIN}
    ordering_fields = ["created_at", "next_attempt_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return scope(WebhookDelivery.objects.select_related("endpoint"), self.request.user, Role.ADMIN)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        """Send this delivery's event again as a new delivery (the receiver sees the same event id)."""
        delivery = delivery_redeliver(delivery=self.get_object(), actor=request.user)
        return Response(WebhookDeliverySerializer(delivery, context=self.get_serializer_context()).data, status=202)
