"""/api/v1/recordings/ and the studio's settings: input sources, templates, output presets, usage.

Viewers read; editors import recordings, run them and write templates and presets (each run also
needs the member's studio permission: process, transcribe, publish, delete); admins manage input
sources, whose credentials are write-only (answers say only which are set). A run is a background
job: the answer is 202 with the job, followed at /api/v1/jobs/{id}/. Refusals: 400 bad input,
403 missing permission or a used-up storage/recordings quota, 409 a conflict with the recording's
state (already running, skipped, nothing left to do), 429 too many jobs at once."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_base import (
    CharField,
    ClockTimeField,
    JSONErrorsMixin,
    JSONObjectField,
    ModelSerializer,
    ScopedFilterSet,
    ScopedPrimaryKeyRelatedField,
    StrictBooleanField,
    WorkspaceOwnedSerializer,
    WorkspaceScopedMixin,
    default_workspace,
)
from accounts.models import AccountGroup, Role, SocialAccount, Workspace
from accounts.selectors import has_role, scope, workspaces_for
from crosspost.api import JobSerializer

from . import quotas
from .models import FileKind, InputKind, InputSource, OutputPreset, Recording, Step, SubtitleMode, Template
from .runner import STEPS, UNTIL, recording_cancel, recording_run
from .services import (
    PRESET_FIELDS,
    PRESET_PLATFORM_CHOICES,
    TEMPLATE_FIELDS,
    preset_save,
    recording_delete,
    recording_import,
    recording_set_template,
    recording_skip,
    source_save,
    source_sync,
    template_save,
)

MAX_BATCH = 100


class QuotaRefused(APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "quota_exceeded"


class TooManyJobs(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_jobs"


def studio_error(exc):
    """A service's refusal as the API's answer (see the module docstring)."""
    if isinstance(exc, quotas.QuotaExceeded):  # before WorkspaceScopedMixin reads it as any ValidationError (400)
        return (TooManyJobs if exc.code == "jobs" else QuotaRefused)(" ".join(exc.messages))
    return exc


class StudioErrorsMixin:
    def handle_exception(self, exc):
        return super().handle_exception(studio_error(exc))


# --- input sources --------------------------------------------------------------------------------


class InputSourceSerializer(WorkspaceOwnedSerializer):
    name = CharField(max_length=120)
    kind = serializers.ChoiceField(choices=InputKind.choices)
    options = JSONObjectField(
        required=False,
        help_text="Per kind — zoom: user_id, lookback_days, file_types, delete_after_download; "
        "yandex_disk: path, extensions, recursive; folder: path (inside STUDIO_FOLDER_ROOTS), pattern.",
    )
    secret = JSONObjectField(
        write_only=True,
        required=False,
        help_text="Credentials — zoom: account_id, client_id, client_secret; yandex_disk: token. "
        "Write-only; a key left out or empty keeps the stored value.",
    )
    secret_set = serializers.SerializerMethodField(help_text="Which credentials are stored (never their values).")
    sync_interval_s = serializers.IntegerField(min_value=60, max_value=7 * 86400, required=False)
    enabled = StrictBooleanField(required=False)

    class Meta:
        model = InputSource
        fields = [
            "id",
            "workspace",
            "name",
            "kind",
            "enabled",
            "options",
            "secret",
            "secret_set",
            "sync_interval_s",
            "last_synced_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = ["last_synced_at", "last_error", "created_at"]

    def get_secret_set(self, source: InputSource) -> list[str]:
        secret = source.secret if isinstance(source.secret, dict) else {}
        return sorted(key for key, value in secret.items() if value)

    def create(self, validated_data: dict) -> InputSource:
        workspace = validated_data.pop("workspace")
        secret = validated_data.pop("secret", None)
        return source_save(workspace=workspace, actor=self.context["request"].user, secret=secret, **validated_data)

    def update(self, instance: InputSource, validated_data: dict) -> InputSource:
        validated_data.pop("workspace", None)
        secret = validated_data.pop("secret", None)
        return source_save(
            workspace=instance.workspace, actor=self.context["request"].user, instance=instance, secret=secret, **validated_data
        )


class InputSourceFilter(ScopedFilterSet):
    class Meta:
        model = InputSource
        fields = ["workspace", "kind", "enabled"]


_SYNC_ANSWER = inline_serializer(
    "StudioSyncAnswer",
    {
        "source": serializers.IntegerField(),
        "created": serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the new recordings."),
        "error": serializers.CharField(),
    },
)


class InputSourceViewSet(StudioErrorsMixin, WorkspaceScopedMixin, viewsets.ModelViewSet):
    """Where recordings come from (admins write; credentials are never shown)."""

    queryset = InputSource.objects.select_related("workspace")
    serializer_class = InputSourceSerializer
    filterset_class = InputSourceFilter
    write_role = Role.ADMIN
    action_roles = {"sync": Role.EDITOR}
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "last_synced_at"]

    @extend_schema(request=None, responses={200: _SYNC_ANSWER})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """List the source now; new recordings are imported once (and processed when their template says so)."""
        source = self.get_object()
        report = source_sync(source=source, actor=request.user)
        return Response({"source": source.pk, "created": [r.pk for r in report.created], "error": report.error})


# --- output presets -------------------------------------------------------------------------------


class OutputPresetSerializer(WorkspaceOwnedSerializer):
    name = CharField(max_length=120)
    platform = serializers.ChoiceField(choices=PRESET_PLATFORM_CHOICES)
    accounts = ScopedPrimaryKeyRelatedField(queryset=SocialAccount.objects.all(), many=True, required=False)
    group = ScopedPrimaryKeyRelatedField(queryset=AccountGroup.objects.all(), required=False, allow_null=True)
    privacy = CharField(max_length=20, required=False, allow_blank=True, help_text="YouTube: private, unlisted or public.")
    category = CharField(max_length=40, required=False, allow_blank=True, help_text="YouTube category id, e.g. 27 (Education).")
    playlist = CharField(max_length=120, required=False, allow_blank=True, help_text="YouTube playlist ID or VK album ID.")
    tags = serializers.ListField(child=CharField(max_length=100), max_length=100, required=False)
    title_template = CharField(max_length=300, required=False, allow_blank=True)
    description_template = CharField(max_length=10000, required=False, allow_blank=True)

    class Meta:
        model = OutputPreset
        fields = ["id", "workspace", *PRESET_FIELDS, "accounts", "created_at"]
        read_only_fields = ["created_at"]

    def create(self, validated_data: dict) -> OutputPreset:
        workspace = validated_data.pop("workspace")
        accounts = validated_data.pop("accounts", [])
        return preset_save(workspace=workspace, actor=self.context["request"].user, accounts=accounts, **validated_data)

    def update(self, instance: OutputPreset, validated_data: dict) -> OutputPreset:
        validated_data.pop("workspace", None)
        accounts = validated_data.pop("accounts", None)
        return preset_save(
            workspace=instance.workspace,
            actor=self.context["request"].user,
            instance=instance,
            accounts=accounts,
            **validated_data,
        )


class OutputPresetFilter(ScopedFilterSet):
    class Meta:
        model = OutputPreset
        fields = ["workspace", "platform"]


class OutputPresetViewSet(StudioErrorsMixin, WorkspaceScopedMixin, viewsets.ModelViewSet):
    """Where finished recordings go: accounts or a group of one platform, with its settings."""

    queryset = OutputPreset.objects.select_related("workspace", "group").prefetch_related("accounts")
    serializer_class = OutputPresetSerializer
    filterset_class = OutputPresetFilter
    write_role = Role.EDITOR
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]


# --- templates ------------------------------------------------------------------------------------


class TemplateSerializer(WorkspaceOwnedSerializer):
    name = CharField(max_length=120)
    priority = serializers.IntegerField(min_value=0, max_value=100, required=False)
    name_regex = CharField(max_length=300, required=False, allow_blank=True, help_text="Case-insensitive; empty: any name.")
    source = ScopedPrimaryKeyRelatedField(queryset=InputSource.objects.all(), required=False, allow_null=True)
    min_duration_s = serializers.IntegerField(min_value=0, max_value=10**7, required=False, allow_null=True)
    max_duration_s = serializers.IntegerField(min_value=0, max_value=10**7, required=False, allow_null=True)
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), max_length=7, required=False)
    time_from = ClockTimeField(required=False, allow_null=True)
    time_until = ClockTimeField(required=False, allow_null=True)
    silence_threshold_db = serializers.FloatField(min_value=-90, max_value=0, required=False)
    silence_min_s = serializers.FloatField(min_value=0.1, max_value=600, required=False)
    silence_padding_s = serializers.FloatField(min_value=0, max_value=5, required=False)
    target_lufs = serializers.FloatField(min_value=-70, max_value=-5, required=False)
    language = CharField(max_length=10, required=False, help_text="A language code, or auto.")
    subtitles = serializers.ChoiceField(choices=SubtitleMode.choices, required=False)
    title_template = CharField(max_length=300, required=False)
    description_template = CharField(max_length=10000, required=False, allow_blank=True)
    presets = ScopedPrimaryKeyRelatedField(queryset=OutputPreset.objects.all(), many=True, required=False)
    enabled = StrictBooleanField(required=False)
    remove_silence = StrictBooleanField(required=False)
    loudnorm = StrictBooleanField(required=False)
    transcribe = StrictBooleanField(required=False)
    auto_process = StrictBooleanField(required=False)

    class Meta:
        model = Template
        fields = ["id", "workspace", *TEMPLATE_FIELDS, "presets", "created_at"]
        read_only_fields = ["created_at"]

    def create(self, validated_data: dict) -> Template:
        workspace = validated_data.pop("workspace")
        presets = validated_data.pop("presets", None)
        return template_save(workspace=workspace, actor=self.context["request"].user, presets=presets, **validated_data)

    def update(self, instance: Template, validated_data: dict) -> Template:
        validated_data.pop("workspace", None)
        presets = validated_data.pop("presets", None)
        return template_save(
            workspace=instance.workspace, actor=self.context["request"].user, instance=instance, presets=presets, **validated_data
        )


class TemplateFilter(ScopedFilterSet):
    class Meta:
        model = Template
        fields = ["workspace", "enabled", "source"]


class TemplateViewSet(StudioErrorsMixin, WorkspaceScopedMixin, viewsets.ModelViewSet):
    """How recordings are processed, chosen by matching rules (highest priority wins)."""

    queryset = Template.objects.select_related("workspace", "source").prefetch_related("presets")
    serializer_class = TemplateSerializer
    filterset_class = TemplateFilter
    write_role = Role.EDITOR
    search_fields = ["name"]
    ordering_fields = ["priority", "name", "created_at"]


# --- recordings -----------------------------------------------------------------------------------


class RecordingFileSerializer(serializers.Serializer):
    kind = serializers.CharField()
    size_bytes = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class RecordingSerializer(ModelSerializer):
    job = JobSerializer(read_only=True, allow_null=True, help_text="The current (or last) run.")
    template = ScopedPrimaryKeyRelatedField(
        queryset=Template.objects.all(), required=False, allow_null=True, help_text="Choose the template by hand."
    )
    display_name = CharField(max_length=300, required=False)
    files = RecordingFileSerializer(many=True, read_only=True)
    finished_step = serializers.ChoiceField(
        choices=Step.choices, allow_blank=True, read_only=True, help_text="The last step done (empty: none yet)."
    )
    last_step = serializers.ChoiceField(
        choices=Step.choices, allow_blank=True, read_only=True, help_text="The step the current run stops after."
    )
    posts = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="The posts made from it, one per output preset."
    )

    class Meta:
        model = Recording
        fields = [
            "id",
            "workspace",
            "source",
            "remote_id",
            "display_name",
            "recorded_at",
            "duration_s",
            "size_bytes",
            "status",
            "template",
            "match_reason",
            "finished_step",
            "last_step",
            "job",
            "removed_s",
            "trimmed_duration_s",
            "language",
            "transcript",
            "topics",
            "title",
            "description",
            "posts",
            "files",
            "error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [f for f in fields if f not in ("display_name", "template")]

    def update(self, instance: Recording, validated_data: dict) -> Recording:
        user = self.context["request"].user
        if "template" in validated_data:  # the service refuses another workspace's template, or a running job
            recording_set_template(recording=instance, template=validated_data["template"], actor=user)
        if "display_name" in validated_data:  # never blank: the field refuses it
            Recording.objects.filter(pk=instance.pk).update(display_name=validated_data["display_name"])
        instance.refresh_from_db()
        return instance


class RecordingImportSerializer(serializers.Serializer):
    workspace = serializers.PrimaryKeyRelatedField(queryset=Workspace.objects.all(), required=False)
    file = serializers.FileField(required=False, help_text="A video or audio file (multipart).")
    url = serializers.URLField(required=False, max_length=2000, help_text="An http(s) address the file is downloaded from.")

    def validate(self, attrs):
        if bool(attrs.get("file")) == bool(attrs.get("url")):
            raise serializers.ValidationError({"file": ["Send either a file (multipart) or a url, not both or neither."]})
        return attrs


class RecordingFilter(ScopedFilterSet):
    class Meta:
        model = Recording
        fields = ["workspace", "status", "source", "template"]


_RUN_BODY = inline_serializer(
    "RecordingRunRequest",
    {
        "from_step": serializers.ChoiceField(
            choices=STEPS, required=False, help_text="Redo from this step (earlier steps must have finished); left out: resume."
        )
    },
)
_SKIP_BODY = inline_serializer(
    "RecordingSkipRequest", {"skipped": StrictBooleanField(default=True, help_text="false brings it back.")}
)
_BATCH_BODY = inline_serializer(
    "RecordingBatchRequest",
    {
        "ids": serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), min_length=1, max_length=MAX_BATCH
        ),
        "action": serializers.ChoiceField(choices=list(UNTIL), default="full-pipeline"),
    },
)
_BATCH_ANSWER = inline_serializer(
    "RecordingBatchAnswer",
    {
        "started": serializers.ListField(child=serializers.DictField(), help_text="[{recording, job}]"),
        "refused": serializers.ListField(child=serializers.DictField(), help_text="[{recording, error}]"),
    },
)
_SYNC_BODY = inline_serializer(
    "RecordingSyncRequest",
    {
        "workspace": serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1),
        "source": serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1),
    },
)
_SYNC_ALL = inline_serializer(
    "RecordingSyncAnswer",
    {"sources": serializers.ListField(child=serializers.DictField(), help_text="[{source, created, error}]")},
)


class RecordingViewSet(StudioErrorsMixin, WorkspaceScopedMixin, viewsets.ModelViewSet):
    """Recordings: imported from sources (or uploaded), processed step by step, published by presets."""

    queryset = Recording.objects.select_related("workspace", "job", "template", "source").prefetch_related("files", "posts")
    serializer_class = RecordingSerializer
    filterset_class = RecordingFilter
    write_role = Role.EDITOR
    search_fields = ["display_name", "title"]
    ordering_fields = ["created_at", "recorded_at", "duration_s", "status"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def _answer(self, recording: Recording, code: int = status.HTTP_200_OK) -> Response:
        recording = self.get_queryset().get(pk=recording.pk)
        return Response(RecordingSerializer(recording, context=self.get_serializer_context()).data, status=code)

    @extend_schema(
        request={"multipart/form-data": RecordingImportSerializer, "application/json": RecordingImportSerializer},
        responses={201: RecordingSerializer, 200: RecordingSerializer},
    )
    def create(self, request, *args, **kwargs):
        """Import a recording: an uploaded file (multipart ``file``) or a ``url`` to download it from.
        The same file or URL twice answers the existing recording (200)."""
        body = RecordingImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        workspace = body.validated_data.get("workspace") or default_workspace(request, Role.EDITOR)
        if not has_role(request.user, workspace.pk, Role.EDITOR):
            raise PermissionDenied("You need the editor role in this workspace to import recordings.")
        recording, created = recording_import(
            workspace=workspace,
            actor=request.user,
            file=body.validated_data.get("file"),
            url=body.validated_data.get("url") or "",
        )
        return self._answer(recording, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def perform_destroy(self, instance: Recording) -> None:
        recording_delete(recording=instance, actor=self.request.user)

    def _run(self, request, action_name: str) -> Response:
        recording = self.get_object()
        body = _RUN_BODY.__class__(data=request.data)
        body.is_valid(raise_exception=True)
        recording_run(
            recording=recording, actor=request.user, until=UNTIL[action_name], from_step=body.validated_data.get("from_step")
        )
        return self._answer(recording, status.HTTP_202_ACCEPTED)

    @extend_schema(request=_RUN_BODY, responses={202: RecordingSerializer})
    @action(detail=True, methods=["post"])
    def process(self, request, pk=None):
        """Download if needed, then remove silences and normalise loudness as the template says."""
        return self._run(request, "process")

    @extend_schema(request=_RUN_BODY, responses={202: RecordingSerializer})
    @action(detail=True, methods=["post"])
    def transcribe(self, request, pk=None):
        """Everything up to the transcript, topics, chapters and subtitles (earlier steps first when needed)."""
        return self._run(request, "transcribe")

    @extend_schema(request=_RUN_BODY, responses={202: RecordingSerializer})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Make a post per output preset of the template (earlier steps first when needed); presets in
        publish mode hand their post to the engine."""
        return self._run(request, "publish")

    @extend_schema(request=_RUN_BODY, responses={202: RecordingSerializer})
    @action(detail=True, methods=["post"], url_path="full-pipeline", url_name="full-pipeline")
    def full_pipeline(self, request, pk=None):
        """Every step: download, silences, transcript, topics, subtitles, posts."""
        return self._run(request, "full-pipeline")

    @extend_schema(request=None, responses={200: RecordingSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop the running job (ffmpeg is stopped within seconds); finished steps are kept. 409 when nothing runs."""
        recording = self.get_object()
        recording_cancel(recording=recording, actor=request.user)
        return self._answer(recording)

    @extend_schema(request=_SKIP_BODY, responses={200: RecordingSerializer})
    @action(detail=True, methods=["post"])
    def skip(self, request, pk=None):
        """Leave the recording out (``skipped: false`` brings it back)."""
        recording = self.get_object()
        body = _SKIP_BODY.__class__(data=request.data)
        body.is_valid(raise_exception=True)
        recording_skip(recording=recording, actor=request.user, skipped=body.validated_data["skipped"])
        return self._answer(recording)

    @extend_schema(request=_BATCH_BODY, responses={202: _BATCH_ANSWER})
    @action(detail=False, methods=["post"], url_path="batch-process", url_name="batch-process", filterset_class=None)
    def batch_process(self, request):
        """Run many recordings (up to 100) the same way; each is started or refused on its own."""
        body = _BATCH_BODY.__class__(data=request.data)
        body.is_valid(raise_exception=True)
        ids = list(dict.fromkeys(body.validated_data["ids"]))
        until = UNTIL[body.validated_data["action"]]
        found = {r.pk: r for r in self.get_queryset().filter(pk__in=ids)}
        started, refused = [], []
        for pk in ids:
            recording = found.get(pk)
            if recording is None:
                refused.append({"recording": pk, "error": "No such recording in your workspaces."})
                continue
            if not has_role(request.user, recording.workspace_id, Role.EDITOR):
                refused.append({"recording": pk, "error": "You need the editor role in its workspace."})
                continue
            try:
                with transaction.atomic():
                    job = recording_run(recording=recording, actor=request.user, until=until)
                started.append({"recording": pk, "job": job.pk})
            except (DjangoValidationError, DjangoPermissionDenied) as exc:
                messages = exc.messages if isinstance(exc, DjangoValidationError) else [str(exc)]
                refused.append({"recording": pk, "error": " ".join(messages)})
        return Response({"started": started, "refused": refused}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=_SYNC_BODY, responses={200: _SYNC_ALL})
    @action(detail=False, methods=["post"], filterset_class=None)
    def sync(self, request):
        """List input sources now: one (``source``), a workspace's, or every enabled one in your workspaces."""
        body = _SYNC_BODY.__class__(data=request.data)
        body.is_valid(raise_exception=True)
        sources = scope(InputSource.objects.filter(enabled=True).select_related("workspace"), request.user, Role.EDITOR)
        if body.validated_data.get("source"):
            sources = sources.filter(pk=body.validated_data["source"])
            if not sources.exists():
                raise serializers.ValidationError({"source": ["No enabled source with this id where you are an editor."]})
        if body.validated_data.get("workspace"):
            sources = sources.filter(workspace_id=body.validated_data["workspace"])
        answers = []
        for source in sources.order_by("pk")[:50]:
            try:
                report = source_sync(source=source, actor=request.user)
            except DjangoPermissionDenied as exc:
                answers.append({"source": source.pk, "created": [], "error": str(exc)})
                continue
            answers.append({"source": source.pk, "created": [r.pk for r in report.created], "error": report.error})
        return Response({"sources": answers})


# --- subtitles download ---------------------------------------------------------------------------


class _SubtitleRenderer(renderers.BaseRenderer):
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return renderers.JSONRenderer().render(data)


class _SrtRenderer(_SubtitleRenderer):
    media_type = "application/x-subrip"
    format = "srt"


class _VttRenderer(_SubtitleRenderer):
    media_type = "text/vtt"
    format = "vtt"


class RecordingSubtitlesView(JSONErrorsMixin, WorkspaceScopedMixin, APIView):
    renderer_classes = [renderers.JSONRenderer, _SrtRenderer, _VttRenderer]
    queryset = Recording.objects.all()

    def get_queryset(self):
        return scope(Recording.objects.all(), self.request.user)

    @extend_schema(
        operation_id="recordings_subtitles",
        responses={(200, "text/vtt"): OpenApiResponse(OpenApiTypes.STR, description="Subtitles (SRT or WebVTT).")},
    )
    def get(self, request, pk: int, fmt: str):
        """The recording's subtitles as SRT or WebVTT (404 until the subtitles step made them)."""
        self.check_permissions(request)
        recording = get_object_or_404(self.get_queryset(), pk=pk)
        kind = FileKind.SRT if fmt == "srt" else FileKind.VTT
        row = recording.files.filter(kind=kind).first()
        if row is None:
            return Response({"detail": "The recording has no subtitles yet; run its transcribe step."}, status=404)
        with row.file.open("rb") as handle:
            content = handle.read()
        response = HttpResponse(
            content, content_type=("application/x-subrip" if kind == FileKind.SRT else "text/vtt") + "; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="recording-{recording.pk}.{fmt}"'
        return response


# --- usage ----------------------------------------------------------------------------------------


class UsageSerializer(serializers.Serializer):
    workspace = serializers.IntegerField()
    storage_bytes = serializers.IntegerField()
    storage_limit_bytes = serializers.IntegerField()
    recordings_this_month = serializers.IntegerField()
    recordings_per_month = serializers.IntegerField()
    jobs_running = serializers.IntegerField()
    concurrent_jobs = serializers.IntegerField()
    permissions = serializers.DictField(child=serializers.BooleanField(), help_text="What you may do here.")


class StudioUsageViewSet(WorkspaceScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The studio's quotas and what is used, per workspace you belong to, with your permissions."""

    queryset = Workspace.objects.all()
    serializer_class = UsageSerializer
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return workspaces_for(self.request.user).distinct().order_by("pk")

    @extend_schema(responses=UsageSerializer(many=True))
    def list(self, request):
        answers = []
        for workspace in self.get_queryset()[:100]:
            usage = quotas.usage_for(workspace.pk)
            answers.append(
                {"workspace": workspace.pk, **usage.as_json(), "permissions": quotas.permissions_for(request.user, workspace.pk)}
            )
        return Response(answers)


__all__ = [
    "InputSourceViewSet",
    "OutputPresetViewSet",
    "RecordingSubtitlesView",
    "RecordingViewSet",
    "StudioUsageViewSet",
    "TemplateViewSet",
]
