"""API of planning: weekly queue slots (CRUD, scoped to your workspaces; admins and owners edit
them), two post actions editors use — Add to queue and Reschedule — and the serializers of a
post's recurrence rule at ``posts/{id}/recurrence/`` (the route lives on the post viewset, posts.api)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.api_base import (
    ClockTimeField,
    LocalDateTimeField,
    ModelSerializer,
    ScopedPrimaryKeyRelatedField,
    WorkspaceOwnedSerializer,
    WorkspaceScopedMixin,
    same_workspace_errors,
)
from accounts.models import AccountGroup, Role
from posts.models import Post
from publishing.services import post_reschedule

from .models import Frequency, QueueSlot, Recurrence, Weekday
from .queue import post_add_to_queue, queue_slot_add, queue_slot_remove, queue_slot_update
from .recurrence import MAX_INTERVAL, describe


class QueueSlotSerializer(WorkspaceOwnedSerializer):
    group = ScopedPrimaryKeyRelatedField(
        queryset=AccountGroup.objects.all(),
        required=False,
        allow_null=True,
        help_text="The group whose queue this is; null: the workspace's queue. Fixed after creation.",
    )
    weekday = serializers.ChoiceField(choices=Weekday.choices, help_text="0 = Monday … 6 = Sunday.")
    time = ClockTimeField(help_text="Local time in the workspace's time zone, HH:MM.")

    class Meta:
        model = QueueSlot
        fields = ["id", "workspace", "group", "weekday", "time", "created_at"]
        read_only_fields = ["created_at"]
        validators = []

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if self.instance is not None:
            group = attrs.pop("group", self.instance.group)
            if group != self.instance.group:
                raise serializers.ValidationError(
                    {"group": ["A slot stays in its queue; add a new one to the other queue."]}, code="conflict"
                )
        elif errors := same_workspace_errors(self.target_workspace, group=attrs.get("group")):
            raise serializers.ValidationError(errors)
        return attrs

    def create(self, validated_data: dict) -> QueueSlot:
        return queue_slot_add(actor=self.context["request"].user, **validated_data)

    def update(self, instance: QueueSlot, validated_data: dict) -> QueueSlot:
        return queue_slot_update(slot=instance, actor=self.context["request"].user, **validated_data)


class QueueSlotViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    """Weekly time slots of the workspace queues and group queues. "Add to queue" gives a post the
    next free one. Admins and owners edit them; every member reads them."""

    queryset = QueueSlot.objects.select_related("group").order_by("workspace", "group", "weekday", "time", "pk")
    serializer_class = QueueSlotSerializer
    write_role = Role.ADMIN
    filterset_fields = ["workspace", "group", "weekday"]
    ordering_fields = ["weekday", "time", "created_at"]

    def perform_destroy(self, instance: QueueSlot) -> None:
        queue_slot_remove(slot=instance, actor=self.request.user)


class AddToQueueInputSerializer(serializers.Serializer):
    group = ScopedPrimaryKeyRelatedField(
        queryset=AccountGroup.objects.all(),
        required=False,
        allow_null=True,
        help_text="Use this group's queue; null or left out: the workspace's queue.",
    )


class RescheduleInputSerializer(serializers.Serializer):
    scheduled_at = LocalDateTimeField(help_text="The new time (RFC 3339; without an offset, in your time zone).")


_MOVED = inline_serializer(
    "RescheduledExecution",
    many=True,
    fields={
        "execution": serializers.IntegerField(),
        "account": serializers.CharField(help_text="The account's handle."),
        "status": serializers.CharField(),
        "scheduled_for": serializers.DateTimeField(required=False),
    },
)


class _PostActionView(WorkspaceScopedMixin, GenericAPIView):
    queryset = Post.objects.all()
    write_role = Role.EDITOR

    def get_post(self, pk: int) -> Post:
        post = get_object_or_404(self.get_queryset(), pk=pk)
        self.check_object_permissions(self.request, post)
        return post


class PostAddToQueueView(_PostActionView):
    serializer_class = AddToQueueInputSerializer

    @extend_schema(
        request=AddToQueueInputSerializer,
        responses=inline_serializer(
            "AddedToQueue",
            {
                "post": serializers.IntegerField(),
                "slot": serializers.DateTimeField(help_text="The slot the post took; it publishes from then on."),
                "group": serializers.IntegerField(allow_null=True),
            },
        ),
        operation_id="posts_add_to_queue",
    )
    def post(self, request, pk: int):
        """Put a draft (or move a scheduled post) into the next free slot of the workspace's queue or a
        group's, and publish it there through the planner (pacing spaces its accounts from the slot)."""
        post = self.get_post(pk)
        data = AddToQueueInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        group = data.validated_data.get("group")
        if group is not None and group.workspace_id != post.workspace_id:
            raise serializers.ValidationError({"group": ["This group belongs to another workspace than the post."]})
        slot = post_add_to_queue(post=post, actor=request.user, group=group)
        shown = serializers.DateTimeField().to_representation(slot)
        return Response({"post": post.pk, "slot": shown, "group": group.pk if group else None})


class PostRescheduleView(_PostActionView):
    serializer_class = RescheduleInputSerializer

    @extend_schema(
        request=RescheduleInputSerializer,
        responses=inline_serializer(
            "Rescheduled",
            {
                "post": serializers.IntegerField(),
                "scheduled_at": serializers.DateTimeField(),
                "moved": _MOVED,
                "left": _MOVED,
            },
        ),
        operation_id="posts_reschedule",
    )
    def post(self, request, pk: int):
        """Move a draft or scheduled post to a new time. Its pending executions get new times by the
        same pacing as publishing (blocked ones follow, still blocked); queued, posting and finished
        ones are left as they are and listed in ``left``. No execution is created or lost."""
        post = self.get_post(pk)
        data = RescheduleInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        result = post_reschedule(post=post, scheduled_at=data.validated_data["scheduled_at"], actor=request.user)
        field = serializers.DateTimeField()
        return Response(
            {
                "post": result["post"],
                "scheduled_at": field.to_representation(result["scheduled_at"]),
                "moved": [{**row, "scheduled_for": field.to_representation(row["scheduled_for"])} for row in result["moved"]],
                "left": result["left"],
            }
        )


class RecurrenceSerializer(ModelSerializer):
    description = serializers.SerializerMethodField(help_text="The rule in words, in the workspace's time zone.")

    class Meta:
        model = Recurrence
        fields = [
            "frequency",
            "interval",
            "weekdays",
            "starts_at",
            "until",
            "count",
            "made",
            "next_at",
            "active",
            "description",
            "created_at",
        ]
        read_only_fields = fields

    def get_description(self, obj: Recurrence) -> str:
        return describe(obj)


class RecurrenceInputSerializer(serializers.Serializer):
    frequency = serializers.ChoiceField(choices=Frequency.choices, help_text="daily: every N days; weekly: every N weeks.")
    interval = serializers.IntegerField(min_value=1, max_value=MAX_INTERVAL, default=1, help_text="N.")
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        default=list,
        max_length=7,
        help_text="For weekly: 0 = Monday … 6 = Sunday; empty: the weekday of starts_at.",
    )
    starts_at = LocalDateTimeField(
        help_text="The first occurrence (RFC 3339; without an offset, in your time zone). Later ones keep its local "
        "time in the workspace's time zone."
    )
    until = serializers.DateField(required=False, allow_null=True, default=None, help_text="Last day, inclusive.")
    count = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=100_000, help_text="Occurrences; empty: no limit."
    )
