"""The video studio: recordings that arrive from input sources, the templates that decide how each is
processed, the output presets that say where the result goes, and the workspace's quotas.

A recording is processed step by step (``Step``); each step's output is a ``RecordingFile`` or fields
of the recording, kept in storage, so a failed or cancelled run resumes after the last finished step
(``Recording.finished_step``). What it produces is an ordinary post, published by the engine."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crosspost.crypto import EncryptedJSONField
from crosspost.models import choices_check


class InputKind(models.TextChoices):
    ZOOM = "zoom", _("Zoom cloud recordings")
    YANDEX_DISK = "yandex_disk", _("Yandex Disk folder")
    FOLDER = "folder", _("Local or mounted folder")


class InputSource(models.Model):
    """Where recordings come from. ``options`` per kind (studio.inputs validates them):
    zoom — ``user_id`` ("me"), ``lookback_days`` (7), ``file_types`` (["MP4", "M4A"]),
    ``delete_after_download`` (false); yandex_disk — ``path`` ("disk:/Video"), ``extensions``;
    folder — ``path`` (absolute), ``pattern`` ("*.mp4"). ``secret`` (encrypted, never shown):
    zoom — ``account_id``, ``client_id``, ``client_secret``; yandex_disk — ``token``."""

    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="studio_sources", verbose_name=_("workspace")
    )
    name = models.CharField(max_length=120, verbose_name=_("name"))
    kind = models.CharField(max_length=20, choices=InputKind.choices, verbose_name=_("kind"))
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    options = models.JSONField(default=dict, blank=True, verbose_name=_("options"))
    secret = EncryptedJSONField(
        default=dict, blank=True, help_text=_("Credentials — encrypted, never shown."), verbose_name=_("secret")
    )
    sync_interval_s = models.PositiveIntegerField(
        default=900, validators=[MinValueValidator(60)], verbose_name=_("sync every (seconds)")
    )
    # Where the next sync starts (per kind: Zoom's last listed day, a folder's seen names, …).
    cursor = models.JSONField(default=dict, blank=True, verbose_name=_("cursor"))
    last_synced_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last synced"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("input source")
        verbose_name_plural = _("input sources")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="studio_source_unique_name"),
            choices_check("kind", InputKind, "studio_source_valid_kind"),
        ]

    def __str__(self) -> str:
        return self.name


class SubtitleMode(models.TextChoices):
    OFF = "off", _("No subtitles")
    SRT = "srt", _("SRT file")
    VTT = "vtt", _("WebVTT file")
    BURNED = "burned", _("Burned into the picture")


class PublishMode(models.TextChoices):
    DRAFT = "draft", _("Draft for review")
    PUBLISH = "publish", _("Publish automatically")


class OutputPreset(models.Model):
    """A named target for finished recordings: accounts and/or a group of one platform, with the
    platform's settings and metadata templates (empty: the template's)."""

    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="studio_presets", verbose_name=_("workspace")
    )
    name = models.CharField(max_length=120, verbose_name=_("name"))
    platform = models.CharField(max_length=20, verbose_name=_("platform"))
    accounts = models.ManyToManyField("accounts.SocialAccount", blank=True, related_name="+", verbose_name=_("accounts"))
    group = models.ForeignKey(
        "accounts.AccountGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("group")
    )
    privacy = models.CharField(max_length=20, blank=True, verbose_name=_("privacy"))
    category = models.CharField(max_length=40, blank=True, verbose_name=_("category"))
    playlist = models.CharField(
        max_length=120, blank=True, help_text=_("YouTube playlist ID or VK album ID."), verbose_name=_("playlist / album")
    )
    tags = models.JSONField(default=list, blank=True, verbose_name=_("tags"))
    title_template = models.CharField(max_length=300, blank=True, verbose_name=_("title template"))
    description_template = models.TextField(blank=True, verbose_name=_("description template"))
    publish_mode = models.CharField(
        max_length=10, choices=PublishMode.choices, default=PublishMode.DRAFT, verbose_name=_("publish mode")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("output preset")
        verbose_name_plural = _("output presets")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="studio_preset_unique_name"),
            choices_check("publish_mode", PublishMode, "studio_preset_valid_publish_mode"),
        ]

    def __str__(self) -> str:
        return self.name


class Template(models.Model):
    """How matching recordings are processed and where they go. Every rule left empty matches
    anything; the enabled template with the highest priority among those whose rules all match wins
    (ties: the older template, lower id)."""

    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="studio_templates", verbose_name=_("workspace")
    )
    name = models.CharField(max_length=120, verbose_name=_("name"))
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    priority = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(0), MaxValueValidator(100)], verbose_name=_("priority")
    )
    # --- matching rules ---
    name_regex = models.CharField(max_length=300, blank=True, verbose_name=_("name matches (regex)"))
    source = models.ForeignKey(
        InputSource, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("source")
    )
    min_duration_s = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("shortest (seconds)"))
    max_duration_s = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("longest (seconds)"))
    weekdays = models.JSONField(
        default=list, blank=True, help_text=_("0 = Monday … 6 = Sunday; empty: any day."), verbose_name=_("weekdays")
    )
    time_from = models.TimeField(null=True, blank=True, verbose_name=_("recorded from"))
    time_until = models.TimeField(null=True, blank=True, verbose_name=_("recorded until"))
    # --- processing ---
    remove_silence = models.BooleanField(default=True, verbose_name=_("remove silences"))
    silence_threshold_db = models.FloatField(
        default=-35.0, validators=[MinValueValidator(-90), MaxValueValidator(0)], verbose_name=_("silence below (dB)")
    )
    silence_min_s = models.FloatField(
        default=1.5, validators=[MinValueValidator(0.1), MaxValueValidator(600)], verbose_name=_("shortest silence (s)")
    )
    silence_padding_s = models.FloatField(
        default=0.25, validators=[MinValueValidator(0), MaxValueValidator(5)], verbose_name=_("keep around speech (s)")
    )
    loudnorm = models.BooleanField(default=False, verbose_name=_("normalise loudness (EBU R128)"))
    target_lufs = models.FloatField(
        default=-16.0, validators=[MinValueValidator(-70), MaxValueValidator(-5)], verbose_name=_("target loudness (LUFS)")
    )
    transcribe = models.BooleanField(default=True, verbose_name=_("transcribe"))
    language = models.CharField(
        max_length=10, default="auto", help_text=_("A language code, or auto."), verbose_name=_("language")
    )
    subtitles = models.CharField(
        max_length=10, choices=SubtitleMode.choices, default=SubtitleMode.SRT, verbose_name=_("subtitles")
    )
    # --- metadata (placeholders: {topic} {date} {chapters} {source_name} {name} {description}) ---
    title_template = models.CharField(max_length=300, default="{topic}", verbose_name=_("title template"))
    description_template = models.TextField(default="{description}\n\n{chapters}", verbose_name=_("description template"))
    presets = models.ManyToManyField(OutputPreset, blank=True, related_name="templates", verbose_name=_("output presets"))
    auto_process = models.BooleanField(
        default=True,
        help_text=_("Run the whole pipeline as soon as a matching recording arrives."),
        verbose_name=_("process automatically"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        ordering = ["-priority", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="studio_template_unique_name"),
            models.CheckConstraint(condition=Q(priority__lte=100), name="studio_template_priority_0_100"),
            choices_check("subtitles", SubtitleMode, "studio_template_valid_subtitles"),
        ]

    def __str__(self) -> str:
        return self.name


class RecordingStatus(models.TextChoices):
    DISCOVERED = "discovered", _("Discovered")
    DOWNLOADING = "downloading", _("Downloading")
    DOWNLOADED = "downloaded", _("Downloaded")
    PROCESSING = "processing", _("Processing")
    READY = "ready", _("Ready")
    PUBLISHED = "published", _("Published")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class Step(models.TextChoices):
    """The pipeline's steps, in order (studio.runner.STEPS)."""

    DOWNLOAD = "download", _("Download")
    TRIM = "trim", _("Remove silences")
    TRANSCRIBE = "transcribe", _("Transcribe")
    TOPICS = "topics", _("Find topics")
    SUBTITLES = "subtitles", _("Make subtitles")
    PUBLISH = "publish", _("Publish")


