"""/api/v1/jobs/: the product's background jobs (a campaign build, …), newest first, scoped to the
member's workspaces; ``{id}/cancel/`` asks a queued or running job to stop (editors and above)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api_base import ModelSerializer, ScopedFilterSet, WorkspaceScopedMixin
from accounts.models import Role

from .jobs import job_request_cancel
from .models import Job


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