class Recording(models.Model):
    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="recordings", verbose_name=_("workspace")
    )
    # Empty for an uploaded file or a URL (their remote_id is "upload:<sha256>" / "url:<sha256 of the URL>").
    source = models.ForeignKey(
        InputSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="recordings", verbose_name=_("source")
    )
    remote_id = models.CharField(max_length=300, verbose_name=_("remote id"))
    # What the source said about the file: download URL or path, file type, meeting id, …
    remote = models.JSONField(default=dict, blank=True, verbose_name=_("remote"))
    display_name = models.CharField(max_length=300, verbose_name=_("name"))
    recorded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("recorded"))
    duration_s = models.FloatField(null=True, blank=True, verbose_name=_("duration (s)"))
    size_bytes = models.BigIntegerField(null=True, blank=True, verbose_name=_("size (bytes)"))
    status = models.CharField(
        max_length=12, choices=RecordingStatus.choices, default=RecordingStatus.DISCOVERED, verbose_name=_("status")
    )
    template = models.ForeignKey(
        Template, null=True, blank=True, on_delete=models.SET_NULL, related_name="recordings", verbose_name=_("template")
    )
    # Why the template matched (each rule and its verdict), or why none did.
    match_reason = models.JSONField(default=dict, blank=True, verbose_name=_("why this template"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("author")
    )
    # --- the pipeline ---
    finished_step = models.CharField(max_length=12, blank=True, choices=Step.choices, verbose_name=_("last finished step"))
    # The step the current run stops after ("" = all).
    last_step = models.CharField(max_length=12, blank=True, choices=Step.choices, verbose_name=_("run until"))
    job = models.ForeignKey(
        "crosspost.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("current job")
    )
    removed_s = models.FloatField(null=True, blank=True, verbose_name=_("silence removed (s)"))
    trimmed_duration_s = models.FloatField(null=True, blank=True, verbose_name=_("duration after trimming (s)"))
    language = models.CharField(max_length=10, blank=True, verbose_name=_("spoken language"))
    # [{"start": s, "end": s, "text": …}] on the trimmed timeline.
    transcript = models.JSONField(default=list, blank=True, verbose_name=_("transcript"))
    # {"title", "description", "chapters": [{"start": s, "title"}]}
    topics = models.JSONField(default=dict, blank=True, verbose_name=_("topics"))
    title = models.CharField(max_length=300, blank=True, verbose_name=_("title"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    # The posts made from it, one per output preset ({preset id: {"post": id, "publish": bool}}):
    # a publish step delivered twice finds its posts here and makes no second one.
    posts = models.ManyToManyField("posts.Post", blank=True, related_name="+", verbose_name=_("posts"))
    outputs = models.JSONField(default=dict, blank=True, verbose_name=_("outputs"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("discovered"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "remote_id"], condition=Q(source__isnull=False), name="studio_recording_once_per_source"
            ),
            models.UniqueConstraint(
                fields=["workspace", "remote_id"], condition=Q(source__isnull=True), name="studio_recording_once_per_upload"
            ),
            choices_check("status", RecordingStatus, "studio_recording_valid_status"),
        ]
        indexes = [models.Index(fields=["workspace", "status", "-created_at"], name="studio_rec_ws_status")]

    def __str__(self) -> str:
        return self.display_name


def recording_file_path(instance: RecordingFile, filename: str) -> str:
    return f"studio/{instance.recording.workspace_id}/{instance.recording_id}/{filename}"


class FileKind(models.TextChoices):
    ORIGINAL = "original", _("Original")
    TRIMMED = "trimmed", _("Silences removed")
    AUDIO = "audio", _("Audio for transcription")
    SRT = "srt", _("Subtitles (SRT)")
    VTT = "vtt", _("Subtitles (WebVTT)")
    BURNED = "burned", _("With burned-in subtitles")


class RecordingFile(models.Model):
    """One step's output, kept so the next run resumes from it; its size counts against the quota."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="files", verbose_name=_("recording"))
    kind = models.CharField(max_length=10, choices=FileKind.choices, verbose_name=_("kind"))
    file = models.FileField(upload_to=recording_file_path, max_length=500, verbose_name=_("file"))
    size_bytes = models.BigIntegerField(default=0, verbose_name=_("size (bytes)"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("recording file")
        verbose_name_plural = _("recording files")
        constraints = [
            models.UniqueConstraint(fields=["recording", "kind"], name="studio_file_one_per_kind"),
            choices_check("kind", FileKind, "studio_file_valid_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.recording} · {self.get_kind_display()}"


class StudioQuota(models.Model):
    """A workspace's limits; without a row the settings' defaults apply (studio.quotas)."""

    workspace = models.OneToOneField(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="studio_quota", verbose_name=_("workspace")
    )
    storage_gb = models.FloatField(default=50, validators=[MinValueValidator(0)], verbose_name=_("storage (GB)"))
    recordings_per_month = models.PositiveIntegerField(default=500, verbose_name=_("recordings per month"))
    concurrent_jobs = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1)], verbose_name=_("concurrent jobs")
    )

    class Meta:
        verbose_name = _("studio quota")
        verbose_name_plural = _("studio quotas")

    def __str__(self) -> str:
        return f"{self.workspace}"


class StudioPermission(models.Model):
    """What one member may do in the studio; without a row the member's role decides (studio.quotas)."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+", verbose_name=_("workspace"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user"))
    can_process = models.BooleanField(default=True, verbose_name=_("can process"))
    can_transcribe = models.BooleanField(default=True, verbose_name=_("can transcribe"))
    can_publish = models.BooleanField(default=True, verbose_name=_("can publish"))
    can_delete = models.BooleanField(default=False, verbose_name=_("can delete"))

    class Meta:
        verbose_name = _("studio permission")
        verbose_name_plural = _("studio permissions")
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="studio_permission_unique_member")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.workspace}"
